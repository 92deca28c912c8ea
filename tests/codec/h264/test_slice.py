"""Slice header parsing details (codec/h264/slice.py) beyond the FFmpeg trace comparison:
the short-prefix fast path gives the same result as parsing the whole RBSP (whatever the
prefix length, also when an emulation prevention byte straddles the cut), the lazy tail gives
the same header as the eager parse (every slice of every vector and fixture clip) and is not
parsed by prefix reads, the bit sizes counted with emulation prevention bytes, missing
parameter sets and malformed headers, the fast (local-variable) prefix parse against the
reader-based one. Also prints the parse cost per slice header (no timing
assertion)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyv4l2req.codec.h264 import slice as slice_mod
from pyv4l2req.codec.h264 import slice_syntax
from pyv4l2req.codec.h264.bitreader import BitReader, TracingBitReader
from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter
from pyv4l2req.codec.h264.nal import NalUnit, split_annexb
from pyv4l2req.codec.h264.paramsets import ParameterSets
from pyv4l2req.codec.h264.slice import (
    PREFIX_FIELDS, TAIL_FIELDS, MissingParameterSet, SliceHeader, TailMemo, parse_slice_header,
)
from pyv4l2req.emulated.nal_writer import escape_rbsp
from pyv4l2req.errors import BitstreamError


def _header_dict(sh) -> dict:
    """Every element of the header (the lazy tail parsed first), without the parameter sets."""
    sh.parse_all()
    return {k: v for k, v in vars(sh).items() if k not in ("sps", "pps") and not k.startswith("_")}


def _slices_and_sets(data: bytes):
    ps = ParameterSets()
    out = []
    for n in split_annexb(data):
        if n.nal_unit_type == 7:
            ps.add_sps(n)
        elif n.nal_unit_type == 8:
            ps.add_pps(n)
        elif n.nal_unit_type in (1, 5):
            out.append((n, dict(ps.pps), dict(ps.sps)))
    return out


def _full_parse(nal: NalUnit, pps, sps):
    fresh = NalUnit(nal.nal_unit_type, nal.nal_ref_idc, nal.data)
    fresh.rbsp  # unescape everything first: the parser then reads the complete RBSP
    return parse_slice_header(fresh, pps, sps)


@pytest.mark.parametrize("prefix", [1, 2, 3, 5, 8, 13, 21, 34])
def test_prefix_parse_equals_full_parse(prefix: int, monkeypatch, h264_oracle, tmp_path: Path) -> None:
    monkeypatch.setattr(slice_mod, "_PREFIX_BYTES", prefix)
    streams = [h264_oracle.make_x264_stream(n, tmp_path) for n in ("hrd_vui", "high10", "mbaff_cavlc_slices")]
    streams += [h264_oracle.vectors / "JVT-FR-EXT/FRExt_MMCO4_Sony_B.264", h264_oracle.vectors / "JVT-AVC_V1/MR2_TANDBERG_E.264"]
    n = 0
    for path in streams:
        if not path.exists():
            continue
        for nal, pps, sps in _slices_and_sets(path.read_bytes())[:80]:
            fresh = NalUnit(nal.nal_unit_type, nal.nal_ref_idc, nal.data)
            assert _header_dict(parse_slice_header(fresh, pps, sps)) == _header_dict(_full_parse(nal, pps, sps))
            n += 1
    assert n > 100


FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def _check_lazy_equals_eager(data: bytes) -> int:
    n = 0
    for nal, pps, sps in _slices_and_sets(data):
        lazy = parse_slice_header(NalUnit(nal.nal_unit_type, nal.nal_ref_idc, nal.data), pps, sps)
        eager = parse_slice_header(NalUnit(nal.nal_unit_type, nal.nal_ref_idc, nal.data), pps, sps, lazy=False)
        assert type(eager) is SliceHeader and eager.tail_parsed
        assert not lazy.tail_parsed
        # prefix reads (and repr) do not parse the tail and equal the eager ones
        assert [getattr(lazy, k) for k in PREFIX_FIELDS] == [getattr(eager, k) for k in PREFIX_FIELDS]
        assert repr(lazy) == repr(eager) and isinstance(lazy, SliceHeader)
        assert not lazy.tail_parsed and not set(TAIL_FIELDS) & set(vars(lazy))
        # the first tail read parses it all: afterwards a plain SliceHeader equal to the eager one
        assert lazy.header_bit_size == eager.header_bit_size
        assert type(lazy) is SliceHeader and lazy.tail_parsed
        assert _header_dict(lazy) == _header_dict(eager)
        assert [getattr(lazy, k) for k in TAIL_FIELDS] == [getattr(eager, k) for k in TAIL_FIELDS]
        # dec_ref_pic_marking() reads parse only the first part of the tail (none when the
        # prefix says it is absent); the rest follows with the first read of another element
        part = parse_slice_header(NalUnit(nal.nal_unit_type, nal.nal_ref_idc, nal.data), pps, sps)
        marking = [getattr(part, k) for k in slice_mod._MARKING_FIELDS]
        assert marking == [getattr(eager, k) for k in slice_mod._MARKING_FIELDS]
        assert part.slice_group_change_cycle == eager.slice_group_change_cycle
        assert not part.tail_parsed and not set(slice_mod.END_FIELDS) & set(vars(part))
        if not nal.nal_ref_idc and not eager.slice_group_change_cycle:
            assert not set(TAIL_FIELDS) & set(vars(part))
        else:  # the refs part is parsed: its elements are plain reads, the end still pending
            refs = [k for k in TAIL_FIELDS if k not in slice_mod.END_FIELDS]
            assert [getattr(part, k) for k in refs] == [getattr(eager, k) for k in refs]
            assert not part.tail_parsed and not set(slice_mod.END_FIELDS) & set(vars(part))
        assert part.slice_qp_delta == eager.slice_qp_delta and type(part) is SliceHeader
        assert _header_dict(part) == _header_dict(eager)
        n += 1
    return n


def test_lazy_tail_equals_eager_parse_on_vectors(h264_vector: Path, vector_data: bytes) -> None:
    assert _check_lazy_equals_eager(vector_data) > 0


def test_lazy_tail_equals_eager_parse_on_fixtures() -> None:
    clips = sorted(FIXTURES.glob("*.h264"))
    assert clips
    for clip in clips:
        assert _check_lazy_equals_eager(clip.read_bytes()) > 0, clip


def _check_weights_fast_path(data: bytes) -> int:
    """The pred_weight_table() fast path (all flags 0, BitReader only) gives the headers that
    reading every flag gives (TracingBitReader); returns the tables that took it."""
    n = 0
    for nal, pps, sps in _slices_and_sets(data):
        fast = parse_slice_header(nal, pps, sps, lazy=False)
        slow = parse_slice_header(nal, pps, sps, lazy=False, reader_cls=TracingBitReader)
        assert _header_dict(fast) == _header_dict(slow)
        if fast.has_pred_weight_table and not any(fast.luma_weight_l0_flag + fast.chroma_weight_l0_flag):
            n += 1
    return n


def test_weights_fast_path_equals_element_reads_on_vectors(h264_vector: Path, vector_data: bytes) -> None:
    _check_weights_fast_path(vector_data)


def test_weights_fast_path_equals_element_reads_on_fixtures() -> None:
    # the weighted fixture has tables with and without flags set
    assert _check_weights_fast_path((FIXTURES / "high_cqm_weighted_160x96.h264").read_bytes()) > 0


def _check_memo_equals_plain_parse(data: bytes) -> int:
    """Headers parsed with a TailMemo (eagerly in stream order, and lazily with the tails
    parsed in reverse order) equal the headers parsed without one; returns the memo hits."""
    items = _slices_and_sets(data)
    fresh = [NalUnit(n.nal_unit_type, n.nal_ref_idc, n.data) for n, _, _ in items]
    plain = [_header_dict(parse_slice_header(n, pps, sps, lazy=False)) for (_, pps, sps), n in zip(items, fresh)]
    memo = TailMemo()
    eager = [parse_slice_header(NalUnit(n.nal_unit_type, n.nal_ref_idc, n.data), pps, sps, lazy=False, memo=memo)
             for n, pps, sps in items]
    assert [_header_dict(h) for h in eager] == plain
    hits = memo.hits
    # each header owns its lists (the memo copies them)
    lists = [id(v) for h in eager for v in vars(h).values() if type(v) is list]
    assert len(lists) == len(set(lists))
    memo = TailMemo()
    lazy = [parse_slice_header(NalUnit(n.nal_unit_type, n.nal_ref_idc, n.data), pps, sps, memo=memo)
            for n, pps, sps in items]
    assert [_header_dict(h) for h in reversed(lazy)][::-1] == plain
    return hits


def test_tail_memo_equals_plain_parse_on_vectors(h264_vector: Path, vector_data: bytes) -> None:
    _check_memo_equals_plain_parse(vector_data)


def test_tail_memo_equals_plain_parse_on_fixtures_and_reuses(monkeypatch) -> None:
    hits = {clip.name: _check_memo_equals_plain_parse(clip.read_bytes()) for clip in sorted(FIXTURES.glob("*.h264"))}
    assert hits["multislice_176x144.h264"] > 10  # the slices of a picture repeat the part
    # prefixes too short for the tail: the retry on the whole RBSP must not reuse a dropped part
    # (cut inside the part or after it, before the end of the header)
    for prefix in range(5, 12):
        monkeypatch.setattr(slice_mod, "_PREFIX_BYTES", prefix)
        for clip in ("multislice_176x144.h264", "high_cqm_weighted_160x96.h264"):
            _check_memo_equals_plain_parse((FIXTURES / clip).read_bytes())


def test_splitter_reads_only_prefixes() -> None:
    """Access unit boundaries (7.4.1.2.4) need only the prefix: no tail parsed by splitting."""
    sp = AccessUnitSplitter()
    aus = sp.feed((FIXTURES / "multislice_176x144.h264").read_bytes()) + sp.flush()
    headers = [s.header for au in aus for s in au.slices]
    assert len(headers) > len(aus) > 1
    assert not any(h.tail_parsed for h in headers)
    assert all(h.header_bit_size > 8 for h in headers)
    assert all(h.tail_parsed for h in headers)


def test_pending_tail_behaves_like_attributes(h264_oracle) -> None:
    nals = split_annexb(_epb_stream(h264_oracle.BitWriter))
    ps = ParameterSets()
    ps.add_sps(nals[0])
    ps.add_pps(nals[1])
    sh = ps.parse_slice_header(nals[2])
    # unknown names: AttributeError without parsing (getattr(sh, name, default) stays cheap)
    assert getattr(sh, "pred_weight_table", None) is None and not sh.tail_parsed
    # writing a tail attribute parses the tail first, then sets it
    sh.slice_qp_delta = 7
    assert sh.tail_parsed and sh.slice_qp_delta == 7 and sh.header_bit_size == 8 + 43
    # a copy of a pending header parses on its own (the saved reader position is not shared)
    import copy

    a = ps.parse_slice_header(nals[2])
    b = copy.copy(a)
    assert a.header_bit_size == 8 + 43 and b.header_bit_size == 8 + 43 and a.parse_all() is a


def _epb_stream(W) -> bytes:
    """SPS with 16-bit frame_num and POC lsb: frame_num 0 + pic_order_cnt_lsb 0 make 32 zero
    bits in the slice header, so the header itself needs emulation prevention bytes."""
    def nal(hdr: int, rbsp: bytes) -> bytes:
        return b"\x00\x00\x00\x01" + bytes([hdr]) + escape_rbsp(rbsp)

    sps = W().u(8, 66).u(8, 0xC0).u(8, 30).ue(0).ue(12).ue(0).ue(12).ue(1).u(1, 0).ue(3).ue(2) \
        .u(1, 1).u(1, 1).u(1, 0).u(1, 0).trailing().bytes()
    pps = W().ue(0).ue(0).u(1, 0).u(1, 0).ue(0).ue(0).ue(0).u(1, 0).u(2, 0).se(0).se(0).se(0) \
        .u(1, 0).u(1, 0).u(1, 0).trailing().bytes()
    # P slice: first_mb 0, type 5, pps 0, frame_num 0 (16 bits), poc lsb 0 (16 bits), ...
    sl = W().ue(0).ue(5).ue(0).u(16, 0).u(16, 0).u(1, 0).u(1, 0).u(1, 0).se(0).u(16, 0x00A5).bytes()
    return nal(0x67, sps) + nal(0x68, pps) + nal(0x41, sl)


def test_header_bit_size_with_emulation_prevention(h264_oracle) -> None:
    stream = _epb_stream(h264_oracle.BitWriter)
    nals = split_annexb(stream)
    sl = nals[2]
    assert b"\x00\x00\x03" in sl.data
    ps = ParameterSets()
    ps.add_sps(nals[0])
    ps.add_pps(nals[1])
    sh = ps.parse_slice_header(sl)
    # header: ue 1 + ue(5) 5 + ue 1 + 16 + 16 + override 1 + rplm 1 + marking 1 + qp delta 1
    # = 43 bits, plus the 8 bits of the NAL unit header
    assert sh.header_bit_size == 8 + 43
    assert sh.pic_order_cnt_bit_size == 16 and sh.pic_order_cnt_bit_offset == 1 + 5 + 1 + 16
    assert sh.dec_ref_pic_marking_bit_size == 1
    # one 0x03 was inserted after the first two zero bytes of the header
    assert sh.header_emulation_prevention_bytes == 1
    assert sh.header_bit_size_ebsp == sh.header_bit_size + 8
    # the slice data as the hardware reads it (in the EBSP) starts with the bits after the header
    ebsp_bits = "".join(format(b, "08b") for b in sl.data)
    rbsp_bits = "".join(format(b, "08b") for b in bytes([sl.data[0]]) + sl.rbsp)
    assert ebsp_bits[sh.header_bit_size_ebsp:][:16] == rbsp_bits[sh.header_bit_size:][:16]


def test_missing_parameter_sets(h264_oracle) -> None:
    nals = split_annexb(_epb_stream(h264_oracle.BitWriter))
    with pytest.raises(MissingParameterSet, match="PPS 0 has not been received"):
        parse_slice_header(nals[2], {}, {})
    ps = ParameterSets()
    ps.add_sps(nals[0])
    assert ps.parse_slice_header(nals[2]) is None
    with pytest.raises(BitstreamError, match="not a coded slice"):
        parse_slice_header(nals[0], {}, {})


def test_truncated_and_out_of_range_slice_headers(h264_oracle) -> None:
    nals = split_annexb(_epb_stream(h264_oracle.BitWriter))
    ps = ParameterSets()
    ps.add_sps(nals[0])
    ps.add_pps(nals[1])
    cut = NalUnit.from_bytes(nals[2].data[:4])
    with pytest.raises(BitstreamError, match=r"slice header \(nal_unit_type 1, nal_ref_idc 2\): truncated"):
        ps.parse_slice_header(cut)
    W = h264_oracle.BitWriter
    bad_type = NalUnit.from_bytes(b"\x41" + W().ue(0).ue(10).ue(0).trailing().bytes())
    with pytest.raises(BitstreamError, match=r"slice_type = 10 out of range"):
        ps.parse_slice_header(bad_type)
    bad_ref = NalUnit.from_bytes(b"\x41" + W().ue(0).ue(0).ue(0).u(16, 1).u(16, 1).u(1, 1).ue(16).trailing().bytes())
    msg = r"slice header \(nal_unit_type 1, nal_ref_idc 2\): num_ref_idx_l0_active_minus1 = 16 out of range \(max 15\)"
    with pytest.raises(BitstreamError, match=msg):
        parse_slice_header(bad_ref, ps.pps, ps.sps, lazy=False)
    # lazily: the prefix is fine, the error comes with the first access to the tail, every time
    sh = ps.parse_slice_header(bad_ref)
    assert (sh.frame_num, sh.pic_order_cnt_lsb, sh.tail_parsed) == (1, 1, False)
    for _ in range(2):
        with pytest.raises(BitstreamError, match=msg):
            sh.slice_qp_delta
        with pytest.raises(BitstreamError, match=msg):
            sh.parse_all()
        assert not sh.tail_parsed and "num_ref_idx_active_override_flag" not in vars(sh)
    # an error after dec_ref_pic_marking(): the marking reads succeed, the others raise
    W = h264_oracle.BitWriter
    bad_end = NalUnit.from_bytes(b"\x41" + W().ue(0).ue(5).ue(0).u(16, 1).u(16, 1).u(1, 0).u(1, 0)
                                 .u(1, 0).se(78).trailing().bytes())
    msg = r"slice_qp_delta = 78 out of range"
    with pytest.raises(BitstreamError, match=msg):
        parse_slice_header(bad_end, ps.pps, ps.sps, lazy=False)
    sh = ps.parse_slice_header(bad_end)
    assert (sh.dec_ref_pic_marking_bit_size, sh.adaptive_ref_pic_marking_mode_flag, sh.mmco) == (1, 0, ())
    for _ in range(2):
        with pytest.raises(BitstreamError, match=msg):
            sh.header_bit_size
        assert not sh.tail_parsed and "slice_qp_delta" not in vars(sh) and sh.dec_ref_pic_marking_bit_size == 1


def test_parse_cost_report(h264_oracle, tmp_path: Path) -> None:
    """Prints µs per slice header and per access unit (splitter incl. parsing); no timing
    assertion (shared CI machines), only that the numbers exist."""
    path = h264_oracle.make_x264_stream("hrd_vui", tmp_path)
    data = path.read_bytes()
    items = _slices_and_sets(data)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for nal, pps, sps in items:
            parse_slice_header(NalUnit(nal.nal_unit_type, nal.nal_ref_idc, nal.data), pps, sps)
        best = min(best, (time.perf_counter() - t) / len(items))
    t = time.perf_counter()
    sp = AccessUnitSplitter()
    aus = sp.feed(data) + sp.flush()
    per_au = (time.perf_counter() - t) / len(aus)
    print(f"\nslice header parse: {best * 1e6:.1f} us/slice; splitter: {per_au * 1e6:.1f} us/AU")
    assert best > 0 and aus


def _check_fast_prefix_equals_reader(data: bytes) -> tuple[int, int]:
    """(slices, slices the fast prefix took): where it takes one, same elements and position as
    the reader-based prefix parse over the whole RBSP."""
    n = fast = 0
    for nal, pps, sps in _slices_and_sets(data):
        for prefix_bytes in (slice_syntax._WINDOW_BYTES, 3):  # the window, and a window cut short
            a, b = SliceHeader(), SliceHeader()
            pos = slice_syntax._fast_prefix(a, nal.rbsp[:prefix_bytes], nal.nal_unit_type, nal.nal_ref_idc, pps, sps)
            if pos < 0:
                continue
            r = BitReader(nal.rbsp, True, "test")
            slice_syntax._parse_prefix(r, b, nal.nal_unit_type, nal.nal_ref_idc, pps, sps)
            assert (vars(a), pos) == (vars(b), r.pos)
            fast += 1
        n += 1
    return n, fast


def test_fast_prefix_equals_reader_prefix_on_vectors(h264_vector: Path, vector_data: bytes) -> None:
    assert _check_fast_prefix_equals_reader(vector_data)[0] > 0


def test_fast_prefix_equals_reader_prefix_on_fixtures() -> None:
    fast = 0
    for clip in sorted(FIXTURES.glob("*.h264")):
        fast += _check_fast_prefix_equals_reader(clip.read_bytes())[1]
    assert fast > 100  # the fast path is the one taken on common streams


def test_fast_prefix_declines_unusual_prefixes(h264_oracle) -> None:
    # unknown PPS, truncated data: -1 (the reader path raises the errors), header untouched
    data = (FIXTURES / sorted(p.name for p in FIXTURES.glob("*.h264"))[0]).read_bytes()
    nal, pps, sps = _slices_and_sets(data)[0]
    sh = SliceHeader()
    assert slice_syntax._fast_prefix(sh, nal.rbsp, nal.nal_unit_type, nal.nal_ref_idc, {}, sps) == -1
    assert slice_syntax._fast_prefix(sh, nal.rbsp[:1], nal.nal_unit_type, nal.nal_ref_idc, pps, sps) == -1
    assert slice_syntax._fast_prefix(sh, b"", nal.nal_unit_type, nal.nal_ref_idc, pps, sps) == -1
    assert not vars(sh)


def test_mmco_loop_builds_the_named_tuples(h264_oracle) -> None:
    """_read_mmcos makes its MMCOs with tuple.__new__: the same values as MMCO(...)."""
    W = h264_oracle.BitWriter
    bits = W().ue(1).ue(4).ue(2).ue(9).ue(3).ue(5).ue(7).ue(4).ue(3).ue(5).ue(6).ue(2).ue(0).trailing().bytes()
    r = BitReader(bits)
    ops = slice_syntax._read_mmcos(r)
    expected = [slice_syntax.MMCO(1, 4), slice_syntax.MMCO(2, 0, 9), slice_syntax.MMCO(3, 5, 0, 7),
                slice_syntax.MMCO(4, 0, 0, 0, 3), slice_syntax.MMCO(5), slice_syntax.MMCO(6, 0, 0, 2)]
    assert ops == expected and all(type(op) is slice_syntax.MMCO for op in ops)
    assert [op._asdict() for op in ops] == [op._asdict() for op in expected]


def test_slice_group_change_cycle_of_a_pending_header(h264_oracle) -> None:
    """slice_group_change_cycle is read from the tail with slice group map type 3..5 (and
    implied 0 without parsing otherwise, see _check_lazy_equals_eager); no vector has it."""
    W = h264_oracle.BitWriter
    nals = split_annexb(_epb_stream(W))
    ps = ParameterSets()
    ps.add_sps(nals[0])
    # PPS 0 with 2 slice groups, slice_group_map_type 3 (box-out), change rate 1
    pps = W().ue(0).ue(0).u(1, 0).u(1, 0).ue(1).ue(3).u(1, 0).ue(0).ue(0).ue(0).u(1, 0).u(2, 0) \
        .se(0).se(0).se(0).u(1, 0).u(1, 0).u(1, 0).trailing().bytes()
    ps.add_pps(NalUnit.from_bytes(b"\x68" + pps))
    # P slice (nal_ref_idc 2): ..., slice_qp_delta 0, slice_group_change_cycle u(4) (12 map units) = 5
    sl = W().ue(0).ue(5).ue(0).u(16, 1).u(16, 1).u(1, 0).u(1, 0).u(1, 0).se(0).u(4, 5).u(16, 0x00A5).bytes()
    nal = NalUnit.from_bytes(b"\x41" + sl)
    eager = parse_slice_header(nal, ps.pps, ps.sps, lazy=False)
    assert eager.slice_group_change_cycle == 5
    lazy = ps.parse_slice_header(NalUnit.from_bytes(b"\x41" + sl))
    assert not lazy.tail_parsed and lazy.slice_group_change_cycle == 5 and lazy.tail_parsed
    assert _header_dict(lazy) == _header_dict(eager)
