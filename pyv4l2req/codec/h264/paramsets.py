"""``ParameterSets``: the SPS and PPS tables of a stream, by id (7.4.1.2.1 activation is the
decoder's business; this only stores the latest of each id and parses slice headers)."""

from __future__ import annotations

from .nal import NalUnit
from .pps import PPS, parse_pps
from .slice import MissingParameterSet, SliceHeader, parse_slice_header
from .sps import SPS, parse_sps
from ...errors import BitstreamError

__all__ = ["ParameterSets"]


class ParameterSets:
    """SPS/PPS by id. ``add_sps``/``add_pps`` parse a NAL unit and store the result.

    A PPS is parsed against the SPS table at the time it arrives; when an SPS is replaced by
    one with different content, the PPSs referring to it are parsed again against the new SPS
    (its chroma_format_idc decides how many 8x8 lists a PPS carries, its lists are the PPS
    fall-back). Objects already handed out are never modified.

    An SPS whose id is taken by one with other content is held back until the next IDR slice
    (``parse_slice_header`` of nal_unit_type 5) and replaces it then: 7.4.1.2.1 lets the
    content of an SPS change only at an IDR picture, so the slices before it keep the SPS in
    force, and a stray SPS (damage that happens to parse) changes nothing unless an IDR
    picture follows; the same SPS again (or the one in force) cancels it.
    """

    def __init__(self) -> None:
        self.sps: dict[int, SPS] = {}
        self.pps: dict[int, PPS] = {}
        self._pps_rbsp: dict[int, bytes] = {}
        self._next_sps: dict[int, SPS] = {}  # held back until the next IDR slice

    def add_sps(self, nal: NalUnit) -> SPS:
        sps = parse_sps(nal.rbsp)
        sid = sps.seq_parameter_set_id
        old = self.sps.get(sid)
        if old is not None:
            if old == sps:
                self._next_sps.pop(sid, None)
                return old
            self._next_sps[sid] = sps
            return sps
        self._replace_sps(sps)
        return sps

    def _replace_sps(self, sps: SPS) -> None:
        self.sps[sps.seq_parameter_set_id] = sps
        for pid, pps in list(self.pps.items()):
            if pps.seq_parameter_set_id == sps.seq_parameter_set_id:
                try:
                    self.pps[pid] = parse_pps(self._pps_rbsp[pid], self.sps)
                except BitstreamError:  # a PPS that only made sense with the old SPS
                    del self.pps[pid]

    def add_pps(self, nal: NalUnit) -> PPS:
        rbsp = nal.rbsp
        # (after an SPS held back, the PPS most likely belongs with it: parsed again at the IDR)
        pps = parse_pps(rbsp, {**self.sps, **self._next_sps} if self._next_sps else self.sps)
        self._pps_rbsp[pps.pic_parameter_set_id] = rbsp
        old = self.pps.get(pps.pic_parameter_set_id)
        if old is not None and old == pps and old.sps is pps.sps:
            return old
        self.pps[pps.pic_parameter_set_id] = pps
        return pps

    def parse_slice_header(self, nal: NalUnit) -> SliceHeader | None:
        """The slice header, or None when its PPS/SPS is unknown (BitstreamError if malformed)."""
        if self._next_sps and nal.nal_unit_type == 5:
            for sps in self._next_sps.values():
                self._replace_sps(sps)
            self._next_sps.clear()
        try:
            return parse_slice_header(nal, self.pps, self.sps)
        except MissingParameterSet:
            return None
