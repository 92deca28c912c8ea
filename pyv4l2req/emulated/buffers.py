"""vb2 queues and buffers of the emulated device (videobuf2-core/-v4l2.c semantics).

A :class:`Buffer` owns one memfd per plane (the "vmalloc" memory; EXPBUF hands out dups of it,
``Backend.mmap`` maps it by its ``mem_offset`` cookie) and a vb2 state
(``DEQUEUED``, ``IN_REQUEST``, ``QUEUED``, ``DONE``, ``ERROR``); ``held`` marks a CAPTURE buffer
kept by V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF. A :class:`Queue` is one vb2 queue (OUTPUT or
CAPTURE) with its negotiated format, its driver-owned list (``ready``: the m2m rdy_queue) and
its ``done`` list. Format arithmetic (``fill_pixfmt``) follows ``v4l2_fill_pixfmt_mp``.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap as _mmap
import os
import sys
from collections import deque
from dataclasses import dataclass
from dataclasses import field as dc_field

from ..uapi import videodev2 as v

__all__ = ["Buffer", "Plane", "Queue", "Format", "fill_pixfmt", "chroma_subsampling", "PAGE_SIZE", "DST_QUEUE_OFF_BASE"]

PAGE_SIZE = _mmap.PAGESIZE
DST_QUEUE_OFF_BASE = 1 << 30      # v4l2-mem2mem.c: mmap cookies of the CAPTURE queue
VB2_MAX_FRAME = 32
V4L2_PIX_FMT_PRIV_MAGIC = 0xFEEDCAFE
PLANE_INDEX_BITS = 3

DEQUEUED = "dequeued"
IN_REQUEST = "in_request"
QUEUED = "queued"
DONE = "done"
ERROR = "error"


def page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE


def _div_up(a: int, b: int) -> int:
    return (a + b - 1) // b


# fourcc -> (bytes per pixel of each component plane, hdiv, vdiv) for one-memory-plane formats
_RAW_FORMATS: dict[int, tuple[tuple[int, ...], int, int]] = {
    v.V4L2_PIX_FMT_NV12: ((1, 2), 2, 2),
    v.V4L2_PIX_FMT_NV21: ((1, 2), 2, 2),
    v.V4L2_PIX_FMT_YUV420: ((1, 1, 1), 2, 2),
    v.V4L2_PIX_FMT_YVU420: ((1, 1, 1), 2, 2),
    v.V4L2_PIX_FMT_NV16: ((1, 2), 2, 1),
    v.V4L2_PIX_FMT_GREY: ((1,), 1, 1),
    v.V4L2_PIX_FMT_P010: ((2, 4), 2, 2),
}


def chroma_subsampling(fourcc: int) -> tuple[int, int]:
    """(horizontal, vertical) chroma subsampling of a raw format (4:2:0 when unknown)."""
    _, hdiv, vdiv = _RAW_FORMATS.get(fourcc, ((1, 1, 1), 2, 2))
    return hdiv, vdiv


def fill_pixfmt(fourcc: int, width: int, height: int) -> tuple[int, int]:
    """(bytesperline, sizeimage) of a single-memory-plane raw format (v4l2_fill_pixfmt_mp)."""
    bpp, hdiv, vdiv = _RAW_FORMATS.get(fourcc, ((1, 1, 1), 2, 2))
    bpl = width * bpp[0]
    size = 0
    for i, b in enumerate(bpp):
        h = 1 if i == 0 else hdiv
        vv = 1 if i == 0 else vdiv
        size += b * _div_up(width, h) * _div_up(height, vv)
    return bpl, size


@dataclass
class Format:
    """A negotiated multiplanar format (the fields of v4l2_pix_format_mplane we keep)."""

    pixelformat: int
    width: int
    height: int
    bytesperline: list[int]
    sizeimage: list[int]
    field: int = v.V4L2_FIELD_NONE
    colorspace: int = 3          # V4L2_COLORSPACE_REC709, as visl_init_fmt
    ycbcr_enc: int = 0
    quantization: int = 0
    xfer_func: int = 0
    flags: int = 0

    @property
    def num_planes(self) -> int:
        return len(self.sizeimage)

    def to_struct(self, f: v.v4l2_format) -> None:
        if not v.V4L2_TYPE_IS_MULTIPLANAR(f.type):   # v4l2_pix_format (one plane)
            s = f.fmt.pix
            s.width, s.height, s.pixelformat, s.field = self.width, self.height, self.pixelformat, self.field
            s.bytesperline, s.sizeimage = self.bytesperline[0], self.sizeimage[0]
            s.colorspace, s.flags = self.colorspace, self.flags
            s.priv = V4L2_PIX_FMT_PRIV_MAGIC     # set by the V4L2 core (v4l_g_fmt / v4l_s_fmt)
            s.ycbcr_enc, s.quantization, s.xfer_func = self.ycbcr_enc, self.quantization, self.xfer_func
            return
        p = f.fmt.pix_mp
        p.width, p.height, p.pixelformat = self.width, self.height, self.pixelformat
        p.field, p.colorspace = self.field, self.colorspace
        p.num_planes = self.num_planes
        p.flags = self.flags
        p.ycbcr_enc, p.quantization, p.xfer_func = self.ycbcr_enc, self.quantization, self.xfer_func
        for i in range(v.VIDEO_MAX_PLANES):
            pf = p.plane_fmt[i]
            if i < self.num_planes:
                pf.bytesperline, pf.sizeimage = self.bytesperline[i], self.sizeimage[i]
            else:
                pf.bytesperline = pf.sizeimage = 0
            for j in range(6):
                pf.reserved[j] = 0
        for j in range(7):
            p.reserved[j] = 0


_map_files_ok: bool | None = None


def _probe_map_files() -> bool:
    """Can this process reopen its own shared mappings through /proc/self/map_files?"""
    global _map_files_ok
    if _map_files_ok is None:
        try:
            m = _mmap.mmap(-1, PAGE_SIZE, flags=_mmap.MAP_SHARED)
            try:
                fd2 = os.open(_map_files_path(m, PAGE_SIZE), os.O_RDWR | os.O_CLOEXEC)
                os.close(fd2)
                _map_files_ok = True
            finally:
                m.close()
        except OSError:
            _map_files_ok = False
    return _map_files_ok


def _map_files_path(m: _mmap.mmap, size: int) -> str:
    c = ctypes.c_char.from_buffer(m)
    addr = ctypes.addressof(c)
    del c
    return f"/proc/self/map_files/{addr:x}-{addr + size:x}"


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value


class Import:
    """An imported DMA-BUF (any mappable fd): mapped with libc mmap, so no fd is kept.

    The kernel keeps a file reference, not an fd; Python's mmap would dup the fd. The mapping
    is only unmapped when no memoryview of it is alive (else it is retried later).
    """

    def __init__(self, fd: int, size: int) -> None:
        st = os.fstat(fd)
        self.key = (st.st_dev, st.st_ino)
        addr = _libc.mmap(None, size, _mmap.PROT_READ | _mmap.PROT_WRITE, _mmap.MAP_SHARED, fd, 0)
        if addr is None or addr == _MAP_FAILED:
            raise OSError(ctypes.get_errno(), "mmap of the DMA-BUF failed")
        self.addr, self.size = addr, size
        self.arr: ctypes.Array | None = (ctypes.c_ubyte * size).from_address(addr)

    def view(self) -> memoryview:
        assert self.arr is not None
        return memoryview(self.arr).cast("B")

    def release(self) -> bool:
        """Unmap if nothing references the memory any more; False to retry later."""
        if self.arr is None:
            return True
        if sys.getrefcount(self.arr) > 2:   # self.arr + the argument: a memoryview is alive
            return False
        self.arr = None
        _libc.munmap(self.addr, self.size)
        return True


_graveyard: list[Import] = []


def retire(imp: Import | None) -> None:
    """Unmap *imp* now or as soon as its views are gone."""
    if imp is not None:
        _graveyard.append(imp)
    _graveyard[:] = [i for i in _graveyard if not i.release()]


@dataclass
class Plane:
    """One plane's memory: a shared mapping owned by the emulated kernel.

    Like kernel memory, it costs the process no file descriptor: an anonymous shared mapping
    (Python's mmap keeps no fd for it) reopened through ``/proc/self/map_files`` for EXPBUF
    and ``Backend.mmap``. Where map_files cannot be opened (no CAP_SYS_ADMIN) a memfd is kept
    open instead (and counted in /proc/self/fd, twice: Python's mmap dups it).
    """

    length: int                   # what QUERYBUF reports (sizeimage at allocation)
    mem_offset: int               # mmap cookie as userspace sees it
    bytesused: int = 0
    data_offset: int = 0
    maps: int = 0                 # live mappings (V4L2_BUF_FLAG_MAPPED)
    memfd: int = -1
    master: _mmap.mmap | None = None
    _path: str = ""
    dmabuf: Import | None = None  # V4L2_MEMORY_DMABUF: the imported memory
    dmabuf_fd: int = 0            # the fd userspace queued (QUERYBUF reports it)

    def view(self) -> memoryview:
        """The plane's memory (own or imported), ``length`` bytes."""
        if self.dmabuf is not None:
            return self.dmabuf.view()[: self.length]
        return memoryview(self.master)[: self.length]  # type: ignore[arg-type]

    def import_dmabuf(self, fd: int, length: int) -> None:
        """QBUF of a DMABUF plane: map *fd* (reused when the same buffer is queued again)."""
        st = os.fstat(fd)
        if self.dmabuf is not None and self.dmabuf.key == (st.st_dev, st.st_ino) and self.dmabuf.size >= length:
            self.dmabuf_fd = fd
            return
        imp = Import(fd, length)
        retire(self.dmabuf)
        self.dmabuf, self.dmabuf_fd = imp, fd

    @classmethod
    def allocate(cls, name: str, length: int, mem_offset: int) -> "Plane":
        size = page_align(length)
        if _probe_map_files():
            master = _mmap.mmap(-1, size, flags=_mmap.MAP_SHARED)
            return cls(length, mem_offset, master=master, _path=_map_files_path(master, size))
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            master = _mmap.mmap(fd, size, flags=_mmap.MAP_SHARED, prot=_mmap.PROT_READ | _mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            raise
        return cls(length, mem_offset, memfd=fd, master=master)

    def open_fd(self, cloexec: bool = True) -> int:
        """A new fd of this memory (EXPBUF's DMA-BUF stand-in); the caller owns it."""
        if self.memfd >= 0:
            cmd = fcntl.F_DUPFD_CLOEXEC if cloexec else fcntl.F_DUPFD
            return fcntl.fcntl(self.memfd, cmd, 0)
        return os.open(self._path, os.O_RDWR | (os.O_CLOEXEC if cloexec else 0))

    def free(self) -> None:
        retire(self.dmabuf)
        self.dmabuf = None
        if self.master is not None:
            try:
                self.master.close()
            except BufferError:   # a view is still exported: the GC unmaps it later
                pass
            self.master = None
        if self.memfd >= 0:
            os.close(self.memfd)
            self.memfd = -1


@dataclass
class Buffer:
    """One vb2 buffer."""

    queue: "Queue"
    index: int
    planes: list[Plane]
    state: str = DEQUEUED
    flags: int = 0                # user flags kept from QBUF (HOLD, KEYFRAME, TIMECODE ...)
    timestamp_ns: int = 0
    copied_timestamp: bool = False
    sequence: int = 0
    field: int = v.V4L2_FIELD_ANY
    request: object | None = None  # MediaRequest the buffer is bound to
    request_fd: int = -1
    pending: list | None = None    # (bytesused, data_offset) per plane, applied at request queue
    held: bool = False
    sticky_error: bool = False     # an error while held, reported when released
    last: bool = False
    decoded: bool = False          # holds a picture decoded since userspace last queued it

    def mapped(self) -> bool:
        return any(p.maps for p in self.planes)

    def views(self) -> list[memoryview]:
        """Writable views of every plane's memory."""
        return [p.view() for p in self.planes]

    def free(self) -> None:
        for p in self.planes:
            p.free()


@dataclass
class Queue:
    """One vb2 queue of an m2m context."""

    type: int
    fmt: Format
    supports_requests: bool = False
    requires_requests: bool = False
    supports_hold: bool = False
    memory: int = 0
    bufs: list[Buffer] = dc_field(default_factory=list)
    streaming: bool = False
    uses_requests: bool = False
    uses_qbuf: bool = False
    ready: deque = dc_field(default_factory=deque)   # QUEUED buffers owned by the driver, in order
    done: deque = dc_field(default_factory=deque)    # DONE/ERROR buffers awaiting DQBUF
    sequence: int = 0
    last_buffer_dequeued: bool = False
    max_buffers: int = VB2_MAX_FRAME   # q->max_num_buffers (CREATE_BUFS reports it)

    @property
    def is_output(self) -> bool:
        return v.V4L2_TYPE_IS_OUTPUT(self.type)

    @property
    def busy(self) -> bool:
        """vb2_is_busy(): buffers are allocated."""
        return bool(self.bufs)

    def caps(self) -> int:
        c = (v.V4L2_BUF_CAP_SUPPORTS_MMAP | v.V4L2_BUF_CAP_SUPPORTS_DMABUF
             | v.V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS)
        if self.supports_requests:
            c |= v.V4L2_BUF_CAP_SUPPORTS_REQUESTS
        if self.supports_hold:
            c |= v.V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF
        return c

    def offset(self, index: int, plane: int) -> int:
        """__setup_offsets() (Linux >= 6.8): (index << PLANE_INDEX_SHIFT | plane << PAGE_SHIFT),
        plus DST_QUEUE_OFF_BASE for the CAPTURE queue of an m2m device."""
        base = 0 if self.is_output else DST_QUEUE_OFF_BASE
        return base + ((index << PLANE_INDEX_BITS) | plane) * PAGE_SIZE

    def allocate(self, count: int, sizes: list[int], memory: int = v.V4L2_MEMORY_MMAP) -> int:
        """Add *count* buffers with planes of *sizes*; returns how many were added."""
        count = max(0, min(count, self.max_buffers - len(self.bufs)))
        kind = "out" if self.is_output else "cap"
        for _ in range(count):
            index = len(self.bufs)
            planes = []
            for p, size in enumerate(sizes):
                if memory == v.V4L2_MEMORY_DMABUF:
                    planes.append(Plane(size, 0))
                else:
                    planes.append(Plane.allocate(f"emulated-{kind}{index}.{p}", size, self.offset(index, p)))
            self.bufs.append(Buffer(self, index, planes))
        return count

    def free_all(self) -> None:
        for b in self.bufs:
            b.free()
        self.bufs = []
        self.ready.clear()
        self.done.clear()
        self.memory = 0

    def find_by_offset(self, offset: int) -> Plane | None:
        for b in self.bufs:
            for p in b.planes:
                if p.mem_offset == offset:
                    return p
        return None
