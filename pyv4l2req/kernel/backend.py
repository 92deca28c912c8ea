"""Kernel I/O: the one seam between pyv4l2req and a kernel.

Everything above this layer (V4L2 objects, pipeline, front ends) performs open/close/ioctl/
mmap/poll and device-node lookups only through a :class:`Backend`. :class:`OSBackend` talks to
the running kernel; ``pyv4l2req.emulated`` provides a fake kernel with the same protocol.

Conventions
-----------
- ``ioctl(fd, request, arg)``: *arg* is a ctypes object passed by reference (the kernel reads
  and writes it in place, and may follow pointers inside it) or ``None`` for ``_IO`` requests.
  Failure raises :class:`pyv4l2req.errors.V4L2Error` with the errno and the ioctl's name.
- ``mmap`` returns an object supporting the buffer protocol (``memoryview(m)`` works) with a
  ``close()`` method; it stays valid until closed, even after the fd is closed.
- File descriptors are real ints owned by the process (the emulated device uses real
  eventfd/memfd descriptors too), so leak checks can count ``/proc/self/fd``.
"""

from __future__ import annotations

import errno as _errno
import fcntl
import glob
import mmap as _mmap
import os
import select
from typing import Any, Protocol, Sequence, runtime_checkable

from ..errors import V4L2Error
from ..uapi import media as _media
from ..uapi import videodev2 as _v4l2

POLLIN = select.POLLIN
POLLOUT = select.POLLOUT
POLLPRI = select.POLLPRI
POLLERR = select.POLLERR
POLLHUP = select.POLLHUP

_ioctl = fcntl.ioctl

_IOCTL_NAMES: dict[int, str] = {**_v4l2.IOCTL_NAMES, **_media.IOCTL_NAMES}


def ioctl_name(request: int) -> str:
    """Name of a known ioctl request number (``"VIDIOC_QBUF"``), else its hex value."""
    return _IOCTL_NAMES.get(request, f"ioctl 0x{request:08x}")


@runtime_checkable
class Mapping(Protocol):
    """A mapped buffer plane: supports ``memoryview(m)``, ``len(m)`` and ``close()``."""

    def close(self) -> None: ...

    def __len__(self) -> int: ...


@runtime_checkable
class Backend(Protocol):
    """What pyv4l2req needs from a kernel."""

    #: short description for messages ("os", "emulated")
    name: str

    def open(self, path: str, flags: int = os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC) -> int:
        """Open a device node; raises V4L2Error (ENOENT, EACCES, ...)."""
        ...

    def close(self, fd: int) -> None: ...

    def ioctl(self, fd: int, request: int, arg: Any = None) -> int:
        """Issue an ioctl; *arg* is a ctypes object passed by reference (or None)."""
        ...

    def mmap(self, fd: int, length: int, offset: int) -> Mapping:
        """Map *length* bytes of a buffer at the driver-provided *offset*, read/write, shared."""
        ...

    def poll(self, fds: Sequence[tuple[int, int]], timeout_ms: int | None) -> list[tuple[int, int]]:
        """Like ``select.poll``: list of (fd, revents) that are ready; ``[]`` on timeout."""
        ...

    def device_nodes(self, kind: str) -> list[str]:
        """Device nodes of a kind: ``"media"`` -> ``["/dev/media0", ...]``, ``"video"``."""
        ...

    def devnode_path(self, major: int, minor: int) -> str | None:
        """Path of the character device (major, minor), e.g. from a media interface."""
        ...

    def device_number(self, path: str) -> tuple[int, int] | None:
        """(major, minor) of a character device node, or None."""
        ...


class OSBackend:
    """The running kernel: ``fcntl.ioctl`` on the ctypes struct itself (a mutable buffer).

    ``fcntl.ioctl(fd, request, arg, True)`` is the cheapest ioctl Python offers (cheaper than a
    ctypes call of libc's ``ioctl``; docs/benchmark.md): for a buffer of at most 1024 bytes (every
    V4L2 and media ioctl struct) it copies the struct to a C stack buffer, issues the ioctl
    with the GIL released and copies the struct back, after a failure too (``error_idx`` of
    ``v4l2_ext_controls`` is read after a failed ioctl). Pointers inside the struct
    (``m.planes``, ``controls``, the topology arrays) point to other ctypes objects: the
    kernel follows them as usual.
    """

    name = "os"

    def __init__(self) -> None:
        #: poll objects by fd set (a tuple), taken out while in use (see poll)
        self._polls: dict[tuple, select.poll] = {}

    def open(self, path: str, flags: int = os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC) -> int:
        try:
            return os.open(path, flags)
        except OSError as e:
            raise V4L2Error(e.errno or _errno.EIO, "open", path) from None

    def close(self, fd: int) -> None:
        os.close(fd)

    def ioctl(self, fd: int, request: int, arg: Any = None) -> int:
        while True:
            try:
                return _ioctl(fd, request, 0 if arg is None else arg, True)
            except InterruptedError:
                continue  # EINTR (the signal handlers have run): issue it again
            except OSError as e:
                raise V4L2Error(e.errno or _errno.EIO, ioctl_name(request)) from None

    def mmap(self, fd: int, length: int, offset: int) -> Mapping:
        try:
            return _mmap.mmap(
                fd, length, flags=_mmap.MAP_SHARED, prot=_mmap.PROT_READ | _mmap.PROT_WRITE, offset=offset
            )
        except OSError as e:
            raise V4L2Error(e.errno or _errno.EIO, "mmap", f"length {length} offset {offset:#x}") from None

    def poll(self, fds: Sequence[tuple[int, int]], timeout_ms: int | None) -> list[tuple[int, int]]:
        # A tuple of (fd, events) (a request's wait, every picture) reuses the poll object
        # made for it the last time (-40 %). It leaves the cache while in use: a poll object
        # polled by two threads at once raises RuntimeError.
        key = fds if type(fds) is tuple else None
        p = self._polls.pop(key, None) if key is not None else None
        if p is None:
            p = select.poll()
            for fd, events in fds:
                p.register(fd, events)
        try:
            return p.poll(timeout_ms)
        finally:
            if key is not None and len(self._polls) < 64:
                self._polls[key] = p

    def device_nodes(self, kind: str) -> list[str]:
        nodes = glob.glob(f"/dev/{kind}[0-9]*")
        return sorted(nodes, key=lambda p: int(p[len(f"/dev/{kind}") :] or 0))

    def devnode_path(self, major: int, minor: int) -> str | None:
        try:
            with open(f"/sys/dev/char/{major}:{minor}/uevent") as f:
                for line in f:
                    if line.startswith("DEVNAME="):
                        return "/dev/" + line.split("=", 1)[1].strip()
        except OSError:
            pass
        return None

    def device_number(self, path: str) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (os.major(st.st_rdev), os.minor(st.st_rdev))


def default_backend() -> OSBackend:
    return OSBackend()
