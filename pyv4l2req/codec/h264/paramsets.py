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
    """

    def __init__(self) -> None:
        self.sps: dict[int, SPS] = {}
        self.pps: dict[int, PPS] = {}
        self._pps_rbsp: dict[int, bytes] = {}

    def add_sps(self, nal: NalUnit) -> SPS:
        sps = parse_sps(nal.rbsp)
        old = self.sps.get(sps.seq_parameter_set_id)
        if old is not None and old == sps:
            return old
        self.sps[sps.seq_parameter_set_id] = sps
        for pid, pps in list(self.pps.items()):
            if pps.seq_parameter_set_id == sps.seq_parameter_set_id:
                try:
                    self.pps[pid] = parse_pps(self._pps_rbsp[pid], self.sps)
                except BitstreamError:  # a PPS that only made sense with the old SPS
                    del self.pps[pid]
        return sps

    def add_pps(self, nal: NalUnit) -> PPS:
        rbsp = nal.rbsp
        pps = parse_pps(rbsp, self.sps)
        self._pps_rbsp[pps.pic_parameter_set_id] = rbsp
        old = self.pps.get(pps.pic_parameter_set_id)
        if old is not None and old == pps and old.sps is pps.sps:
            return old
        self.pps[pps.pic_parameter_set_id] = pps
        return pps

    def parse_slice_header(self, nal: NalUnit) -> SliceHeader | None:
        """The slice header, or None when its PPS/SPS is unknown (BitstreamError if malformed)."""
        try:
            return parse_slice_header(nal, self.pps, self.sps)
        except MissingParameterSet:
            return None
