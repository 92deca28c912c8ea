"""Decoder options are validated with a message naming the valid values; the device is named
as the user can find it."""

from __future__ import annotations

import os

import pytest

import pyv4l2req


@pytest.mark.parametrize("kwargs,message", [
    ({"decode_mode": "bogus"}, "unknown decode mode 'bogus' (valid: auto, frame, slice)"),
    ({"start_code": "h264"}, "unknown start code mode 'h264' (valid: auto, annexb, none)"),
    ({"max_ready": 0}, "max_ready must be at least 1"),
])
def test_bad_options_are_value_errors_naming_the_valid_ones(kwargs, message):
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ValueError) as e:
        pyv4l2req.Decoder(device="emulated", **kwargs)
    assert message in str(e.value)
    assert len(os.listdir("/proc/self/fd")) == fds  # the device opened for it is closed again


def test_emulated_device_is_named_as_such():
    with pyv4l2req.Decoder(device="emulated") as dec:
        assert dec.device_name == "emulated (emulated-h264)"
        assert "/dev/" not in dec.device_name
