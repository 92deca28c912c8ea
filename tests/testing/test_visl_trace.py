"""visl's H.264 trace of GStreamer's decode, checked against FFmpeg's slice-header trace.

In the VM: GStreamer's v4l2slh264dec decodes BA1_Sony_D (17 frames, QCIF, all I slices, every
picture a reference, max_num_ref_frames 1, POC type 0)
on visl; every request's controls come back through tracefs. FFmpeg's ``trace_headers``
bitstream filter (an independent parser) gives the syntax elements the controls derive from.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pyv4l2req.testing import visl_trace
from pyv4l2req.testing.vectors import vectors_root
from pyv4l2req.uapi import h264 as uh264

REPO = Path(__file__).resolve().parents[2]
VECTOR = vectors_root() / "JVT-AVC_V1" / "BA1_Sony_D.jsv"
_TRACE_LINE = re.compile(r"^\[trace_headers @ [^\]]*\]\s+\d+\s+(\S+)\s+\S+ = (-?\d+)\s*$")


def ffmpeg_nal_units(path: Path) -> list[dict[str, int]]:
    """The syntax elements of every NAL unit, from ``ffmpeg -bsf:v trace_headers``."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed")
    proc = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-i", str(path), "-c", "copy", "-bsf:v", "trace_headers",
         "-f", "null", "-"], capture_output=True, text=True, check=True, timeout=300)
    nals: list[dict[str, int]] = []
    for line in proc.stderr.splitlines():
        m = _TRACE_LINE.match(line)
        if not m:
            continue
        name, value = m.group(1), int(m.group(2))
        if name == "forbidden_zero_bit":
            nals.append({})
        if nals:
            nals[-1].setdefault(name, value)
    return nals


# -- host: the parser on event text in the format of visl-trace-h264.h ---------------------------

SAMPLE = """\
# tracer: nop
#
# entries-in-buffer/entries-written: 5/5   #P:2
 gst-launch-1.0-97  [001] .....  41.100001: v4l2_ctrl_h264_sps: 
profile_idc 66
constraint_set_flags CONSTRAINT_SET0_FLAG|CONSTRAINT_SET1_FLAG
level_idc 30
seq_parameter_set_id 0
chroma_format_idc 1
bit_depth_luma_minus8 0
bit_depth_chroma_minus8 0
log2_max_frame_num_minus4 12
pic_order_cnt_type 0
log2_max_pic_order_cnt_lsb_minus4 12
max_num_ref_frames 1
num_ref_frames_in_pic_order_cnt_cycle 0
offset_for_ref_frame {0xffffffff,0x2}
offset_for_non_ref_pic -2
offset_for_top_to_bottom_field 0
pic_width_in_mbs_minus1 10
pic_height_in_map_units_minus1 8
flags FRAME_MBS_ONLY|DIRECT_8X8_INFERENCE
 gst-launch-1.0-97  [001] .....  41.100002: v4l2_ctrl_h264_slice_params: 
header_bit_size 30
first_mb_in_slice 0
slice_type P
colour_plane_id 0
redundant_pic_cnt 0
cabac_init_idc 0
slice_qp_delta -3
slice_qs_delta 0
disable_deblocking_filter_idc 0
slice_alpha_c0_offset_div2 4294967294
slice_beta_offset_div2 1
num_ref_idx_l0_active_minus1 0
num_ref_idx_l1_active_minus1 0
flags 
 gst-launch-1.0-97  [001] .....  41.100003: v4l2_h264_ref_pic_list0: [0]: fields FRAME_REF index 3
 gst-launch-1.0-97  [001] .....  41.100004: v4l2_h264_ref_pic_list0: [1]: fields  index 0
 gst-launch-1.0-97  [001] .....  41.100005: v4l2_ctrl_h264_pred_weights: 
luma_log2_weight_denom 5
chroma_log2_weight_denom 0
weight_factor[0].luma_weight {0xffe0,0x20}
weight_factor[0].luma_offset {0x0,0x1}
weight_factor[0].chroma_weight {
ff ff 02 00 03 00 04 00
}
weight_factor[0].chroma_offset {
00 00 00 00 00 00 80 ff
}
weight_factor[1].luma_weight {0x0}
weight_factor[1].luma_offset {0x0}
weight_factor[1].chroma_weight {
00 00 01 00
}
weight_factor[1].chroma_offset {
00 00 00 00
}

 gst-launch-1.0-97  [001] .....  41.100006: v4l2_h264_dpb_entry: [0]: reference_ts 2000, pic_num 1 frame_num 1 fields FRAME_REF top_field_order_cnt 2 bottom_field_order_cnt -2 flags VALID|ACTIVE
 gst-launch-1.0-97  [001] .....  41.100007: v4l2_h264_dpb_entry: [1]: reference_ts 0, pic_num 0 frame_num 0 fields  top_field_order_cnt 0 bottom_field_order_cnt 0 flags 
 gst-launch-1.0-97  [001] .....  41.100008: v4l2_ctrl_h264_sps: 
profile_idc 77
flags 
"""


def test_parse_trace_converts_every_printed_form() -> None:
    records = visl_trace.parse_trace(SAMPLE)
    assert len(records) == 2
    first = records[0]
    sps = first["sps"]
    assert sps["constraint_set_flags"] == (uh264.V4L2_H264_SPS_CONSTRAINT_SET0_FLAG
                                           | uh264.V4L2_H264_SPS_CONSTRAINT_SET1_FLAG)
    assert sps["flags"] == uh264.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY | uh264.V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE
    assert sps["offset_for_ref_frame"] == [-1, 2]
    assert sps["offset_for_non_ref_pic"] == -2 and sps["pic_width_in_mbs_minus1"] == 10
    sp = first["slice_params"]
    assert sp["slice_type"] == uh264.V4L2_H264_SLICE_TYPE_P
    assert sp["slice_alpha_c0_offset_div2"] == -2 and sp["slice_qp_delta"] == -3 and sp["flags"] == 0
    assert first["ref_pic_list0"] == [{"fields": uh264.V4L2_H264_FRAME_REF, "index": 3},
                                      {"fields": 0, "index": 0}]
    pw = first["pred_weights"]
    assert pw["luma_log2_weight_denom"] == 5
    assert pw["weight_factors"][0] == {"luma_weight": [-32, 32], "luma_offset": [0, 1],
                                       "chroma_weight": [[-1, 2], [3, 4]], "chroma_offset": [[0, 0], [0, -128]]}
    assert pw["weight_factors"][1]["chroma_weight"] == [[0, 1]]
    assert first["dpb"][0] == {
        "reference_ts": 2000, "pic_num": 1, "frame_num": 1, "fields": uh264.V4L2_H264_FRAME_REF,
        "top_field_order_cnt": 2, "bottom_field_order_cnt": -2,
        "flags": uh264.V4L2_H264_DPB_ENTRY_FLAG_VALID | uh264.V4L2_H264_DPB_ENTRY_FLAG_ACTIVE}
    assert first["dpb"][1]["flags"] == 0 and first["dpb"][1]["fields"] == 0
    assert records[1] == {"sps": {"profile_idc": 77, "flags": 0}}
    nested = visl_trace.as_controls(first)
    assert nested["slice_params"]["ref_pic_list0"][0]["index"] == 3
    assert "ref_pic_list0" not in nested and "decode_params" not in nested


def test_parse_trace_rejects_unknown_flags() -> None:
    bad = SAMPLE.replace("FRAME_MBS_ONLY|", "NOT_A_FLAG|", 1)
    with pytest.raises(visl_trace.TraceError, match="sps.flags: unknown flag 'NOT_A_FLAG'"):
        visl_trace.parse_trace(bad)


# -- VM: GStreamer on visl vs FFmpeg's parse of the same stream --------------------------------------

@pytest.mark.vm
def test_gstreamer_reference_controls_ba1_sony_d() -> None:
    records = visl_trace.gst_reference_controls(VECTOR, timeout_s=600)
    slices = [n for n in ffmpeg_nal_units(VECTOR) if n.get("nal_unit_type") in (1, 5)]
    pictures = [s for s in slices if s["first_mb_in_slice"] == 0]
    assert len(pictures) == 17
    assert len(records) == 17
    sps_ff = next(n for n in ffmpeg_nal_units(VECTOR) if n.get("nal_unit_type") == 7)
    ref_ts: list[int] = []
    for k, (rec, sh) in enumerate(zip(records, pictures)):
        dp, sp, sps = rec["decode_params"], rec["slice_params"], rec["sps"]
        assert set(rec) >= {"sps", "pps", "scaling_matrix", "slice_params", "decode_params",
                            "ref_pic_list0", "ref_pic_list1", "dpb", "pred_weights"}
        assert len(rec["dpb"]) == 16 and len(rec["ref_pic_list0"]) == 32
        for name in ("log2_max_frame_num_minus4", "log2_max_pic_order_cnt_lsb_minus4",
                     "pic_order_cnt_type", "pic_width_in_mbs_minus1", "pic_height_in_map_units_minus1",
                     "max_num_ref_frames",
                     "profile_idc", "level_idc"):
            assert sps[name] == sps_ff[name], (k, name)
        assert dp["frame_num"] == sh["frame_num"], k
        assert dp["pic_order_cnt_lsb"] == sh["pic_order_cnt_lsb"], k
        assert dp["nal_ref_idc"] == sh["nal_ref_idc"], k
        is_idr = sh["nal_unit_type"] == 5
        assert bool(dp["flags"] & uh264.V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC) == is_idr, k
        if is_idr:
            assert dp["idr_pic_id"] == sh["idr_pic_id"]
        # POC type 0 with a 16-bit lsb that never wraps here: TopFieldOrderCnt == lsb (8.2.1.1)
        assert sps["pic_order_cnt_type"] == 0
        assert dp["top_field_order_cnt"] == sh["pic_order_cnt_lsb"], k
        assert sp["slice_type"] == sh["slice_type"] % 5, k
        # max_num_ref_frames 1 and every picture a reference: the sliding window (8.2.5.3) keeps
        # exactly the previous picture, so the DPB holds one valid entry describing it.
        valid = [e for e in rec["dpb"] if e["flags"] & uh264.V4L2_H264_DPB_ENTRY_FLAG_VALID]
        if k == 0:
            assert valid == []
            continue
        assert sps["max_num_ref_frames"] == 1
        assert len(valid) == 1, (k, valid)
        (entry,) = valid
        assert entry["frame_num"] == pictures[k - 1]["frame_num"], k
        assert entry["top_field_order_cnt"] == pictures[k - 1]["pic_order_cnt_lsb"], k
        assert entry["fields"] == uh264.V4L2_H264_FRAME_REF, k
        assert entry["flags"] & uh264.V4L2_H264_DPB_ENTRY_FLAG_ACTIVE, k
        assert not entry["flags"] & uh264.V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM, k
        ref_ts.append(entry["reference_ts"])
    # each reference is the picture decoded just before, so their OUTPUT timestamps increase
    assert len(ref_ts) == 16 and ref_ts == sorted(set(ref_ts))
    # the stream: an IDR then non-IDR pictures, frame_num and POC lsb counting up by one
    assert [r["decode_params"]["frame_num"] for r in records] == list(range(17))
