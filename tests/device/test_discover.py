"""Discovery through the media topology: the right devices, codecs, planarity; NoDeviceError."""

from __future__ import annotations

import os

import pytest

from pyv4l2req.errors import NoDeviceError
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import VideoDevice, discover, find_decoder
from pyv4l2req.v4l2.discover import STATELESS_CODECS

ALL_VISL = {"h264", "hevc", "vp8", "vp9", "mpeg2", "fwht", "av1"}


def sysfs_name(video_path: str) -> str:
    with open(f"/sys/class/video4linux/{os.path.basename(video_path)}/name") as f:
        return f.read().strip()


def test_h264_decoder_found(h264_device, backend_kind):
    backend, info = h264_device
    assert "h264" in info.codecs
    assert v.V4L2_PIX_FMT_H264_SLICE in info.output_formats
    assert info.codecs == [STATELESS_CODECS[f] for f in info.output_formats if f in STATELESS_CODECS]
    assert info.multiplanar  # visl is multiplanar
    assert info.supports_hold
    with VideoDevice(backend, info.video_path) as dev:
        assert dev.supports_requests and dev.is_m2m
        assert dev.driver == info.driver
    if backend_kind == "kernel":
        assert info.driver == "visl"
        assert set(info.codecs) == ALL_VISL
        assert sysfs_name(info.video_path) == "visl"  # found via topology, not by number


def test_fwht_decoder_found(fwht_device, backend_kind):
    backend, info = fwht_device
    assert "fwht" in info.codecs
    if backend_kind == "kernel":
        assert info.driver == "vicodec"
        assert info.codecs == ["fwht"]
        with open("/proc/cmdline") as f:
            mp = "vicodec.multiplanar=1" in f.read().split()
        assert info.multiplanar == mp  # vicodec is single-planar without vicodec.multiplanar=1
        assert sysfs_name(info.video_path) == "stateless-decoder"


@pytest.mark.vm
def test_kernel_discovery_skips_non_stateless():
    """vicodec's stateful decoder/encoder and vim2m are not listed (no stateless OUTPUT format)."""
    if os.environ.get("PYV4L2REQ_IN_VM") != "1":
        pytest.skip("runs inside the test VM")
    from pyv4l2req.kernel.backend import OSBackend

    names = sorted(sysfs_name(i.video_path) for i in discover(OSBackend()))
    assert names == ["stateless-decoder", "visl"]
    assert discover() == discover(OSBackend())  # backend=None means the running kernel


def test_find_decoder(h264_device):
    backend, info = h264_device
    assert find_decoder("h264", backend) == info
    assert find_decoder("h264", backend, video_path=info.video_path) == info
    with pytest.raises(NoDeviceError, match="unknown codec 'foo'"):
        find_decoder("foo", backend)
    with pytest.raises(NoDeviceError, match="/dev/nonexistent0 is not a stateless decoder"):
        find_decoder("h264", backend, video_path="/dev/nonexistent0")
