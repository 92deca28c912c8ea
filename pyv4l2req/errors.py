"""Exceptions shared by every layer (layer 0: imports nothing from the package)."""

from __future__ import annotations

import errno as _errno
import os


class PyV4L2ReqError(Exception):
    """Base class of every error raised by pyv4l2req."""


class V4L2Error(PyV4L2ReqError, OSError):
    """An ioctl (or open/mmap/poll) failed in the kernel or the emulated device.

    ``errno`` is the kernel's errno, ``op`` names the call (``"VIDIOC_QBUF"``, ...),
    ``detail`` says what was being done (which buffer, which control).
    """

    def __init__(self, err: int, op: str, detail: str = "") -> None:
        name = _errno.errorcode.get(err, str(err))
        msg = f"{op} failed: {name} ({os.strerror(err)})"
        if detail:
            msg += f": {detail}"
        OSError.__init__(self, err, msg)
        self.op = op
        self.detail = detail

    def __str__(self) -> str:  # OSError's default puts "[Errno n]" first; keep ours readable
        return self.strerror or super().__str__()


class ControlValidationError(PyV4L2ReqError, ValueError):
    """A control value the kernel would reject; names the control and field."""

    def __init__(self, control: str, field: str, message: str, err: int = _errno.EINVAL) -> None:
        super().__init__(f"{control}.{field}: {message}")
        self.control = control
        self.field = field
        self.errno = err


class BitstreamError(PyV4L2ReqError, ValueError):
    """The input bitstream is malformed (names the NAL unit / syntax element)."""


class UnsupportedStream(PyV4L2ReqError):
    """A valid stream that the V4L2 stateless uAPI or this library cannot decode."""


class NoDeviceError(PyV4L2ReqError):
    """No stateless decoder device for the requested codec."""


class RequestError(PyV4L2ReqError):
    """A media request failed or timed out."""


class DecodeError(PyV4L2ReqError):
    """Decoding failed in a way that stops the stream."""
