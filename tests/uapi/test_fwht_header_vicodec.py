"""``fwht_cframe_hdr`` against the real vicodec: the header its stateful encoder writes (VM).

One YUV 4:2:0 frame goes through vicodec's ``stateful-encoder`` with raw ioctls on the Backend;
the compressed frame must start with a header that ``pyv4l2req.uapi.fwht.unpack`` reads as:
the magic words, ``V4L2_FWHT_VERSION``, the frame size, an I frame with 3 components in YUV,
the CAPTURE format's colorimetry, and ``size`` = the compressed bytes after the header.
"""

from __future__ import annotations

import ctypes
import os

import pytest

from pyv4l2req.uapi import fwht
from pyv4l2req.uapi import videodev2 as v

IN_VM = os.environ.get("PYV4L2REQ_IN_VM") == "1"
W, H = 640, 368


def _node(name: str) -> str:
    base = "/sys/class/video4linux"
    for entry in sorted(os.listdir(base)):
        with open(f"{base}/{entry}/name") as f:
            if f.read().strip() == name:
                return f"/dev/{entry}"
    raise AssertionError(f"no video node named {name!r}")


@pytest.mark.vm
def test_vicodec_stateful_encoder_header() -> None:
    if not IN_VM:
        pytest.skip("runs inside the test-kernel VM (PYV4L2REQ_IN_VM=1)")
    from pyv4l2req.kernel.backend import POLLIN, OSBackend

    b = OSBackend()
    fd = b.open(_node("stateful-encoder"))
    maps = []
    try:
        cap = v.v4l2_capability()
        b.ioctl(fd, v.VIDIOC_QUERYCAP, cap)
        assert cap.device_caps & v.V4L2_CAP_VIDEO_M2M, "default vicodec is single-planar"
        OUT, CAP = v.V4L2_BUF_TYPE_VIDEO_OUTPUT, v.V4L2_BUF_TYPE_VIDEO_CAPTURE
        for t, fourcc in ((OUT, v.V4L2_PIX_FMT_YUV420), (CAP, v.V4L2_PIX_FMT_FWHT)):
            f = v.v4l2_format()
            f.type = t
            f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.pixelformat = W, H, fourcc
            b.ioctl(fd, v.VIDIOC_S_FMT, f)
        capfmt = v.v4l2_format()
        capfmt.type = CAP
        b.ioctl(fd, v.VIDIOC_G_FMT, capfmt)
        bufs = {}
        for t in (OUT, CAP):
            rb = v.v4l2_requestbuffers()
            rb.count, rb.type, rb.memory = 1, t, v.V4L2_MEMORY_MMAP
            b.ioctl(fd, v.VIDIOC_REQBUFS, rb)
            qb = v.v4l2_buffer()
            qb.index, qb.type, qb.memory = 0, t, v.V4L2_MEMORY_MMAP
            b.ioctl(fd, v.VIDIOC_QUERYBUF, qb)
            m = b.mmap(fd, qb.length, qb.m.offset)
            maps.append(m)
            bufs[t] = (m, qb.length)
        m_out, n_out = bufs[OUT]
        frame = bytes((x * 7 + y) & 0xFF for y in range(H * 3 // 2) for x in range(0, W, 64)) * 64
        memoryview(m_out)[: W * H * 3 // 2] = frame[: W * H * 3 // 2]
        for t, used in ((OUT, W * H * 3 // 2), (CAP, 0)):
            qb = v.v4l2_buffer()
            qb.index, qb.type, qb.memory, qb.bytesused = 0, t, v.V4L2_MEMORY_MMAP, used
            b.ioctl(fd, v.VIDIOC_QBUF, qb)
        for t in (OUT, CAP):
            b.ioctl(fd, v.VIDIOC_STREAMON, ctypes.c_int(t))
        assert b.poll([(fd, POLLIN)], 10_000), "vicodec produced no compressed frame"
        dq = v.v4l2_buffer()
        dq.type, dq.memory = CAP, v.V4L2_MEMORY_MMAP
        b.ioctl(fd, v.VIDIOC_DQBUF, dq)
        data = bytes(memoryview(bufs[CAP][0])[: dq.bytesused])
        for t in (OUT, CAP):
            b.ioctl(fd, v.VIDIOC_STREAMOFF, ctypes.c_int(t))
    finally:
        for m in maps:
            m.close()
        b.close(fd)

    hdr = fwht.unpack(fwht.fwht_cframe_hdr, data[: fwht.FWHT_CFRAME_HDR_SIZE])
    assert data[:8] == b"OOOO\xff\xff\xff\xff"
    assert (hdr["magic1"], hdr["magic2"]) == (fwht.FWHT_MAGIC1, fwht.FWHT_MAGIC2)
    assert hdr["version"] == fwht.V4L2_FWHT_VERSION
    assert (hdr["width"], hdr["height"]) == (W, H)
    assert hdr["flags"] & fwht.V4L2_FWHT_FL_I_FRAME
    assert (hdr["flags"] & fwht.V4L2_FWHT_FL_COMPONENTS_NUM_MSK) >> fwht.V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET == 2
    assert hdr["flags"] & fwht.V4L2_FWHT_FL_PIXENC_MSK == fwht.V4L2_FWHT_FL_PIXENC_YUV
    assert not hdr["flags"] & (fwht.V4L2_FWHT_FL_CHROMA_FULL_WIDTH | fwht.V4L2_FWHT_FL_CHROMA_FULL_HEIGHT)
    pix = capfmt.fmt.pix
    assert (hdr["colorspace"], hdr["xfer_func"], hdr["ycbcr_enc"], hdr["quantization"]) == (
        pix.colorspace, pix.xfer_func, pix.ycbcr_enc, pix.quantization)
    assert hdr["size"] == len(data) - fwht.FWHT_CFRAME_HDR_SIZE
    # and it round-trips through pack
    assert fwht.pack(fwht.fwht_cframe_hdr, hdr) == data[: fwht.FWHT_CFRAME_HDR_SIZE]
