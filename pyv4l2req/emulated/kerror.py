"""The emulated kernel's internal error: an errno plus what went wrong.

Device code raises :class:`KernelError`; the backend's ioctl entry point turns it into
:class:`pyv4l2req.errors.V4L2Error` carrying the ioctl's C name (like ``-EINVAL`` returned
by a kernel handler becomes ``errno`` in userspace).
"""

from __future__ import annotations

import errno as _errno

__all__ = ["KernelError", "EINVAL", "EBUSY", "ENOENT", "EBADR", "EACCES", "EAGAIN", "ENOTTY"]

EINVAL = _errno.EINVAL
EBUSY = _errno.EBUSY
ENOENT = _errno.ENOENT
EBADR = _errno.EBADR
EACCES = _errno.EACCES
EAGAIN = _errno.EAGAIN
ENOTTY = _errno.ENOTTY


class KernelError(Exception):
    """An ioctl handler's negative return value, with a description for the message."""

    def __init__(self, err: int, detail: str = "") -> None:
        super().__init__(detail)
        self.errno = err
        self.detail = detail
