"""V4L2 buffer queues: MMAP buffers (mapped once, kept mapped), QBUF/DQBUF, EXPBUF, streaming.

:class:`Queue` handles one buffer type of a :class:`VideoDevice`, single-planar
(``V4L2_BUF_TYPE_VIDEO_OUTPUT`` / ``_CAPTURE``) or multiplanar (``*_MPLANE``):

- ``setup(count)``: ``VIDIOC_REQBUFS``, then ``VIDIOC_QUERYBUF`` and one ``mmap`` per plane;
- ``qbuf``/``dqbuf`` with timestamps in ns (converted like the kernel's ``v4l2_timeval_to_ns``)
  and an optional media request (object or fd); both reuse one ``v4l2_buffer`` (+ plane
  array) per call and pack/unpack it with one precompiled ``struct`` each: they are the
  per-picture path of a decoder too;
- ``export(index, plane)``: ``VIDIOC_EXPBUF`` -> a DMA-BUF fd owned by the caller;
- ``free()``: STREAMOFF if streaming, unmap every plane, ``VIDIOC_REQBUFS(0)``.

For a resolution change tear both queues down (``free()``), set the OUTPUT format first, then
the CAPTURE format, then ``setup`` and ``streamon`` again.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Sequence

from ..errors import V4L2Error
from ..kernel.backend import POLLERR, POLLIN, POLLOUT
from ..uapi import videodev2 as v

if TYPE_CHECKING:  # pragma: no cover
    from .device import VideoDevice
    from .request import Request

__all__ = ["Queue", "Buffer", "Dequeued", "ns_to_timeval", "timeval_to_ns",
           "BUF_FREE", "BUF_QUEUED", "BUF_UNKNOWN"]

NSEC_PER_SEC = 1_000_000_000
NSEC_PER_USEC = 1_000
_U64 = (1 << 64) - 1

#: buffer states (``Buffer.state``)
BUF_FREE = "free"  # owned by userspace
BUF_QUEUED = "queued"  # owned by the driver (or bound to a request)
BUF_UNKNOWN = "unknown"  # an ioctl on it failed midway; QUERYBUF (``Queue.refresh``) tells


def timeval_to_ns(tv_sec: int, tv_usec: int) -> int:
    """``v4l2_timeval_to_ns`` of videodev2.h: ``(__u64)tv_sec * 1000000000 + tv_usec * 1000``."""
    return ((tv_sec & _U64) * NSEC_PER_SEC + tv_usec * NSEC_PER_USEC) & _U64


def ns_to_timeval(ns: int) -> tuple[int, int]:
    """The kernel's ``v4l2_buffer_set_timestamp`` (``ns_to_timespec64``, then ``tv_nsec / 1000``).

    Sub-microsecond digits are dropped, so a timestamp survives the round trip through a
    buffer only if it is a multiple of 1000 ns.
    """
    ns &= _U64
    if ns >= 1 << 63:  # the kernel treats the u64 as s64 here
        ns -= 1 << 64
    sec, rem = divmod(ns, NSEC_PER_SEC)  # floor division: rem >= 0 as in ns_to_timespec64
    return sec, rem // NSEC_PER_USEC


def _struct_at(members: list[tuple[int, object]], size: int = 0) -> struct.Struct:
    """A :class:`struct.Struct` reading/writing the ctypes scalar *members* ``(offset, ctype)``
    at their offsets (native byte order, zero padding between them, up to *size* bytes)."""
    fmt, pos = "=", 0
    for off, ctype in sorted(members, key=lambda m: m[0]):
        n = ctypes.sizeof(ctype)  # type: ignore[arg-type]
        signed = ctype in (ctypes.c_int32, ctypes.c_long, ctypes.c_int64, ctypes.c_int)
        fmt += (f"{off - pos}x" if off > pos else "") + ({4: "i", 8: "q"} if signed else {4: "I", 8: "Q"})[n]
        pos = off + n
    if size > pos:
        fmt += f"{size - pos}x"
    return struct.Struct(fmt)


class _BufferAndPlanes(ctypes.Structure):
    """A multiplanar queue's ``v4l2_buffer`` with its plane array right behind it, in one
    block: one ``pack_into`` (QBUF) or one copy (reset before DQBUF) covers both."""

    _fields_ = [("b", v.v4l2_buffer), ("planes", v.v4l2_plane * v.VIDEO_MAX_PLANES)]


_B, _TV = v.v4l2_buffer, v.v4l2_timeval
_TS = _B.timestamp.offset
_QBUF_MEMBERS = [(_B.index.offset, ctypes.c_uint32), (_B.type.offset, ctypes.c_uint32),
                 (_B.bytesused.offset, ctypes.c_uint32), (_B.flags.offset, ctypes.c_uint32),
                 (_B.field.offset, ctypes.c_uint32), (_TS + _TV.tv_sec.offset, ctypes.c_long),
                 (_TS + _TV.tv_usec.offset, ctypes.c_long), (_B.memory.offset, ctypes.c_uint32),
                 (_B.m.offset, ctypes.c_void_p), (_B.length.offset, ctypes.c_uint32),
                 (_B._r.offset, ctypes.c_int32)]
#: QBUF's v4l2_buffer, every byte: index, type, bytesused, flags, field, timestamp (tv_sec,
#: tv_usec), memory, m (the planes pointer of a multiplanar queue, else 0), length, request_fd;
#: timecode, sequence, reserved2 zero
_QBUF = _struct_at(_QBUF_MEMBERS, ctypes.sizeof(_B))
#: the same for a multiplanar queue's _BufferAndPlanes up to the end of plane 0: plane 0's
#: bytesused, its other bytes zero (the planes after it: see qbuf_fd)
_QBUF_MP = _struct_at(_QBUF_MEMBERS + [(_BufferAndPlanes.planes.offset + v.v4l2_plane.bytesused.offset,
                                        ctypes.c_uint32)],
                      _BufferAndPlanes.planes.offset + ctypes.sizeof(v.v4l2_plane))
#: what DQBUF answers, in the order of the struct: index, bytesused (single-planar), flags,
#: timestamp (tv_sec, tv_usec), sequence, length (the number of planes of a multiplanar queue)
_DQBUF = _struct_at([(_B.index.offset, ctypes.c_uint32), (_B.flags.offset, ctypes.c_uint32),
                     (_TS + _TV.tv_sec.offset, ctypes.c_long), (_TS + _TV.tv_usec.offset, ctypes.c_long),
                     (_B.bytesused.offset, ctypes.c_uint32), (_B.sequence.offset, ctypes.c_uint32),
                     (_B.length.offset, ctypes.c_uint32)])
#: a plane's bytesused in a multiplanar queue's _BufferAndPlanes (plane p: + p * _PLANE_SIZE)
_PLANE0_USED = _BufferAndPlanes.planes.offset + v.v4l2_plane.bytesused.offset
_PLANE_SIZE = ctypes.sizeof(v.v4l2_plane)
_qbuf_into, _qbuf_mp_into, _dqbuf_from = _QBUF.pack_into, _QBUF_MP.pack_into, _DQBUF.unpack_from
_plane_used_from = struct.Struct("=I").unpack_from
del _B, _TV, _TS, _QBUF_MEMBERS
_VIDIOC_QBUF, _VIDIOC_DQBUF, _FLAG_REQUEST_FD = v.VIDIOC_QBUF, v.VIDIOC_DQBUF, v.V4L2_BUF_FLAG_REQUEST_FD


class _IoctlArgs:
    """A reusable ``v4l2_buffer`` (+ its plane array, in the same block) for QBUF/DQBUF, with a
    copy of its freshly built bytes (type, memory, length, m.planes set) to reset it before
    each use. ``raw_b``/``fresh_b`` cover the plane array too."""

    __slots__ = ("b", "planes", "raw_b", "fresh_b", "planes_ptr", "_block")

    def __init__(self, buf_type: int, memory: int, multiplanar: bool) -> None:
        self.planes: ctypes.Array | None = None
        self.planes_ptr = 0  # b.m.planes (multiplanar)
        if multiplanar:
            block = self._block = _BufferAndPlanes()
            b = self.b = block.b  # (views into block)
            planes = self.planes = block.planes
            b.m.planes = ctypes.cast(planes, ctypes.POINTER(v.v4l2_plane))
            b.length = v.VIDEO_MAX_PLANES
            self.planes_ptr = ctypes.addressof(planes)
        else:
            block = self._block = self.b = v.v4l2_buffer()
            b = block
        b.type = buf_type
        b.memory = memory
        self.raw_b = memoryview(block).cast("B")
        self.fresh_b = bytes(self.raw_b)


@dataclass(slots=True)
class Buffer:
    """One buffer of a queue: its planes stay mapped until :meth:`Queue.free`."""

    index: int
    planes: list[memoryview]
    length: int  # bytes of plane 0
    state: str = BUF_FREE
    plane_lengths: tuple[int, ...] = ()

    def write(self, data: bytes | bytearray | memoryview, plane: int = 0) -> int:
        """Copy *data* to the start of *plane*; returns its length."""
        mv = self.planes[plane]
        n = len(data)
        if n > len(mv):
            raise ValueError(f"buffer {self.index} plane {plane}: {n} bytes do not fit in {len(mv)}")
        mv[:n] = data
        return n

    def read(self, n: int | None = None, plane: int = 0) -> bytes:
        mv = self.planes[plane]
        return bytes(mv if n is None else mv[:n])


class Dequeued(NamedTuple):
    """What ``VIDIOC_DQBUF`` returned (a tuple: one is made per dequeued buffer)."""

    index: int
    timestamp_ns: int  # v4l2_timeval_to_ns of the buffer's timestamp (u64 wrap-around)
    flags: int
    bytesused: int  # plane 0
    sequence: int
    bytesused_planes: tuple[int, ...]

    @property
    def error(self) -> bool:
        """V4L2_BUF_FLAG_ERROR."""
        return bool(self.flags & v.V4L2_BUF_FLAG_ERROR)

    @property
    def last(self) -> bool:
        return bool(self.flags & v.V4L2_BUF_FLAG_LAST)


#: ``Dequeued(...)`` without the Python-level ``__new__`` of a NamedTuple (one is made per
#: dequeued buffer)
_new_tuple = tuple.__new__


class Queue:
    """One buffer queue of a video device (see module docstring)."""

    def __init__(self, dev: "VideoDevice", buf_type: int, memory: int = v.V4L2_MEMORY_MMAP) -> None:
        if memory != v.V4L2_MEMORY_MMAP:
            raise NotImplementedError("only V4L2_MEMORY_MMAP queues are supported")
        self.dev = dev
        self.backend = dev.backend
        self.buf_type = buf_type
        self.memory = memory
        self.multiplanar = v.V4L2_TYPE_IS_MULTIPLANAR(buf_type)
        self.is_output = v.V4L2_TYPE_IS_OUTPUT(buf_type)
        self.buffers: list[Buffer] = []
        self.capabilities = 0
        self.streaming = False
        self._maps: list[list[object]] = []
        self._spare: list[_IoctlArgs] = []  # reusable QBUF/DQBUF arguments (see qbuf)
        self._field = v.V4L2_FIELD_NONE if self.is_output else v.V4L2_FIELD_ANY  # QBUF's field
        self._fd = dev.fd
        self._ioctl_fn = self.backend.ioctl
        self._name = ("OUTPUT" if self.is_output else "CAPTURE") + ("_MPLANE" if self.multiplanar else "")

    # -- helpers ----------------------------------------------------------------------------
    def _ioctl(self, req: int, arg: object, detail: str = "") -> None:
        try:
            self.backend.ioctl(self.dev.fd, req, arg)
        except V4L2Error as e:
            if detail and not e.detail:
                raise V4L2Error(e.errno, e.op, detail) from None
            raise

    def _new_buffer(self, index: int = 0) -> tuple[v.v4l2_buffer, ctypes.Array | None]:
        b = v.v4l2_buffer()
        b.index = index
        b.type = self.buf_type
        b.memory = self.memory
        planes = None
        if self.multiplanar:
            planes = (v.v4l2_plane * v.VIDEO_MAX_PLANES)()
            b.m.planes = ctypes.cast(planes, ctypes.POINTER(v.v4l2_plane))
            b.length = v.VIDEO_MAX_PLANES
        return b, planes

    # QBUF/DQBUF run two to four times per picture: instead of building a v4l2_buffer, a plane
    # array and the pointer between them for every call, an _IoctlArgs is popped from
    # ``_spare`` (or made), used and put back. list.pop/append are atomic, so threads sharing
    # a Queue never share one.

    def _reqbufs(self, count: int) -> int:
        rb = v.v4l2_requestbuffers()
        rb.count = count
        rb.type = self.buf_type
        rb.memory = self.memory
        self._ioctl(v.VIDIOC_REQBUFS, rb, f"{self._name} count={count}")
        self.capabilities = rb.capabilities
        return rb.count

    # -- setup / teardown ----------------------------------------------------------------------
    def setup(self, count: int) -> int:
        """REQBUFS(*count*) + QUERYBUF + mmap of every plane; returns the count allocated."""
        if self.buffers:
            self.free()
        got = self._reqbufs(count)
        self.dev._queues.add(self)
        try:
            for index in range(got):
                b, planes = self._new_buffer(index)
                self._ioctl(v.VIDIOC_QUERYBUF, b, f"{self._name} buffer {index}")
                maps: list[object] = []
                self._maps.append(maps)
                if self.multiplanar:
                    assert planes is not None
                    specs = [(planes[p].length, planes[p].m.mem_offset) for p in range(b.length)]
                else:
                    specs = [(b.length, b.m.offset)]
                views = []
                for length, offset in specs:
                    mp = self.backend.mmap(self.dev.fd, length, offset)
                    maps.append(mp)
                    mv = memoryview(mp)  # type: ignore[arg-type]
                    if mv.format != "B" or mv.ndim != 1:
                        cast = mv.cast("B")
                        mv.release()
                        mv = cast
                    views.append(mv)
                self.buffers.append(Buffer(index, views, specs[0][0], BUF_FREE, tuple(s[0] for s in specs)))
        except BaseException:
            self.free()
            raise
        return got

    def _unmap(self) -> None:
        for buf in self.buffers:
            for mv in buf.planes:
                mv.release()
            buf.planes = []
        for maps in self._maps:
            for mp in maps:
                try:
                    mp.close()  # type: ignore[attr-defined]
                except BufferError:
                    pass  # someone still holds a view of it: unmapped when that is dropped
        self._maps = []
        self.buffers = []

    def free(self) -> None:
        """STREAMOFF (if streaming), unmap every plane, REQBUFS(0). Safe to call twice."""
        try:
            if self.streaming:
                self.streamoff()
        finally:
            had = bool(self.buffers) or bool(self._maps)
            self._unmap()
            self.dev._queues.discard(self)
            if had and not self.dev.closed:
                self._reqbufs(0)

    # -- buffers --------------------------------------------------------------------------------
    def qbuf(self, index: int, bytesused: int = 0, timestamp_ns: int = 0, request: "Request | int | None" = None,
             flags: int = 0, bytesused_planes: Sequence[int] | None = None) -> None:
        """VIDIOC_QBUF buffer *index*; with *request* (a :class:`Request` or its fd) it is bound
        to that media request. ``bytesused`` goes to plane 0 (the other planes get 0) unless
        ``bytesused_planes`` gives every plane's (multiplanar queues).

        The per-picture form of a decoder calls it positionally with a request fd: the
        ``v4l2_buffer`` (and plane array) is a reused one, every byte of it up to plane 0
        written with one ``struct.pack_into`` laid out from the ctypes offsets.
        """
        buffers = self.buffers
        if index < 0 or index >= len(buffers):
            self._check_index(index)
        buf = buffers[index]
        if request is None:
            request_fd = None
            rfd = 0
        else:
            request_fd = rfd = request if type(request) is int else request.fd  # type: ignore[union-attr]
            flags |= _FLAG_REQUEST_FD
        spare = self._spare
        try:
            a = spare.pop()
        except IndexError:
            a = _IoctlArgs(self.buf_type, self.memory, self.multiplanar)
        if 0 <= timestamp_ns < 1 << 63:  # ns_to_timeval without the sign handling
            sec, rem = divmod(timestamp_ns, NSEC_PER_SEC)
            usec = rem // NSEC_PER_USEC
        else:
            sec, usec = ns_to_timeval(timestamp_ns)
        # every byte of the v4l2_buffer (and of its plane 0) in one pack_into: no reset needed
        planes_ptr = a.planes_ptr
        try:
            if not planes_ptr:
                _qbuf_into(a.raw_b, 0, index, self.buf_type, bytesused, flags, self._field, sec, usec,
                           self.memory, 0, 0, rfd)
            else:
                n_planes = len(buf.plane_lengths)
                if n_planes > 1:  # planes 1.. as sent: zero (the kernel reads n_planes of them)
                    a.raw_b[:] = a.fresh_b
                _qbuf_mp_into(a.raw_b, 0, index, self.buf_type, 0, flags, self._field, sec, usec,
                              self.memory, planes_ptr, n_planes, rfd, bytesused)
                if bytesused_planes:
                    planes = a.planes
                    for p in range(n_planes):
                        planes[p].bytesused = bytesused_planes[p] if p < len(bytesused_planes) else 0
        except struct.error as e:  # a value out of its C type's range
            spare.append(a)
            raise ValueError(f"{self._name} QBUF of buffer {index}: {e}") from None
        try:
            self._ioctl_fn(self._fd, _VIDIOC_QBUF, a.b)
        except V4L2Error as e:
            spare.append(a)
            raise self._qbuf_error(e, index, request_fd) from None
        spare.append(a)
        buf.state = BUF_QUEUED

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.buffers):
            raise IndexError(f"{self._name}: no buffer {index} ({len(self.buffers)} allocated)")

    def _qbuf_error(self, e: V4L2Error, index: int, request_fd: int | None) -> V4L2Error:
        """The error of a failed QBUF, naming the buffer (and request) unless it names more."""
        if e.detail:
            return e
        in_request = f" in request fd {request_fd}" if request_fd is not None else ""
        return V4L2Error(e.errno, e.op, f"{self._name} buffer {index}{in_request}")

    def dqbuf(self) -> Dequeued | None:
        """VIDIOC_DQBUF (non-blocking): the buffer, or None if none is ready (EAGAIN).

        The reused ``v4l2_buffer`` is reset from its fresh bytes (one copy) and the answer read
        with one ``unpack_from`` (plus one per plane of a multiplanar queue)."""
        spare = self._spare
        try:
            a = spare.pop()
            a.raw_b[:] = a.fresh_b
        except IndexError:
            a = _IoctlArgs(self.buf_type, self.memory, self.multiplanar)
        try:
            self._ioctl_fn(self._fd, _VIDIOC_DQBUF, a.b)
        except V4L2Error as e:
            spare.append(a)
            if e.errno == errno.EAGAIN:
                return None
            raise V4L2Error(e.errno, e.op, self._name) from None
        raw = a.raw_b
        index, bytesused, flags, sec, usec, sequence, length = _dqbuf_from(raw)
        if a.planes_ptr:  # (unpack_from gives a 1-tuple: one plane, the usual case, is one call)
            used = _plane_used_from(raw, _PLANE0_USED) if length == 1 else \
                tuple([_plane_used_from(raw, _PLANE0_USED + p * _PLANE_SIZE)[0] for p in range(length)])
            bytesused = used[0] if used else 0
        else:
            used = (bytesused,)
        spare.append(a)
        if index < len(self.buffers):
            self.buffers[index].state = BUF_FREE
        return _new_tuple(Dequeued, (index, (sec * NSEC_PER_SEC + usec * NSEC_PER_USEC) & _U64, flags, bytesused,
                                     sequence, used))

    def querybuf(self, index: int) -> int:
        """VIDIOC_QUERYBUF: the buffer's current flags."""
        b, _planes = self._new_buffer(index)
        self._ioctl(v.VIDIOC_QUERYBUF, b, f"{self._name} buffer {index}")
        return b.flags

    def refresh(self, index: int) -> str:
        """Re-read buffer *index*'s state from the driver (after an error left it unknown)."""
        flags = self.querybuf(index)
        busy = v.V4L2_BUF_FLAG_QUEUED | v.V4L2_BUF_FLAG_DONE | v.V4L2_BUF_FLAG_IN_REQUEST
        self.buffers[index].state = BUF_QUEUED if flags & busy else BUF_FREE
        return self.buffers[index].state

    def mark_unknown(self, index: int) -> None:
        self.buffers[index].state = BUF_UNKNOWN

    def free_indices(self) -> list[int]:
        return [b.index for b in self.buffers if b.state == BUF_FREE]

    def export(self, index: int, plane: int = 0) -> int:
        """VIDIOC_EXPBUF: a DMA-BUF fd of (*index*, *plane*); the caller closes it."""
        e = v.v4l2_exportbuffer()
        e.type = self.buf_type
        e.index = index
        e.plane = plane
        e.flags = os.O_RDWR | os.O_CLOEXEC
        self._ioctl(v.VIDIOC_EXPBUF, e, f"{self._name} buffer {index} plane {plane}")
        return e.fd

    def wait(self, timeout_s: float | None) -> bool:
        """Poll the device until a buffer of this queue can be dequeued; False on timeout."""
        want = POLLOUT if self.is_output else POLLIN
        ms = None if timeout_s is None else max(0, int(round(timeout_s * 1000)))
        for fd, ev in self.backend.poll([(self.dev.fd, want)], ms):
            if fd == self.dev.fd and ev & (want | POLLERR):
                return bool(ev & want)
        return False

    # -- streaming ------------------------------------------------------------------------------
    def streamon(self) -> None:
        self._ioctl(v.VIDIOC_STREAMON, ctypes.c_int(self.buf_type), self._name)
        self.streaming = True

    def streamoff(self) -> None:
        """VIDIOC_STREAMOFF: every buffer returns to userspace."""
        self._ioctl(v.VIDIOC_STREAMOFF, ctypes.c_int(self.buf_type), self._name)
        self.streaming = False
        for buf in self.buffers:
            buf.state = BUF_FREE

    def __repr__(self) -> str:
        return f"Queue({self._name}, {len(self.buffers)} buffers{', streaming' if self.streaming else ''})"
