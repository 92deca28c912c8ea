"""The V4L2 stateless H.264 controls of a picture, from the decoding process's objects.

:class:`~.decoder.H264Decoder` says what to decode in the spec's terms (:class:`PictureDecode`:
SPS/PPS objects, slices with their parsed headers, the DPB as :class:`ReferencePicture`
snapshots, reference lists as :class:`PictureReference` entries). This module only fills the
kernel's structs from them, like GStreamer's ``gstv4l2codech264dec.c`` does from
``gsth264decoder.c``'s pictures (our field-by-field reference, checked against visl traces;
deliberate differences are noted where they are made). It reads the objects' attributes and
imports nothing of the codec layer at run time: a module for another device interface (a
VA-API driver's parameter buffers) would sit beside it on the same objects.

Entry points, per picture and per slice:

- :func:`picture_controls` ``(picture) -> {"sps", "pps", "scaling_matrix" (or None),
  "decode_params"}`` -- ``v4l2_ctrl_h264_sps`` / ``_pps`` / ``_scaling_matrix`` /
  ``_decode_params`` values;
- :func:`slice_controls` ``(picture, slice) -> (slice_params, pred_weights or None)`` --
  ``v4l2_ctrl_h264_slice_params`` / ``_pred_weights`` of one slice of ``picture`` (which
  must have reference lists: ``H264Decoder(slice_controls=True)``).

Values are plain dicts keyed by C field names (packing to bytes is
:func:`pyv4l2req.uapi.h264.pack`'s job) and are **read-only** and partly shared: the
SPS/PPS/scaling-matrix dicts by every picture using the same parameter set objects, each
``dpb[]`` entry dict by the pictures that see that reference snapshot unchanged, the
``ref_pic_list0/1`` lists by the slices of a picture with the same lists, one pred_weights dict
by consecutive slices with the same pred_weight_table, the 0xff "no reference" entries and
the zero rows of the weight tables. The caches behind this are keyed by object identity
(the objects are immutable and kept alive by the cache) and bounded.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Sequence

from ...uapi import h264 as u

if TYPE_CHECKING:  # the objects read here (attribute access only)
    from .decoder import PictureDecode, SliceJob
    from .picture import PictureReference, ReferencePicture
    from .pps import PPS
    from .slice import SliceHeader
    from .sps import SPS

__all__ = [
    "picture_controls",
    "slice_controls",
    "sps_control",
    "pps_control",
    "scaling_matrix_control",
    "scaling_matrix_applies",
    "dpb_entry",
    "decode_params_control",
    "reference_list",
    "slice_params_control",
    "pred_weights_control",
    "pred_weights_required",
    "pred_weights_key",
]

_FRAME = u.V4L2_H264_FRAME_REF        # field bits: the codec layer's TOP/BOTTOM/FRAME values
_TOP = u.V4L2_H264_TOP_FIELD_REF
_BOTTOM = u.V4L2_H264_BOTTOM_FIELD_REF

#: the caches' bound: past it a cache starts over (many PPS ids, SPS changes, long streams)
_CACHE_SIZE = 64


# -- per picture ---------------------------------------------------------------------------
#: (id(sps), id(pps)) -> (sps, pps, (sps dict, pps dict, matrix dict or None))
_ps_cache: dict[tuple[int, int], tuple[object, object, tuple]] = {}
#: id(ReferencePicture) -> (the snapshot, structure of the picture it was made for, entry dict)
_entry_cache: dict[int, tuple[object, int, dict]] = {}


def picture_controls(picture: "PictureDecode") -> dict:
    """The per-picture controls of ``picture``: ``{"sps", "pps", "scaling_matrix" (None when
    flat), "decode_params"}``.

    The SPS, PPS and scaling matrix dicts are built once per (SPS, PPS) object pair: parameter
    set objects are never modified (:class:`~.paramsets.ParameterSets` makes a new object for
    new content), so this is a per-sequence cost. A dpb[] entry is built once per
    :class:`ReferencePicture` snapshot and current picture structure.
    """
    sps, pps = picture.sps, picture.pps
    cached = _ps_cache.get((id(sps), id(pps)))
    if cached is None or cached[0] is not sps or cached[1] is not pps:
        if len(_ps_cache) >= _CACHE_SIZE:
            _ps_cache.clear()
        # the objects are kept with their dicts, so that their ids stay unique while cached
        cached = _ps_cache[(id(sps), id(pps))] = (sps, pps, (
            sps_control(sps), pps_control(pps, sps), scaling_matrix_control(sps, pps)))
    sps_ctl, pps_ctl, matrix_ctl = cached[2]
    structure = picture.structure
    dpb = []
    cache_get = _entry_cache.get
    for ref in picture.dpb:
        c = cache_get(id(ref))
        if c is not None and c[0] is ref and c[1] == structure:
            dpb.append(c[2])
            continue
        if len(_entry_cache) >= _CACHE_SIZE:
            _entry_cache.clear()
        entry = dpb_entry(ref, structure)
        _entry_cache[id(ref)] = (ref, structure, entry)
        dpb.append(entry)
    return {"sps": sps_ctl, "pps": pps_ctl, "scaling_matrix": matrix_ctl,
            "decode_params": decode_params_control(picture, dpb)}


def sps_control(sps: "SPS") -> dict:
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
        if getattr(sps, name):
            flags |= bit
    constraint = 0
    for i in range(6):
        if getattr(sps, f"constraint_set{i}_flag"):
            constraint |= 1 << i
    n = sps.num_ref_frames_in_pic_order_cnt_cycle
    offsets = list(sps.offset_for_ref_frame[:n])
    return {
        "profile_idc": sps.profile_idc,
        "constraint_set_flags": constraint,
        "level_idc": sps.level_idc,
        "seq_parameter_set_id": sps.seq_parameter_set_id,
        "chroma_format_idc": sps.chroma_format_idc,
        "bit_depth_luma_minus8": sps.bit_depth_luma_minus8,
        "bit_depth_chroma_minus8": sps.bit_depth_chroma_minus8,
        "log2_max_frame_num_minus4": sps.log2_max_frame_num_minus4,
        "pic_order_cnt_type": sps.pic_order_cnt_type,
        "log2_max_pic_order_cnt_lsb_minus4": sps.log2_max_pic_order_cnt_lsb_minus4,
        "max_num_ref_frames": sps.max_num_ref_frames,
        "num_ref_frames_in_pic_order_cnt_cycle": n,
        "offset_for_ref_frame": offsets + [0] * (255 - len(offsets)),
        "offset_for_non_ref_pic": sps.offset_for_non_ref_pic,
        "offset_for_top_to_bottom_field": sps.offset_for_top_to_bottom_field,
        "pic_width_in_mbs_minus1": sps.pic_width_in_mbs_minus1,
        "pic_height_in_map_units_minus1": sps.pic_height_in_map_units_minus1,
        "flags": flags,
    }


def scaling_matrix_applies(sps: "SPS", pps: "PPS") -> bool:
    """GStreamer's rule: a matrix is sent when the SPS or the PPS signals one."""
    return bool(sps.seq_scaling_matrix_present_flag or pps.pic_scaling_matrix_present_flag)


def pps_control(pps: "PPS", sps: "SPS") -> dict:
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
        if getattr(pps, name):
            flags |= bit
    if scaling_matrix_applies(sps, pps):
        flags |= u.V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT
    return {
        "pic_parameter_set_id": pps.pic_parameter_set_id,
        "seq_parameter_set_id": pps.seq_parameter_set_id,
        "num_slice_groups_minus1": pps.num_slice_groups_minus1,
        "num_ref_idx_l0_default_active_minus1": pps.num_ref_idx_l0_default_active_minus1,
        "num_ref_idx_l1_default_active_minus1": pps.num_ref_idx_l1_default_active_minus1,
        "weighted_bipred_idc": pps.weighted_bipred_idc,
        "pic_init_qp_minus26": pps.pic_init_qp_minus26,
        "pic_init_qs_minus26": pps.pic_init_qs_minus26,
        "chroma_qp_index_offset": pps.chroma_qp_index_offset,
        "second_chroma_qp_index_offset": pps.second_chroma_qp_index_offset,
        "flags": flags,
    }


def scaling_matrix_control(sps: "SPS", pps: "PPS") -> dict | None:
    """``v4l2_ctrl_h264_scaling_matrix`` (raster order, kernel list order) or None when flat.

    The lists that apply to the picture are the PPS-level resolved ones (fall-back rules A/B
    done by the parser). Like GStreamer, only the two luma 8x8 lists are sent unless
    chroma_format_idc is 3 (the other four stay zero).
    """
    if not scaling_matrix_applies(sps, pps):
        return None
    m = pps.scaling_matrix
    l8 = m.raster_8x8()
    n8 = 6 if sps.chroma_format_idc == 3 else 2
    return {
        "scaling_list_4x4": [list(x) for x in m.raster_4x4()],
        "scaling_list_8x8": [list(l8[i]) if i < n8 else [0] * 64 for i in range(6)],
    }


_DPB_ENTRY_FLAGS = u.V4L2_H264_DPB_ENTRY_FLAG_VALID | u.V4L2_H264_DPB_ENTRY_FLAG_ACTIVE


def dpb_entry(ref: "ReferencePicture", structure: int) -> dict:
    """The ``dpb[]`` entry (``v4l2_h264_dpb_entry``) of a reference picture, for a current
    picture of ``structure`` (FRAME, TOP or BOTTOM).

    ``reference_ts`` is the picture's timestamp (both fields share it; a non-existing frame
    has the one of the picture it aliases); ``fields`` the fields marked as reference;
    ``pic_num`` PicNum (LongTermPicNum for long-term references) and ``frame_num`` frame_num
    (LongTermFrameIdx for long-term), as the kernel doc and GStreamer do: when decoding a
    field, of the reference's first coded field, or for a reference coded as a frame, of its
    field with the lower POC (the bottom one when equal), as GStreamer splits frames into
    fields; FIELD for pictures coded as fields ("a single field or a complementary field
    pair", kernel doc).
    """
    flags = _DPB_ENTRY_FLAGS
    if structure == _FRAME:
        same_parity = 0
    else:
        if ref.field_coded:
            parity = ref.first_field
        else:
            parity = _TOP if ref.top_field_order_cnt < ref.bottom_field_order_cnt else _BOTTOM
        same_parity = 1 if parity == structure else 0
    if ref.long_term:
        flags |= u.V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM
        idx = ref.long_term_frame_idx  # LongTermPicNum (8-28, 8-31..8-32)
        pic_num = idx if structure == _FRAME else 2 * idx + same_parity
        frame_num = idx
    else:
        wrap = ref.frame_num_wrap  # PicNum (8-28, 8-29..8-30)
        pic_num = wrap if structure == _FRAME else 2 * wrap + same_parity
        frame_num = ref.frame_num
    if ref.field_coded:
        flags |= u.V4L2_H264_DPB_ENTRY_FLAG_FIELD
    decoded = ref.decoded
    return {
        "reference_ts": ref.timestamp_ns,
        "pic_num": pic_num & 0xFFFFFFFF,
        "frame_num": frame_num,
        "fields": ref.short_term | ref.long_term,
        "top_field_order_cnt": ref.top_field_order_cnt if decoded & _TOP else 0,
        "bottom_field_order_cnt": ref.bottom_field_order_cnt if decoded & _BOTTOM else 0,
        "flags": flags,
    }


#: slice header elements of the first slice copied to ``v4l2_ctrl_h264_decode_params``
#: (delta_pic_order_cnt[0..1] apart), all of the prefix (:data:`.slice.PREFIX_FIELDS`)
_get_decode_fields = attrgetter(
    "field_pic_flag", "bottom_field_flag", "idr_pic_id", "pic_order_cnt_lsb",
    "delta_pic_order_cnt_bottom", "delta_pic_order_cnt", "pic_order_cnt_bit_size")


def decode_params_control(picture: "PictureDecode", dpb: list[dict]) -> dict:
    """``v4l2_ctrl_h264_decode_params`` of ``picture`` with the entries ``dpb``.

    For a field, the POC of the other parity is 0 for a first field and the first field's
    POC for a second field (as GStreamer 1.22 and FFmpeg's v4l2-request fill it).
    PFRAME/BFRAME: the picture has P (resp. B) slices (as GStreamer 1.22 sets them).

    Two elements come from the rest of the header (parsed on first read): 7.3.3 writes
    dec_ref_pic_marking() only in a reference picture and slice_group_change_cycle only with
    slice groups, so they are read only then (else 0), and frame-based decoding of a
    non-reference picture leaves the rest of its headers unparsed.
    """
    slices = picture.slices
    sh = slices[0].header
    (field, bottom_field_flag, idr_pic_id, pic_order_cnt_lsb, delta_pic_order_cnt_bottom, delta,
     pic_order_cnt_bit_size) = _get_decode_fields(sh)
    dec_ref_pic_marking_bit_size = sh.dec_ref_pic_marking_bit_size if picture.nal_ref_idc else 0
    slice_group_change_cycle = sh.slice_group_change_cycle if sh.pps.num_slice_groups_minus1 else 0
    bottom = field and bottom_field_flag
    second_field = picture.is_second_field
    flags = 0
    if picture.is_idr:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC
    if field:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC
    if bottom:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD
    kind = 0  # BFRAME if a slice is B, else PFRAME if one is P or SP (a loop: no set per picture)
    for s in slices:
        t = s.header.slice_type % 5
        if t == 1:
            kind = u.V4L2_H264_DECODE_PARAM_FLAG_BFRAME
            break
        if t == 0 or t == 3:
            kind = u.V4L2_H264_DECODE_PARAM_FLAG_PFRAME
    flags |= kind
    return {
        "dpb": dpb,
        "nal_ref_idc": picture.nal_ref_idc,
        "frame_num": picture.frame_num,
        "top_field_order_cnt": 0 if (bottom and not second_field) else picture.top_field_order_cnt,
        "bottom_field_order_cnt":
            0 if (field and not bottom and not second_field) else picture.bottom_field_order_cnt,
        "idr_pic_id": idr_pic_id,
        "pic_order_cnt_lsb": pic_order_cnt_lsb,
        "delta_pic_order_cnt_bottom": delta_pic_order_cnt_bottom,
        "delta_pic_order_cnt0": delta[0],
        "delta_pic_order_cnt1": delta[1],
        "dec_ref_pic_marking_bit_size": dec_ref_pic_marking_bit_size,
        "pic_order_cnt_bit_size": pic_order_cnt_bit_size,
        "slice_group_change_cycle": slice_group_change_cycle,
        "flags": flags,
    }


# -- per slice -----------------------------------------------------------------------------
class _PictureSlices:
    """What the slices of one picture share: dpb[] indices of its reference pictures, the
    converted reference lists (by the identity of the decoder's list objects, which the
    slices with the same list inputs share) and the previous slice's pred_weights."""

    __slots__ = ("picture", "index_of", "lists", "weights_key", "weights")

    def __init__(self, picture: "PictureDecode") -> None:
        self.picture = picture
        self.index_of = {id(ref): i for i, ref in enumerate(picture.dpb)}
        self.lists: dict[int, tuple[list, list[dict]]] = {}
        self.weights_key: tuple | None = None
        self.weights: dict | None = None


_current: _PictureSlices | None = None


def slice_controls(picture: "PictureDecode", job: "SliceJob") -> tuple[dict, dict | None]:
    """``(slice_params, pred_weights)`` of slice ``job`` of ``picture``; pred_weights is None
    when explicit weighted prediction does not apply to the slice. ValueError when the
    decoder made no reference lists (``H264Decoder(slice_controls=False)``)."""
    global _current
    if job.ref_pic_list0 is None:
        raise ValueError("slice controls need the reference lists: decode with "
                         "H264Decoder(slice_controls=True)")
    state = _current
    if state is None or state.picture is not picture:
        state = _current = _PictureSlices(picture)
    sh = job.header
    slice_params = slice_params_control(sh, _converted(state, job.ref_pic_list0),
                                        _converted(state, job.ref_pic_list1))
    pred_weights = None
    if pred_weights_required(sh, sh.pps):
        key = pred_weights_key(sh)  # the slices of a picture usually repeat the same table
        if key != state.weights_key:
            state.weights_key, state.weights = key, pred_weights_control(sh, sh.sps)
        pred_weights = state.weights
    return slice_params, pred_weights


def _converted(state: _PictureSlices, entries: list) -> list[dict]:
    cached = state.lists.get(id(entries))
    if cached is None or cached[0] is not entries:
        cached = state.lists[id(entries)] = (entries, reference_list(entries, state.index_of))
    return cached[1]


#: a missing / unused ref_pic_list entry (GStreamer memsets the lists to 0xff): one shared
#: read-only dict
_NO_REFERENCE = {"fields": 0xFF, "index": 0xFF}


def reference_list(entries: "Sequence[PictureReference | None]", index_of: dict[int, int]) -> list[dict]:
    """``ref_pic_list0/1``: {fields, index into dpb[]}; ``index_of`` maps the ``id()`` of each
    reference picture of the picture's DPB to its dpb[] index. Missing pictures and unused
    entries are 0xff/0xff like GStreamer (it memsets the lists to 0xff); those entries are one
    shared dict, read-only."""
    out: list[dict] = []
    for e in entries:
        idx = index_of.get(id(e.picture)) if e is not None else None
        if idx is None:
            out.append(_NO_REFERENCE)
            continue
        out.append({"fields": e.parity, "index": idx})
    out += [_NO_REFERENCE] * (u.V4L2_H264_REF_LIST_LEN - len(out))
    return out


#: slice header elements copied to ``v4l2_ctrl_h264_slice_params`` (same names), then the flags
_get_slice_fields = attrgetter(
    "header_bit_size", "first_mb_in_slice", "slice_type", "colour_plane_id", "redundant_pic_cnt",
    "cabac_init_idc", "slice_qp_delta", "slice_qs_delta", "disable_deblocking_filter_idc",
    "slice_alpha_c0_offset_div2", "slice_beta_offset_div2", "num_ref_idx_l0_active_minus1",
    "num_ref_idx_l1_active_minus1", "direct_spatial_mv_pred_flag", "sp_for_switch_flag",
)


def slice_params_control(sh: "SliceHeader", list0: list[dict], list1: list[dict]) -> dict:
    """``v4l2_ctrl_h264_slice_params`` of one slice with its reference lists."""
    (header_bit_size, first_mb_in_slice, slice_type, colour_plane_id, redundant_pic_cnt,
     cabac_init_idc, slice_qp_delta, slice_qs_delta, disable_deblocking_filter_idc,
     slice_alpha_c0_offset_div2, slice_beta_offset_div2, num_ref_idx_l0_active_minus1,
     num_ref_idx_l1_active_minus1, direct_spatial_mv_pred_flag, sp_for_switch_flag) = _get_slice_fields(sh)
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


def pred_weights_required(sh: "SliceHeader", pps: "PPS") -> bool:
    """Explicit weighted prediction applies (weighted_pred_flag for P/SP, bipred_idc 1 for B)."""
    t = sh.slice_type % 5
    return bool((pps.weighted_pred_flag and t in (0, 3)) or (pps.weighted_bipred_idc == 1 and t == 1))


#: pred_weight_table() element getters of each list (built once, not per slice)
_WEIGHT_TABLES = {lx: attrgetter(f"luma_weight_{lx}", f"luma_offset_{lx}", f"chroma_weight_{lx}",
                                 f"chroma_offset_{lx}") for lx in ("l0", "l1")}
_ZEROS = [0] * 32
#: the rows of chroma_weight / chroma_offset past the active references: one shared [0, 0]
#: list (the tables are read-only, see :func:`pred_weights_control`)
_ZERO_ROWS = [[0, 0]] * 32


def _table(src: Sequence[int], n: int) -> list[int]:
    """luma_weight / luma_offset: the first *n* values, zero-padded to 32."""
    vals = list(src[:n])
    vals += _ZEROS[len(vals):]
    return vals


def _rows(src: Sequence[tuple[int, int]], n: int) -> list[list[int]]:
    """chroma_weight / chroma_offset: the first *n* [Cb, Cr] rows, padded with the shared
    zero row to 32."""
    rows = [[r[0], r[1]] for r in src[:n]]
    rows += _ZERO_ROWS[len(rows):]
    return rows


#: every slice header element :func:`pred_weights_control` reads (slice_type as coded: equal
#: keys are sure to give equal controls)
_get_pred_weights_key = attrgetter(
    "slice_type", "num_ref_idx_l0_active_minus1", "num_ref_idx_l1_active_minus1",
    "luma_log2_weight_denom", "chroma_log2_weight_denom",
    "luma_weight_l0", "luma_offset_l0", "chroma_weight_l0", "chroma_offset_l0",
    "luma_weight_l1", "luma_offset_l1", "chroma_weight_l1", "chroma_offset_l1")


def pred_weights_key(sh: "SliceHeader") -> tuple:
    """What :func:`pred_weights_control` reads from ``sh``, as a tuple: two slices of one
    picture (same SPS) with equal keys have equal pred_weights controls."""
    return _get_pred_weights_key(sh)


def pred_weights_control(sh: "SliceHeader", sps: "SPS") -> dict:
    """``v4l2_ctrl_h264_pred_weights`` (explicit weights; the parser's tables hold the
    inferred defaults where not coded).

    The rows past the active references are shared between tables and controls: treat the
    result as read-only (it is packed, never modified).
    """
    n0 = sh.num_ref_idx_l0_active_minus1 + 1
    n1 = sh.num_ref_idx_l1_active_minus1 + 1 if sh.slice_type % 5 == 1 else 0
    chroma = sps.ChromaArrayType != 0
    factors = []
    for lx, n in (("l0", n0), ("l1", n1)):
        luma_weight, luma_offset, chroma_weight, chroma_offset = _WEIGHT_TABLES[lx](sh)
        nc = n if chroma else 0
        factors.append({
            "luma_weight": _table(luma_weight, n) if n else _ZEROS[:],
            "luma_offset": _table(luma_offset, n) if n else _ZEROS[:],
            "chroma_weight": _rows(chroma_weight, nc) if nc else _ZERO_ROWS[:],
            "chroma_offset": _rows(chroma_offset, nc) if nc else _ZERO_ROWS[:],
        })
    return {
        "luma_log2_weight_denom": sh.luma_log2_weight_denom,
        "chroma_log2_weight_denom": sh.chroma_log2_weight_denom,
        "weight_factors": factors,
    }
