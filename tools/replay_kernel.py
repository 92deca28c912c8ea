"""A kernel stand-in for the benchmark: the emulated device's answers to the per-picture
ioctls, recorded in one decode and replayed in the next.

Why: the benchmark's userspace cost U excludes the time spent *inside* the emulated device,
but not what that time does to the CPU caches. The emulated device is Python: per picture it
runs ~150-200 µs of interpreter work (control validation, buffer and request state machines)
over megabytes of objects between two of our steps, where a real kernel does the same ioctls
in a few µs of C. Replaying recorded answers costs about as little as a kernel, so U measured
with the replay is free of the emulator's cache footprint (measured: it is ~8 µs of U's ~127
per picture, docs/benchmark.md).

How: :class:`RecordingBackend` wraps a live backend and, for the per-picture calls
(``QBUF``, ``DQBUF``, ``S_EXT_CTRLS`` on a request, ``MEDIA_REQUEST_IOC_QUEUE``/``REINIT`` and
every ``poll``), writes down what the kernel changed in the ioctl's struct (the changed byte
spans, so pointers in the struct stay the caller's) and what it returned or raised.
:class:`ReplayBackend` wraps a *fresh* live backend: every other call (open, formats, buffers,
mmap, streaming, close) still goes to it, the per-picture calls are answered from the tape in
order, and a call that is not the one recorded next raises :class:`ReplayDiverged`. The same
code on the same stream makes the same calls, so the replay is exact; the benchmark checks
that both runs output the same frames.

Memory behind pointers in the structs (the plane array of a multi-planar ``v4l2_buffer``, the
control payloads of ``S_EXT_CTRLS``) is not replayed: the per-picture path reads neither.
"""

from __future__ import annotations

import ctypes
from typing import Any, Sequence

from pyv4l2req.errors import V4L2Error
from pyv4l2req.uapi import media as m
from pyv4l2req.uapi import videodev2 as v

__all__ = ["RecordingBackend", "ReplayBackend", "ReplayDiverged", "is_per_picture"]

_ALWAYS = frozenset((v.VIDIOC_QBUF, v.VIDIOC_DQBUF, m.MEDIA_REQUEST_IOC_QUEUE, m.MEDIA_REQUEST_IOC_REINIT))


class ReplayDiverged(RuntimeError):
    """The replayed decode made a call other than the one recorded next."""


def is_per_picture(request: int, arg: Any) -> bool:
    """The calls of the per-picture path (the configuration's S_EXT_CTRLS, without a request,
    stay live)."""
    if request in _ALWAYS:
        return True
    return request == v.VIDIOC_S_EXT_CTRLS and getattr(arg, "which", None) == v.V4L2_CTRL_WHICH_REQUEST_VAL


def _image(arg: Any) -> bytes:
    return b"" if arg is None else ctypes.string_at(ctypes.addressof(arg), ctypes.sizeof(arg))


def _changed_spans(before: bytes, after: bytes) -> tuple[tuple[int, bytes], ...]:
    """The byte spans where *after* differs from *before* (spans closer than 8 bytes merged)."""
    spans: list[list[int]] = []
    for i, (a, b) in enumerate(zip(before, after)):
        if a != b:
            if spans and i - spans[-1][1] < 8:
                spans[-1][1] = i + 1
            else:
                spans.append([i, i + 1])
    return tuple((s, after[s:e]) for s, e in spans)


class _Wrapper:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:  # open, close, mmap, device nodes, stats, ...
        return getattr(self.inner, name)


class RecordingBackend(_Wrapper):
    """A live backend whose per-picture calls are recorded in :attr:`tape`."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.tape: list[tuple] = []

    def ioctl(self, fd: int, request: int, arg: Any = None) -> int:
        if not is_per_picture(request, arg):
            return self.inner.ioctl(fd, request, arg)
        before = _image(arg)
        try:
            result = self.inner.ioctl(fd, request, arg)
        except V4L2Error as e:
            self.tape.append((request, _changed_spans(before, _image(arg)), (e.errno, e.op, e.detail)))
            raise
        self.tape.append((request, _changed_spans(before, _image(arg)), result))
        return result

    def poll(self, fds: Sequence[tuple[int, int]], timeout_ms: int | None) -> list[tuple[int, int]]:
        ready = self.inner.poll(fds, timeout_ms)
        self.tape.append(("poll", (), list(ready)))
        return ready


class ReplayBackend(_Wrapper):
    """A fresh live backend for everything but the per-picture calls, which are answered from
    a :class:`RecordingBackend`'s tape."""

    def __init__(self, inner: Any, tape: list[tuple]) -> None:
        super().__init__(inner)
        self._tape = tape
        self._next = 0

    @property
    def replayed(self) -> int:
        """Calls answered from the tape so far."""
        return self._next

    def _take(self, what: object) -> tuple:
        i = self._next
        if i >= len(self._tape) or self._tape[i][0] != what:
            recorded = self._tape[i][0] if i < len(self._tape) else "the end of the tape"
            raise ReplayDiverged(f"call {i}: {what!r} made, {recorded!r} recorded")
        self._next = i + 1
        return self._tape[i]

    def ioctl(self, fd: int, request: int, arg: Any = None) -> int:
        if not is_per_picture(request, arg):
            return self.inner.ioctl(fd, request, arg)
        _, spans, result = self._take(request)
        if spans:
            base = ctypes.addressof(arg)
            for offset, data in spans:
                ctypes.memmove(base + offset, data, len(data))
        if type(result) is tuple:
            raise V4L2Error(*result)
        return result

    def poll(self, fds: Sequence[tuple[int, int]], timeout_ms: int | None) -> list[tuple[int, int]]:
        return list(self._take("poll")[2])
