"""H.264 pixels of the emulated device.

Part 1 (``libavcodec``): FFmpeg's decoder driven through our ctypes binding captures every
picture in DECODE order right after its last slice was sent. Oracles: PyAV's own decode of the
same file (display order, the set of pictures must be identical) and the fluster conformance md5
of the whole display-order output built from OUR captured pixels.

Part 3 (``H264Model``): the 39 JVT vectors decoded through the model alone, with control values
derived from FFmpeg's ``trace_headers`` (SPS/PPS rebuilt from them by the model), in frame-based
Annex B, slice-based Annex B and slice-based no-start-code modes, NV12 and YUV420 CAPTURE; the
CAPTURE buffers must hold exactly PyAV's pictures. Then behaviour details (references, errors,
held buffers), the control surface against the real visl (VM) and a few vectors through the
whole emulated device (ioctls, requests, HOLD_CAPTURE_BUF, mmap'd buffers).
"""

from __future__ import annotations

import functools
import os
from collections import Counter

import pytest

from h264_vector_helpers import (VECTORS, annexb, by_id, crop_i420, discovered, md5, pictures,
                                 pyav_display_frames, pyav_output_frames, vector_ids)
from pyv4l2req.testing.vectors import require_vector

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


#: what the emulated device's FFmpeg binding says when a picture is not 8-bit 4:2:0
EMULATED_REFUSAL = "only 8-bit 4:2:0 is emulated"


@needs_vectors
@pytest.mark.parametrize("vector", vector_ids())
def test_decode_order_capture_matches_ffmpeg_and_fluster(vector):
    """Every vector: PyAV's output reproduces the fluster md5 (when there is one); a decodable
    vector's decode-order captures give the same pictures, a vector pyv4l2req cannot decode yet
    (pyv4l2req.testing.vectors.DECODABLE) is refused by the binding with its error."""
    vec = by_id(vector)
    ref = pyav_output_frames(vec.path, vec.output_format)
    if vec.expected_md5:
        assert md5(b"".join(ref)) == vec.expected_md5
    if vec.frames is not None:
        assert len(ref) == vec.frames
    if not vec.decodable:
        with pytest.raises(FFmpegError, match=EMULATED_REFUSAL):
            _decode_order_capture(vec.path)
        return
    by_id_, display = _decode_order_capture(vec.path)
    # whole output in display order, from the pixels we captured in decode order
    if vec.expected_md5:
        assert md5(b"".join(d for _, d in display)) == vec.expected_md5
    # every decoded picture is output exactly once, and vice versa
    assert sorted(pid for pid, _ in display) == sorted(by_id_)
    # the same pictures as PyAV's display-order decode (content-identical multiset)
    crop = {pid: d for pid, d in display}
    assert Counter(md5(crop[pid]) for pid in by_id_) == Counter(md5(f) for f in ref)


@needs_vectors
def test_field_pictures_second_field_completes_the_frame():
    # PAFF: the first-field capture holds one field, the second-field capture the whole frame
    data = require_vector("JVT-FR-EXT/HCAFF1_HHI.264").read_bytes()
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
    data = require_vector("JVT-AVC_V1/LS_SVA_D.264").read_bytes()  # 1700 QCIF pictures
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
    data = require_vector(vector).read_bytes()
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


def _model_refusal(vector, mode, start_code, fourcc):
    """The model's error for the first picture of *vector* (None when it decodes)."""
    slices, first, _ = _stream_jobs(vector)[0]
    width, height = _dims(first)
    model = H264Model()
    model.reset(width, height, fourcc)
    try:
        payload = b"".join((b"\x00\x00\x01" if start_code else b"") + s for s in slices[:1])
        job = DecodeJob(_controls(first, mode, start_code), payload, 1000,
                        _capture(width, height, fourcc), {})
        return None if model.decode(job) else model.last_error
    finally:
        model.close()


@needs_vectors
@needs_ffmpeg
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("vector", [v.id for v in discovered() if not v.frame_md5s])
def test_model_decodes_vector_from_controls(vector, mode):
    """The model decodes every vector whose pictures it can hold (the cros-codecs clips have
    their own test below) and refuses the others cleanly: an error, not an exception."""
    if not by_id(vector).decodable:
        err = _model_refusal(vector, *MODES[mode])
        assert err is not None and EMULATED_REFUSAL in err, err
        return
    frames = _model_decode(vector, *MODES[mode])
    assert Counter(md5(f) for f in frames) == _reference_md5s(vector)


# ------------------------------------------------------------------ H264Model: behaviour details
MULTI_SLICE = "JVT-AVC_V1/SVA_Base_B.264"   # QCIF, 3 slices per picture


def _first_pictures(vector, n):
    return _stream_jobs(vector)[:n]


def _dims(first):
    sps = first.sps
    fmo = 2 - bool(sps["flags"] & h.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY)
    return (sps["pic_width_in_mbs_minus1"] + 1) * 16, \
        (sps["pic_height_in_map_units_minus1"] + 1) * 16 * fmo


def _frame_job(first, slices, cap, ts=1000, refs=None, dpb=None, extra_nals=()):
    ctrls = _controls(first, cid.V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
                      cid.V4L2_STATELESS_H264_START_CODE_ANNEX_B)
    if dpb is not None:
        ctrls[cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS] = h.pack(
            h.v4l2_ctrl_h264_decode_params, {"dpb": dpb})
    data = b"".join(b"\x00\x00\x00\x01" + n for n in list(extra_nals) + list(slices))
    return DecodeJob(ctrls, data, ts, cap, refs or {})


def test_control_surface_is_visls():
    m = H264Model()
    assert m.name == "h264" and m.output_fourcc == v.V4L2_PIX_FMT_H264_SLICE
    assert m.capture_fourccs == (v.V4L2_PIX_FMT_NV12, v.V4L2_PIX_FMT_YUV420)
    assert m.required_controls == ()          # visl_request_validate only counts buffers
    by_id = {c.id: c for c in m.controls}
    assert sorted(by_id) == list(range(cid.V4L2_CID_STATELESS_H264_DECODE_MODE,
                                       cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS + 1))
    for c in m.controls:                       # payload sizes are those of the C structs
        if c.is_compound:
            st = h.CONTROL_STRUCTS[c.id]
            assert c.elem_size == st.sizeof() and c.default_payload() == bytes(st.sizeof())


@pytest.mark.vm
def test_control_surface_matches_visl_in_the_kernel():
    """QUERY_EXT_CTRL / QUERYMENU / ENUM_FMT of the real visl against H264Model's declaration."""
    import fcntl
    from pathlib import Path

    dev = next(("/dev/" + p.parent.name for p in Path("/sys/class/video4linux").glob("*/name")
                if p.read_text().strip() == "visl"), None)
    assert dev is not None, "visl not found"
    fd = os.open(dev, os.O_RDWR)
    try:
        f = v.v4l2_format()
        f.type = v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
        fcntl.ioctl(fd, v.VIDIOC_G_FMT, f)
        f.fmt.pix_mp.pixelformat = v.V4L2_PIX_FMT_H264_SLICE
        f.fmt.pix_mp.width, f.fmt.pix_mp.height = 176, 144
        fcntl.ioctl(fd, v.VIDIOC_S_FMT, f)
        for spec in H264Model().controls:
            q = v.v4l2_query_ext_ctrl()
            q.id = spec.id
            fcntl.ioctl(fd, v.VIDIOC_QUERY_EXT_CTRL, q)
            got = (q.name.decode(), q.type, q.minimum, q.maximum, q.step, q.default_value,
                   q.flags & ~v.V4L2_CTRL_FLAG_HAS_PAYLOAD, q.elem_size, q.elems, q.nr_of_dims)
            default = spec.default if isinstance(spec.default, int) else 0
            assert got == (spec.name, spec.type, spec.minimum, spec.maximum, spec.step, default,
                           spec.flags, spec.elem_size, spec.elems, len(spec.dims)), spec.name
            if spec.type == v.V4L2_CTRL_TYPE_MENU:
                for i in range(q.minimum, q.maximum + 1):
                    qm = v.v4l2_querymenu()
                    qm.id, qm.index = spec.id, i
                    fcntl.ioctl(fd, v.VIDIOC_QUERYMENU, qm)
                    assert bytes(qm.name).split(b"\0")[0].decode() == spec.menu[i]
        fourccs = []
        for i in range(16):
            d = v.v4l2_fmtdesc()
            d.index, d.type = i, v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
            try:
                fcntl.ioctl(fd, v.VIDIOC_ENUM_FMT, d)
            except OSError:
                break
            fourccs.append(d.pixelformat)
        assert tuple(fourccs) == H264Model().capture_fourccs
    finally:
        os.close(fd)


def test_references_are_valid_and_active_dpb_entries():
    m = H264Model()
    V, A = h.V4L2_H264_DPB_ENTRY_FLAG_VALID, h.V4L2_H264_DPB_ENTRY_FLAG_ACTIVE
    dpb = [{"reference_ts": 10, "flags": V | A}, {"reference_ts": 20, "flags": V},
           {"reference_ts": 30, "flags": A}, {"reference_ts": 40, "flags": V | A | 4},
           {"reference_ts": 10, "flags": V | A}]
    ctrls = {cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS:
             h.pack(h.v4l2_ctrl_h264_decode_params, {"dpb": dpb})}
    assert m.references(ctrls) == [10, 40]
    assert m.references({}) == []


@needs_vectors
@needs_ffmpeg
def test_missing_reference_marks_error_but_keeps_decoding():
    (s0, f0, _), (s1, f1, _) = _first_pictures(MULTI_SLICE, 2)
    w, hh = _dims(f0)
    m = H264Model()
    m.reset(w, hh, v.V4L2_PIX_FMT_NV12)
    try:
        assert m.decode(_frame_job(f0, s0, _capture(w, hh, v.V4L2_PIX_FMT_NV12), ts=1000))
        dpb = [{"reference_ts": 1000, "flags": 3}, {"reference_ts": 555, "flags": 3}]
        cap = _capture(w, hh, v.V4L2_PIX_FMT_NV12)
        job = _frame_job(f1, s1, cap, ts=2000, dpb=dpb, refs={1000: cap})
        assert not m.decode(job)
        assert "555" in m.last_error
        assert bytes(cap.planes[0]) != bytes(len(cap.planes[0]))  # pixels were still written
    finally:
        m.close()


@needs_vectors
@needs_ffmpeg
def test_parameter_sets_in_the_bitstream_are_ignored():
    """Only the controls count: a bogus in-band SPS/PPS (and SEI/AUD) changes nothing."""
    (s0, f0, _), = _first_pictures(MULTI_SLICE, 1)
    w, hh = _dims(f0)
    from pyv4l2req.emulated.nal_writer import pps_nal, sps_nal
    bogus = [sps_nal({**public(f0.sps), "pic_width_in_mbs_minus1": 3}),
             pps_nal({**f0.pps, "pic_init_qp_minus26": 20}), b"\x09\xf0", b"\x06\x05\x00\x80"]
    out = []
    for extra in ((), bogus):
        m = H264Model()
        m.reset(w, hh, v.V4L2_PIX_FMT_NV12)
        cap = _capture(w, hh, v.V4L2_PIX_FMT_NV12)
        assert m.decode(_frame_job(f0, s0, cap, extra_nals=extra)), m.last_error
        out.append(bytes(cap.planes[0]))
        m.close()
    assert out[0] == out[1]


@needs_vectors
@needs_ffmpeg
def test_errors_are_reported_not_raised():
    (s0, f0, _), = _first_pictures(MULTI_SLICE, 1)
    w, hh = _dims(f0)
    m = H264Model()
    m.reset(w, hh, v.V4L2_PIX_FMT_NV12)
    try:
        # no slice at all
        assert not m.decode(_frame_job(f0, [], _capture(w, hh, v.V4L2_PIX_FMT_NV12)))
        assert "no slice" in m.last_error
        # CAPTURE format smaller than the picture
        assert not m.decode(_frame_job(f0, s0, _capture(w - 16, hh, v.V4L2_PIX_FMT_NV12)))
        assert "larger than the CAPTURE format" in m.last_error
        # FMO cannot be expressed: the model cannot write such a PPS
        bad = type(f0)(f0.sps, {**f0.pps, "num_slice_groups_minus1": 2}, f0.scaling_matrix,
                       f0.header)
        assert not m.decode(_frame_job(bad, s0, _capture(w, hh, v.V4L2_PIX_FMT_NV12)))
        assert "num_slice_groups_minus1" in m.last_error
    finally:
        m.close()


@needs_vectors
@needs_ffmpeg
def test_slice_based_requests_fill_the_held_buffer_progressively():
    (s0, f0, _), = _first_pictures(MULTI_SLICE, 1)
    assert len(s0) >= 2
    w, hh = _dims(f0)
    ctrls = _controls(f0, cid.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED,
                      cid.V4L2_STATELESS_H264_START_CODE_NONE)
    m = H264Model()
    m.reset(w, hh, v.V4L2_PIX_FMT_NV12)
    cap = _capture(w, hh, v.V4L2_PIX_FMT_NV12)
    states = []
    try:
        for i, s in enumerate(s0):
            assert m.decode(DecodeJob(ctrls, s, 1000, cap, {}, holds_capture=i + 1 < len(s0)))
            states.append(bytes(cap.planes[0]))
    finally:
        m.close()
    assert len(set(states)) == len(states)  # every slice added pixels
    # the complete picture equals the frame-based decode of the same slices
    m = H264Model()
    m.reset(w, hh, v.V4L2_PIX_FMT_NV12)
    cap2 = _capture(w, hh, v.V4L2_PIX_FMT_NV12)
    try:
        assert m.decode(_frame_job(f0, s0, cap2))
    finally:
        m.close()
    assert states[-1] == bytes(cap2.planes[0])


def test_write_picture_layouts():
    from pyv4l2req.emulated.h264_model import write_picture
    from pyv4l2req.emulated.libavcodec import DecodedPicture

    w, hh = 32, 16
    rng = np.random.default_rng(1)
    y = rng.integers(0, 256, (hh, w), dtype=np.uint8)
    u = rng.integers(0, 256, (hh // 2, w // 2), dtype=np.uint8)
    vv = rng.integers(0, 256, (hh // 2, w // 2), dtype=np.uint8)
    pic = DecodedPicture(w, hh, y, u, vv, 0, 1)
    for fourcc in (v.V4L2_PIX_FMT_NV12, v.V4L2_PIX_FMT_YUV420):
        cap = _capture(w, hh, fourcc)
        write_picture(pic, cap)
        assert _read_capture(cap, (0, 0, w, hh)) == crop_i420(y, u, vv, 0, 0, w, hh)
    # multi-planar variants: one memory plane per component plane
    bpl = 48
    planes = [memoryview(bytearray(bpl * hh)), memoryview(bytearray(bpl * hh // 2))]
    write_picture(pic, CaptureView(planes, w, hh, [bpl, bpl], v.V4L2_PIX_FMT_NV12M))
    uv = np.frombuffer(planes[1], np.uint8).reshape(hh // 2, bpl)
    assert (np.frombuffer(planes[0], np.uint8).reshape(hh, bpl)[:, :w] == y).all()
    assert (uv[:, 0:w:2] == u).all() and (uv[:, 1:w:2] == vv).all()
    with pytest.raises(ValueError):
        write_picture(pic, CaptureView([memoryview(bytearray(10))], w, hh, [w],
                                       v.V4L2_PIX_FMT_NV12))


def _slice_run(m, pic, ts, cap, *, hold_last=False):
    slices, first, _ = pic
    ctrls = _controls(first, cid.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED,
                      cid.V4L2_STATELESS_H264_START_CODE_NONE)
    ok = True
    for i, s in enumerate(slices):
        hold = hold_last or i + 1 < len(slices)
        ok = m.decode(DecodeJob(ctrls, s, ts, cap, {}, holds_capture=hold)) and ok
    return ok


@needs_vectors
@needs_ffmpeg
def test_damaged_frame_is_an_error_and_decoding_recovers():
    pics = _first_pictures(MULTI_SLICE, 4)
    w, hh = _dims(pics[0][1])
    m = H264Model()
    m.reset(w, hh, v.V4L2_PIX_FMT_NV12)
    new = lambda: _capture(w, hh, v.V4L2_PIX_FMT_NV12)  # noqa: E731
    try:
        first = new()
        assert m.decode(_frame_job(pics[0][1], pics[0][0], first, ts=1000))
        s1, f1, _ = pics[1]
        assert not m.decode(_frame_job(f1, [s[:len(s) // 2] for s in s1], new(), ts=2000))
        assert "avcodec_send_packet" in m.last_error
        for i in (2, 3):
            s, f, _ = pics[i]
            assert m.decode(_frame_job(f, s, new(), ts=1000 * (i + 1))), m.last_error
        again = new()
        assert m.decode(_frame_job(pics[0][1], pics[0][0], again, ts=9000))  # the IDR again
        assert bytes(again.planes[0]) == bytes(first.planes[0])
    finally:
        m.close()


@needs_vectors
@needs_ffmpeg
def test_unfinished_slice_based_picture_does_not_block_the_next_ones():
    """A picture whose last slices never come (held buffer released by a new timestamp)."""
    pics = _first_pictures(MULTI_SLICE, 3)
    w, hh = _dims(pics[0][1])
    m = H264Model()
    m.reset(w, hh, v.V4L2_PIX_FMT_NV12)
    new = lambda: _capture(w, hh, v.V4L2_PIX_FMT_NV12)  # noqa: E731
    try:
        first = new()
        assert _slice_run(m, pics[0], 1000, first)
        s1, f1, _ = pics[1]
        assert _slice_run(m, (s1[:1], f1, False), 2000, new(), hold_last=True)
        assert _slice_run(m, pics[2], 3000, new()), m.last_error
        again = new()
        assert _slice_run(m, pics[0], 9000, again), m.last_error
        assert bytes(again.planes[0]) == bytes(first.planes[0])
    finally:
        m.close()


def test_end_picture_is_accepted_silently():
    # the reset packet must not count as a decode error (nor log one)
    with FFmpegH264Decoder(chunks=True) as dec:
        dec.end_picture()
        assert dec.end_picture_status == 0


# ------------------------------------------------ through the emulated device (V4L2 ioctls)
@needs_vectors
@needs_ffmpeg
@pytest.mark.parametrize("vector,mode", [("JVT-AVC_V1/SVA_Base_B.264", "frame-annexb"),
                                         ("JVT-AVC_V1/SVA_Base_B.264", "slice-nostartcode"),
                                         ("JVT-FR-EXT/HCAFF1_HHI.264", "slice-annexb")])
def test_emulated_device_decodes_vector(vector, mode):
    """H264Model behind EmulatedBackend: requests, HOLD_CAPTURE_BUF, mmap'd CAPTURE buffers."""
    from pyv4l2req.emulated import EmulatedBackend
    from pyv4l2req.v4l2 import MediaDevice, Queue, RequestPool, VideoDevice

    dmode, start_code, fourcc = MODES[mode]
    pics = _stream_jobs(vector)
    w, hh = _dims(pics[0][1])
    be = EmulatedBackend()
    dev, media = VideoDevice(be, "/dev/video0"), MediaDevice(be, "/dev/media0")
    frames = []
    try:
        dev.s_fmt(dev.output_type, v.V4L2_PIX_FMT_H264_SLICE, w, hh, sizeimage=512 * 1024)
        first = pics[0][1]
        dev.set_controls([(cid.V4L2_CID_STATELESS_H264_SPS,
                           h.pack(h.v4l2_ctrl_h264_sps, public(first.sps))),
                          (cid.V4L2_CID_STATELESS_H264_DECODE_MODE, dmode),
                          (cid.V4L2_CID_STATELESS_H264_START_CODE, start_code)])
        cap_fmt = dev.s_fmt(dev.capture_type, fourcc, w, hh)
        out_q, cap_q = Queue(dev, dev.output_type), Queue(dev, dev.capture_type)
        out_q.setup(2)
        cap_q.setup(2)
        pool = RequestPool(media, 1)
        out_q.streamon()
        cap_q.streamon()
        cl, cr, ct, cb = first.sps["_crop"]
        fmo = 2 - bool(first.sps["flags"] & h.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY)
        crop = (2 * cl, 2 * fmo * ct, w - 2 * (cl + cr), hh - 2 * fmo * (ct + cb))
        ts = 0
        for k, (slices, sc, second) in enumerate(pics):
            if not second:
                ts += 40_000_000
                cap_q.qbuf(cap_q.free_indices()[0])
            ending = k + 1 == len(pics) or not pics[k + 1][2]  # the frame is complete after it
            if dmode == cid.V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED:
                payloads = [b"".join(b"\x00\x00\x01" + s for s in slices)]
            elif start_code == cid.V4L2_STATELESS_H264_START_CODE_ANNEX_B:
                payloads = [b"\x00\x00\x01" + s for s in slices]
            else:
                payloads = list(slices)
            ctrls = _controls(sc, dmode, start_code)
            items = [(c, ctrls[c]) for c in (cid.V4L2_CID_STATELESS_H264_SPS,
                                             cid.V4L2_CID_STATELESS_H264_PPS,
                                             cid.V4L2_CID_STATELESS_H264_SCALING_MATRIX,
                                             cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS,
                                             cid.V4L2_CID_STATELESS_H264_SLICE_PARAMS)]
            for i, p in enumerate(payloads):
                hold = i + 1 < len(payloads) or not ending
                slot = pool.acquire()
                dev.set_controls(items, request=slot.request)
                n = out_q.buffers[0].write(p)
                out_q.qbuf(0, bytesused=n, timestamp_ns=ts, request=slot.request,
                           flags=v.V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF if hold else 0)
                slot.request.queue()
                slot.request.wait(10)
                assert not out_q.dqbuf().error
                pool.release(slot)
            if ending:
                assert cap_q.wait(10)
                done = cap_q.dqbuf()
                assert not done.error and done.timestamp_ns == ts
                view = CaptureView([cap_q.buffers[done.index].planes[0]], cap_fmt.width,
                                   cap_fmt.height, list(cap_fmt.bytesperline), fourcc)
                frames.append(_read_capture(view, crop))
        assert not be.model_errors
        out_q.free()
        cap_q.free()
        pool.close()
    finally:
        dev.close()
        media.close()
    assert Counter(md5(f) for f in frames) == _reference_md5s(vector)


# ---------------------------------------- cros-codecs clips: per-frame NV12 md5s of their own
def _cros_vectors():
    return [v.id for v in discovered() if v.frame_md5s]


@needs_vectors
@needs_ffmpeg
@pytest.mark.parametrize("mode", ["frame-annexb", "slice-nostartcode"])
@pytest.mark.parametrize("vector", _cros_vectors())
def test_model_matches_cros_codecs_frame_md5s(vector, mode):
    frames = _model_decode(vector, *MODES[mode])
    sps = _stream_jobs(vector)[0][1].sps
    w, hh = _dims(_stream_jobs(vector)[0][1])
    cl, cr, ct, cb = sps["_crop"]
    fmo = 2 - bool(sps["flags"] & h.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY)
    cw, chh = w - 2 * (cl + cr), hh - 2 * fmo * (ct + cb)
    nv12 = []
    for f in frames:  # I420 -> NV12 (what the md5 files hash)
        ysz, csz = cw * chh, (cw // 2) * (chh // 2)
        u = np.frombuffer(f[ysz:ysz + csz], np.uint8)
        vv = np.frombuffer(f[ysz + csz:ysz + 2 * csz], np.uint8)
        uv = np.empty(2 * csz, np.uint8)
        uv[0::2], uv[1::2] = u, vv
        nv12.append(f[:ysz] + uv.tobytes())
    assert Counter(md5(f) for f in nv12) == Counter(by_id(vector).frame_md5s)


_SYSTEM_LIBAV_SCRIPT = r"""
import ctypes.util, sys
import pyv4l2req.emulated.libavcodec as L
from h264_vector_helpers import VECTORS, annexb, crop_i420, expected_md5s, md5, pictures
L._candidates = lambda: [(ctypes.util.find_library("avutil"), ctypes.util.find_library("avcodec"))]
vec = sys.argv[1]
by, disp = {}, []
with L.FFmpegH264Decoder(log_output=True, strict=True) as d:
    def consume():
        for r in d.outputs:
            p = by[r.buffer_key]
            disp.append(crop_i420(p.y, p.u, p.v, r.crop_left, r.crop_top, r.width, r.height))
        d.outputs.clear()
    for n in pictures((VECTORS / vec).read_bytes()):
        p = d.decode(annexb(n))
        by[p.buffer_key] = p
        consume()
    d.flush()
    consume()
print(L.load_libraries()[1]._name, md5(b"".join(disp)) == expected_md5s()[vec])
"""


@needs_vectors
@pytest.mark.parametrize("vector", ["JVT-FR-EXT/HCAMFF1_HHI.264", "JVT-AVC_V1/CVFC1_Sony_C.jsv"])
def test_system_libavcodec_fallback_gives_the_same_md5(vector):
    """The binding's ABI use holds on another FFmpeg too (Debian's libavcodec, not PyAV's)."""
    import ctypes.util
    import subprocess
    import sys
    from pathlib import Path

    if ctypes.util.find_library("avcodec") is None:
        if os.environ.get("CI"):
            pytest.fail("no system libavcodec (Debian's ffmpeg package) in CI")
        pytest.skip("no system libavcodec installed")
    here = Path(__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(here.parents[1]), str(here)]))
    out = subprocess.run([sys.executable, "-c", _SYSTEM_LIBAV_SCRIPT, vector], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0].startswith("libavcodec.so") and out[1] == "True", out


@needs_vectors
@needs_ffmpeg
def test_reset_starts_a_new_stream_of_another_size():
    """STREAMON again (reset) with another coded size: parameter sets are sent afresh."""
    a = _first_pictures("JVT-AVC_V1/SVA_Base_B.264", 1)[0]     # QCIF
    b = _first_pictures("JVT-FR-EXT/FRExt1_Panasonic.avc", 1)[0]  # CIF, scaling matrices
    m = H264Model()
    try:
        outs = []
        for slices, first, _ in (a, b, a):
            w, hh = _dims(first)
            m.reset(w, hh, v.V4L2_PIX_FMT_YUV420)
            cap = _capture(w, hh, v.V4L2_PIX_FMT_YUV420)
            assert m.decode(_frame_job(first, slices, cap)), m.last_error
            outs.append(bytes(cap.planes[0]))
        assert outs[0] == outs[2] and len(outs[1]) > len(outs[0])
        # and without a reset: a new SPS (other id, other size) in the controls is sent in band
        w, hh = _dims(b[1])
        cap = _capture(w, hh, v.V4L2_PIX_FMT_YUV420)
        assert m.decode(_frame_job(b[1], b[0], cap, ts=5000)), m.last_error
        assert bytes(cap.planes[0]) == outs[1]
    finally:
        m.close()


@needs_vectors
@needs_ffmpeg
def test_without_pixels_requests_are_checked_but_nothing_is_decoded():
    """pixels=False (visl-like): the same checks as with pixels, CAPTURE left untouched."""
    (s0, f0, _), (s1, f1, _) = _first_pictures(MULTI_SLICE, 2)
    w, hh = _dims(f0)
    m = H264Model(pixels=False)
    m.reset(w, hh, v.V4L2_PIX_FMT_NV12)
    try:
        cap0 = _capture(w, hh, v.V4L2_PIX_FMT_NV12)
        assert m.decode(_frame_job(f0, s0, cap0, ts=1000)), m.last_error
        assert bytes(cap0.planes[0]) == bytes(len(cap0.planes[0]))  # nothing written
        dpb = [{"reference_ts": 1000, "flags": 3}, {"reference_ts": 555, "flags": 3}]
        job = _frame_job(f1, s1, _capture(w, hh, v.V4L2_PIX_FMT_NV12), ts=2000, dpb=dpb, refs={1000: cap0})
        assert not m.decode(job)
        assert "555" in m.last_error
        assert not m.decode(_frame_job(f1, b"", _capture(w, hh, v.V4L2_PIX_FMT_NV12), ts=3000))
        assert "no slice" in m.last_error
    finally:
        m.close()


@needs_ffmpeg
def test_pipeline_without_pixels_gives_the_same_frames_in_the_same_order():
    """The request flow does not depend on pixels: same frames, order, POCs and ioctl counts."""
    from pathlib import Path

    from pyv4l2req import Decoder
    from pyv4l2req.emulated import EmulatedBackend

    clip = Path(__file__).resolve().parents[2] / "fixtures" / "main_bframes_176x144.h264"
    runs = []
    for pixels in (True, False):
        backend = EmulatedBackend(pixels=pixels)
        with Decoder(device="emulated", backend=backend) as dec:
            frames = [(f.timestamp_ns, f.poc, f.corrupt, bool(f.y.any())) for f in dec.decode(clip)]
        runs.append((frames, dict(backend.stats.ioctls)))
    (with_px, ioctls_px), (without, ioctls_nopx) = runs
    assert [f[:3] for f in with_px] == [f[:3] for f in without] and len(without) == 24
    assert all(f[3] for f in with_px) and not any(f[3] for f in without)
    assert ioctls_px == ioctls_nopx
