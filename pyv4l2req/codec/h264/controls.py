"""V4L2 stateless H.264 control values from parsed syntax (plain dicts keyed by C field names).

Each function fills one control the way GStreamer's ``gstv4l2codech264dec.c`` does (our
field-by-field reference, checked against visl traces); deliberate differences are noted in the
function's docstring. Packing to bytes is :func:`pyv4l2req.uapi.h264.pack`'s job.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Sequence

from ...uapi import h264 as u
from .dpb import BOTTOM, FRAME, TOP, Dpb, FrameStore
from .reflists import RefPic
from .slice import SliceHeader

__all__ = [
    "sps_control",
    "pps_control",
    "scaling_matrix_control",
    "scaling_matrix_applies",
    "dpb_entries",
    "decode_params_control",
    "slice_params_control",
    "pred_weights_control",
    "pred_weights_required",
    "pred_weights_key",
    "reference_list",
]


def _f(obj: object, name: str, default: int = 0) -> int:
    v = getattr(obj, name, default)
    return default if v is None else int(v)


def sps_control(sps: object) -> dict:
    """``v4l2_ctrl_h264_sps``."""
    flags = 0
    for name, bit in (
        ("separate_colour_plane_flag", u.V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE),
        ("qpprime_y_zero_transform_bypass_flag", u.V4L2_H264_SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS),
        ("delta_pic_order_always_zero_flag", u.V4L2_H264_SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO),
        ("gaps_in_frame_num_value_allowed_flag", u.V4L2_H264_SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED),
        ("frame_mbs_only_flag", u.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY),
        ("mb_adaptive_frame_field_flag", u.V4L2_H264_SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD),
        ("direct_8x8_inference_flag", u.V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE),
    ):
        if _f(sps, name):
            flags |= bit
    constraint = 0
    for i in range(6):
        if _f(sps, f"constraint_set{i}_flag"):
            constraint |= 1 << i
    n = _f(sps, "num_ref_frames_in_pic_order_cnt_cycle")
    offsets = list(getattr(sps, "offset_for_ref_frame", []) or [])[:n]
    return {
        "profile_idc": _f(sps, "profile_idc"),
        "constraint_set_flags": constraint,
        "level_idc": _f(sps, "level_idc"),
        "seq_parameter_set_id": _f(sps, "seq_parameter_set_id"),
        "chroma_format_idc": _f(sps, "chroma_format_idc", 1),
        "bit_depth_luma_minus8": _f(sps, "bit_depth_luma_minus8"),
        "bit_depth_chroma_minus8": _f(sps, "bit_depth_chroma_minus8"),
        "log2_max_frame_num_minus4": _f(sps, "log2_max_frame_num_minus4"),
        "pic_order_cnt_type": _f(sps, "pic_order_cnt_type"),
        "log2_max_pic_order_cnt_lsb_minus4": _f(sps, "log2_max_pic_order_cnt_lsb_minus4"),
        "max_num_ref_frames": _f(sps, "max_num_ref_frames"),
        "num_ref_frames_in_pic_order_cnt_cycle": n,
        "offset_for_ref_frame": offsets + [0] * (255 - len(offsets)),
        "offset_for_non_ref_pic": _f(sps, "offset_for_non_ref_pic"),
        "offset_for_top_to_bottom_field": _f(sps, "offset_for_top_to_bottom_field"),
        "pic_width_in_mbs_minus1": _f(sps, "pic_width_in_mbs_minus1"),
        "pic_height_in_map_units_minus1": _f(sps, "pic_height_in_map_units_minus1"),
        "flags": flags,
    }


def scaling_matrix_applies(sps: object, pps: object) -> bool:
    """GStreamer's rule: a matrix is sent when the SPS or the PPS signals one."""
    return bool(_f(sps, "seq_scaling_matrix_present_flag") or _f(pps, "pic_scaling_matrix_present_flag"))


def pps_control(pps: object, sps: object) -> dict:
    """``v4l2_ctrl_h264_pps``; SCALING_MATRIX_PRESENT as :func:`scaling_matrix_applies`."""
    flags = 0
    for name, bit in (
        ("entropy_coding_mode_flag", u.V4L2_H264_PPS_FLAG_ENTROPY_CODING_MODE),
        ("bottom_field_pic_order_in_frame_present_flag",
         u.V4L2_H264_PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT),
        ("weighted_pred_flag", u.V4L2_H264_PPS_FLAG_WEIGHTED_PRED),
        ("deblocking_filter_control_present_flag", u.V4L2_H264_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT),
        ("constrained_intra_pred_flag", u.V4L2_H264_PPS_FLAG_CONSTRAINED_INTRA_PRED),
        ("redundant_pic_cnt_present_flag", u.V4L2_H264_PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT),
        ("transform_8x8_mode_flag", u.V4L2_H264_PPS_FLAG_TRANSFORM_8X8_MODE),
    ):
        if _f(pps, name):
            flags |= bit
    if scaling_matrix_applies(sps, pps):
        flags |= u.V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT
    return {
        "pic_parameter_set_id": _f(pps, "pic_parameter_set_id"),
        "seq_parameter_set_id": _f(pps, "seq_parameter_set_id"),
        "num_slice_groups_minus1": _f(pps, "num_slice_groups_minus1"),
        "num_ref_idx_l0_default_active_minus1": _f(pps, "num_ref_idx_l0_default_active_minus1"),
        "num_ref_idx_l1_default_active_minus1": _f(pps, "num_ref_idx_l1_default_active_minus1"),
        "weighted_bipred_idc": _f(pps, "weighted_bipred_idc"),
        "pic_init_qp_minus26": _f(pps, "pic_init_qp_minus26"),
        "pic_init_qs_minus26": _f(pps, "pic_init_qs_minus26"),
        "chroma_qp_index_offset": _f(pps, "chroma_qp_index_offset"),
        "second_chroma_qp_index_offset": _f(pps, "second_chroma_qp_index_offset"),
        "flags": flags,
    }


def scaling_matrix_control(sps: object, pps: object) -> dict | None:
    """``v4l2_ctrl_h264_scaling_matrix`` (raster order, kernel list order) or None when flat.

    The lists that apply to the picture are the PPS-level resolved ones (fall-back rules A/B
    done by the parser). Like GStreamer, only the two luma 8x8 lists are sent unless
    chroma_format_idc is 3 (the other four stay zero).
    """
    if not scaling_matrix_applies(sps, pps):
        return None
    m = getattr(pps, "scaling_matrix", None) or getattr(sps, "scaling_matrix")
    l8 = m.raster_8x8()
    n8 = 6 if _f(sps, "chroma_format_idc", 1) == 3 else 2
    return {
        "scaling_list_4x4": [list(x) for x in m.raster_4x4()],
        "scaling_list_8x8": [list(l8[i]) if i < n8 else [0] * 64 for i in range(6)],
    }


_DPB_ENTRY_FLAGS = u.V4L2_H264_DPB_ENTRY_FLAG_VALID | u.V4L2_H264_DPB_ENTRY_FLAG_ACTIVE


def dpb_entries(stores: Sequence[FrameStore], structure: int) -> tuple[list[dict], list[FrameStore]]:
    """``dpb[]`` of ``v4l2_ctrl_h264_decode_params``: every frame buffer holding a reference.

    ``reference_ts`` is the picture's timestamp (both fields share it); ``fields`` the fields
    marked as reference; ``pic_num`` PicNum (LongTermPicNum for long-term references) of the
    first coded field and ``frame_num`` frame_num (LongTermFrameIdx for long-term), as the
    kernel doc and GStreamer do; FIELD for pictures coded as fields.
    Non-existing frames (frame_num gaps) alias the picture whose buffer they reuse.
    Returns the entries and the frame store of each entry.

    The DPB changes by about one picture per picture: each store keeps its entry dict
    (``FrameStore.dpb_entry``) with the tuple of every mutable input it was built from
    (``dpb_entry_key``; timestamp_ns, field_coded and first_field never change), and the
    dict is built again only when that tuple differs. The entries are therefore shared by
    the decode params of successive pictures: read-only.
    """
    out: list[dict] = []
    used: list[FrameStore] = []
    for fs in stores:
        short_ref, long_ref = fs.short_ref, fs.long_ref
        if not (short_ref or long_ref) or fs.timestamp_ns < 0:
            continue
        key = (structure, short_ref, long_ref, fs.long_term_frame_idx, fs.frame_num_wrap, fs.frame_num,
               fs.decoded, fs.top_field_order_cnt, fs.bottom_field_order_cnt)
        entry = fs.dpb_entry
        if entry is None or fs.dpb_entry_key != key:
            fs.dpb_entry = entry = _dpb_entry(fs, structure)
            fs.dpb_entry_key = key
        out.append(entry)
        used.append(fs)
        if len(out) == u.V4L2_H264_NUM_DPB_ENTRIES:
            break
    return out, used


def _dpb_entry(fs: FrameStore, structure: int) -> dict:
    """The dpb[] entry of reference frame store ``fs`` (see :func:`dpb_entries`)."""
    flags = _DPB_ENTRY_FLAGS
    # When decoding a field: PicNum of the picture's first coded field; for a picture
    # coded as a frame, of its field with the lower POC (the bottom one when equal), as
    # GStreamer splits frames into fields
    if structure == FRAME:
        parity = FRAME
    elif fs.field_coded:
        parity = fs.first_field
    else:
        parity = TOP if fs.top_field_order_cnt < fs.bottom_field_order_cnt else BOTTOM
    if fs.long_ref:
        flags |= u.V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM
        pic_num = Dpb.long_term_pic_num(fs, parity, structure)
        frame_num = fs.long_term_frame_idx
    else:
        pic_num = fs.frame_num_wrap if structure == FRAME else Dpb.pic_num(fs, parity, structure)
        frame_num = fs.frame_num
    if fs.field_coded:  # "a single field or a complementary field pair" (kernel doc)
        flags |= u.V4L2_H264_DPB_ENTRY_FLAG_FIELD
    decoded = fs.decoded
    return {
        "reference_ts": fs.timestamp_ns,
        "pic_num": pic_num & 0xFFFFFFFF,
        "frame_num": frame_num,
        "fields": fs.short_ref | fs.long_ref,
        "top_field_order_cnt": fs.top_field_order_cnt if decoded & 1 else 0,
        "bottom_field_order_cnt": fs.bottom_field_order_cnt if decoded & 2 else 0,
        "flags": flags,
    }


#: slice header elements of the first slice copied to ``v4l2_ctrl_h264_decode_params``
#: (delta_pic_order_cnt[0..1] apart): the prefix ones, then the two of the lazy tail
_DECODE_FIELDS = (
    "field_pic_flag", "bottom_field_flag", "frame_num", "idr_pic_id", "pic_order_cnt_lsb",
    "delta_pic_order_cnt_bottom", "pic_order_cnt_bit_size",
    "dec_ref_pic_marking_bit_size", "slice_group_change_cycle",
)
_get_decode_fields = attrgetter(*_DECODE_FIELDS)


def decode_params_control(sh: object, nal_ref_idc: int, idr: bool, top_poc: int, bottom_poc: int,
                          dpb: list[dict], slice_types: Sequence[int], second_field: bool = False) -> dict:
    """``v4l2_ctrl_h264_decode_params`` of the picture whose first slice header is ``sh``.

    For a field, the POC of the other parity is 0 for a first field and the first field's
    POC for a second field (as GStreamer 1.22 and FFmpeg's v4l2-request fill it).

    PFRAME/BFRAME: the picture has P (resp. B) slices (as GStreamer 1.22 sets them).

    Of a non-reference picture without slice groups, the two tail elements read here are
    absent (7.3.3): a lazily parsed header gives them as 0 without parsing its tail
    (:class:`.slice.SliceHeader`), so frame-based decoding leaves that tail unparsed.
    """
    if isinstance(sh, SliceHeader):
        # fast path: the parser's headers (a pending tail included) have every element, as
        # an int: one attrgetter call
        (field, bottom_field_flag, frame_num, idr_pic_id, pic_order_cnt_lsb,
         delta_pic_order_cnt_bottom, pic_order_cnt_bit_size, dec_ref_pic_marking_bit_size,
         slice_group_change_cycle) = _get_decode_fields(sh)
    else:  # duck-typed headers: missing / None elements are 0
        (field, bottom_field_flag, frame_num, idr_pic_id, pic_order_cnt_lsb,
         delta_pic_order_cnt_bottom, pic_order_cnt_bit_size, dec_ref_pic_marking_bit_size,
         slice_group_change_cycle) = [_f(sh, name) for name in _DECODE_FIELDS]
    delta = getattr(sh, "delta_pic_order_cnt", None)
    bottom = field and bottom_field_flag
    flags = 0
    if idr:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC
    if field:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC
    if bottom:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD
    kind = 0  # BFRAME if a slice is B, else PFRAME if one is P or SP (a loop: no set per picture)
    for t in slice_types:
        t %= 5
        if t == 1:
            kind = u.V4L2_H264_DECODE_PARAM_FLAG_BFRAME
            break
        if t == 0 or t == 3:
            kind = u.V4L2_H264_DECODE_PARAM_FLAG_PFRAME
    flags |= kind
    if not delta:
        delta0 = delta1 = 0
    else:
        delta0 = int(delta[0])
        delta1 = int(delta[1]) if len(delta) > 1 else 0
    return {
        "dpb": dpb,
        "nal_ref_idc": nal_ref_idc,
        "frame_num": frame_num,
        "top_field_order_cnt": 0 if (bottom and not second_field) else top_poc,
        "bottom_field_order_cnt": 0 if (field and not bottom and not second_field) else bottom_poc,
        "idr_pic_id": idr_pic_id,
        "pic_order_cnt_lsb": pic_order_cnt_lsb,
        "delta_pic_order_cnt_bottom": delta_pic_order_cnt_bottom,
        "delta_pic_order_cnt0": delta0,
        "delta_pic_order_cnt1": delta1,
        "dec_ref_pic_marking_bit_size": dec_ref_pic_marking_bit_size,
        "pic_order_cnt_bit_size": pic_order_cnt_bit_size,
        "slice_group_change_cycle": slice_group_change_cycle,
        "flags": flags,
    }


#: a missing / unused ref_pic_list entry (GStreamer memsets the lists to 0xff): one shared
#: read-only dict
_NO_REFERENCE = {"fields": 0xFF, "index": 0xFF}


def reference_list(entries: Sequence[RefPic | None], dpb_stores: Sequence[FrameStore],
                   structure: int, index_of: dict[int, int] | None = None) -> list[dict]:
    """``ref_pic_list0/1``: {fields, index into dpb[]}; ``dpb_stores`` is the frame store of
    each dpb[] entry (from :func:`dpb_entries`). Missing pictures and unused entries are
    0xff/0xff like GStreamer (it memsets the lists to 0xff); those entries are one shared
    dict, read-only. ``index_of`` ({id(store): dpb index}, built from ``dpb_stores`` when not
    given) lets a caller build it once for all the slices of a picture."""
    if index_of is None:
        index_of = {id(fs): i for i, fs in enumerate(dpb_stores)}
    out: list[dict] = []
    for e in entries:
        idx = index_of.get(id(e.store)) if e is not None else None
        if idx is None:
            out.append(_NO_REFERENCE)
            continue
        out.append({"fields": FRAME if structure == FRAME else e.parity, "index": idx})
    out += [_NO_REFERENCE] * (u.V4L2_H264_REF_LIST_LEN - len(out))
    return out


#: slice header elements copied to ``v4l2_ctrl_h264_slice_params`` (same names), then the flags
_SLICE_FIELDS = (
    "header_bit_size", "first_mb_in_slice", "slice_type", "colour_plane_id", "redundant_pic_cnt",
    "cabac_init_idc", "slice_qp_delta", "slice_qs_delta", "disable_deblocking_filter_idc",
    "slice_alpha_c0_offset_div2", "slice_beta_offset_div2", "num_ref_idx_l0_active_minus1",
    "num_ref_idx_l1_active_minus1", "direct_spatial_mv_pred_flag", "sp_for_switch_flag",
)
_get_slice_fields = attrgetter(*_SLICE_FIELDS)


def slice_params_control(sh: object, list0: list[dict], list1: list[dict]) -> dict:
    """``v4l2_ctrl_h264_slice_params`` of one slice."""
    if isinstance(sh, SliceHeader):
        # fast path: the parser's headers (a pending tail included) have every element, as
        # an int: one attrgetter call
        values: Sequence[int] = _get_slice_fields(sh)
    else:  # duck-typed headers: missing / None elements are 0
        values = [_f(sh, name) for name in _SLICE_FIELDS]
    (header_bit_size, first_mb_in_slice, slice_type, colour_plane_id, redundant_pic_cnt,
     cabac_init_idc, slice_qp_delta, slice_qs_delta, disable_deblocking_filter_idc,
     slice_alpha_c0_offset_div2, slice_beta_offset_div2, num_ref_idx_l0_active_minus1,
     num_ref_idx_l1_active_minus1, direct_spatial_mv_pred_flag, sp_for_switch_flag) = values
    flags = 0
    if direct_spatial_mv_pred_flag:
        flags |= u.V4L2_H264_SLICE_FLAG_DIRECT_SPATIAL_MV_PRED
    if sp_for_switch_flag:
        flags |= u.V4L2_H264_SLICE_FLAG_SP_FOR_SWITCH
    return {
        "header_bit_size": header_bit_size,
        "first_mb_in_slice": first_mb_in_slice,
        "slice_type": slice_type % 5,
        "colour_plane_id": colour_plane_id,
        "redundant_pic_cnt": redundant_pic_cnt,
        "cabac_init_idc": cabac_init_idc,
        "slice_qp_delta": slice_qp_delta,
        "slice_qs_delta": slice_qs_delta,
        "disable_deblocking_filter_idc": disable_deblocking_filter_idc,
        "slice_alpha_c0_offset_div2": slice_alpha_c0_offset_div2,
        "slice_beta_offset_div2": slice_beta_offset_div2,
        "num_ref_idx_l0_active_minus1": num_ref_idx_l0_active_minus1,
        "num_ref_idx_l1_active_minus1": num_ref_idx_l1_active_minus1,
        "ref_pic_list0": list0,
        "ref_pic_list1": list1,
        "flags": flags,
    }


def pred_weights_required(sh: object, pps: object) -> bool:
    """Explicit weighted prediction applies (weighted_pred_flag for P/SP, bipred_idc 1 for B)."""
    try:  # fast path: the elements are ints (parsed headers)
        t = sh.slice_type % 5  # type: ignore[attr-defined]
        weighted_pred_flag = int(pps.weighted_pred_flag)  # type: ignore[attr-defined]
        weighted_bipred_idc = int(pps.weighted_bipred_idc)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # duck-typed: missing / None elements are 0
        t = _f(sh, "slice_type") % 5
        weighted_pred_flag = _f(pps, "weighted_pred_flag")
        weighted_bipred_idc = _f(pps, "weighted_bipred_idc")
    return bool((weighted_pred_flag and t in (0, 3)) or (weighted_bipred_idc == 1 and t == 1))


#: pred_weight_table() element names of each list (built once, not per slice)
_WEIGHT_TABLES = {lx: (f"luma_weight_{lx}", f"luma_offset_{lx}", f"chroma_weight_{lx}",
                       f"chroma_offset_{lx}") for lx in ("l0", "l1")}
_ZEROS = [0] * 32
#: the rows of chroma_weight / chroma_offset past the active references: one shared [0, 0]
#: list (the tables are read-only, see :func:`pred_weights_control`)
_ZERO_ROWS = [[0, 0]] * 32


def _source(sh: object, name: str) -> Sequence:
    """A pred_weight_table element list, from the header itself or its pred_weight_table."""
    src = getattr(sh, name, None)
    if src is None:
        pwt = getattr(sh, "pred_weight_table", None)
        src = getattr(pwt, name, None) if pwt is not None else None
        if src is None and isinstance(pwt, dict):
            src = pwt.get(name)
    return src or ()


def _table(src: Sequence, n: int) -> list[int]:
    """luma_weight / luma_offset: the first *n* values, zero-padded to 32."""
    vals = list(map(int, src[:n]))
    vals += _ZEROS[len(vals):]
    return vals


def _rows(src: Sequence, n: int) -> list[list[int]]:
    """chroma_weight / chroma_offset: the first *n* [Cb, Cr] rows, padded with the shared
    zero row to 32."""
    rows = [[int(r[0]), int(r[1])] for r in src[:n]]
    rows += _ZERO_ROWS[len(rows):]
    return rows


#: every slice header element :func:`pred_weights_control` reads (slice_type as coded: equal
#: keys are sure to give equal controls)
_get_pred_weights_key = attrgetter(
    "slice_type", "num_ref_idx_l0_active_minus1", "num_ref_idx_l1_active_minus1",
    "luma_log2_weight_denom", "chroma_log2_weight_denom", *_WEIGHT_TABLES["l0"], *_WEIGHT_TABLES["l1"])


def pred_weights_key(sh: object) -> tuple | None:
    """What :func:`pred_weights_control` reads from ``sh``, as a tuple: two slices of one
    picture (same SPS) with equal keys have equal pred_weights controls, so the first one's
    dict can be reused. None when the header does not carry the elements as attributes."""
    try:
        return _get_pred_weights_key(sh)
    except AttributeError:
        return None


def pred_weights_control(sh: object, sps: object) -> dict:
    """``v4l2_ctrl_h264_pred_weights`` (explicit weights; inferred defaults where not coded).

    The rows past the active references are shared between tables and controls: treat the
    result as read-only (it is packed, never modified).
    """
    pwt = getattr(sh, "pred_weight_table", None)

    def g(name: str) -> int:
        v = getattr(sh, name, None)
        if v is None and pwt is not None:
            v = pwt.get(name) if isinstance(pwt, dict) else getattr(pwt, name, 0)
        return int(v or 0)

    n0 = _f(sh, "num_ref_idx_l0_active_minus1") + 1
    n1 = _f(sh, "num_ref_idx_l1_active_minus1") + 1 if _f(sh, "slice_type") % 5 == 1 else 0
    chroma = _f(sps, "ChromaArrayType", _f(sps, "chroma_format_idc", 1)) != 0
    factors = []
    for lx, n in (("l0", n0), ("l1", n1)):
        luma_weight, luma_offset, chroma_weight, chroma_offset = _WEIGHT_TABLES[lx]
        nc = n if chroma else 0
        factors.append({
            "luma_weight": _table(_source(sh, luma_weight), n) if n else _ZEROS[:],
            "luma_offset": _table(_source(sh, luma_offset), n) if n else _ZEROS[:],
            "chroma_weight": _rows(_source(sh, chroma_weight), nc) if nc else _ZERO_ROWS[:],
            "chroma_offset": _rows(_source(sh, chroma_offset), nc) if nc else _ZERO_ROWS[:],
        })
    return {
        "luma_log2_weight_denom": g("luma_log2_weight_denom"),
        "chroma_log2_weight_denom": g("chroma_log2_weight_denom"),
        "weight_factors": factors,
    }
