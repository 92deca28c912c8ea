"""The kernel's control validation, in Python: ``std_validate_compound`` of Linux 6.12
(``drivers/media/v4l2-core/v4l2-ctrls-core.c``) for the H.264 and FWHT compound controls, and
``std_validate`` for plain integer/boolean/menu/bitmask controls.

:func:`validate_control` returns the payload as the kernel stores it (it silently zeroes or
clears some fields before checking, e.g. ``MB_ADAPTIVE_FRAME_FIELD`` when ``FRAME_MBS_ONLY``
is set) or raises :class:`pyv4l2req.errors.ControlValidationError` naming the struct field and
carrying the errno the kernel returns from ``VIDIOC_S_EXT_CTRLS``/``VIDIOC_TRY_EXT_CTRLS``.
The kernel itself only reports ``error_idx``; naming the field is what this module adds.

The rules are applied in the kernel's order (normalisation first, then range checks), so a
value that only fails on a field the kernel zeroes first is accepted, as by the kernel. The
emulated device uses this module; ``tests/device/test_control_validation.py`` checks it against
the real kernel (visl) in the test VM.
"""

from __future__ import annotations

import errno
import struct as _struct
from typing import Any, Callable

import construct as _construct

from ..errors import ControlValidationError
from . import controls as _cid
from . import fwht as _fwht
from . import h264 as _h
from . import videodev2 as _v

CONTROL_STRUCTS: dict[int, Any] = {**_h.CONTROL_STRUCTS, **_fwht.CONTROL_STRUCTS}


def _name(cid: int) -> str:
    return _cid.CONTROL_NAMES.get(cid, f"control {cid:#x}")


class _View:
    """The scalar members of one payload, read on demand at their declared offsets.

    Rules read ``v["field"]`` and assign ``v["field"] = x`` like on a dict, and clear arrays
    with ``v.zero(path)``; :meth:`result` returns the payload itself when nothing changed, else
    a patched copy. Much faster than unpacking and repacking the whole struct.
    """

    __slots__ = ("_data", "_layout", "_cache", "_changes", "_zero")

    def __init__(self, layout: "_Layout", data: bytes) -> None:
        self._data = data
        self._layout = layout
        self._cache: dict[str, int] = {}
        self._changes: dict[str, int] = {}
        self._zero: list[tuple[int, int]] = []

    def __getitem__(self, name: str) -> int:
        try:
            return self._cache[name]
        except KeyError:
            st, off = self._layout.scalars[name]
            value = self._cache[name] = st.unpack_from(self._data, off)[0]
            return value

    def get(self, name: str, default: int = 0) -> int:
        return self[name]

    def __setitem__(self, name: str, value: int) -> None:
        if self[name] != value:
            self._cache[name] = value
            self._changes[name] = value

    def zero(self, *path: str | int) -> None:
        """Clear a member (any type) given by its path, e.g. ``zero("dpb", 3, "reserved")``."""
        off, size = self._layout.span(path)
        if any(self._data[off : off + size]):
            self._zero.append((off, size))

    def result(self) -> bytes:
        if not self._changes and not self._zero:
            return self._data
        out = bytearray(self._data)
        for off, size in self._zero:
            out[off : off + size] = bytes(size)
        for name, value in self._changes.items():
            st, off = self._layout.scalars[name]
            st.pack_into(out, off, value)
        return bytes(out)


class _Layout:
    """Offsets of a construct struct's members, from its declaration."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.size = con.sizeof()
        self.scalars: dict[str, tuple[_struct.Struct, int]] = {}
        off = 0
        for sc in con.subcons:
            if isinstance(sc.subcon, _construct.FormatField):
                self.scalars[sc.name] = (_struct.Struct(sc.subcon.fmtstr), off)
            off += sc.subcon.sizeof()
        self._spans: dict[tuple, tuple[int, int]] = {}

    def span(self, path: tuple) -> tuple[int, int]:
        try:
            return self._spans[path]
        except KeyError:
            pass
        con, off = self.con, 0
        for key in path:
            if isinstance(key, int):
                if not 0 <= key < con.count:
                    raise IndexError(f"{path}: index {key} outside 0..{con.count - 1}")
                con = con.subcon
                off += key * con.sizeof()
            else:
                for sc in con.subcons:
                    if sc.name == key:
                        con = sc.subcon
                        break
                    off += sc.subcon.sizeof()
                else:
                    raise KeyError(f"{path}: no member {key!r}")
        span = self._spans[path] = (off, con.sizeof())
        return span


class _Checker:
    """Range checks on one unpacked control value, raising with the control and field names."""

    def __init__(self, cid: int, struct_name: str) -> None:
        self.control = _name(cid)
        self.struct_name = struct_name

    def fail(self, field: str, message: str, err: int = errno.EINVAL) -> None:
        raise ControlValidationError(self.control, field, f"{message} (struct {self.struct_name})", err)

    def at_most(self, v: _View, field: str, maximum: int, why: str = "") -> None:
        if v[field] > maximum:
            self.fail(field, f"{v[field]} > {maximum}{why}")

    def within(self, v: _View, field: str, lo: int, hi: int) -> None:
        if not lo <= v[field] <= hi:
            self.fail(field, f"{v[field]} outside {lo}..{hi}")


# ------------------------------------------------------------------------------- H.264
def _h264_sps(c: _Checker, v: _View) -> None:
    # Some syntax elements are only conditionally valid. Note the kernel's else-branch: it
    # runs only for pic_order_cnt_type == 0, so the POC-type-1 fields are cleared for type 0
    # and kept for type 2 (reproduced as the kernel does it).
    if v["pic_order_cnt_type"] != 0:
        v["log2_max_pic_order_cnt_lsb_minus4"] = 0
    elif v["pic_order_cnt_type"] != 1:
        v["num_ref_frames_in_pic_order_cnt_cycle"] = 0
        v["offset_for_non_ref_pic"] = 0
        v["offset_for_top_to_bottom_field"] = 0
        v.zero("offset_for_ref_frame")

    if not _h.V4L2_H264_SPS_HAS_CHROMA_FORMAT(v):
        v["chroma_format_idc"] = 1
        v["bit_depth_luma_minus8"] = 0
        v["bit_depth_chroma_minus8"] = 0
        v["flags"] &= ~_h.V4L2_H264_SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS
    # Linux 6.12.y (stable fix "v4l2-ctrls: ... separate_colour_plane", also in 6.13): cleared
    # for every profile when not 4:4:4 (before it was inside the block above). The test VM's
    # 6.12.117 behaves like this.
    if v["chroma_format_idc"] < 3:
        v["flags"] &= ~_h.V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE

    if v["flags"] & _h.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY:
        v["flags"] &= ~_h.V4L2_H264_SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD

    if v["profile_idc"] < 122 and v["chroma_format_idc"] > 1:
        c.fail("chroma_format_idc", f"{v['chroma_format_idc']} (4:2:2 or 4:4:4) needs profile_idc >= 122, got {v['profile_idc']}")
    if v["profile_idc"] < 244 and v["chroma_format_idc"] > 2:
        c.fail("chroma_format_idc", f"{v['chroma_format_idc']} (4:4:4) needs profile_idc >= 244, got {v['profile_idc']}")
    c.at_most(v, "chroma_format_idc", 3)
    c.at_most(v, "bit_depth_luma_minus8", 6)
    c.at_most(v, "bit_depth_chroma_minus8", 6)
    c.at_most(v, "log2_max_frame_num_minus4", 12)
    c.at_most(v, "pic_order_cnt_type", 2)
    c.at_most(v, "log2_max_pic_order_cnt_lsb_minus4", 12)
    c.at_most(v, "max_num_ref_frames", _h.V4L2_H264_REF_LIST_LEN, " (V4L2_H264_REF_LIST_LEN)")


def _h264_pps(c: _Checker, v: _View) -> None:
    c.at_most(v, "num_slice_groups_minus1", 7)
    c.at_most(v, "num_ref_idx_l0_default_active_minus1", _h.V4L2_H264_REF_LIST_LEN - 1)
    c.at_most(v, "num_ref_idx_l1_default_active_minus1", _h.V4L2_H264_REF_LIST_LEN - 1)
    c.at_most(v, "weighted_bipred_idc", 2)
    c.within(v, "pic_init_qp_minus26", -62, 25)
    c.within(v, "pic_init_qs_minus26", -26, 25)
    c.within(v, "chroma_qp_index_offset", -12, 12)
    c.within(v, "second_chroma_qp_index_offset", -12, 12)


def _h264_pred_weights(c: _Checker, v: _View) -> None:
    c.at_most(v, "luma_log2_weight_denom", 7)
    c.at_most(v, "chroma_log2_weight_denom", 7)


def _h264_slice_params(c: _Checker, v: _View) -> None:
    st = v["slice_type"]
    if st != _h.V4L2_H264_SLICE_TYPE_B:
        v["flags"] &= ~_h.V4L2_H264_SLICE_FLAG_DIRECT_SPATIAL_MV_PRED
    c.at_most(v, "colour_plane_id", 2)
    c.at_most(v, "cabac_init_idc", 2)
    c.at_most(v, "disable_deblocking_filter_idc", 2)
    c.within(v, "slice_alpha_c0_offset_div2", -6, 6)
    c.within(v, "slice_beta_offset_div2", -6, 6)
    if st in (_h.V4L2_H264_SLICE_TYPE_I, _h.V4L2_H264_SLICE_TYPE_SI):
        v["num_ref_idx_l0_active_minus1"] = 0
    if st != _h.V4L2_H264_SLICE_TYPE_B:
        v["num_ref_idx_l1_active_minus1"] = 0
    c.at_most(v, "num_ref_idx_l0_active_minus1", _h.V4L2_H264_REF_LIST_LEN - 1)
    c.at_most(v, "num_ref_idx_l1_active_minus1", _h.V4L2_H264_REF_LIST_LEN - 1)
    v["reserved"] = 0


def _h264_decode_params(c: _Checker, v: _View) -> None:
    c.at_most(v, "nal_ref_idc", 3)
    for i in range(_h.V4L2_H264_NUM_DPB_ENTRIES):
        v.zero("dpb", i, "reserved")
    v["reserved"] = 0


def _fwht_params(c: _Checker, v: _View) -> None:
    if v["version"] < _fwht.V4L2_FWHT_VERSION:
        c.fail("version", f"{v['version']} < V4L2_FWHT_VERSION ({_fwht.V4L2_FWHT_VERSION})")
    if not v["width"]:
        c.fail("width", "0")
    if not v["height"]:
        c.fail("height", "0")


_RULES: dict[int, tuple[str, Callable[[_Checker, _View], None] | None]] = {
    _cid.V4L2_CID_STATELESS_H264_SPS: ("v4l2_ctrl_h264_sps", _h264_sps),
    _cid.V4L2_CID_STATELESS_H264_PPS: ("v4l2_ctrl_h264_pps", _h264_pps),
    _cid.V4L2_CID_STATELESS_H264_SCALING_MATRIX: ("v4l2_ctrl_h264_scaling_matrix", None),
    _cid.V4L2_CID_STATELESS_H264_PRED_WEIGHTS: ("v4l2_ctrl_h264_pred_weights", _h264_pred_weights),
    _cid.V4L2_CID_STATELESS_H264_SLICE_PARAMS: ("v4l2_ctrl_h264_slice_params", _h264_slice_params),
    _cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS: ("v4l2_ctrl_h264_decode_params", _h264_decode_params),
    _cid.V4L2_CID_STATELESS_FWHT_PARAMS: ("v4l2_ctrl_fwht_params", _fwht_params),
}


_LAYOUTS: dict[int, _Layout] = {k: _Layout(con) for k, con in CONTROL_STRUCTS.items()}


def validate_control(cid: int, payload: bytes) -> bytes:
    """The payload of compound control *cid* as the kernel stores it, or ControlValidationError.

    Like ``VIDIOC_S_EXT_CTRLS``: a payload shorter than the struct is ``EFAULT``, a longer one
    is truncated to the struct size (the kernel sets ``v4l2_ext_control.size`` to it); an
    invalid field is ``EINVAL``. A control id without a compound struct here is ``EINVAL``
    (the default branch of ``std_validate_compound``).
    """
    try:
        struct_name, rule = _RULES[cid]
    except KeyError:
        raise ControlValidationError(_name(cid), "id", "not a compound control known to std_validate_compound", errno.EINVAL) from None
    lay = _LAYOUTS[cid]
    size = lay.size
    c = _Checker(cid, struct_name)
    if len(payload) < size:
        c.fail("size", f"payload of {len(payload)} bytes, the struct needs {size}", errno.EFAULT)
    if len(payload) != size or not isinstance(payload, bytes):
        payload = bytes(payload[:size])
    if rule is None:
        return payload
    v = _View(lay, payload)
    rule(c, v)
    return v.result()


# ---------------------------------------------------------------------- plain controls
def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def validate_plain(
    ctrl_type: int,
    value: int,
    minimum: int,
    maximum: int,
    step: int = 1,
    *,
    menu_skip_mask: int = 0,
    menu_names: dict[int, str] | None = None,
    name: str = "control",
) -> int:
    """``std_validate`` for an integer-valued control: the value the kernel stores, or raises.

    INTEGER/U8/U16/U32/INTEGER64: rounded to the nearest step and clamped (never an error).
    BOOLEAN: 0/1. BITMASK: masked with *maximum*. MENU/INTEGER_MENU: ``ERANGE`` outside
    *minimum*..*maximum*, ``EINVAL`` for a skipped item (bit set in *menu_skip_mask*, or, for
    MENU, an item whose name in *menu_names* is empty). BUTTON/CTRL_CLASS: 0.
    """
    if ctrl_type in (_v.V4L2_CTRL_TYPE_MENU, _v.V4L2_CTRL_TYPE_INTEGER_MENU):
        if value < minimum or value > maximum:
            raise ControlValidationError(name, "value", f"menu index {value} outside {minimum}..{maximum}", errno.ERANGE)
        if 0 <= value < 64 and menu_skip_mask & (1 << value):
            raise ControlValidationError(name, "value", f"menu index {value} is skipped by the driver", errno.EINVAL)
        if ctrl_type == _v.V4L2_CTRL_TYPE_MENU and menu_names is not None and not menu_names.get(value):
            raise ControlValidationError(name, "value", f"menu index {value} has no name", errno.EINVAL)
        return value
    if ctrl_type == _v.V4L2_CTRL_TYPE_BOOLEAN:
        return int(bool(value))
    if ctrl_type == _v.V4L2_CTRL_TYPE_BITMASK:
        return _s32(value & maximum)
    if ctrl_type in (_v.V4L2_CTRL_TYPE_BUTTON, _v.V4L2_CTRL_TYPE_CTRL_CLASS):
        return 0
    if ctrl_type in (_v.V4L2_CTRL_TYPE_INTEGER, _v.V4L2_CTRL_TYPE_INTEGER64, _v.V4L2_CTRL_TYPE_U8,
                     _v.V4L2_CTRL_TYPE_U16, _v.V4L2_CTRL_TYPE_U32):
        # ROUND_TO_RANGE: round to the closest legal value without wrapping near the maximum
        half = step // 2
        if maximum >= 0 and value >= maximum - half:
            value = maximum
        else:
            value += half
        value = min(max(value, minimum), maximum)
        return minimum + step * ((value - minimum) // step)
    raise ControlValidationError(name, "type", f"control type {ctrl_type} is not an integer-valued control", errno.EINVAL)
