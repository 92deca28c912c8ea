"""A V4L2 video device node: capabilities, formats, controls, events, decoder commands.

:class:`VideoDevice` wraps one ``/dev/videoN`` opened through a :class:`Backend`. At open it
reads ``VIDIOC_QUERYCAP`` and the OUTPUT queue's buffer capabilities (``VIDIOC_REQBUFS`` with
count 0 on the fresh file handle, else ``VIDIOC_CREATE_BUFS`` with count 0), which tell whether
the device supports media requests (``V4L2_BUF_CAP_SUPPORTS_REQUESTS``) and
``V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF``.

Controls travel as ``int`` for plain controls and ``bytes`` (the C struct) for compound and
array controls; ``request=`` puts them in a media request (``V4L2_CTRL_WHICH_REQUEST_VAL``).
Errors name the ioctl and, where the kernel says which (``error_idx``), the control.
:class:`ControlSet` (``VideoDevice.prepare_controls``) is ``VIDIOC_S_EXT_CTRLS`` of a fixed
list of compound controls with every argument allocated once: the caller writes the payloads
in place (``struct.pack_into``, slice assignment) and calls ``apply`` for each request.
"""

from __future__ import annotations

import ctypes
import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from ..errors import V4L2Error
from ..kernel.backend import Backend
from ..uapi import controls as C
from ..uapi import videodev2 as v

if TYPE_CHECKING:  # pragma: no cover
    from .queue import Queue
    from .request import Request

__all__ = ["VideoDevice", "ControlSet", "FmtDesc", "Format", "FrameSize", "ControlInfo", "Event", "Rect"]


def _s(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class FmtDesc:
    """``struct v4l2_fmtdesc``."""

    pixelformat: int
    description: str
    flags: int


@dataclass(frozen=True, slots=True)
class FrameSize:
    """``struct v4l2_frmsizeenum`` (a discrete size has min == max and step 0)."""

    type: int
    min_width: int
    max_width: int
    step_width: int
    min_height: int
    max_height: int
    step_height: int


@dataclass(frozen=True, slots=True)
class Format:
    """A ``v4l2_format`` of either planarity, per plane for bytesperline/sizeimage."""

    type: int
    pixelformat: int
    width: int
    height: int
    num_planes: int
    bytesperline: list[int]
    sizeimage: list[int]
    field: int = v.V4L2_FIELD_NONE


@dataclass(frozen=True, slots=True)
class ControlInfo:
    """``struct v4l2_query_ext_ctrl``."""

    id: int
    type: int
    name: str
    minimum: int
    maximum: int
    step: int
    default_value: int
    flags: int
    elem_size: int
    elems: int
    nr_of_dims: int
    dims: tuple[int, ...]

    @property
    def has_payload(self) -> bool:
        return bool(self.flags & v.V4L2_CTRL_FLAG_HAS_PAYLOAD)

    @property
    def payload_size(self) -> int:
        return self.elem_size * self.elems


@dataclass(frozen=True, slots=True)
class Event:
    """``struct v4l2_event`` (``changes`` is filled for SOURCE_CHANGE and CTRL events)."""

    type: int
    id: int
    sequence: int
    pending: int
    timestamp_ns: int
    changes: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Rect:
    left: int
    top: int
    width: int
    height: int


ControlValue = int | bytes
_VIDIOC_S_EXT_CTRLS = v.VIDIOC_S_EXT_CTRLS


class ControlSet:
    """``VIDIOC_S_EXT_CTRLS`` of fixed-size compound controls, prepared once, applied per request.

    The ``v4l2_ext_controls``, its ``v4l2_ext_control`` array and one payload buffer per
    control are allocated here and reused: ``payloads[i]`` is a writable byte memoryview of
    control ``cids[i]``'s payload (exactly ``payload_size`` bytes) that the caller fills before
    each :meth:`apply`. The kernel copies the stored (normalised) value back into the payload
    after a successful call, so write every payload again before the next one. Not for
    concurrent use by several threads. Errors are those of :meth:`VideoDevice.set_controls`.
    """

    def __init__(self, dev: "VideoDevice", cids: Sequence[int]) -> None:
        self.dev = dev
        self.cids = tuple(cids)
        n = len(self.cids)
        if n == 0:
            raise ValueError("a control set needs at least one control")
        arr = self._arr = (v.v4l2_ext_control * n)()
        self._bufs: list[ctypes.Array] = []
        self.payloads: list[memoryview] = []
        for i, cid in enumerate(self.cids):
            info = dev.query_ext_ctrl(cid)
            if not info.has_payload or info.flags & v.V4L2_CTRL_FLAG_DYNAMIC_ARRAY:
                raise ValueError(f"control {dev._cname(cid)} is not a fixed-size compound control "
                                 f"(use VideoDevice.set_controls)")
            buf = (ctypes.c_ubyte * info.payload_size)()
            self._bufs.append(buf)
            self.payloads.append(memoryview(buf).cast("B"))
            arr[i].id = cid
            arr[i].size = info.payload_size
            arr[i].ptr = ctypes.addressof(buf)
        ec = self._ec = v.v4l2_ext_controls()
        ec.count = n
        ec.controls = ctypes.cast(arr, ctypes.POINTER(v.v4l2_ext_control))
        # the kernel may write into the array (sizes after ENOSPC, reserved2): every call
        # starts from these bytes
        self._raw_arr = memoryview(arr).cast("B")
        self._fresh_arr = bytes(self._raw_arr)
        self._ioctl = dev.backend.ioctl
        self._fd = dev.fd
        self._target: object = ()  # the request_fd of the last apply (() before the first)

    def apply(self, request_fd: int | None = None) -> None:
        """VIDIOC_S_EXT_CTRLS of the payloads as they are now, into the media request
        *request_fd* (``V4L2_CTRL_WHICH_REQUEST_VAL``) or, with None, the current values."""
        self._raw_arr[:] = self._fresh_arr
        ec = self._ec
        target = self._target
        if request_fd != target:  # which/request_fd as the last call left them otherwise
            if request_fd is None:
                ec.which = v.V4L2_CTRL_WHICH_CUR_VAL
                ec.request_fd = 0
            else:
                # from one request to the next (a decoder's requests take turns) only
                # request_fd changes: which is set when coming from the current values
                if target is None or target == ():
                    ec.which = v.V4L2_CTRL_WHICH_REQUEST_VAL
                ec.request_fd = request_fd
            self._target = request_fd
        try:
            self._ioctl(self._fd, _VIDIOC_S_EXT_CTRLS, ec)
        except V4L2Error as e:
            raise self.dev._controls_error(e, self.cids, ec, request_fd is not None) from None

    def __repr__(self) -> str:
        return f"ControlSet({', '.join(self.dev._cname(c) for c in self.cids)})"


class VideoDevice:
    """One V4L2 video device node (see module docstring)."""

    def __init__(self, backend: Backend, path: str) -> None:
        self.backend = backend
        self.path = path
        self.fd: int = backend.open(path)
        self.closed = False
        self._queues: set["Queue"] = set()
        self._ctrl_info: dict[int, ControlInfo] = {}
        try:
            cap = v.v4l2_capability()
            backend.ioctl(self.fd, v.VIDIOC_QUERYCAP, cap)
            self.driver = _s(cap.driver)
            self.card = _s(cap.card)
            self.bus_info = _s(cap.bus_info)
            self.version = cap.version
            self.caps = cap.device_caps if cap.capabilities & v.V4L2_CAP_DEVICE_CAPS else cap.capabilities
            self.is_multiplanar = bool(
                self.caps & v.V4L2_CAP_VIDEO_M2M_MPLANE
                or (self.caps & v.V4L2_CAP_VIDEO_CAPTURE_MPLANE and self.caps & v.V4L2_CAP_VIDEO_OUTPUT_MPLANE)
            )
            self.is_m2m = bool(
                self.caps & (v.V4L2_CAP_VIDEO_M2M | v.V4L2_CAP_VIDEO_M2M_MPLANE)
                or (self.caps & v.V4L2_CAP_VIDEO_CAPTURE and self.caps & v.V4L2_CAP_VIDEO_OUTPUT)
                or self.is_multiplanar
            )
            mp = self.is_multiplanar
            self.output_type = v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE if mp else v.V4L2_BUF_TYPE_VIDEO_OUTPUT
            self.capture_type = v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE if mp else v.V4L2_BUF_TYPE_VIDEO_CAPTURE
            self.output_buf_caps = self._probe_buf_caps(self.output_type) if self.is_m2m else 0
        except BaseException:
            self.closed = True
            backend.close(self.fd)
            raise

    # -- capabilities ------------------------------------------------------------------------
    def _probe_buf_caps(self, buf_type: int) -> int:
        """Buffer capabilities of a queue, without allocating: REQBUFS(0), else CREATE_BUFS(0)."""
        rb = v.v4l2_requestbuffers()
        rb.count, rb.type, rb.memory = 0, buf_type, v.V4L2_MEMORY_MMAP
        try:
            self.backend.ioctl(self.fd, v.VIDIOC_REQBUFS, rb)
            return rb.capabilities
        except V4L2Error:
            pass
        cb = v.v4l2_create_buffers()
        cb.count, cb.memory = 0, v.V4L2_MEMORY_MMAP
        cb.format.type = buf_type
        try:
            self.backend.ioctl(self.fd, v.VIDIOC_G_FMT, cb.format)
            self.backend.ioctl(self.fd, v.VIDIOC_CREATE_BUFS, cb)
            return cb.capabilities
        except V4L2Error:
            return 0

    @property
    def supports_requests(self) -> bool:
        return bool(self.output_buf_caps & v.V4L2_BUF_CAP_SUPPORTS_REQUESTS)

    @property
    def supports_hold(self) -> bool:
        return bool(self.output_buf_caps & v.V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF)

    # -- formats -----------------------------------------------------------------------------
    def enum_formats(self, buf_type: int) -> list[FmtDesc]:
        out = []
        for i in range(256):
            d = v.v4l2_fmtdesc()
            d.index, d.type = i, buf_type
            try:
                self.backend.ioctl(self.fd, v.VIDIOC_ENUM_FMT, d)
            except V4L2Error as e:
                if e.errno == errno.EINVAL:
                    break
                raise
            out.append(FmtDesc(d.pixelformat, _s(d.description), d.flags))
        return out

    def enum_framesizes(self, fourcc: int) -> list[FrameSize]:
        out = []
        for i in range(256):
            f = v.v4l2_frmsizeenum()
            f.index, f.pixel_format = i, fourcc
            try:
                self.backend.ioctl(self.fd, v.VIDIOC_ENUM_FRAMESIZES, f)
            except V4L2Error as e:
                if e.errno in (errno.EINVAL, errno.ENOTTY):
                    break
                raise
            if f.type == v.V4L2_FRMSIZE_TYPE_DISCRETE:
                w, h = f.discrete.width, f.discrete.height
                out.append(FrameSize(f.type, w, w, 0, h, h, 0))
            else:
                s = f.stepwise
                out.append(FrameSize(f.type, s.min_width, s.max_width, s.step_width,
                                     s.min_height, s.max_height, s.step_height))
                break  # stepwise/continuous: index 0 only
        return out

    @staticmethod
    def _to_format(f: v.v4l2_format) -> Format:
        if v.V4L2_TYPE_IS_MULTIPLANAR(f.type):
            p = f.fmt.pix_mp
            n = p.num_planes
            return Format(f.type, p.pixelformat, p.width, p.height, n,
                          [p.plane_fmt[i].bytesperline for i in range(n)],
                          [p.plane_fmt[i].sizeimage for i in range(n)], p.field)
        p = f.fmt.pix
        return Format(f.type, p.pixelformat, p.width, p.height, 1, [p.bytesperline], [p.sizeimage], p.field)

    def _raw_fmt(self, buf_type: int) -> v.v4l2_format:
        f = v.v4l2_format()
        f.type = buf_type
        self.backend.ioctl(self.fd, v.VIDIOC_G_FMT, f)
        return f

    def g_fmt(self, buf_type: int) -> Format:
        return self._to_format(self._raw_fmt(buf_type))

    def _set_fmt(self, req: int, buf_type: int, fourcc: int, width: int, height: int,
                 sizeimage: int | None) -> Format:
        f = self._raw_fmt(buf_type)  # keep the driver's colorimetry etc.
        if v.V4L2_TYPE_IS_MULTIPLANAR(buf_type):
            p = f.fmt.pix_mp
            p.pixelformat, p.width, p.height, p.field = fourcc, width, height, v.V4L2_FIELD_NONE
            if sizeimage is not None:
                p.num_planes = 1
                p.plane_fmt[0].sizeimage = sizeimage
                p.plane_fmt[0].bytesperline = 0
        else:
            p = f.fmt.pix
            p.pixelformat, p.width, p.height, p.field = fourcc, width, height, v.V4L2_FIELD_NONE
            p.bytesperline = 0
            p.sizeimage = sizeimage or 0
        try:
            self.backend.ioctl(self.fd, req, f)
        except V4L2Error as e:
            from ..uapi.ioc import fourcc_str

            raise V4L2Error(e.errno, e.op, f"type {buf_type} {fourcc_str(fourcc)} {width}x{height}") from None
        return self._to_format(f)

    def s_fmt(self, buf_type: int, fourcc: int, width: int, height: int, sizeimage: int | None = None) -> Format:
        """VIDIOC_S_FMT; returns the format the driver chose."""
        return self._set_fmt(v.VIDIOC_S_FMT, buf_type, fourcc, width, height, sizeimage)

    def try_fmt(self, buf_type: int, fourcc: int, width: int, height: int, sizeimage: int | None = None) -> Format:
        """VIDIOC_TRY_FMT; returns the format the driver would choose."""
        return self._set_fmt(v.VIDIOC_TRY_FMT, buf_type, fourcc, width, height, sizeimage)

    # -- controls -------------------------------------------------------------------------
    def query_ext_ctrl(self, cid: int) -> ControlInfo:
        """VIDIOC_QUERY_EXT_CTRL (cached per control id)."""
        info = self._ctrl_info.get(cid)
        if info is None:
            q = v.v4l2_query_ext_ctrl()
            q.id = cid
            try:
                self.backend.ioctl(self.fd, v.VIDIOC_QUERY_EXT_CTRL, q)
            except V4L2Error as e:
                raise V4L2Error(e.errno, e.op, f"control {self._cname(cid)}") from None
            info = self._info(q)
            self._ctrl_info[cid] = info
        return info

    @staticmethod
    def _info(q: v.v4l2_query_ext_ctrl) -> ControlInfo:
        return ControlInfo(q.id, q.type, _s(q.name), q.minimum, q.maximum, q.step, q.default_value, q.flags,
                           q.elem_size, q.elems, q.nr_of_dims, tuple(q.dims[: q.nr_of_dims]))

    def list_controls(self) -> list[ControlInfo]:
        """Every control (V4L2_CTRL_FLAG_NEXT_CTRL | NEXT_COMPOUND enumeration)."""
        out = []
        cid = 0
        for _ in range(4096):
            q = v.v4l2_query_ext_ctrl()
            q.id = cid | v.V4L2_CTRL_FLAG_NEXT_CTRL | v.V4L2_CTRL_FLAG_NEXT_COMPOUND
            try:
                self.backend.ioctl(self.fd, v.VIDIOC_QUERY_EXT_CTRL, q)
            except V4L2Error as e:
                if e.errno == errno.EINVAL:
                    break
                raise
            info = self._info(q)
            self._ctrl_info.setdefault(info.id, info)
            out.append(info)
            cid = q.id
        return out

    def _cname(self, cid: int) -> str:
        info = self._ctrl_info.get(cid)
        name = C.CONTROL_NAMES.get(cid) or (info.name if info else None)
        return f"{name} ({cid:#x})" if name else f"{cid:#x}"

    def menu_items(self, cid: int) -> dict[int, str | int]:
        """VIDIOC_QUERYMENU over minimum..maximum: index -> name (MENU) or value (INTEGER_MENU)."""
        info = self.query_ext_ctrl(cid)
        if info.type not in (v.V4L2_CTRL_TYPE_MENU, v.V4L2_CTRL_TYPE_INTEGER_MENU):
            raise ValueError(f"control {self._cname(cid)} is not a menu (type {info.type})")
        out: dict[int, str | int] = {}
        for i in range(info.minimum, info.maximum + 1):
            qm = v.v4l2_querymenu()
            qm.id, qm.index = cid, i
            try:
                self.backend.ioctl(self.fd, v.VIDIOC_QUERYMENU, qm)
            except V4L2Error as e:
                if e.errno == errno.EINVAL:
                    continue  # skipped menu entry
                raise
            out[i] = qm.value if info.type == v.V4L2_CTRL_TYPE_INTEGER_MENU else _s(qm.name)
        return out

    def menu_values(self, cid: int) -> list[int]:
        """The menu indices the driver accepts (the values to set)."""
        return sorted(self.menu_items(cid))

    @staticmethod
    def _request_fd(request: "Request | int | None") -> int:
        if request is None:
            return 0
        return request if isinstance(request, int) else request.fd

    def _ext_ctrls(self, req: int, items: Sequence[tuple[int, ControlValue | None]],
                   request: "Request | int | None", which: int | None = None) -> tuple[ctypes.Array, list]:
        n = len(items)
        arr = (v.v4l2_ext_control * max(n, 1))()
        keep: list = []
        for i, (cid, value) in enumerate(items):
            info = self.query_ext_ctrl(cid)
            c = arr[i]
            c.id = cid
            if info.has_payload:
                size = info.payload_size
                if value is not None:
                    if not isinstance(value, (bytes, bytearray, memoryview)):
                        raise TypeError(f"control {self._cname(cid)} takes bytes (a {size}-byte payload), "
                                        f"not {type(value).__name__}")
                    data = bytes(value)
                    dyn = info.flags & v.V4L2_CTRL_FLAG_DYNAMIC_ARRAY
                    if dyn and (len(data) == 0 or len(data) % info.elem_size or len(data) > size):
                        raise ValueError(f"control {self._cname(cid)}: {len(data)} bytes is not 1..{info.elems} "
                                         f"elements of {info.elem_size} bytes")
                    if not dyn and len(data) != size:
                        raise ValueError(f"control {self._cname(cid)}: payload is {len(data)} bytes, "
                                         f"the driver expects {size}")
                    size = len(data)
                    buf = ctypes.create_string_buffer(data, size)
                else:
                    buf = ctypes.create_string_buffer(size)
                keep.append(buf)
                c.size = size
                c.ptr = ctypes.addressof(buf)
            elif value is not None:
                if not isinstance(value, int):
                    raise TypeError(f"control {self._cname(cid)} takes an int, not {type(value).__name__}")
                if info.type == v.V4L2_CTRL_TYPE_INTEGER64:
                    c.value64 = value
                else:
                    c.value = value
        ec = v.v4l2_ext_controls()
        if which is None:
            which = v.V4L2_CTRL_WHICH_REQUEST_VAL if request is not None else v.V4L2_CTRL_WHICH_CUR_VAL
        ec.which = which
        ec.count = n
        ec.request_fd = self._request_fd(request)
        ec.controls = ctypes.cast(arr, ctypes.POINTER(v.v4l2_ext_control))
        try:
            self.backend.ioctl(self.fd, req, ec)
        except V4L2Error as e:
            raise self._controls_error(e, [cid for cid, _ in items], ec, request is not None) from None
        return arr, keep

    def _controls_error(self, e: V4L2Error, cids: Sequence[int], ec: v.v4l2_ext_controls,
                        in_request: bool) -> V4L2Error:
        """The error of a failed ``*_EXT_CTRLS``, naming the control at ``error_idx``."""
        if ec.error_idx < len(cids):
            what = f"control {self._cname(cids[ec.error_idx])}"
        else:
            what = "controls " + ", ".join(self._cname(cid) for cid in cids)
        if in_request:
            what += f" in request fd {ec.request_fd}"
        return V4L2Error(e.errno, e.op, what)

    def get_controls(self, cids: Iterable[int], request: "Request | int | None" = None) -> list[ControlValue]:
        """VIDIOC_G_EXT_CTRLS: current values, or a completed request's values."""
        cids = list(cids)
        arr, keep = self._ext_ctrls(v.VIDIOC_G_EXT_CTRLS, [(c, None) for c in cids], request)
        out: list[ControlValue] = []
        bufs = iter(keep)
        for i, cid in enumerate(cids):
            info = self.query_ext_ctrl(cid)
            if info.has_payload:
                buf = next(bufs)
                out.append(bytes(buf.raw[: arr[i].size]))
            elif info.type == v.V4L2_CTRL_TYPE_INTEGER64:
                out.append(arr[i].value64)
            else:
                out.append(arr[i].value)
        return out

    def get_control(self, cid: int, request: "Request | int | None" = None) -> ControlValue:
        return self.get_controls([cid], request)[0]

    def set_controls(self, items: Sequence[tuple[int, ControlValue]], request: "Request | int | None" = None) -> None:
        """VIDIOC_S_EXT_CTRLS (into *request* if given)."""
        self._ext_ctrls(v.VIDIOC_S_EXT_CTRLS, list(items), request)

    def prepare_controls(self, cids: Sequence[int]) -> ControlSet:
        """A :class:`ControlSet` of the compound controls *cids* (payloads zeroed)."""
        return ControlSet(self, cids)

    def try_controls(self, items: Sequence[tuple[int, ControlValue]], request: "Request | int | None" = None) -> None:
        """VIDIOC_TRY_EXT_CTRLS: validate without applying."""
        self._ext_ctrls(v.VIDIOC_TRY_EXT_CTRLS, list(items), request)

    # -- events ---------------------------------------------------------------------------
    def subscribe_event(self, type: int, id: int = 0, flags: int = 0) -> None:
        s = v.v4l2_event_subscription()
        s.type, s.id, s.flags = type, id, flags
        self.backend.ioctl(self.fd, v.VIDIOC_SUBSCRIBE_EVENT, s)

    def unsubscribe_event(self, type: int, id: int = 0) -> None:
        s = v.v4l2_event_subscription()
        s.type, s.id = type, id
        self.backend.ioctl(self.fd, v.VIDIOC_UNSUBSCRIBE_EVENT, s)

    def dequeue_event(self) -> Event | None:
        """VIDIOC_DQEVENT: the next pending event, or None (ENOENT: none pending)."""
        ev = v.v4l2_event()
        try:
            self.backend.ioctl(self.fd, v.VIDIOC_DQEVENT, ev)
        except V4L2Error as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        if ev.type == v.V4L2_EVENT_SOURCE_CHANGE:
            changes = ev.u.src_change.changes
        elif ev.type == v.V4L2_EVENT_CTRL:
            changes = ev.u.ctrl.changes
        else:
            changes = 0
        ts = ev.timestamp.tv_sec * 1_000_000_000 + ev.timestamp.tv_nsec
        return Event(ev.type, ev.id, ev.sequence, ev.pending, ts, changes, bytes(ev.u.data))

    # -- decoder commands / selection ------------------------------------------------------
    def _dec_cmd(self, req: int, cmd: int, flags: int) -> None:
        c = v.v4l2_decoder_cmd()
        c.cmd, c.flags = cmd, flags
        self.backend.ioctl(self.fd, req, c)

    def decoder_cmd(self, cmd: int, flags: int = 0) -> None:
        """VIDIOC_DECODER_CMD (e.g. ``V4L2_DEC_CMD_FLUSH`` releases a held CAPTURE buffer)."""
        self._dec_cmd(v.VIDIOC_DECODER_CMD, cmd, flags)

    def try_decoder_cmd(self, cmd: int, flags: int = 0) -> None:
        self._dec_cmd(v.VIDIOC_TRY_DECODER_CMD, cmd, flags)

    def g_selection(self, type: int, target: int) -> Rect:
        """VIDIOC_G_SELECTION."""
        s = v.v4l2_selection()
        s.type, s.target = type, target
        self.backend.ioctl(self.fd, v.VIDIOC_G_SELECTION, s)
        return Rect(s.r.left, s.r.top, s.r.width, s.r.height)

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Free any queue still set up on this device (unmap + REQBUFS 0), then close the fd."""
        if self.closed:
            return
        try:
            for q in list(self._queues):
                try:
                    q.free()
                except V4L2Error:
                    pass
        finally:
            self.closed = True
            self.backend.close(self.fd)

    def __enter__(self) -> "VideoDevice":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoDevice({self.path!r}, driver={getattr(self, 'driver', '?')!r}, fd={self.fd})"
