"""H.264 pixels of the emulated device.

Part 1 (``libavcodec``): FFmpeg's decoder driven through our ctypes binding captures every
picture in DECODE order right after its last slice was sent. Oracles: PyAV's own decode of the
same file (display order, the set of pictures must be identical) and the fluster conformance md5
of the whole display-order output built from OUR captured pixels.
"""

from __future__ import annotations

import functools
import os
from collections import Counter

import pytest

from h264_vector_helpers import (VECTORS, annexb, conformance_vectors, crop_i420,
                                 expected_md5s, md5, pictures, pyav_display_frames)

pytest.importorskip("av")
from pyv4l2req.emulated.libavcodec import FFmpegError, FFmpegH264Decoder  # noqa: E402

needs_vectors = pytest.mark.skipif(
    not VECTORS.exists() and not os.environ.get("CI"), reason=f"no test vectors at {VECTORS}")


def _decode_order_capture(path):
    """Decode with our binding: (decode-order pictures by id, display-order I420 list)."""
    data = path.read_bytes()
    by_key, by_id, display = {}, {}, []
    with FFmpegH264Decoder(log_output=True, strict=True) as dec:
        def consume():
            for rec in dec.outputs:
                pic = by_key[rec.buffer_key]
                display.append((pic.pic_id, crop_i420(pic.y, pic.u, pic.v, rec.crop_left,
                                                      rec.crop_top, rec.width, rec.height)))
            dec.outputs.clear()

        for nals in pictures(data):
            pic = dec.decode(annexb(nals))
            by_key[pic.buffer_key] = pic
            by_id[pic.pic_id] = pic   # a second field replaces the first-field capture
            consume()
        dec.flush()
        consume()
    return by_id, display


@needs_vectors
@pytest.mark.parametrize("vector", conformance_vectors())
def test_decode_order_capture_matches_ffmpeg_and_fluster(vector):
    path = VECTORS / vector
    by_id, display = _decode_order_capture(path)
    # whole output in display order, from the pixels we captured in decode order
    assert md5(b"".join(d for _, d in display)) == expected_md5s()[vector]
    # every decoded picture is output exactly once, and vice versa
    assert sorted(pid for pid, _ in display) == sorted(by_id)
    # the same pictures as PyAV's display-order decode (content-identical multiset)
    ref = pyav_display_frames(path)
    assert md5(b"".join(ref)) == expected_md5s()[vector]
    crop = {pid: d for pid, d in display}
    assert Counter(md5(crop[pid]) for pid in by_id) == Counter(md5(f) for f in ref)


@needs_vectors
def test_field_pictures_second_field_completes_the_frame():
    # PAFF: the first-field capture holds one field, the second-field capture the whole frame
    data = (VECTORS / "JVT-FR-EXT/HCAFF1_HHI.264").read_bytes()
    with FFmpegH264Decoder() as dec:
        pics = [dec.decode(annexb(n)) for n in pictures(data)]
    pairs = [(a, b) for a, b in zip(pics, pics[1:]) if a.pic_id == b.pic_id]
    assert len(pairs) >= 3  # PAFF: several frames came as two field pictures
    first, second = pairs[0]
    assert (first.y[0::2] == second.y[0::2]).all()          # top field unchanged
    assert not (first.y[1::2] == second.y[1::2]).all()      # bottom field filled in


def test_garbage_packet_is_an_error():
    with FFmpegH264Decoder() as dec:
        with pytest.raises(FFmpegError):
            dec.decode(b"\x00\x00\x01\x65\x88\x84\x00\x10")  # IDR slice without SPS/PPS


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@needs_vectors
def test_no_leak_over_thousands_of_pictures():
    data = (VECTORS / "JVT-AVC_V1/LS_SVA_D.264").read_bytes()  # 1700 QCIF pictures
    packets = [annexb(n) for n in pictures(data)]

    def run():
        with FFmpegH264Decoder(log_output=False) as dec:
            for p in packets:
                dec.decode(p)
            dec.flush()

    run()
    before = _rss_kib()
    for _ in range(3):
        run()
    # 5100 pictures of 38 KiB each: a leaked picture per packet would add ~190 MiB
    assert _rss_kib() - before < 16 * 1024


# --------------------------------------------------------------------------- part 3: H264Model
# Controls derived from the original stream with FFmpeg's trace_headers (an oracle independent
# of our parser); SPS/PPS NAL units are rebuilt by the model from those controls, slices come
# from the stream. The decoded CAPTURE buffers (decode order) must hold exactly the pictures
# PyAV outputs, and the whole display-order output must give the fluster md5.

import numpy as np  # noqa: E402

from h264_trace import FFMPEG, public, slice_controls, trace_units  # noqa: E402
from pyv4l2req.emulated.codec_model import CaptureView, DecodeJob  # noqa: E402
from pyv4l2req.emulated.h264_model import H264Model  # noqa: E402
from pyv4l2req.emulated.nal_writer import nal_unit_type  # noqa: E402
from pyv4l2req.uapi import controls as cid  # noqa: E402
from pyv4l2req.uapi import h264 as h  # noqa: E402
from pyv4l2req.uapi import videodev2 as v  # noqa: E402

needs_ffmpeg = pytest.mark.skipif(FFMPEG is None and not os.environ.get("CI"),
                                  reason="ffmpeg CLI (trace_headers) not installed")
PAD = 64  # bytesperline = width + PAD: rows must be written at the CAPTURE stride


def _i32(x: int) -> bytes:
    return x.to_bytes(4, "little", signed=True)


def _capture(width, height, fourcc):
    bpl = width + PAD
    size = bpl * height * 3 // 2
    return CaptureView([memoryview(bytearray(size))], width, height, [bpl], fourcc, [size])


def _read_capture(cap: CaptureView, crop):
    """(y, u, v) arrays of a CAPTURE buffer, cropped: crop = (left, top, width, height)."""
    buf = np.frombuffer(cap.planes[0], np.uint8)
    bpl, fh = cap.bytesperline[0], cap.height
    y = buf[:bpl * fh].reshape(fh, bpl)
    if cap.pixelformat == v.V4L2_PIX_FMT_NV12:
        uv = buf[bpl * fh:bpl * fh + bpl * (fh // 2)].reshape(fh // 2, bpl)
        u, vv = uv[:, 0::2], uv[:, 1::2]
    else:
        c = bpl // 2
        u = buf[bpl * fh:bpl * fh + c * (fh // 2)].reshape(fh // 2, c)
        vv = buf[bpl * fh + c * (fh // 2):bpl * fh + 2 * c * (fh // 2)].reshape(fh // 2, c)
    return crop_i420(y, u, vv, *crop)


@functools.lru_cache(maxsize=4)
def _reference_md5s(vector):
    return Counter(md5(f) for f in pyav_display_frames(VECTORS / vector))


@functools.lru_cache(maxsize=4)
def _stream_jobs(vector):
    """Per picture: (slice NALs, SliceControls of its first slice, is_second_field)."""
    data = (VECTORS / vector).read_bytes()
    sc = slice_controls(trace_units(data))
    pics, k = [], 0
    prev = None
    for nals in pictures(data):
        slices = [n for n in nals if nal_unit_type(n) in (1, 5)]
        first = sc[k]
        k += len(slices)
        hd = first.header
        field = hd.get("field_pic_flag") == 1
        second = bool(field and prev is not None and prev[0] and not prev[3]
                      and prev[1] != hd.get("bottom_field_flag")
                      and prev[2] == hd.get("frame_num"))
        prev = (field, hd.get("bottom_field_flag"), hd.get("frame_num"), second)
        pics.append((slices, first, second))
    assert k == len(sc), "trace_headers and the splitter disagree on the slice count"
    return pics


def _controls(first, mode, start_code):
    return {
        cid.V4L2_CID_STATELESS_H264_SPS: h.pack(h.v4l2_ctrl_h264_sps, public(first.sps)),
        cid.V4L2_CID_STATELESS_H264_PPS: h.pack(h.v4l2_ctrl_h264_pps, first.pps),
        cid.V4L2_CID_STATELESS_H264_SCALING_MATRIX:
            h.pack(h.v4l2_ctrl_h264_scaling_matrix, first.scaling_matrix),
        cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS: bytes(560),
        cid.V4L2_CID_STATELESS_H264_SLICE_PARAMS: bytes(152),
        cid.V4L2_CID_STATELESS_H264_DECODE_MODE: _i32(mode),
        cid.V4L2_CID_STATELESS_H264_START_CODE: _i32(start_code),
    }


def _model_decode(vector, mode, start_code, fourcc):
    """Decode a vector through H264Model alone; returns the final captures (decode order)."""
    pics = _stream_jobs(vector)
    sps = pics[0][1].sps
    width = (sps["pic_width_in_mbs_minus1"] + 1) * 16
    fmo = 2 - bool(sps["flags"] & h.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY)
    height = (sps["pic_height_in_map_units_minus1"] + 1) * 16 * fmo
    model = H264Model()
    model.reset(width, height, fourcc)
    captures, crops = [], []
    ts = 0
    try:
        for slices, first, second in pics:
            if not second:
                ts += 1000
                captures.append(_capture(width, height, fourcc))
                cl, cr, ct, cb = first.sps["_crop"]
                crops.append((2 * cl, 2 * fmo * ct, width - 2 * (cl + cr),
                              height - 2 * fmo * (ct + cb)))
            ctrls = _controls(first, mode, start_code)
            if start_code == cid.V4L2_STATELESS_H264_START_CODE_ANNEX_B:
                payloads = [b"".join(b"\x00\x00\x01" + s for s in slices)]
                if mode == cid.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED:
                    payloads = [b"\x00\x00\x01" + s for s in slices]
            else:
                assert mode == cid.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED
                payloads = list(slices)
            for i, p in enumerate(payloads):
                job = DecodeJob(ctrls, p, ts, captures[-1], {},
                                holds_capture=i + 1 < len(payloads))
                assert model.decode(job), model.last_error
    finally:
        model.close()
    return [_read_capture(c, crop) for c, crop in zip(captures, crops)]


MODES = {
    "frame-annexb": (cid.V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
                     cid.V4L2_STATELESS_H264_START_CODE_ANNEX_B, v.V4L2_PIX_FMT_NV12),
    "slice-annexb": (cid.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED,
                     cid.V4L2_STATELESS_H264_START_CODE_ANNEX_B, v.V4L2_PIX_FMT_YUV420),
    "slice-nostartcode": (cid.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED,
                          cid.V4L2_STATELESS_H264_START_CODE_NONE, v.V4L2_PIX_FMT_NV12),
}


@needs_vectors
@needs_ffmpeg
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("vector", conformance_vectors())
def test_model_decodes_vector_from_controls(vector, mode):
    frames = _model_decode(vector, *MODES[mode])
    assert Counter(md5(f) for f in frames) == _reference_md5s(vector)
