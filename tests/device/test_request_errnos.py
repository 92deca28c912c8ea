"""Request API errnos, as the real kernel returns them (the emulated device must match)."""

from __future__ import annotations

import errno

import pytest

from pyv4l2req.errors import RequestError, V4L2Error
from pyv4l2req.uapi import controls as C


def _errno_of(fn, *a, **kw) -> int:
    with pytest.raises(V4L2Error) as ei:
        fn(*a, **kw)
    return ei.value.errno


@pytest.fixture
def ctx(h264_context):
    c = h264_context(n_out=2, n_cap=2)
    c.setup(4, 4)
    return c


def test_capture_buffer_in_request_is_eperm(ctx):
    """v4l2_m2m_qbuf refuses a CAPTURE buffer with a request fd with EPERM (not vb2's EBADR)."""
    with ctx.media.alloc_request() as req:
        assert _errno_of(ctx.cap_q.qbuf, 0, request=req) == errno.EPERM
    assert ctx.cap_q.refresh(0) == "free"


def test_empty_request_is_enoent(ctx):
    with ctx.media.alloc_request() as req:
        assert _errno_of(req.queue) == errno.ENOENT
        ctx.dev.set_controls(ctx.pic.controls, request=req)
        assert _errno_of(req.queue) == errno.ENOENT  # controls but no buffer


def test_mixing_request_and_plain_qbuf_is_ebusy(ctx, h264_context):
    """A queue used with requests refuses plain QBUF and vice versa, until REQBUFS(0)."""
    n = ctx.out_q.buffers[0].write(ctx.pic.nal)
    with ctx.media.alloc_request() as req:
        ctx.dev.set_controls(ctx.pic.controls, request=req)
        ctx.out_q.qbuf(0, bytesused=n, timestamp_ns=1000, request=req)
        ctx.out_q.buffers[1].write(ctx.pic.nal)
        assert _errno_of(ctx.out_q.qbuf, 1, bytesused=n) == errno.EBUSY
    other = h264_context(n_out=2, n_cap=2)
    other.setup(4, 4)
    other.out_q.buffers[0].write(other.pic.nal)
    other.out_q.qbuf(0, bytesused=n, timestamp_ns=1000)  # no request: accepted (visl does not require them)
    with other.media.alloc_request() as req:
        other.dev.set_controls(other.pic.controls, request=req)
        other.out_q.buffers[1].write(other.pic.nal)
        assert _errno_of(other.out_q.qbuf, 1, bytesused=n, request=req) == errno.EBUSY


def test_two_output_buffers_in_one_request_is_einval(ctx):
    with ctx.media.alloc_request() as req:
        ctx.dev.set_controls(ctx.pic.controls, request=req)
        for i in range(2):
            n = ctx.out_q.buffers[i].write(ctx.pic.nal)
            ctx.out_q.qbuf(i, bytesused=n, timestamp_ns=1000 * i, request=req)
        assert _errno_of(req.queue) == errno.EINVAL
        req.reinit()  # unbinds both buffers
    for i in range(2):
        assert ctx.out_q.refresh(i) == "free"


def test_queued_request_states(ctx):
    """A queued request that cannot run (no CAPTURE buffer): EBUSY/EACCES/timeout, then completes."""
    req = ctx.media.alloc_request()
    try:
        ctx.submit(req, 0, 7_000)
        assert _errno_of(req.queue) == errno.EBUSY  # queued twice
        assert _errno_of(req.reinit) == errno.EBUSY  # REINIT of a queued request
        assert _errno_of(ctx.dev.set_controls, ctx.pic.controls[:1], request=req) == errno.EBUSY
        assert _errno_of(ctx.dev.get_control, C.V4L2_CID_STATELESS_H264_SPS, request=req) == errno.EACCES
        assert not req.is_complete()
        with pytest.raises(RequestError, match="did not complete within the 0.2 s timeout"):
            req.wait(0.2)
        ctx.cap_q.qbuf(0)  # now the job can run
        req.wait(10)
        assert req.is_complete()
        assert _errno_of(req.queue) == errno.EBUSY  # a completed request cannot be queued again
        assert ctx.out_q.dqbuf().timestamp_ns == 7_000
        assert ctx.cap_q.wait(10) and ctx.cap_q.dqbuf().timestamp_ns == 7_000
        req.reinit()
        with pytest.raises(RequestError, match="not queued"):
            req.wait(1)  # an idle request: POLLERR
        with pytest.raises(RequestError, match="not queued"):
            req.wait(None)  # (no timeout: POLLERR all the same)
        ctx.submit(req, 1, 8_000)  # reusable after REINIT
        ctx.cap_q.qbuf(1)
        req.wait(10)
        assert ctx.out_q.dqbuf().index == 1
    finally:
        req.close()


def test_buffer_already_in_a_request_is_refused(ctx):
    with ctx.media.alloc_request() as r1, ctx.media.alloc_request() as r2:
        n = ctx.out_q.buffers[0].write(ctx.pic.nal)
        ctx.out_q.qbuf(0, bytesused=n, timestamp_ns=1000, request=r1)
        assert _errno_of(ctx.out_q.qbuf, 0, bytesused=n, timestamp_ns=1000, request=r2) == errno.EINVAL


def test_not_a_request_fd_is_einval(ctx):
    n = ctx.out_q.buffers[0].write(ctx.pic.nal)
    assert _errno_of(ctx.out_q.qbuf, 0, bytesused=n, request=ctx.dev.fd) == errno.EINVAL
    assert _errno_of(ctx.dev.set_controls, ctx.pic.controls[:1], request=ctx.media.fd) == errno.EINVAL
