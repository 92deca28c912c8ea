"""Finding stateless decoders: every media device's topology -> decoder video nodes -> probe.

A video node is a stateless decoder when it is a memory-to-memory device, its OUTPUT queue
reports ``V4L2_BUF_CAP_SUPPORTS_REQUESTS`` and it offers at least one stateless coded OUTPUT
format (``S264``, ``S265``, ``VP8F``, ``VP9F``, ``MG2S``, ``AV1F``, ``SFWH``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import NoDeviceError, V4L2Error
from ..kernel.backend import Backend, OSBackend
from ..uapi import videodev2 as v
from ..uapi.ioc import fourcc_str
from .device import VideoDevice
from .media import MediaDevice

__all__ = ["DecoderInfo", "discover", "find_decoder", "STATELESS_CODECS"]

#: stateless OUTPUT pixel format -> codec name
STATELESS_CODECS: dict[int, str] = {
    v.V4L2_PIX_FMT_H264_SLICE: "h264",
    v.V4L2_PIX_FMT_HEVC_SLICE: "hevc",
    v.V4L2_PIX_FMT_VP8_FRAME: "vp8",
    v.V4L2_PIX_FMT_VP9_FRAME: "vp9",
    v.V4L2_PIX_FMT_MPEG2_SLICE: "mpeg2",
    v.V4L2_PIX_FMT_AV1_FRAME: "av1",
    v.V4L2_PIX_FMT_FWHT_STATELESS: "fwht",
}


@dataclass(frozen=True, slots=True)
class DecoderInfo:
    """A stateless decoder found by :func:`discover`."""

    video_path: str
    media_path: str
    driver: str
    card: str
    codecs: list[str] = field(default_factory=list)
    output_formats: list[int] = field(default_factory=list)
    multiplanar: bool = False
    supports_hold: bool = False

    def describe(self) -> str:
        return (f"{self.video_path} ({self.driver}, {self.card}; media {self.media_path}): "
                f"{', '.join(self.codecs)}")


def probe(backend: Backend, video_path: str, media_path: str) -> DecoderInfo | None:
    """Open *video_path* and return its :class:`DecoderInfo` if it is a stateless decoder."""
    try:
        dev = VideoDevice(backend, video_path)
    except V4L2Error:
        return None
    try:
        if not dev.is_m2m or not dev.supports_requests:
            return None
        fmts = [f.pixelformat for f in dev.enum_formats(dev.output_type)]
        codecs = [STATELESS_CODECS[f] for f in fmts if f in STATELESS_CODECS]
        if not codecs:
            return None
        return DecoderInfo(video_path, media_path, dev.driver, dev.card, codecs, fmts,
                           dev.is_multiplanar, dev.supports_hold)
    except V4L2Error:
        return None
    finally:
        dev.close()


def discover(backend: Backend | None = None) -> list[DecoderInfo]:
    """Every stateless decoder reachable through the media devices of *backend*.

    Each ``/dev/mediaN`` topology is read and the video interfaces linked to a
    ``MEDIA_ENT_F_PROC_VIDEO_DECODER`` entity are probed (devices that cannot be opened are
    skipped).
    """
    be = backend if backend is not None else OSBackend()
    found: list[DecoderInfo] = []
    seen: set[str] = set()
    for media_path in be.device_nodes("media"):
        try:
            media = MediaDevice(be, media_path)
        except V4L2Error:
            continue
        try:
            paths = media.decoder_video_paths()
        except V4L2Error:
            paths = []
        finally:
            media.close()
        for path in paths:
            if path in seen:
                continue
            seen.add(path)
            info = probe(be, path, media_path)
            if info is not None:
                found.append(info)
    return found


def find_decoder(codec: str = "h264", backend: Backend | None = None, video_path: str | None = None) -> DecoderInfo:
    """The first stateless decoder of *codec* (or the one at *video_path*).

    Raises :class:`NoDeviceError` saying what was looked at when there is none.
    """
    found = discover(backend)
    listing = "; ".join(i.describe() for i in found) or "none"
    if video_path is not None:
        match = [i for i in found if i.video_path == video_path]
        if not match:
            raise NoDeviceError(f"{video_path} is not a stateless decoder (stateless decoders found: {listing})")
        if codec not in match[0].codecs:
            raise NoDeviceError(f"{video_path} ({match[0].driver}) does not decode {codec} "
                                f"(it decodes {', '.join(match[0].codecs)})")
        return match[0]
    for info in found:
        if codec in info.codecs:
            return info
    known = ", ".join(sorted(set(STATELESS_CODECS.values())))
    if codec not in STATELESS_CODECS.values():
        raise NoDeviceError(f"unknown codec {codec!r} (stateless codecs: {known})")
    raise NoDeviceError(f"no stateless {codec} decoder found (searched every media device's topology; "
                        f"stateless decoders found: {listing})")


def format_name(fourcc: int) -> str:
    return fourcc_str(fourcc)
