"""Decoded frames: CAPTURE pixel formats, detiling to linear NV12, cropping, output writers.

The role of GStreamer's ``gstv4l2format.c``: map V4L2 CAPTURE formats to a layout, and turn what
the hardware wrote into plain 8-bit 4:2:0 planes. Tiled layouts handled on the CPU:

- ``NV12_4L4`` (Hantro G1/G2): 4x4-byte tiles, tiles in raster order, both planes.
- ``NV12_32L32`` (Allwinner "Sunxi tiled"): 32x32-byte tiles, both planes.
- ``MM21`` (MediaTek, GStreamer calls it ``NV12_16L32S``): luma in 16x32-byte tiles, chroma in
  16x16-byte tiles, two planes.

All return a :class:`Frame` with ``y`` (H x W) and ``uv`` (H/2 x W, interleaved Cb/Cr) numpy
arrays of the *coded* size; cropping happens on output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import BinaryIO, Sequence

import numpy as np

from ..codec.h264.picture import Crop  # the visible rectangle, as the codec gives it
from ..uapi import videodev2 as v
from ..uapi.ioc import fourcc_str

#: CAPTURE formats we can turn into linear NV12, in order of preference (linear first).
SUPPORTED_CAPTURE_FORMATS = (
    v.V4L2_PIX_FMT_NV12,
    v.V4L2_PIX_FMT_NV12M,
    v.V4L2_PIX_FMT_YUV420,
    v.V4L2_PIX_FMT_YUV420M,
    v.V4L2_PIX_FMT_NV12_4L4,
    v.V4L2_PIX_FMT_NV12_32L32,
    v.V4L2_PIX_FMT_MM21,
)

#: the raw layouts a frame can be written in (``Frame.to_bytes``, ``md5``, ``FrameWriter``):
#: planar 4:2:0 (FFmpeg's yuv420p) and Y + interleaved CbCr (FFmpeg's nv12)
FRAME_FORMATS = ("i420", "nv12")


def check_frame_format(fmt: str, allowed: Sequence[str] = FRAME_FORMATS) -> str:
    """*fmt* if it is one of *allowed*, else a ValueError naming the valid ones."""
    if fmt not in allowed:
        raise ValueError(f"unknown frame format {fmt!r} (valid: {', '.join(allowed)})")
    return fmt


# pixfmt -> (luma tile w, luma tile h, chroma tile w, chroma tile h)
TILINGS: dict[int, tuple[int, int, int, int]] = {
    v.V4L2_PIX_FMT_NV12_4L4: (4, 4, 4, 4),
    v.V4L2_PIX_FMT_NV12_32L32: (32, 32, 32, 32),
    v.V4L2_PIX_FMT_MM21: (16, 32, 16, 16),
}


@dataclass(slots=True)
class Frame:
    """A decoded picture in display order.

    ``timestamp_ns`` is the OUTPUT-buffer timestamp the picture was decoded with; ``index`` is
    its position in display order; ``corrupt`` is True when the device flagged the CAPTURE
    buffer with V4L2_BUF_FLAG_ERROR (or a reference it depends on was corrupt).
    """

    y: np.ndarray
    uv: np.ndarray
    crop: Crop
    timestamp_ns: int = 0
    index: int = 0
    poc: int = 0
    corrupt: bool = False
    meta: dict = field(default_factory=dict)
    #: sample aspect ratio (width, height) from the SPS's VUI; (0, 1) when the stream does not say
    sar: tuple[int, int] = (0, 1)
    #: frames per second (num, den) from the SPS's VUI timing; (0, 1) when the stream does not say
    frame_rate: tuple[int, int] = (0, 1)

    @property
    def width(self) -> int:
        return self.crop.width

    @property
    def height(self) -> int:
        return self.crop.height

    def planes_i420(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cropped Y, U, V planes (4:2:0 planar)."""
        c = self.crop
        y = self.y[c.top : c.top + c.height, c.left : c.left + c.width]
        uv = self.uv[c.top // 2 : (c.top + c.height + 1) // 2, (c.left // 2) * 2 : (c.left // 2) * 2 + ((c.width + 1) // 2) * 2]
        return y, uv[:, 0::2], uv[:, 1::2]

    def planes_nv12(self) -> tuple[np.ndarray, np.ndarray]:
        """Cropped Y and interleaved UV planes."""
        c = self.crop
        y = self.y[c.top : c.top + c.height, c.left : c.left + c.width]
        uv = self.uv[c.top // 2 : (c.top + c.height + 1) // 2, (c.left // 2) * 2 : (c.left // 2) * 2 + ((c.width + 1) // 2) * 2]
        return y, uv

    def to_bytes(self, fmt: str = "i420") -> bytes:
        """The cropped picture as one contiguous buffer in ``i420`` or ``nv12`` layout
        (:data:`FRAME_FORMATS`; anything else is a ValueError)."""
        planes = self.planes_i420() if check_frame_format(fmt) == "i420" else self.planes_nv12()
        return b"".join(np.ascontiguousarray(p).tobytes() for p in planes)

    def md5(self, fmt: str = "i420") -> str:
        """md5 of :meth:`to_bytes` (*fmt* ``i420`` equals FFmpeg's ``yuv420p`` framemd5 hash)."""
        return hashlib.md5(self.to_bytes(fmt)).hexdigest()


def _untile(buf: memoryview | bytes, offset: int, stride: int, rows: int, tw: int, th: int) -> np.ndarray:
    """Linear (rows x stride) array from a plane of tw x th tiles laid out in raster order."""
    if stride % tw or rows % th:
        raise ValueError(f"tiled plane {stride}x{rows} is not a multiple of the {tw}x{th} tile")
    a = np.frombuffer(buf, dtype=np.uint8, count=stride * rows, offset=offset)
    return a.reshape(rows // th, stride // tw, th, tw).transpose(0, 2, 1, 3).reshape(rows, stride)


def _align(x: int, a: int) -> int:
    return (x + a - 1) // a * a


def nv12_views(
    planes: Sequence[memoryview | bytes],
    pixfmt: int,
    width: int,
    height: int,
    bytesperline: int,
    *,
    chroma_offset: int | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(y, uv)`` numpy views (no copy) of a linear NV12/NV12M CAPTURE buffer, or None for
    any other format. The views hold the plane memory: drop them before it is unmapped. A
    caller that turns the same buffer into frames again and again (the session) builds them
    once per buffer and copies them (``Frame(y.copy(), uv.copy(), crop)`` is what
    :func:`capture_to_frame` returns for these formats)."""
    if pixfmt != v.V4L2_PIX_FMT_NV12 and pixfmt != v.V4L2_PIX_FMT_NV12M:
        return None
    stride = bytesperline or width
    y = np.frombuffer(planes[0], np.uint8, count=stride * height).reshape(height, stride)[:, :width]
    if pixfmt == v.V4L2_PIX_FMT_NV12M:
        uvbuf, off = planes[1], 0
    else:
        uvbuf, off = planes[0], chroma_offset if chroma_offset is not None else stride * height
    ch = (height + 1) // 2
    uv = np.frombuffer(uvbuf, np.uint8, count=stride * ch, offset=off).reshape(ch, stride)[:, :width]
    return y, uv


def capture_to_frame(
    planes: Sequence[memoryview | bytes],
    pixfmt: int,
    width: int,
    height: int,
    bytesperline: int,
    crop: Crop,
    *,
    chroma_offset: int | None = None,
) -> Frame:
    """Turn CAPTURE plane memory into a :class:`Frame` (copies: the buffer can be re-queued).

    *width*/*height* are the CAPTURE format's (coded, aligned) size, *bytesperline* the luma
    stride reported by G_FMT. Single-buffer formats (NV12, YUV420, NV12_4L4, NV12_32L32) have
    all planes in ``planes[0]``; *chroma_offset* overrides where chroma starts in that buffer.
    """
    linear = nv12_views(planes, pixfmt, width, height, bytesperline, chroma_offset=chroma_offset)
    if linear is not None:
        return Frame(linear[0].copy(), linear[1].copy(), crop)
    if pixfmt in (v.V4L2_PIX_FMT_YUV420, v.V4L2_PIX_FMT_YUV420M):
        stride = bytesperline or width
        cs, ch = stride // 2, (height + 1) // 2
        y = np.frombuffer(planes[0], np.uint8, count=stride * height).reshape(height, stride)[:, :width]
        if pixfmt == v.V4L2_PIX_FMT_YUV420M:
            ubuf, uoff, vbuf, voff = planes[1], 0, planes[2], 0
        else:
            ubuf = vbuf = planes[0]
            uoff = chroma_offset if chroma_offset is not None else stride * height
            voff = uoff + cs * ch
        cw = (width + 1) // 2
        u = np.frombuffer(ubuf, np.uint8, count=cs * ch, offset=uoff).reshape(ch, cs)[:, :cw]
        vv = np.frombuffer(vbuf, np.uint8, count=cs * ch, offset=voff).reshape(ch, cs)[:, :cw]
        uv = np.empty((ch, cw * 2), np.uint8)
        uv[:, 0::2] = u
        uv[:, 1::2] = vv
        return Frame(y.copy(), uv, crop)
    if pixfmt in TILINGS:
        ltw, lth, ctw, cth = TILINGS[pixfmt]
        stride = max(bytesperline, _align(width, ltw))
        lrows = _align(height, lth)
        crows = _align((height + 1) // 2, cth)
        y = _untile(planes[0], 0, stride, lrows, ltw, lth)[:height, :width]
        if len(planes) > 1:
            uvbuf, off = planes[1], 0
        else:
            uvbuf, off = planes[0], chroma_offset if chroma_offset is not None else stride * lrows
        uv = _untile(uvbuf, off, stride, crows, ctw, cth)[: (height + 1) // 2, :width]
        return Frame(np.ascontiguousarray(y), np.ascontiguousarray(uv), crop)
    raise ValueError(f"CAPTURE pixel format {fourcc_str(pixfmt)} is not supported")


class FrameWriter:
    """Write cropped frames as raw ``nv12``, raw ``i420`` or ``y4m`` to a binary stream."""

    FORMATS = (*FRAME_FORMATS, "y4m")

    def __init__(self, stream: BinaryIO, fmt: str, fps: tuple[int, int] | None = None) -> None:
        check_frame_format(fmt, self.FORMATS)
        self.stream = stream
        self.fmt = fmt
        self.fps = fps
        self._header_written = False
        self.frames = 0

    def write(self, frame: Frame) -> bytes:
        """Write one frame; returns the raw picture bytes written (without Y4M framing)."""
        data = frame.to_bytes("nv12" if self.fmt == "nv12" else "i420")
        if self.fmt == "y4m":
            if not self._header_written:
                # the stream's frame rate and sample aspect ratio when its VUI gives them (Y4M:
                # A0:0 = unknown); 25 fps otherwise, as FFmpeg takes for raw H.264
                fps = self.fps or (frame.frame_rate if frame.frame_rate[0] else (25, 1))
                sar = frame.sar if frame.sar[0] else (0, 0)
                self.stream.write(
                    f"YUV4MPEG2 W{frame.width} H{frame.height} F{fps[0]}:{fps[1]} Ip A{sar[0]}:{sar[1]} "
                    f"C420mpeg2 XYSCSS=420MPEG2\n".encode()
                )
                self._header_written = True
            self.stream.write(b"FRAME\n")
        self.stream.write(data)
        self.frames += 1
        return data


def format_from_extension(path: str) -> str | None:
    """'nv12', 'i420' or 'y4m' from an output file name, or None if unknown."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return {"nv12": "nv12", "yuv": "i420", "i420": "i420", "y4m": "y4m"}.get(ext)
