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
