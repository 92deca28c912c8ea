"""Access units of an H.264 stream (sans-IO): NAL units grouped by picture, slice headers parsed.

- :class:`AccessUnitSplitter`: incremental splitter, ``feed(bytes) -> list[AccessUnit]`` with
  chunk boundaries anywhere (also inside start codes), ``flush()`` at the end of the stream;
  ``push_nal(nal)`` for NAL-unit sources (MP4). Access unit boundaries follow H.264 7.4.1.2.3
  and 7.4.1.2.4; parameter sets are parsed as they are seen (:class:`~.paramsets.ParameterSets`),
  every slice header once (``AccessUnit.slices``; the prefix that access unit boundaries need
  at once, the rest on first access: see :class:`~.slice.SliceHeader`).
- :class:`AccessUnit`, :class:`Slice`: what it hands out.
- :class:`DamageNote`, :class:`DamageLog`: what was skipped as malformed (the splitter and the
  decoder write to one log the caller gives them).

NAL units and the Annex B scan are :mod:`.nal`'s (below the parameter set parsers; this module
is above them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import BitstreamError
from .nal import (
    NAL_AUD,
    NAL_END_SEQUENCE,
    NAL_END_STREAM,
    NAL_PPS,
    NAL_SEI,
    NAL_SLICE,
    NAL_SLICE_DPA,
    NAL_SLICE_IDR,
    NAL_SPS,
    START_CODE,
    START_CODE_RE,
    NalUnit,
)
from .paramsets import ParameterSets
from .slice import SliceHeader

__all__ = ["AccessUnit", "Slice", "AccessUnitSplitter", "DamageLog", "DamageNote",
           "first_vcl_of_new_picture"]

#: Non-VCL types that start a new access unit after a VCL NAL unit (7.4.1.2.3).
_AU_STARTERS = frozenset((NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD, 14, 15, 16, 17, 18))


@dataclass(frozen=True)
class DamageNote:
    """One piece of the stream skipped as malformed: the NAL unit (its index in the stream,
    counted from 0, when known; its nal_unit_type when it has a header) and the
    :class:`BitstreamError` message, which names the syntax element."""

    nal_index: int | None
    nal_unit_type: int | None
    message: str

    def __str__(self) -> str:
        where = f"NAL unit #{self.nal_index}" if self.nal_index is not None else "NAL unit"
        kind = f" (type {self.nal_unit_type})" if self.nal_unit_type is not None else ""
        return f"{where}{kind} skipped: {self.message}"


class DamageLog(list):
    """The :class:`DamageNote` s of a stream in the order they were found; keeps the first
    :attr:`limit` notes (a long damaged stream does not grow it without bound), ``count``
    counts them all."""

    limit = 1000

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def add(self, nal_index: int | None, nal_unit_type: int | None, error: BaseException) -> None:
        self.count += 1
        if len(self) < self.limit:
            self.append(DamageNote(nal_index, nal_unit_type, str(error)))


@dataclass(eq=False)
class Slice:
    """A coded slice NAL unit and its parsed header (``header.sps``/``header.pps`` attached)."""

    nal: NalUnit
    header: SliceHeader


@dataclass(eq=False)
class AccessUnit:
    """The NAL units of one access unit (7.4.1.2.3) in stream order.

    ``slices`` holds the coded slices (nal_unit_type 1, 2 and 5), primary and redundant, with
    their parsed headers; ``nals`` every NAL unit of the AU (parameter sets, SEI, slices, ...).
    ``damaged``: a malformed NAL unit was skipped while this access unit was being received
    (it may have lost a slice).
    """

    nals: list[NalUnit] = field(default_factory=list)
    slices: list[Slice] = field(default_factory=list)
    damaged: bool = False

    @property
    def primary_slices(self) -> list[Slice]:
        """Slices of the primary coded picture (redundant_pic_cnt == 0)."""
        return [s for s in self.slices if not s.header.redundant_pic_cnt]

    @property
    def first_slice(self) -> Slice:
        return self.slices[0]

    @property
    def idr(self) -> bool:
        return bool(self.slices) and self.slices[0].nal.nal_unit_type == NAL_SLICE_IDR

    @property
    def nal_unit_types(self) -> list[int]:
        return [n.nal_unit_type for n in self.nals]

    def __repr__(self) -> str:
        sh = self.slices[0].header if self.slices else None
        what = f"frame_num={sh.frame_num} slices={len(self.slices)}" if sh is not None else "no slice"
        return f"AccessUnit(types={self.nal_unit_types}, {what})"


def first_vcl_of_new_picture(prev: SliceHeader, cur: SliceHeader) -> bool:
    """7.4.1.2.4: does slice header ``cur`` start a new primary coded picture after ``prev``?"""
    if cur.redundant_pic_cnt:
        return False
    if (
        cur.frame_num != prev.frame_num
        or cur.pic_parameter_set_id != prev.pic_parameter_set_id
        or cur.field_pic_flag != prev.field_pic_flag
        or cur.bottom_field_flag != prev.bottom_field_flag
        or (cur.nal_ref_idc == 0) != (prev.nal_ref_idc == 0)
        or cur.IdrPicFlag != prev.IdrPicFlag
    ):
        return True
    poc_type = cur.sps.pic_order_cnt_type
    if poc_type == 0:
        if (
            cur.pic_order_cnt_lsb != prev.pic_order_cnt_lsb
            or cur.delta_pic_order_cnt_bottom != prev.delta_pic_order_cnt_bottom
        ):
            return True
    elif poc_type == 1:
        if cur.delta_pic_order_cnt != prev.delta_pic_order_cnt:
            return True
    if cur.IdrPicFlag and cur.idr_pic_id != prev.idr_pic_id:
        return True
    # Not in 7.4.1.2.4, but some encoders repeat idr_pic_id in consecutive IDR pictures (and
    # send no AUD/SPS/SEI between them): a slice starting at macroblock 0 starts a new picture
    # unless arbitrary slice order is allowed (Baseline without constraint_set1, Extended).
    if cur.first_mb_in_slice == 0:
        sps = cur.sps
        aso_allowed = sps.profile_idc in (66, 88) and not sps.constraint_set1_flag
        return not aso_allowed
    return False


class AccessUnitSplitter:
    """Incremental Annex B -> access units; chunk boundaries may fall anywhere.

    ``feed(data)`` returns the access units completed by ``data``; ``flush()`` the last one.
    An access unit is complete when the first NAL unit of the next one is seen (7.4.1.2.3:
    AUD, SPS, PPS, SEI, types 14..18 after a VCL NAL unit, or the first VCL NAL unit of a new
    primary picture per 7.4.1.2.4), after an end-of-stream NAL unit, or at the first NAL unit
    after an end-of-sequence NAL unit.

    ``parameter_sets`` (:class:`~pyv4l2req.codec.h264.paramsets.ParameterSets`) is updated as
    SPS/PPS NAL units are seen, before the following slices are parsed. Slices whose PPS/SPS
    has not been received are dropped (counted in ``dropped_nal_units``), as are access units
    without any slice.

    Damage is skipped, never raised: a malformed NAL unit (forbidden_zero_bit set, an SPS, PPS
    or slice header prefix that does not parse) is dropped, counted in ``skipped_nal_units``
    and noted in ``damage`` (a :class:`DamageLog`, shared with the decoder when given);
    the access unit open at that moment is marked ``damaged`` (unless the NAL unit was a
    parameter set). A malformed SPS or PPS does not replace the one of its id received before.
    """

    def __init__(self, parameter_sets: ParameterSets | None = None, damage: DamageLog | None = None) -> None:
        self.parameter_sets = parameter_sets if parameter_sets is not None else ParameterSets()
        self.damage = damage if damage is not None else DamageLog()
        self.dropped_nal_units = 0
        self.skipped_nal_units = 0
        self.nal_units = 0  # NAL units seen (the index of the next one)
        # bytes of the NAL unit being received (after its start code) when _open, else the
        # last <= 2 bytes seen before the first start code (a start code may straddle chunks);
        # bytes from one chunk, a bytearray once a NAL unit spans chunks
        self._tail: bytes | bytearray = b""
        self._open = False
        self._cur = AccessUnit()
        self._prev_sh: SliceHeader | None = None  # header of the last primary slice of the current AU
        self._end_of_seq = False
        self._ready: list[AccessUnit] = []

    # -- byte stream ----------------------------------------------------------------------
    def feed(self, data: bytes) -> list[AccessUnit]:
        """Add bytes of the stream; returns the access units they complete.

        The chunk is scanned in place: only the unfinished NAL unit at its end is kept (and
        prepended to the first NAL unit completed by a later chunk).
        """
        data = bytes(data)
        tail = self._tail
        # offsets in ``data`` just after each start code (0x000001); the first may straddle
        # the previous chunk (its first bytes among the last two bytes of ``tail``)
        ends = [m.end() for m in START_CODE_RE.finditer(data)]
        if tail and not tail[-1]:  # (a straddling start code leaves 0x00 at the end of tail)
            k = min(len(tail), 2)
            i = (bytes(tail[-k:]) + data[:2]).find(START_CODE)
            if 0 <= i < k:
                ends.insert(0, i + 3 - k)
        if not ends:
            if self._open:
                if type(tail) is bytes:  # a NAL unit over several chunks: append in place
                    tail = self._tail = bytearray(tail)
                tail += data
            else:
                self._tail = (bytes(tail) + data)[-2:]
            return self._take()
        on_nal = self._on_nal_bytes
        if self._open:
            # the NAL unit received so far ends where the first start code begins, without
            # trailing zero bytes (trailing_zero_8bits, zero_byte of a 4-byte start code)
            q = ends[0] - 3  # < 0: the start code begins in the tail
            while q > 0 and data[q - 1] == 0:
                q -= 1
            if q > 0:
                nal = bytes(tail) + data[:q]
            else:
                end = len(tail) + q
                while end > 0 and tail[end - 1] == 0:
                    end -= 1
                nal = bytes(tail[:end])  # (the tail itself when it is bytes and ends the NAL)
            if nal:
                on_nal(nal)
        # the NAL units complete in this chunk
        s = ends[0]
        for e in ends[1:]:
            q = e - 3
            while q > s and data[q - 1] == 0:
                q -= 1
            if q > s:
                on_nal(data[s:q])
            s = e
        self._open = True
        self._tail = data[s:]  # the unfinished NAL unit
        return self._take()

    def flush(self) -> list[AccessUnit]:
        """End of stream: the last NAL unit and access unit."""
        if self._open:
            nal = bytes(self._tail).rstrip(b"\x00")
            if nal:
                self._on_nal_bytes(nal)
        self._tail = b""
        self._open = False
        self._finish_au()
        return self._take()

    def _take(self) -> list[AccessUnit]:
        out, self._ready = self._ready, []
        return out

    def _on_nal_bytes(self, data: bytes) -> None:
        """One NAL unit found by :meth:`feed` (``data`` non-empty bytes)."""
        h = data[0]
        if h & 0x80:
            self.nal_units += 1
            try:
                NalUnit.from_bytes(data)  # raises the forbidden_zero_bit error
            except BitstreamError as e:
                self._skip(None, e)
            return
        self.push_nal(NalUnit(h & 0x1F, (h >> 5) & 3, data))

    def _skip(self, nal_unit_type: int | None, error: BitstreamError) -> None:
        """The last NAL unit seen is malformed: drop it, note it; unless it was a parameter set,
        the open access unit may have lost a slice with it."""
        self.skipped_nal_units += 1
        if nal_unit_type != NAL_SPS and nal_unit_type != NAL_PPS:
            self._cur.damaged = True
        self.damage.add(self.nal_units - 1, nal_unit_type, error)

    # -- NAL units ------------------------------------------------------------------------
    def push_nal(self, nal: NalUnit) -> None:
        """Add one NAL unit (for NAL-unit sources such as MP4); completed AUs are queued. A
        malformed one is skipped (see the class docstring)."""
        self.nal_units += 1
        t = nal.nal_unit_type
        if self._end_of_seq and t != NAL_END_STREAM:
            self._finish_au()  # after end_of_seq_rbsp() a new access unit begins
        cur = self._cur
        if t in (NAL_SLICE, NAL_SLICE_IDR, NAL_SLICE_DPA):
            try:
                sh = self.parameter_sets.parse_slice_header(nal)
            except BitstreamError as e:
                self._skip(t, e)
                return
            if sh is None:
                self.dropped_nal_units += 1
                return
            prev = self._prev_sh
            if prev is not None and first_vcl_of_new_picture(prev, sh):
                self._finish_au()
                cur = self._cur
            cur.nals.append(nal)
            cur.slices.append(Slice(nal, sh))
            if not sh.redundant_pic_cnt:
                self._prev_sh = sh
            return
        try:  # (before the boundary: a parameter set skipped as malformed does not end an AU)
            if t == NAL_SPS:
                self.parameter_sets.add_sps(nal)
            elif t == NAL_PPS:
                self.parameter_sets.add_pps(nal)
        except BitstreamError as e:
            self._skip(t, e)
            return
        if t in _AU_STARTERS and self._prev_sh is not None:
            self._finish_au()
            cur = self._cur
        cur.nals.append(nal)
        if t == NAL_END_SEQUENCE:
            self._end_of_seq = True  # an end_of_stream NAL unit may still follow in this AU
        elif t == NAL_END_STREAM:
            self._finish_au()

    def _finish_au(self) -> None:
        cur = self._cur
        if cur.slices:
            self._ready.append(cur)
        elif cur.nals:
            self.dropped_nal_units += len(cur.nals)
        self._cur = AccessUnit()
        self._prev_sh = None
        self._end_of_seq = False

    def pop_ready(self) -> list[AccessUnit]:
        """Access units completed by :meth:`push_nal` calls (same as ``feed`` returns)."""
        return self._take()
