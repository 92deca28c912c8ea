"""mem2mem scheduling of the emulated device: HOLD_CAPTURE_BUF, FLUSH, references, formats.

Oracle: v4l2-mem2mem.c (``v4l2_m2m_try_schedule`` release of a held CAPTURE buffer on a new
timestamp, ``v4l2_m2m_buf_done_and_job_finish``, ``v4l2_m2m_ioctl_stateless_decoder_cmd``),
the visl/vicodec format and buffer values measured in the test VM (Linux 6.12), and the
reference rule of the project contract (a reference must be a decoded CAPTURE buffer not
re-queued since).
"""

from __future__ import annotations

import errno

from conftest import CAP, OUT, Dev, decode, err
from pyv4l2req.uapi import videodev2 as v

HOLD = v.V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF


def _cmd(dev, cmd, try_only=False):
    dc = v.v4l2_decoder_cmd(cmd=cmd, flags=3)
    dev.ioctl(v.VIDIOC_TRY_DECODER_CMD if try_only else v.VIDIOC_DECODER_CMD, dc)
    return dc


def test_hold_keeps_capture_until_a_new_timestamp(dev):
    dev.qbuf(CAP, 0)
    dev.qbuf(CAP, 1)
    r1 = decode(dev, 0, 1000, b"S1", flags=HOLD)          # slice 1 of picture 1000
    assert dev.complete(r1)
    assert dev.dqbuf(OUT).index == 0
    assert err(dev.dqbuf, CAP) == errno.EAGAIN           # held
    assert dev.querybuf(CAP, 0).flags & v.V4L2_BUF_FLAG_QUEUED
    r2 = decode(dev, 0, 1000, b"S2", flags=HOLD)          # slice 2: same buffer
    assert err(dev.dqbuf, CAP) == errno.EAGAIN
    assert [j.capture.index for j in dev.model.jobs] == [0, 0]
    assert all(j.holds_capture for j in dev.model.jobs)
    dev.dqbuf(OUT)
    r3 = decode(dev, 1, 2000, b"P2")                      # new timestamp releases the held one
    c = dev.dqbuf(CAP)
    assert c.index == 0 and c.timestamp.tv_usec == 1
    assert not c.flags & (v.V4L2_BUF_FLAG_DONE | v.V4L2_BUF_FLAG_ERROR)
    assert c.sequence == 1                                # the last job that wrote it (visl)
    c = dev.dqbuf(CAP)
    assert c.index == 1 and c.timestamp.tv_usec == 2 and c.sequence == 2
    for fd in (r1, r2, r3):
        dev.b.close(fd)


def test_flush_releases_the_held_buffer(dev):
    dev.qbuf(CAP, 0)
    r1 = decode(dev, 0, 1000, b"S1", flags=HOLD)
    assert err(dev.dqbuf, CAP) == errno.EAGAIN
    assert _cmd(dev, v.V4L2_DEC_CMD_FLUSH, try_only=True).flags == 0
    _cmd(dev, v.V4L2_DEC_CMD_FLUSH)
    assert dev.dqbuf(CAP).index == 0
    dev.b.close(r1)


def test_flush_with_pending_output_clears_its_hold_flag(dev):
    dev.qbuf(CAP, 0)
    r1 = decode(dev, 0, 1000, b"S1", flags=HOLD)
    dev.dqbuf(OUT)
    dev.streamoff(CAP)                                   # keep the next job pending
    r2 = decode(dev, 0, 1000, b"S2", flags=HOLD)
    _cmd(dev, v.V4L2_DEC_CMD_FLUSH)                      # clears HOLD on the queued OUTPUT buffer
    dev.streamon(CAP)
    dev.qbuf(CAP, 1)
    assert dev.complete(r2)
    assert dev.dqbuf(CAP).index == 1                     # the last slice released its buffer
    assert not dev.model.jobs[-1].holds_capture
    for fd in (r1, r2):
        dev.b.close(fd)


def test_decoder_commands(dev, backend):
    for cmd in (v.V4L2_DEC_CMD_START, v.V4L2_DEC_CMD_STOP, v.V4L2_DEC_CMD_PAUSE):
        assert err(_cmd, dev, cmd) == errno.EINVAL
        assert err(_cmd, dev, cmd, True) == errno.EINVAL
    _cmd(dev, v.V4L2_DEC_CMD_FLUSH)                      # nothing held: no-op
    other = Dev(backend, 1)                              # vicodec: decoder commands disabled
    try:
        assert err(_cmd, other, v.V4L2_DEC_CMD_FLUSH) == errno.ENOTTY
    finally:
        other.close()


def test_missing_reference_is_an_error_frame(dev):
    dev.qbuf(CAP, 0)
    r = decode(dev, 0, 2000, b"P", refs=(1000,))
    assert dev.complete(r)
    o, c = dev.dqbuf(OUT), dev.dqbuf(CAP)
    assert c.flags & v.V4L2_BUF_FLAG_ERROR and o.flags & v.V4L2_BUF_FLAG_ERROR
    assert dev.model.jobs == []                          # never reached the model
    dev.b.close(r)


def test_reference_must_not_be_requeued(dev):
    dev.qbuf(CAP, 0)
    r1 = decode(dev, 0, 1000, b"I")
    dev.dqbuf(OUT)
    assert dev.dqbuf(CAP).index == 0                     # decoded, dequeued: a valid reference
    dev.qbuf(CAP, 1)
    r2 = decode(dev, 1, 2000, b"P", refs=(1000,))
    dev.dqbuf(OUT)
    c = dev.dqbuf(CAP)
    assert c.index == 1 and not c.flags & v.V4L2_BUF_FLAG_ERROR
    job = dev.model.jobs[-1]
    assert list(job.refs) == [1000] and job.refs[1000].index == 0
    assert bytes(job.refs[1000].planes[0][:1]) == b"I"
    dev.qbuf(CAP, 0)                                     # userspace re-queues the reference
    r3 = decode(dev, 0, 3000, b"P", refs=(1000,))
    c = dev.dqbuf(CAP)
    assert c.index == 0 and c.flags & v.V4L2_BUF_FLAG_ERROR
    for fd in (r1, r2, r3):
        dev.b.close(fd)


def test_model_failure_flags_error_and_stats(dev):
    dev.qbuf(CAP, 0)
    r = decode(dev, 0, 1000, b"BAD")
    assert dev.dqbuf(CAP).flags & v.V4L2_BUF_FLAG_ERROR
    assert dev.b.stats.decoded == 1 and dev.b.stats.errors == 1
    assert dev.b.stats.pixel_seconds > 0
    assert dev.b.stats.ioctls["MEDIA_REQUEST_IOC_QUEUE"] == 1
    dev.b.close(r)


def test_plain_qbuf_decodes_too(dev):
    """visl accepts OUTPUT buffers without a request (controls from the current values)."""
    dev.qbuf(CAP, 2)
    dev.qbuf(OUT, 1, b"NOREQ", 5000)
    assert dev.dqbuf(OUT).index == 1
    c = dev.dqbuf(CAP)
    assert c.index == 2 and c.timestamp.tv_usec == 5


def test_formats_and_sizes(backend):
    d = Dev(backend, 0)
    try:
        cap = v.v4l2_capability()
        d.ioctl(v.VIDIOC_QUERYCAP, cap)
        assert cap.driver == b"emulated-h264" and cap.bus_info == b"platform:emulated-h264"
        assert cap.device_caps == 0x4204000   # visl: STREAMING | EXT_PIX_FORMAT | VIDEO_M2M_MPLANE
        assert cap.capabilities == cap.device_caps | v.V4L2_CAP_DEVICE_CAPS
        fs = v.v4l2_frmsizeenum(pixel_format=v.V4L2_PIX_FMT_H264_SLICE)
        d.ioctl(v.VIDIOC_ENUM_FRAMESIZES, fs)
        s = fs.stepwise
        assert (fs.type, s.min_width, s.max_width, s.min_height, s.max_height) == (3, 64, 4096, 64, 2304)
        f = d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 64, 64)   # values measured on visl
        assert f.fmt.pix_mp.plane_fmt[0].sizeimage == 262144   # max(256 KiB, w * h * 3)
        c = d.fmt(CAP, req=v.VIDIOC_G_FMT).fmt.pix_mp
        assert (c.pixelformat, c.width, c.height, c.num_planes) == (v.V4L2_PIX_FMT_NV12, 64, 64, 1)
        assert (c.plane_fmt[0].bytesperline, c.plane_fmt[0].sizeimage) == (64, 6144)
        t = d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 10, 9000, req=v.VIDIOC_TRY_FMT).fmt.pix_mp
        assert (t.width, t.height) == (64, 2304)
        c = d.fmt(CAP, v.v4l2_fourcc("X", "X", "X", "X"), 64, 64).fmt.pix_mp
        assert c.pixelformat == v.V4L2_PIX_FMT_NV12
        fd = v.v4l2_fmtdesc(type=CAP, index=1)
        d.ioctl(v.VIDIOC_ENUM_FMT, fd)
        assert fd.pixelformat == v.V4L2_PIX_FMT_YUV420
        fd.index = 2
        assert err(d.ioctl, v.VIDIOC_ENUM_FMT, fd) == errno.EINVAL
        sel = v.v4l2_selection(type=CAP, target=v.V4L2_SEL_TGT_COMPOSE)
        assert err(d.ioctl, v.VIDIOC_G_SELECTION, sel) == errno.ENOTTY   # visl has none
        d.reqbufs(CAP, 1)
        assert err(d.fmt, OUT, v.V4L2_PIX_FMT_H264_SLICE, 128, 128) == errno.EBUSY
        d.fmt(CAP, v.V4L2_PIX_FMT_YUV420, 64, 64)         # visl does not refuse this one
        d.reqbufs(CAP, 0)
        d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 128, 128)
    finally:
        d.close()


def test_fwht_device_selection_and_busy_rule(backend):
    d = Dev(backend, 1)
    try:
        d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 640, 368)
        sel = v.v4l2_selection(type=CAP, target=v.V4L2_SEL_TGT_COMPOSE)
        d.ioctl(v.VIDIOC_G_SELECTION, sel)
        assert (sel.r.left, sel.r.top, sel.r.width, sel.r.height) == (0, 0, 1280, 720)   # as vicodec
        d.fmt(CAP, v.V4L2_PIX_FMT_YUV420, 640, 368)
        d.ioctl(v.VIDIOC_G_SELECTION, sel)
        assert (sel.r.width, sel.r.height) == (640, 368)
        sel.target = v.V4L2_SEL_TGT_CROP
        assert err(d.ioctl, v.VIDIOC_G_SELECTION, sel) == errno.EINVAL
        d.reqbufs(CAP, 1)
        assert err(d.fmt, CAP, v.V4L2_PIX_FMT_NV12, 640, 368) == errno.EBUSY   # vicodec: own queue
    finally:
        d.close()


def test_reqbufs_querybuf_and_streaming_rules(backend):
    d = Dev(backend, 0)
    try:
        d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 64, 64)
        r = d.reqbufs(OUT, 100)
        assert r.count == 32
        caps = r.capabilities
        for bit in (v.V4L2_BUF_CAP_SUPPORTS_MMAP, v.V4L2_BUF_CAP_SUPPORTS_REQUESTS,
                    v.V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF, v.V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS):
            assert caps & bit
        assert d.reqbufs(OUT, 0).count == 0
        assert err(d.streamon, OUT) == errno.EINVAL          # no buffers
        d.reqbufs(OUT, 2)
        rc = d.reqbufs(CAP, 2)
        assert not rc.capabilities & (v.V4L2_BUF_CAP_SUPPORTS_REQUESTS | v.V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF)
        b = d.querybuf(OUT, 1)
        assert b.flags == v.V4L2_BUF_FLAG_TIMESTAMP_COPY and b.length == 1 and b.field == 0
        assert b.m.planes[0].m.mem_offset == 0x8000                # measured on visl
        assert d.querybuf(CAP, 1).m.planes[0].m.mem_offset == 0x40008000
        bad = d.buf(OUT, 2)
        assert err(d.ioctl, v.VIDIOC_QUERYBUF, bad) == errno.EINVAL
        d.streamon(OUT)
        assert err(d.reqbufs, OUT, 4) == errno.EBUSY
        d.qbuf(OUT, 0, b"A", 1)
        assert err(d.qbuf, OUT, 0, b"A", 1) == errno.EINVAL        # already queued
        assert d.querybuf(OUT, 0).flags & v.V4L2_BUF_FLAG_QUEUED
        d.streamoff(OUT)
        assert not d.querybuf(OUT, 0).flags & v.V4L2_BUF_FLAG_QUEUED
        cb = v.v4l2_create_buffers(count=2, memory=v.V4L2_MEMORY_MMAP)
        cb.format.type = CAP
        cb.format.fmt.pix_mp.num_planes = 1
        cb.format.fmt.pix_mp.plane_fmt[0].sizeimage = 100                # too small
        assert err(d.ioctl, v.VIDIOC_CREATE_BUFS, cb) == errno.EINVAL
        cb.format.fmt.pix_mp.plane_fmt[0].sizeimage = 8192
        d.ioctl(v.VIDIOC_CREATE_BUFS, cb)
        assert (cb.index, cb.count) == (2, 2)
        assert d.querybuf(CAP, 3).m.planes[0].length == 8192
    finally:
        d.close()


def test_fwht_device_keeps_its_capture_format(backend):
    """vicodec (measured on 6.12): 1280x720 YUV420 by default, not derived from S_FMT(OUTPUT)."""
    d = Dev(backend, 1)
    try:
        c = d.fmt(CAP, req=v.VIDIOC_G_FMT).fmt.pix_mp
        assert (c.width, c.height, c.plane_fmt[0].sizeimage) == (1280, 720, 1382400)
        d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 640, 368)
        c = d.fmt(CAP, req=v.VIDIOC_G_FMT).fmt.pix_mp
        assert (c.width, c.height) == (1280, 720)
    finally:
        d.close()
