"""NAL writer of the emulated device: bit writer, emulation prevention, SPS/PPS from controls.

Oracles: the Exp-Golomb tables of H.264 9.1 (Table 9-2/9-3), the 8x8 zig-zag scan of Table 8-13
(the JPEG order), and FFmpeg's CBS parser (``trace_headers``): for every SPS/PPS of the
conformance vectors, the control values derived from the original are written back with
``sps_nal``/``pps_nal``, spliced into the original stream in place of the original parameter
sets, and traced again; every decode-relevant SPS/PPS element, the effective scaling matrices
and every element of every slice header must come out unchanged.
"""

from __future__ import annotations

import os

import pytest

from h264_trace import FFMPEG, pps_controls, public, sps_control, trace_units
from h264_vector_helpers import VECTORS, conformance_vectors
from pyv4l2req.emulated.nal_writer import (ZIGZAG_4x4, ZIGZAG_8x8, BitReader, BitWriter,
                                           escape_rbsp, nal_unit_type, pps_nal, split_annexb,
                                           sps_nal, unescape_ebsp)

needs_vectors = pytest.mark.skipif(
    not VECTORS.exists() and not os.environ.get("CI"), reason=f"no test vectors at {VECTORS}")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None and not os.environ.get("CI"),
                                  reason="ffmpeg CLI (trace_headers) not installed")


def _bits(w: BitWriter) -> str:
    n = w.bit_length
    return "".join(f"{b:08b}" for b in w.to_bytes())[:n]


@pytest.mark.parametrize("value,code", [(0, "1"), (1, "010"), (2, "011"), (3, "00100"),
                                        (4, "00101"), (5, "00110"), (6, "00111"),
                                        (7, "0001000"), (8, "0001001")])
def test_ue_matches_table_9_2(value, code):
    w = BitWriter()
    w.ue(value)
    assert _bits(w) == code


@pytest.mark.parametrize("value,k", [(0, 0), (1, 1), (-1, 2), (2, 3), (-2, 4), (3, 5), (-3, 6)])
def test_se_maps_like_table_9_3(value, k):
    a, b = BitWriter(), BitWriter()
    a.se(value)
    b.ue(k)
    assert _bits(a) == _bits(b)
    assert BitReader(a.to_bytes()).se() == value


def test_u_and_trailing_bits_and_range():
    w = BitWriter()
    w.u(3, 5)
    w.rbsp_trailing_bits()
    assert w.to_bytes() == bytes([0b10110000])
    with pytest.raises(ValueError):
        w.u(2, 4)
    with pytest.raises(ValueError):
        w.ue(-1)


@pytest.mark.parametrize("rbsp,ebsp", [
    (b"\x00\x00\x00", b"\x00\x00\x03\x00"),
    (b"\x00\x00\x01", b"\x00\x00\x03\x01"),
    (b"\x00\x00\x02", b"\x00\x00\x03\x02"),
    (b"\x00\x00\x03", b"\x00\x00\x03\x03"),
    (b"\x00\x00\x04", b"\x00\x00\x04"),
    (b"\x00\x00\x00\x00\x00", b"\x00\x00\x03\x00\x00\x03\x00"),
    (b"\x01\x00\x00\x01\x00", b"\x01\x00\x00\x03\x01\x00"),
])
def test_emulation_prevention(rbsp, ebsp):
    # 7.4.1: within the NAL unit no 0x000000, 0x000001, 0x000002 and 0x000003 sequences
    assert escape_rbsp(rbsp) == ebsp
    assert unescape_ebsp(ebsp) == rbsp


def test_zigzag_tables_match_the_spec():
    # Table 8-13 (frame 8x8 zig-zag, identical to JPEG's) and Table 8-12 (4x4)
    assert ZIGZAG_8x8 == (
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34,
        27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44,
        51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63)
    assert ZIGZAG_4x4 == (0, 1, 4, 8, 5, 2, 3, 6, 9, 12, 13, 10, 7, 11, 14, 15)


def test_split_annexb_3_and_4_byte_start_codes():
    data = b"\x00\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88\x00"
    assert split_annexb(data) == [b"\x67\x42", b"\x68\xce", b"\x65\x88"]


def test_fmo_pps_is_refused():
    with pytest.raises(ValueError, match="num_slice_groups_minus1"):
        pps_nal({"num_slice_groups_minus1": 1})


# --------------------------------------------------------------- round trip through trace_headers
SPS_ELEMENTS = (
    "profile_idc", "constraint_set0_flag", "constraint_set1_flag", "constraint_set2_flag",
    "constraint_set3_flag", "constraint_set4_flag", "constraint_set5_flag", "level_idc",
    "seq_parameter_set_id", "chroma_format_idc", "separate_colour_plane_flag",
    "bit_depth_luma_minus8", "bit_depth_chroma_minus8", "qpprime_y_zero_transform_bypass_flag",
    "log2_max_frame_num_minus4", "pic_order_cnt_type", "log2_max_pic_order_cnt_lsb_minus4",
    "delta_pic_order_always_zero_flag", "offset_for_non_ref_pic",
    "offset_for_top_to_bottom_field", "num_ref_frames_in_pic_order_cnt_cycle",
    "max_num_ref_frames", "gaps_in_frame_num_allowed_flag", "pic_width_in_mbs_minus1",
    "pic_height_in_map_units_minus1", "frame_mbs_only_flag", "mb_adaptive_frame_field_flag",
    "direct_8x8_inference_flag")
PPS_ELEMENTS = (
    "pic_parameter_set_id", "seq_parameter_set_id", "entropy_coding_mode_flag",
    "bottom_field_pic_order_in_frame_present_flag", "num_slice_groups_minus1",
    "num_ref_idx_l0_default_active_minus1", "num_ref_idx_l1_default_active_minus1",
    "weighted_pred_flag", "weighted_bipred_idc", "pic_init_qp_minus26", "pic_init_qs_minus26",
    "chroma_qp_index_offset", "deblocking_filter_control_present_flag",
    "constrained_intra_pred_flag", "redundant_pic_cnt_present_flag", "transform_8x8_mode_flag")


def _elements(unit, names):
    d = {n: unit.get(n) for n in names}
    for n, v in unit.elems:
        if n.startswith("offset_for_ref_frame["):
            d[n] = v
    return d


def _second_offset(unit):
    return unit.get("second_chroma_qp_index_offset") if unit.has(
        "second_chroma_qp_index_offset") else unit.get("chroma_qp_index_offset")


def _rebuild(data: bytes, units):
    """The stream with every SPS/PPS replaced by nal_writer's from the derived controls."""
    sps_units = [u for u in units if u.title == "Sequence Parameter Set"]
    pps_units = [u for u in units if u.title == "Picture Parameter Set"]
    sps_by_id, out, ks, kp = {}, [], 0, 0
    for nal in split_annexb(data):
        t = nal_unit_type(nal)
        if t == 7:
            s = sps_control(sps_units[ks])
            ks += 1
            sps_by_id[s["seq_parameter_set_id"]] = s
            nal = sps_nal(public(s), nal_ref_idc=nal[0] >> 5)
        elif t == 8:
            u = pps_units[kp]
            kp += 1
            s = sps_by_id[u.get("seq_parameter_set_id")]
            pps, sm = pps_controls(u, s)
            nal = pps_nal(pps, sm, sps=public(s), nal_ref_idc=nal[0] >> 5)
        out.append(b"\x00\x00\x00\x01" + nal)
    assert (ks, kp) == (len(sps_units), len(pps_units)), "one traced unit per SPS/PPS NAL"
    return b"".join(out)


def _effective_matrices(units):
    """Per PPS unit, in order: (SCALING_MATRIX_PRESENT, 4x4 lists, 8x8 lists that apply)."""
    sps_by_id, out = {}, []
    for u in units:
        if u.title == "Sequence Parameter Set":
            s = sps_control(u)
            sps_by_id[s["seq_parameter_set_id"]] = s
        elif u.title == "Picture Parameter Set":
            pps, sm = pps_controls(u, sps_by_id[u.get("seq_parameter_set_id")])
            present = bool(pps["flags"] & 0x80)
            l8 = sm["scaling_list_8x8"][:2] if u.get("transform_8x8_mode_flag") else None
            out.append((present, sm["scaling_list_4x4"] if present else None,
                        l8 if present else None))
    return out


@needs_vectors
@needs_ffmpeg
@pytest.mark.parametrize("vector", conformance_vectors())
def test_parameter_sets_round_trip(vector):
    data = (VECTORS / vector).read_bytes()
    orig = trace_units(data)
    rebuilt = trace_units(_rebuild(data, orig))
    for title, names in (("Sequence Parameter Set", SPS_ELEMENTS),
                         ("Picture Parameter Set", PPS_ELEMENTS)):
        a = [_elements(u, names) for u in orig if u.title == title]
        b = [_elements(u, names) for u in rebuilt if u.title == title]
        assert a and a == b, title
    assert [_second_offset(u) for u in orig if u.title == "Picture Parameter Set"] == \
        [_second_offset(u) for u in rebuilt if u.title == "Picture Parameter Set"]
    assert _effective_matrices(orig) == _effective_matrices(rebuilt)
    # the rebuilt parameter sets make the slice headers parse to the very same elements
    a = [u.elems for u in orig if u.title == "Slice Header"]
    b = [u.elems for u in rebuilt if u.title == "Slice Header"]
    assert a and a == b
    # what the controls cannot carry is written as absent
    for u in rebuilt:
        if u.title == "Sequence Parameter Set":
            assert u.get("vui_parameters_present_flag") == 0
            assert u.get("frame_cropping_flag") == 0
            assert u.get("seq_scaling_matrix_present_flag") == 0
