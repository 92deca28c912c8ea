"""Request API state machine and errnos of the emulated device.

Oracle: the errnos Linux 6.12 returns (mc-request.c, videobuf2-v4l2.c, v4l2-mem2mem.c,
v4l2-ctrls-request.c), each checked on visl / vicodec in the test VM.
"""

from __future__ import annotations

import errno
import select

from conftest import CAP, CID_REFS, OUT, Dev, decode, err, refs_payload
from pyv4l2req.uapi import videodev2 as v

REQ = v.V4L2_CTRL_WHICH_REQUEST_VAL


def test_request_cycle_completes_and_copies_timestamp(dev):
    qc = dev.qbuf(CAP, 0)
    assert qc.flags == v.V4L2_BUF_FLAG_QUEUED | v.V4L2_BUF_FLAG_TIMESTAMP_COPY and qc.field == 0
    assert qc.m.planes[0].bytesused == 6144                  # buf_prepare: payload = sizeimage
    rfd = dev.alloc_request()
    qo = dev.qbuf(OUT, 0, b"PIC1", 1_234_567_000, req=rfd, flags=v.V4L2_BUF_FLAG_KEYFRAME)
    assert qo.flags & v.V4L2_BUF_FLAG_IN_REQUEST and qo.flags & v.V4L2_BUF_FLAG_REQUEST_FD
    assert qo.m.planes[0].bytesused == 0 and qo.field == v.V4L2_FIELD_NONE   # prepared at queue time
    dev.queue(rfd)
    assert dev.complete(rfd)
    o = dev.dqbuf(OUT)
    c = dev.dqbuf(CAP)
    assert (o.index, c.index) == (0, 0)
    assert o.flags & v.V4L2_BUF_FLAG_REQUEST_FD and o.request_fd == rfd and o.m.planes[0].bytesused == 4
    assert not dev.querybuf(OUT, 0).flags & v.V4L2_BUF_FLAG_REQUEST_FD   # forgotten after DQBUF
    assert c.flags & v.V4L2_BUF_FLAG_KEYFRAME and c.field == v.V4L2_FIELD_NONE
    assert (c.timestamp.tv_sec, c.timestamp.tv_usec) == (1, 234567)
    assert not c.flags & (v.V4L2_BUF_FLAG_DONE | v.V4L2_BUF_FLAG_ERROR)   # DONE cleared by DQBUF
    assert c.flags & v.V4L2_BUF_FLAG_TIMESTAMP_COPY
    assert o.sequence == 0 and c.sequence == 0
    assert c.m.planes[0].bytesused == dev.fmt(CAP, req=v.VIDIOC_G_FMT).fmt.pix_mp.plane_fmt[0].sizeimage
    assert bytes(dev.mmap(CAP, 0)[:4]) == b"PIC1"
    job = dev.model.jobs[-1]
    assert job.bitstream == b"PIC1" and job.timestamp_ns == 1_234_567_000 and not job.holds_capture
    dev.b.close(rfd)


def test_request_values_become_current_and_stay_readable(dev):
    dev.qbuf(CAP, 0)
    rfd = decode(dev, 0, 1000, refs=())
    dev.set([(CID_REFS, refs_payload(5))])    # current value changes after the request ran
    got = dev.get(CID_REFS, 64, which=REQ, request_fd=rfd)
    assert got == refs_payload()              # the request keeps its own value
    assert dev.get(CID_REFS, 64) == refs_payload(5)
    dev.b.close(rfd)


def test_nothing_ready_dqbuf_eagain_and_not_streaming_einval(dev):
    assert err(dev.dqbuf, CAP) == errno.EAGAIN
    assert err(dev.dqbuf, OUT) == errno.EAGAIN
    dev.streamoff(CAP)
    assert err(dev.dqbuf, CAP) == errno.EINVAL


def test_request_queued_twice_is_ebusy(dev):
    rfd = decode(dev, 0, 1000)                # no CAPTURE buffer: stays queued
    assert err(dev.queue, rfd) == errno.EBUSY
    assert not dev.complete(rfd)
    dev.qbuf(CAP, 0)
    assert dev.complete(rfd)
    assert err(dev.queue, rfd) == errno.EBUSY  # completed requests cannot be queued either
    dev.b.close(rfd)


def test_empty_request_is_enoent(dev):
    rfd = dev.alloc_request()
    assert err(dev.queue, rfd) == errno.ENOENT
    dev.set([(CID_REFS, refs_payload())], which=REQ, request_fd=rfd)
    assert err(dev.queue, rfd) == errno.ENOENT  # controls only
    dev.qbuf(OUT, 0, b"X", 1, req=rfd)
    dev.queue(rfd)                              # state went back to idle after the failures
    dev.b.close(rfd)


def test_two_output_buffers_in_one_request_is_einval_and_reinit_frees_them(dev):
    rfd = dev.alloc_request()
    dev.qbuf(OUT, 0, b"A", 1, req=rfd)
    dev.qbuf(OUT, 1, b"B", 2, req=rfd)
    assert dev.querybuf(OUT, 0).flags & v.V4L2_BUF_FLAG_IN_REQUEST
    assert err(dev.queue, rfd) == errno.EINVAL
    dev.reinit(rfd)
    for i in range(2):
        assert not dev.querybuf(OUT, i).flags & (v.V4L2_BUF_FLAG_IN_REQUEST | v.V4L2_BUF_FLAG_QUEUED)
    dev.b.close(rfd)


def test_buffer_in_a_request_cannot_be_queued_again(dev):
    r1, r2 = dev.alloc_request(), dev.alloc_request()
    dev.qbuf(OUT, 0, b"A", 1, req=r1)
    assert err(dev.qbuf, OUT, 0, b"A", 1, req=r2) == errno.EINVAL
    dev.b.close(r1)                   # the buffer keeps the closed request alive (visl, 6.12)
    b = dev.querybuf(OUT, 0)
    assert b.flags & v.V4L2_BUF_FLAG_IN_REQUEST and b.flags & v.V4L2_BUF_FLAG_REQUEST_FD
    assert b.request_fd == r1
    dev.streamoff(OUT)                # only cancelling the queue returns it
    assert not dev.querybuf(OUT, 0).flags & v.V4L2_BUF_FLAG_IN_REQUEST
    dev.streamon(OUT)
    dev.qbuf(OUT, 0, b"A", 1, req=r2)
    dev.b.close(r2)


def test_bad_request_fd_is_einval(dev, backend):
    assert err(dev.qbuf, OUT, 0, b"A", 1, req=dev.fd) == errno.EINVAL      # not a request
    assert err(dev.qbuf, OUT, 0, b"A", 1, req=-1) == errno.EINVAL
    assert err(dev.set, [(CID_REFS, refs_payload())], which=REQ, request_fd=dev.mfd) == errno.EINVAL
    assert err(dev.set, [(CID_REFS, refs_payload())], which=REQ, request_fd=-1) == errno.EINVAL
    other = Dev(backend, 1)                     # a request of another media device
    try:
        rfd = other.alloc_request()
        assert err(dev.qbuf, OUT, 0, b"A", 1, req=rfd) == errno.EINVAL
        backend.close(rfd)
    finally:
        other.close()


def test_capture_buffer_in_a_request_is_eperm(dev):
    rfd = dev.alloc_request()
    assert err(dev.qbuf, CAP, 0, req=rfd) == errno.EPERM    # v4l2_m2m_qbuf()
    dev.b.close(rfd)


def test_output_queue_mixing_is_ebusy(dev):
    dev.qbuf(OUT, 0, b"A", 1)                   # visl: requests are optional on OUTPUT
    rfd = dev.alloc_request()
    assert err(dev.qbuf, OUT, 1, b"B", 2, req=rfd) == errno.EBUSY
    dev.streamoff(OUT)                          # queue cancel resets the mode
    dev.streamon(OUT)
    dev.qbuf(OUT, 1, b"B", 2, req=rfd)
    assert err(dev.qbuf, OUT, 0, b"A", 1) == errno.EBUSY
    dev.b.close(rfd)


def test_queue_requiring_requests_is_ebadr_and_required_control_enoent(backend):
    d = Dev(backend, 1)                         # FWHT device: like vicodec's stateless decoder
    try:
        d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 640, 368)
        d.reqbufs(OUT, 1)
        assert err(d.qbuf, OUT, 0, b"A", 1) == errno.EBADR
        rfd = d.alloc_request()
        d.qbuf(OUT, 0, b"A", 1, req=rfd)
        assert err(d.queue, rfd) == errno.ENOENT   # the required control is missing
        d.set([(CID_REFS, refs_payload())], which=REQ, request_fd=rfd)
        d.queue(rfd)
        backend.close(rfd)
    finally:
        d.close()


def test_queued_request_refuses_access(dev):
    rfd = decode(dev, 0, 1000)
    assert err(dev.get, CID_REFS, 64, which=REQ, request_fd=rfd) == errno.EACCES
    assert err(dev.set, [(CID_REFS, refs_payload())], which=REQ, request_fd=rfd) == errno.EBUSY
    assert err(dev.reinit, rfd) == errno.EBUSY
    r2 = dev.alloc_request()
    assert err(dev.qbuf, OUT, 1, b"B", 2, req=rfd) == errno.EBUSY   # request not idle
    assert err(dev.get, CID_REFS, 64, which=REQ, request_fd=r2) == errno.EACCES  # idle: not complete
    dev.qbuf(CAP, 0)
    assert dev.complete(rfd)
    dev.reinit(rfd)
    assert not dev.complete(rfd)
    for fd in (rfd, r2):
        dev.b.close(fd)


def test_request_poll_states(dev):
    rfd = dev.alloc_request()
    assert dev.b.poll([(rfd, select.POLLPRI)], 0) == [(rfd, select.POLLERR)]   # idle
    dev.qbuf(OUT, 0, b"A", 1, req=rfd)
    dev.set([(CID_REFS, refs_payload())], which=REQ, request_fd=rfd)
    dev.queue(rfd)
    assert dev.b.poll([(rfd, select.POLLPRI)], 0) == []                       # queued
    dev.qbuf(CAP, 0)
    assert dev.b.poll([(rfd, select.POLLPRI)], 0) == [(rfd, select.POLLPRI)]  # complete
    assert dev.b.poll([(rfd, select.POLLIN)], 0) == []                        # only POLLPRI counts
    dev.b.close(rfd)


def test_closed_request_fd_completes_later(dev):
    rfd = decode(dev, 0, 1000)
    dev.b.close(rfd)                             # the queued request lives on
    dev.qbuf(CAP, 0)
    assert dev.dqbuf(OUT).index == 0 and dev.dqbuf(CAP).index == 0


def test_streamoff_completes_queued_requests_and_returns_buffers(dev):
    rfd = decode(dev, 0, 1000)                   # no CAPTURE buffer: the job cannot run
    dev.streamoff(CAP)
    dev.qbuf(CAP, 1)                             # queued while CAPTURE is not streaming
    assert not dev.complete(rfd)
    assert dev.querybuf(CAP, 1).flags & v.V4L2_BUF_FLAG_QUEUED
    dev.streamoff(OUT)
    assert dev.complete(rfd)                     # cancelled: completed (buffer in error)
    dev.streamoff(CAP)
    for t, i in ((OUT, 0), (CAP, 1)):
        assert not dev.querybuf(t, i).flags & (v.V4L2_BUF_FLAG_QUEUED | v.V4L2_BUF_FLAG_DONE)
    dev.b.close(rfd)
