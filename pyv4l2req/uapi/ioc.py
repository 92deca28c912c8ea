"""The kernel's ioctl request-number encoding (asm-generic/ioctl.h, x86-64 and arm64)."""

from __future__ import annotations

import ctypes

_IOC_NRBITS = 8
_IOC_TYPEBITS = 8
_IOC_SIZEBITS = 14
_IOC_NRSHIFT = 0
_IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS
_IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS
_IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS

_IOC_NONE = 0
_IOC_WRITE = 1
_IOC_READ = 2


def _IOC(direction: int, type_: str, nr: int, size: int) -> int:
    return (
        (direction << _IOC_DIRSHIFT)
        | (ord(type_) << _IOC_TYPESHIFT)
        | (nr << _IOC_NRSHIFT)
        | (size << _IOC_SIZESHIFT)
    )


def _size(t: type | int) -> int:
    return t if isinstance(t, int) else ctypes.sizeof(t)


def _IO(type_: str, nr: int) -> int:
    return _IOC(_IOC_NONE, type_, nr, 0)


def _IOR(type_: str, nr: int, t: type | int) -> int:
    return _IOC(_IOC_READ, type_, nr, _size(t))


def _IOW(type_: str, nr: int, t: type | int) -> int:
    return _IOC(_IOC_WRITE, type_, nr, _size(t))


def _IOWR(type_: str, nr: int, t: type | int) -> int:
    return _IOC(_IOC_READ | _IOC_WRITE, type_, nr, _size(t))


def ioc_size(request: int) -> int:
    """The argument size encoded in an ioctl request number."""
    return (request >> _IOC_SIZESHIFT) & ((1 << _IOC_SIZEBITS) - 1)


def ioc_nr(request: int) -> int:
    return (request >> _IOC_NRSHIFT) & 0xFF


def v4l2_fourcc(a: str, b: str, c: str, d: str) -> int:
    return ord(a) | (ord(b) << 8) | (ord(c) << 16) | (ord(d) << 24)


def fourcc_str(code: int) -> str:
    """'S264' for V4L2_PIX_FMT_H264_SLICE (big-endian flag shown as '-BE')."""
    s = "".join(chr((code >> (8 * i)) & 0x7F) for i in range(4))
    return s + ("-BE" if code & (1 << 31) else "")
