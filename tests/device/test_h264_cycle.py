"""Frame cycles on an H.264 stateless decoder (visl / emulated): requests, timestamps, the pool."""

from __future__ import annotations

import pytest

from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import timeval_to_ns, ns_to_timeval


def test_one_frame_cycle(h264_context):
    ctx = h264_context()
    ctx.setup(4, 4)
    assert ctx.out_q.multiplanar and ctx.cap_q.multiplanar
    out, cap = ctx.cycle(33_000_000)
    assert out.index == 0 and out.timestamp_ns == 33_000_000 and not out.error
    assert out.bytesused == len(ctx.pic.nal)
    assert cap.timestamp_ns == 33_000_000  # copied from the OUTPUT buffer
    assert not cap.error
    assert cap.bytesused == ctx.cap_fmt.sizeimage[0]
    assert cap.flags & v.V4L2_BUF_FLAG_TIMESTAMP_MASK == v.V4L2_BUF_FLAG_TIMESTAMP_COPY
    assert ctx.out_q.dqbuf() is None and ctx.cap_q.dqbuf() is None  # nothing else pending


@pytest.mark.parametrize("ts", [0, 1_000, 1_234_567, 999_999_999, 1_000_000_000, 2**40 + 5_123, 2**62 + 999])
def test_timestamps_as_the_kernel_converts_them(h264_context, ts):
    ctx = h264_context()
    ctx.setup(4, 4)
    out, cap = ctx.cycle(ts)
    expect = timeval_to_ns(*ns_to_timeval(ts))
    assert expect == ts - ts % 1000  # sub-microsecond digits are dropped by the timeval
    assert out.timestamp_ns == expect and cap.timestamp_ns == expect


def test_sequence_numbers_and_capture_fifo(h264_context):
    """CAPTURE buffers are filled in the order they were queued; sequence counts frames."""
    ctx = h264_context(n_cap=3)
    ctx.setup(4, 4)
    for i in range(3):
        ctx.cap_q.qbuf(i)
    seen = []
    for n in range(6):
        slot = ctx.pool.acquire()
        ctx.submit(slot.request, 0, (n + 1) * 40_000)
        slot.request.wait(10)
        out = ctx.out_q.dqbuf()
        assert ctx.cap_q.wait(10)
        cap = ctx.cap_q.dqbuf()
        ctx.pool.release(slot)
        assert out.sequence == n and cap.sequence == n
        assert cap.timestamp_ns == (n + 1) * 40_000
        seen.append(cap.index)
        ctx.cap_q.qbuf(cap.index)
    assert seen == [0, 1, 2, 0, 1, 2]


def test_pool_survives_2000_cycles_without_leaks(h264_context, fds):
    before = fds()
    ctx = h264_context(pool_size=2)
    ctx.setup(4, 4)
    after_setup = fds()
    request_fds = set()
    for n in range(2000):
        out, cap = ctx.cycle(n * 1000)
        assert cap.timestamp_ns == n * 1000 and not cap.error
        if n % 500 == 0:
            request_fds |= {s.request.fd for s in ctx.pool._slots}
    assert ctx.pool.capacity == 2 and ctx.pool.available == 2 and not ctx.pool.losses
    assert fds() == after_setup
    assert len(request_fds) == 2  # the same two request fds, REINIT every time
    ctx.close()
    assert fds() == before


def test_decoded_samples_emulated(h264_context, backend_kind):
    """The emulated decoder decodes for real: the I_PCM luma samples come back exactly."""
    if backend_kind == "kernel":
        pytest.skip("visl draws debug text, it does not decode")
    ctx = h264_context()
    ctx.setup(4, 4)
    _, cap = ctx.cycle(1000)
    fmt = ctx.cap_fmt
    plane = ctx.cap_q.buffers[cap.index].planes[0]
    w, h, stride = ctx.pic.width, ctx.pic.height, fmt.bytesperline[0]
    got = b"".join(bytes(plane[y * stride:y * stride + w]) for y in range(h))
    assert got == ctx.pic.luma
