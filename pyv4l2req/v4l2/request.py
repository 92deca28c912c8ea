"""Media requests (Request API) and a recycling pool of them.

:class:`Request` wraps one request fd from ``MEDIA_IOC_REQUEST_ALLOC``: ``queue()``
(``MEDIA_REQUEST_IOC_QUEUE``), ``wait(timeout_s)`` (one poll for ``POLLPRI``), ``reinit()``
(``MEDIA_REQUEST_IOC_REINIT``), ``close()``.

:class:`RequestPool` keeps a fixed set of slots, each owning one request fd:

- ``release(slot)``: the request is REINIT so the slot can be reused; if REINIT fails the fd is
  closed and a fresh request allocated; if that fails too the slot is dead and the pool's
  capacity shrinks by one (other slots are untouched).
- ``discard(slot)``: the slot's OUTPUT buffer is in an unknown state (its DQBUF failed, its
  request timed out, ...): the request fd is closed and the slot never reused (capacity - 1).

Every error path closes the fds it opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import RequestError, V4L2Error
from ..kernel.backend import POLLERR, POLLPRI, Backend
from ..uapi import media as m

if TYPE_CHECKING:  # pragma: no cover
    from .media import MediaDevice

__all__ = ["Request", "RequestPool", "Slot"]

_QUEUE, _REINIT = m.MEDIA_REQUEST_IOC_QUEUE, m.MEDIA_REQUEST_IOC_REINIT


class Request:
    """One media request (its fd belongs to this object until :meth:`close`)."""

    def __init__(self, backend: Backend, fd: int) -> None:
        self.backend = backend
        self.fd = fd
        self.closed = False
        self._pollfds = ((fd, POLLPRI),)  # the argument of every wait's poll
        # bound once: queue/wait/REINIT run for every request of a decode
        self._ioctl = backend.ioctl
        self._poll = backend.poll

    def _check(self, what: str) -> None:
        if self.closed:
            raise RequestError(f"{what}: request fd {self.fd} is closed")

    def queue(self) -> None:
        """``MEDIA_REQUEST_IOC_QUEUE`` (V4L2Error: ENOENT empty/missing control, EBUSY queued...)."""
        if self.closed:
            self._check("MEDIA_REQUEST_IOC_QUEUE")
        self._ioctl(self.fd, _QUEUE)

    def wait(self, timeout_s: float | None) -> None:
        """Wait until the queued request completes (one poll for ``POLLPRI``).

        Raises :class:`RequestError` if it has not completed within *timeout_s* seconds
        (``None`` waits forever) or if the request is not queued (``POLLERR``).
        """
        if self.closed:
            self._check("wait")
        ready = self._poll(self._pollfds, None if timeout_s is None else max(0, int(round(timeout_s * 1000))))
        if len(ready) == 1:
            fd, revents = ready[0]
            if fd == self.fd and revents & POLLPRI:
                return
        self._not_complete(ready, timeout_s)

    def _not_complete(self, ready: list[tuple[int, int]], timeout_s: float | None) -> None:
        """Raise the RequestError that poll's answer *ready* means (unless POLLPRI is set)."""
        revents = 0
        for fd, ev in ready:
            if fd == self.fd:
                revents |= ev
        if revents & POLLPRI:
            return
        if revents & POLLERR:
            raise RequestError(f"request fd {self.fd} is not queued (poll returned POLLERR)")
        if not ready:
            raise RequestError(f"request fd {self.fd} did not complete within the {timeout_s} s timeout")
        raise RequestError(f"request fd {self.fd}: unexpected poll events {revents:#x}")

    def is_complete(self) -> bool:
        """Non-blocking check: True if the request has completed."""
        self._check("poll")
        return any(fd == self.fd and ev & POLLPRI for fd, ev in self.backend.poll([(self.fd, POLLPRI)], 0))

    def reinit(self) -> None:
        """``MEDIA_REQUEST_IOC_REINIT`` (EBUSY while queued and not complete)."""
        if self.closed:
            self._check("MEDIA_REQUEST_IOC_REINIT")
        self._ioctl(self.fd, _REINIT)

    def close(self) -> None:
        """Close the fd (idempotent). A queued request lives on in the kernel until it completes."""
        if not self.closed:
            self.closed = True
            self.backend.close(self.fd)

    def __enter__(self) -> "Request":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Request(fd={self.fd}{', closed' if self.closed else ''})"


@dataclass(eq=False, slots=True)
class Slot:
    """A pool entry: ``request`` is the request to use while the slot is acquired."""

    index: int
    request: Request
    in_use: bool = False
    dead: bool = False
    pool: object = None  # the RequestPool it belongs to (None once discarded)


class RequestPool:
    """A fixed set of reusable requests of one media device (see module docstring)."""

    def __init__(self, media: "MediaDevice", size: int) -> None:
        if size < 1:
            raise ValueError(f"a request pool needs at least one request (size={size})")
        self.media = media
        self._slots: list[Slot] = []
        #: the slots :meth:`acquire` hands out next, oldest first (read it, do not change it:
        #: this list object is the pool's for its whole life, a caller may keep a reference)
        self.free_slots: list[Slot] = []
        self._closed = False
        #: why slots were lost (one message per slot that left the pool)
        self.losses: list[str] = []
        try:
            for i in range(size):
                slot = Slot(i, media.alloc_request(), pool=self)
                self._slots.append(slot)
                self.free_slots.append(slot)
        except BaseException:
            self.close()
            raise

    @property
    def capacity(self) -> int:
        """Live slots (free + acquired)."""
        return len(self._slots)

    @property
    def available(self) -> int:
        """Slots that :meth:`acquire` can hand out now."""
        return len(self.free_slots)

    @property
    def in_use(self) -> int:
        return len(self._slots) - len(self.free_slots)

    def acquire(self) -> Slot:
        """A free slot whose request is idle (REINIT or freshly allocated)."""
        if self._closed:
            raise RequestError("request pool is closed")
        if not self.free_slots:
            if not self._slots:
                raise RequestError("request pool has no live request left (all slots were lost: "
                                   + "; ".join(self.losses) + ")")
            raise RequestError(f"no free request: all {len(self._slots)} are in use")
        slot = self.free_slots.pop(0)
        slot.in_use = True
        return slot

    def _owned(self, slot: Slot, what: str) -> None:
        if slot not in self._slots:
            raise ValueError(f"{what}: slot {slot.index} does not belong to this pool (or was discarded)")
        if not slot.in_use:
            raise ValueError(f"{what}: slot {slot.index} is not acquired")

    def _drop(self, slot: Slot, reason: str) -> None:
        slot.dead = True
        slot.in_use = False
        slot.pool = None
        self._slots.remove(slot)
        if slot in self.free_slots:
            self.free_slots.remove(slot)
        self.losses.append(f"slot {slot.index}: {reason}")
        try:
            slot.request.close()
        except OSError:
            pass

    def release(self, slot: Slot) -> None:
        """Give *slot* back: REINIT its request; on failure close it and allocate a fresh one;
        if that fails too the slot is dead and :attr:`capacity` drops by one."""
        if self._closed:
            if not slot.request.closed:
                slot.request.close()
            slot.in_use = False
            return
        if slot.pool is not self or not slot.in_use:  # (a slot of this pool is in _slots)
            self._owned(slot, "release")
        request = slot.request
        try:
            if request.closed:
                request.reinit()  # (raises RequestError)
            request._ioctl(request.fd, _REINIT)  # Request.reinit inline
        except (V4L2Error, RequestError) as e:
            try:
                slot.request.close()
            except OSError:
                pass
            try:
                slot.request = self.media.alloc_request()
            except (V4L2Error, RequestError) as e2:
                self._drop(slot, f"MEDIA_REQUEST_IOC_REINIT failed ({e}) and reallocation failed ({e2})")
                return
        slot.in_use = False
        self.free_slots.append(slot)

    def discard(self, slot: Slot, reason: str = "its OUTPUT buffer is in an unknown state") -> None:
        """Close *slot*'s request and never reuse the slot (capacity drops by one)."""
        if self._closed:
            if not slot.request.closed:
                slot.request.close()
            slot.in_use = False
            slot.dead = True
            return
        if slot not in self._slots:
            raise ValueError(f"discard: slot {slot.index} does not belong to this pool (or was discarded)")
        self._drop(slot, f"discarded: {reason}")

    def close(self) -> None:
        """Close every request of the pool (idempotent)."""
        self._closed = True
        for slot in self._slots:
            try:
                slot.request.close()
            except OSError:
                pass
        self.free_slots.clear()

    def __enter__(self) -> "RequestPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RequestPool(capacity={self.capacity}, available={self.available})"
