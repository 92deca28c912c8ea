"""Fast MSB-first bit reader over an RBSP (``u(n)``, ``ue(v)``, ``se(v)``, ``more_rbsp_data``).

The reader converts the bytes once into a Python ``int`` and extracts fields with shifts and
masks: no per-bit Python loop. Slice headers are parsed from a short prefix of the NAL unit
(see :func:`pyv4l2req.codec.h264.slice.parse_slice_header`): when the prefix is too short the
reader raises :class:`NeedMoreData` and the caller retries with the whole RBSP.

Every read method takes the syntax element's name (``r.ue("first_mb_in_slice")``); the fast
reader only uses it in error messages, :class:`TracingBitReader` records ``(bit position,
name, value)`` triples (used by the tests to compare with FFmpeg's ``trace_headers``).
"""

from __future__ import annotations

from ...errors import BitstreamError

__all__ = ["BitReader", "TracingBitReader", "NeedMoreData"]


def _exp_golomb_table(mapping) -> tuple[int, ...]:
    """For each 8-bit window: ``mapping(codeNum) << 4 | code length`` of the Exp-Golomb code
    it starts with (9.1: leading_zero_bits, a 1, as many info bits), or 0 when the code is
    longer than 7 bits (4 or more leading zeros)."""
    out = []
    for w in range(256):
        lz = 8 - w.bit_length()
        if lz > 3:
            out.append(0)
            continue
        n = 2 * lz + 1
        out.append(mapping((w >> (8 - n)) - 1) << 4 | n)
    return tuple(out)


#: ue(v) and se(v) (9.1.1, biased by +7 to stay positive) of the codes of at most 7 bits
_UE8 = _exp_golomb_table(lambda k: k)
_SE8 = _exp_golomb_table(lambda k: ((k + 1) >> 1 if k & 1 else -(k >> 1)) + 7)


class NeedMoreData(Exception):
    """Internal: the reader ran past the end of a *partial* RBSP prefix."""


class BitReader:
    """Reads the bits of ``data`` (an RBSP, emulation prevention already removed).

    ``complete`` says whether ``data`` is the whole RBSP (reading past its end is then a
    :class:`BitstreamError`) or only a prefix (reading past it raises :class:`NeedMoreData`).
    ``what`` names the structure being parsed, for error messages ("SPS", "slice header
    (nal_unit_type 5)", ...). ``pos`` is the bit position of the next bit to read.
    """

    __slots__ = ("_val", "_nbits", "pos", "complete", "what")

    def __init__(self, data: bytes, complete: bool = True, what: str = "NAL unit", pos: int = 0) -> None:
        self._val = int.from_bytes(data, "big")
        self._nbits = len(data) * 8
        self.pos = pos
        self.complete = complete
        self.what = what

    # -- errors -------------------------------------------------------------------------
    def _short(self, name: str) -> None:
        if not self.complete:
            raise NeedMoreData(name)
        raise BitstreamError(
            f"{self.what}: truncated at bit {self.pos} of {self._nbits} while reading {name}"
        )

    def error(self, name: str, message: str) -> BitstreamError:
        """A :class:`BitstreamError` naming the structure and the syntax element."""
        return BitstreamError(f"{self.what}: {name} {message}")

    # -- reads ---------------------------------------------------------------------------
    @property
    def bits_left(self) -> int:
        """Bits not yet read (of the data given, which may be a prefix)."""
        return self._nbits - self.pos

    def u(self, n: int, name: str = "") -> int:
        """``u(n)``: n-bit unsigned integer (n may be 0)."""
        end = self.pos + n
        if end > self._nbits:
            self._short(name)
        self.pos = end
        return (self._val >> (self._nbits - end)) & ((1 << n) - 1)

    def u1(self, name: str = "") -> int:
        """``u(1)``: one flag bit."""
        end = self.pos + 1
        if end > self._nbits:
            self._short(name)
        self.pos = end
        return (self._val >> (self._nbits - end)) & 1

    def ue(self, name: str = "", maximum: int = 0xFFFFFFFE) -> int:
        """``ue(v)``: Exp-Golomb unsigned; values above ``maximum`` are a BitstreamError."""
        pos = self.pos
        sh = self._nbits - pos - 8
        if sh >= 0:  # fast path: a code of at most 7 bits (values 0..14) from a table
            code = _UE8[(self._val >> sh) & 0xFF]
            if code:
                self.pos = pos + (code & 15)
                value = code >> 4
                if value > maximum:
                    raise self.error(name, f"= {value} out of range (max {maximum})")
                return value
        return self._ue_long(name, maximum)

    def _ue_long(self, name: str, maximum: int) -> int:
        """``ue(v)`` with a code longer than 7 bits, or near the end of the data."""
        pos = self.pos
        sh = self._nbits - pos - 32
        if sh >= 0:  # 32 bits available: a code with < 16 leading zeros fits in them
            w = (self._val >> sh) & 0xFFFFFFFF
            if w >= 0x10000:
                n = 65 - (w.bit_length() << 1)  # code length 2 * leading_zero_bits + 1
                self.pos = pos + n
                value = (w >> (32 - n)) - 1
                if value > maximum:
                    raise self.error(name, f"= {value} out of range (max {maximum})")
                return value
        return self._ue_slow(name, maximum)

    def _ue_slow(self, name: str, maximum: int) -> int:
        """``ue(v)`` near the end of the data or with 16 or more leading zero bits."""
        pos = self.pos
        rem = self._nbits - pos
        v = self._val & ((1 << rem) - 1)
        if not v:
            self._short(name)
            raise self.error(name, "has no terminating 1 bit")  # unreachable: _short raised
        lz = rem - v.bit_length()
        if lz > 31:
            raise self.error(name, f"Exp-Golomb code with {lz} leading zero bits (> 31) at bit {pos}")
        n = 2 * lz + 1
        if n > rem:
            self._short(name)
        self.pos = pos + n
        value = (v >> (rem - n)) - 1
        if value > maximum:
            raise self.error(name, f"= {value} out of range (max {maximum})")
        return value

    def se(self, name: str = "", minimum: int = -0x7FFFFFFF, maximum: int = 0x7FFFFFFF) -> int:
        """``se(v)``: Exp-Golomb signed (k -> (-1)^(k+1) * Ceil(k/2))."""
        pos = self.pos
        sh = self._nbits - pos - 8
        if sh >= 0 and (code := _SE8[(self._val >> sh) & 0xFF]):  # as in ue(): -7..7
            self.pos = pos + (code & 15)
            value = (code >> 4) - 7
        else:
            k = self._ue_long(name, 0xFFFFFFFE)
            value = (k + 1) >> 1 if k & 1 else -(k >> 1)
        if value < minimum or value > maximum:
            raise self.error(name, f"= {value} out of range ({minimum}..{maximum})")
        return value

    def te(self, range_max: int, name: str = "") -> int:
        """``te(v)``: truncated Exp-Golomb with range ``0..range_max``."""
        if range_max > 1:
            return self.ue(name, range_max)
        return 1 - self.u1(name)

    def peek(self, n: int, pos: int | None = None) -> int:
        """The ``n`` bits at ``pos`` (default: the next ones) as an integer without reading
        them; -1 if the data ends before."""
        end = (self.pos if pos is None else pos) + n
        if end > self._nbits:
            return -1
        return (self._val >> (self._nbits - end)) & ((1 << n) - 1)

    def skip(self, n: int) -> None:
        """Skip ``n`` bits."""
        if self.pos + n > self._nbits:
            self._short("skipped bits")
        self.pos += n

    def byte_aligned(self) -> bool:
        return not (self.pos & 7)

    def more_rbsp_data(self) -> bool:
        """7.2 ``more_rbsp_data()``: is there data before the rbsp_stop_one_bit?

        Only meaningful on a complete RBSP (trailing zero bytes are tolerated).
        """
        v = self._val
        if not v:
            return False
        last_one = self._nbits - ((v & -v).bit_length())  # bit position of the stop bit
        return self.pos < last_one

    def rbsp_trailing_bits(self) -> None:
        """Check ``rbsp_stop_one_bit`` followed by zero bits up to the byte boundary."""
        if self.u1("rbsp_stop_one_bit") != 1:
            raise self.error("rbsp_stop_one_bit", "is not 1")
        pad = (-self.pos) & 7
        if pad and self.u(pad, "rbsp_alignment_zero_bit"):
            raise self.error("rbsp_alignment_zero_bit", "is not 0")


class TracingBitReader(BitReader):
    """A :class:`BitReader` that records ``(bit position, name, value)`` of every element read."""

    __slots__ = ("trace",)

    def __init__(self, data: bytes, complete: bool = True, what: str = "NAL unit", pos: int = 0) -> None:
        super().__init__(data, complete, what, pos)
        self.trace: list[tuple[int, str, int]] = []

    def u(self, n: int, name: str = "") -> int:
        p = self.pos
        v = super().u(n, name)
        if name:
            self.trace.append((p, name, v))
        return v

    def u1(self, name: str = "") -> int:
        p = self.pos
        v = super().u1(name)
        self.trace.append((p, name, v))
        return v

    def ue(self, name: str = "", maximum: int = 0xFFFFFFFE) -> int:
        p = self.pos
        v = super().ue(name, maximum)
        self.trace.append((p, name, v))
        return v

    def se(self, name: str = "", minimum: int = -0x7FFFFFFF, maximum: int = 0x7FFFFFFF) -> int:
        p = self.pos
        v = super().ue(name)
        value = (v + 1) >> 1 if v & 1 else -(v >> 1)
        if value < minimum or value > maximum:
            raise self.error(name, f"= {value} out of range ({minimum}..{maximum})")
        self.trace.append((p, name, value))
        return value
