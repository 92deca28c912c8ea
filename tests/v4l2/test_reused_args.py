"""The reused ioctl arguments of the per-picture path, byte for byte against fresh ones.

``Queue.qbuf``/``dqbuf`` reuse one ``v4l2_buffer`` (+ plane array) for every call and
``OSBackend.ioctl`` hands the struct to ``fcntl.ioctl``; a recording backend checks that what
reaches the kernel is exactly the struct the old code built from scratch for each call, also
after a DQBUF in which the "kernel" scribbled over every field.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import select
import termios
import types

import pytest

from pyv4l2req.errors import V4L2Error
from pyv4l2req.kernel.backend import OSBackend
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2.queue import Buffer, Queue, ns_to_timeval, timeval_to_ns


class Recorder:
    """A fake kernel: records the bytes of every QBUF argument (and its planes); DQBUF fills
    every field of the struct and of the planes with random bytes, keeping the type/memory/
    m.planes/length the caller set, then the index and timestamp of the oldest QBUF."""

    name = "recorder"

    def __init__(self, multiplanar: bool) -> None:
        self.multiplanar = multiplanar
        self.calls: list[tuple[bytes, bytes]] = []
        self.queued: list[tuple[int, int, int]] = []
        self.rng = random.Random(7)

    def ioctl(self, fd: int, request: int, arg=None) -> int:
        if request == v.VIDIOC_QBUF:
            planes = b""
            if self.multiplanar:
                planes = ctypes.string_at(ctypes.addressof(arg.m.planes.contents), arg.length * ctypes.sizeof(v.v4l2_plane))
            self.calls.append((bytes(arg), planes))
            self.queued.append((arg.index, arg.timestamp.tv_sec, arg.timestamp.tv_usec))
            return 0
        if request == v.VIDIOC_DQBUF:
            if not self.queued:
                raise V4L2Error(errno.EAGAIN, "VIDIOC_DQBUF")
            keep = (arg.type, arg.memory, ctypes.addressof(arg.m.planes.contents) if self.multiplanar else 0, arg.length)
            ctypes.memmove(ctypes.addressof(arg), bytes(self.rng.randrange(256) for _ in range(ctypes.sizeof(arg))),
                           ctypes.sizeof(arg))
            if self.multiplanar:
                n = ctypes.sizeof(v.v4l2_plane) * v.VIDEO_MAX_PLANES
                ctypes.memmove(keep[2], bytes(self.rng.randrange(256) for _ in range(n)), n)
                arg.m.planes = ctypes.cast(keep[2], ctypes.POINTER(v.v4l2_plane))
            arg.type, arg.memory, arg.length = keep[0], keep[1], keep[3]
            arg.index, arg.timestamp.tv_sec, arg.timestamp.tv_usec = self.queued.pop(0)
            if self.multiplanar:
                used = tuple(arg.m.planes[p].bytesused for p in range(arg.length))
            else:
                used = (arg.bytesused,)
            self.answered = (arg.flags, arg.sequence, used)  # what dqbuf must read back
            return 0
        raise V4L2Error(errno.ENOTTY, "ioctl")


def _queue(buf_type: int, n_planes: int = 1) -> tuple[Queue, Recorder]:
    rec = Recorder(v.V4L2_TYPE_IS_MULTIPLANAR(buf_type))
    dev = types.SimpleNamespace(fd=5, backend=rec, _queues=set(), closed=False)
    q = Queue(dev, buf_type)
    q.buffers = [Buffer(i, [memoryview(bytearray(64))] * n_planes, 64, "free", (64,) * n_planes) for i in range(4)]
    return q, rec


def _reference(q: Queue, index: int, bytesused: int, ts: int, request_fd: int | None, flags: int,
               n_planes: int, bytesused_planes: tuple[int, ...] = ()) -> tuple[v.v4l2_buffer, bytes]:
    """The v4l2_buffer the code before the reuse built for QBUF, from scratch."""
    b = v.v4l2_buffer()
    b.index, b.type, b.memory = index, q.buf_type, v.V4L2_MEMORY_MMAP
    b.flags = flags | (v.V4L2_BUF_FLAG_REQUEST_FD if request_fd is not None else 0)
    b.field = v.V4L2_FIELD_NONE if q.is_output else v.V4L2_FIELD_ANY
    b.timestamp.tv_sec, b.timestamp.tv_usec = ns_to_timeval(ts)
    if request_fd is not None:
        b.request_fd = request_fd
    planes = b""
    if q.multiplanar:
        arr = (v.v4l2_plane * n_planes)()
        arr[0].bytesused = bytesused
        for p, used in enumerate(bytesused_planes):
            arr[p].bytesused = used
        b.length = n_planes
        planes = bytes(arr)
    else:
        b.bytesused = bytesused
    return b, planes


def _without_pointer(b: bytes) -> bytes:
    off = v.v4l2_buffer.m.offset
    return b[:off] + bytes(8) + b[off + 8:]


CASES = [(0, 1000, 33_000, 12, 0), (3, 0, 0, None, 0), (1, 65536, 2**40 + 5_000, 9, v.V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF),
         (2, 7, 2**63 + 1_000, None, 0), (0, 5, 999, 3, 0)]


@pytest.mark.parametrize("buf_type,n_planes", [(v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, 1),
                                               (v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, 2),
                                               (v.V4L2_BUF_TYPE_VIDEO_OUTPUT, 1),
                                               (v.V4L2_BUF_TYPE_VIDEO_CAPTURE, 1)])
def test_qbuf_sends_a_fresh_struct_every_time(buf_type, n_planes):
    q, rec = _queue(buf_type, n_planes)
    for round_ in range(3):  # the same reused struct, between DQBUFs that scribble over it
        for k, (index, used, ts, req_fd, flags) in enumerate(CASES):
            planes_used = (used, 10 + k)[:n_planes] if round_ == 2 else ()
            q.qbuf(index, used, ts, req_fd, flags, bytesused_planes=planes_used or None)
            got, got_planes = rec.calls[-1]
            ref, ref_planes = _reference(q, index, used, ts, req_fd, flags, n_planes,
                                         planes_used if q.multiplanar else ())
            assert _without_pointer(got) == _without_pointer(bytes(ref)), (round_, index)
            assert got_planes == ref_planes
            assert q.buffers[index].state == "queued"
        for index, _used, ts, _req_fd, _flags in CASES:
            got = q.dqbuf()
            flags, sequence, used = rec.answered
            assert (got.index, got.timestamp_ns) == (index, timeval_to_ns(*ns_to_timeval(ts)))
            assert (got.flags, got.sequence, got.bytesused_planes, got.bytesused) == (flags, sequence, used, used[0])
            assert got.error == bool(flags & v.V4L2_BUF_FLAG_ERROR)
            assert q.buffers[index].state == "free"
        assert q.dqbuf() is None  # EAGAIN


def test_qbuf_takes_a_request_or_its_fd():
    q, rec = _queue(v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)
    req = types.SimpleNamespace(fd=11)
    q.qbuf(2, bytesused=100, timestamp_ns=5_000, request=req, flags=0)
    q.qbuf(2, 100, 5_000, 11, 0)
    q.qbuf(2, bytesused=100, timestamp_ns=5_000, request=11)
    assert rec.calls[0] == rec.calls[1] == rec.calls[2]
    with pytest.raises(IndexError, match="no buffer 4"):
        q.qbuf(4)
    with pytest.raises(IndexError, match="no buffer -1"):
        q.qbuf(-1)


def test_qbuf_error_names_the_buffer_and_request():
    q, rec = _queue(v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)

    def fail(fd, request, arg=None):
        raise V4L2Error(errno.EBUSY, "VIDIOC_QBUF")

    q._ioctl_fn = fail
    with pytest.raises(V4L2Error, match="OUTPUT_MPLANE buffer 1 in request fd 12") as e:
        q.qbuf(1, 10, 1000, 12, 0)
    assert e.value.errno == errno.EBUSY and q.buffers[1].state == "free"


# ------------------------------------------------------------------ OSBackend on real fds
def test_os_backend_ioctl_writes_the_struct_back():
    r, w = os.pipe()
    try:
        os.write(w, b"12345")
        n = ctypes.c_int(-1)
        assert OSBackend().ioctl(r, termios.FIONREAD, n) == 0
        assert n.value == 5
    finally:
        os.close(r)
        os.close(w)


def test_os_backend_ioctl_error_names_the_ioctl():
    r, w = os.pipe()
    try:
        with pytest.raises(V4L2Error) as e:
            OSBackend().ioctl(r, v.VIDIOC_QBUF, v.v4l2_buffer())
        assert e.value.errno == errno.ENOTTY and e.value.op == "VIDIOC_QBUF"
        with pytest.raises(V4L2Error) as e:
            OSBackend().ioctl(r, v.VIDIOC_STREAMON, None)  # an _IO-style call without argument
        assert e.value.errno == errno.ENOTTY
    finally:
        os.close(r)
        os.close(w)


def test_os_backend_poll_reuses_nothing_it_should_not():
    """A tuple of fds reuses its poll object; a list, or another tuple, polls what it says."""
    b = OSBackend()
    r, w = os.pipe()
    r2, w2 = os.pipe()
    try:
        fds = ((r, select.POLLIN),)
        assert b.poll(fds, 0) == []
        os.write(w, b"x")
        assert b.poll(fds, 0) == [(r, select.POLLIN)]
        assert b.poll(((r2, select.POLLIN),), 0) == []
        assert b.poll([(r, select.POLLIN), (r2, select.POLLIN)], 0) == [(r, select.POLLIN)]
        os.read(r, 1)
        assert b.poll(fds, 0) == []
    finally:
        for fd in (r, w, r2, w2):
            os.close(fd)
