"""The emulated kernel: :class:`EmulatedBackend`, a ``Backend`` with its own device namespace.

``/dev/media0`` + ``/dev/video0``: stateless H.264 decoder "emulated-h264" (like visl: HOLD
_CAPTURE_BUF, requests optional on OUTPUT, stateless FLUSH), model
``pyv4l2req.emulated.h264_model.H264Model``. ``/dev/media1`` + ``/dev/video1``: stateless
FWHT decoder "emulated-fwht" (like vicodec's stateless-decoder: requests required, the
FWHT_PARAMS control required in each request, no decoder commands), model
``pyv4l2req.emulated.fwht_model.FwhtModel``. Both are multiplanar; with
``EmulatedBackend(single_planar=True)`` the FWHT one uses the single-planar API (as vicodec does
by default).

Every fd is real: eventfds stand for video, media and request files, memfds for buffer
memory, EXPBUF returns a dup of a memfd. ``ioctl`` works on the real ctypes structs of
``pyv4l2req.uapi`` and follows their pointers like the kernel does. Errors are raised as
:class:`pyv4l2req.errors.V4L2Error` with the kernel's errno.
"""

from __future__ import annotations

import dataclasses
import errno as _errno
import importlib
import mmap as _mmap
import os
import functools
import select
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import V4L2Error
from ..kernel.backend import ioctl_name
from ..uapi import media as m
from ..uapi import videodev2 as v
from .buffers import DST_QUEUE_OFF_BASE, page_align
from .codec_model import CodecModel
from .faults import FaultPlan, Stats
from .kerror import KernelError
from .m2m import DecoderContext
from .media import COMPLETE, IDLE, QUEUED, VALIDATING, MediaRequest, fill_device_info, fill_topology

__all__ = ["EmulatedBackend", "DeviceSpec", "DEVICES"]

VIDEO_MAJOR = 81
MEDIA_MAJOR = 238


@dataclass(frozen=True)
class DeviceSpec:
    """What distinguishes the emulated drivers (the parts of visl / vicodec that differ)."""

    index: int                     # N of /dev/videoN and /dev/mediaN
    driver: str                    # driver, card, media model, entity name prefix
    model_path: str                # "module:Class" of the default codec model
    codec: str                     # key for EmulatedBackend(models={...})
    requires_requests: bool
    supports_hold: bool
    decoder_cmd: bool              # v4l2_m2m_ioctl_stateless_decoder_cmd present
    selection: bool                # G_SELECTION implemented (vicodec: CAPTURE compose)
    fmt_busy: str = "peer"         # S_FMT EBUSY rule: "peer" (visl) or "own" queue (vicodec)
    derive_capture: bool = True    # S_FMT(OUTPUT) resets the CAPTURE format (visl; not vicodec)
    default_size: tuple[int, int] | None = None   # initial coded size (None: the minimum)
    events: tuple[int, ...] = ()   # event types besides V4L2_EVENT_CTRL
    default_frmsize: tuple[int, int, int, int, int, int] = (64, 4096, 1, 64, 2304, 1)
    #: vicodec: OUTPUT sizeimage is always width * height * this (pixfmt_stateless_fwht), whatever
    #: was asked; 0: visl's rule (the asked sizeimage, or max(256 KiB, width * height * 3) for 0)
    coded_sizeimage_mult: int = 0
    #: vicodec: CAPTURE width/height rounded up to 8 * the chroma subsampling (vic_round_dim);
    #: False: visl's v4l2_apply_frmsize_constraints with the coded format's frmsize
    capture_round_by_subsampling: bool = False
    max_buffers: tuple[int, int] = (32, 32)   # q->max_num_buffers of (OUTPUT, CAPTURE)
    single_planar: bool = False    # single-planar API (vicodec without multiplanar=1)

    @property
    def video_path(self) -> str:
        return f"/dev/video{self.index}"

    @property
    def media_path(self) -> str:
        return f"/dev/media{self.index}"

    def frmsize(self, model: CodecModel) -> tuple[int, int, int, int, int, int]:
        """(min_w, max_w, step_w, min_h, max_h, step_h): the model's ``frmsize`` or default."""
        return tuple(getattr(model, "frmsize", None) or self.default_frmsize)  # type: ignore[return-value]


DEVICES: tuple[DeviceSpec, ...] = (
    DeviceSpec(0, "emulated-h264", "pyv4l2req.emulated.h264_model:H264Model", "h264",
               requires_requests=False, supports_hold=True, decoder_cmd=True, selection=False,
               default_size=(640, 360)),   # visl's initial coded size (its first coded format, FWHT)
    DeviceSpec(1, "emulated-fwht", "pyv4l2req.emulated.fwht_model:FwhtModel", "fwht",
               requires_requests=True, supports_hold=False, decoder_cmd=False, selection=True, fmt_busy="own",
               derive_capture=False, default_size=(1280, 720),
               default_frmsize=(640, 4096, 8, 360, 2160, 8), coded_sizeimage_mult=4,
               capture_round_by_subsampling=True, max_buffers=(32, 64)),
)


#: "visl": faithful to visl / vicodec (Linux 6.12): only control events.
#: "events": like drivers that also signal V4L2_EVENT_SOURCE_CHANGE (the OUTPUT coded size
#: changed by S_FMT) and V4L2_EVENT_EOS (a FLUSH completed), e.g. MediaTek's stateless decoder.
PROFILES: dict[str, tuple[DeviceSpec, ...]] = {
    "visl": DEVICES,
    "events": tuple(dataclasses.replace(d, events=(v.V4L2_EVENT_SOURCE_CHANGE, v.V4L2_EVENT_EOS))
                    for d in DEVICES),
}


@dataclass
class _File:
    kind: str                      # "video" | "media" | "request"
    spec: DeviceSpec
    ctx: DecoderContext | None = None
    req: MediaRequest | None = None
    handlers: tuple | None = None  # (ctx, ctx.ctrls, {ioctl: handler}) built by _video_ioctl


class _Mapping(_mmap.mmap):
    """A mapped plane; closing it drops the plane's V4L2_BUF_FLAG_MAPPED count."""

    _plane: Any = None

    def close(self) -> None:
        p = self._plane
        if p is not None:
            self._plane = None
            p.maps = max(0, p.maps - 1)
        super().close()


def _locked(fn):
    """Run a backend entry point under the backend's lock and wake waiters afterwards."""

    @functools.wraps(fn)
    def wrapper(self, *a, **kw):
        with self._cond:
            try:
                return fn(self, *a, **kw)
            finally:
                self._cond.notify_all()

    return wrapper


class EmulatedBackend:
    """A fake kernel with stateless decoders, implementing ``pyv4l2req.kernel.Backend``.

    Thread-safe: every entry point runs under one lock (like the kernel's per-device mutex);
    ``poll`` and a blocking DQBUF (fd opened without O_NONBLOCK) wait on a condition that any
    other entry point signals. A blocking DQBUF with no other thread alive would wait forever
    (as it would in the kernel) and fails with EAGAIN instead.
    """

    name = "emulated"

    def __init__(self, *, profile: str = "visl", faults: FaultPlan | None = None,
                 models: dict[str, Callable[[], CodecModel]] | None = None, single_planar: bool = False,
                 pixels: bool = True) -> None:
        """*single_planar*: the FWHT decoder uses the single-planar API (V4L2_CAP_VIDEO_M2M,
        V4L2_BUF_TYPE_VIDEO_OUTPUT / _CAPTURE) like vicodec does by default; the H.264 one is
        always multiplanar like visl. *pixels*: ``False`` makes the H.264 device check and
        complete requests without decoding any pixel, like visl (CAPTURE buffers untouched)."""
        if profile not in PROFILES:
            raise ValueError(f"unknown emulated device profile {profile!r} (one of {sorted(PROFILES)})")
        self.profile = profile
        self.devices = tuple(dataclasses.replace(d, single_planar=True) if single_planar and d.codec == "fwht"
                             else d for d in PROFILES[profile])
        self.faults = faults if faults is not None else FaultPlan()
        self.stats = Stats()
        self.model_errors: list[BaseException] = []   # exceptions raised by CodecModel.decode
        self._models = dict(models or {})
        if not pixels and "h264" not in self._models:
            from .h264_model import H264Model

            self._models["h264"] = lambda: H264Model(pixels=False)
        self._files: dict[int, _File] = {}
        self._requests: dict[int, MediaRequest] = {}  # queued requests whose fd was closed, by id
        self._serial = 0
        self._cond = threading.Condition(threading.RLock())

    # ------------------------------------------------------------------ namespace
    def device_nodes(self, kind: str) -> list[str]:
        if kind == "media":
            return [d.media_path for d in self.devices]
        if kind == "video":
            return [d.video_path for d in self.devices]
        return []

    def devnode_path(self, major: int, minor: int) -> str | None:
        for d in self.devices:
            if (major, minor) == (VIDEO_MAJOR, d.index):
                return d.video_path
            if (major, minor) == (MEDIA_MAJOR, d.index):
                return d.media_path
        return None

    def device_number(self, path: str) -> tuple[int, int] | None:
        for d in self.devices:
            if path == d.video_path:
                return (VIDEO_MAJOR, d.index)
            if path == d.media_path:
                return (MEDIA_MAJOR, d.index)
        return None

    def _model(self, spec: DeviceSpec) -> CodecModel:
        factory = self._models.get(spec.codec)
        if factory is None:
            mod, _, cls = spec.model_path.partition(":")
            try:
                factory = getattr(importlib.import_module(mod), cls)
            except (ImportError, AttributeError) as e:
                raise V4L2Error(_errno.ENODEV, "open", f"{spec.video_path}: codec model {spec.model_path} "
                                f"is not available ({e})") from None
        return factory()

    # ------------------------------------------------------------------ files
    @_locked
    def open(self, path: str, flags: int = os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC) -> int:
        err = self.faults.check("open")
        if err:
            raise V4L2Error(err, "open", f"{path} (injected fault)")
        for d in self.devices:
            if path == d.video_path:
                model = self._model(d)
                fd = os.eventfd(0, os.EFD_CLOEXEC)
                self._files[fd] = _File("video", d, ctx=DecoderContext(self, d, model, fd, bool(flags & os.O_NONBLOCK)))
                return fd
            if path == d.media_path:
                fd = os.eventfd(0, os.EFD_CLOEXEC)
                self._files[fd] = _File("media", d)
                return fd
        raise V4L2Error(_errno.ENOENT, "open", f"{path}: no such emulated device")

    @_locked
    def close(self, fd: int) -> None:
        f = self._files.pop(fd, None)
        if f is not None:
            if f.kind == "video" and f.ctx is not None:
                f.ctx.release()
                for req in list(self._all_requests()):
                    if req.ctrl_ctx is f.ctx:
                        req.ctrl_ctx = None
                        req.ctrls = {}
            elif f.kind == "request" and f.req is not None:
                req = f.req
                req.fd_open = False
                if req.state in (QUEUED, VALIDATING) or (req.state == IDLE and req.buffers):
                    # a queued request lives on until it completes; an idle one with bound
                    # buffers is kept alive by them (vb->request) until the queue is cancelled
                    self._requests[id(req)] = req
                else:
                    self._clean_request(req)
        os.close(fd)

    def _all_requests(self):
        for f in self._files.values():
            if f.req is not None:
                yield f.req
        yield from self._requests.values()

    def _ctx_of(self, req: MediaRequest) -> DecoderContext | None:
        for b in req.buffers:
            for f in self._files.values():
                if f.ctx is not None and (b.queue is f.ctx.out or b.queue is f.ctx.cap):
                    return f.ctx
        return req.ctrl_ctx if isinstance(req.ctrl_ctx, DecoderContext) else None

    def _clean_request(self, req: MediaRequest) -> None:
        ctx = self._ctx_of(req)
        if ctx is not None:
            ctx.request_unbind(req)
        req.buffers = []
        req.ctrls = {}
        req.ctrl_ctx = None
        req.completed_ctrls = None

    def request_completed(self, req: MediaRequest) -> None:
        """Called by a context when a request reaches COMPLETE."""
        if not req.fd_open:
            self._requests.pop(id(req), None)
            self._clean_request(req)

    def request_by_fd(self, spec: DeviceSpec, fd: int) -> MediaRequest:
        """media_request_get_by_fd(): EINVAL for anything but a request of this media device."""
        f = self._files.get(fd)
        if fd < 0 or f is None or f.kind != "request" or f.req is None or f.spec is not spec:
            raise KernelError(_errno.EINVAL, f"request_fd {fd} is not a request of {spec.media_path}")
        return f.req

    # ------------------------------------------------------------------ mmap / poll
    @_locked
    def mmap(self, fd: int, length: int, offset: int) -> _Mapping:
        err = self.faults.check("mmap")
        if err:
            raise V4L2Error(err, "mmap", "injected fault")
        f = self._files.get(fd)
        if f is None or f.ctx is None:
            raise V4L2Error(_errno.ENODEV, "mmap", f"fd {fd} is not an emulated video device")
        q = f.ctx.cap if offset >= DST_QUEUE_OFF_BASE else f.ctx.out
        plane = q.find_by_offset(offset) if q.memory == v.V4L2_MEMORY_MMAP else None
        if plane is None or length == 0 or length > page_align(plane.length):
            raise V4L2Error(_errno.EINVAL, "mmap", f"length {length} offset {offset:#x}: no such plane")
        pfd = plane.open_fd()
        try:
            mp = _Mapping(pfd, length, flags=_mmap.MAP_SHARED, prot=_mmap.PROT_READ | _mmap.PROT_WRITE)
        finally:
            os.close(pfd)
        mp._plane = plane
        plane.maps += 1
        return mp

    def _revents(self, fd: int, events: int) -> int | None:
        f = self._files.get(fd)
        if f is None:
            return None
        if f.kind == "video" and f.ctx is not None:
            rc = f.ctx.poll(events)
        elif f.kind == "request" and f.req is not None:
            rc = 0
            if events & select.POLLPRI:
                if f.req.state == COMPLETE:
                    rc = select.POLLPRI
                elif f.req.state != QUEUED:
                    rc = select.POLLERR
        else:
            rc = 0
        return rc & (events | select.POLLERR | select.POLLHUP)

    def poll(self, fds: Sequence[tuple[int, int]], timeout_ms: int | None) -> list[tuple[int, int]]:
        ours = [(fd, ev) for fd, ev in fds if fd in self._files]
        real = [(fd, ev) for fd, ev in fds if fd not in self._files]
        deadline = None if timeout_ms is None or timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        while True:
            ready = []
            with self._cond:
                for fd, ev in ours:
                    rc = self._revents(fd, ev)
                    if rc:
                        ready.append((fd, rc))
                if not ready and not real:
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        return []
                    self._cond.wait(None if deadline is None else deadline - now)
                    continue
            if real:
                p = select.poll()
                for fd, ev in real:
                    p.register(fd, ev)
                ready += p.poll(0 if ready else 10)
            if ready:
                return ready
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return []

    # ------------------------------------------------------------------ ioctl
    @_locked
    def ioctl(self, fd: int, request: int, arg: Any = None) -> int:
        name = ioctl_name(request)
        self.stats.ioctls[name] += 1
        f = self._files.get(fd)
        if f is None:
            raise V4L2Error(_errno.ENOTTY if _is_fd(fd) else _errno.EBADF, name, f"fd {fd} is not an emulated device")
        err = self.faults.check(name)
        if err:
            raise V4L2Error(err, name, "injected fault")
        try:
            if f.kind == "video":
                return self._video_ioctl(f, request, arg) or 0
            if f.kind == "media":
                return self._media_ioctl(f, request, arg) or 0
            return self._request_ioctl(f, request) or 0
        except KernelError as e:
            raise V4L2Error(e.errno, name, e.detail) from None

    def _media_ioctl(self, f: _File, request: int, arg: Any) -> None:
        spec = f.spec
        if request == m.MEDIA_IOC_DEVICE_INFO:
            fill_device_info(arg, spec.driver)
        elif request == m.MEDIA_IOC_G_TOPOLOGY:
            fill_topology(arg, spec.driver, VIDEO_MAJOR, spec.index)
        elif request == m.MEDIA_IOC_REQUEST_ALLOC:
            fd = os.eventfd(0, os.EFD_CLOEXEC)
            self._serial += 1
            req = MediaRequest(fd, spec.index, self._serial)
            self._files[fd] = _File("request", spec, req=req)
            arg.value = fd
        else:
            raise KernelError(_errno.ENOTTY, f"{ioctl_name(request)} is not a media device ioctl")

    def _request_ioctl(self, f: _File, request: int) -> None:
        req = f.req
        assert req is not None
        if request == m.MEDIA_REQUEST_IOC_QUEUE:
            self._queue_request(f.spec, req)
        elif request == m.MEDIA_REQUEST_IOC_REINIT:
            if req.state not in (IDLE, COMPLETE):
                raise KernelError(_errno.EBUSY, f"REINIT: {req.describe()} is not idle or complete")
            self._clean_request(req)
            req.state = IDLE
        else:
            raise KernelError(_errno.ENOTTY, f"{ioctl_name(request)} is not a request ioctl")

    def _queue_request(self, spec: DeviceSpec, req: MediaRequest) -> None:
        if req.state != IDLE:
            raise KernelError(_errno.EBUSY, f"QUEUE: unable to queue {req.describe()}")
        req.state = VALIDATING
        try:
            ctx = self._ctx_of(req) if req.buffers else None
            if ctx is None or not req.buffers:
                raise KernelError(_errno.ENOENT, "QUEUE: no buffer was provided with the request")
            if len(req.buffers) > 1:
                raise KernelError(_errno.EINVAL, "QUEUE: more than one buffer was provided with the request")
            for cid in ctx.model.required_controls:
                if req.ctrl_ctx is not ctx or cid not in req.ctrls:
                    raise KernelError(_errno.ENOENT, f"QUEUE: missing required codec control {cid:#x}")
            buf = req.buffers[0]
            fmt = buf.queue.fmt
            for p, need in zip(buf.planes, fmt.sizeimage):
                if p.length < need:
                    raise KernelError(_errno.EINVAL, f"QUEUE: plane size {p.length} < sizeimage {need}")
        except KernelError:
            req.state = IDLE
            raise
        req.state = QUEUED
        req.stalled = self.faults.on_request_queued()
        ctx.request_queued(req)

    def _ext_ctrls(self, f: _File, request: int, cs: v.v4l2_ext_controls) -> None:
        ctx = f.ctx
        assert ctx is not None
        h = ctx.ctrls
        if cs.which == v.V4L2_CTRL_WHICH_REQUEST_VAL:
            cs.error_idx = cs.count
            if cs.request_fd < 0:
                raise KernelError(_errno.EINVAL, f"invalid request fd {cs.request_fd}")
            req = self.request_by_fd(f.spec, cs.request_fd)
            if request == v.VIDIOC_G_EXT_CTRLS:
                if req.state != COMPLETE:
                    raise KernelError(_errno.EACCES, f"G_EXT_CTRLS: {req.describe()} is not complete")
                vals = req.completed_ctrls if req.completed_ctrls is not None else dict(h.cur)
                h.get_ext_ctrls(cs, vals)
                return
            if req.state != IDLE:
                raise KernelError(_errno.EBUSY, f"{ioctl_name(request)}: {req.describe()} is not idle")
            if req.ctrl_ctx is not None and req.ctrl_ctx is not ctx:
                raise KernelError(_errno.EINVAL, "the request already carries another file handle's controls")
            target = dict(h.cur)
            target.update(req.ctrls)
            stored = h.try_set_ext_ctrls(cs, request == v.VIDIOC_S_EXT_CTRLS, target)
            if stored:
                req.ctrl_ctx = ctx
                for cid in stored:
                    req.ctrls[cid] = target[cid]
            return
        if request == v.VIDIOC_G_EXT_CTRLS:
            h.get_ext_ctrls(cs, None if cs.which == v.V4L2_CTRL_WHICH_DEF_VAL else h.cur)
            return
        if request == v.VIDIOC_TRY_EXT_CTRLS:
            h.try_set_ext_ctrls(cs, False, None)
            return
        before = dict(h.cur)
        stored = h.try_set_ext_ctrls(cs, True, h.cur)
        for cid in stored:
            if before.get(cid) != h.cur[cid]:
                ctx.ctrl_event(cid, 1, from_self=True)

    def _video_ioctl(self, f: _File, request: int, arg: Any) -> None:
        ctx = f.ctx
        assert ctx is not None
        cached = f.handlers
        if cached is not None and cached[0] is ctx and cached[1] is ctx.ctrls:
            handlers = cached[2]
        else:
            handlers = self._video_handlers(f, ctx)
            f.handlers = (ctx, ctx.ctrls, handlers)
        h = handlers.get(request)
        if h is None:
            raise KernelError(_errno.ENOTTY, f"{ioctl_name(request)} is not implemented by {f.spec.driver}")
        if arg is None:
            raise KernelError(_errno.EFAULT, f"{ioctl_name(request)} needs an argument")
        h(arg)

    def _video_handlers(self, f: _File, ctx: DecoderContext) -> dict[int, Callable[[Any], None]]:
        """The video ioctls of file handle *f* (built once per handle, see _video_ioctl)."""
        return {
            v.VIDIOC_QUERYCAP: ctx.querycap,
            v.VIDIOC_ENUM_FMT: ctx.enum_fmt,
            v.VIDIOC_ENUM_FRAMESIZES: ctx.enum_framesizes,
            v.VIDIOC_G_FMT: ctx.g_fmt,
            v.VIDIOC_S_FMT: ctx.s_fmt,
            v.VIDIOC_TRY_FMT: ctx.try_fmt,
            v.VIDIOC_REQBUFS: ctx.reqbufs,
            v.VIDIOC_CREATE_BUFS: ctx.create_bufs,
            v.VIDIOC_QUERYBUF: ctx.querybuf,
            v.VIDIOC_QBUF: ctx.qbuf,
            v.VIDIOC_DQBUF: ctx.dqbuf,
            v.VIDIOC_EXPBUF: ctx.expbuf,
            v.VIDIOC_STREAMON: lambda a: ctx.streamon(a.value),
            v.VIDIOC_STREAMOFF: lambda a: ctx.streamoff(a.value),
            v.VIDIOC_QUERY_EXT_CTRL: ctx.ctrls.query_ext_ctrl,
            v.VIDIOC_QUERYMENU: ctx.ctrls.querymenu,
            v.VIDIOC_G_EXT_CTRLS: lambda a: self._ext_ctrls(f, v.VIDIOC_G_EXT_CTRLS, a),
            v.VIDIOC_S_EXT_CTRLS: lambda a: self._ext_ctrls(f, v.VIDIOC_S_EXT_CTRLS, a),
            v.VIDIOC_TRY_EXT_CTRLS: lambda a: self._ext_ctrls(f, v.VIDIOC_TRY_EXT_CTRLS, a),
            v.VIDIOC_SUBSCRIBE_EVENT: ctx.subscribe,
            v.VIDIOC_UNSUBSCRIBE_EVENT: ctx.unsubscribe,
            v.VIDIOC_DQEVENT: ctx.dqevent,
            v.VIDIOC_DECODER_CMD: lambda a: ctx.decoder_cmd(a, False),
            v.VIDIOC_TRY_DECODER_CMD: lambda a: ctx.decoder_cmd(a, True),
            v.VIDIOC_G_SELECTION: ctx.g_selection,
        }

    def wait_blocking(self, ready: Callable[[], bool], what: str) -> None:
        """Block inside an ioctl until *ready()* (another thread must make it true)."""
        while not ready():
            if threading.active_count() < 2:
                raise KernelError(_errno.EAGAIN, f"{what}: nothing is ready and no other thread can "
                                                 "change that (a blocking call would hang forever)")
            self._cond.wait(0.1)

    # ------------------------------------------------------------------ introspection
    def open_fds(self) -> list[int]:
        """File descriptors this backend currently holds for the caller (for leak checks)."""
        return sorted(self._files)


def _is_fd(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
