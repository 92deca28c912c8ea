"""V4L2 control values (:mod:`pyv4l2req.codec.h264.v4l2_controls`): layout facts (raster
scaling lists in the kernel's list order), packing with :mod:`pyv4l2req.uapi.h264` and the
kernel's validation rules (:mod:`pyv4l2req.uapi.validate`) for every picture of a set of real
vectors, and consistency of ref lists with dpb[]."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyv4l2req.codec.h264 import v4l2_controls as ctl
from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter
from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode
from pyv4l2req.codec.h264.dpb import BOTTOM, FRAME, TOP
from pyv4l2req.codec.h264.pps import PPS
from pyv4l2req.codec.h264.sps import SPS
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import h264 as u
from pyv4l2req.uapi.validate import validate_control

# H.264 Table 7-3 / 7-4 default lists written as the 4x4 / 8x8 matrices they weight
# (what the raster layout of v4l2_ctrl_h264_scaling_matrix must hold).
DEFAULT_4x4_INTRA_RASTER = [6, 13, 20, 28, 13, 20, 28, 32, 20, 28, 32, 37, 28, 32, 37, 42]
DEFAULT_4x4_INTER_RASTER = [10, 14, 20, 24, 14, 20, 24, 27, 20, 24, 27, 30, 24, 27, 30, 34]
DEFAULT_8x8_INTRA_RASTER = [
    6, 10, 13, 16, 18, 23, 25, 27,
    10, 11, 16, 18, 23, 25, 27, 29,
    13, 16, 18, 23, 25, 27, 29, 31,
    16, 18, 23, 25, 27, 29, 31, 33,
    18, 23, 25, 27, 29, 31, 33, 36,
    23, 25, 27, 29, 31, 33, 36, 38,
    25, 27, 29, 31, 33, 36, 38, 40,
    27, 29, 31, 33, 36, 38, 40, 42,
]


def test_field_bits_are_the_kernels() -> None:
    """The mapping passes the codec's field bits (picture structure, marking, parity) through
    as the kernel's ``fields`` values."""
    assert (TOP, BOTTOM, FRAME) == (u.V4L2_H264_TOP_FIELD_REF, u.V4L2_H264_BOTTOM_FIELD_REF,
                                    u.V4L2_H264_FRAME_REF)


def test_default_scaling_lists_are_raster_in_kernel_order() -> None:
    # the SPS signals the default lists (None: "use the default") for Intra/Inter Y and 8x8
    sps = SPS.from_fields(seq_scaling_matrix_present_flag=1, seq_scaling_list_present_flag=[1, 0, 0, 1, 0, 0, 1, 1],
                          seq_scaling_lists={0: None, 3: None, 6: None, 7: None}, chroma_format_idc=1)
    pps = PPS.from_fields(sps, transform_8x8_mode_flag=1)
    sm = ctl.scaling_matrix_control(sps, pps)
    assert sm is not None
    assert sm["scaling_list_4x4"][:3] == [DEFAULT_4x4_INTRA_RASTER] * 3  # Intra Y, Cb, Cr
    assert sm["scaling_list_4x4"][3:] == [DEFAULT_4x4_INTER_RASTER] * 3  # Inter Y, Cb, Cr
    assert sm["scaling_list_8x8"][0] == DEFAULT_8x8_INTRA_RASTER        # Intra Y
    assert sm["scaling_list_8x8"][1][0] == 9 and sm["scaling_list_8x8"][1][9] == 13  # Inter Y
    assert sm["scaling_list_8x8"][2:] == [[0] * 64] * 4  # 4:2:0: like GStreamer, only luma lists
    assert ctl.pps_control(pps, sps)["flags"] & u.V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT
    packed = u.pack(u.v4l2_ctrl_h264_scaling_matrix, sm)
    assert len(packed) == 480 and packed[:16] == bytes(DEFAULT_4x4_INTRA_RASTER)


def test_explicit_list_zigzag_to_raster() -> None:
    coded = tuple(range(1, 17))  # in zig-zag order: raster position of the k-th coefficient
    sps = SPS.from_fields(seq_scaling_matrix_present_flag=0, chroma_format_idc=3)
    pps = PPS.from_fields(sps, transform_8x8_mode_flag=1, pic_scaling_matrix_present_flag=1,
                          pic_scaling_list_present_flag=[1] + [0] * 11, pic_scaling_lists={0: coded})
    sm = ctl.scaling_matrix_control(sps, pps)
    # 4x4 zig-zag (Table 8-13 / 6.5.3): 0 1 5 6 / 2 4 7 12 / 3 8 11 13 / 9 10 14 15 (index k)
    assert sm["scaling_list_4x4"][0] == [1, 2, 6, 7, 3, 5, 8, 13, 4, 9, 12, 14, 10, 11, 15, 16]
    assert all(len(x) == 64 and x[0] != 0 for x in sm["scaling_list_8x8"])  # 4:4:4: all six


def test_flat_pictures_send_no_matrix() -> None:
    sps = SPS.from_fields()
    pps = PPS.from_fields(sps)
    assert ctl.scaling_matrix_control(sps, pps) is None
    assert not ctl.pps_control(pps, sps)["flags"] & u.V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT


VECTORS = ["JVT-FR-EXT/HCAFF1_HHI.264", "JVT-FR-EXT/HCAMFF1_HHI.264", "JVT-FR-EXT/FRExt_MMCO4_Sony_B.264",
           "JVT-FR-EXT/FRExt1_Panasonic.avc", "JVT-FR-EXT/FREXT01_JVC_D.264", "JVT-AVC_V1/MR2_TANDBERG_E.264",
           "JVT-AVC_V1/CVFC1_Sony_C.jsv", "other/cros-codecs/test-25fps-interlaced.h264",
           "other/cros-codecs/64x64-I-P-B-P-high.h264"]


@pytest.mark.parametrize("name", VECTORS)
def test_controls_pack_and_pass_kernel_validation(name: str, h264_oracle) -> None:
    path: Path = h264_oracle.vectors / name
    if not path.exists():
        if h264_oracle.in_ci():
            pytest.fail(f"missing vector {path}")
        pytest.skip(f"missing vector {path}")
    sp = AccessUnitSplitter()
    aus = sp.feed(path.read_bytes()) + sp.flush()
    dec = H264Decoder()
    n = 0
    for i, a in enumerate(aus[:40]):
        for e in dec.decode_access_unit(a, 1000 * (i + 1)):
            if not isinstance(e, PictureDecode):
                continue
            n += 1
            c = ctl.picture_controls(e)
            pairs = [(C.V4L2_CID_STATELESS_H264_SPS, u.v4l2_ctrl_h264_sps, c["sps"]),
                     (C.V4L2_CID_STATELESS_H264_PPS, u.v4l2_ctrl_h264_pps, c["pps"]),
                     (C.V4L2_CID_STATELESS_H264_DECODE_PARAMS, u.v4l2_ctrl_h264_decode_params, c["decode_params"])]
            if c["scaling_matrix"] is not None:
                pairs.append((C.V4L2_CID_STATELESS_H264_SCALING_MATRIX, u.v4l2_ctrl_h264_scaling_matrix,
                              c["scaling_matrix"]))
            per_slice = [ctl.slice_controls(e, s) for s in e.slices]
            for slice_params, pred_weights in per_slice:
                pairs.append((C.V4L2_CID_STATELESS_H264_SLICE_PARAMS, u.v4l2_ctrl_h264_slice_params, slice_params))
                if pred_weights is not None:
                    pairs.append((C.V4L2_CID_STATELESS_H264_PRED_WEIGHTS, u.v4l2_ctrl_h264_pred_weights,
                                  pred_weights))
            for cid, struct, value in pairs:
                packed = u.pack(struct, value)
                assert validate_control(cid, packed) == packed, f"{name} picture {i}: control {cid:#x} altered"
            dpb = c["decode_params"]["dpb"]
            assert len(dpb) <= 16
            assert {d["reference_ts"] for d in dpb} - {e.timestamp_ns} == set(e.reference_timestamps)
            for sp_, _ in per_slice:
                lists = [(sp_["ref_pic_list0"], sp_["num_ref_idx_l0_active_minus1"])]
                if sp_["slice_type"] == u.V4L2_H264_SLICE_TYPE_B:
                    lists.append((sp_["ref_pic_list1"], sp_["num_ref_idx_l1_active_minus1"]))
                for lst, m1 in lists:
                    for ref in lst[: m1 + 1]:
                        if ref["index"] == 0xFF:
                            continue
                        entry = dpb[ref["index"]]
                        assert ref["fields"] & entry["fields"] == ref["fields"], \
                            f"{name} picture {i}: reference to a field that is not a reference"
    assert n > 0


def test_pred_weights_match_ffmpeg_trace(h264_oracle) -> None:
    """weight_factors[0/1] hold the coded weights/offsets (FFmpeg trace_headers) and the
    inferred ones (2^denom, 0) for entries whose flag is 0 (7.4.3.2)."""
    path = Path(__file__).resolve().parents[3] / "fixtures" / "high_cqm_weighted_160x96.h264"
    trace = [unit for unit in h264_oracle.ffmpeg_trace(path) if any(x[1] == "first_mb_in_slice" for x in unit)]
    sp = AccessUnitSplitter()
    aus = sp.feed(path.read_bytes()) + sp.flush()
    dec = H264Decoder()
    ours = []
    for i, a in enumerate(aus):
        for e in dec.decode_access_unit(a, i):
            if isinstance(e, PictureDecode):
                ours += [ctl.slice_controls(e, s) for s in e.slices]
    assert len(ours) == len(trace)
    checked = 0
    for (params, pw), unit in zip(ours, trace):
        vals = {x[1]: x[2] for x in unit}
        if "luma_log2_weight_denom" not in vals:
            assert pw is None
            continue
        assert pw is not None
        checked += 1
        ld, cd = vals["luma_log2_weight_denom"], vals.get("chroma_log2_weight_denom", 0)
        assert (pw["luma_log2_weight_denom"], pw["chroma_log2_weight_denom"]) == (ld, cd)
        lists = [("l0", params["num_ref_idx_l0_active_minus1"] + 1)]
        if params["slice_type"] == u.V4L2_H264_SLICE_TYPE_B:
            lists.append(("l1", params["num_ref_idx_l1_active_minus1"] + 1))
        for k, (lx, n) in enumerate(lists):
            f = pw["weight_factors"][k]
            for i in range(n):
                if vals[f"luma_weight_{lx}_flag[{i}]"]:
                    exp = (vals[f"luma_weight_{lx}[{i}]"], vals[f"luma_offset_{lx}[{i}]"])
                else:
                    exp = (1 << ld, 0)
                assert (f["luma_weight"][i], f["luma_offset"][i]) == exp
                if vals[f"chroma_weight_{lx}_flag[{i}]"]:
                    exp_c = [[vals[f"chroma_weight_{lx}[{i}][{j}]"], vals[f"chroma_offset_{lx}[{i}][{j}]"]] for j in (0, 1)]
                else:
                    exp_c = [[1 << cd, 0], [1 << cd, 0]]
                assert [[f["chroma_weight"][i][j], f["chroma_offset"][i][j]] for j in (0, 1)] == exp_c
    assert checked > 0


def test_slice_controls_need_the_reference_lists() -> None:
    path = Path(__file__).resolve().parents[3] / "fixtures" / "small_128x96.h264"
    sp = AccessUnitSplitter()
    aus = sp.feed(path.read_bytes()) + sp.flush()
    pic = next(e for e in H264Decoder(slice_controls=False).decode_access_unit(aus[0], 0)
               if isinstance(e, PictureDecode))
    assert ctl.picture_controls(pic)["decode_params"]["flags"] & u.V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC
    with pytest.raises(ValueError, match="slice_controls=True"):
        ctl.slice_controls(pic, pic.slices[0])
