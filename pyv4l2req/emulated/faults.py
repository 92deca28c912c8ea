"""Fault injection and accounting of the emulated device.

:class:`FaultPlan` (``EmulatedBackend.faults``) makes chosen ioctls fail with a chosen errno,
marks chosen decoded CAPTURE buffers ``V4L2_BUF_FLAG_ERROR`` and stalls chosen requests (they
never complete: poll times out), as in docs/internals.md §2. Counts start when the fault is
armed ("the 3rd call from now"). :class:`Stats` counts ioctls per name and the wall time spent
in the codec model's ``decode`` (``pixel_seconds``; the benchmark subtracts it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["FaultPlan", "Stats"]


@dataclass
class _Fail:
    name: str
    errno: int
    nth: int          # 1-based index of the first failing call, counted from arming
    times: int        # how many consecutive calls fail from the nth on
    seen: int = 0     # calls of this ioctl seen since arming


@dataclass
class Stats:
    """Accounting of an :class:`EmulatedBackend`."""

    ioctls: Counter = field(default_factory=Counter)   # ioctl name -> calls (failed ones too)
    pixel_seconds: float = 0.0                          # wall time inside CodecModel.decode
    decoded: int = 0                                    # m2m jobs run
    errors: int = 0                                     # CAPTURE buffers returned with ERROR


class FaultPlan:
    """Faults armed on an emulated backend.

    ``fail(name, errno, nth=1, times=1)``: the nth call of ioctl *name* from now (and the
    ``times - 1`` following ones) fail with *errno* before touching any state. Names are the
    C names: ``"VIDIOC_QBUF"``, ``"MEDIA_REQUEST_IOC_QUEUE"``, ``"MEDIA_REQUEST_IOC_REINIT"``,
    ``"MEDIA_IOC_REQUEST_ALLOC"``, ...; ``"mmap"`` and ``"open"`` work too.
    ``error_flag(nth)``: the nth CAPTURE buffer completed from now gets V4L2_BUF_FLAG_ERROR.
    ``stall(nth)``: the nth request queued from now is accepted but never runs.
    """

    def __init__(self) -> None:
        self._fails: list[_Fail] = []
        self._error_flags: set[int] = set()
        self._stalls: set[int] = set()
        self._completed = 0
        self._queued = 0

    # --- arming ---------------------------------------------------------------------------
    def fail(self, ioctl_name: str, errno: int, nth: int = 1, times: int = 1) -> None:
        """Make the *nth* call of *ioctl_name* from now (and *times*-1 more) fail with *errno*."""
        if nth < 1 or times < 1:
            raise ValueError("nth and times count from 1")
        self._fails.append(_Fail(ioctl_name, errno, nth, times))

    def error_flag(self, nth: int = 1) -> None:
        """The *nth* CAPTURE buffer completed from now is returned with V4L2_BUF_FLAG_ERROR."""
        if nth < 1:
            raise ValueError("nth counts from 1")
        self._error_flags.add(self._completed + nth)

    def stall(self, nth: int = 1) -> None:
        """The *nth* request queued from now never completes (until STREAMOFF cancels it)."""
        if nth < 1:
            raise ValueError("nth counts from 1")
        self._stalls.add(self._queued + nth)

    def clear(self) -> None:
        """Disarm every fault."""
        self._fails.clear()
        self._error_flags.clear()
        self._stalls.clear()

    # --- used by the device -----------------------------------------------------------------
    def check(self, name: str) -> int:
        """Called before each ioctl: an errno to fail with, or 0."""
        err = 0
        for f in self._fails:
            if f.name != name:
                continue
            f.seen += 1
            if not err and f.nth <= f.seen < f.nth + f.times:
                err = f.errno
        # drop the faults of this ioctl whose last failing call has happened
        self._fails = [f for f in self._fails if f.name != name or f.seen < f.nth + f.times - 1]
        return err

    def on_capture_done(self) -> bool:
        """Called for each completed CAPTURE buffer: True when it must carry ERROR."""
        self._completed += 1
        if self._completed in self._error_flags:
            self._error_flags.discard(self._completed)
            return True
        return False

    def on_request_queued(self) -> bool:
        """Called for each successfully queued request: True when it must stall."""
        self._queued += 1
        if self._queued in self._stalls:
            self._stalls.discard(self._queued)
            return True
        return False
