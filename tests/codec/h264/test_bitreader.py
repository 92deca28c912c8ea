"""The bit reader (codec/h264/bitreader.py) against an independent writer and the 9.1 rules:
u(n), ue(v) (incl. codes longer than the 32-bit fast path), se(v), te(v), positions,
more_rbsp_data, truncation and out-of-range errors that name the element."""

from __future__ import annotations

import random

import pytest

from pyv4l2req.codec.h264.bitreader import BitReader, NeedMoreData, TracingBitReader
from pyv4l2req.errors import BitstreamError


def test_random_sequences_round_trip(h264_oracle) -> None:
    rng = random.Random(7)
    for _ in range(300):
        w = h264_oracle.BitWriter()
        ops = []
        for _ in range(rng.randrange(1, 60)):
            kind = rng.choice("uUes")
            if kind == "u":
                n = rng.randrange(0, 33)
                v = rng.getrandbits(n) if n else 0
                w.u(n, v)
            elif kind == "U":
                v = rng.getrandbits(1)
                w.u(1, v)
            elif kind == "e":
                # small values mostly, some needing > 16 leading zeros (slow path)
                v = rng.choice((0, 1, 2, 3, rng.randrange(1000), rng.randrange(1 << 20), (1 << 32) - 2))
                w.ue(v)
            else:
                v = rng.choice((0, 1, -1, rng.randrange(-5000, 5000), -(1 << 30), (1 << 30)))
                w.se(v)
            ops.append((kind, n if kind == "u" else 0, v))
        data = w.bytes()
        r = BitReader(data)
        for kind, n, v in ops:
            if kind == "u":
                assert r.u(n) == v
            elif kind == "U":
                assert r.u1() == v
            elif kind == "e":
                assert r.ue() == v
            else:
                assert r.se() == v
        assert r.pos == len(w.bits)


def test_exp_golomb_table_9_2_and_9_3() -> None:
    # Table 9-2 bit strings and Table 9-3 se(v) mapping
    codes = {"1": 0, "010": 1, "011": 2, "00100": 3, "00111": 6, "0001000": 7, "0001110": 13}
    for bits, value in codes.items():
        data = int(bits + "1" * (8 - len(bits) % 8), 2).to_bytes((len(bits) + 8 - len(bits) % 8) // 8, "big")
        r = BitReader(data)
        assert r.ue() == value and r.pos == len(bits)
    for k, v in enumerate([0, 1, -1, 2, -2, 3, -3]):
        code = k + 1
        n = code.bit_length()
        bits = "0" * (n - 1) + format(code, "b")
        r = BitReader(int(bits.ljust(32, "1"), 2).to_bytes(4, "big"))
        assert r.se() == v


def test_te_v() -> None:
    assert BitReader(b"\x80").te(1) == 0  # range 1: inverted bit
    assert BitReader(b"\x00").te(1) == 1
    assert BitReader(b"\x40").te(2) == 1  # range > 1: ue(v)


def test_more_rbsp_data_and_trailing_bits() -> None:
    r = BitReader(bytes([0b10110000]))
    assert r.more_rbsp_data()
    r.u(3)
    assert not r.more_rbsp_data()  # the next 1 is the rbsp_stop_one_bit
    r.rbsp_trailing_bits()
    r = BitReader(bytes([0b10100000, 0x00]))  # trailing zero byte (cabac_zero_word-like)
    r.u(1)
    assert r.more_rbsp_data()
    r.u(1)
    assert not r.more_rbsp_data()
    assert not BitReader(b"\x00\x00").more_rbsp_data()
    with pytest.raises(BitstreamError, match="rbsp_stop_one_bit"):
        BitReader(b"\x00").rbsp_trailing_bits()


def test_truncation_names_element_and_position() -> None:
    r = BitReader(b"\x00", what="SPS 0")
    with pytest.raises(BitstreamError, match=r"SPS 0: truncated .* while reading level_idc"):
        r.u(9, "level_idc")
    with pytest.raises(BitstreamError, match="pic_width_in_mbs_minus1"):
        BitReader(b"\x00\x00", what="SPS 0").ue("pic_width_in_mbs_minus1")
    with pytest.raises(BitstreamError, match="slice_type"):
        BitReader(b"\x00\x01", what="slice").ue("slice_type")  # code runs past the end
    # a partial prefix asks for more data instead
    with pytest.raises(NeedMoreData):
        BitReader(b"\x00", complete=False).u(9, "x")


def test_out_of_range_values() -> None:
    with pytest.raises(BitstreamError, match=r"chroma_format_idc = 4 out of range \(max 3\)"):
        BitReader(bytes([0b00101000])).ue("chroma_format_idc", 3)
    with pytest.raises(BitstreamError, match="slice_alpha_c0_offset_div2"):
        BitReader(bytes([0b00001000, 0])).se("slice_alpha_c0_offset_div2", -6, 6)  # k=15 -> +8
    with pytest.raises(BitstreamError, match="leading zero"):
        BitReader(b"\x00" * 5 + b"\x80").ue("x")  # 40 leading zeros: > 32-bit ue


def test_tracing_reader_records_positions() -> None:
    r = TracingBitReader(bytes([0b10100110, 0b01000000]))
    r.u1("a")
    r.ue("b")
    r.se("c")
    r.u(2, "d")
    assert r.trace == [(0, "a", 1), (1, "b", 1), (4, "c", -1), (7, "d", 0)]


def test_exp_golomb_tables_match_the_9_1_loop() -> None:
    """ue(v)/se(v) read through the 8-bit table fast path equal the 9.1 parsing process
    (leading zero bits counted one at a time) for every 8-bit window, at every end of data
    (where the table cannot be used) and after any bit offset."""
    def spec_ue(bits: str) -> tuple[int, int]:
        lz = 0
        while bits[lz] == "0":
            lz += 1
        info = bits[lz + 1:2 * lz + 1]
        return (1 << lz) - 1 + (int(info, 2) if info else 0), 2 * lz + 1

    for w in range(1, 256):
        for tail in ("1" * 24, "0" * 7 + "1" * 17):
            for offset in (0, 3):
                bits = "1" * offset + format(w, "08b") + tail
                data = int(bits.ljust(-(-len(bits) // 8) * 8, "0"), 2).to_bytes(-(-len(bits) // 8), "big")
                value, n = spec_ue(bits[offset:])
                r = BitReader(data, complete=False)
                r.pos = offset
                assert (r.ue(), r.pos) == (value, offset + n), bits
                r.pos = offset
                se = (value + 1) >> 1 if value & 1 else -(value >> 1)
                assert (r.se(), r.pos) == (se, offset + n), bits
                # the same code as the last bits of the data (no 8-bit window available)
                code_bits = bits[offset:offset + n]
                short = BitReader(int(code_bits, 2).to_bytes(1, "big") if n <= 8 else b"", complete=True)
                if n <= 8:
                    short.pos = 8 - n
                    assert short.ue() == value


def test_peek_reads_without_advancing() -> None:
    r = BitReader(bytes([0b10110011, 0b01010101]))
    r.u(3)
    assert r.peek(5) == 0b10011 and r.pos == 3
    assert r.peek(4, pos=0) == 0b1011 and r.pos == 3
    assert r.peek(13) == r.u(13) and r.pos == 16
    assert r.peek(1) == -1 and r.peek(0) == 0
