"""Slice header (H.264 7.3.3): the :class:`SliceHeader` object and :func:`parse_slice_header`,
with ref_pic_list_modification(), pred_weight_table() (with the implied defaults),
dec_ref_pic_marking() and the bit sizes V4L2 stateless drivers need.

Bit sizes (all counted on the RBSP, i.e. emulation prevention bytes NOT counted):

- ``header_bit_size``: bits from the first bit of the NAL unit header up to the end of
  slice_header() (where slice_data() starts, before CABAC alignment). This is what FFmpeg's
  v4l2-request hwaccel (``get_bits_count`` on the unescaped NAL, header byte included) and
  GStreamer's v4l2codecs (``8 * nalu.header_bytes + header_size - n_emulation_prevention_bytes``)
  put into ``v4l2_ctrl_h264_slice_params.header_bit_size``.
  ``header_bit_size_ebsp`` is the same offset counted on the bytes as in the stream.
- ``dec_ref_pic_marking_bit_size``: bits of dec_ref_pic_marking() (0 when absent).
- ``pic_order_cnt_bit_size``: bits of pic_order_cnt_lsb + delta_pic_order_cnt_bottom, or of
  delta_pic_order_cnt[0] + [1] (0 when absent).

One parser, one lazy step: :func:`parse_slice_header` reads the *prefix* (up to
redundant_pic_cnt: all that access unit boundaries need) at once, and the *rest* of the
header in one go on the first access to any of its elements (see :class:`SliceHeader`), with
the same :class:`~.bitreader.BitReader` (or the :class:`~.bitreader.TracingBitReader` of the
tests) over the head of the NAL unit only.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from .bitreader import BitReader, NeedMoreData
from .pps import PPS
from .sps import SPS
from ...errors import BitstreamError

__all__ = [
    "SliceHeader",
    "MMCO",
    "MissingParameterSet",
    "parse_slice_header",
    "SLICE_P",
    "SLICE_B",
    "SLICE_I",
    "SLICE_SP",
    "SLICE_SI",
]

SLICE_P, SLICE_B, SLICE_I, SLICE_SP, SLICE_SI = 0, 1, 2, 3, 4
_TYPE_NAMES = ("P", "B", "I", "SP", "SI")

#: bytes of EBSP unescaped for the first parse attempt (most headers are far shorter; a longer
#: one is parsed again over the whole RBSP)
_PREFIX_BYTES = 48


class MissingParameterSet(BitstreamError):
    """A slice refers to a PPS (or the PPS to an SPS) that has not been received."""


class MMCO(NamedTuple):
    """One memory_management_control_operation of dec_ref_pic_marking() (7.3.3.3) with its
    operands (0 where the operation has none)."""

    memory_management_control_operation: int
    difference_of_pic_nums_minus1: int = 0
    long_term_pic_num: int = 0
    long_term_frame_idx: int = 0
    max_long_term_frame_idx_plus1: int = 0


class _Rest:
    """An element of the rest of a slice header (see :class:`SliceHeader`), as a class
    attribute with its inferred value: a non-data descriptor, so once the rest is parsed the
    elements present (instance attributes) are plain reads; reading one that is not an
    instance attribute parses the pending rest first, else gives the inferred value."""

    __slots__ = ("name", "default")

    def __init__(self, default: Any) -> None:
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, sh: "SliceHeader | None", owner: type | None = None) -> Any:
        if sh is None:
            return self
        if sh._pending is not None:
            sh.parse_all()
            return sh.__dict__.get(self.name, self.default)
        return self.default


class SliceHeader:
    """A parsed slice_header(); absent elements hold their inferred values.

    ``sps`` and ``pps`` are the parameter set objects in force when the slice was parsed.
    ``ref_pic_list_modification_l0/l1`` are lists of ``(modification_of_pic_nums_idc, value)``
    with value = abs_diff_pic_num_minus1 (idc 0/1) or long_term_pic_num (idc 2); the final
    idc 3 is not stored. ``mmco`` lists the :class:`MMCO` operations (the final operation 0 is
    not stored). Pred weight tables hold one entry per active reference with the implied
    defaults (2**denom, offset 0) where the flag is 0; they are empty (``()``) when the slice
    has no pred_weight_table(). Absent elements read as their inferred values (list-valued
    ones as shared empty tuples). Headers are never modified after parsing.

    **The rest is parsed on first access.** :func:`parse_slice_header` sets the *prefix* at
    once: the NAL unit fields, first_mb_in_slice ... redundant_pic_cnt (everything 7.4.1.2.4
    compares for access unit boundaries) and the POC bit offset/size; absent prefix elements
    are the class attributes below. The *rest* (direct_spatial_mv_pred_flag onwards and the
    other bit sizes: the :class:`_Rest` class attributes below, with their inferred values) is
    parsed in one go, with the prefix's reader, on the first read of any of its elements, or
    by :meth:`parse_all`; afterwards the elements present are plain instance attributes. A
    malformed rest raises its :class:`BitstreamError` at that read and again at every later
    one. Frame-based decoding reads the rest of the first slice of a picture only.
    """

    nal_unit_type: int
    nal_ref_idc: int
    IdrPicFlag: int
    sps: SPS
    pps: PPS
    first_mb_in_slice: int
    slice_type: int  # as coded, 0..9 (use slice_type % 5, or .slice_type_mod5)
    pic_parameter_set_id: int
    colour_plane_id: int = 0
    frame_num: int
    field_pic_flag: int = 0
    bottom_field_flag: int = 0
    idr_pic_id: int = 0
    pic_order_cnt_lsb: int = 0
    delta_pic_order_cnt_bottom: int = 0
    delta_pic_order_cnt: tuple[int, int] = (0, 0)
    redundant_pic_cnt: int = 0
    #: bit offset in the rbsp (after the NAL header) of pic_order_cnt_lsb / delta_pic_order_cnt,
    #: and their size (see the module docstring; 0 when absent)
    pic_order_cnt_bit_offset: int = 0
    pic_order_cnt_bit_size: int = 0

    # -- the rest: parsed on first access (see _Rest), here with their inferred values -----
    direct_spatial_mv_pred_flag = _Rest(0)
    num_ref_idx_active_override_flag = _Rest(0)
    num_ref_idx_l0_active_minus1 = _Rest(0)
    num_ref_idx_l1_active_minus1 = _Rest(0)
    ref_pic_list_modification_flag_l0 = _Rest(0)
    ref_pic_list_modification_flag_l1 = _Rest(0)
    ref_pic_list_modification_l0 = _Rest(())  # list of (modification_of_pic_nums_idc, value)
    ref_pic_list_modification_l1 = _Rest(())
    # pred_weight_table()
    has_pred_weight_table = _Rest(False)
    luma_log2_weight_denom = _Rest(0)
    chroma_log2_weight_denom = _Rest(0)
    luma_weight_l0_flag = _Rest(())  # lists of one entry per active reference
    luma_weight_l0 = _Rest(())
    luma_offset_l0 = _Rest(())
    chroma_weight_l0_flag = _Rest(())
    chroma_weight_l0 = _Rest(())  # (Cb, Cr) pairs
    chroma_offset_l0 = _Rest(())
    luma_weight_l1_flag = _Rest(())
    luma_weight_l1 = _Rest(())
    luma_offset_l1 = _Rest(())
    chroma_weight_l1_flag = _Rest(())
    chroma_weight_l1 = _Rest(())
    chroma_offset_l1 = _Rest(())
    # dec_ref_pic_marking()
    no_output_of_prior_pics_flag = _Rest(0)
    long_term_reference_flag = _Rest(0)
    adaptive_ref_pic_marking_mode_flag = _Rest(0)
    mmco = _Rest(())  # list of MMCO
    cabac_init_idc = _Rest(0)
    slice_qp_delta = _Rest(0)
    sp_for_switch_flag = _Rest(0)
    slice_qs_delta = _Rest(0)
    disable_deblocking_filter_idc = _Rest(0)
    slice_alpha_c0_offset_div2 = _Rest(0)
    slice_beta_offset_div2 = _Rest(0)
    slice_group_change_cycle = _Rest(0)
    slice_id = _Rest(0)  # slice_data_partition_a_layer_rbsp only
    header_bit_size = _Rest(None)  # always set by the parse
    #: bit offset in the rbsp (after the NAL header) where dec_ref_pic_marking() starts, and
    #: its size (0 when absent)
    dec_ref_pic_marking_bit_offset = _Rest(0)
    dec_ref_pic_marking_bit_size = _Rest(0)
    #: emulation prevention bytes inside the NAL header + slice header
    header_emulation_prevention_bytes = _Rest(0)

    #: (reader after the prefix, its position, NalUnit) while the rest is not parsed
    _pending: "tuple[BitReader, int, object] | None" = None

    def parse_all(self) -> "SliceHeader":
        """Parse the rest of the header now if it is pending (BitstreamError if it is
        malformed: the rest then stays pending); returns self."""
        pending = self._pending
        if pending is not None:
            r, pos, nal = pending
            try:
                r.pos = pos
                try:
                    _rest(r, self)
                except NeedMoreData:  # the reader holds a head of the RBSP too short for it
                    _rest(type(r)(nal.rbsp, True, r.what, pos), self)
                self.header_emulation_prevention_bytes = _epb_in_header(nal.data, self.header_bit_size)
            except BaseException:
                d = self.__dict__
                for name in _REST_NAMES:
                    d.pop(name, None)
                raise
            del self._pending
        return self

    @property
    def tail_parsed(self) -> bool:
        """Whether the rest of the header is parsed (tests, diagnostics)."""
        return self._pending is None

    @property
    def slice_type_mod5(self) -> int:
        """slice_type % 5: P 0, B 1, I 2, SP 3, SI 4 (= V4L2_H264_SLICE_TYPE_*)."""
        return self.slice_type % 5

    @property
    def is_intra(self) -> bool:
        return self.slice_type % 5 in (SLICE_I, SLICE_SI)

    @property
    def is_b(self) -> bool:
        return self.slice_type % 5 == SLICE_B

    @property
    def MbaffFrameFlag(self) -> int:
        return int(bool(self.sps.mb_adaptive_frame_field_flag and not self.field_pic_flag))

    @property
    def PicHeightInMbs(self) -> int:
        return self.sps.FrameHeightInMbs // (1 + self.field_pic_flag)

    @property
    def header_bit_size_ebsp(self) -> int:
        """header_bit_size counted on the NAL unit as in the stream (with emulation prevention)."""
        return self.header_bit_size + 8 * self.header_emulation_prevention_bytes

    def __repr__(self) -> str:
        return (
            f"SliceHeader({_TYPE_NAMES[self.slice_type % 5]}, nal_unit_type={self.nal_unit_type}, "
            f"first_mb_in_slice={self.first_mb_in_slice}, frame_num={self.frame_num}, "
            f"pps={self.pic_parameter_set_id}, field={self.field_pic_flag}/{self.bottom_field_flag})"
        )


#: the elements of the rest of the header
_REST_NAMES = tuple(name for name, value in vars(SliceHeader).items() if isinstance(value, _Rest))
#: the values of a header: the prefix (parsed at once) and the rest (parsed on first read)
PREFIX_FIELDS = tuple(k for k in SliceHeader.__annotations__ if not k.startswith("_") and k not in ("sps", "pps"))
REST_FIELDS = _REST_NAMES

#: the ``what`` of error messages by NAL unit header byte (without forbidden_zero_bit)
_WHAT = tuple(f"slice header (nal_unit_type {h & 31}, nal_ref_idc {h >> 5})" for h in range(128))


def parse_slice_header(
    nal: "NalUnit",  # noqa: F821 (pyv4l2req.codec.h264.nal.NalUnit)
    pps_by_id: Mapping[int, PPS],
    sps_by_id: Mapping[int, SPS],
    *,
    lazy: bool = True,
    reader_cls: type[BitReader] = BitReader,
    tracer: list | None = None,
) -> SliceHeader:
    """Parse the slice header of a coded slice NAL unit (nal_unit_type 1, 2 or 5).

    Only the head of the NAL unit is unescaped (microseconds per header whatever the slice
    size; a header longer than that head is read again from the whole RBSP). Raises
    :class:`MissingParameterSet` when the PPS/SPS is unknown and :class:`BitstreamError`
    (naming the NAL unit and the syntax element) on malformed data. With ``lazy`` (the
    default) the rest of the header after the prefix is parsed on first access (see
    :class:`SliceHeader`); ``lazy=False`` or a ``tracer`` list parse it now. The ``tracer``
    gets the reader (a ``TracingBitReader`` as ``reader_cls``), which has read the whole
    header.
    """
    t = nal.nal_unit_type
    ref_idc = nal.nal_ref_idc
    what = _WHAT[(ref_idc << 5) | t]
    if t != 1 and t != 5 and t != 2:
        raise BitstreamError(f"{what}: not a coded slice with a slice header")
    if tracer is None:
        data, complete = nal.rbsp_prefix(_PREFIX_BYTES)
    else:  # one reader over the whole RBSP records the whole header
        data, complete = nal.rbsp, True
    while True:
        r = reader_cls(data, complete, what)
        sh = SliceHeader()
        try:
            _prefix(r, sh, t, ref_idc, pps_by_id, sps_by_id)
            break
        except NeedMoreData:  # the head was too short: again on the whole RBSP
            data, complete = nal.rbsp, True
    sh._pending = (r, r.pos, nal)
    if not lazy or tracer is not None:
        sh.parse_all()
    if tracer is not None:
        tracer.append(r)
    return sh


def _prefix(r: BitReader, sh: SliceHeader, nal_unit_type: int, nal_ref_idc: int,
            pps_by_id: Mapping[int, PPS], sps_by_id: Mapping[int, SPS]) -> None:
    """slice_header() (7.3.3) up to and including redundant_pic_cnt, into ``sh``."""
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
    if sh.first_mb_in_slice >= sps.FrameSizeInMbs:
        raise BitstreamError(f"{r.what}: first_mb_in_slice {sh.first_mb_in_slice} is outside the "
                             f"picture ({sps.PicWidthInMbs}x{sps.FrameHeightInMbs} macroblocks)")
    if sps.separate_colour_plane_flag:
        sh.colour_plane_id = r.u(2, "colour_plane_id")
    sh.frame_num = r.u(sps.log2_max_frame_num_minus4 + 4, "frame_num")
    field = 0
    if not sps.frame_mbs_only_flag:
        sh.field_pic_flag = field = r.u1("field_pic_flag")
        if field:
            sh.bottom_field_flag = r.u1("bottom_field_flag")
    if idr:
        if sh.slice_type % 5 != SLICE_I and sh.slice_type % 5 != SLICE_SI or sh.frame_num:
            raise BitstreamError(f"{r.what}: slice_type {sh.slice_type} and frame_num {sh.frame_num} "
                                 "in an IDR picture (7.4.3: I or SI slices, frame_num 0)")
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


def _rest(r: BitReader, sh: SliceHeader) -> None:
    """slice_header() from direct_spatial_mv_pred_flag to the end, and header_bit_size, into
    ``sh``: only the elements present (``r`` positioned after the prefix)."""
    pps = sh.pps
    field = sh.field_pic_flag
    u1 = r.u1
    ue = r.ue
    se = r.se
    st = sh.slice_type % 5
    if st == SLICE_B:
        sh.direct_spatial_mv_pred_flag = u1("direct_spatial_mv_pred_flag")
    inter = st != SLICE_I and st != SLICE_SI  # P, SP or B: has reference lists
    if inter:
        n0 = pps.num_ref_idx_l0_default_active_minus1
        n1 = pps.num_ref_idx_l1_default_active_minus1 if st == SLICE_B else 0
        if u1("num_ref_idx_active_override_flag"):
            sh.num_ref_idx_active_override_flag = 1
            max_ref = 31 if field else 15
            n0 = ue("num_ref_idx_l0_active_minus1", max_ref)
            if st == SLICE_B:
                n1 = ue("num_ref_idx_l1_active_minus1", max_ref)
        sh.num_ref_idx_l0_active_minus1 = n0
        sh.num_ref_idx_l1_active_minus1 = n1
        # ref_pic_list_modification() 7.3.3.1 (slice_type is not I or SI)
        if u1("ref_pic_list_modification_flag_l0"):
            sh.ref_pic_list_modification_flag_l0 = 1
            sh.ref_pic_list_modification_l0 = _ref_pic_list_modification(r, "l0")
        if st == SLICE_B and u1("ref_pic_list_modification_flag_l1"):
            sh.ref_pic_list_modification_flag_l1 = 1
            sh.ref_pic_list_modification_l1 = _ref_pic_list_modification(r, "l1")
        if (pps.weighted_pred_flag and st != SLICE_B) or (pps.weighted_bipred_idc == 1 and st == SLICE_B):
            _pred_weight_table(r, sh, n0, n1 if st == SLICE_B else None)
    if sh.nal_ref_idc:
        _dec_ref_pic_marking(r, sh)
    if pps.entropy_coding_mode_flag and inter:
        sh.cabac_init_idc = ue("cabac_init_idc", 2)
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
    sh.header_bit_size = 8 + r.pos
    if sh.nal_unit_type == 2:  # slice_id is not part of slice_header(): not in header_bit_size
        sh.slice_id = ue("slice_id")


def _ref_pic_list_modification(r: BitReader, lst: str) -> list[tuple[int, int]]:
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


def _pred_weight_table(r: BitReader, sh: SliceHeader, n0: int, n1: int | None) -> None:
    """pred_weight_table() (7.3.3.2) for num_ref_idx_l0/l1_active_minus1 ``n0``/``n1`` (None:
    no list 1)."""
    sh.has_pred_weight_table = True
    sh.luma_log2_weight_denom = luma_denom = r.ue("luma_log2_weight_denom", 7)
    chroma_denom = None
    if sh.sps.ChromaArrayType != 0:
        sh.chroma_log2_weight_denom = chroma_denom = r.ue("chroma_log2_weight_denom", 7)
    (
        sh.luma_weight_l0_flag, sh.luma_weight_l0, sh.luma_offset_l0,
        sh.chroma_weight_l0_flag, sh.chroma_weight_l0, sh.chroma_offset_l0,
    ) = _weights(r, n0 + 1, luma_denom, chroma_denom, "l0")
    if n1 is not None:
        (
            sh.luma_weight_l1_flag, sh.luma_weight_l1, sh.luma_offset_l1,
            sh.chroma_weight_l1_flag, sh.chroma_weight_l1, sh.chroma_offset_l1,
        ) = _weights(r, n1 + 1, luma_denom, chroma_denom, "l1")


#: syntax element names of pred_weight_table() per list (built once, not per entry)
_WEIGHT_NAMES = {x: (f"luma_weight_{x}_flag", f"luma_weight_{x}", f"luma_offset_{x}",
                     f"chroma_weight_{x}_flag", f"chroma_weight_{x}", f"chroma_offset_{x}")
                 for x in ("l0", "l1")}


def _weights(r: BitReader, n: int, luma_denom: int, chroma_denom: int | None, x: str):
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


def _dec_ref_pic_marking(r: BitReader, sh: SliceHeader) -> None:
    """dec_ref_pic_marking() (7.3.3.3), its bit offset and size."""
    start = sh.dec_ref_pic_marking_bit_offset = r.pos
    if sh.IdrPicFlag:
        sh.no_output_of_prior_pics_flag = r.u1("no_output_of_prior_pics_flag")
        sh.long_term_reference_flag = r.u1("long_term_reference_flag")
    elif r.u1("adaptive_ref_pic_marking_mode_flag"):
        sh.adaptive_ref_pic_marking_mode_flag = 1
        sh.mmco = _memory_management_control_operations(r)
    sh.dec_ref_pic_marking_bit_size = r.pos - start


def _memory_management_control_operations(r: BitReader) -> list[MMCO]:
    """The memory_management_control_operation loop of dec_ref_pic_marking() (7.3.3.3)."""
    ue = r.ue
    ops = []
    while True:
        op = ue("memory_management_control_operation", 6)
        if op == 0:
            return ops
        if op == 1:
            ops.append(MMCO(1, difference_of_pic_nums_minus1=ue("difference_of_pic_nums_minus1")))
        elif op == 2:
            ops.append(MMCO(2, long_term_pic_num=ue("long_term_pic_num")))
        elif op == 3:
            d = ue("difference_of_pic_nums_minus1")
            ops.append(MMCO(3, difference_of_pic_nums_minus1=d, long_term_frame_idx=ue("long_term_frame_idx", 31)))
        elif op == 4:
            ops.append(MMCO(4, max_long_term_frame_idx_plus1=ue("max_long_term_frame_idx_plus1", 32)))
        elif op == 5:
            ops.append(MMCO(5))
        else:  # 6
            ops.append(MMCO(6, long_term_frame_idx=ue("long_term_frame_idx", 31)))
        if len(ops) > 66:
            raise r.error("memory_management_control_operation", "list longer than 66 operations")


def _epb_in_header(data: bytes, header_bit_size: int) -> int:
    """header_emulation_prevention_bytes of the NAL unit ``data`` (header + EBSP): the
    emulation prevention bytes among the RBSP bytes the header occupies."""
    rbsp_bytes = (header_bit_size - 1) >> 3  # (header_bit_size - 8 + 7) // 8
    find = data.find
    if find(b"\x00\x00\x03", 0, 1 + rbsp_bytes + 16) < 0:
        return 0
    count = 0
    i = 1
    while True:
        j = find(b"\x00\x00\x03", i)
        if j < 0 or j + 2 - 1 - count >= rbsp_bytes:
            return count
        count += 1
        i = j + 3
