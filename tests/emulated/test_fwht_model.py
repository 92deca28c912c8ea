"""emulated/fwht_model.py: FwhtModel (the CodecModel of the emulated FWHT device).

Driven directly with DecodeJobs on plain memory: the decoded CAPTURE buffers must equal
vicodec's stateful decoder output (the digests recorded in test_fwht_codec.py, re-checked in
the VM); references resolve by ``backward_ref_ts``; the checks vicodec makes fail the job.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from pyv4l2req.codec.fwht import FwhtDecoderState, pack_params, split_frames
from pyv4l2req.emulated.codec_model import CaptureView, CodecModel, DecodeJob
from pyv4l2req.emulated.fwht_codec import FwhtEncoder, moving_pattern
from pyv4l2req.emulated.fwht_model import FwhtModel
from pyv4l2req.uapi import controls as cid
from pyv4l2req.uapi import fwht as U
from pyv4l2req.uapi import videodev2 as v

_spec = importlib.util.spec_from_file_location("_fwht_golden", Path(__file__).with_name("test_fwht_codec.py"))
_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_golden)
VICODEC_DECODED_SHA256 = _golden.VICODEC_DECODED_SHA256

W, H = 640, 368
P = cid.V4L2_CID_STATELESS_FWHT_PARAMS


@pytest.fixture(scope="module")
def jobs():
    enc = FwhtEncoder(W, H)
    stream = b"".join(enc.encode(f) for f in moving_pattern(6, W, H))
    st = FwhtDecoderState()
    return [st.decode_frame(f, (i + 1) * 1000) for i, f in enumerate(split_frames(stream))]


def view(fourcc=v.V4L2_PIX_FMT_YUV420, w=W, h=H, ts=0) -> CaptureView:
    size = w * h * 3 // 2
    return CaptureView([memoryview(bytearray(size))], w, h, [w], fourcc, [size], ts)


def test_protocol_and_controls():
    m = FwhtModel()
    assert isinstance(m, CodecModel)
    assert m.output_fourcc == v.V4L2_PIX_FMT_FWHT_STATELESS
    assert m.capture_fourccs[0] == v.V4L2_PIX_FMT_YUV420
    assert m.required_controls == (P,)
    spec = {c.id: c for c in m.controls}[P]
    assert spec.type == v.V4L2_CTRL_TYPE_FWHT_PARAMS and spec.elem_size == 40
    d = U.unpack(U.v4l2_ctrl_fwht_params, spec.default_payload())
    assert (d["version"], d["width"], d["height"]) == (3, 1280, 720)   # std_init_compound


def test_decode_sequence_matches_vicodec(jobs):
    m = FwhtModel()
    m.reset(W, H, v.V4L2_PIX_FMT_YUV420)
    bufs: dict[int, CaptureView] = {}
    for k, j in enumerate(jobs):
        ctrls = {P: pack_params(j.params)}
        refs_ts = m.references(ctrls)
        assert refs_ts == list(j.reference_timestamps)
        cap = view()
        ok = m.decode(DecodeJob(ctrls, j.payload, j.timestamp_ns, cap, {t: bufs[t] for t in refs_ts}))
        assert ok, m.last_error
        cap.timestamp_ns = j.timestamp_ns
        bufs[j.timestamp_ns] = cap
        assert hashlib.sha256(cap.planes[0]).hexdigest() == VICODEC_DECODED_SHA256[k], k


def test_decode_failures(jobs):
    m = FwhtModel()
    m.reset(W, H, v.V4L2_PIX_FMT_YUV420)
    i_job, p_job = jobs[0], jobs[1]
    ok = m.decode(DecodeJob({P: pack_params(p_job.params)}, p_job.payload, 2000, view(), {}))
    assert not ok and "backward_ref_ts" in m.last_error
    small = dict(i_job.params, width=320)
    assert not m.decode(DecodeJob({P: pack_params(small)}, i_job.payload, 1000, view(), {}))
    assert "width/height" in m.last_error
    old = dict(i_job.params, version=2)
    assert not m.decode(DecodeJob({P: pack_params(old)}, i_job.payload, 1000, view(), {}))
    nv16 = view(v.v4l2_fourcc("N", "V", "1", "6"))
    assert not m.decode(DecodeJob({P: pack_params(i_job.params)}, i_job.payload, 1000, nv16, {}))
    assert "CAPTURE format" in m.last_error
    assert not m.decode(DecodeJob({P: pack_params(i_job.params)}, i_job.payload[:500], 1000, view(), {}))
    assert "luma" in m.last_error
    assert m.decode(DecodeJob({P: pack_params(i_job.params)}, i_job.payload, 1000, view(), {}))
    assert m.last_error is None


def test_try_control_hook(jobs):
    m = FwhtModel()
    good = pack_params(jobs[0].params)
    assert m.try_control(P, good, v.V4L2_PIX_FMT_YUV420, W, H) is None
    assert "width/height" in m.try_control(P, pack_params(dict(jobs[0].params, height=2000)),
                                           v.V4L2_PIX_FMT_YUV420, W, H)
    assert m.try_control(cid.V4L2_CID_STATELESS_H264_SPS, b"", v.V4L2_PIX_FMT_YUV420, W, H) is None
    assert m.capture_layout(v.V4L2_PIX_FMT_YUV420, W, H) == (W, W * H * 3 // 2)


def test_cropped_stream_through_emulated_device():
    """640x360 visible / 640x368 coded through pipeline.fwht on the emulated FWHT device: the
    CAPTURE buffers equal our decoder's output (the VM test checks both against vicodec)."""
    from pyv4l2req.emulated import EmulatedBackend
    from pyv4l2req.emulated.fwht_codec import FwhtStatefulDecoder
    from pyv4l2req.pipeline.fwht import FwhtStatelessDecoder

    enc = FwhtEncoder(640, 360)
    stream = b"".join(enc.encode(f) for f in moving_pattern(4, 640, 368))
    sd = FwhtStatefulDecoder()
    want = [sd.decode(f.header, f.payload) for f in split_frames(stream)]
    assert all(len(w) == 640 * 368 * 3 // 2 for w in want)
    with FwhtStatelessDecoder(EmulatedBackend(), video_path="/dev/video1", media_path="/dev/media1") as dec:
        got = dec.decode(stream)
    assert [(f.width, f.height, f.coded_width, f.coded_height) for f in got] == [(640, 360, 640, 368)] * 4
    assert [f.data for f in got] == want
