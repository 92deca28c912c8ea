"""Stateless H.264 controls of ``include/uapi/linux/v4l2-controls.h`` as construct structs.

Each struct below reads side by side with the C header: same struct name, same member names in
the same order, C offsets in the comments. ``tests/test_uapi_layout.py`` checks every offset and
size with gcc against the installed headers.

Control values travel as plain dicts keyed by C member names (nested dicts for nested structs,
lists for arrays, lists of lists for 2-D arrays):

    pack(v4l2_ctrl_h264_pps, {"weighted_bipred_idc": 1, "flags": V4L2_H264_PPS_FLAG_WEIGHTED_PRED})
    unpack(v4l2_ctrl_h264_decode_params, data)["dpb"][0]["reference_ts"]

``pack`` runs a precompiled fast path (:class:`pyv4l2req.uapi.packing.FastStruct`, generated
from these declarations) that produces the same bytes as construct's ``build``;
``pack_into(struct, buf, offset, values)`` writes them into a reused buffer (a control payload).
"""

from __future__ import annotations

from typing import Any

from construct import Array, Int8sl, Int8ul, Int16sl, Int16ul, Int32sl, Int32ul, Int64ul, Struct

from . import controls as _cid
from .packing import FastStruct, PackCache, fast, pack, pack_into, register, unpack  # noqa: F401  (public API here)

# --------------------------------------------------------------------------- constants
V4L2_H264_SPS_CONSTRAINT_SET0_FLAG = 0x01
V4L2_H264_SPS_CONSTRAINT_SET1_FLAG = 0x02
V4L2_H264_SPS_CONSTRAINT_SET2_FLAG = 0x04
V4L2_H264_SPS_CONSTRAINT_SET3_FLAG = 0x08
V4L2_H264_SPS_CONSTRAINT_SET4_FLAG = 0x10
V4L2_H264_SPS_CONSTRAINT_SET5_FLAG = 0x20

V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE = 0x01
V4L2_H264_SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS = 0x02
V4L2_H264_SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO = 0x04
V4L2_H264_SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED = 0x08
V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY = 0x10
V4L2_H264_SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD = 0x20
V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE = 0x40

V4L2_H264_PPS_FLAG_ENTROPY_CODING_MODE = 0x0001
V4L2_H264_PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT = 0x0002
V4L2_H264_PPS_FLAG_WEIGHTED_PRED = 0x0004
V4L2_H264_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT = 0x0008
V4L2_H264_PPS_FLAG_CONSTRAINED_INTRA_PRED = 0x0010
V4L2_H264_PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT = 0x0020
V4L2_H264_PPS_FLAG_TRANSFORM_8X8_MODE = 0x0040
V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT = 0x0080

V4L2_H264_SLICE_TYPE_P = 0
V4L2_H264_SLICE_TYPE_B = 1
V4L2_H264_SLICE_TYPE_I = 2
V4L2_H264_SLICE_TYPE_SP = 3
V4L2_H264_SLICE_TYPE_SI = 4

V4L2_H264_SLICE_FLAG_DIRECT_SPATIAL_MV_PRED = 0x01
V4L2_H264_SLICE_FLAG_SP_FOR_SWITCH = 0x02

V4L2_H264_TOP_FIELD_REF = 0x1
V4L2_H264_BOTTOM_FIELD_REF = 0x2
V4L2_H264_FRAME_REF = 0x3

V4L2_H264_NUM_DPB_ENTRIES = 16
V4L2_H264_REF_LIST_LEN = 2 * V4L2_H264_NUM_DPB_ENTRIES

V4L2_H264_DPB_ENTRY_FLAG_VALID = 0x01
V4L2_H264_DPB_ENTRY_FLAG_ACTIVE = 0x02
V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM = 0x04
V4L2_H264_DPB_ENTRY_FLAG_FIELD = 0x08

V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC = 0x01
V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC = 0x02
V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD = 0x04
V4L2_H264_DECODE_PARAM_FLAG_PFRAME = 0x08
V4L2_H264_DECODE_PARAM_FLAG_BFRAME = 0x10

#: profile_idc values for which the SPS carries chroma_format_idc (V4L2_H264_SPS_HAS_CHROMA_FORMAT)
V4L2_H264_SPS_CHROMA_FORMAT_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def V4L2_H264_SPS_HAS_CHROMA_FORMAT(sps: dict) -> bool:
    """The header's macro of the same name, on an SPS dict."""
    return sps.get("profile_idc", 0) in V4L2_H264_SPS_CHROMA_FORMAT_PROFILES


def V4L2_H264_CTRL_PRED_WEIGHTS_REQUIRED(pps: dict, slice_params: dict) -> bool:
    """The header's macro of the same name: does this slice need the PRED_WEIGHTS control?"""
    st = slice_params.get("slice_type", 0)
    return bool(
        (pps.get("flags", 0) & V4L2_H264_PPS_FLAG_WEIGHTED_PRED and st in (V4L2_H264_SLICE_TYPE_P, V4L2_H264_SLICE_TYPE_SP))
        or (pps.get("weighted_bipred_idc", 0) == 1 and st == V4L2_H264_SLICE_TYPE_B)
    )


# ----------------------------------------------------------------------------- structs
v4l2_ctrl_h264_sps = Struct(
    "profile_idc" / Int8ul,  # 0
    "constraint_set_flags" / Int8ul,  # 1
    "level_idc" / Int8ul,  # 2
    "seq_parameter_set_id" / Int8ul,  # 3
    "chroma_format_idc" / Int8ul,  # 4
    "bit_depth_luma_minus8" / Int8ul,  # 5
    "bit_depth_chroma_minus8" / Int8ul,  # 6
    "log2_max_frame_num_minus4" / Int8ul,  # 7
    "pic_order_cnt_type" / Int8ul,  # 8
    "log2_max_pic_order_cnt_lsb_minus4" / Int8ul,  # 9
    "max_num_ref_frames" / Int8ul,  # 10
    "num_ref_frames_in_pic_order_cnt_cycle" / Int8ul,  # 11
    "offset_for_ref_frame" / Array(255, Int32sl),  # 12  __s32 [255]
    "offset_for_non_ref_pic" / Int32sl,  # 1032
    "offset_for_top_to_bottom_field" / Int32sl,  # 1036
    "pic_width_in_mbs_minus1" / Int16ul,  # 1040
    "pic_height_in_map_units_minus1" / Int16ul,  # 1042
    "flags" / Int32ul,  # 1044  V4L2_H264_SPS_FLAG_*
)  # sizeof 1048

v4l2_ctrl_h264_pps = Struct(
    "pic_parameter_set_id" / Int8ul,  # 0
    "seq_parameter_set_id" / Int8ul,  # 1
    "num_slice_groups_minus1" / Int8ul,  # 2
    "num_ref_idx_l0_default_active_minus1" / Int8ul,  # 3
    "num_ref_idx_l1_default_active_minus1" / Int8ul,  # 4
    "weighted_bipred_idc" / Int8ul,  # 5
    "pic_init_qp_minus26" / Int8sl,  # 6
    "pic_init_qs_minus26" / Int8sl,  # 7
    "chroma_qp_index_offset" / Int8sl,  # 8
    "second_chroma_qp_index_offset" / Int8sl,  # 9
    "flags" / Int16ul,  # 10  V4L2_H264_PPS_FLAG_*
)  # sizeof 12

v4l2_ctrl_h264_scaling_matrix = Struct(
    "scaling_list_4x4" / Array(6, Array(16, Int8ul)),  # 0    __u8 [6][16]
    "scaling_list_8x8" / Array(6, Array(64, Int8ul)),  # 96   __u8 [6][64]
)  # sizeof 480

v4l2_h264_weight_factors = Struct(
    "luma_weight" / Array(32, Int16sl),  # 0    __s16 [32]
    "luma_offset" / Array(32, Int16sl),  # 64   __s16 [32]
    "chroma_weight" / Array(32, Array(2, Int16sl)),  # 128  __s16 [32][2]
    "chroma_offset" / Array(32, Array(2, Int16sl)),  # 256  __s16 [32][2]
)  # sizeof 384

v4l2_ctrl_h264_pred_weights = Struct(
    "luma_log2_weight_denom" / Int16ul,  # 0
    "chroma_log2_weight_denom" / Int16ul,  # 2
    "weight_factors" / Array(2, v4l2_h264_weight_factors),  # 4  struct v4l2_h264_weight_factors [2]
)  # sizeof 772

v4l2_h264_reference = Struct(
    "fields" / Int8ul,  # 0  V4L2_H264_{TOP_FIELD,BOTTOM_FIELD,FRAME}_REF
    "index" / Int8ul,  # 1  index into v4l2_ctrl_h264_decode_params.dpb
)  # sizeof 2

v4l2_ctrl_h264_slice_params = Struct(
    "header_bit_size" / Int32ul,  # 0
    "first_mb_in_slice" / Int32ul,  # 4
    "slice_type" / Int8ul,  # 8   V4L2_H264_SLICE_TYPE_*
    "colour_plane_id" / Int8ul,  # 9
    "redundant_pic_cnt" / Int8ul,  # 10
    "cabac_init_idc" / Int8ul,  # 11
    "slice_qp_delta" / Int8sl,  # 12
    "slice_qs_delta" / Int8sl,  # 13
    "disable_deblocking_filter_idc" / Int8ul,  # 14
    "slice_alpha_c0_offset_div2" / Int8sl,  # 15
    "slice_beta_offset_div2" / Int8sl,  # 16
    "num_ref_idx_l0_active_minus1" / Int8ul,  # 17
    "num_ref_idx_l1_active_minus1" / Int8ul,  # 18
    "reserved" / Int8ul,  # 19
    "ref_pic_list0" / Array(V4L2_H264_REF_LIST_LEN, v4l2_h264_reference),  # 20
    "ref_pic_list1" / Array(V4L2_H264_REF_LIST_LEN, v4l2_h264_reference),  # 84
    "flags" / Int32ul,  # 148  V4L2_H264_SLICE_FLAG_*
)  # sizeof 152

v4l2_h264_dpb_entry = Struct(
    "reference_ts" / Int64ul,  # 0   v4l2_timeval_to_ns() of the reference's OUTPUT buffer
    "pic_num" / Int32ul,  # 8
    "frame_num" / Int16ul,  # 12
    "fields" / Int8ul,  # 14
    "reserved" / Array(5, Int8ul),  # 15  __u8 [5]
    "top_field_order_cnt" / Int32sl,  # 20
    "bottom_field_order_cnt" / Int32sl,  # 24
    "flags" / Int32ul,  # 28  V4L2_H264_DPB_ENTRY_FLAG_*
)  # sizeof 32

v4l2_ctrl_h264_decode_params = Struct(
    "dpb" / Array(V4L2_H264_NUM_DPB_ENTRIES, v4l2_h264_dpb_entry),  # 0
    "nal_ref_idc" / Int16ul,  # 512
    "frame_num" / Int16ul,  # 514
    "top_field_order_cnt" / Int32sl,  # 516
    "bottom_field_order_cnt" / Int32sl,  # 520
    "idr_pic_id" / Int16ul,  # 524
    "pic_order_cnt_lsb" / Int16ul,  # 526
    "delta_pic_order_cnt_bottom" / Int32sl,  # 528
    "delta_pic_order_cnt0" / Int32sl,  # 532
    "delta_pic_order_cnt1" / Int32sl,  # 536
    "dec_ref_pic_marking_bit_size" / Int32ul,  # 540
    "pic_order_cnt_bit_size" / Int32ul,  # 544
    "slice_group_change_cycle" / Int32ul,  # 548
    "reserved" / Int32ul,  # 552
    "flags" / Int32ul,  # 556  V4L2_H264_DECODE_PARAM_FLAG_*
)  # sizeof 560

#: C struct name -> construct struct (for --layout and the gcc layout test)
C_STRUCTS: dict[str, Any] = {
    "v4l2_ctrl_h264_sps": v4l2_ctrl_h264_sps,
    "v4l2_ctrl_h264_pps": v4l2_ctrl_h264_pps,
    "v4l2_ctrl_h264_scaling_matrix": v4l2_ctrl_h264_scaling_matrix,
    "v4l2_h264_weight_factors": v4l2_h264_weight_factors,
    "v4l2_ctrl_h264_pred_weights": v4l2_ctrl_h264_pred_weights,
    "v4l2_h264_reference": v4l2_h264_reference,
    "v4l2_ctrl_h264_slice_params": v4l2_ctrl_h264_slice_params,
    "v4l2_h264_dpb_entry": v4l2_h264_dpb_entry,
    "v4l2_ctrl_h264_decode_params": v4l2_ctrl_h264_decode_params,
}

#: control id -> construct struct of its payload
CONTROL_STRUCTS: dict[int, Any] = {
    _cid.V4L2_CID_STATELESS_H264_SPS: v4l2_ctrl_h264_sps,
    _cid.V4L2_CID_STATELESS_H264_PPS: v4l2_ctrl_h264_pps,
    _cid.V4L2_CID_STATELESS_H264_SCALING_MATRIX: v4l2_ctrl_h264_scaling_matrix,
    _cid.V4L2_CID_STATELESS_H264_PRED_WEIGHTS: v4l2_ctrl_h264_pred_weights,
    _cid.V4L2_CID_STATELESS_H264_SLICE_PARAMS: v4l2_ctrl_h264_slice_params,
    _cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS: v4l2_ctrl_h264_decode_params,
}

# ------------------------------------------------------------------------ pack / unpack
# pack(struct, values) -> bytes and unpack(struct, data) -> dict live in packing.py (shared with
# fwht.py); the structs above are compiled to their fast path here, once, at import.
register(C_STRUCTS)
