"""pyv4l2req.uapi.validate on the host: the rules of std_validate_compound / std_validate, case by case.

The oracle for these rules is the real kernel: tests/device/test_control_validation.py sends
thousands of payloads to visl in the test VM and compares errno and stored value with
validate_control. The cases here pin each rule down so that a regression names the rule.
"""

from __future__ import annotations

import errno

import pytest

from pyv4l2req.errors import ControlValidationError
from pyv4l2req.uapi import controls as c
from pyv4l2req.uapi import fwht, h264
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.uapi.validate import validate_control, validate_plain

SPS, PPS, SLICE, DEC, PW, SM = (
    c.V4L2_CID_STATELESS_H264_SPS,
    c.V4L2_CID_STATELESS_H264_PPS,
    c.V4L2_CID_STATELESS_H264_SLICE_PARAMS,
    c.V4L2_CID_STATELESS_H264_DECODE_PARAMS,
    c.V4L2_CID_STATELESS_H264_PRED_WEIGHTS,
    c.V4L2_CID_STATELESS_H264_SCALING_MATRIX,
)
STRUCT = {**h264.CONTROL_STRUCTS, **fwht.CONTROL_STRUCTS}


def run(cid: int, values: dict) -> dict:
    con = STRUCT[cid]
    return h264.unpack(con, validate_control(cid, h264.pack(con, values)))


def fails(cid: int, values: dict, field: str, err: int = errno.EINVAL) -> ControlValidationError:
    con = STRUCT[cid]
    with pytest.raises(ControlValidationError) as ei:
        validate_control(cid, h264.pack(con, values))
    assert ei.value.field == field and ei.value.errno == err, str(ei.value)
    assert c.CONTROL_NAMES[cid] in str(ei.value)
    return ei.value


HIGH = {"profile_idc": 100, "chroma_format_idc": 1, "flags": h264.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY}


def test_valid_sps_is_unchanged() -> None:
    sps = {**HIGH, "level_idc": 40, "pic_order_cnt_type": 2, "max_num_ref_frames": 32,
           "log2_max_frame_num_minus4": 12, "bit_depth_luma_minus8": 6, "bit_depth_chroma_minus8": 6}
    payload = h264.pack(h264.v4l2_ctrl_h264_sps, sps)
    assert validate_control(SPS, payload) == payload


def test_sps_normalisation() -> None:
    # MB_ADAPTIVE_FRAME_FIELD is meaningless with FRAME_MBS_ONLY
    assert run(SPS, {**HIGH, "flags": 0x30})["flags"] == 0x10
    assert run(SPS, {**HIGH, "flags": 0x20})["flags"] == 0x20
    # profiles without chroma_format_idc: 4:2:0 8-bit forced, QPPRIME and SEPARATE_COLOUR_PLANE cleared
    r = run(SPS, {"profile_idc": 66, "chroma_format_idc": 3, "bit_depth_luma_minus8": 9,
                  "bit_depth_chroma_minus8": 7, "flags": 0x03})
    assert (r["chroma_format_idc"], r["bit_depth_luma_minus8"], r["bit_depth_chroma_minus8"], r["flags"]) == (1, 0, 0, 0)
    # SEPARATE_COLOUR_PLANE is cleared below 4:4:4 whatever the profile (6.12.y), kept for 4:4:4
    assert run(SPS, {"profile_idc": 100, "chroma_format_idc": 1, "flags": 0x01})["flags"] == 0
    assert run(SPS, {"profile_idc": 244, "chroma_format_idc": 3, "flags": 0x01})["flags"] == 1


def test_sps_poc_type_fields() -> None:
    cycle = {"num_ref_frames_in_pic_order_cnt_cycle": 3, "offset_for_ref_frame": [1, 2, 3],
             "offset_for_non_ref_pic": -4, "offset_for_top_to_bottom_field": 5, "log2_max_pic_order_cnt_lsb_minus4": 6}
    r0 = run(SPS, {**HIGH, **cycle, "pic_order_cnt_type": 0})
    assert r0["log2_max_pic_order_cnt_lsb_minus4"] == 6
    assert r0["num_ref_frames_in_pic_order_cnt_cycle"] == 0 and r0["offset_for_ref_frame"][:3] == [0, 0, 0]
    assert r0["offset_for_non_ref_pic"] == 0 and r0["offset_for_top_to_bottom_field"] == 0
    r1 = run(SPS, {**HIGH, **cycle, "pic_order_cnt_type": 1})
    assert r1["log2_max_pic_order_cnt_lsb_minus4"] == 0 and r1["offset_for_ref_frame"][:3] == [1, 2, 3]
    # the kernel's else-if only clears the type-1 fields for type 0: type 2 keeps them
    r2 = run(SPS, {**HIGH, **cycle, "pic_order_cnt_type": 2})
    assert r2["log2_max_pic_order_cnt_lsb_minus4"] == 0 and r2["num_ref_frames_in_pic_order_cnt_cycle"] == 3


@pytest.mark.parametrize("field,ok,bad", [
    ("bit_depth_luma_minus8", 6, 7), ("bit_depth_chroma_minus8", 6, 7), ("log2_max_frame_num_minus4", 12, 13),
    ("pic_order_cnt_type", 2, 3), ("max_num_ref_frames", 32, 33),
])
def test_sps_limits(field: str, ok: int, bad: int) -> None:
    run(SPS, {**HIGH, field: ok})
    fails(SPS, {**HIGH, field: bad}, field)


def test_sps_log2_lsb_checked_only_for_poc_type_0() -> None:
    fails(SPS, {**HIGH, "log2_max_pic_order_cnt_lsb_minus4": 13}, "log2_max_pic_order_cnt_lsb_minus4")
    run(SPS, {**HIGH, "pic_order_cnt_type": 2, "log2_max_pic_order_cnt_lsb_minus4": 200})


def test_sps_chroma_format_vs_profile() -> None:
    fails(SPS, {**HIGH, "chroma_format_idc": 2}, "chroma_format_idc")
    run(SPS, {**HIGH, "profile_idc": 122, "chroma_format_idc": 2})
    fails(SPS, {**HIGH, "profile_idc": 122, "chroma_format_idc": 3}, "chroma_format_idc")
    run(SPS, {**HIGH, "profile_idc": 244, "chroma_format_idc": 3})
    fails(SPS, {**HIGH, "profile_idc": 244, "chroma_format_idc": 4}, "chroma_format_idc")
    # not a chroma-format profile: any value is replaced by 1 before the checks
    run(SPS, {"profile_idc": 77, "chroma_format_idc": 200})


@pytest.mark.parametrize("field,lo,hi", [
    ("pic_init_qp_minus26", -62, 25), ("pic_init_qs_minus26", -26, 25),
    ("chroma_qp_index_offset", -12, 12), ("second_chroma_qp_index_offset", -12, 12),
])
def test_pps_signed_ranges(field: str, lo: int, hi: int) -> None:
    run(PPS, {field: lo})
    run(PPS, {field: hi})
    fails(PPS, {field: lo - 1}, field)
    fails(PPS, {field: hi + 1}, field)


def test_pps_unsigned_limits() -> None:
    for field, hi in (("num_slice_groups_minus1", 7), ("num_ref_idx_l0_default_active_minus1", 31),
                      ("num_ref_idx_l1_default_active_minus1", 31), ("weighted_bipred_idc", 2)):
        run(PPS, {field: hi})
        fails(PPS, {field: hi + 1}, field)


def test_pred_weights() -> None:
    run(PW, {"luma_log2_weight_denom": 7, "chroma_log2_weight_denom": 7})
    fails(PW, {"luma_log2_weight_denom": 8}, "luma_log2_weight_denom")
    fails(PW, {"chroma_log2_weight_denom": 0xFFFF}, "chroma_log2_weight_denom")


def test_scaling_matrix_anything_goes() -> None:
    payload = bytes(range(256)) + bytes(224)
    assert validate_control(SM, payload) == payload


def test_slice_params() -> None:
    B, P, I, SI = (h264.V4L2_H264_SLICE_TYPE_B, h264.V4L2_H264_SLICE_TYPE_P, h264.V4L2_H264_SLICE_TYPE_I,
                   h264.V4L2_H264_SLICE_TYPE_SI)
    r = run(SLICE, {"slice_type": I, "num_ref_idx_l0_active_minus1": 200, "num_ref_idx_l1_active_minus1": 200,
                    "flags": 3, "reserved": 7})
    assert (r["num_ref_idx_l0_active_minus1"], r["num_ref_idx_l1_active_minus1"], r["flags"], r["reserved"]) == (0, 0, 2, 0)
    r = run(SLICE, {"slice_type": SI, "num_ref_idx_l0_active_minus1": 40})
    assert r["num_ref_idx_l0_active_minus1"] == 0
    r = run(SLICE, {"slice_type": B, "num_ref_idx_l0_active_minus1": 31, "num_ref_idx_l1_active_minus1": 31, "flags": 3})
    assert r["flags"] == 3 and r["num_ref_idx_l1_active_minus1"] == 31
    fails(SLICE, {"slice_type": B, "num_ref_idx_l1_active_minus1": 32}, "num_ref_idx_l1_active_minus1")
    fails(SLICE, {"slice_type": P, "num_ref_idx_l0_active_minus1": 32}, "num_ref_idx_l0_active_minus1")
    assert run(SLICE, {"slice_type": 9, "num_ref_idx_l1_active_minus1": 99})["num_ref_idx_l1_active_minus1"] == 0
    for field in ("colour_plane_id", "cabac_init_idc", "disable_deblocking_filter_idc"):
        run(SLICE, {field: 2})
        fails(SLICE, {field: 3}, field)
    for field in ("slice_alpha_c0_offset_div2", "slice_beta_offset_div2"):
        run(SLICE, {field: -6})
        fails(SLICE, {field: 7}, field)
        fails(SLICE, {field: -7}, field)


def test_decode_params() -> None:
    r = run(DEC, {"dpb": [{"reserved": [1, 2, 3, 4, 5], "flags": 3}] * 16, "reserved": 9, "nal_ref_idc": 3})
    assert all(e["reserved"] == [0] * 5 and e["flags"] == 3 for e in r["dpb"]) and r["reserved"] == 0
    fails(DEC, {"nal_ref_idc": 4}, "nal_ref_idc")


def test_fwht_params() -> None:
    ok = {"version": 3, "width": 16, "height": 16}
    run(c.V4L2_CID_STATELESS_FWHT_PARAMS, ok)
    run(c.V4L2_CID_STATELESS_FWHT_PARAMS, {**ok, "version": 99})
    fails(c.V4L2_CID_STATELESS_FWHT_PARAMS, {**ok, "version": 2}, "version")
    fails(c.V4L2_CID_STATELESS_FWHT_PARAMS, {**ok, "width": 0}, "width")
    fails(c.V4L2_CID_STATELESS_FWHT_PARAMS, {**ok, "height": 0}, "height")


def test_payload_size_and_unknown_control() -> None:
    payload = h264.pack(h264.v4l2_ctrl_h264_pps, {})
    with pytest.raises(ControlValidationError) as ei:
        validate_control(PPS, payload[:-1])
    assert ei.value.errno == errno.EFAULT
    assert validate_control(PPS, payload + b"\x01\x02") == payload
    with pytest.raises(ControlValidationError) as ei:
        validate_control(c.V4L2_CID_STATELESS_H264_DECODE_MODE, b"\0\0\0\0")
    assert ei.value.errno == errno.EINVAL


def test_plain_controls() -> None:
    M = v.V4L2_CTRL_TYPE_MENU
    assert validate_plain(M, 1, 0, 1) == 1
    for bad in (-1, 2):
        with pytest.raises(ControlValidationError) as ei:
            validate_plain(M, bad, 0, 1, name="V4L2_CID_STATELESS_H264_DECODE_MODE")
        assert ei.value.errno == errno.ERANGE
    with pytest.raises(ControlValidationError) as ei:
        validate_plain(M, 2, 0, 3, menu_skip_mask=1 << 2)
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(ControlValidationError):
        validate_plain(M, 1, 0, 2, menu_names={0: "a", 1: "", 2: "c"})
    I = v.V4L2_CTRL_TYPE_INTEGER
    assert [validate_plain(I, x, 0, 100, 10) for x in (-5, 4, 5, 14, 15, 94, 95, 500)] == [0, 0, 10, 10, 20, 90, 100, 100]
    assert validate_plain(v.V4L2_CTRL_TYPE_BOOLEAN, 7, 0, 1) == 1
    assert validate_plain(v.V4L2_CTRL_TYPE_BITMASK, 0xFF, 0, 0x0F) == 0x0F
