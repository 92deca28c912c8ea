"""Control validation: the kernel (visl in the test VM) is the oracle for ``pyv4l2req.uapi.validate``.

For every validated field of the H.264 compound controls and the FWHT params -- systematic
boundary values on several base values, plus a seeded random sample -- the payload is sent with
raw ``VIDIOC_TRY_EXT_CTRLS`` and ``VIDIOC_S_EXT_CTRLS`` (ctypes ``v4l2_ext_controls`` with a
pointer payload), and:

- the errno must be the one ``validate_control`` predicts (0 for a valid payload),
- TRY must hand back, and G_EXT_CTRLS after S must return, exactly the normalised payload
  ``validate_control`` returns (the kernel clears some fields silently); after a failed S the
  previous value must be unchanged.

The menu controls (DECODE_MODE, START_CODE) are checked against ``validate_plain``.
Parametrised over backends: ``kernel`` (VM, visl's node found by its sysfs name) and
``emulated`` (``pyv4l2req.emulated.EmulatedBackend``). Only the Backend protocol and the uapi
structs are used.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
from dataclasses import dataclass

import construct
import pytest

from pyv4l2req.errors import ControlValidationError, V4L2Error
from pyv4l2req.uapi import controls as cid
from pyv4l2req.uapi import fwht, h264, layout
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.uapi.validate import validate_control, validate_plain

IN_VM = os.environ.get("PYV4L2REQ_IN_VM") == "1"
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


# ---------------------------------------------------------------------------- devices
def _sysfs_video_node(name: str) -> str | None:
    base = "/sys/class/video4linux"
    for entry in sorted(os.listdir(base)) if os.path.isdir(base) else ():
        try:
            with open(f"{base}/{entry}/name") as f:
                if f.read().strip() == name:
                    return f"/dev/{entry}"
        except OSError:
            continue
    return None


@dataclass
class Dev:
    backend: object
    fd: int
    path: str

    def query(self, ctrl_id: int) -> v.v4l2_query_ext_ctrl | None:
        q = v.v4l2_query_ext_ctrl()
        q.id = ctrl_id
        try:
            self.backend.ioctl(self.fd, v.VIDIOC_QUERY_EXT_CTRL, q)
        except V4L2Error as e:
            if e.errno == errno.EINVAL:
                return None
            raise
        return q

    def ext(self, request: int, ctrl_id: int, payload: bytes, size: int | None = None) -> tuple[int, bytes]:
        """One compound control through VIDIOC_{TRY,S,G}_EXT_CTRLS: (errno or 0, payload after)."""
        n = len(payload)
        buf = (ctypes.c_uint8 * max(n, 1)).from_buffer_copy(payload or b"\0")
        ctrl = v.v4l2_ext_control()
        ctrl.id = ctrl_id
        ctrl.size = n if size is None else size
        ctrl.ptr = ctypes.addressof(buf)
        cs = v.v4l2_ext_controls()
        cs.which = v.V4L2_CTRL_WHICH_CUR_VAL
        cs.count = 1
        cs.controls = ctypes.pointer(ctrl)
        try:
            self.backend.ioctl(self.fd, request, cs)
        except V4L2Error as e:
            return e.errno, bytes(buf)[:n]
        return 0, bytes(buf)[:n]

    def ext_value(self, request: int, ctrl_id: int, value: int) -> tuple[int, int]:
        ctrl = v.v4l2_ext_control()
        ctrl.id = ctrl_id
        ctrl.value = value
        cs = v.v4l2_ext_controls()
        cs.which = v.V4L2_CTRL_WHICH_CUR_VAL
        cs.count = 1
        cs.controls = ctypes.pointer(ctrl)
        try:
            self.backend.ioctl(self.fd, request, cs)
        except V4L2Error as e:
            return e.errno, ctrl.value
        return 0, ctrl.value


def _open_kernel(ctrl_id: int) -> Dev:
    from pyv4l2req.kernel.backend import OSBackend

    b = OSBackend()
    for name in ("visl", "stateless-decoder"):  # visl first: it has every stateless control, FWHT_PARAMS included, and no try_ctrl op
        path = _sysfs_video_node(name)
        if path is None:
            continue
        dev = Dev(b, b.open(path), path)
        if dev.query(ctrl_id) is not None:
            return dev
        b.close(dev.fd)
    raise AssertionError(f"no video node in the VM exposes control {cid.CONTROL_NAMES[ctrl_id]}")


def _open_emulated(ctrl_id: int) -> Dev:
    try:
        from pyv4l2req.emulated import EmulatedBackend
    except ImportError as e:
        if IN_CI:
            raise
        pytest.skip(f"pyv4l2req.emulated.EmulatedBackend not available yet: {e}")
    from pyv4l2req.emulated.fwht_model import FwhtModel

    class StdValidationOnly(FwhtModel):
        # On the kernel this test gets FWHT_PARAMS from visl, which has no try_ctrl op; the
        # emulated FWHT node is vicodec-like and adds vicodec_try_ctrl's rules (tested against
        # the real vicodec in test_fwht_vicodec.py). Compare the standard validation alone.
        try_control = None

    b = EmulatedBackend(models={"fwht": StdValidationOnly})
    for path in ("/dev/video0", "/dev/video1"):
        dev = Dev(b, b.open(path), path)
        if dev.query(ctrl_id) is not None:
            return dev
        b.close(dev.fd)
    raise AssertionError(f"no emulated video node exposes control {cid.CONTROL_NAMES[ctrl_id]}")


BACKENDS = [pytest.param("kernel", marks=pytest.mark.vm, id="kernel"), pytest.param("emulated", id="emulated")]


def open_dev(backend: str, ctrl_id: int) -> Dev:
    if backend == "kernel":
        if not IN_VM:
            pytest.skip("kernel backend: runs inside the test-kernel VM (PYV4L2REQ_IN_VM=1)")
        return _open_kernel(ctrl_id)
    return _open_emulated(ctrl_id)


# ------------------------------------------------------------------------ case generation
# values around every limit the kernel checks (0..2, 6/7, 12/13, 31/32, 122, 244, -62, -26, ...)
_BOUNDARY = {
    "B": [0, 1, 2, 3, 6, 7, 8, 12, 13, 31, 32, 33, 100, 121, 122, 123, 243, 244, 245, 255],
    "b": [-128, -63, -62, -61, -27, -26, -13, -12, -7, -6, -1, 0, 6, 7, 12, 13, 25, 26, 127],
    "H": [0, 1, 2, 3, 4, 7, 8, 0xFF, 0xFFFF],
    "h": [-32768, -1, 0, 1, 32767],
    "I": [0, 1, 2, 3, 4, 7, 8, 0xFF, 0xFFFFFFFF],
    "L": [0, 1, 2, 3, 4, 7, 8, 0xFF, 0xFFFFFFFF],
    "i": [-(2**31), -1, 0, 1, 2**31 - 1],
    "l": [-(2**31), -1, 0, 1, 2**31 - 1],
    "Q": [0, 1, 2**64 - 1],
    "q": [-(2**63), -1, 0, 1, 2**63 - 1],
}
_RANGE = {"B": (0, 255), "b": (-128, 127), "H": (0, 65535), "h": (-32768, 32767), "I": (0, 2**32 - 1),
          "L": (0, 2**32 - 1), "i": (-(2**31), 2**31 - 1), "l": (-(2**31), 2**31 - 1), "Q": (0, 2**64 - 1),
          "q": (-(2**63), 2**63 - 1)}

S = h264
_SPS_FLAGS_ALL = 0x7F
_BASES: dict[int, list[dict]] = {
    cid.V4L2_CID_STATELESS_H264_SPS: [
        {"profile_idc": p, "level_idc": 40, "chroma_format_idc": cf, "max_num_ref_frames": 4,
         "pic_order_cnt_type": poc, "log2_max_pic_order_cnt_lsb_minus4": 2,
         "num_ref_frames_in_pic_order_cnt_cycle": 3, "offset_for_ref_frame": [1, -2, 3],
         "offset_for_non_ref_pic": -5, "offset_for_top_to_bottom_field": 7, "bit_depth_luma_minus8": bd,
         "bit_depth_chroma_minus8": bd, "pic_width_in_mbs_minus1": 10, "pic_height_in_map_units_minus1": 8,
         "flags": fl}
        for p, cf, bd, poc, fl in [(100, 1, 0, 1, 0x7F), (66, 1, 0, 2, 0x50), (110, 0, 2, 0, 0x23),
                                   (122, 2, 2, 0, 0x31), (244, 3, 6, 1, _SPS_FLAGS_ALL), (88, 3, 4, 2, 0x03)]
    ],
    cid.V4L2_CID_STATELESS_H264_PPS: [
        {"pic_parameter_set_id": 1, "num_ref_idx_l0_default_active_minus1": 2, "weighted_bipred_idc": 1,
         "pic_init_qp_minus26": -3, "chroma_qp_index_offset": 2, "flags": 0xFF},
        {},
    ],
    cid.V4L2_CID_STATELESS_H264_SCALING_MATRIX: [
        {"scaling_list_4x4": [[16] * 16] * 6, "scaling_list_8x8": [[16] * 64] * 6},
    ],
    cid.V4L2_CID_STATELESS_H264_PRED_WEIGHTS: [
        {"luma_log2_weight_denom": 5, "chroma_log2_weight_denom": 3,
         "weight_factors": [{"luma_weight": [32, -1], "chroma_offset": [[1, -1]]}, {"luma_offset": [-128, 127]}]},
    ],
    cid.V4L2_CID_STATELESS_H264_SLICE_PARAMS: [
        {"header_bit_size": 37, "slice_type": st, "cabac_init_idc": 1, "slice_qp_delta": -4,
         "disable_deblocking_filter_idc": 0, "slice_alpha_c0_offset_div2": 2, "slice_beta_offset_div2": -2,
         "num_ref_idx_l0_active_minus1": 3, "num_ref_idx_l1_active_minus1": 1, "reserved": 9,
         "ref_pic_list0": [{"fields": 3, "index": i} for i in range(4)],
         "ref_pic_list1": [{"fields": 3, "index": 1}], "flags": 3}
        for st in (1, 0, 2, 3, 4, 5)
    ],
    cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS: [
        {"dpb": [{"reference_ts": 1000 * (i + 1), "pic_num": i, "frame_num": i, "fields": 3,
                  "reserved": [i, 1, 2, 3, 4], "top_field_order_cnt": 2 * i, "bottom_field_order_cnt": 2 * i + 1,
                  "flags": 3} for i in range(4)],
         "nal_ref_idc": 1, "frame_num": 4, "top_field_order_cnt": 8, "idr_pic_id": 2, "pic_order_cnt_lsb": 8,
         "dec_ref_pic_marking_bit_size": 2, "pic_order_cnt_bit_size": 8, "reserved": 0xDEAD, "flags": 8},
    ],
    cid.V4L2_CID_STATELESS_FWHT_PARAMS: [
        {"backward_ref_ts": 5000, "version": 3, "width": 320, "height": 240,
         "flags": fwht.V4L2_FWHT_FL_PIXENC_YUV | (2 << fwht.V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET),
         "colorspace": 1, "xfer_func": 1, "ycbcr_enc": 1, "quantization": 1},
    ],
}
COMPOUND = sorted(_BASES)

# Every scalar is swept over its boundary values on the first base; on the other bases only the
# fields whose checks depend on other fields (profile vs chroma format, slice type vs ref counts).
_INTERACTING: dict[int, list[tuple]] = {
    cid.V4L2_CID_STATELESS_H264_SPS: [("chroma_format_idc",), ("pic_order_cnt_type",), ("flags",),
                                      ("bit_depth_luma_minus8",)],
    cid.V4L2_CID_STATELESS_H264_SLICE_PARAMS: [("num_ref_idx_l0_active_minus1",),
                                               ("num_ref_idx_l1_active_minus1",), ("flags",)],
}


def _scalar_paths(con, prefix=()):
    """(path, format char) of every scalar of a struct; arrays: first and last element only."""
    if isinstance(con, construct.FormatField):
        yield prefix, con.fmtstr[1]
    elif isinstance(con, construct.Array):
        for i in sorted({0, con.count - 1}):
            yield from _scalar_paths(con.subcon, prefix + (i,))
    else:
        for sc in con.subcons:
            yield from _scalar_paths(sc.subcon, prefix + (sc.name,))


def _set(d, path, value) -> None:
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value


def _rand_struct(con, rng: random.Random):
    if isinstance(con, construct.FormatField):
        lo, hi = _RANGE[con.fmtstr[1]]
        return rng.choice(_BOUNDARY[con.fmtstr[1]]) if rng.random() < 0.5 else rng.randint(lo, hi)
    if isinstance(con, construct.Array):
        return [_rand_struct(con.subcon, rng) for _ in range(con.count)]
    return {sc.name: _rand_struct(sc.subcon, rng) for sc in con.subcons}


def cases(ctrl_id: int, seed: int = 2024, n_random: int = 60) -> list[bytes]:
    """Payloads: boundary values of every scalar (first base) and of the interacting fields
    (other bases), then a seeded random sample (random structs and bases with random fields)."""
    con = {**h264.CONTROL_STRUCTS, **fwht.CONTROL_STRUCTS}[ctrl_id]
    bases = [h264.pack(con, b) for b in _BASES[ctrl_id]]
    paths = list(_scalar_paths(con))
    out: list[bytes] = []
    for n, base in enumerate(bases):
        out.append(base)
        fmts = dict(paths)
        for path in [p for p, _ in paths] if n == 0 else _INTERACTING.get(ctrl_id, []):
            for value in _BOUNDARY[fmts[path]]:
                d = h264.unpack(con, base)
                _set(d, path, value)
                out.append(h264.pack(con, d))
    rng = random.Random(seed + ctrl_id)
    for i in range(n_random):
        if i % 3 == 0:  # fully random struct
            out.append(h264.pack(con, _rand_struct(con, rng)))
        else:  # a base with a few random fields
            d = h264.unpack(con, rng.choice(bases))
            for path, fmt in rng.sample(paths, min(len(paths), rng.randint(1, 4))):
                _set(d, path, rng.choice(_BOUNDARY[fmt]) if rng.random() < 0.7 else rng.randint(*_RANGE[fmt]))
            out.append(h264.pack(con, d))
    return list(dict.fromkeys(out))  # unique, order kept


def predict(ctrl_id: int, payload: bytes) -> tuple[int, bytes | None]:
    try:
        return 0, validate_control(ctrl_id, payload)
    except ControlValidationError as e:
        return e.errno, None


# --------------------------------------------------------------------------------- tests
def test_case_generation_is_deterministic() -> None:
    a = cases(cid.V4L2_CID_STATELESS_H264_SPS)
    assert a == cases(cid.V4L2_CID_STATELESS_H264_SPS)
    errs = {predict(cid.V4L2_CID_STATELESS_H264_SPS, p)[0] for p in a}
    assert errs == {0, errno.EINVAL}, "the sample must hold both valid and invalid payloads"


@pytest.mark.parametrize("ctrl_id", COMPOUND, ids=[cid.CONTROL_NAMES[c][len("V4L2_CID_STATELESS_"):] for c in COMPOUND])
@pytest.mark.parametrize("backend", BACKENDS)
def test_compound_control_errno_and_normalisation(backend: str, ctrl_id: int) -> None:
    dev = open_dev(backend, ctrl_id)
    name = cid.CONTROL_NAMES[ctrl_id]
    try:
        q = dev.query(ctrl_id)
        con = {**h264.CONTROL_STRUCTS, **fwht.CONTROL_STRUCTS}[ctrl_id]
        assert q.elem_size == con.sizeof(), f"{name}: elem_size {q.elem_size} != sizeof {con.sizeof()}"
        err, current = dev.ext(v.VIDIOC_G_EXT_CTRLS, ctrl_id, bytes(con.sizeof()))
        assert err == 0
        problems: list[str] = []
        payloads = cases(ctrl_id)
        n_valid = 0
        for i, payload in enumerate(payloads):
            want_err, want = predict(ctrl_id, payload)
            n_valid += want_err == 0
            for req, op in ((v.VIDIOC_TRY_EXT_CTRLS, "TRY"), (v.VIDIOC_S_EXT_CTRLS, "S")):
                got_err, after = dev.ext(req, ctrl_id, payload)
                if got_err != want_err:
                    problems.append(f"case {i} {op}: errno {got_err} predicted {want_err}: "
                                    f"{_diff(con, payload, None)}")
                    break
                if want_err == 0 and after != want:
                    problems.append(f"case {i} {op}: returned payload differs: {_diff(con, want, after)}")
            if got_err == 0 and op == "S":
                current = want
            err, stored = dev.ext(v.VIDIOC_G_EXT_CTRLS, ctrl_id, bytes(con.sizeof()))
            if err != 0 or stored != current:
                problems.append(f"case {i} G after S: errno {err}, stored value differs: {_diff(con, current, stored)}")
            if len(problems) > 20:
                break
        assert n_valid > 0
        if ctrl_id != cid.V4L2_CID_STATELESS_H264_SCALING_MATRIX:  # the kernel accepts any matrix
            assert n_valid < len(payloads), "the cases must hold both valid and invalid payloads"
        assert not problems, f"{name} on {backend} ({len(payloads)} cases, {n_valid} valid):\n" + "\n".join(problems)
    finally:
        dev.backend.close(dev.fd)


def _diff(con, a: bytes, b: bytes | None) -> str:
    """Readable summary: the non-zero scalars of *a*, or the fields where *a* and *b* differ."""
    da = h264.unpack(con, a)
    flat_a = dict(_flatten(da))
    if b is None:
        return ", ".join(f"{k}={val}" for k, val in flat_a.items() if val)[:300]
    flat_b = dict(_flatten(h264.unpack(con, b)))
    return ", ".join(f"{k}: want {flat_a[k]} got {flat_b[k]}" for k in flat_a if flat_a[k] != flat_b[k])[:400]


def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        for k, val in obj.items():
            yield from _flatten(val, f"{prefix}.{k}" if prefix else k)
    elif isinstance(obj, list):
        for i, val in enumerate(obj):
            yield from _flatten(val, f"{prefix}[{i}]")
    else:
        yield prefix, obj


@pytest.mark.parametrize("backend", BACKENDS)
def test_compound_payload_size(backend: str) -> None:
    """Too small a size: EFAULT as predicted; larger: accepted, normalised like the exact size."""
    ctrl_id = cid.V4L2_CID_STATELESS_H264_SPS
    dev = open_dev(backend, ctrl_id)
    try:
        payload = h264.pack(h264.v4l2_ctrl_h264_sps, _BASES[ctrl_id][1])
        want_err, _ = predict(ctrl_id, payload[:-1])
        assert want_err == errno.EFAULT
        got_err, _ = dev.ext(v.VIDIOC_S_EXT_CTRLS, ctrl_id, payload, size=len(payload) - 1)
        assert got_err == want_err
        got_err, after = dev.ext(v.VIDIOC_TRY_EXT_CTRLS, ctrl_id, payload + bytes(16), size=len(payload) + 16)
        assert got_err == 0
        assert after[: len(payload)] == validate_control(ctrl_id, payload + bytes(16))
    finally:
        dev.backend.close(dev.fd)


@pytest.mark.parametrize("backend", BACKENDS)
def test_menu_controls_range(backend: str) -> None:
    for ctrl_id in (cid.V4L2_CID_STATELESS_H264_DECODE_MODE, cid.V4L2_CID_STATELESS_H264_START_CODE):
        dev = open_dev(backend, ctrl_id)
        try:
            q = dev.query(ctrl_id)
            assert q.type == v.V4L2_CTRL_TYPE_MENU
            names = {}
            for idx in range(q.minimum, q.maximum + 1):
                m = v.v4l2_querymenu()
                m.id, m.index = ctrl_id, idx
                try:
                    dev.backend.ioctl(dev.fd, v.VIDIOC_QUERYMENU, m)
                    names[idx] = m.name.decode()
                except V4L2Error:
                    names[idx] = ""
            for value in (-(2**31), -1, 0, 1, 2, 3, 100):
                try:
                    want = (0, validate_plain(q.type, value, q.minimum, q.maximum, q.step, menu_names=names))
                except ControlValidationError as e:
                    want = (e.errno, None)
                for req in (v.VIDIOC_TRY_EXT_CTRLS, v.VIDIOC_S_EXT_CTRLS):
                    got_err, got_value = dev.ext_value(req, ctrl_id, value)
                    assert got_err == want[0], (cid.CONTROL_NAMES[ctrl_id], value, req)
                    if want[0] == 0:
                        assert got_value == want[1]
        finally:
            dev.backend.close(dev.fd)
