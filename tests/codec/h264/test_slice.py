"""Slice header parsing details (codec/h264/slice.py) beyond the FFmpeg trace comparison:
every header of every fixture clip and shared vector parses to the values of a parse with the
tracing reader (which reads every element one by one over the whole RBSP, and whose trace
places each element inside the bit sizes reported); the prefix alone is parsed first, the rest
once, on first access, with the values of an eager parse; parsing from a head of the NAL unit
too short gives the same header as parsing the whole RBSP; the bit sizes counted with
emulation prevention bytes; missing parameter sets and malformed headers (the error names the
NAL unit and the syntax element). Also prints the parse cost per slice header (no timing
assertion)."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest

from pyv4l2req.codec.h264 import slice as slice_mod
from pyv4l2req.codec.h264.bitreader import BitReader, TracingBitReader
from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter
from pyv4l2req.codec.h264.nal import NalUnit, split_annexb
from pyv4l2req.codec.h264.paramsets import ParameterSets
from pyv4l2req.codec.h264.slice import MMCO, MissingParameterSet, SliceHeader, parse_slice_header
from pyv4l2req.emulated.nal_writer import escape_rbsp
from pyv4l2req.errors import BitstreamError

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures"
VECTORS = REPO.parent / "shared" / "vectors"


def _manifest_vectors() -> list[str]:
    """The shared vectors listed in their MANIFEST.tsv (read in place, never copied)."""
    man = VECTORS / "MANIFEST.tsv"
    if not man.exists():
        return []
    return [line.split("\t")[0] for line in man.read_text().splitlines()[1:] if line.strip()]


#: the elements of the prefix (without the parameter sets) and of the rest
PREFIX = list(slice_mod.PREFIX_FIELDS)
REST = set(slice_mod._REST_NAMES)


def _header_dict(sh) -> dict:
    """Every element of the header, present or inferred, and header_bit_size_ebsp."""
    return {k: getattr(sh, k) for k in [*PREFIX, *slice_mod._REST_NAMES, "header_bit_size_ebsp"]}


def _fresh(nal: NalUnit) -> NalUnit:
    """The same NAL unit, nothing of it unescaped yet."""
    return NalUnit(nal.nal_unit_type, nal.nal_ref_idc, nal.data)


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


#: elements only dec_ref_pic_marking() has (long_term_pic_num is in ref_pic_list_modification() too)
_MARKING = {"no_output_of_prior_pics_flag", "long_term_reference_flag", "adaptive_ref_pic_marking_mode_flag",
            "memory_management_control_operation", "difference_of_pic_nums_minus1",
            "long_term_frame_idx", "max_long_term_frame_idx_plus1"}
_POC = {"pic_order_cnt_lsb", "delta_pic_order_cnt_bottom", "delta_pic_order_cnt"}


def _check_against_tracing(data: bytes) -> int:
    """Every slice header of ``data``: lazily parsed (prefix, then the rest on first access) and
    eagerly parsed, equal to the TracingBitReader parse; the trace's elements lie inside the
    reported bit ranges. Returns the headers checked."""
    n = 0
    for nal, pps, sps in _slices_and_sets(data):
        tracer: list = []
        traced = parse_slice_header(_fresh(nal), pps, sps, reader_cls=TracingBitReader, tracer=tracer)
        expected = _header_dict(traced)
        lazy = parse_slice_header(_fresh(nal), pps, sps)
        assert not lazy.tail_parsed and not REST & set(vars(lazy))
        assert {k: getattr(lazy, k) for k in PREFIX} == {k: expected[k] for k in PREFIX}
        assert repr(lazy) == repr(traced)
        assert not lazy.tail_parsed
        assert lazy.header_bit_size == traced.header_bit_size and lazy.tail_parsed
        assert _header_dict(lazy) == expected
        assert _header_dict(parse_slice_header(_fresh(nal), pps, sps, lazy=False)) == expected
        # where the traced elements are: inside slice_header(), the POC and marking ranges
        (r,) = tracer
        end = traced.header_bit_size - 8
        for pos, name, _value in r.trace:
            assert pos < end or name == "slice_id", name
            if name in _POC:
                start = traced.pic_order_cnt_bit_offset
                assert start <= pos < start + traced.pic_order_cnt_bit_size, name
            if name in _MARKING:
                start = traced.dec_ref_pic_marking_bit_offset
                assert start <= pos < start + traced.dec_ref_pic_marking_bit_size, name
        n += 1
    return n


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.h264")))
def test_headers_equal_tracing_parse_on_fixtures(name: str) -> None:
    assert _check_against_tracing((FIXTURES / name).read_bytes()) > 0


@pytest.mark.parametrize("vector", _manifest_vectors() or [None])
def test_headers_equal_tracing_parse_on_vectors(vector: str | None) -> None:
    if vector is None:
        pytest.skip(f"no {VECTORS / 'MANIFEST.tsv'}")
    assert _check_against_tracing((VECTORS / vector).read_bytes()) > 0


def test_weighted_fixture_has_zero_and_nonzero_tables() -> None:
    """The tracing comparison above covers both ways of reading pred_weight_table() entries
    (all flags 0: one peek with the BitReader; flags set: element by element)."""
    zero = nonzero = 0
    for nal, pps, sps in _slices_and_sets((FIXTURES / "high_cqm_weighted_160x96.h264").read_bytes()):
        sh = parse_slice_header(nal, pps, sps, lazy=False)
        if sh.has_pred_weight_table:
            if any(sh.luma_weight_l0_flag + sh.chroma_weight_l0_flag):
                nonzero += 1
            else:
                zero += 1
    assert zero > 0 and nonzero > 0


@pytest.mark.parametrize("prefix", [1, 2, 3, 5, 8, 13, 21, 34])
def test_short_head_parse_equals_full_parse(prefix: int, monkeypatch, h264_oracle, tmp_path: Path) -> None:
    """A head of the NAL unit too short for the prefix or the rest (also with an emulation
    prevention byte at the cut): the same header as parsing the whole RBSP."""
    monkeypatch.setattr(slice_mod, "_PREFIX_BYTES", prefix)
    streams = [h264_oracle.make_x264_stream(n, tmp_path) for n in ("hrd_vui", "high10", "mbaff_cavlc_slices")]
    streams += [h264_oracle.vectors / "JVT-FR-EXT/FRExt_MMCO4_Sony_B.264",
                h264_oracle.vectors / "JVT-AVC_V1/MR2_TANDBERG_E.264"]
    n = 0
    for path in streams:
        if not path.exists():
            continue
        for nal, pps, sps in _slices_and_sets(path.read_bytes())[:80]:
            whole = _fresh(nal)
            whole.rbsp  # unescape everything first: the parser then reads the complete RBSP
            head = parse_slice_header(_fresh(nal), pps, sps)
            assert _header_dict(head) == _header_dict(parse_slice_header(whole, pps, sps))
            n += 1
    assert n > 100


def test_rest_is_parsed_once(monkeypatch) -> None:
    calls = []
    rest = slice_mod._rest
    monkeypatch.setattr(slice_mod, "_rest", lambda r, sh: (calls.append(sh), rest(r, sh)))
    nal, pps, sps = _slices_and_sets((FIXTURES / "main_bframes_176x144.h264").read_bytes())[1]
    sh = parse_slice_header(nal, pps, sps)
    # unknown names: AttributeError without parsing (getattr(sh, name, default) stays cheap)
    assert getattr(sh, "pred_weight_table", None) is None and not calls
    values = _header_dict(sh)
    assert sh.parse_all() is sh and calls == [sh] and sh.tail_parsed
    assert _header_dict(sh) == values
    # a copy of a pending header parses on its own, from the same position
    a = parse_slice_header(nal, pps, sps)
    b = copy.copy(a)
    assert _header_dict(a) == _header_dict(b) == _header_dict(sh) and len(calls) == 3


def test_splitter_reads_only_prefixes() -> None:
    """Access unit boundaries (7.4.1.2.4) need only the prefix: no rest parsed by splitting."""
    sp = AccessUnitSplitter()
    aus = sp.feed((FIXTURES / "multislice_176x144.h264").read_bytes()) + sp.flush()
    headers = [s.header for au in aus for s in au.slices]
    assert len(headers) > len(aus) > 1
    assert not any(h.tail_parsed for h in headers)
    assert all(h.header_bit_size > 8 for h in headers)
    assert all(h.tail_parsed for h in headers)


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
    assert sh.dec_ref_pic_marking_bit_size == 1 and sh.dec_ref_pic_marking_bit_offset == 1 + 5 + 1 + 16 + 16 + 2
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
    # lazily: the prefix is fine, the error comes with the first access to the rest, every time
    bad_end = NalUnit.from_bytes(b"\x41" + W().ue(0).ue(5).ue(0).u(16, 1).u(16, 1).u(1, 0).u(1, 0)
                                 .u(1, 0).se(78).trailing().bytes())
    for nal, msg in ((bad_ref, msg), (bad_end, r"slice_qp_delta = 78 out of range")):
        sh = ps.parse_slice_header(nal)
        assert (sh.frame_num, sh.pic_order_cnt_lsb, sh.tail_parsed) == (1, 1, False)
        for _ in range(2):
            for read in (lambda: sh.dec_ref_pic_marking_bit_size, lambda: sh.slice_qp_delta, sh.parse_all):
                with pytest.raises(BitstreamError, match=msg):
                    read()
            assert not sh.tail_parsed and not REST & set(vars(sh))


def test_parse_cost_report(h264_oracle, tmp_path: Path) -> None:
    """Prints µs per slice header (prefix; whole) and per access unit (splitter incl.
    prefixes); no timing assertion (shared CI machines), only that the numbers exist."""
    path = h264_oracle.make_x264_stream("hrd_vui", tmp_path)
    data = path.read_bytes()
    items = _slices_and_sets(data)
    cost = {}
    for lazy in (True, False):
        best = float("inf")
        for _ in range(5):
            nals = [_fresh(nal) for nal, _, _ in items]
            t = time.perf_counter()
            for nal, (_, pps, sps) in zip(nals, items):
                parse_slice_header(nal, pps, sps, lazy=lazy)
            best = min(best, (time.perf_counter() - t) / len(items))
        cost[lazy] = best
    t = time.perf_counter()
    sp = AccessUnitSplitter()
    aus = sp.feed(data) + sp.flush()
    per_au = (time.perf_counter() - t) / len(aus)
    print(f"\nslice header parse: prefix {cost[True] * 1e6:.1f} us, whole {cost[False] * 1e6:.1f} us; "
          f"splitter: {per_au * 1e6:.1f} us/AU")
    assert cost[True] > 0 and aus


def test_mmco_loop(h264_oracle) -> None:
    """dec_ref_pic_marking()'s operation loop: one MMCO per operation (the final 0 not stored),
    operands under the names Dpb.adaptive_marking reads."""
    W = h264_oracle.BitWriter
    bits = W().ue(1).ue(4).ue(2).ue(9).ue(3).ue(5).ue(7).ue(4).ue(3).ue(5).ue(6).ue(2).ue(0).trailing().bytes()
    ops = slice_mod._memory_management_control_operations(BitReader(bits))
    assert ops == [MMCO(1, 4), MMCO(2, 0, 9), MMCO(3, 5, 0, 7), MMCO(4, 0, 0, 0, 3), MMCO(5), MMCO(6, 0, 0, 2)]
    assert all(type(op) is MMCO for op in ops)
    assert ops[2].difference_of_pic_nums_minus1 == 5 and ops[2].long_term_frame_idx == 7
    assert ops[1].long_term_pic_num == 9 and ops[3].max_long_term_frame_idx_plus1 == 3
    too_many = W()
    for _ in range(67):
        too_many.ue(5)
    with pytest.raises(BitstreamError, match="memory_management_control_operation list longer than 66"):
        slice_mod._memory_management_control_operations(BitReader(too_many.ue(0).trailing().bytes(), what="x"))


def test_slice_group_change_cycle(h264_oracle) -> None:
    """slice_group_change_cycle is read with slice group map type 3..5 (no vector has it)."""
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
    eager = parse_slice_header(NalUnit.from_bytes(b"\x41" + sl), ps.pps, ps.sps, lazy=False)
    assert eager.slice_group_change_cycle == 5 and eager.header_bit_size == 8 + 43 + 4
    lazy = ps.parse_slice_header(NalUnit.from_bytes(b"\x41" + sl))
    assert not lazy.tail_parsed and lazy.slice_group_change_cycle == 5 and lazy.tail_parsed
    assert _header_dict(lazy) == _header_dict(eager)
