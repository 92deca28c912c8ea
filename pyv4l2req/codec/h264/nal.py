"""NAL units and access units of an H.264 Annex B byte stream (sans-IO).

- :class:`NalUnit`: one NAL unit as in the stream (``data`` = header + EBSP, no start code),
  ``.rbsp`` the payload after the header with emulation prevention bytes removed.
- :func:`split_annexb`: all NAL units of a complete byte stream (3- and 4-byte start codes,
  leading/trailing zero bytes).

Access units (which need parsed parameter sets and slice headers) are in
:mod:`.access_unit`, above the parsers; this module is below them.
"""

from __future__ import annotations

import re

from ...errors import BitstreamError

__all__ = [
    "NalUnit",
    "split_annexb",
    "ebsp_to_rbsp",
    "iter_annexb_spans",
    "START_CODE",
    "START_CODE_RE",
    "NAL_SLICE",
    "NAL_SLICE_DPA",
    "NAL_SLICE_DPB",
    "NAL_SLICE_DPC",
    "NAL_SLICE_IDR",
    "NAL_SEI",
    "NAL_SPS",
    "NAL_PPS",
    "NAL_AUD",
    "NAL_END_SEQUENCE",
    "NAL_END_STREAM",
    "NAL_FILLER_DATA",
    "NAL_SPS_EXT",
    "NAL_PREFIX",
    "NAL_SUBSET_SPS",
    "NAL_AUXILIARY_SLICE",
    "NAL_SLICE_EXT",
    "NAL_SLICE_EXT_DEPTH",
]

NAL_SLICE = 1
NAL_SLICE_DPA = 2
NAL_SLICE_DPB = 3
NAL_SLICE_DPC = 4
NAL_SLICE_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
NAL_END_SEQUENCE = 10
NAL_END_STREAM = 11
NAL_FILLER_DATA = 12
NAL_SPS_EXT = 13
NAL_PREFIX = 14
NAL_SUBSET_SPS = 15
NAL_AUXILIARY_SLICE = 19
NAL_SLICE_EXT = 20
NAL_SLICE_EXT_DEPTH = 21

START_CODE = b"\x00\x00\x01"
#: start code prefix search: the regex engine, which scans slice data faster than a
#: bytes.find loop in wall time (the measurement: docs/benchmark.md)
START_CODE_RE = re.compile(re.escape(START_CODE))
_EPB = b"\x00\x00\x03"


def ebsp_to_rbsp(ebsp: bytes) -> bytes:
    """Remove emulation_prevention_three_byte (every 0x03 after 0x00 0x00), 7.3.1."""
    if _EPB not in ebsp:
        return ebsp
    return ebsp.replace(_EPB, b"\x00\x00")


class NalUnit:
    """One NAL unit: ``data`` is the NAL unit as in the stream (header + EBSP, no start code)."""

    __slots__ = ("nal_unit_type", "nal_ref_idc", "data", "_rbsp")

    def __init__(self, nal_unit_type: int, nal_ref_idc: int, data: bytes) -> None:
        self.nal_unit_type = nal_unit_type
        self.nal_ref_idc = nal_ref_idc
        self.data = data
        self._rbsp: bytes | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> "NalUnit":
        """Parse the one-byte NAL header of ``data`` (header + EBSP)."""
        if not data:
            raise BitstreamError("empty NAL unit")
        h = data[0]
        if h & 0x80:
            raise BitstreamError(f"NAL unit (header 0x{h:02x}): forbidden_zero_bit is 1")
        return cls(h & 0x1F, (h >> 5) & 3, bytes(data))

    @property
    def header_bytes(self) -> int:
        """Size of the NAL unit header: 1, or 4 for nal_unit_type 14, 20 and 21 (7.3.1)."""
        return 4 if self.nal_unit_type in (14, 20, 21) else 1

    @property
    def rbsp(self) -> bytes:
        """The RBSP: bytes after the NAL header with emulation prevention bytes removed."""
        r = self._rbsp
        if r is None:
            r = self._rbsp = ebsp_to_rbsp(self.data[self.header_bytes:])
        return r

    def rbsp_prefix(self, nbytes: int) -> tuple[bytes, bool]:
        """The first RBSP bytes converted from ``nbytes`` EBSP bytes: ``(prefix, complete)``.

        Cheap for large slices: only the head of the NAL unit is unescaped. The result is
        always a prefix of :attr:`rbsp`: a 0x000003 straddling the cut leaves its leading zero
        bytes at the end, which are RBSP bytes too (the 0x03 is the one removed).
        """
        r = self._rbsp
        if r is not None:
            return r, True
        hb = 4 if self.nal_unit_type in (14, 20, 21) else 1
        if len(self.data) <= nbytes + hb:
            return self.rbsp, True
        head = self.data[hb:hb + nbytes]
        if _EPB in head:
            head = head.replace(_EPB, b"\x00\x00")
        return head, False

    @property
    def is_vcl(self) -> bool:
        """Coded slice NAL units (types 1..5) of the primary/redundant picture."""
        return 1 <= self.nal_unit_type <= 5

    def __repr__(self) -> str:
        return f"NalUnit(nal_unit_type={self.nal_unit_type}, nal_ref_idc={self.nal_ref_idc}, {len(self.data)} bytes)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NalUnit) and self.data == other.data

    def __hash__(self) -> int:
        return hash(self.data)


def iter_annexb_spans(data: bytes | bytearray, start: int = 0):
    """Yield ``(begin, end)`` of each NAL unit payload in a complete Annex B byte stream."""
    find = data.find
    p = find(START_CODE, start)
    while p >= 0:
        s = p + 3
        q = find(START_CODE, s)
        e = len(data) if q < 0 else q
        while e > s and data[e - 1] == 0:
            e -= 1
        if e > s:
            yield s, e
        p = q


def split_annexb(data: bytes) -> list[NalUnit]:
    """All NAL units of a complete Annex B byte stream (bytes before the first start code ignored)."""
    return [NalUnit.from_bytes(data[s:e]) for s, e in iter_annexb_spans(data)]
