"""discover()/find_decoder() on a machine without stateless decoders: [] and a clear NoDeviceError."""

from __future__ import annotations

import errno

import pytest

from pyv4l2req.errors import NoDeviceError, V4L2Error
from pyv4l2req.v4l2 import discover, find_decoder


class NoDevices:
    """A backend whose media nodes exist but cannot be opened (and no others)."""

    name = "none"

    def __init__(self, media=()):
        self.media = list(media)
        self.opened: list[str] = []

    def device_nodes(self, kind):
        return self.media if kind == "media" else []

    def open(self, path, flags=0):
        self.opened.append(path)
        raise V4L2Error(errno.EACCES, "open", path)


def test_no_media_device():
    be = NoDevices()
    assert discover(be) == []
    with pytest.raises(NoDeviceError, match=r"no stateless h264 decoder found .*stateless decoders found: none"):
        find_decoder("h264", be)


def test_unopenable_media_device_is_skipped():
    be = NoDevices(["/dev/media0"])
    assert discover(be) == []
    assert be.opened == ["/dev/media0"]
    with pytest.raises(NoDeviceError, match="no stateless av1 decoder"):
        find_decoder("av1", be)
    with pytest.raises(NoDeviceError, match="/dev/video9 is not a stateless decoder"):
        find_decoder("h264", be, video_path="/dev/video9")
