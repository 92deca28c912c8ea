"""CAPTURE layouts -> linear frames, cropping and writers, checked against GStreamer and FFmpeg.

GStreamer's videoconvert packs linear NV12 into the tiled layouts (its own implementation of
NV12_4L4, NV12_32L32 and NV12_16L32S a.k.a. MM21); our detilers must invert it exactly.
FFmpeg's crop + pix_fmt conversion is the oracle for cropping and I420/NV12 output.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess

import numpy as np
import pytest

from pyv4l2req.pipeline.frames import Crop, Frame, FrameWriter, capture_to_frame, format_from_extension, nv12_views
from pyv4l2req.uapi import videodev2 as v


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required in CI")
        pytest.skip(f"{tool} not installed")
    return path


def _gst_tiled(tmp_path, fmt: str, w: int, h: int) -> tuple[bytes, bytes]:
    gst = _need("gst-launch-1.0")
    lin, til = tmp_path / "lin.nv12", tmp_path / "til.raw"
    subprocess.run(
        [gst, "-q", "videotestsrc", "num-buffers=1", "pattern=snow", "!",
         f"video/x-raw,format=NV12,width={w},height={h}", "!", "tee", "name=t",
         "!", "queue", "!", "filesink", f"location={lin}",
         "t.", "!", "queue", "!", "videoconvert", "!", f"video/x-raw,format={fmt}", "!", "filesink", f"location={til}"],
        check=True, timeout=120, capture_output=True,
    )
    return lin.read_bytes(), til.read_bytes()


@pytest.mark.parametrize("gst_name,pixfmt", [
    ("NV12_4L4", v.V4L2_PIX_FMT_NV12_4L4),
    ("NV12_32L32", v.V4L2_PIX_FMT_NV12_32L32),
    ("NV12_16L32S", v.V4L2_PIX_FMT_MM21),
])
@pytest.mark.parametrize("w,h", [(96, 64), (128, 96)])
def test_detile_inverts_gstreamer_tiling(tmp_path, gst_name, pixfmt, w, h):
    lin, til = _gst_tiled(tmp_path, gst_name, w, h)
    y_ref = np.frombuffer(lin, np.uint8, w * h).reshape(h, w)
    uv_ref = np.frombuffer(lin, np.uint8, w * h // 2, offset=w * h).reshape(h // 2, w)
    assert til != lin  # the layout really is different
    f = capture_to_frame([til], pixfmt, w, h, w, Crop(0, 0, w, h))
    np.testing.assert_array_equal(f.y, y_ref)
    np.testing.assert_array_equal(f.uv, uv_ref)
    # the same with chroma in a second plane (multi-planar CAPTURE, e.g. MM21 on MediaTek)
    f2 = capture_to_frame([til[: w * h], til[w * h :]], pixfmt, w, h, w, Crop(0, 0, w, h))
    np.testing.assert_array_equal(f2.uv, uv_ref)


def _random_nv12(w, h, stride, seed=1):
    rng = np.random.default_rng(seed)
    buf = rng.integers(0, 256, stride * h * 3 // 2, dtype=np.uint8)
    return buf


@pytest.mark.parametrize("crop", [Crop(0, 0, 96, 64), Crop(0, 0, 90, 60), Crop(4, 2, 80, 54)])
def test_crop_and_i420_match_ffmpeg(tmp_path, crop):
    ffmpeg = _need("ffmpeg")
    w, h = 96, 64
    raw = _random_nv12(w, h, w).tobytes()
    (tmp_path / "in.nv12").write_bytes(raw)
    f = capture_to_frame([raw], v.V4L2_PIX_FMT_NV12, w, h, w, crop)
    for pix, fmt in (("yuv420p", "i420"), ("nv12", "nv12")):
        out = subprocess.run(
            [ffmpeg, "-v", "error", "-f", "rawvideo", "-pix_fmt", "nv12", "-s", f"{w}x{h}", "-i", str(tmp_path / "in.nv12"),
             "-vf", f"crop={crop.width}:{crop.height}:{crop.left}:{crop.top}", "-f", "rawvideo", "-pix_fmt", pix, "-"],
            check=True, capture_output=True, timeout=60,
        ).stdout
        assert f.to_bytes(fmt) == out, fmt


def test_padded_stride_and_yuv420_capture():
    w, h, stride = 64, 32, 96
    buf = _random_nv12(w, h, stride, seed=2)
    f = capture_to_frame([buf.tobytes()], v.V4L2_PIX_FMT_NV12, w, h, stride, Crop(0, 0, w, h))
    assert f.y.shape == (h, w) and f.uv.shape == (h // 2, w)
    np.testing.assert_array_equal(f.y, buf[: stride * h].reshape(h, stride)[:, :w])
    # YUV420 planar capture -> same interleaved chroma as the NV12 it was made from
    y = f.y
    u, vv = f.uv[:, 0::2], f.uv[:, 1::2]
    planar = np.concatenate([y.ravel(), u.ravel(), vv.ravel()]).tobytes()
    g = capture_to_frame([planar], v.V4L2_PIX_FMT_YUV420, w, h, w, Crop(0, 0, w, h))
    np.testing.assert_array_equal(g.uv, f.uv)


def test_y4m_writer_header_and_frames():
    y = np.full((16, 16), 1, np.uint8)
    uv = np.full((8, 16), 2, np.uint8)
    s = io.BytesIO()
    w = FrameWriter(s, "y4m")
    for _ in range(2):
        w.write(Frame(y, uv, Crop(0, 0, 16, 16)))
    data = s.getvalue()
    assert data.startswith(b"YUV4MPEG2 W16 H16 ")
    assert data.count(b"FRAME\n") == 2
    assert len(data) == data.index(b"\n") + 1 + 2 * (6 + 16 * 16 * 3 // 2)


def test_unknown_formats_are_errors():
    with pytest.raises(ValueError, match=r"unknown frame format .rgb. \(valid: i420, nv12, y4m\)"):
        FrameWriter(io.BytesIO(), "rgb")
    with pytest.raises(ValueError, match="not supported"):
        capture_to_frame([b"\0" * 64], v.V4L2_PIX_FMT_GREY, 8, 8, 8, Crop(0, 0, 8, 8))
    assert format_from_extension("a.Y4M") == "y4m" and format_from_extension("b.nv12") == "nv12"
    assert format_from_extension("c.yuv") == "i420" and format_from_extension("d.mkv") is None


@pytest.mark.parametrize("pixfmt", [v.V4L2_PIX_FMT_NV12, v.V4L2_PIX_FMT_NV12M])
def test_nv12_views_are_the_planes_without_copy(pixfmt):
    """nv12_views (what the session keeps per CAPTURE buffer) picks the same pixels as a
    plain reshape of the buffer, sees later writes (no copy), and is None for other formats."""
    w, h, stride = 20, 10, 32
    rng = np.random.default_rng(7)
    y_mem = bytearray(rng.integers(0, 256, stride * h, np.uint8).tobytes())
    uv_mem = bytearray(rng.integers(0, 256, stride * h // 2, np.uint8).tobytes())
    planes = [memoryview(y_mem + uv_mem)] if pixfmt == v.V4L2_PIX_FMT_NV12 else [memoryview(y_mem), memoryview(uv_mem)]
    y, uv = nv12_views(planes, pixfmt, w, h, stride)
    ref_y = np.frombuffer(bytes(y_mem), np.uint8).reshape(h, stride)[:, :w]
    ref_uv = np.frombuffer(bytes(uv_mem), np.uint8).reshape(h // 2, stride)[:, :w]
    assert np.array_equal(y, ref_y) and np.array_equal(uv, ref_uv)
    frame = capture_to_frame(planes, pixfmt, w, h, stride, Crop(0, 0, w, h))
    assert np.array_equal(frame.y, y) and np.array_equal(frame.uv, uv)
    planes[0][1] = planes[0][1] ^ 0xFF  # the views follow the memory, the frame does not
    assert y[0, 1] == planes[0][1] != frame.y[0, 1]
    assert nv12_views(planes, v.V4L2_PIX_FMT_YUV420, w, h, stride) is None
