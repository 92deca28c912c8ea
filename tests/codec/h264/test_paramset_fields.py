"""SPS/PPS objects built from syntax element values (``SPS.from_fields``, ``PPS.from_fields``:
what a VA-API picture parameter buffer gives) against the parsed ones, on every SPS and PPS of
the shared vectors (the 10-bit/4:2:2 professional ones included) and the project's fixtures:
equal in every element and derived value, the same V4L2 control values, and the slice header
parser gives identical headers with them (the bit sizes included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyv4l2req.codec.h264 import v4l2_controls
from pyv4l2req.codec.h264.mp4 import iter_annexb_nal_units
from pyv4l2req.codec.h264.nal import NalUnit, split_annexb
from pyv4l2req.codec.h264.pps import PPS, PPS_ELEMENTS, parse_pps
from pyv4l2req.codec.h264.slice import PREFIX_FIELDS, REST_FIELDS, parse_slice_header
from pyv4l2req.codec.h264.sps import SPS, SPS_ELEMENTS, parse_sps

from ..conftest import VECTORS

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
PROFESSIONAL = sorted((VECTORS / "JVT-Professional_profiles").glob("*.264")) \
    if (VECTORS / "JVT-Professional_profiles").is_dir() else []

#: every value of an SPS: its elements, the derived variables (annotated on the class) and
#: the derived properties
SPS_VALUES = sorted({*SPS_ELEMENTS, *SPS.__annotations__, "display_width", "display_height",
                     "level_max_dpb_frames"})
PPS_VALUES = sorted({*PPS_ELEMENTS, *PPS.__annotations__, "SliceGroupChangeRate"} - {"sps"})
HEADER_VALUES = [name for name in (*PREFIX_FIELDS, *REST_FIELDS) if name not in ("sps", "pps")]


def _nal_units(path: Path) -> list[NalUnit]:
    data = path.read_bytes()
    if path.suffix == ".mp4":
        return [NalUnit.from_bytes(n) for n in iter_annexb_nal_units(data)]
    return split_annexb(data)


def _check_stream(path: Path) -> tuple[int, int, int]:
    """Parse every SPS/PPS of ``path``, build each again from its elements, and parse every
    slice header against both tables; returns (SPS, PPS, slice headers) checked."""
    parsed_sps: dict[int, SPS] = {}
    built_sps: dict[int, SPS] = {}
    parsed_pps: dict[int, PPS] = {}
    built_pps: dict[int, PPS] = {}
    counts = [0, 0, 0]
    for nal in _nal_units(path):
        t = nal.nal_unit_type
        if t == 7:
            sps = parse_sps(nal.rbsp)
            built = SPS.from_fields(**{name: getattr(sps, name) for name in SPS_ELEMENTS})
            for name in SPS_VALUES:
                assert getattr(built, name) == getattr(sps, name), f"{path.name}: SPS {name}"
            assert built == sps
            assert v4l2_controls.sps_control(built) == v4l2_controls.sps_control(sps)
            parsed_sps[sps.seq_parameter_set_id] = sps
            built_sps[sps.seq_parameter_set_id] = built
            counts[0] += 1
        elif t == 8:
            pps = parse_pps(nal.rbsp, parsed_sps)
            sps, built_for = parsed_sps.get(pps.seq_parameter_set_id), built_sps.get(pps.seq_parameter_set_id)
            built = PPS.from_fields(built_for, **{name: getattr(pps, name) for name in PPS_ELEMENTS})
            for name in PPS_VALUES:
                assert getattr(built, name) == getattr(pps, name), f"{path.name}: PPS {name}"
            assert built == pps and built.sps == pps.sps
            if sps is not None:
                assert v4l2_controls.pps_control(built, built_for) == v4l2_controls.pps_control(pps, sps)
                assert v4l2_controls.scaling_matrix_control(built_for, built) == \
                    v4l2_controls.scaling_matrix_control(sps, pps)
            parsed_pps[pps.pic_parameter_set_id] = pps
            built_pps[pps.pic_parameter_set_id] = built
            counts[1] += 1
        elif t in (1, 5):
            got = parse_slice_header(nal, built_pps, built_sps, lazy=False)
            want = parse_slice_header(nal, parsed_pps, parsed_sps, lazy=False)
            assert got.sps is built_sps[want.sps.seq_parameter_set_id]
            for name in HEADER_VALUES:
                assert getattr(got, name) == getattr(want, name), f"{path.name}: slice header {name}"
            counts[2] += 1
    return counts[0], counts[1], counts[2]


def test_built_parameter_sets_equal_the_parsed_ones_on_vectors(h264_vector: Path | None,
                                                                vector_data: bytes) -> None:
    n_sps, n_pps, n_slices = _check_stream(h264_vector)
    assert n_sps and n_pps and n_slices


@pytest.mark.parametrize("path", PROFESSIONAL, ids=lambda p: p.name)
def test_built_parameter_sets_equal_the_parsed_ones_on_professional_vectors(path: Path) -> None:
    n_sps, n_pps, n_slices = _check_stream(path)
    assert n_sps and n_pps and n_slices


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".h264", ".mp4")))
def test_built_parameter_sets_equal_the_parsed_ones_on_fixtures(name: str) -> None:
    n_sps, n_pps, n_slices = _check_stream(FIXTURES / name)
    assert n_sps and n_pps and n_slices


def test_the_checks_see_derived_values_and_bit_sizes() -> None:
    """The comparison above is not vacuous: it covers derived values and the header bit sizes."""
    assert {"MaxFrameNum", "frame_width", "max_dpb_frames", "crop_right", "scaling_matrix",
            "max_num_reorder_frames", "display_height"} <= set(SPS_VALUES)
    assert "scaling_matrix" in PPS_VALUES
    assert {"dec_ref_pic_marking_bit_size", "pic_order_cnt_bit_size", "header_bit_size"} <= set(HEADER_VALUES)


def test_from_fields_defaults_and_errors() -> None:
    sps = SPS.from_fields(pic_width_in_mbs_minus1=119, pic_height_in_map_units_minus1=67,
                          frame_cropping_flag=1, frame_crop_bottom_offset=4)
    assert (sps.frame_width, sps.frame_height, sps.display_height) == (1920, 1088, 1080)
    assert sps.MaxFrameNum == 16 and sps.scaling_matrix.is_flat
    assert sps.max_num_reorder_frames == sps.max_dec_frame_buffering == sps.level_max_dpb_frames == 4
    pps = PPS.from_fields(sps, chroma_qp_index_offset=-2)
    assert pps.second_chroma_qp_index_offset == -2 and pps.sps is sps
    with pytest.raises(TypeError, match="frame_crop_offset"):
        SPS.from_fields(frame_crop_offset=1)
    with pytest.raises(TypeError, match="weighted_pred"):
        PPS.from_fields(sps, weighted_pred=1)
