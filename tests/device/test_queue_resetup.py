"""Queues: teardown and re-setup at other resolutions, STREAMON each time; EXPBUF; planarity."""

from __future__ import annotations

import errno
import mmap
import os

import pytest

from pyv4l2req.errors import V4L2Error
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import Queue, VideoDevice

RESOLUTIONS_MBS = [(4, 4), (8, 6), (12, 8)]  # 64x64, 128x96, 192x128


def test_recreate_decode_context_at_three_resolutions(h264_context, fds):
    before = fds()
    for rnd in range(3):
        for wm, hm in RESOLUTIONS_MBS:
            ctx = h264_context()
            ctx.setup(wm, hm)
            assert ctx.cap_fmt.width == wm * 16 and ctx.cap_fmt.height == hm * 16
            assert ctx.cap_q.buffers[0].length >= wm * hm * 256 * 3 // 2
            out, cap = ctx.cycle(1000 * (rnd * 10 + wm))
            assert cap.timestamp_ns == out.timestamp_ns and not cap.error
            ctx.close()
            assert fds() == before


def test_resolution_change_in_one_context(h264_context, fds):
    """Same file handle: STREAMOFF, REQBUFS(0), OUTPUT format first, new buffers, STREAMON."""
    ctx = h264_context()
    ctx.setup(4, 4)
    steady = None
    for rnd in range(3):
        for wm, hm in RESOLUTIONS_MBS:
            ctx.teardown()
            ctx.setup(wm, hm)
            assert ctx.dev.g_fmt(ctx.dev.capture_type).width == wm * 16
            out, cap = ctx.cycle(2000 + rnd)
            assert cap.timestamp_ns == 2000 and not cap.error
            steady = steady or fds()
            assert fds() == steady


def test_expbuf_capture(h264_context, fds):
    ctx = h264_context()
    ctx.setup(4, 4)
    _, cap = ctx.cycle(1000)
    buf = ctx.cap_q.buffers[cap.index]
    before = fds()
    fd = ctx.cap_q.export(cap.index, 0)
    try:
        assert fds() == before + 1
        assert os.fstat(fd).st_size >= buf.length
        with mmap.mmap(fd, buf.length, mmap.MAP_SHARED, mmap.PROT_READ) as mm:
            assert mm[:] == bytes(buf.planes[0])  # the same memory as our MMAP view
    finally:
        os.close(fd)
    assert fds() == before
    # an exported buffer outlives REQBUFS(0) (orphaned) and is freed when its fd closes
    fd = ctx.cap_q.export(0)
    ctx.teardown()
    assert os.fstat(fd).st_size >= 64 * 64
    n = fds()
    os.close(fd)
    assert fds() == n - 1


def test_single_planar_fwht_queues(fwht_device, fds, backend_kind):
    backend, info = fwht_device
    before = fds()
    dev = VideoDevice(backend, info.video_path)
    try:
        assert dev.is_multiplanar == info.multiplanar
        if backend_kind == "kernel":
            assert dev.output_type == v.V4L2_BUF_TYPE_VIDEO_OUTPUT
        for rnd in range(2):
            for w, h in [(640, 368), (720, 480), (1280, 720)]:
                fmt = dev.s_fmt(dev.output_type, v.V4L2_PIX_FMT_FWHT_STATELESS, w, h)
                assert fmt.pixelformat == v.V4L2_PIX_FMT_FWHT_STATELESS and (fmt.width, fmt.height) == (w, h)
                cap = dev.s_fmt(dev.capture_type, v.V4L2_PIX_FMT_YUV420, w, h)
                assert cap.pixelformat == v.V4L2_PIX_FMT_YUV420 and (cap.width, cap.height) == (w, h)
                assert cap.sizeimage[0] >= w * h * 3 // 2
                out_q, cap_q = Queue(dev, dev.output_type), Queue(dev, dev.capture_type)
                assert out_q.setup(2) >= 1 and cap_q.setup(2) >= 1
                assert out_q.multiplanar == cap_q.multiplanar == info.multiplanar
                assert len(cap_q.buffers[0].planes) == 1 and cap_q.buffers[0].length >= w * h * 3 // 2
                out_q.streamon()
                cap_q.streamon()
                cap_q.qbuf(0)
                fd = cap_q.export(0)
                assert os.fstat(fd).st_size >= w * h * 3 // 2
                os.close(fd)
                out_q.free()
                cap_q.free()  # STREAMOFF (the queued buffer returns), unmap, REQBUFS(0)
                assert not cap_q.buffers and not cap_q.streaming
    finally:
        dev.close()
    assert fds() == before


def test_device_close_frees_queues(h264_device, fds):
    backend, info = h264_device
    before = fds()
    dev = VideoDevice(backend, info.video_path)
    dev.s_fmt(dev.output_type, v.V4L2_PIX_FMT_H264_SLICE, 64, 64)
    q = Queue(dev, dev.output_type)
    q.setup(3)
    q.streamon()
    dev.close()
    assert not q.buffers
    assert fds() == before


def test_device_probe(h264_device, backend_kind):
    backend, info = h264_device
    with VideoDevice(backend, info.video_path) as dev:
        assert dev.is_multiplanar and dev.supports_requests and dev.supports_hold
        outs = [f.pixelformat for f in dev.enum_formats(dev.output_type)]
        assert outs == info.output_formats
        assert all(f.flags & v.V4L2_FMT_FLAG_COMPRESSED for f in dev.enum_formats(dev.output_type))
        caps = [f.pixelformat for f in dev.enum_formats(dev.capture_type)]
        assert v.V4L2_PIX_FMT_NV12 in caps
        sizes = dev.enum_framesizes(v.V4L2_PIX_FMT_H264_SLICE)
        assert sizes and sizes[0].min_width <= 64 <= sizes[0].max_width
        cur = dev.g_fmt(dev.output_type)
        t = dev.try_fmt(dev.output_type, v.V4L2_PIX_FMT_H264_SLICE, 128, 96, sizeimage=100_000)
        assert (t.width, t.height, t.num_planes) == (128, 96, 1) and t.sizeimage[0] >= 100_000
        assert dev.g_fmt(dev.output_type) == cur  # TRY applies nothing
        dev.try_decoder_cmd(v.V4L2_DEC_CMD_FLUSH)
        if backend_kind == "kernel":
            assert sizes[0].max_width == 4096 and sizes[0].max_height == 2304
            assert caps == [v.V4L2_PIX_FMT_NV12, v.V4L2_PIX_FMT_YUV420]


def test_capture_buffer_smaller_than_format_is_refused(h264_context):
    """visl accepts a bigger CAPTURE format while small buffers exist; QBUF of those is EINVAL."""
    ctx = h264_context()
    ctx.setup(4, 4)
    dev = ctx.dev
    fmt = dev.s_fmt(dev.capture_type, v.V4L2_PIX_FMT_NV12, 128, 128)
    assert fmt.sizeimage[0] > ctx.cap_q.buffers[0].length
    with pytest.raises(V4L2Error) as ei:
        ctx.cap_q.qbuf(0)
    assert ei.value.errno == errno.EINVAL


def test_querycap_ext_pix_format(h264_device):
    """The V4L2 core always adds V4L2_CAP_EXT_PIX_FORMAT to device_caps."""
    backend, info = h264_device
    with VideoDevice(backend, info.video_path) as dev:
        assert dev.caps & v.V4L2_CAP_EXT_PIX_FORMAT
        assert dev.caps & v.V4L2_CAP_STREAMING and dev.caps & v.V4L2_CAP_VIDEO_M2M_MPLANE
