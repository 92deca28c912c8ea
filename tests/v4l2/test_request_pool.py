"""RequestPool bookkeeping against a scripted fake media device (no kernel needed).

The fake hands out real fds (os.eventfd) so leaks show in /proc/self/fd; its REINIT and
REQUEST_ALLOC failures are scripted per call.
"""

from __future__ import annotations

import errno
import os

import pytest

from pyv4l2req.errors import RequestError, V4L2Error
from pyv4l2req.uapi import media as m
from pyv4l2req.v4l2 import RequestPool
from pyv4l2req.v4l2.request import Request


class FakeBackend:
    name = "fake"

    def __init__(self) -> None:
        self.fail: dict[int, list[int]] = {}  # ioctl -> errnos of the next calls (0 = ok)
        self.calls: list[tuple[int, int]] = []

    def ioctl(self, fd, req, arg=None):
        self.calls.append((fd, req))
        script = self.fail.get(req)
        if script:
            err = script.pop(0)
            if err:
                raise V4L2Error(err, "fake")
        return 0

    def close(self, fd):
        os.close(fd)

    def poll(self, fds, timeout_ms):
        return []


class FakeMedia:
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.alloc_fail: list[int] = []

    def alloc_request(self) -> Request:
        if self.alloc_fail:
            err = self.alloc_fail.pop(0)
            if err:
                raise V4L2Error(err, "MEDIA_IOC_REQUEST_ALLOC")
        return Request(self.backend, os.eventfd(0, os.EFD_CLOEXEC))


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def media():
    return FakeMedia(FakeBackend())


def test_acquire_release_reinit(media):
    before = fds()
    pool = RequestPool(media, 3)
    assert (pool.capacity, pool.available) == (3, 3) and fds() == before + 3
    slots = [pool.acquire() for _ in range(3)]
    with pytest.raises(RequestError, match="all 3 are in use"):
        pool.acquire()
    fd = slots[0].request.fd
    pool.release(slots[0])
    assert (media.backend.calls[-1]) == (fd, m.MEDIA_REQUEST_IOC_REINIT)
    assert pool.acquire().request.fd == fd
    with pytest.raises(ValueError):
        pool.release(type(slots[0])(99, slots[1].request, True))  # not one of ours
    pool.close()
    assert fds() == before


def test_reinit_failure_reallocates(media):
    before = fds()
    pool = RequestPool(media, 2)
    s = pool.acquire()
    old = s.request
    media.backend.fail[m.MEDIA_REQUEST_IOC_REINIT] = [errno.ENOMEM]
    pool.release(s)
    assert old.closed and s.request is not old and not s.request.closed
    assert (pool.capacity, pool.available) == (2, 2) and not pool.losses
    assert fds() == before + 2
    pool.close()
    assert fds() == before


def test_reinit_and_realloc_failure_shrinks_by_one(media):
    before = fds()
    pool = RequestPool(media, 3)
    a, b = pool.acquire(), pool.acquire()
    media.backend.fail[m.MEDIA_REQUEST_IOC_REINIT] = [errno.EIO]
    media.alloc_fail = [errno.ENOMEM]
    pool.release(a)
    assert a.dead and (pool.capacity, pool.available) == (2, 1)
    assert "REINIT failed" in pool.losses[0] and "reallocation failed" in pool.losses[0]
    pool.release(b)  # the other slots are unaffected
    assert (pool.capacity, pool.available) == (2, 2)
    with pytest.raises(ValueError):
        pool.release(a)
    assert fds() == before + 2
    pool.close()
    assert fds() == before


def test_discard(media):
    before = fds()
    pool = RequestPool(media, 2)
    s = pool.acquire()
    pool.discard(s, "DQBUF failed")
    assert s.dead and s.request.closed and (pool.capacity, pool.available) == (1, 1)
    s2 = pool.acquire()
    pool.discard(s2)
    with pytest.raises(RequestError, match="no live request left"):
        pool.acquire()
    pool.close()
    assert fds() == before


def test_partial_allocation_failure_closes_everything(media):
    before = fds()
    media.alloc_fail = [0, 0, errno.ENOMEM]
    with pytest.raises(V4L2Error):
        RequestPool(media, 4)
    assert fds() == before


def test_release_after_close(media):
    before = fds()
    pool = RequestPool(media, 2)
    s = pool.acquire()
    pool.close()
    pool.release(s)
    with pytest.raises(RequestError, match="closed"):
        pool.acquire()
    assert fds() == before
