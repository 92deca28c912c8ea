"""Slice header (H.264 7.3.3): ref_pic_list_modification, pred_weight_table (with the implied
defaults), dec_ref_pic_marking, and the bit sizes V4L2 stateless drivers need.

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

Parsing is split in two (see :class:`SliceHeader`): the prefix (up to redundant_pic_cnt) at
once, the tail on first access; a :class:`TailMemo` lets the slices of a picture reuse the
tail part they repeat bit for bit. This module holds the header object, its lazy tail and
:func:`parse_slice_header`; the syntax readers are in :mod:`.slice_syntax`.
"""

from __future__ import annotations

from typing import Mapping

from .bitreader import BitReader, NeedMoreData
from .pps import PPS
from .sps import SPS
from ...errors import BitstreamError
from .slice_syntax import (
    MMCO,
    END_FIELDS,
    PREFIX_FIELDS,
    SLICE_B,
    SLICE_I,
    SLICE_P,
    SLICE_SI,
    SLICE_SP,
    TAIL_FIELDS,
    MissingParameterSet,
    TailMemo,
    _epb_in_header,
    _fast_prefix,
    _parse_prefix,
    _parse_tail,
    _parse_tail_end,
    _parse_tail_refs_memo,
)

__all__ = [
    "SliceHeader",
    "MMCO",
    "MissingParameterSet",
    "parse_slice_header",
    "TailMemo",
    "PREFIX_FIELDS",
    "TAIL_FIELDS",
    "SLICE_P",
    "SLICE_B",
    "SLICE_I",
    "SLICE_SP",
    "SLICE_SI",
]

_TYPE_NAMES = ("P", "B", "I", "SP", "SI")

#: bytes of EBSP unescaped for the first parse attempt (most headers are far shorter)
_PREFIX_BYTES = 48


class SliceHeader:
    """A parsed slice_header(); absent elements hold their inferred values.

    ``sps`` and ``pps`` are the parameter set objects in force when the slice was parsed.
    ``ref_pic_list_modification_l0/l1`` are lists of ``(modification_of_pic_nums_idc, value)``
    with value = abs_diff_pic_num_minus1 (idc 0/1) or long_term_pic_num (idc 2); the final
    idc 3 is not stored. Pred weight tables hold one entry per active reference with the
    implied defaults (2**denom, offset 0) where the flag is 0; they are empty (``()``) when the
    slice has no pred_weight_table(). List-valued elements that are absent are empty tuples
    (shared: never mutate them).

    **Lazy tail.** :func:`parse_slice_header` parses eagerly only the *prefix*: the NAL unit
    fields, first_mb_in_slice ... redundant_pic_cnt (everything 7.4.1.2.4 compares for access
    unit boundaries) and the POC bit offset/size. The *tail* (direct_spatial_mv_pred_flag
    onwards, the bit sizes, ``header_emulation_prevention_bytes``: the names of
    ``TAIL_FIELDS``; the prefix is ``PREFIX_FIELDS``) is parsed on the first access to any of
    its attributes, from the saved reader state; afterwards they are plain attributes. A
    malformed tail raises the same :class:`BitstreamError` at that access (and again at every
    later one). :meth:`parse_all` (or ``parse_slice_header(..., lazy=False)``) parses it now.
    Two exceptions for frame-based decoding, which reads only dec_ref_pic_marking() and
    slice_group_change_cycle: reading an element of dec_ref_pic_marking() parses the tail up
    to its end only (an error after it comes with the first read of a later element), and
    those elements (with slice_group_change_cycle) read as their inferred value without any
    parsing when the prefix says they are absent (nal_ref_idc 0; no slice group map type 3..5).

    (Mechanism: a header with a pending tail is a :class:`_PendingTail`, or a
    :class:`_PendingEnd` once only the part after dec_ref_pic_marking() is pending: subclasses
    whose pending tail attributes are properties that run the tail parse and in the end turn
    the object into a plain ``SliceHeader``, like ``importlib.util.LazyLoader``'s modules. Prefix reads and reads of
    parsed headers are therefore plain attribute reads; absent tail elements are the class
    attributes below.)
    """

    # -- prefix: set by the parser (or inferred values here) -------------------------------
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
    #: and their size (see module docstring; 0 when absent)
    pic_order_cnt_bit_offset: int = 0
    pic_order_cnt_bit_size: int = 0

    # -- tail (TAIL_FIELDS): parsed on first access when the header was parsed lazily --------
    direct_spatial_mv_pred_flag: int = 0
    num_ref_idx_active_override_flag: int = 0
    num_ref_idx_l0_active_minus1: int = 0
    num_ref_idx_l1_active_minus1: int = 0
    ref_pic_list_modification_flag_l0: int = 0
    ref_pic_list_modification_flag_l1: int = 0
    ref_pic_list_modification_l0: list[tuple[int, int]] = ()  # type: ignore[assignment]
    ref_pic_list_modification_l1: list[tuple[int, int]] = ()  # type: ignore[assignment]
    # pred_weight_table()
    has_pred_weight_table: bool = False
    luma_log2_weight_denom: int = 0
    chroma_log2_weight_denom: int = 0
    luma_weight_l0_flag: list[int] = ()  # type: ignore[assignment]
    luma_weight_l0: list[int] = ()  # type: ignore[assignment]
    luma_offset_l0: list[int] = ()  # type: ignore[assignment]
    chroma_weight_l0_flag: list[int] = ()  # type: ignore[assignment]
    chroma_weight_l0: list[tuple[int, int]] = ()  # type: ignore[assignment]
    chroma_offset_l0: list[tuple[int, int]] = ()  # type: ignore[assignment]
    luma_weight_l1_flag: list[int] = ()  # type: ignore[assignment]
    luma_weight_l1: list[int] = ()  # type: ignore[assignment]
    luma_offset_l1: list[int] = ()  # type: ignore[assignment]
    chroma_weight_l1_flag: list[int] = ()  # type: ignore[assignment]
    chroma_weight_l1: list[tuple[int, int]] = ()  # type: ignore[assignment]
    chroma_offset_l1: list[tuple[int, int]] = ()  # type: ignore[assignment]
    # dec_ref_pic_marking()
    no_output_of_prior_pics_flag: int = 0
    long_term_reference_flag: int = 0
    adaptive_ref_pic_marking_mode_flag: int = 0
    mmco: list[MMCO] = ()  # type: ignore[assignment]
    cabac_init_idc: int = 0
    slice_qp_delta: int = 0
    sp_for_switch_flag: int = 0
    slice_qs_delta: int = 0
    disable_deblocking_filter_idc: int = 0
    slice_alpha_c0_offset_div2: int = 0
    slice_beta_offset_div2: int = 0
    slice_group_change_cycle: int = 0
    slice_id: int = 0  # slice_data_partition_a_layer_rbsp only
    # sizes (see module docstring)
    header_bit_size: int
    dec_ref_pic_marking_bit_size: int = 0
    #: bit offset in the rbsp (after the NAL header) where dec_ref_pic_marking() starts
    dec_ref_pic_marking_bit_offset: int = 0
    #: emulation prevention bytes inside the NAL header + slice header (set by the parser)
    header_emulation_prevention_bytes: int = 0

    def parse_all(self) -> "SliceHeader":
        """Parse the tail now if it is pending (BitstreamError if malformed); returns self."""
        return self

    @property
    def tail_parsed(self) -> bool:
        """Whether the tail elements are available without parsing (tests, diagnostics)."""
        return True

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


#: the two parts of a pending tail (bits; see :class:`_PendingEnd`): the elements written by
#: _parse_tail_refs (direct_spatial_mv_pred_flag ... cabac_init_idc, dec_ref_pic_marking()
#: and its sizes), then the rest (END_FIELDS: slice_qp_delta ... and header_bit_size)
_REFS, _END = 1, 2

#: the elements of dec_ref_pic_marking(): all that frame-based decoding reads of the tail, so
#: reading one parses the refs part only; any other tail element parses both parts (slice-
#: based decoding reads them all)
_MARKING_FIELDS = (
    "no_output_of_prior_pics_flag", "long_term_reference_flag", "adaptive_ref_pic_marking_mode_flag",
    "mmco", "dec_ref_pic_marking_bit_size", "dec_ref_pic_marking_bit_offset",
)


def _no_marking(sh: SliceHeader) -> bool:
    """dec_ref_pic_marking() is absent: nal_ref_idc is 0 (7.3.3)."""
    return not sh.nal_ref_idc


def _no_change_cycle(sh: SliceHeader) -> bool:
    """slice_group_change_cycle is absent: no slice group map type 3..5 (7.3.3)."""
    pps = sh.pps
    return not (pps.num_slice_groups_minus1 > 0 and 3 <= pps.slice_group_map_type <= 5)


#: tail elements whose absence the prefix decides: a pending header reads them as their
#: inferred value without parsing (frame-based decoding reads them for every picture)
_IMPLIED_BY_PREFIX = dict.fromkeys(_MARKING_FIELDS, _no_marking)
_IMPLIED_BY_PREFIX["slice_group_change_cycle"] = _no_change_cycle


class _PendingEnd(SliceHeader):
    """A :class:`SliceHeader` whose tail is not (all) parsed yet: the end part is pending.

    The tail is parsed in two parts (``_REFS``, ``_END``), each on the first access to one of
    its elements; the end part starts where the refs part ends, so it parses that one first.
    A header with both parts pending is a :class:`_PendingTail`, one with the end part
    pending a :class:`_PendingEnd`: reading an element of a pending part (a property of the
    class, made below) parses it (not for the elements of ``_IMPLIED_BY_PREFIX`` that the
    prefix says are absent), the other elements are plain attributes. Once both parts are
    parsed the object becomes a plain :class:`SliceHeader`. On a bitstream error the part
    stays pending and its elements unset.

    ``_tail`` = (reader class, RBSP bytes read so far and whether they are the whole RBSP,
    bit position where the pending part starts, NalUnit, TailMemo or None); ``_reader`` the
    reader of the refs part once parsed.
    """

    _tail: "tuple[type[BitReader], bytes, bool, int, object, TailMemo | None]"
    _reader: "BitReader | None" = None

    def parse_all(self) -> SliceHeader:
        self._parse(_END)
        return self

    def _parse(self, part: int) -> None:
        """Parse the pending parts up to ``part`` (``_REFS`` or ``_END``), in one go."""
        cls = type(self)
        reader_cls, data, complete, pos, nal, memo = self._tail
        r = self._reader or reader_cls(data, complete, _WHAT[(self.nal_ref_idc << 5) | self.nal_unit_type], pos)
        todo = _END if cls is _PendingEnd else _REFS | part
        self.__class__ = SliceHeader  # the tail attributes become writable instance attributes
        try:
            r = _parse_part(r, pos, self, todo, memo, nal)
        except BaseException:
            self.__class__ = cls
            raise
        if todo & _END:
            self.header_emulation_prevention_bytes = _epb_in_header(nal.data, self.header_bit_size)
            d = self.__dict__
            d.pop("_tail", None)
            d.pop("_reader", None)
        else:
            self._tail = (reader_cls, data, complete, r.pos, nal, memo)
            self._reader = r
            self.__class__ = _PendingEnd

    @property
    def tail_parsed(self) -> bool:
        return False


class _PendingTail(_PendingEnd):
    """A :class:`SliceHeader` whose tail is not parsed yet (see :class:`_PendingEnd`)."""


def _parse_part(r: BitReader, pos: int, sh: SliceHeader, part: int, memo: "TailMemo | None", nal) -> BitReader:
    """Parse tail part ``part`` from bit ``pos``, again over the whole RBSP if ``r`` holds a
    prefix too short; returns the reader used. On an error the part's elements are dropped."""
    r.pos = pos
    try:
        try:
            _PARSE_PART[part](r, sh, memo)
        except NeedMoreData:  # the reader holds a prefix of the RBSP: read the whole one
            _drop_part(sh, part, memo)
            r = type(r)(nal.rbsp, True, r.what, pos)
            _PARSE_PART[part](r, sh, memo)
    except BaseException:
        _drop_part(sh, part, memo)
        raise
    return r


_PARSE_PART = {_REFS: _parse_tail_refs_memo, _END: lambda r, sh, memo: _parse_tail_end(r, sh),
               _REFS | _END: _parse_tail}


def _drop_part(sh: SliceHeader, part: int, memo: "TailMemo | None") -> None:
    """Forget the elements written by an interrupted parse of tail part(s) ``part`` (and the
    memo of them)."""
    names = TAIL_FIELDS
    if part == _END:
        names = END_FIELDS
    elif memo is not None and memo.source is sh:
        memo.source = None
    d = sh.__dict__
    for name in names:
        d.pop(name, None)


def _tail_property(name: str) -> property:
    part = _REFS if name in _MARKING_FIELDS else _END
    implied = _IMPLIED_BY_PREFIX.get(name)
    default = getattr(SliceHeader, name, None)  # the inferred value of an absent element

    def get(self: _PendingEnd):
        if implied is not None and implied(self):
            return default
        self._parse(part)
        return self.__dict__.get(name, default)

    def set(self: _PendingEnd, value) -> None:
        setattr(self.parse_all(), name, value)

    return property(get, set, doc=f"{name} (parses the pending slice header tail)")


for _name in TAIL_FIELDS:
    setattr(_PendingEnd if _name in END_FIELDS else _PendingTail, _name, _tail_property(_name))
del _name


_WHAT = tuple(f"slice header (nal_unit_type {h & 31}, nal_ref_idc {h >> 5})" for h in range(128))


def parse_slice_header(
    nal: "NalUnit",  # noqa: F821 (pyv4l2req.codec.h264.nal.NalUnit)
    pps_by_id: Mapping[int, PPS],
    sps_by_id: Mapping[int, SPS],
    *,
    reader_cls: type[BitReader] = BitReader,
    tracer: list | None = None,
    lazy: bool = True,
    memo: TailMemo | None = None,
) -> SliceHeader:
    """Parse the slice header of a coded slice NAL unit (nal_unit_type 1, 2 or 5).

    Only the head of the NAL unit is unescaped (microseconds per header whatever the slice
    size). Raises :class:`MissingParameterSet` when the PPS/SPS is unknown and
    :class:`BitstreamError` (naming the NAL unit and the syntax element) on malformed data.
    With ``lazy`` (the default) the tail of the header is parsed on first access (see
    :class:`SliceHeader`); ``lazy=False`` or a ``tracer`` parse everything now. ``memo`` (one
    :class:`TailMemo` per stream) lets slices reuse the tail part of the previous one when it
    is the same bits (the tracer never uses it).
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
        lazy = False
        memo = None
    if tracer is None:
        sh = _PendingTail() if lazy else SliceHeader()
        pos = _fast_prefix(sh, data, t, ref_idc, pps_by_id, sps_by_id)
        if pos >= 0:
            if lazy:
                sh._tail = (reader_cls, data, complete, pos, nal, memo)
                return sh
            _parse_part(reader_cls(data, complete, what, pos), pos, sh, _REFS | _END, memo, nal)
            sh.header_emulation_prevention_bytes = _epb_in_header(nal.data, sh.header_bit_size)
            return sh
    while True:
        r = reader_cls(data, complete, what)
        try:
            if lazy:
                sh = _PendingTail()
                _parse_prefix(r, sh, t, ref_idc, pps_by_id, sps_by_id)
                sh._tail = (reader_cls, data, complete, r.pos, nal, memo)
                return sh
            sh = SliceHeader()
            _parse_prefix(r, sh, t, ref_idc, pps_by_id, sps_by_id)
            _parse_tail(r, sh, memo)
            break
        except NeedMoreData:
            data, complete = nal.rbsp, True
    if tracer is not None:
        tracer.append(r)
    sh.header_emulation_prevention_bytes = _epb_in_header(nal.data, sh.header_bit_size)
    return sh
