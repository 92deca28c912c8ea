"""Control handler of the emulated device (v4l2-ctrls-core.c / -api.c semantics).

A :class:`ControlHandler` holds the controls a codec model declares (``ControlSpec``) plus the
control-class controls the kernel adds by itself, their current values, and implements
QUERY_EXT_CTRL, QUERYMENU and the three EXT_CTRLS ioctls on the ctypes structs (following
``v4l2_ext_controls.controls`` and ``v4l2_ext_control.ptr`` like the kernel's copy_from_user).
Values are ``int`` for scalar controls and ``bytes`` (exactly ``elem_size * elems``) for
compound ones; compound payloads go through ``pyv4l2req.uapi.validate.validate_control``
(the kernel's ``std_validate_compound``) when that module exists, and are stored normalised.

error_idx follows the kernel: ``count`` on entry; the failing index during the up-front
checks (unknown id, size, read-only) for G/TRY, ``count`` for S; the failing index when a value
is rejected while applying (S applies the controls before it).
"""

from __future__ import annotations

import ctypes
import errno as _errno
import struct
from typing import Callable

from ..uapi import videodev2 as v
from .codec_model import ControlSpec
from .kerror import KernelError

__all__ = ["ControlHandler", "value_bytes", "CLASS_NAMES"]

V4L2_CTRL_ID_MASK = 0x0FFFFFFF
CLASS_NAMES = {
    0x00990000: "Codec Controls",
    0x00A40000: "Stateless Codec Controls",
}
_validator: Callable[[int, bytes], bytes] | None | bool = False
#: control id -> (payload, validated payload) of its last valid value: validation is a pure
#: function of the bytes, and the SPS/PPS (1 KiB for the SPS) come again with every picture,
#: so an unchanged payload is not validated again (a Python cost the real kernel does not have)
_last_valid: dict[int, tuple[bytes, bytes]] = {}


def _validate(cid: int, payload: bytes) -> bytes:
    """The uapi validator (std_validate_compound), or identity while it does not exist."""
    last = _last_valid.get(cid)
    if last is not None and last[0] == payload and type(payload) is bytes:
        return last[1]
    out = _validate_uncached(cid, payload)
    if type(payload) is bytes:
        _last_valid[cid] = (payload, out)
    return out


def _validate_uncached(cid: int, payload: bytes) -> bytes:
    global _validator
    if _validator is False:
        try:
            from ..uapi.validate import validate_control  # type: ignore[attr-defined]

            _validator = validate_control
        except ImportError:
            _validator = None
    if _validator is None:
        return payload
    try:
        return _validator(cid, payload)
    except KernelError:
        raise
    except Exception as e:  # ControlValidationError (errno attribute) or a decoding error
        err = getattr(e, "errno", None) or _errno.EINVAL
        raise KernelError(err, f"control {cid:#x}: {e}") from None


def _plain():
    """uapi.validate.validate_plain (the kernel's std_validate for integer controls) or None."""
    try:
        from ..uapi.validate import validate_plain  # type: ignore[attr-defined]
    except ImportError:
        return None
    return validate_plain


def value_bytes(spec: ControlSpec, value: int | bytes) -> bytes:
    """A control value as the little-endian bytes of its C type (what DecodeJob carries)."""
    if isinstance(value, bytes):
        return value
    size = 8 if spec.type == v.V4L2_CTRL_TYPE_INTEGER64 else 4
    return int(value).to_bytes(size, "little", signed=True)


def _class_spec(cls: int) -> ControlSpec:
    return ControlSpec(
        id=cls | 1,
        name=CLASS_NAMES.get(cls, f"Class {cls:#x}"),
        type=v.V4L2_CTRL_TYPE_CTRL_CLASS,
        elem_size=4,
        step=0,
        flags=v.V4L2_CTRL_FLAG_READ_ONLY | v.V4L2_CTRL_FLAG_WRITE_ONLY,
    )


class ControlHandler:
    """The controls of one open file handle (m2m context) and their current values."""

    def __init__(self, specs: list[ControlSpec],
                 try_ctrl: "Callable[[int, bytes], str | None] | None" = None) -> None:
        #: the driver's ``try_ctrl`` op: called with each compound payload that passed the
        #: standard validation (S/TRY_EXT_CTRLS); a returned reason fails the ioctl with EINVAL
        self.try_ctrl = try_ctrl
        self.specs: dict[int, ControlSpec] = {}
        for s in specs:
            self.specs[s.id] = s
            cls = s.id & 0x0FFF0000
            self.specs.setdefault(cls | 1, _class_spec(cls))
        self.ids = sorted(self.specs)
        self.cur: dict[int, int | bytes] = {cid: self.default(cid) for cid in self.ids}

    # --- values -------------------------------------------------------------------------------
    def default(self, cid: int) -> int | bytes:
        s = self.specs[cid]
        if s.is_compound:
            return s.default_payload()
        return int(s.default) if isinstance(s.default, int) else 0

    def is_ptr(self, cid: int) -> bool:
        return self.specs[cid].is_compound

    def snapshot(self, overrides: dict[int, int | bytes] | None = None) -> dict[int, bytes]:
        """Current values (with *overrides* on top) as bytes, class controls left out."""
        vals = dict(self.cur)
        if overrides:
            vals.update(overrides)
        return {
            cid: value_bytes(self.specs[cid], val)
            for cid, val in vals.items()
            if self.specs[cid].type != v.V4L2_CTRL_TYPE_CTRL_CLASS
        }

    def normalize(self, cid: int, value: int | bytes) -> int | bytes:
        """Validate a new value like std_validate: clamp integers, check menus, compounds."""
        s = self.specs[cid]
        t = s.type
        if s.is_compound:
            assert isinstance(value, bytes)
            if t >= 0x0200:
                return _validate(cid, value)
            return self._validate_array(s, value)
        plain = _plain()
        if plain is not None and t != v.V4L2_CTRL_TYPE_STRING:
            try:
                return plain(t, int(value), s.minimum, s.maximum, s.step or 1,
                             menu_names=s.menu or None, name=s.name)
            except Exception as e:
                raise KernelError(getattr(e, "errno", None) or _errno.EINVAL, str(e)) from None
        val = int(value)
        if t in (v.V4L2_CTRL_TYPE_INTEGER, v.V4L2_CTRL_TYPE_INTEGER64):
            return max(s.minimum, min(s.maximum, val))
        if t == v.V4L2_CTRL_TYPE_BOOLEAN:
            return 1 if val else 0
        if t in (v.V4L2_CTRL_TYPE_MENU, v.V4L2_CTRL_TYPE_INTEGER_MENU):
            if val < s.minimum or val > s.maximum:
                raise KernelError(_errno.ERANGE, f"{s.name}: menu value {val} out of range")
            if s.menu and val not in s.menu:
                raise KernelError(_errno.EINVAL, f"{s.name}: menu value {val} is skipped")
        return val

    def _validate_array(self, s: ControlSpec, payload: bytes) -> bytes:
        """U8/U16/U32 arrays: every element rounded and clamped (std_validate_elem)."""
        fmt = {v.V4L2_CTRL_TYPE_U8: "B", v.V4L2_CTRL_TYPE_U16: "H", v.V4L2_CTRL_TYPE_U32: "I"}.get(s.type)
        if fmt is None:
            return payload
        vals = list(struct.unpack(f"<{s.elems}{fmt}", payload))
        lo, hi, step = s.minimum, s.maximum, s.step or 1
        out = []
        for x in vals:
            x = min(max(x + step // 2 if x < hi - step // 2 else hi, lo), hi)
            out.append(lo + step * ((x - lo) // step))
        return struct.pack(f"<{s.elems}{fmt}", *out)

    # --- queries ------------------------------------------------------------------------------
    def find_next(self, qid: int) -> int | None:
        """The control a QUERY_EXT_CTRL id with NEXT_CTRL / NEXT_COMPOUND flags resolves to."""
        nxt = qid & (v.V4L2_CTRL_FLAG_NEXT_CTRL | v.V4L2_CTRL_FLAG_NEXT_COMPOUND)
        cid = qid & ~nxt & 0xFFFFFFFF
        if not nxt:
            return cid if cid in self.specs else None
        want_simple = bool(nxt & v.V4L2_CTRL_FLAG_NEXT_CTRL)
        want_compound = bool(nxt & v.V4L2_CTRL_FLAG_NEXT_COMPOUND)
        for c in self.ids:
            if c <= cid:
                continue
            comp = self.specs[c].is_compound
            if (comp and want_compound) or (not comp and want_simple):
                return c
        return None

    def query_ext_ctrl(self, q: v.v4l2_query_ext_ctrl) -> None:
        cid = self.find_next(q.id)
        if cid is None:
            raise KernelError(_errno.EINVAL, f"no control {q.id & V4L2_CTRL_ID_MASK:#x}")
        s = self.specs[cid]
        ctypes.memset(ctypes.addressof(q), 0, ctypes.sizeof(q))
        q.id = cid
        q.type = s.type
        q.name = s.name.encode()[:31]
        if s.type >= 0x0200:   # struct payloads: the kernel keeps min/max/step/def at 0
            q.minimum = q.maximum = q.step = q.default_value = 0
        else:
            q.minimum, q.maximum, q.step = s.minimum, s.maximum, s.step
            q.default_value = s.default if isinstance(s.default, int) else 0
        flags = s.flags
        if s.is_compound:
            flags |= v.V4L2_CTRL_FLAG_HAS_PAYLOAD
        q.flags = flags
        q.elem_size = s.elem_size
        q.elems = s.elems
        q.nr_of_dims = len(s.dims)
        for i, d in enumerate(s.dims[:4]):
            q.dims[i] = d

    def querymenu(self, m: v.v4l2_querymenu) -> None:
        s = self.specs.get(m.id)
        if s is None or s.type not in (v.V4L2_CTRL_TYPE_MENU, v.V4L2_CTRL_TYPE_INTEGER_MENU):
            raise KernelError(_errno.EINVAL, f"control {m.id:#x} is not a menu")
        if m.index < s.minimum or m.index > s.maximum or (s.menu and m.index not in s.menu):
            raise KernelError(_errno.EINVAL, f"{s.name}: no menu item {m.index}")
        m.reserved = 0
        if s.type == v.V4L2_CTRL_TYPE_INTEGER_MENU:
            m.value = int(s.menu.get(m.index, m.index))
        else:
            m.name = str(s.menu.get(m.index, "")).encode()[:31]

    # --- EXT_CTRLS ----------------------------------------------------------------------------
    def _prepare(self, cs: v.v4l2_ext_controls, get: bool) -> list[tuple[int, v.v4l2_ext_control]]:
        """prepare_ext_ctrls(): resolve ids, check sizes; error_idx follows each control."""
        out = []
        which = cs.which
        for i in range(cs.count):
            cs.error_idx = i
            c = cs.controls[i]
            cid = c.id & V4L2_CTRL_ID_MASK
            if which not in (v.V4L2_CTRL_WHICH_CUR_VAL, v.V4L2_CTRL_WHICH_DEF_VAL,
                             v.V4L2_CTRL_WHICH_REQUEST_VAL) and (cid & 0x0FFF0000) != which:
                raise KernelError(_errno.EINVAL, f"control {cid:#x} is not in class {which:#x}")
            s = self.specs.get(cid)
            if s is None:
                raise KernelError(_errno.EINVAL, f"no control {cid:#x}")
            if s.type == v.V4L2_CTRL_TYPE_CTRL_CLASS:
                raise KernelError(_errno.EACCES, f"{s.name} is a control class")
            if s.is_compound:
                if c.size < s.size:
                    if get:
                        c.size = s.size
                        raise KernelError(_errno.ENOSPC, f"{s.name}: size {c.size} < {s.size}")
                    raise KernelError(_errno.EFAULT, f"{s.name}: size {c.size} < {s.size}")
                c.size = s.size
                if not c.ptr:
                    raise KernelError(_errno.EFAULT, f"{s.name}: NULL ptr")
            out.append((cid, c))
        return out

    def get_ext_ctrls(self, cs: v.v4l2_ext_controls, values: dict[int, int | bytes] | None) -> None:
        """G_EXT_CTRLS: *values* is the value source (current, a request's) or None = defaults."""
        cs.error_idx = cs.count
        if cs.count == 0:
            return self._class_check(cs.which)
        try:   # the kernel reports count for every failure of G_EXT_CTRLS (checked on 6.12)
            items = self._prepare(cs, get=True)
            for cid, c in items:
                s = self.specs[cid]
                if s.flags & v.V4L2_CTRL_FLAG_WRITE_ONLY:
                    raise KernelError(_errno.EACCES, f"{s.name} is write-only")
        except KernelError:
            cs.error_idx = cs.count
            raise
        for cid, c in items:
            val = self.default(cid) if values is None else values.get(cid, self.cur[cid])
            if isinstance(val, bytes):
                ctypes.memmove(c.ptr, val, len(val))
            elif self.specs[cid].type == v.V4L2_CTRL_TYPE_INTEGER64:
                c.value64 = val
            else:
                c.value = val

    def try_set_ext_ctrls(self, cs: v.v4l2_ext_controls, set_: bool,
                          target: dict[int, int | bytes] | None) -> list[int]:
        """TRY (set_=False) or S into *target* (the current values, or a request's values).

        Returns the ids whose value was stored (for control events).
        """
        cs.error_idx = cs.count
        if cs.which == v.V4L2_CTRL_WHICH_DEF_VAL:
            raise KernelError(_errno.EINVAL, "cannot change default values")
        if cs.count == 0:
            self._class_check(cs.which)
            return []
        try:
            items = self._prepare(cs, get=False)
            for i, (cid, c) in enumerate(items):   # validate_ctrls()
                cs.error_idx = i
                s = self.specs[cid]
                if s.flags & v.V4L2_CTRL_FLAG_READ_ONLY:
                    raise KernelError(_errno.EACCES, f"{s.name} is read-only")
                if not s.is_compound:
                    newv = self.normalize(cid, c.value64 if s.type == v.V4L2_CTRL_TYPE_INTEGER64 else c.value)
                    if s.type == v.V4L2_CTRL_TYPE_INTEGER64:
                        c.value64 = newv
                    else:
                        c.value = newv
        except KernelError:
            if set_:
                cs.error_idx = cs.count
            raise
        changed = []
        for i, (cid, c) in enumerate(items):
            cs.error_idx = i
            s = self.specs[cid]
            if s.is_compound:
                newv: int | bytes = self.normalize(cid, ctypes.string_at(c.ptr, s.size))
                # try_or_set_cluster(): the driver's try_ctrl after the standard validation;
                # earlier controls of the array stay set, like the kernel's cluster loop
                why = self.try_ctrl(cid, newv) if self.try_ctrl is not None else None
                if why is not None:
                    raise KernelError(_errno.EINVAL, f"{s.name}: {why}")
            else:
                newv = c.value64 if s.type == v.V4L2_CTRL_TYPE_INTEGER64 else c.value
            if set_ and target is not None:
                target[cid] = newv
                changed.append(cid)
            if isinstance(newv, bytes):   # new_to_user(): the normalised value goes back
                ctypes.memmove(c.ptr, newv, len(newv))
        return changed

    def _class_check(self, which: int) -> None:
        if which in (v.V4L2_CTRL_WHICH_CUR_VAL, v.V4L2_CTRL_WHICH_DEF_VAL, v.V4L2_CTRL_WHICH_REQUEST_VAL):
            return
        if (which | 1) not in self.specs:
            raise KernelError(_errno.EINVAL, f"no control class {which:#x}")
