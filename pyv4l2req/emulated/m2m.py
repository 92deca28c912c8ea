"""One open file handle of an emulated stateless decoder: an m2m context.

:class:`DecoderContext` holds both vb2 queues, the formats, the control handler, the event
queue and the codec model instance, and implements the video-node ioctls on the real ctypes
structs plus the mem2mem job scheduling (``v4l2_m2m_try_schedule`` with
HOLD_CAPTURE_BUF, ``v4l2_m2m_buf_done_and_job_finish``, the stateless FLUSH command).
Jobs run synchronously inside the ioctl that makes them runnable.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import time
from typing import TYPE_CHECKING, Any

from ..uapi import videodev2 as v
from . import buffers as B
from .buffers import Buffer, Format, Queue, fill_pixfmt
from .codec_model import CaptureView, CodecModel, DecodeJob
from .controls import ControlHandler
from .events import V4L2_EVENT_CTRL_CH_VALUE, EventQueue
from .kerror import KernelError
from .media import COMPLETE, IDLE, KERNEL_VERSION, QUEUED, MediaRequest

if TYPE_CHECKING:
    from .device import DeviceSpec, EmulatedBackend

__all__ = ["DecoderContext"]

OUT = v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
CAP = v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
MIN_CODED_SZ = 1024 * 256
V4L2_BUF_CAP_SUPPORTS_MAX_NUM_BUFFERS = 1 << 7   # videodev2.h (Linux >= 6.8), not in our uapi yet
_FRAME_FLAGS = v.V4L2_BUF_FLAG_KEYFRAME | v.V4L2_BUF_FLAG_PFRAME | v.V4L2_BUF_FLAG_BFRAME
_USER_FLAGS = _FRAME_FLAGS | v.V4L2_BUF_FLAG_TIMECODE | v.V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF


def _round_up(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def timeval_to_ns(tv: v.v4l2_timeval) -> int:
    return tv.tv_sec * 1_000_000_000 + tv.tv_usec * 1000


class _SinglePlane:
    """The plane fields of a single-planar ``v4l2_buffer`` seen as a ``v4l2_plane``
    (``bytesused``, ``length``, ``m.mem_offset`` = ``m.offset``, ``m.fd``; no data_offset)."""

    data_offset = 0

    def __init__(self, b: v.v4l2_buffer) -> None:
        self._b = b
        self.m = self

    bytesused = property(lambda self: self._b.bytesused)
    length = property(lambda self: self._b.length)
    mem_offset = property(lambda self: self._b.m.offset)
    fd = property(lambda self: self._b.m.fd)


class DecoderContext:
    """The state behind one open fd of /dev/videoN."""

    def __init__(self, backend: "EmulatedBackend", spec: "DeviceSpec", model: CodecModel, fd: int,
                 nonblock: bool) -> None:
        self.backend = backend
        self.spec = spec
        self.model = model
        self.fd = fd
        self.nonblock = nonblock
        try_control = getattr(model, "try_control", None)
        self.ctrls = ControlHandler(list(model.controls), None if try_control is None else (
            lambda cid, payload: try_control(cid, payload, self.cap.fmt.pixelformat, self.cap.fmt.width,
                                             self.cap.fmt.height)))
        fs = spec.frmsize(model)
        w, h = spec.default_size or (fs[0], fs[3])
        out_fmt = Format(model.output_fourcc, w, h, [0], [w * h * (spec.coded_sizeimage_mult or 8)])
        out_t, cap_t = (v.V4L2_BUF_TYPE_VIDEO_OUTPUT, v.V4L2_BUF_TYPE_VIDEO_CAPTURE) if spec.single_planar \
            else (OUT, CAP)
        self.out = Queue(out_t, out_fmt, supports_requests=True, requires_requests=spec.requires_requests,
                         supports_hold=spec.supports_hold, max_buffers=spec.max_buffers[0])
        self.cap = Queue(cap_t, self._capture_format(model.capture_fourccs[0], w, h),
                         max_buffers=spec.max_buffers[1])
        self.events = EventQueue(self.ctrls, spec.events)

    # ------------------------------------------------------------------ helpers
    @property
    def mplane(self) -> bool:
        """The multi-planar API (else the single-planar one, ``spec.single_planar``)."""
        return not self.spec.single_planar

    def queue(self, buf_type: int) -> Queue:
        if buf_type == self.out.type:
            return self.out
        if buf_type == self.cap.type:
            return self.cap
        raise KernelError(_errno.EINVAL, f"buffer type {buf_type} is not supported by this "
                                         f"{'multi' if self.mplane else 'single'}-planar device")

    def _capture_format(self, fourcc: int, width: int, height: int) -> Format:
        layout = getattr(self.model, "capture_layout", None)
        if layout is not None:
            bpl, size = layout(fourcc, width, height)
        else:
            bpl, size = fill_pixfmt(fourcc, width, height)
        return Format(fourcc, width, height, [bpl], [size])

    def _clamp_size(self, width: int, height: int) -> tuple[int, int]:
        mnw, mxw, stw, mnh, mxh, sth = self.spec.frmsize(self.model)
        width = max(mnw, min(mxw, width))
        height = max(mnh, min(mxh, height))
        if stw > 1:
            width = mnw + (width - mnw + stw - 1) // stw * stw
            width = min(width, mxw)
        if sth > 1:
            height = mnh + (height - mnh + sth - 1) // sth * sth
            height = min(height, mxh)
        return width, height

    # ------------------------------------------------------------------ caps / formats
    def querycap(self, cap: v.v4l2_capability) -> None:
        ctypes.memset(ctypes.addressof(cap), 0, ctypes.sizeof(cap))
        cap.driver = self.spec.driver.encode()
        cap.card = self.spec.driver.encode()
        cap.bus_info = f"platform:{self.spec.driver}".encode()
        cap.version = KERNEL_VERSION
        # the V4L2 core (v4l_querycap) always adds V4L2_CAP_EXT_PIX_FORMAT
        m2m = v.V4L2_CAP_VIDEO_M2M_MPLANE if self.mplane else v.V4L2_CAP_VIDEO_M2M
        cap.device_caps = v.V4L2_CAP_STREAMING | m2m | v.V4L2_CAP_EXT_PIX_FORMAT
        cap.capabilities = cap.device_caps | v.V4L2_CAP_DEVICE_CAPS

    def enum_fmt(self, f: v.v4l2_fmtdesc) -> None:
        if f.type == self.out.type:
            fmts = [self.model.output_fourcc]
            flags = v.V4L2_FMT_FLAG_COMPRESSED
        elif f.type == self.cap.type:
            fmts = list(self.model.capture_fourccs)
            flags = 0
        else:
            raise KernelError(_errno.EINVAL, f"ENUM_FMT: buffer type {f.type}")
        if f.index >= len(fmts):
            raise KernelError(_errno.EINVAL, f"ENUM_FMT: no format {f.index}")
        f.pixelformat = fmts[f.index]
        f.flags = flags
        f.mbus_code = 0
        f.description = _fourcc_description(fmts[f.index]).encode()[:31]

    def enum_framesizes(self, fs: v.v4l2_frmsizeenum) -> None:
        if fs.index != 0 or fs.pixel_format != self.model.output_fourcc:
            raise KernelError(_errno.EINVAL, f"ENUM_FRAMESIZES: index {fs.index} of {fs.pixel_format:#x}")
        fs.type = v.V4L2_FRMSIZE_TYPE_STEPWISE
        s = fs.stepwise
        (s.min_width, s.max_width, s.step_width, s.min_height, s.max_height,
         s.step_height) = self.spec.frmsize(self.model)

    def g_fmt(self, f: v.v4l2_format) -> None:
        q = self.queue(f.type)
        q.fmt.to_struct(f)

    def try_fmt(self, f: v.v4l2_format) -> Format:
        p = f.fmt.pix_mp if self.mplane else f.fmt.pix
        if f.type == self.out.type:
            w, h = self._clamp_size(p.width, p.height)
            asked = p.plane_fmt[0].sizeimage if self.mplane else p.sizeimage
            if self.spec.coded_sizeimage_mult:   # vicodec: recomputed from the size, always
                size = w * h * self.spec.coded_sizeimage_mult
            else:                                # visl_try_fmt_vid_out
                size = asked or max(MIN_CODED_SZ, w * h * 3)
            fmt = Format(self.model.output_fourcc, w, h, [0], [size],
                         colorspace=p.colorspace, ycbcr_enc=p.ycbcr_enc,
                         quantization=p.quantization, xfer_func=p.xfer_func)
        elif f.type == self.cap.type:
            fourcc = p.pixelformat if p.pixelformat in self.model.capture_fourccs else self.model.capture_fourccs[0]
            w, h = self._clamp_size(p.width, p.height)
            if self.spec.capture_round_by_subsampling:   # vicodec: vic_round_dim(dim, chroma div)
                hdiv, vdiv = B.chroma_subsampling(fourcc)
                w, h = _round_up(w, 8 * hdiv), _round_up(h, 8 * vdiv)
            fmt = self._capture_format(fourcc, w, h)
            fmt.colorspace = self.cap.fmt.colorspace
        else:
            raise KernelError(_errno.EINVAL, f"format type {f.type} is not supported by this device")
        fmt.to_struct(f)
        return fmt

    def s_fmt(self, f: v.v4l2_format) -> None:
        q = self.queue(f.type)
        if self.spec.fmt_busy == "own" and q.busy:      # vicodec: vb2_is_busy(own queue)
            raise KernelError(_errno.EBUSY, "S_FMT: buffers are allocated on this queue")
        if self.spec.fmt_busy == "peer" and q is self.out and self.cap.busy:   # visl
            raise KernelError(_errno.EBUSY, "S_FMT(OUTPUT): CAPTURE buffers are allocated")
        fmt = self.try_fmt(f)
        old = q.fmt
        q.fmt = fmt
        if q is self.out and (old.width, old.height) != (fmt.width, fmt.height):
            ev = v.v4l2_event_src_change(changes=v.V4L2_EVENT_SRC_CH_RESOLUTION)
            self.queue_event(v.V4L2_EVENT_SOURCE_CHANGE, 0, bytes(ev))
        if q is self.out and self.spec.derive_capture:
            # the CAPTURE format is derived from the coded size (visl_reset_decoded_fmt)
            self.cap.fmt = self._capture_format(self.model.capture_fourccs[0], fmt.width, fmt.height)
            self.cap.fmt.colorspace = fmt.colorspace

    def g_selection(self, s: v.v4l2_selection) -> None:
        if not self.spec.selection:
            raise KernelError(_errno.ENOTTY, "G_SELECTION is not implemented by this driver")
        if s.type not in (CAP, v.V4L2_BUF_TYPE_VIDEO_CAPTURE):
            raise KernelError(_errno.EINVAL, "G_SELECTION: only CAPTURE composing")
        if s.target not in (v.V4L2_SEL_TGT_COMPOSE, v.V4L2_SEL_TGT_COMPOSE_DEFAULT,
                            v.V4L2_SEL_TGT_COMPOSE_BOUNDS, v.V4L2_SEL_TGT_COMPOSE_PADDED):
            raise KernelError(_errno.EINVAL, f"G_SELECTION: target {s.target}")
        s.r.left = s.r.top = 0
        s.r.width, s.r.height = self.cap.fmt.width, self.cap.fmt.height

    # ------------------------------------------------------------------ buffers
    def reqbufs(self, r: v.v4l2_requestbuffers) -> None:
        q = self.queue(r.type)
        r.capabilities = q.caps()    # vb2_reqbufs fills them even when it fails
        r.flags = 0
        if r.memory not in (v.V4L2_MEMORY_MMAP, v.V4L2_MEMORY_DMABUF):
            # USERPTR (which vicodec has) is not emulated, and not advertised in capabilities
            raise KernelError(_errno.EINVAL, f"REQBUFS: memory {r.memory} is not supported (MMAP, DMABUF)")
        if q.streaming:
            raise KernelError(_errno.EBUSY, "REQBUFS: queue is streaming")
        if q.bufs:
            self._cancel(q)
            q.free_all()
        q.uses_qbuf = q.uses_requests = False
        r.capabilities = q.caps()
        r.flags = 0
        if r.count == 0:
            return
        q.memory = r.memory
        r.count = q.allocate(max(1, r.count), list(q.fmt.sizeimage), r.memory)

    def create_bufs(self, c: v.v4l2_create_buffers) -> None:
        q = self.queue(c.format.type)
        # vb2_create_bufs (Linux >= 6.8) also reports the queue's max_num_buffers, the first
        # __u32 after flags (our ctypes struct still calls it reserved[0])
        c.capabilities = q.caps() | V4L2_BUF_CAP_SUPPORTS_MAX_NUM_BUFFERS
        c.flags = 0
        c.reserved[0] = q.max_buffers
        if c.memory not in (v.V4L2_MEMORY_MMAP, v.V4L2_MEMORY_DMABUF):
            raise KernelError(_errno.EINVAL, f"CREATE_BUFS: memory {c.memory} is not supported")
        if q.bufs and q.memory != c.memory:
            raise KernelError(_errno.EINVAL, "CREATE_BUFS: memory type differs from the allocated buffers")
        c.index = len(q.bufs)
        if c.count == 0:
            return
        if self.mplane:
            p = c.format.fmt.pix_mp
            if p.num_planes != q.fmt.num_planes:
                raise KernelError(_errno.EINVAL, f"CREATE_BUFS: num_planes {p.num_planes} != {q.fmt.num_planes}")
            sizes = [p.plane_fmt[i].sizeimage for i in range(p.num_planes)]
        else:
            sizes = [c.format.fmt.pix.sizeimage]
        for size, need in zip(sizes, q.fmt.sizeimage):
            if size < need:
                raise KernelError(_errno.EINVAL, f"CREATE_BUFS: sizeimage {size} < {need}")
        q.memory = c.memory
        c.count = q.allocate(c.count, sizes, c.memory)
        if c.count == 0:
            raise KernelError(_errno.ENOBUFS, f"CREATE_BUFS: the queue already has {q.max_buffers} buffers")

    def _buffer(self, b: Any, q: Queue, what: str) -> Buffer:
        if b.index >= len(q.bufs):
            raise KernelError(_errno.EINVAL, f"{what}: no buffer {b.index} (have {len(q.bufs)})")
        return q.bufs[b.index]

    def _user_planes(self, b: v.v4l2_buffer) -> Any:
        """The planes userspace passed: ``b.m.planes``, or the single-planar fields as one."""
        return b.m.planes if self.mplane else [_SinglePlane(b)]

    def _check_planes(self, b: v.v4l2_buffer, buf: Buffer) -> None:
        if not self.mplane:
            return
        if b.length > v.VIDEO_MAX_PLANES:
            raise KernelError(_errno.EINVAL, f"length {b.length} > VIDEO_MAX_PLANES")
        if not b.m.planes:
            raise KernelError(_errno.EFAULT if b.length else _errno.EINVAL,
                              "multi-planar buffer without m.planes")
        if b.length < len(buf.planes):
            raise KernelError(_errno.EINVAL, f"length {b.length} < {len(buf.planes)} planes")

    def fill_buffer(self, b: v.v4l2_buffer, buf: Buffer) -> None:
        """__fill_v4l2_buffer()."""
        q = buf.queue
        b.index = buf.index
        b.type = q.type
        b.memory = q.memory or v.V4L2_MEMORY_MMAP
        b.bytesused = 0
        ns = buf.timestamp_ns
        b.timestamp.tv_sec, b.timestamp.tv_usec = ns // 1_000_000_000, (ns % 1_000_000_000) // 1000
        b.sequence = buf.sequence
        b.field = buf.field
        b.reserved2 = 0
        flags = (buf.flags & _USER_FLAGS) | v.V4L2_BUF_FLAG_TIMESTAMP_COPY
        if buf.state == B.QUEUED:
            flags |= v.V4L2_BUF_FLAG_QUEUED
        elif buf.state == B.IN_REQUEST:
            flags |= v.V4L2_BUF_FLAG_IN_REQUEST
        elif buf.state == B.ERROR:
            flags |= v.V4L2_BUF_FLAG_ERROR | v.V4L2_BUF_FLAG_DONE
        elif buf.state == B.DONE:
            flags |= v.V4L2_BUF_FLAG_DONE
        if buf.last:
            flags |= v.V4L2_BUF_FLAG_LAST
        if buf.mapped():
            flags |= v.V4L2_BUF_FLAG_MAPPED
        if buf.request_fd >= 0:
            flags |= v.V4L2_BUF_FLAG_REQUEST_FD
            b.request_fd = buf.request_fd
        else:
            b.request_fd = 0
        b.flags = flags
        if not self.mplane:   # the one plane in v4l2_buffer itself
            p = buf.planes[0]
            b.bytesused, b.length = p.bytesused, p.length
            if q.memory == v.V4L2_MEMORY_DMABUF:
                b.m.fd = p.dmabuf_fd
            else:
                b.m.offset = p.mem_offset
            return
        b.length = len(buf.planes)
        if b.m.planes:
            for i, p in enumerate(buf.planes):
                up = b.m.planes[i]
                up.bytesused = p.bytesused
                up.length = p.length
                if q.memory == v.V4L2_MEMORY_DMABUF:
                    up.m.fd = p.dmabuf_fd
                else:
                    up.m.mem_offset = p.mem_offset
                up.data_offset = p.data_offset

    def querybuf(self, b: v.v4l2_buffer) -> None:
        q = self.queue(b.type)
        buf = self._buffer(b, q, "QUERYBUF")
        self._check_planes(b, buf)
        self.fill_buffer(b, buf)

    def qbuf(self, b: v.v4l2_buffer) -> None:
        q = self.queue(b.type)
        buf = self._buffer(b, q, "QBUF")
        if b.memory != q.memory:
            raise KernelError(_errno.EINVAL, f"QBUF: memory {b.memory} != queue memory {q.memory}")
        self._check_planes(b, buf)
        ups = self._user_planes(b)
        with_req = bool(b.flags & v.V4L2_BUF_FLAG_REQUEST_FD)
        if with_req and buf.state != B.DEQUEUED:
            raise KernelError(_errno.EINVAL, f"QBUF: buffer {buf.index} is not in dequeued state")
        imports = []
        if q.memory == v.V4L2_MEMORY_DMABUF:   # __prepare_dmabuf(): the fd must map enough memory
            for i, p in enumerate(buf.planes):
                up = ups[i]
                try:
                    size = up.length or os.fstat(up.m.fd).st_size
                except OSError:
                    raise KernelError(_errno.EINVAL, f"QBUF: plane {i}: invalid dmabuf fd {up.m.fd}") from None
                if size < p.length:
                    raise KernelError(_errno.EINVAL, f"QBUF: plane {i}: dmabuf of {size} bytes < {p.length}")
                imports.append((up.m.fd, size))
        # plane payloads (output: bytesused, 0 = whole plane, deprecated)
        used = []
        for i, p in enumerate(buf.planes):
            up = ups[i]
            n = up.bytesused if q.is_output else 0
            if q.is_output and n == 0:
                n = p.length
            if q.is_output and (n > p.length or (up.data_offset and up.data_offset >= n)):
                raise KernelError(_errno.EINVAL, f"QBUF: plane {i} bytesused {n} exceeds length {p.length}")
            used.append((n, up.data_offset if q.is_output else 0))
        req: MediaRequest | None = None
        if not with_req:
            if q.requires_requests:
                raise KernelError(_errno.EBADR, "QBUF: this queue requires requests")
            if q.uses_requests:
                raise KernelError(_errno.EBUSY, "QBUF: the queue is used with requests")
        else:
            if not q.is_output:   # v4l2_m2m_qbuf()
                raise KernelError(_errno.EPERM, "QBUF: requests cannot be used with CAPTURE buffers")
            if not q.supports_requests:
                raise KernelError(_errno.EBADR, "QBUF: this queue does not support requests")
            if q.uses_qbuf:
                raise KernelError(_errno.EBUSY, "QBUF: the queue is used without requests")
            req = self.backend.request_by_fd(self.spec, b.request_fd)
            if req.state != IDLE:
                raise KernelError(_errno.EBUSY, f"QBUF: {req.describe()} is not idle")
        if buf.state not in (B.DEQUEUED,):
            raise KernelError(_errno.EINVAL, f"QBUF: buffer {buf.index} is {buf.state}")
        if req is None:
            # buf_prepare (visl_buf_prepare, vicodec_buf_prepare) at QBUF; a buffer bound to a
            # request is prepared when the request is queued (MEDIA_REQUEST_IOC_QUEUE)
            sizes = [size for _, size in imports] or [p.length for p in buf.planes]
            for i, (size, need) in enumerate(zip(sizes, q.fmt.sizeimage)):
                if size < need:
                    raise KernelError(_errno.EINVAL, f"QBUF: plane {i} size {size} < sizeimage {need} "
                                                     "of the current format")
        # accepted: store metadata (vb2_fill_vb2_v4l2_buffer + copy_timestamp)
        for p, (fd, size) in zip(buf.planes, imports):
            try:
                p.import_dmabuf(fd, size)
            except OSError as e:
                raise KernelError(_errno.EINVAL, f"QBUF: cannot map dmabuf fd {fd}: {e}") from None
        if not q.is_output:   # buf_prepare: payload = the format's sizeimage
            used = [(min(p.length, need), 0) for p, need in zip(buf.planes, q.fmt.sizeimage)]
        if req is not None:
            buf.pending = used                           # prepared when the request is queued
        else:
            for p, (n, off) in zip(buf.planes, used):
                p.bytesused, p.data_offset = n, off
        flags = b.flags & _USER_FLAGS
        if not q.supports_hold:
            flags &= ~v.V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF
        buf.flags = flags
        buf.last = False
        buf.field = v.V4L2_FIELD_NONE if q.is_output else b.field   # visl_buf_out_validate
        buf.request_fd = b.request_fd if with_req else -1
        if q.is_output:
            buf.timestamp_ns = timeval_to_ns(b.timestamp)
            buf.copied_timestamp = False
        else:
            buf.decoded = False        # userspace gave it back: no longer a valid reference
            buf.copied_timestamp = False
            buf.sticky_error = False
        if req is not None:
            q.uses_requests = True
            buf.state = B.IN_REQUEST
            buf.request = req
            req.buffers.append(buf)
        else:
            q.uses_qbuf = True
            buf.state = B.QUEUED
            q.ready.append(buf)
            self.try_run()
        self.fill_buffer(b, buf)

    def dqbuf(self, b: v.v4l2_buffer) -> None:
        q = self.queue(b.type)
        if not q.streaming:
            raise KernelError(_errno.EINVAL, "DQBUF: streaming off, will not wait for buffers")
        if q.last_buffer_dequeued:
            raise KernelError(_errno.EPIPE, "DQBUF: last buffer dequeued already")
        if not q.done:
            if self.nonblock:
                raise KernelError(_errno.EAGAIN, "DQBUF: no buffer is ready")
            self.backend.wait_blocking(lambda: bool(q.done) or not q.streaming, "DQBUF")
            if not q.streaming:
                raise KernelError(_errno.EINVAL, "DQBUF: streaming off, will not wait for buffers")
        buf = q.done[0]
        self._check_planes(b, buf)
        q.done.popleft()
        self.fill_buffer(b, buf)
        b.flags &= ~v.V4L2_BUF_FLAG_DONE        # vb2_dqbuf(): DONE is cleared after DQBUF
        if not q.is_output and buf.last:
            q.last_buffer_dequeued = True
        buf.state = B.DEQUEUED
        buf.request = None
        buf.request_fd = -1

    def expbuf(self, e: v.v4l2_exportbuffer) -> None:
        q = self.queue(e.type)
        if q.memory != v.V4L2_MEMORY_MMAP:
            raise KernelError(_errno.EINVAL, "EXPBUF: only MMAP buffers can be exported")
        if e.index >= len(q.bufs):
            raise KernelError(_errno.EINVAL, f"EXPBUF: no buffer {e.index}")
        buf = q.bufs[e.index]
        if e.plane >= len(buf.planes):
            raise KernelError(_errno.EINVAL, f"EXPBUF: no plane {e.plane}")
        if e.flags & ~(os.O_CLOEXEC | os.O_ACCMODE):
            raise KernelError(_errno.EINVAL, f"EXPBUF: flags {e.flags:#x}")
        e.fd = buf.planes[e.plane].open_fd(bool(e.flags & os.O_CLOEXEC))

    def streamon(self, buf_type: int) -> None:
        q = self.queue(buf_type)
        if q.streaming:
            return
        if not q.bufs:
            raise KernelError(_errno.EINVAL, "STREAMON: no buffers have been allocated")
        q.streaming = True
        q.sequence = 0
        q.last_buffer_dequeued = False
        if not q.is_output:
            f = self.cap.fmt
            self.model.reset(f.width, f.height, f.pixelformat)
        self.try_run()

    def streamoff(self, buf_type: int) -> None:
        q = self.queue(buf_type)
        self._cancel(q)
        q.streaming = False
        q.last_buffer_dequeued = False

    def _cancel(self, q: Queue) -> None:
        """__vb2_queue_cancel(): stop_streaming returns the driver's buffers, all to DEQUEUED."""
        while q.ready:
            buf = q.ready.popleft()
            if q.is_output and buf.request is not None:
                self._complete_request(buf.request)
            buf.held = False
        for buf in q.bufs:
            req = buf.request
            if req is not None and buf.state == B.IN_REQUEST and buf in req.buffers:
                req.buffers.remove(buf)
            buf.state = B.DEQUEUED
            buf.request = None
            buf.pending = None
            buf.copied_timestamp = False
            buf.held = False
            if not q.is_output:
                buf.decoded = False
        q.done.clear()
        q.uses_qbuf = q.uses_requests = False

    # ------------------------------------------------------------------ requests
    def request_queued(self, req: MediaRequest) -> None:
        """req_queue: hand the request's buffers to the queue (v4l2_m2m_request_queue)."""
        for buf in req.buffers:
            if buf.pending is not None:
                for p, (n, off) in zip(buf.planes, buf.pending):
                    p.bytesused, p.data_offset = n, off
                buf.pending = None
            buf.state = B.QUEUED
            buf.queue.ready.append(buf)
        self.try_run()

    def request_unbind(self, req: MediaRequest) -> None:
        """media_request_clean(): buffers still in the request go back to DEQUEUED."""
        for buf in req.buffers:
            if buf.state == B.IN_REQUEST:
                buf.state = B.DEQUEUED
                buf.request = None
                buf.pending = None
        req.buffers = []

    def _complete_request(self, req: MediaRequest) -> None:
        """v4l2_ctrl_request_complete() + the buffer object completing."""
        if req.state != QUEUED:
            return
        vals = dict(self.ctrls.cur)
        if req.ctrl_ctx is self:
            vals.update(req.ctrls)
        req.completed_ctrls = vals
        req.state = COMPLETE
        self.backend.request_completed(req)

    # ------------------------------------------------------------------ m2m scheduling
    def try_run(self) -> None:
        """v4l2_m2m_try_schedule() + device_run, repeated while a job is ready."""
        out, cap = self.out, self.cap
        while out.streaming and cap.streaming and out.ready and cap.ready:
            src, dst = out.ready[0], cap.ready[0]
            if dst.held and dst.copied_timestamp and dst.timestamp_ns != src.timestamp_ns:
                cap.ready.popleft()
                self._buf_done(dst, dst.sticky_error)
                continue
            if src.request is not None and getattr(src.request, "stalled", False):
                return
            self._run_job(src, dst)

    def _capture_view(self, buf: Buffer) -> CaptureView:
        f = self.cap.fmt
        return CaptureView(buf.views(), f.width, f.height, list(f.bytesperline), f.pixelformat,
                           list(f.sizeimage), buf.timestamp_ns, buf.index)

    def _run_job(self, src: Buffer, dst: Buffer) -> None:
        req: MediaRequest | None = src.request
        changed = []
        if req is not None and req.ctrl_ctx is self:          # v4l2_ctrl_request_setup()
            for cid, val in req.ctrls.items():
                if self.ctrls.cur.get(cid) != val:
                    changed.append(cid)
                self.ctrls.cur[cid] = val
        for cid in changed:
            self.ctrl_event(cid, V4L2_EVENT_CTRL_CH_VALUE, from_self=False)
        ctrls = self.ctrls.snapshot()
        # v4l2_m2m_buf_copy_metadata(src, dst, true)
        dst.timestamp_ns = src.timestamp_ns
        dst.copied_timestamp = True
        dst.flags = (dst.flags & ~(_FRAME_FLAGS | v.V4L2_BUF_FLAG_TIMECODE)) | (
            src.flags & (_FRAME_FLAGS | v.V4L2_BUF_FLAG_TIMECODE))
        dst.field = src.field
        holds = bool(src.flags & v.V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF)
        ok = True
        refs: dict[int, CaptureView] = {}
        try:
            wanted = list(self.model.references(ctrls))
        except Exception:
            wanted, ok = [], False
        for ts in wanted:
            ref = self._find_reference(ts, dst)
            if ref is None:
                ok = False
                break
            refs[ts] = self._capture_view(ref)
        if ok:
            p0 = src.planes[0]
            with memoryview(src.views()[0]) as mv:
                bitstream = bytes(mv[p0.data_offset : p0.bytesused])
            job = DecodeJob(ctrls, bitstream, src.timestamp_ns, self._capture_view(dst), refs, holds)
            t0 = time.perf_counter()
            try:
                ok = bool(self.model.decode(job))
            except Exception as e:   # a model bug must not kill the emulated kernel
                self.backend.model_errors.append(e)
                ok = False
            finally:
                self.backend.stats.pixel_seconds += time.perf_counter() - t0
        self.backend.stats.decoded += 1
        if self.backend.faults.on_capture_done():
            ok = False
        error = not ok
        # v4l2_m2m_buf_done_and_job_finish()
        src.sequence = self.out.sequence
        self.out.sequence += 1
        dst.sequence = self.cap.sequence
        self.cap.sequence += 1
        for p, need in zip(dst.planes, self.cap.fmt.sizeimage):   # payload: the format's sizeimage
            p.bytesused = min(p.length, need)
        dst.decoded = True
        dst.held = holds
        if not holds:
            self.cap.ready.popleft()
            self._buf_done(dst, error or dst.sticky_error)
        else:
            dst.sticky_error = dst.sticky_error or error
        self.out.ready.popleft()
        if req is not None:
            self._complete_request(req)
        self._buf_done(src, error)

    def _find_reference(self, ts: int, dst: Buffer) -> Buffer | None:
        for buf in self.cap.bufs:
            if buf.decoded and buf.copied_timestamp and buf.timestamp_ns == ts:
                if buf is dst and not buf.held:
                    continue
                return buf
        return None

    def _buf_done(self, buf: Buffer, error: bool) -> None:
        buf.held = False
        buf.sticky_error = False
        buf.state = B.ERROR if error else B.DONE
        if error and not buf.queue.is_output:
            self.backend.stats.errors += 1
        buf.queue.done.append(buf)

    # ------------------------------------------------------------------ decoder commands
    def decoder_cmd(self, dc: v.v4l2_decoder_cmd, try_only: bool) -> None:
        if not self.spec.decoder_cmd:
            raise KernelError(_errno.ENOTTY, "DECODER_CMD is not implemented by this driver")
        if dc.cmd != v.V4L2_DEC_CMD_FLUSH:
            raise KernelError(_errno.EINVAL, f"stateless decoders only support V4L2_DEC_CMD_FLUSH, not {dc.cmd}")
        dc.flags = 0
        if try_only:
            return
        if self.out.ready:
            last = self.out.ready[-1]
            last.flags &= ~v.V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF
        else:
            if self.cap.ready and self.cap.ready[-1].held:
                dst = self.cap.ready.pop()
                self._buf_done(dst, dst.sticky_error)
            self.queue_event(v.V4L2_EVENT_EOS, 0, b"")    # profile "events" only (subscribed)

    # ------------------------------------------------------------------ events
    def subscribe(self, sub: v.v4l2_event_subscription) -> None:
        self.events.subscribe(sub)

    def unsubscribe(self, sub: v.v4l2_event_subscription) -> None:
        self.events.unsubscribe(sub)

    def dqevent(self, e: v.v4l2_event) -> None:
        self.events.dqevent(e)

    def ctrl_event(self, cid: int, changes: int, from_self: bool) -> None:
        self.events.ctrl_event(cid, changes, from_self)

    def queue_event(self, etype: int, eid: int, data: bytes) -> None:
        self.events.queue(etype, eid, data)

    # ------------------------------------------------------------------ poll / release
    def poll(self, events: int) -> int:
        import select

        rc = 0
        if events & select.POLLPRI and self.events:
            rc |= select.POLLPRI
        if events & (select.POLLIN | select.POLLOUT | select.POLLRDNORM | select.POLLWRNORM):
            out, cap = self.out, self.cap
            out_q = out.streaming and any(b.state in (B.QUEUED, B.DONE, B.ERROR) for b in out.bufs)
            cap_q = cap.streaming and any(b.state in (B.QUEUED, B.DONE, B.ERROR) for b in cap.bufs)
            if not out_q and not cap_q:
                return rc | select.POLLERR
            if cap.last_buffer_dequeued:
                return rc | select.POLLIN | select.POLLRDNORM
            if out.done:
                rc |= select.POLLOUT | select.POLLWRNORM
            if cap.done:
                rc |= select.POLLIN | select.POLLRDNORM
        return rc

    def release(self) -> None:
        """Close of the file handle: stop both queues and free the memory."""
        for q in (self.out, self.cap):
            self._cancel(q)
            q.streaming = False
            q.free_all()
        self.events.clear()


def _fourcc_description(code: int) -> str:
    names = {
        v.V4L2_PIX_FMT_H264_SLICE: "H.264 Parsed Slice Data",
        v.V4L2_PIX_FMT_FWHT_STATELESS: "FWHT Stateless",
        v.V4L2_PIX_FMT_NV12: "Y/UV 4:2:0",
        v.V4L2_PIX_FMT_YUV420: "Planar YUV 4:2:0",
        v.V4L2_PIX_FMT_YVU420: "Planar YVU 4:2:0",
        v.V4L2_PIX_FMT_NV21: "Y/VU 4:2:0",
        v.V4L2_PIX_FMT_GREY: "8-bit Greyscale",
        v.V4L2_PIX_FMT_P010: "10-bit Y/UV 4:2:0",
    }
    return names.get(code, "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)))
