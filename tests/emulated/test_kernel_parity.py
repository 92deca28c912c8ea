"""Formats, buffer capabilities and buffer-size checks of the emulated device against Linux 6.12.

Every expected number was measured on the test kernel (visl, vicodec's stateless decoder, both
probed in the VM with raw ioctls): QUERYCAP, REQBUFS / CREATE_BUFS ``capabilities`` and
``max_num_buffers``, TRY_FMT results. Where the emulated device deliberately reports less than the
kernel (V4L2_BUF_CAP_SUPPORTS_REMOVE_BUFS: VIDIOC_REMOVE_BUFS is not implemented;
V4L2_BUF_CAP_SUPPORTS_USERPTR on vicodec: USERPTR memory is not implemented) the test masks
exactly those bits and checks that the corresponding request fails.
"""

from __future__ import annotations

import ctypes
import errno

import pytest
from conftest import CAP, OUT, Dev, err

from pyv4l2req.emulated import EmulatedBackend
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import videodev2 as v

REMOVE_BUFS = 1 << 8          # V4L2_BUF_CAP_SUPPORTS_REMOVE_BUFS (Linux >= 6.10)
MAX_NUM_BUFFERS = 1 << 7      # V4L2_BUF_CAP_SUPPORTS_MAX_NUM_BUFFERS (Linux >= 6.8)
NOT_EMULATED = REMOVE_BUFS | v.V4L2_BUF_CAP_SUPPORTS_USERPTR
FWHT = v.V4L2_PIX_FMT_FWHT_STATELESS
H264 = v.V4L2_PIX_FMT_H264_SLICE


@pytest.fixture
def real_backend():
    """The emulated device with its real codec models (visl-like H.264, vicodec-like FWHT)."""
    return EmulatedBackend()


def _try(d: Dev, t: int, fourcc: int, w: int, h: int, sizeimage: int | None = None):
    f = v.v4l2_format()
    f.type = t
    d.ioctl(v.VIDIOC_G_FMT, f)
    p = f.fmt.pix_mp
    p.pixelformat, p.width, p.height = fourcc, w, h
    if sizeimage is not None:
        p.plane_fmt[0].sizeimage = sizeimage
    d.ioctl(v.VIDIOC_TRY_FMT, f)
    return p.width, p.height, p.plane_fmt[0].sizeimage, p.plane_fmt[0].bytesperline


def _caps(d: Dev, t: int) -> tuple[int, int, int]:
    """(REQBUFS capabilities, CREATE_BUFS capabilities, CREATE_BUFS max_num_buffers), count 0."""
    r = v.v4l2_requestbuffers(type=t, memory=v.V4L2_MEMORY_MMAP, count=0)
    d.ioctl(v.VIDIOC_REQBUFS, r)
    c = v.v4l2_create_buffers(memory=v.V4L2_MEMORY_MMAP, count=0)
    c.format.type = t
    d.ioctl(v.VIDIOC_G_FMT, c.format)
    d.ioctl(v.VIDIOC_CREATE_BUFS, c)
    return r.capabilities, c.capabilities, c.reserved[0]


@pytest.mark.parametrize("index", [0, 1], ids=["h264", "fwht"])
def test_querycap_device_caps(real_backend, index):
    d = Dev(real_backend, index)
    try:
        cap = v.v4l2_capability()
        d.ioctl(v.VIDIOC_QUERYCAP, cap)
        assert cap.device_caps == 0x4204000          # visl; vicodec multiplanar has the same
        assert cap.capabilities == 0x84204000
    finally:
        d.close()


def test_visl_buffer_caps_and_userptr(real_backend):
    d = Dev(real_backend, 0)
    try:
        assert _caps(d, OUT) == (0x13D & ~NOT_EMULATED, 0x1BD & ~NOT_EMULATED, 32)
        assert _caps(d, CAP) == (0x115 & ~NOT_EMULATED, 0x195 & ~NOT_EMULATED, 32)
        for t in (OUT, CAP):
            r = v.v4l2_requestbuffers(type=t, memory=v.V4L2_MEMORY_USERPTR, count=1)
            assert err(d.ioctl, v.VIDIOC_REQBUFS, r) == errno.EINVAL   # visl: no USERPTR either
    finally:
        d.close()


def test_vicodec_buffer_caps_and_capture_limit(real_backend):
    d = Dev(real_backend, 1)
    try:
        assert _caps(d, OUT) == (0x11F & ~NOT_EMULATED, 0x19F & ~NOT_EMULATED, 32)
        assert _caps(d, CAP) == (0x117 & ~NOT_EMULATED, 0x197 & ~NOT_EMULATED, 64)
        assert d.reqbufs(OUT, 100).count == 32
        assert d.reqbufs(CAP, 100).count == 64                      # vicodec's CAPTURE max_num_buffers
        c = v.v4l2_create_buffers(memory=v.V4L2_MEMORY_MMAP, count=1)
        c.format.type = CAP
        d.ioctl(v.VIDIOC_G_FMT, c.format)
        assert err(d.ioctl, v.VIDIOC_CREATE_BUFS, c) == errno.ENOBUFS
        # USERPTR is not advertised and refused (vicodec would accept it)
        r = v.v4l2_requestbuffers(type=OUT, memory=v.V4L2_MEMORY_USERPTR, count=0)
        assert err(d.ioctl, v.VIDIOC_REQBUFS, r) == errno.EINVAL
    finally:
        d.close()


def test_visl_formats(real_backend):
    d = Dev(real_backend, 0)
    try:
        # the initial coded size is visl's (640x360, sizeimage w * h * 8); CAPTURE derived from it
        o = d.fmt(OUT, req=v.VIDIOC_G_FMT).fmt.pix_mp
        assert (o.width, o.height, o.plane_fmt[0].sizeimage) == (640, 360, 1843200)
        c = d.fmt(CAP, req=v.VIDIOC_G_FMT).fmt.pix_mp
        assert (c.pixelformat, c.width, c.height, c.plane_fmt[0].sizeimage) == (v.V4L2_PIX_FMT_NV12, 640, 360, 345600)
        assert _try(d, OUT, H264, 640, 360, 0) == (640, 360, 691200, 0)     # max(256 KiB, w * h * 3)
        assert _try(d, OUT, H264, 640, 360, 5) == (640, 360, 5, 0)          # a non-zero size is kept
        d.fmt(OUT, H264, 640, 360)
        # the CAPTURE size is clamped to the coded format's frmsize (64..4096 for H.264), not the
        # OUTPUT size: visl gives 640x360 only while its default coded format (FWHT) is set
        assert _try(d, CAP, v.V4L2_PIX_FMT_NV12, 100, 70) == (100, 70, 10500, 100)
    finally:
        d.close()


def test_vicodec_formats(real_backend):
    d = Dev(real_backend, 1)
    try:
        for size in (0, 5, 5_000_000):   # the asked sizeimage is ignored: w * h * 4
            assert _try(d, OUT, FWHT, 640, 368, size) == (640, 368, 942080, 0)
        assert _try(d, OUT, FWHT, 1280, 720, 0) == (1280, 720, 3686400, 0)
        assert _try(d, OUT, FWHT, 641, 361, 0) == (648, 368, 953856, 0)
        # CAPTURE: clamped, then rounded up to 8 * the chroma subsampling (16 for 4:2:0)
        assert _try(d, CAP, v.V4L2_PIX_FMT_YUV420, 100, 70) == (640, 368, 353280, 640)
        assert _try(d, CAP, v.V4L2_PIX_FMT_YUV420, 1000, 500) == (1008, 512, 774144, 1008)
        c = d.fmt(CAP, req=v.VIDIOC_G_FMT).fmt.pix_mp
        assert (c.width, c.height, c.plane_fmt[0].sizeimage) == (1280, 720, 1382400)
    finally:
        d.close()


def test_vicodec_gop_control_name(real_backend):
    d = Dev(real_backend, 1)
    try:
        q = v.v4l2_query_ext_ctrl(id=C.V4L2_CID_CODEC_BASE + 203)   # 0x9909cb, V4L2_CID_MPEG_VIDEO_GOP_SIZE
        d.ioctl(v.VIDIOC_QUERY_EXT_CTRL, q)
        assert q.name == b"Video GOP Size"
    finally:
        d.close()


def test_output_buffer_smaller_than_format_is_refused(real_backend):
    """visl_buf_prepare checks OUTPUT buffers too: S_FMT(OUTPUT) is allowed with OUTPUT buffers
    allocated (only CAPTURE buffers make it EBUSY), QBUF of the now too small buffer is EINVAL."""
    d = Dev(real_backend, 0)
    try:
        f = v.v4l2_format(type=OUT)
        d.ioctl(v.VIDIOC_G_FMT, f)
        p = f.fmt.pix_mp
        p.pixelformat, p.width, p.height, p.plane_fmt[0].sizeimage = H264, 64, 64, 100_000
        d.ioctl(v.VIDIOC_S_FMT, f)
        d.reqbufs(OUT, 1)
        p.plane_fmt[0].sizeimage = 200_000
        d.ioctl(v.VIDIOC_S_FMT, f)
        b = d.buf(OUT, 0)
        b.m.planes[0].bytesused = 10
        assert err(d.ioctl, v.VIDIOC_QBUF, b) == errno.EINVAL
        assert not d.querybuf(OUT, 0).flags & v.V4L2_BUF_FLAG_QUEUED
        p.plane_fmt[0].sizeimage = 100_000
        d.ioctl(v.VIDIOC_S_FMT, f)
        b = d.buf(OUT, 0)
        b.m.planes[0].bytesused = 10
        d.ioctl(v.VIDIOC_QBUF, b)
        assert d.querybuf(OUT, 0).flags & v.V4L2_BUF_FLAG_QUEUED
    finally:
        d.close()


def test_vicodec_single_planar_variant():
    """EmulatedBackend(single_planar=True): the FWHT decoder as vicodec without multiplanar=1."""
    b = EmulatedBackend(single_planar=True)
    d = Dev(b, 1)
    try:
        cap = v.v4l2_capability()
        d.ioctl(v.VIDIOC_QUERYCAP, cap)
        assert cap.device_caps == 0x4208000          # measured on vicodec: VIDEO_M2M, not _MPLANE
        sout, scap = v.V4L2_BUF_TYPE_VIDEO_OUTPUT, v.V4L2_BUF_TYPE_VIDEO_CAPTURE
        assert err(d.ioctl, v.VIDIOC_G_FMT, v.v4l2_format(type=OUT)) == errno.EINVAL
        f = v.v4l2_format(type=sout)
        d.ioctl(v.VIDIOC_G_FMT, f)
        f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.sizeimage = 641, 361, 0
        d.ioctl(v.VIDIOC_S_FMT, f)
        assert (f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.sizeimage) == (648, 368, 953856)
        assert f.fmt.pix.priv == 0xFEEDCAFE           # V4L2_PIX_FMT_PRIV_MAGIC from the V4L2 core
        g = v.v4l2_format(type=scap)
        d.ioctl(v.VIDIOC_G_FMT, g)
        assert (g.fmt.pix.width, g.fmt.pix.bytesperline, g.fmt.pix.sizeimage) == (1280, 1280, 1382400)
        for t, n in ((sout, 2), (scap, 2)):
            assert d.ioctl(v.VIDIOC_REQBUFS, v.v4l2_requestbuffers(type=t, memory=v.V4L2_MEMORY_MMAP, count=n)) == 0
        qb = v.v4l2_buffer(type=scap, memory=v.V4L2_MEMORY_MMAP, index=1)
        d.ioctl(v.VIDIOC_QUERYBUF, qb)
        assert (qb.length, qb.m.offset) == (1382400, 0x40008000)   # as vicodec's querybuf1_cap
        mp = b.mmap(d.fd, qb.length, qb.m.offset)
        mp.close()
        d.ioctl(v.VIDIOC_STREAMON, ctypes.c_int(scap))
        d.ioctl(v.VIDIOC_QBUF, qb)
        assert qb.flags & v.V4L2_BUF_FLAG_QUEUED and qb.bytesused == 1382400
        ob = v.v4l2_buffer(type=sout, memory=v.V4L2_MEMORY_MMAP, index=0, bytesused=10)
        assert err(d.ioctl, v.VIDIOC_QBUF, ob) == errno.EBADR     # vicodec: requests required
    finally:
        d.close()
