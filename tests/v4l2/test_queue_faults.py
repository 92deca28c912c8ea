"""Queue and VideoDevice error paths on the emulated device: nothing stays open or mapped."""

from __future__ import annotations

import errno
import os

import pytest

from pyv4l2req.errors import V4L2Error
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import Queue, VideoDevice, find_decoder

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def backend():
    try:
        from pyv4l2req.emulated import EmulatedBackend
    except ImportError as e:
        if IN_CI:
            raise
        pytest.skip(f"pyv4l2req.emulated not importable yet: {e}")
    return EmulatedBackend()


@pytest.mark.parametrize("name,nth", [("mmap", 2), ("VIDIOC_QUERYBUF", 3)])
def test_setup_failure_unmaps_and_frees(backend, name, nth):
    info = find_decoder("h264", backend)
    before = fds()
    with VideoDevice(backend, info.video_path) as dev:
        dev.s_fmt(dev.output_type, v.V4L2_PIX_FMT_H264_SLICE, 64, 64)
        q = Queue(dev, dev.output_type)
        opened = fds()
        backend.faults.fail(name, errno.ENOMEM, nth=nth)
        with pytest.raises(V4L2Error) as ei:
            q.setup(4)
        assert ei.value.errno == errno.ENOMEM
        assert q.buffers == [] and q._maps == []
        assert fds() == opened
        assert q.setup(4) == 4  # REQBUFS(0) was done: a fresh setup works
        q.free()
    assert fds() == before


def test_open_failure_of_video_device_closes_the_fd(backend):
    info = find_decoder("h264", backend)
    before = fds()
    backend.faults.fail("VIDIOC_QUERYCAP", errno.EIO, nth=1)
    with pytest.raises(V4L2Error):
        VideoDevice(backend, info.video_path)
    assert fds() == before
