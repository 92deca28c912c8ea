"""SPS derived values (codec/h264/sps.py) against ffprobe (display size after cropping,
level, chroma format / bit depth) on every vector and x264 stream; DPB size from Table A-1;
errors on malformed SPS."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pyv4l2req.codec.h264.nal import split_annexb
from pyv4l2req.codec.h264.sps import MAX_DPB_MBS, parse_sps
from pyv4l2req.errors import BitstreamError

#: FFmpeg pix_fmt -> (chroma_format_idc, bit depth); FFmpeg outputs monochrome as 4:2:0
PIX_FMTS = {
    "yuv420p": (1, 8), "yuvj420p": (1, 8), "yuv422p": (2, 8), "yuv444p": (3, 8),
    "yuv420p10le": (1, 10), "yuv422p10le": (2, 10), "yuv444p10le": (3, 10), "gray": (0, 8),
}


def _ffprobe(path: Path, oracle) -> dict:
    exe = oracle.require_ffmpeg().replace("ffmpeg", "ffprobe")
    res = subprocess.run(
        [exe, "-v", "error", "-f", "h264", "-select_streams", "v:0", "-show_entries",
         "stream=width,height,level,pix_fmt,refs", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["streams"][0]


def _first_sps(data: bytes):
    return parse_sps(next(n for n in split_annexb(data) if n.nal_unit_type == 7).rbsp)


def _check_against_ffprobe(path: Path, oracle) -> None:
    sps = _first_sps(path.read_bytes())
    info = _ffprobe(path, oracle)
    assert (sps.display_width, sps.display_height) == (info["width"], info["height"])
    assert sps.level_idc == info["level"]
    cfi, depth = PIX_FMTS[info["pix_fmt"]]
    if sps.chroma_format_idc == 0:
        assert cfi in (0, 1)
    else:
        assert sps.chroma_format_idc == cfi
    assert sps.BitDepthY == depth
    assert sps.frame_width == sps.PicWidthInMbs * 16 >= sps.display_width
    assert sps.frame_height == sps.FrameHeightInMbs * 16 >= sps.display_height
    assert 1 <= sps.max_dpb_frames <= 16 and sps.max_dpb_frames >= sps.max_num_ref_frames


def test_sizes_match_ffprobe_on_vectors(h264_vector: Path, vector_data: bytes, h264_oracle) -> None:
    _check_against_ffprobe(h264_vector, h264_oracle)


def test_sizes_match_ffprobe_on_x264_streams(x264_stream: Path, h264_oracle) -> None:
    _check_against_ffprobe(x264_stream, h264_oracle)


def _vector(oracle, name: str) -> bytes:
    p = oracle.vectors / name
    if not p.exists():
        if oracle.in_ci():
            pytest.fail(f"missing {p}")
        pytest.skip(f"missing {p}")
    return p.read_bytes()


def test_cropping_in_luma_samples(h264_oracle) -> None:
    # CVFC1_Sony_C: 4:2:0 frames, crop offsets in chroma units (CropUnitX = CropUnitY = 2)
    sps = _first_sps(_vector(h264_oracle, "JVT-AVC_V1/CVFC1_Sony_C.jsv"))
    assert (sps.CropUnitX, sps.CropUnitY) == (2, 2)
    assert sps.crop_left == 2 * sps.frame_crop_left_offset
    assert sps.crop_bottom == 2 * sps.frame_crop_bottom_offset
    # interlaced clip (frame_mbs_only_flag 0): CropUnitY = 2 * 2
    sps = _first_sps(_vector(h264_oracle, "other/cros-codecs/test-25fps-interlaced.h264"))
    assert sps.frame_mbs_only_flag == 0 and sps.CropUnitY == 4
    assert sps.crop_bottom == 4 * sps.frame_crop_bottom_offset


def test_dpb_size_from_level_when_no_vui(h264_oracle) -> None:
    # BA_MW_D: QCIF (11 x 9 = 99 MBs) without bitstream_restriction -> MaxDpbMbs / 99
    sps = _first_sps(_vector(h264_oracle, "JVT-AVC_V1/BA_MW_D.264"))
    assert not sps.bitstream_restriction_flag
    assert sps.PicWidthInMbs * sps.FrameHeightInMbs == 99
    expected = min(MAX_DPB_MBS[sps.level_idc] // 99, 16)
    assert sps.max_dpb_frames == max(expected, sps.max_num_ref_frames)
    assert sps.max_num_reorder_frames == sps.max_dec_frame_buffering == expected


def test_dpb_size_from_vui_bitstream_restriction(h264_oracle) -> None:
    sps = _first_sps(_vector(h264_oracle, "other/cros-codecs/64x64-I-P-B-P.h264"))
    assert sps.bitstream_restriction_flag
    assert (sps.max_num_reorder_frames, sps.max_dec_frame_buffering) == (0, 3)  # FFmpeg trace values
    assert sps.max_dpb_frames == 3


def test_table_a1_values() -> None:
    # a few rows of Table A-1 (MaxDpbMbs), and 1080p at level 4.0: 32768 / 8160 -> 4 frames
    assert (MAX_DPB_MBS[10], MAX_DPB_MBS[30], MAX_DPB_MBS[40], MAX_DPB_MBS[51]) == (396, 8100, 32768, 184320)
    assert 32768 // (120 * 68) == 4


def test_level_1b(h264_oracle, tmp_path: Path) -> None:
    sps = _first_sps(h264_oracle.make_x264_stream("level1b_baseline", tmp_path).read_bytes())
    # level 1b in Baseline: level_idc 11 + constraint_set3_flag -> Table A-1 row "1b" (396 MBs)
    assert (sps.level_idc, sps.constraint_set3_flag) == (11, 1)
    assert sps.level_max_dpb_frames == min(396 // (sps.PicWidthInMbs * sps.FrameHeightInMbs), 16)


def test_malformed_sps_errors(h264_oracle) -> None:
    rbsp = next(n for n in split_annexb(_vector(h264_oracle, "JVT-AVC_V1/BA_MW_D.264")) if n.nal_unit_type == 7).rbsp
    with pytest.raises(BitstreamError, match=r"SPS 0: truncated .* while reading"):
        parse_sps(rbsp[:5])
    W = h264_oracle.BitWriter
    bad_id = W().u(8, 66).u(8, 0).u(8, 30).ue(32).trailing().bytes()
    with pytest.raises(BitstreamError, match=r"SPS: seq_parameter_set_id = 32 out of range \(max 31\)"):
        parse_sps(bad_id)
    bad_cfi = W().u(8, 100).u(8, 0).u(8, 30).ue(0).ue(4).trailing().bytes()
    with pytest.raises(BitstreamError, match="chroma_format_idc = 4"):
        parse_sps(bad_cfi)
    bad_poc = W().u(8, 66).u(8, 0).u(8, 30).ue(0).ue(0).ue(3).trailing().bytes()
    with pytest.raises(BitstreamError, match="pic_order_cnt_type = 3"):
        parse_sps(bad_poc)


def test_repeated_sps_keeps_its_object(h264_oracle) -> None:
    """A stream repeating an identical SPS (here with HRD parameters) keeps one SPS object,
    so consumers can detect a new sequence by identity."""
    from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter

    data = _vector(h264_oracle, "other/cros-codecs/test-25fps.h264")
    sp = AccessUnitSplitter()
    aus = sp.feed(data) + sp.flush()
    assert sum(n.nal_unit_type == 7 for au in aus for n in au.nals) > 1
    sps_objects = {id(s.header.sps) for au in aus for s in au.slices}
    assert len(sps_objects) == 1
    assert aus[0].slices[0].header.sps.nal_hrd is not None
