"""Test helpers for the H.264 pixel tests of the emulated device: the conformance vectors, a
minimal picture splitter for Annex B streams and cropping/I420 helpers.

The splitter is deliberately simple (a new picture starts at a slice with first_mb_in_slice 0 or
at a non-VCL NAL unit after a slice: 7.4.1.2.3 for the vectors used here); it is checked by the
tests themselves: every picture FFmpeg outputs must be found among the pictures decoded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from pyv4l2req.emulated.nal_writer import first_mb_in_slice, nal_unit_type, split_annexb
from pyv4l2req.testing.vectors import by_id, vectors_root
from pyv4l2req.testing.vectors import vectors as discovered

VECTORS = vectors_root()


def vector_ids() -> list[str]:
    """Every H.264 vector present (pyv4l2req.testing.vectors), decodable or an expected refusal."""
    return [v.id for v in discovered()]


def expected_md5s() -> dict[str, str]:
    """relative vector path -> md5 of the whole output (fluster), for the vectors that have one."""
    return {v.id: v.expected_md5 for v in discovered() if v.expected_md5}


def conformance_vectors() -> list[str]:
    """The vectors with a fluster md5 (any picture format)."""
    return sorted(expected_md5s())


def pictures(data: bytes) -> list[list[bytes]]:
    """Group the NAL units of an Annex B stream into pictures (each field is a picture)."""
    pics: list[list[bytes]] = []
    cur: list[bytes] = []
    has_vcl = False
    for nal in split_annexb(data):
        t = nal_unit_type(nal)
        if t in (1, 5):
            if has_vcl and first_mb_in_slice(nal) == 0:
                pics.append(cur)
                cur, has_vcl = [], False
            has_vcl = True
        elif t in (6, 7, 8, 9, 14, 15, 16, 17, 18) and has_vcl:
            pics.append(cur)
            cur, has_vcl = [], False
        cur.append(nal)
    if cur:
        pics.append(cur)
    return pics


def annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals)


def crop_i420(y: np.ndarray, u: np.ndarray, v: np.ndarray, left: int, top: int, width: int,
              height: int) -> bytes:
    """Planar I420 bytes of the crop rectangle (4:2:0, even offsets)."""
    cw, ch = (width + 1) // 2, (height + 1) // 2
    return (y[top:top + height, left:left + width].tobytes()
            + u[top // 2:top // 2 + ch, left // 2:left // 2 + cw].tobytes()
            + v[top // 2:top // 2 + ch, left // 2:left // 2 + cw].tobytes())


def pyav_display_frames(path: Path) -> list[bytes]:
    """The reference: PyAV (container demux + parser, no threading, +unaligned), I420 each."""
    import av

    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        stream.codec_context.options = {"flags": "+unaligned"}
        for frame in container.decode(stream):
            w = (frame.width, (frame.width + 1) // 2, (frame.width + 1) // 2)
            planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:, :pw]
                      for p, pw in zip(frame.planes, w)]
            out.append(b"".join(p.tobytes() for p in planes))
    return out


def pyav_output_frames(path: Path, output_format: str | None) -> list[bytes]:
    """PyAV's display-order frames in the fluster layout of *output_format* (planar, each plane
    at its visible size, 2 bytes per sample little-endian above 8 bits); I420 when None."""
    import av

    if not output_format or output_format in ("yuv420p", "nv12"):
        return pyav_display_frames(path)
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        stream.codec_context.options = {"flags": "+unaligned"}
        for frame in container.decode(stream):
            if frame.format.name != output_format:
                frame = frame.reformat(format=output_format)
            rows = []
            for p, c in zip(frame.planes, frame.format.components):
                bps = 2 if c.bits > 8 else 1
                a = np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:p.height, :p.width * bps]
                rows.append(a.tobytes())
            out.append(b"".join(rows))
    return out


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
