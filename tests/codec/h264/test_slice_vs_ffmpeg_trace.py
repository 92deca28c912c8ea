"""Every SPS, PPS and slice header element of the conformance vectors against FFmpeg's
``trace_headers`` (value AND bit position), plus the bit sizes V4L2 needs derived from the
trace positions: header_bit_size, dec_ref_pic_marking_bit_size, pic_order_cnt_bit_size.

Long vectors: all SPS/PPS, the slices of the first MAX_SLICES slice NAL units.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyv4l2req.codec.h264.bitreader import TracingBitReader
from pyv4l2req.codec.h264.nal import split_annexb
from pyv4l2req.codec.h264.pps import parse_pps
from pyv4l2req.codec.h264.slice import parse_slice_header
from pyv4l2req.codec.h264.sps import parse_sps
from pyv4l2req.emulated.nal_writer import escape_rbsp

MAX_SLICES = 400

#: FFmpeg's trace names that differ from the spec names we use
ALIASES = {"gaps_in_frame_num_allowed_flag": "gaps_in_frame_num_value_allowed_flag"}
#: elements FFmpeg traces that are not part of the structures we parse
IGNORED = {"rbsp_stop_one_bit", "rbsp_alignment_zero_bit", "cabac_alignment_one_bit"}
PARSED_TYPES = (1, 5, 7, 8)
_INDEX = re.compile(r"\[.*$")


def _norm(unit):
    out = []
    for pos, name, value, nbits in unit[3:]:
        name = _INDEX.sub("", name)
        name = ALIASES.get(name, name)
        if name not in IGNORED:
            out.append((pos, name, value, nbits))
    return out


def _our_units(data: bytes):
    """Our traces per NAL unit of PARSED_TYPES, with the parsed objects."""
    sps_by_id, pps_by_id = {}, {}
    n_slices = 0
    for nal in split_annexb(data):
        t = nal.nal_unit_type
        if t not in PARSED_TYPES:
            continue
        if t in (1, 5):
            n_slices += 1
            if n_slices > MAX_SLICES:
                continue
        tr: list = []
        if t == 7:
            obj = parse_sps(nal.rbsp, reader_cls=TracingBitReader, tracer=tr)
            sps_by_id[obj.seq_parameter_set_id] = obj
        elif t == 8:
            obj = parse_pps(nal.rbsp, sps_by_id, reader_cls=TracingBitReader, tracer=tr)
            pps_by_id[obj.pic_parameter_set_id] = obj
        else:
            obj = parse_slice_header(nal, pps_by_id, sps_by_id, reader_cls=TracingBitReader, tracer=tr)
        trace = [(pos + 8 * nal.header_bytes, name, value) for pos, name, value in tr[0].trace]
        yield nal, obj, trace


def test_every_element_matches_ffmpeg_trace(h264_vector: Path, vector_data: bytes, h264_oracle) -> None:
    _compare_with_trace(h264_vector, vector_data, h264_oracle)


def test_x264_streams_match_ffmpeg_trace(x264_stream: Path, h264_oracle) -> None:
    """The x264 streams of conftest.X264_CONFIGS (profiles/features the vectors lack)."""
    _compare_with_trace(x264_stream, x264_stream.read_bytes(), h264_oracle)


def _compare_with_trace(h264_vector: Path, vector_data: bytes, h264_oracle) -> None:
    theirs = [u for u in h264_oracle.ffmpeg_trace(h264_vector) if u[2][2] in PARSED_TYPES]
    n_slices = 0
    kept = []
    for u in theirs:
        if u[2][2] in (1, 5):
            n_slices += 1
            if n_slices > MAX_SLICES:
                continue
        kept.append(u)
    ours = list(_our_units(vector_data))
    assert len(ours) == len(kept), f"{len(ours)} SPS/PPS/slice NAL units parsed, FFmpeg traced {len(kept)}"
    checked = 0
    for i, ((nal, obj, mine), unit) in enumerate(zip(ours, kept)):
        assert (nal.nal_ref_idc, nal.nal_unit_type) == (unit[1][2], unit[2][2])
        expected_full = _norm(unit)
        expected = [e[:3] for e in expected_full]
        where = f"NAL #{i} (type {nal.nal_unit_type}) of {h264_vector.name}"
        for k, (a, b) in enumerate(zip(mine, expected)):
            assert a == b, f"{where}: element {k}: ours {a}, FFmpeg {b}"
        assert len(mine) == len(expected), f"{where}: {len(mine)} elements, FFmpeg {len(expected)}: " \
            f"extra ours {mine[len(expected):][:5]}, extra FFmpeg {expected[len(mine):][:5]}"
        checked += len(expected)
        if nal.nal_unit_type in (1, 5):
            _check_sizes(obj, expected_full, where)
    assert checked > 0


def _check_sizes(sh, expected, where) -> None:
    """header_bit_size = end of the last slice header element; POC and dec_ref_pic_marking
    sizes = end of their last element - start of their first (FFmpeg positions are on the
    unescaped NAL unit incl. its header byte, and FFmpeg prints each element's bits)."""
    names = [e[1] for e in expected]
    ends = [e[0] + e[3] for e in expected]
    starts = [e[0] for e in expected]
    assert sh.header_bit_size == ends[-1], f"{where}: header_bit_size {sh.header_bit_size}, FFmpeg {ends[-1]}"
    poc_names = {"pic_order_cnt_lsb", "delta_pic_order_cnt_bottom", "delta_pic_order_cnt"}
    idx = [i for i, n in enumerate(names) if n in poc_names]
    if idx:
        assert sh.pic_order_cnt_bit_offset + 8 == starts[idx[0]], where
        assert sh.pic_order_cnt_bit_size == ends[idx[-1]] - starts[idx[0]], where
    else:
        assert sh.pic_order_cnt_bit_size == 0, where
    mm_names = {"no_output_of_prior_pics_flag", "long_term_reference_flag", "adaptive_ref_pic_marking_mode_flag",
                "memory_management_control_operation", "difference_of_pic_nums_minus1", "long_term_pic_num",
                "long_term_frame_idx", "max_long_term_frame_idx_plus1"}
    first = next((i for i, n in enumerate(names)
                  if n in ("no_output_of_prior_pics_flag", "adaptive_ref_pic_marking_mode_flag")), None)
    if first is None:
        assert sh.dec_ref_pic_marking_bit_size == 0, where
    else:
        last = first
        while last + 1 < len(names) and names[last + 1] in mm_names:
            last += 1
        assert sh.dec_ref_pic_marking_bit_offset + 8 == starts[first], where
        assert sh.dec_ref_pic_marking_bit_size == ends[last] - starts[first], where


# -- synthetic stream: syntax no vector or x264 stream has --------------------------------
# Extended profile, POC type 1 with field pictures, slice groups of every map type (FMO),
# redundant_pic_cnt, SP/SI slices, every MMCO, long-term references in the modification
# lists, explicit weights in both lists. Written bit by bit, then parsed by FFmpeg and by us.

def _nal(W, ref_idc: int, t: int, body) -> bytes:
    w = W()
    body(w)
    return b"\x00\x00\x00\x01" + bytes([(ref_idc << 5) | t]) + escape_rbsp(w.trailing().bytes())


def _sps(w) -> None:
    w.u(8, 88).u(1, 1).u(1, 1).u(1, 0).u(1, 0).u(1, 0).u(1, 0).u(2, 0).u(8, 30).ue(1)  # Extended, SPS 1
    w.ue(2)  # log2_max_frame_num_minus4 -> 6 bits
    w.ue(1).u(1, 0).se(-3).se(5).ue(3).se(2).se(-1).se(7)  # POC type 1, 3 offsets
    w.ue(4).u(1, 1)  # max_num_ref_frames, gaps allowed
    w.ue(10).ue(8)  # 11 x 9 map units
    w.u(1, 0).u(1, 0).u(1, 1)  # frame_mbs_only 0, mbaff 0, direct_8x8_inference
    w.u(1, 1).ue(1).ue(2).ue(0).ue(1)  # cropping
    w.u(1, 0)  # no VUI


def _pps(pps_id: int, map_type: int):
    def body(w) -> None:
        w.ue(pps_id).ue(1).u(1, 0).u(1, 1)  # SPS 1, CAVLC, bottom_field_pic_order_in_frame_present
        w.ue(2).ue(map_type)  # 3 slice groups
        if map_type == 0:
            for r in (4, 9, 30):
                w.ue(r)
        elif map_type == 2:
            for tl, br in ((0, 12), (13, 40)):
                w.ue(tl).ue(br)
        elif map_type in (3, 4, 5):
            w.u(1, 1).ue(4)  # change direction, rate 5
        elif map_type == 6:
            w.ue(98)
            for i in range(99):
                w.u(2, i % 3)  # Ceil(Log2(3)) = 2 bits
        w.ue(1).ue(0).u(1, 1).u(2, 1)  # num_ref_idx defaults, weighted_pred, weighted_bipred 1
        w.se(-2).se(3).se(-4)  # pic_init_qp/qs, chroma_qp_index_offset
        w.u(1, 1).u(1, 1).u(1, 1)  # deblocking control, constrained intra, redundant_pic_cnt_present
    return body


def _weights(w, n: int) -> None:
    for i in range(n):
        w.u(1, i % 2)
        if i % 2:
            w.se(-7 + i).se(3 * i)
        w.u(1, (i + 1) % 2)
        if (i + 1) % 2:
            w.se(5).se(-2).se(-6).se(i)


def _slice(kind: str, pps_id: int, map_type: int):
    """Slice headers of several kinds (CAVLC, so slice_data() follows directly)."""
    def body(w) -> None:
        st = {"I": 7, "P": 0, "B": 1, "SP": 3, "SI": 9, "Pfield": 5}[kind]
        w.ue(0).ue(st).ue(pps_id)
        w.u(6, {"I": 0, "SI": 0}.get(kind, 1 + pps_id))  # frame_num
        field = kind in ("Pfield", "SP")
        w.u(1, int(field))
        if field:
            w.u(1, 1)  # bottom field
        if kind in ("I", "SI"):
            w.ue(3)  # idr_pic_id (these are IDR NAL units)
        w.se(-5)  # delta_pic_order_cnt[0]
        if not field:
            w.se(2)  # delta_pic_order_cnt[1]
        w.ue(1 if kind == "Pfield" else 0)  # redundant_pic_cnt
        if kind == "B":
            w.u(1, 1)  # direct_spatial_mv_pred_flag
        n0, n1 = 3, 2
        if kind in ("P", "B", "SP", "Pfield"):
            w.u(1, 1).ue(n0 - 1)
            if kind == "B":
                w.ue(n1 - 1)
            w.u(1, 1).ue(0).ue(4).ue(1).ue(0).ue(2).ue(1).ue(3)  # modifications l0
            if kind == "B":
                w.u(1, 1).ue(2).ue(0).ue(3)
            if kind in ("P", "SP", "Pfield") or kind == "B":  # weighted_pred / bipred_idc 1
                w.ue(5).ue(3)
                _weights(w, n0)
                if kind == "B":
                    _weights(w, n1)
        if kind != "B":  # nal_ref_idc != 0
            if kind in ("I", "SI"):
                w.u(1, 1).u(1, 1)
            else:
                w.u(1, 1)  # adaptive_ref_pic_marking_mode_flag
                w.ue(1).ue(2).ue(2).ue(1).ue(3).ue(0).ue(1).ue(6).ue(2).ue(4).ue(3).ue(5)
                w.ue(0)
        w.se(-4)  # slice_qp_delta
        if kind in ("SP", "SI"):
            if kind == "SP":
                w.u(1, 1)
            w.se(2)
        w.ue(0).se(-3).se(4)  # deblocking
        if map_type in (3, 4, 5):
            w.u(5, 17)  # slice_group_change_cycle: Ceil(Log2(99 / 5 + 1)) = 5 bits
        w.u(8, 0xA5)  # some slice_data bits
    return body


def test_synthetic_syntax_matches_ffmpeg_trace(tmp_path: Path, h264_oracle) -> None:
    import subprocess

    # FFmpeg needs one picture it can decode to learn the dimensions before it copies the
    # rest (it does not decode FMO): a one-frame x264 stream (SPS 0 / PPS 0) goes first.
    head = tmp_path / "head.h264"
    res = subprocess.run(
        [h264_oracle.require_ffmpeg(), "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=64x64:rate=25", "-frames:v", "1", "-c:v", "libx264", "-profile:v", "baseline", str(head)],
        capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    W = h264_oracle.BitWriter
    stream = _nal(W, 3, 7, _sps)
    pids = range(1, 8)
    for pid in pids:
        stream += _nal(W, 3, 8, _pps(pid, pid - 1))
    kinds = [("I", 5), ("P", 1), ("B", 1), ("SP", 1), ("SI", 5), ("Pfield", 1)]
    for pid in pids:
        for kind, t in kinds:
            ref = 0 if kind == "B" else 2
            stream += _nal(W, ref, t, _slice(kind, pid, pid - 1))
    stream = head.read_bytes() + stream
    path = tmp_path / "synthetic.h264"
    path.write_bytes(stream)
    _compare_with_trace(path, stream, h264_oracle)
    # spot checks of the parsed objects themselves (values as written above)
    units = [u for u in _our_units(stream) if getattr(u[1], "seq_parameter_set_id", 1) == 1
             and getattr(u[1], "pic_parameter_set_id", 1) != 0]
    sps = units[0][1]
    assert (sps.profile_idc, sps.pic_order_cnt_type, sps.offset_for_ref_frame) == (88, 1, [2, -1, 7])
    assert (sps.crop_left, sps.crop_right, sps.crop_top, sps.crop_bottom) == (2, 4, 0, 4)  # CropUnitY = 4
    pps = {u[1].pic_parameter_set_id - 1: u[1] for u in units if u[0].nal_unit_type == 8}
    assert pps[0].run_length_minus1 == [4, 9, 30]
    assert (pps[2].top_left, pps[2].bottom_right) == ([0, 13], [12, 40])
    assert pps[6].slice_group_id == [i % 3 for i in range(99)]
    assert pps[4].SliceGroupChangeRate == 5 and pps[4].second_chroma_qp_index_offset == -4
    slices = [u[1] for u in units if u[0].nal_unit_type in (1, 5)]
    p = slices[1]
    assert p.ref_pic_list_modification_l0 == [(0, 4), (1, 0), (2, 1)]
    assert p.luma_weight_l0 == [32, -6, 32] and p.luma_offset_l0 == [0, 3, 0]  # 2**5 implied
    assert p.chroma_weight_l0 == [(5, -6), (8, 8), (5, -6)] and p.chroma_offset_l0 == [(-2, 0), (0, 0), (-2, 2)]
    assert [m.memory_management_control_operation for m in p.mmco] == [1, 2, 3, 6, 4, 5]
    assert p.mmco[2].difference_of_pic_nums_minus1 == 0 and p.mmco[2].long_term_frame_idx == 1
    assert p.mmco[4].max_long_term_frame_idx_plus1 == 3
    assert p.delta_pic_order_cnt == (-5, 2) and p.pic_order_cnt_bit_size > 0
    b = slices[2]
    assert b.nal_ref_idc == 0 and b.dec_ref_pic_marking_bit_size == 0 and b.luma_weight_l1_flag == [0, 1]
    assert slices[5].redundant_pic_cnt == 1 and slices[5].bottom_field_flag == 1
    assert slices[3].sp_for_switch_flag == 1 and slices[3].slice_qs_delta == 2
    assert [s.slice_group_change_cycle for s in slices if s.pps.slice_group_map_type in (3, 4, 5)] == [17] * 18
