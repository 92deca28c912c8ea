"""vicodec's stateless decoder with ``vicodec.multiplanar=1``: found multiplanar, MPLANE queues work."""

from __future__ import annotations

import os

import pytest

from pyv4l2req.kernel.backend import OSBackend
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import Queue, VideoDevice, find_decoder

IN_VM = os.environ.get("PYV4L2REQ_IN_VM") == "1"


@pytest.mark.vm(cmdline="vicodec.multiplanar=1")
def test_vicodec_multiplanar(fds):
    if not IN_VM:
        pytest.skip("runs inside the test VM booted with vicodec.multiplanar=1")
    be = OSBackend()
    info = find_decoder("fwht", be)
    assert info.driver == "vicodec" and info.multiplanar
    before = fds()
    with VideoDevice(be, info.video_path) as dev:
        assert dev.output_type == v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
        assert dev.capture_type == v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
        for w, h in [(640, 368), (1280, 720), (640, 368)]:
            dev.s_fmt(dev.output_type, v.V4L2_PIX_FMT_FWHT_STATELESS, w, h)
            cap = dev.s_fmt(dev.capture_type, v.V4L2_PIX_FMT_YUV420, w, h)
            assert (cap.width, cap.height, cap.num_planes) == (w, h, 1)
            out_q, cap_q = Queue(dev, dev.output_type), Queue(dev, dev.capture_type)
            out_q.setup(2)
            cap_q.setup(2)
            assert cap_q.multiplanar and cap_q.buffers[1].length >= w * h * 3 // 2
            out_q.streamon()
            cap_q.streamon()
            fd = cap_q.export(1)
            assert os.fstat(fd).st_size >= w * h * 3 // 2
            os.close(fd)
            out_q.free()
            cap_q.free()
    assert fds() == before
