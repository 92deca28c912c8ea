"""Slice header syntax readers (H.264 7.3.3): the prefix up to redundant_pic_cnt (a fast
96-bit-window path and the BitReader path), the tail (ref_pic_list_modification,
pred_weight_table with the implied defaults, dec_ref_pic_marking, the rest of the header) and
the :class:`TailMemo` that lets the slices of a picture reuse a tail they repeat bit for bit.

They write the elements onto a header object; :mod:`.slice` holds that object
(:class:`~.slice.SliceHeader`), the lazy tail and :func:`~.slice.parse_slice_header`.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from .bitreader import BitReader
from ...errors import BitstreamError

if TYPE_CHECKING:  # annotations only: slice.py imports this module
    from .slice import SliceHeader

SLICE_P, SLICE_B, SLICE_I, SLICE_SP, SLICE_SI = 0, 1, 2, 3, 4


#: the elements of the prefix (see SliceHeader): always parsed
PREFIX_FIELDS: tuple[str, ...] = (
    "nal_unit_type", "nal_ref_idc", "IdrPicFlag", "sps", "pps", "first_mb_in_slice", "slice_type",
    "pic_parameter_set_id", "colour_plane_id", "frame_num", "field_pic_flag", "bottom_field_flag",
    "idr_pic_id", "pic_order_cnt_lsb", "delta_pic_order_cnt_bottom", "delta_pic_order_cnt",
    "redundant_pic_cnt", "pic_order_cnt_bit_offset", "pic_order_cnt_bit_size",
)
#: the elements of the tail (see SliceHeader): direct_spatial_mv_pred_flag onwards and the sizes
TAIL_FIELDS: tuple[str, ...] = (
    "direct_spatial_mv_pred_flag", "num_ref_idx_active_override_flag",
    "num_ref_idx_l0_active_minus1", "num_ref_idx_l1_active_minus1",
    "ref_pic_list_modification_flag_l0", "ref_pic_list_modification_flag_l1",
    "ref_pic_list_modification_l0", "ref_pic_list_modification_l1",
    "has_pred_weight_table", "luma_log2_weight_denom", "chroma_log2_weight_denom",
    "luma_weight_l0_flag", "luma_weight_l0", "luma_offset_l0",
    "chroma_weight_l0_flag", "chroma_weight_l0", "chroma_offset_l0",
    "luma_weight_l1_flag", "luma_weight_l1", "luma_offset_l1",
    "chroma_weight_l1_flag", "chroma_weight_l1", "chroma_offset_l1",
    "no_output_of_prior_pics_flag", "long_term_reference_flag",
    "adaptive_ref_pic_marking_mode_flag", "mmco",
    "cabac_init_idc", "slice_qp_delta", "sp_for_switch_flag", "slice_qs_delta",
    "disable_deblocking_filter_idc", "slice_alpha_c0_offset_div2", "slice_beta_offset_div2",
    "slice_group_change_cycle", "slice_id",
    "header_bit_size", "dec_ref_pic_marking_bit_size", "dec_ref_pic_marking_bit_offset",
    "header_emulation_prevention_bytes",
)


#: the elements written by _parse_tail_refs (reused by TailMemo)
_MEMO_FIELDS: tuple[str, ...] = TAIL_FIELDS[:TAIL_FIELDS.index("slice_qp_delta")] + (
    "dec_ref_pic_marking_bit_size", "dec_ref_pic_marking_bit_offset")
#: the elements of the tail after them: written by _parse_tail_end (and the caller)
END_FIELDS: tuple[str, ...] = tuple(name for name in TAIL_FIELDS if name not in _MEMO_FIELDS)


class MissingParameterSet(BitstreamError):
    """A slice refers to a PPS (or the PPS to an SPS) that has not been received."""


class MMCO(NamedTuple):
    """One memory_management_control_operation of dec_ref_pic_marking() (7.3.3.3)."""

    memory_management_control_operation: int
    difference_of_pic_nums_minus1: int = 0
    long_term_pic_num: int = 0
    long_term_frame_idx: int = 0
    max_long_term_frame_idx_plus1: int = 0


def _read_modifications(r: BitReader, lst: str) -> list[tuple[int, int]]:
    """The ``(modification_of_pic_nums_idc, value)`` loop of ref_pic_list_modification()."""
    mods = []
    ue = r.ue
    while True:
        idc = ue("modification_of_pic_nums_idc", 5)
        if idc == 3:
            return mods
        if idc < 2:
            mods.append((idc, ue("abs_diff_pic_num_minus1", 131071)))
        elif idc == 2:
            mods.append((idc, ue("long_term_pic_num")))
        else:
            raise r.error("modification_of_pic_nums_idc", f"= {idc} in {lst} (MVC only, not supported)")
        if len(mods) > 32:
            raise r.error("modification_of_pic_nums_idc", f"list {lst} has more than 32 entries")


#: syntax element names of pred_weight_table() per list (built once, not per entry)
_WEIGHT_NAMES = {x: (f"luma_weight_{x}_flag", f"luma_weight_{x}", f"luma_offset_{x}",
                     f"chroma_weight_{x}_flag", f"chroma_weight_{x}", f"chroma_offset_{x}")
                 for x in ("l0", "l1")}


def _read_weights(r: BitReader, n: int, luma_denom: int, chroma_denom: int | None, x: str):
    """The entries of list ``x`` of pred_weight_table() for ``n`` references: six lists
    (luma flags, weights, offsets, chroma flags, (Cb, Cr) weights, (Cb, Cr) offsets), the
    inferred 2**denom / 0 where a flag is 0; no chroma entries when ``chroma_denom`` is None
    (ChromaArrayType 0)."""
    n_lf, n_lw, n_lo, n_cf, n_cw, n_co = _WEIGHT_NAMES[x]
    u1 = r.u1
    se = r.se
    # start from the inferred values: only the entries whose flag is 1 are written
    lf, lw, lo = [0] * n, [1 << luma_denom] * n, [0] * n
    if chroma_denom is None:
        cf, cw, co = [], [], []
    else:
        cd = 1 << chroma_denom
        cf, cw, co = [0] * n, [(cd, cd)] * n, [(0, 0)] * n
    # all the flags 0 (the usual table): then the entries are just the n (n * 2 with chroma)
    # flags, i.e. as many zero bits (7.3.3.2); peek is -1 when the data ends before them (a
    # TracingBitReader reads them one by one: it records every flag)
    nflags = n if chroma_denom is None else n << 1
    if type(r) is BitReader and not r.peek(nflags):
        r.pos += nflags
        return lf, lw, lo, cf, cw, co
    for i in range(n):
        if u1(n_lf):  # luma_weight_lX_flag
            lf[i] = 1
            lw[i] = se(n_lw, -128, 127)
            lo[i] = se(n_lo, -128, 127)
        if chroma_denom is not None and u1(n_cf):  # chroma_weight_lX_flag
            cf[i] = 1
            w0 = se(n_cw, -128, 127)  # j = 0 (Cb)
            o0 = se(n_co, -128, 127)
            w1 = se(n_cw, -128, 127)  # j = 1 (Cr)
            o1 = se(n_co, -128, 127)
            cw[i] = (w0, w1)
            co[i] = (o0, o1)
    return lf, lw, lo, cf, cw, co


#: window of the fast prefix parse: the first bits of the RBSP as one small int
_WINDOW_BYTES = 12


def _fast_prefix(sh: SliceHeader, data: bytes, t: int, ref_idc: int, pps_by_id, sps_by_id) -> int:
    """:func:`_parse_prefix` on the first ``_WINDOW_BYTES`` of ``data`` with local variables, into
    ``sh``: returns the bit position after the prefix, or -1 when anything is unusual (the
    window is too short, a value out of range, an unknown PPS/SPS, rarer syntax): the caller
    then runs :func:`_parse_prefix` on a new header, which raises the right error (tests
    compare the two).

    Each read consumes bits from the top of ``w``, the ``L`` bits not yet read of the window:
    ue(v) = the leading zeros of ``w``, a 1 and as many info bits (9.1).
    """
    w = int.from_bytes(data[:_WINDOW_BYTES], "big")
    L = L0 = min(len(data), _WINDOW_BYTES) << 3
    # first_mb_in_slice ue(v)
    n = ((L - w.bit_length()) << 1) + 1
    if n > L:
        return -1
    L -= n
    first_mb = (w >> L) - 1
    w &= (1 << L) - 1
    # slice_type ue(v), max 9
    n = ((L - w.bit_length()) << 1) + 1
    if n > L:
        return -1
    L -= n
    slice_type = (w >> L) - 1
    w &= (1 << L) - 1
    # pic_parameter_set_id ue(v), max 255
    n = ((L - w.bit_length()) << 1) + 1
    if n > L:
        return -1
    L -= n
    ppsid = (w >> L) - 1
    w &= (1 << L) - 1
    if first_mb > 0xFFFFFFFE or slice_type > 9:
        return -1
    pps = pps_by_id.get(ppsid)
    if pps is None:
        return -1
    sps = sps_by_id.get(pps.seq_parameter_set_id)
    if sps is None or sps.separate_colour_plane_flag:  # (colour_plane_id: the reader path)
        return -1
    idr = 1 if t == 5 else 0
    sh.nal_unit_type = t
    sh.nal_ref_idc = ref_idc
    sh.IdrPicFlag = idr
    sh.first_mb_in_slice = first_mb
    sh.slice_type = slice_type
    sh.pic_parameter_set_id = ppsid
    sh.pps = pps
    sh.sps = sps
    # frame_num u(v)
    n = sps.log2_max_frame_num_minus4 + 4
    if n > L:
        return -1
    L -= n
    sh.frame_num = w >> L
    w &= (1 << L) - 1
    field = 0
    if not sps.frame_mbs_only_flag:
        if L < 2:
            return -1
        L -= 1
        sh.field_pic_flag = field = (w >> L) & 1
        if field:
            L -= 1
            sh.bottom_field_flag = (w >> L) & 1
        w &= (1 << L) - 1
    if idr:  # idr_pic_id ue(v), max 65535
        n = ((L - w.bit_length()) << 1) + 1
        if n > L:
            return -1
        L -= n
        v = (w >> L) - 1
        if v > 65535:
            return -1
        sh.idr_pic_id = v
        w &= (1 << L) - 1
    poc_type = sps.pic_order_cnt_type
    poc_start = L0 - L
    if poc_type == 0:
        n = sps.log2_max_pic_order_cnt_lsb_minus4 + 4
        if n > L:
            return -1
        L -= n
        sh.pic_order_cnt_lsb = w >> L
        w &= (1 << L) - 1
        if pps.bottom_field_pic_order_in_frame_present_flag and not field:
            return -1  # delta_pic_order_cnt_bottom se(v): the reader path
    elif poc_type == 1 and not sps.delta_pic_order_always_zero_flag:
        return -1  # delta_pic_order_cnt[]: the reader path
    if pps.redundant_pic_cnt_present_flag:
        return -1  # redundant_pic_cnt: the reader path
    pos = L0 - L
    if pos != poc_start:
        sh.pic_order_cnt_bit_offset = poc_start
        sh.pic_order_cnt_bit_size = pos - poc_start
    return pos


def _parse_prefix(r: BitReader, sh: SliceHeader, nal_unit_type: int, nal_ref_idc: int, pps_by_id, sps_by_id) -> None:
    """slice_header() up to and including redundant_pic_cnt, into ``sh``."""
    sh.nal_unit_type = nal_unit_type
    sh.nal_ref_idc = nal_ref_idc
    sh.IdrPicFlag = idr = 1 if nal_unit_type == 5 else 0
    ue = r.ue
    sh.first_mb_in_slice = ue("first_mb_in_slice")
    sh.slice_type = ue("slice_type", 9)
    sh.pic_parameter_set_id = ppsid = ue("pic_parameter_set_id", 255)
    pps = pps_by_id.get(ppsid)
    if pps is None:
        raise MissingParameterSet(f"{r.what}: PPS {ppsid} has not been received")
    sps = sps_by_id.get(pps.seq_parameter_set_id)
    if sps is None:
        raise MissingParameterSet(f"{r.what}: SPS {pps.seq_parameter_set_id} (of PPS {ppsid}) has not been received")
    sh.pps = pps
    sh.sps = sps
    if sps.separate_colour_plane_flag:
        sh.colour_plane_id = r.u(2, "colour_plane_id")
    sh.frame_num = r.u(sps.log2_max_frame_num_minus4 + 4, "frame_num")
    field = 0
    if not sps.frame_mbs_only_flag:
        sh.field_pic_flag = field = r.u1("field_pic_flag")
        if field:
            sh.bottom_field_flag = r.u1("bottom_field_flag")
    if idr:
        sh.idr_pic_id = ue("idr_pic_id", 65535)
    poc_start = r.pos
    poc_type = sps.pic_order_cnt_type
    if poc_type == 0:
        sh.pic_order_cnt_lsb = r.u(sps.log2_max_pic_order_cnt_lsb_minus4 + 4, "pic_order_cnt_lsb")
        if pps.bottom_field_pic_order_in_frame_present_flag and not field:
            sh.delta_pic_order_cnt_bottom = r.se("delta_pic_order_cnt_bottom")
    elif poc_type == 1 and not sps.delta_pic_order_always_zero_flag:
        d0 = r.se("delta_pic_order_cnt")
        d1 = 0
        if pps.bottom_field_pic_order_in_frame_present_flag and not field:
            d1 = r.se("delta_pic_order_cnt")
        sh.delta_pic_order_cnt = (d0, d1)
    if r.pos != poc_start:
        sh.pic_order_cnt_bit_offset = poc_start
        sh.pic_order_cnt_bit_size = r.pos - poc_start
    if pps.redundant_pic_cnt_present_flag:
        sh.redundant_pic_cnt = ue("redundant_pic_cnt", 127)


class TailMemo:
    """The last parsed first part of a slice header tail, to reuse for the next slices.

    Slices of one picture usually repeat direct_spatial_mv_pred_flag ... cabac_init_idc
    (reference counts and list modifications, pred_weight_table(), dec_ref_pic_marking()) bit
    for bit; only first_mb_in_slice before them and slice_qp_delta ... after them tend to
    differ. That part of the syntax is a function of its bits and of a few things parsed
    before it (the context: PPS and SPS objects, slice_type, nal_ref_idc != 0, IdrPicFlag,
    field_pic_flag), so when the next ``nbits`` bits of a slice with the context of
    ``source`` (the header whose part was parsed last) equal ``bits``, parsing them again
    would give the same elements: they are copied from ``source`` instead (lists copied too:
    each header owns its lists; headers are never modified after parsing). Only tried for a
    slice with the frame_num and pic_order_cnt_lsb of ``source`` (most likely the same
    picture; a new picture rarely repeats the part and would pay for the comparison). ``hits`` counts the reuses (tests,
    diagnostics). One memo per stream (:class:`~pyv4l2req.codec.h264.paramsets.ParameterSets`
    holds one).
    """

    __slots__ = ("source", "reader", "start", "nbits", "bits", "items", "lists", "hits")

    def __init__(self) -> None:
        self.source: SliceHeader | None = None
        #: where the part of ``source`` is: its reader, first bit and length
        self.reader: BitReader | None = None
        self.start = 0
        self.nbits = 0
        #: the bits of the part, and ``(name, value)`` of its elements with the list-valued
        #: names: taken from ``reader`` and ``source`` when first needed (-1 / None before)
        self.bits = -1
        self.items: tuple[tuple[str, object], ...] | None = None
        self.lists: tuple[str, ...] = ()
        self.hits = 0

    def _take_items(self) -> None:
        src = vars(self.source)
        self.items = items = [(name, src[name]) for name in _MEMO_FIELDS if name in src]
        self.lists = [name for name, value in items if type(value) is list]


def _parse_tail(r: BitReader, sh: SliceHeader, memo: TailMemo | None = None) -> None:
    """slice_header() from direct_spatial_mv_pred_flag to the end (``r`` positioned there).

    Writes only the elements present (the class attributes hold the inferred values) and the
    bit sizes; header_emulation_prevention_bytes is the caller's. The part up to
    cabac_init_idc is taken from ``memo`` when it applies (see :class:`TailMemo`).
    """
    _parse_tail_refs_memo(r, sh, memo)
    _parse_tail_end(r, sh)


def _parse_tail_refs_memo(r: BitReader, sh: SliceHeader, memo: TailMemo | None) -> None:
    """:func:`_parse_tail_refs`, or its part copied from ``memo`` (see :func:`_parse_tail`)."""
    if memo is None:
        _parse_tail_refs(r, sh)
    else:
        start = r.pos
        src = memo.source
        if (
            src is not None
            and src.frame_num == sh.frame_num  # a slice of the same picture (cheap tests first)
            and src.pic_order_cnt_lsb == sh.pic_order_cnt_lsb
            and src.slice_type == sh.slice_type
            and src.pps is sh.pps
            and src.sps is sh.sps
            and (not src.nal_ref_idc) == (not sh.nal_ref_idc)
            and src.IdrPicFlag == sh.IdrPicFlag
            and src.field_pic_flag == sh.field_pic_flag
            and _memo_bits(memo) == r.peek(memo.nbits)
        ):
            if memo.items is None:
                memo._take_items()
            d = sh.__dict__
            d.update(memo.items)
            for name in memo.lists:
                d[name] = d[name].copy()
            if sh.nal_ref_idc:
                sh.dec_ref_pic_marking_bit_offset = src.dec_ref_pic_marking_bit_offset - memo.start + start
            r.pos = start + memo.nbits
            memo.hits += 1
        else:
            memo.source = None  # (consistent if the parse raises)
            _parse_tail_refs(r, sh)
            memo.reader = r
            memo.start = start
            memo.nbits = r.pos - start
            memo.bits = -1
            memo.items = None
            memo.source = sh


def _memo_bits(memo: TailMemo) -> int:
    """``memo.bits``, read from the source's reader the first time."""
    bits = memo.bits
    if bits < 0:
        bits = memo.bits = memo.reader.peek(memo.nbits, memo.start)
    return bits


def _parse_tail_refs(r: BitReader, sh: SliceHeader) -> None:
    """slice_header() from direct_spatial_mv_pred_flag to cabac_init_idc (see _parse_tail)."""
    pps = sh.pps
    st = sh.slice_type % 5
    u1 = r.u1
    ue = r.ue
    inter = st != SLICE_I and st != SLICE_SI  # P, SP or B: has reference lists
    if st == SLICE_B:
        sh.direct_spatial_mv_pred_flag = u1("direct_spatial_mv_pred_flag")
    n0 = n1 = 0  # num_ref_idx_l0/l1_active_minus1
    if inter:
        n0 = pps.num_ref_idx_l0_default_active_minus1
        if st == SLICE_B:
            n1 = pps.num_ref_idx_l1_default_active_minus1
        if u1("num_ref_idx_active_override_flag"):
            sh.num_ref_idx_active_override_flag = 1
            max_ref = 31 if sh.field_pic_flag else 15
            n0 = ue("num_ref_idx_l0_active_minus1", max_ref)
            if st == SLICE_B:
                n1 = ue("num_ref_idx_l1_active_minus1", max_ref)
        sh.num_ref_idx_l0_active_minus1 = n0
        sh.num_ref_idx_l1_active_minus1 = n1
        # ref_pic_list_modification() 7.3.3.1 (slice_type is not I or SI)
        if u1("ref_pic_list_modification_flag_l0"):
            sh.ref_pic_list_modification_flag_l0 = 1
            sh.ref_pic_list_modification_l0 = _read_modifications(r, "l0")
        if st == SLICE_B and u1("ref_pic_list_modification_flag_l1"):
            sh.ref_pic_list_modification_flag_l1 = 1
            sh.ref_pic_list_modification_l1 = _read_modifications(r, "l1")
        # pred_weight_table() 7.3.3.2
        if (pps.weighted_pred_flag and st != SLICE_B) or (pps.weighted_bipred_idc == 1 and st == SLICE_B):
            sh.has_pred_weight_table = True
            sh.luma_log2_weight_denom = luma_denom = ue("luma_log2_weight_denom", 7)
            chroma_denom = None
            if sh.sps.ChromaArrayType != 0:
                sh.chroma_log2_weight_denom = chroma_denom = ue("chroma_log2_weight_denom", 7)
            (
                sh.luma_weight_l0_flag, sh.luma_weight_l0, sh.luma_offset_l0,
                sh.chroma_weight_l0_flag, sh.chroma_weight_l0, sh.chroma_offset_l0,
            ) = _read_weights(r, n0 + 1, luma_denom, chroma_denom, "l0")
            if st == SLICE_B:
                (
                    sh.luma_weight_l1_flag, sh.luma_weight_l1, sh.luma_offset_l1,
                    sh.chroma_weight_l1_flag, sh.chroma_weight_l1, sh.chroma_offset_l1,
                ) = _read_weights(r, n1 + 1, luma_denom, chroma_denom, "l1")
    # dec_ref_pic_marking() 7.3.3.3
    if sh.nal_ref_idc:
        start = sh.dec_ref_pic_marking_bit_offset = r.pos
        if sh.IdrPicFlag:
            sh.no_output_of_prior_pics_flag = u1("no_output_of_prior_pics_flag")
            sh.long_term_reference_flag = u1("long_term_reference_flag")
        elif u1("adaptive_ref_pic_marking_mode_flag"):
            sh.adaptive_ref_pic_marking_mode_flag = 1
            sh.mmco = _read_mmcos(r)
        sh.dec_ref_pic_marking_bit_size = r.pos - start
    if pps.entropy_coding_mode_flag and inter:
        sh.cabac_init_idc = ue("cabac_init_idc", 2)


def _parse_tail_end(r: BitReader, sh: SliceHeader) -> None:
    """slice_header() from slice_qp_delta to the end, and header_bit_size (see _parse_tail)."""
    pps = sh.pps
    st = sh.slice_type % 5
    u1 = r.u1
    ue = r.ue
    se = r.se
    sh.slice_qp_delta = se("slice_qp_delta", -87, 77)
    if st == SLICE_SP or st == SLICE_SI:
        if st == SLICE_SP:
            sh.sp_for_switch_flag = u1("sp_for_switch_flag")
        sh.slice_qs_delta = se("slice_qs_delta", -51, 51)
    if pps.deblocking_filter_control_present_flag:
        sh.disable_deblocking_filter_idc = idc = ue("disable_deblocking_filter_idc", 6)
        if idc != 1:
            sh.slice_alpha_c0_offset_div2 = se("slice_alpha_c0_offset_div2", -6, 6)
            sh.slice_beta_offset_div2 = se("slice_beta_offset_div2", -6, 6)
    if pps.num_slice_groups_minus1 > 0 and 3 <= pps.slice_group_map_type <= 5:
        rate = pps.slice_group_change_rate_minus1 + 1
        target = sh.sps.PicSizeInMapUnits + rate  # Ceil(Log2(PicSizeInMapUnits / rate + 1))
        bits = 0
        while (rate << bits) < target:
            bits += 1
        sh.slice_group_change_cycle = r.u(bits, "slice_group_change_cycle")
    if sh.nal_unit_type == 2:
        hb = r.pos
        sh.slice_id = ue("slice_id")
        r.pos = hb  # slice_id is not part of slice_header(); header size stops before it
        sh.header_bit_size = 8 + hb
    else:
        sh.header_bit_size = 8 + r.pos


#: MMCO(op, ...) from the tuple of all five fields, without the Python-level
#: NamedTuple.__new__ (a third of the cost of the loop below)
_mmco = partial(tuple.__new__, MMCO)


def _read_mmcos(r: BitReader) -> list[MMCO]:
    """The memory_management_control_operation loop of dec_ref_pic_marking() (7.3.3.3)."""
    ue = r.ue
    ops = []
    while True:
        op = ue("memory_management_control_operation", 6)
        if op == 0:
            return ops
        if op == 1:  # difference_of_pic_nums_minus1
            ops.append(_mmco((1, ue("difference_of_pic_nums_minus1"), 0, 0, 0)))
        elif op == 2:  # long_term_pic_num
            ops.append(_mmco((2, 0, ue("long_term_pic_num"), 0, 0)))
        elif op == 3:  # difference_of_pic_nums_minus1, long_term_frame_idx
            d = ue("difference_of_pic_nums_minus1")
            ops.append(_mmco((3, d, 0, ue("long_term_frame_idx", 31), 0)))
        elif op == 4:  # max_long_term_frame_idx_plus1
            ops.append(_mmco((4, 0, 0, 0, ue("max_long_term_frame_idx_plus1", 32))))
        elif op == 5:
            ops.append(_mmco((5, 0, 0, 0, 0)))
        else:  # 6: long_term_frame_idx
            ops.append(_mmco((6, 0, 0, ue("long_term_frame_idx", 31), 0)))
        if len(ops) > 66:
            raise r.error("memory_management_control_operation", "list longer than 66 operations")


def _count_epb(data: bytes, rbsp_bytes: int) -> int:
    """Emulation prevention bytes among the first ``rbsp_bytes`` RBSP bytes after the header."""
    count = 0
    i = 1
    find = data.find
    while True:
        j = find(b"\x00\x00\x03", i)
        if j < 0 or j + 2 - 1 - count >= rbsp_bytes:
            return count
        count += 1
        i = j + 3


def _epb_in_header(data: bytes, header_bit_size: int) -> int:
    """header_emulation_prevention_bytes of the NAL unit ``data`` (header + EBSP)."""
    hdr_rbsp_bytes = (header_bit_size - 1) >> 3  # (header_bit_size - 8 + 7) // 8
    if data.find(b"\x00\x00\x03", 0, 1 + hdr_rbsp_bytes + 16) < 0:
        return 0
    return _count_epb(data, hdr_rbsp_bytes)


#: the ``what`` of error messages by NAL unit header byte (without forbidden_zero_bit)
