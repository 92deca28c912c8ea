"""StatelessSession (``pyv4l2req/v4l2/stateless.py``): the emulated devices on the host (FWHT
also single-planar), vicodec and visl in the VM; the fault-injection tests use the emulated
device's FaultPlan.

FWHT gives pixels on both backends, so the tests check that a job decodes into exactly the
CAPTURE buffer it targets and that the caller's buffers (a reference) are left alone.
"""

from __future__ import annotations

import errno

import pytest

from pyv4l2req.codec.fwht import FwhtDecoderState, pack_params, split_frames
from pyv4l2req.emulated.fwht_codec import FwhtEncoder, FwhtStatefulDecoder, moving_pattern
from pyv4l2req.errors import DecodeError, RequestError, UnsupportedStream
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2.stateless import Completion, StatelessSession

from .conftest import make_idr, open_fds

W, H = 640, 368  # vicodec's minimum is 640x360
PARAMS = C.V4L2_CID_STATELESS_FWHT_PARAMS


@pytest.fixture(scope="module")
def fwht():
    """(jobs, decoded): 3 frames (I, P, P) as ``(ts, FwhtPictureDecode)`` and the pictures our
    Python decoder makes of them."""
    enc = FwhtEncoder(W, H)
    frames = split_frames(b"".join(enc.encode(f) for f in moving_pattern(3, W, H)))
    ref = FwhtStatefulDecoder()
    decoded = [ref.decode(f.header, f.payload) for f in frames]
    state = FwhtDecoderState()
    jobs = [((k + 1) * 1000, state.decode_frame(f, (k + 1) * 1000)) for k, f in enumerate(frames)]
    return jobs, decoded


def _session(fwht_device, *, n_cap: int = 4, in_flight: int = 2, timeout_s: float = 10.0) -> StatelessSession:
    backend, info = fwht_device
    s = StatelessSession.open(backend, info, v.V4L2_PIX_FMT_FWHT_STATELESS, timeout_s=timeout_s)
    s.configure(W, H, capture_formats=[v.V4L2_PIX_FMT_YUV420], capture_buffers=n_cap, in_flight=in_flight)
    return s


def _picture(s: StatelessSession, c: Completion) -> bytes:
    return bytes(s.capture_planes(c.index)[0][:c.bytesused])


def test_jobs_decode_into_the_capture_buffer_they_target(fwht_device, fwht):
    jobs, decoded = fwht
    s = _session(fwht_device)
    try:
        n = len(s.cap_q.buffers)
        assert n >= 4 and s.free_capture == n and s.capture_format.pixelformat == v.V4L2_PIX_FMT_YUV420
        (ts0, j0), (ts1, j1), (ts2, j2) = jobs
        assert s.submit([(PARAMS, j0.params)], [j0.payload], ts0, capture=2) == 2
        c0 = s.wait(ts0)
        assert (c0.timestamp_ns, c0.index, c0.error) == (ts0, 2, False)
        assert _picture(s, c0) == decoded[0]
        # the P-frame: packed bytes, the bitstream in three chunks, into buffer 0; its reference
        # (buffer 2) stays the caller's and is not touched
        p = j1.payload
        assert s.submit([(PARAMS, pack_params(j1.params))], [p[:100], p[100:-7], p[-7:]], ts1, capture=0) == 0
        c1 = s.wait()
        assert (c1.timestamp_ns, c1.index, c1.error) == (ts1, 0, False)
        assert _picture(s, c1) == decoded[1] and _picture(s, c0) == decoded[0]
        assert s.free_capture == n - 2 and s.completed() == []
        s.release_capture(2)
        with pytest.raises(ValueError, match="not the caller's"):
            s.release_capture(2)
        # no target: the buffer free the longest (1: never used; 2 was freed last)
        assert s.submit([(PARAMS, j2.params)], [j2.payload], ts2) == 1
        assert s.wait(ts2).index == 1
        # a buffer that is with the device cannot be targeted; a job asking for one of the
        # caller's buffers takes it over
        with pytest.raises(DecodeError, match="no request is in flight"):
            s.wait(ts2)
        assert s.submit([(PARAMS, j0.params)], [j0.payload], 9000, capture=1) == 1
        with pytest.raises(DecodeError, match="CAPTURE buffer 1 is with the device"):
            s.submit([(PARAMS, j0.params)], [j0.payload], 10_000, capture=1)
        assert _picture(s, s.wait(9000)) == decoded[0]
    finally:
        s.close()


def test_completed_does_not_block_and_hands_out_each_completion_once(fwht_device, fwht):
    import time

    jobs, decoded = fwht
    s = _session(fwht_device)
    try:
        assert s.completed() == []
        ts, job = jobs[0]
        index = s.submit([(PARAMS, job.params)], [job.payload], ts)
        got: list[Completion] = []
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            got = s.completed()
        assert [(c.timestamp_ns, c.index, c.error) for c in got] == [(ts, index, False)]
        assert _picture(s, got[0]) == decoded[0]
        assert s.completed() == [] and s.in_flight == 0
    finally:
        s.close()


def test_no_free_capture_buffer_is_a_clear_error(fwht_device, fwht):
    jobs, _ = fwht
    ts0, j0 = jobs[0]
    s = _session(fwht_device, n_cap=2)
    try:
        n = len(s.cap_q.buffers)
        for k in range(n):  # every buffer decoded and kept by the caller
            s.submit([(PARAMS, j0.params)], [j0.payload], (k + 1) * 1000)
            s.wait((k + 1) * 1000)
        with pytest.raises(DecodeError, match=f"no free CAPTURE buffer for picture ts=99000 \\({n} allocated"):
            s.submit([(PARAMS, j0.params)], [j0.payload], 99_000)
        s.release_capture(0)
        assert s.submit([(PARAMS, j0.params)], [j0.payload], 99_000) == 0
    finally:
        s.close()


def test_capture_format_preferences_and_their_error(fwht_device):
    backend, info = fwht_device
    with StatelessSession.open(backend, info, v.V4L2_PIX_FMT_FWHT_STATELESS) as s:
        with pytest.raises(UnsupportedStream, match=r"wanted: XXXX; offered: .*YU12"):
            s.configure(W, H, capture_formats=[v.v4l2_fourcc("X", "X", "X", "X")], capture_buffers=2, in_flight=1)
        fmt = s.configure(W, H, capture_formats=[v.v4l2_fourcc("X", "X", "X", "X"), v.V4L2_PIX_FMT_NV12],
                          capture_buffers=2, in_flight=1)
        assert fmt.pixelformat == v.V4L2_PIX_FMT_NV12 and fmt.width >= W and fmt.height >= H


def test_configure_again_recreates_everything_and_close_leaves_no_fd(fwht_device, fwht):
    jobs, decoded = fwht
    ts0, j0 = jobs[0]
    before = open_fds()
    s = _session(fwht_device, n_cap=3)
    s.submit([(PARAMS, j0.params)], [j0.payload], ts0)  # in flight at the reconfiguration
    old_q = s.cap_q
    s.configure(W, H, capture_formats=[v.V4L2_PIX_FMT_YUV420], capture_buffers=4, in_flight=3)
    assert s.cap_q is not old_q and not old_q.buffers and s.in_flight == 0
    assert s.free_capture == len(s.cap_q.buffers) >= 4 and s.completed() == []
    assert s.submit([(PARAMS, j0.params)], [j0.payload], ts0) == 0
    assert _picture(s, s.wait(ts0)) == decoded[0]
    s.close()
    s.close()
    assert open_fds() == before


def test_hold_capture_buf_continues_the_same_buffer(h264_device):
    """Two jobs of one picture (HOLD on the first, same timestamp): one CAPTURE buffer queued,
    one completion."""
    backend, info = h264_device
    pic = make_idr(4, 4)
    with StatelessSession.open(backend, info, v.V4L2_PIX_FMT_H264_SLICE) as s:
        if not s.supports_hold:
            pytest.skip(f"{s.name} does not support HOLD_CAPTURE_BUF")
        s.configure(pic.width, pic.height, capture_formats=[v.V4L2_PIX_FMT_NV12], capture_buffers=3,
                    in_flight=2, initial_controls=[pic.controls[0]], sizeimage=256 * 1024)
        n = s.free_capture
        target = s.submit(pic.controls, [pic.nal], 5000, hold=True)
        assert s.free_capture == n - 1
        assert s.submit(pic.controls, [pic.nal], 5000) == target
        assert s.free_capture == n - 1  # no second CAPTURE buffer queued
        c = s.wait(5000)
        assert (c.timestamp_ns, c.index) == (5000, target)
        with pytest.raises(DecodeError, match="no request is in flight"):
            s.wait(timeout_s=1)
        # the next picture gets a buffer of its own
        assert s.submit(pic.controls, [pic.nal], 6000) != target
        assert s.wait(6000).timestamp_ns == 6000


def test_a_held_capture_buffer_comes_back_when_waited_for(h264_device):
    """A job that holds its CAPTURE buffer and never gets its continuation (a first field whose
    second field was lost): waiting for it sends V4L2_DEC_CMD_FLUSH, the device returns it."""
    backend, info = h264_device
    pic = make_idr(4, 4)
    with StatelessSession.open(backend, info, v.V4L2_PIX_FMT_H264_SLICE) as s:
        if not s.supports_hold:
            pytest.skip(f"{s.name} does not support HOLD_CAPTURE_BUF")
        s.configure(pic.width, pic.height, capture_formats=[v.V4L2_PIX_FMT_NV12], capture_buffers=3,
                    in_flight=2, initial_controls=[pic.controls[0]], sizeimage=256 * 1024)
        target = s.submit(pic.controls, [pic.nal], 5000, hold=True)
        c = s.wait(5000)
        assert (c.timestamp_ns, c.index, c.error) == (5000, target, False)
        with pytest.raises(DecodeError, match="no request is in flight"):
            s.wait(timeout_s=1)  # nothing held any more
        assert s.submit(pic.controls, [pic.nal], 6000) != target
        assert s.wait(6000).timestamp_ns == 6000


# ---------------------------------------------------------- faults (emulated device only)
@pytest.fixture
def emulated_fwht(fwht_device, backend_kind):
    if backend_kind != "emulated":
        pytest.skip("FaultPlan: emulated device only")
    return fwht_device


def test_request_timeout_discards_the_slot(emulated_fwht, fwht):
    jobs, _ = fwht
    ts0, j0 = jobs[0]
    backend, _info = emulated_fwht
    s = _session(emulated_fwht, in_flight=2, timeout_s=0.3)
    try:
        backend.faults.stall(nth=1)
        s.submit([(PARAMS, j0.params)], [j0.payload], ts0)
        with pytest.raises(RequestError, match="did not complete within the 0.3 s timeout"):
            s.wait(ts0)
        assert s.pool.capacity == 1 and "discarded" in s.pool.losses[0]
    finally:
        s.close()


@pytest.mark.parametrize("ioctl", ["MEDIA_REQUEST_IOC_QUEUE", "VIDIOC_QBUF", "VIDIOC_S_EXT_CTRLS"])
def test_a_failed_request_names_the_picture_and_leaves_nothing_queued(emulated_fwht, fwht, ioctl):
    jobs, decoded = fwht
    (ts0, j0), (ts1, j1) = jobs[:2]
    backend, _info = emulated_fwht
    s = _session(emulated_fwht)
    try:
        n = s.free_capture
        s.submit([(PARAMS, j0.params)], [j0.payload], ts0, capture=1)  # in flight when the next one fails
        free_out = sorted(s._free_out)
        backend.faults.fail(ioctl, errno.EIO, nth=1)  # (QBUF: the OUTPUT one comes first)
        with pytest.raises(DecodeError, match=f"picture ts={ts1} failed.*EIO"):
            s.submit([(PARAMS, j1.params)], [j1.payload], ts1, capture=3)
        assert s.free_capture == n - 1 and sorted(s._free_out) == free_out and s.in_flight == 1
        assert s.pool.available == 1 and s.pool.capacity == 2
        c0 = s.wait(ts0)  # the job before it completes normally, and is the P-frame's reference
        assert c0.index == 1 and _picture(s, c0) == decoded[0]
        assert s.submit([(PARAMS, j1.params)], [j1.payload], ts1, capture=3) == 3
        c1 = s.wait(ts1)
        assert (c1.index, c1.error) == (3, False) and _picture(s, c1) == decoded[1]
    finally:
        s.close()


def test_failed_capture_qbuf_costs_that_buffer_only(emulated_fwht, fwht):
    jobs, decoded = fwht
    ts0, j0 = jobs[0]
    backend, _info = emulated_fwht
    s = _session(emulated_fwht, timeout_s=1.0)  # (close() waits for the request left without a buffer)
    try:
        n = s.free_capture
        backend.faults.fail("VIDIOC_QBUF", errno.EIO, nth=2)  # OUTPUT QBUF, then CAPTURE QBUF of buffer 0
        assert s.submit([(PARAMS, j0.params)], [j0.payload], ts0) == 1
        assert [i for i, _ in s.lost_capture] == [0] and "EIO" in s.lost_capture[0][1]
        assert _picture(s, s.wait(ts0)) == decoded[0]
        assert s.free_capture == n - 2
        # the request is queued when its CAPTURE QBUF fails: a targeted job takes another
        # buffer too, and says which
        backend.faults.fail("VIDIOC_QBUF", errno.EIO, nth=2)
        assert s.submit([(PARAMS, j0.params)], [j0.payload], 7000, capture=3) == 2
        assert [i for i, _ in s.lost_capture] == [0, 3]
        assert s.wait(7000).index == 2
        # with no other buffer free, the error says so
        backend.faults.fail("VIDIOC_QBUF", errno.EIO, nth=2)
        with pytest.raises(DecodeError, match="CAPTURE buffer 1 could not be queued .* and no other is free"):
            s.submit([(PARAMS, j0.params)], [j0.payload], 8000, capture=1)
    finally:
        s.close()


def test_reinit_failure_is_handled_by_the_pool_and_error_flag_is_reported(emulated_fwht, fwht):
    jobs, decoded = fwht
    ts0, j0 = jobs[0]
    backend, _info = emulated_fwht
    s = _session(emulated_fwht)
    try:
        backend.faults.fail("MEDIA_REQUEST_IOC_REINIT", errno.ENOMEM, nth=1)
        backend.faults.error_flag(nth=2)
        s.submit([(PARAMS, j0.params)], [j0.payload], 1000)
        assert not s.wait(1000).error
        assert s.pool.capacity == 2  # a fresh request replaced the one REINIT failed on
        s.submit([(PARAMS, j0.params)], [j0.payload], 2000)
        c = s.wait(2000)
        assert c.error and c.timestamp_ns == 2000
    finally:
        s.close()
