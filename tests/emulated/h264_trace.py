"""Test helper: V4L2 H.264 control values derived from FFmpeg's ``trace_headers`` output.

``ffmpeg -bsf:v trace_headers`` prints every syntax element of every SPS, PPS and slice header
(FFmpeg's CBS parser, independent of our code). :func:`trace_units` parses that log;
:func:`parameter_controls` turns SPS/PPS units into ``v4l2_ctrl_h264_sps``/``_pps``/
``_scaling_matrix`` dicts the way userspace does (scaling-list fall-back rules A/B of Table 7-2
resolved, lists in raster order), and :func:`slice_controls` pairs every slice NAL unit of the
stream with the parameter-set controls active for it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pyv4l2req.emulated.nal_writer import ZIGZAG_4x4, ZIGZAG_8x8

FFMPEG = shutil.which("ffmpeg")
_ELEM = re.compile(r"^\d+\s+(\S+)\s+[01]*\s*=\s+(-?\d+)\s*$")
_PREFIX = re.compile(r"^\[trace_headers @ 0x[0-9a-f]+\] ")

# Table 7-3 / 7-4 default scaling lists, in zig-zag scan order
DEFAULT_4x4_INTRA = (6, 13, 13, 20, 20, 20, 28, 28, 28, 28, 32, 32, 32, 37, 37, 42)
DEFAULT_4x4_INTER = (10, 14, 14, 20, 20, 20, 24, 24, 24, 24, 27, 27, 27, 30, 30, 34)
DEFAULT_8x8_INTRA = (
    6, 10, 10, 13, 11, 13, 16, 16, 16, 16, 18, 18, 18, 18, 18, 23, 23, 23, 23, 23, 23, 25, 25,
    25, 25, 25, 25, 25, 27, 27, 27, 27, 27, 27, 27, 27, 29, 29, 29, 29, 29, 29, 29, 31, 31, 31,
    31, 31, 31, 33, 33, 33, 33, 33, 36, 36, 36, 36, 38, 38, 38, 40, 40, 42)
DEFAULT_8x8_INTER = (
    9, 13, 13, 15, 13, 15, 17, 17, 17, 17, 19, 19, 19, 19, 19, 21, 21, 21, 21, 21, 21, 22, 22,
    22, 22, 22, 22, 22, 24, 24, 24, 24, 24, 24, 24, 24, 25, 25, 25, 25, 25, 25, 25, 27, 27, 27,
    27, 27, 27, 28, 28, 28, 28, 28, 30, 30, 30, 30, 32, 32, 32, 33, 33, 35)


@dataclass
class Unit:
    title: str
    elems: list[tuple[str, int]]

    def get(self, name: str, default: int = 0) -> int:
        for n, v in self.elems:
            if n == name:
                return v
        return default

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.elems)


def trace_units(data: bytes | Path) -> list[Unit]:
    """Units traced by ``trace_headers`` in stream order (the demuxer's extradata skipped)."""
    if isinstance(data, Path):
        data = data.read_bytes()
    proc = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostats", "-f", "h264", "-i", "pipe:0", "-c:v", "copy",
         "-bsf:v", "trace_headers", "-f", "null", "-"],
        input=data, capture_output=True, check=True)
    units: list[Unit] = []
    in_extradata = False
    for raw in proc.stderr.decode(errors="replace").splitlines():
        if not raw.startswith("[trace_headers"):
            continue
        line = _PREFIX.sub("", raw)
        if line.startswith("Extradata"):
            in_extradata = True
            continue
        if line.startswith("Packet:"):
            in_extradata = False
            continue
        m = _ELEM.match(line)
        if m:
            if units and not in_extradata:
                units[-1].elems.append((m.group(1), int(m.group(2))))
        elif not in_extradata:
            units.append(Unit(line.strip(), []))
    return units


def _parse_lists(unit: Unit, prefix: str, count: int, fallback: list, defaults: list) -> list:
    """Scaling lists (zig-zag order) of an SPS/PPS unit with fall-back rule ``fallback``.

    ``fallback[i]`` is the list used when list i is absent: an int k refers to list k of the
    result (rule A/B "previous list"), a tuple is a fixed list.
    """
    elems = unit.elems
    flags_at = {n: i for i, (n, _) in enumerate(elems)}
    out: list = []
    for i in range(count):
        key = f"{prefix}[{i}]"
        size = 16 if i < 6 else 64
        at = flags_at.get(key)
        if at is None or elems[at][1] == 0:
            fb = fallback[i]
            out.append(list(out[fb]) if isinstance(fb, int) else list(fb))
            continue
        last, nxt, lst = 8, 8, []
        pos = at + 1
        for j in range(size):
            if nxt != 0:
                name, delta = elems[pos]
                assert name.startswith("delta_scale"), (name, key)
                pos += 1
                nxt = (last + delta + 256) % 256
                if j == 0 and nxt == 0:  # useDefaultScalingMatrixFlag
                    lst = list(defaults[i])
                    break
            lst.append(last if nxt == 0 else nxt)
            last = lst[-1]
        out.append(lst)
    return out


def _raster(lists: list) -> tuple[list, list]:
    l4 = [[0] * 16 for _ in range(6)]
    l8 = [[0] * 64 for _ in range(6)]
    for i in range(6):
        for k, r in enumerate(ZIGZAG_4x4):
            l4[i][r] = lists[i][k]
    for i in range(6, len(lists)):
        for k, r in enumerate(ZIGZAG_8x8):
            l8[i - 6][r] = lists[i][k]
    for i in range(len(lists) - 6, 6):  # 4:2:0: the chroma 8x8 lists are not coded
        l8[i] = list(l8[i % 2]) if len(lists) > 6 else [16] * 64
    return l4, l8


_DEFAULTS = [DEFAULT_4x4_INTRA] * 3 + [DEFAULT_4x4_INTER] * 3 + [DEFAULT_8x8_INTRA,
                                                                 DEFAULT_8x8_INTER] * 3
_RULE_A = [DEFAULT_4x4_INTRA, 0, 1, DEFAULT_4x4_INTER, 3, 4, DEFAULT_8x8_INTRA,
           DEFAULT_8x8_INTER, 6, 7, 8, 9]
_FLAT = [[16] * 16] * 6 + [[16] * 64] * 6


def sps_control(u: Unit) -> dict:
    """v4l2_ctrl_h264_sps dict of a traced SPS, plus ``_lists`` (zig-zag) and ``_crop``."""
    flags = 0
    for name, bit in (("separate_colour_plane_flag", 0x01),
                      ("qpprime_y_zero_transform_bypass_flag", 0x02),
                      ("delta_pic_order_always_zero_flag", 0x04),
                      ("gaps_in_frame_num_allowed_flag", 0x08),
                      ("frame_mbs_only_flag", 0x10),
                      ("mb_adaptive_frame_field_flag", 0x20),
                      ("direct_8x8_inference_flag", 0x40)):
        if u.get(name):
            flags |= bit
    cs = 0
    for i in range(6):
        if u.get(f"constraint_set{i}_flag"):
            cs |= 1 << i
    n_cycle = u.get("num_ref_frames_in_pic_order_cnt_cycle")
    chroma = u.get("chroma_format_idc", 1)
    sps = {
        "profile_idc": u.get("profile_idc"), "constraint_set_flags": cs,
        "level_idc": u.get("level_idc"), "seq_parameter_set_id": u.get("seq_parameter_set_id"),
        "chroma_format_idc": chroma,
        "bit_depth_luma_minus8": u.get("bit_depth_luma_minus8"),
        "bit_depth_chroma_minus8": u.get("bit_depth_chroma_minus8"),
        "log2_max_frame_num_minus4": u.get("log2_max_frame_num_minus4"),
        "pic_order_cnt_type": u.get("pic_order_cnt_type"),
        "log2_max_pic_order_cnt_lsb_minus4": u.get("log2_max_pic_order_cnt_lsb_minus4"),
        "max_num_ref_frames": u.get("max_num_ref_frames"),
        "num_ref_frames_in_pic_order_cnt_cycle": n_cycle,
        "offset_for_ref_frame": [u.get(f"offset_for_ref_frame[{i}]") for i in range(n_cycle)],
        "offset_for_non_ref_pic": u.get("offset_for_non_ref_pic"),
        "offset_for_top_to_bottom_field": u.get("offset_for_top_to_bottom_field"),
        "pic_width_in_mbs_minus1": u.get("pic_width_in_mbs_minus1"),
        "pic_height_in_map_units_minus1": u.get("pic_height_in_map_units_minus1"),
        "flags": flags,
    }
    n = 8 if chroma != 3 else 12
    if u.get("seq_scaling_matrix_present_flag"):
        sps["_lists"] = _parse_lists(u, "seq_scaling_list_present_flag", n, _RULE_A, _DEFAULTS)
    else:
        sps["_lists"] = None
    sps["_crop"] = tuple(u.get(f"frame_crop_{s}_offset") for s in
                         ("left", "right", "top", "bottom")) if u.get("frame_cropping_flag") \
        else (0, 0, 0, 0)
    return sps


def pps_controls(u: Unit, sps: dict) -> tuple[dict, dict]:
    """(v4l2_ctrl_h264_pps dict, v4l2_ctrl_h264_scaling_matrix dict) for a traced PPS."""
    flags = 0
    for name, bit in (("entropy_coding_mode_flag", 0x01),
                      ("bottom_field_pic_order_in_frame_present_flag", 0x02),
                      ("weighted_pred_flag", 0x04),
                      ("deblocking_filter_control_present_flag", 0x08),
                      ("constrained_intra_pred_flag", 0x10),
                      ("redundant_pic_cnt_present_flag", 0x20),
                      ("transform_8x8_mode_flag", 0x40)):
        if u.get(name):
            flags |= bit
    chroma_offset = u.get("chroma_qp_index_offset")
    pps = {
        "pic_parameter_set_id": u.get("pic_parameter_set_id"),
        "seq_parameter_set_id": u.get("seq_parameter_set_id"),
        "num_slice_groups_minus1": u.get("num_slice_groups_minus1"),
        "num_ref_idx_l0_default_active_minus1": u.get("num_ref_idx_l0_default_active_minus1"),
        "num_ref_idx_l1_default_active_minus1": u.get("num_ref_idx_l1_default_active_minus1"),
        "weighted_bipred_idc": u.get("weighted_bipred_idc"),
        "pic_init_qp_minus26": u.get("pic_init_qp_minus26"),
        "pic_init_qs_minus26": u.get("pic_init_qs_minus26"),
        "chroma_qp_index_offset": chroma_offset,
        "second_chroma_qp_index_offset": u.get("second_chroma_qp_index_offset", chroma_offset)
        if u.has("second_chroma_qp_index_offset") else chroma_offset,
    }
    n = 6 + (2 if sps["chroma_format_idc"] != 3 else 6) * u.get("transform_8x8_mode_flag")
    seq = sps["_lists"]
    if u.get("pic_scaling_matrix_present_flag"):
        if seq is None:  # rule A
            rule = _RULE_A
        else:            # rule B: the sequence-level list, then the previous one
            rule = [seq[0], 0, 1, seq[3], 3, 4, seq[6], seq[7], 6, 7, 8, 9]
        lists = _parse_lists(u, "pic_scaling_list_present_flag", n, rule, _DEFAULTS)
    else:
        lists = seq
    if lists is not None:
        flags |= 0x80  # SCALING_MATRIX_PRESENT
        l4, l8 = _raster(lists[:n] if u.get("pic_scaling_matrix_present_flag") else lists)
    else:
        l4, l8 = _raster(_FLAT[:8])
    pps["flags"] = flags
    return pps, {"scaling_list_4x4": l4, "scaling_list_8x8": l8}


@dataclass
class SliceControls:
    sps: dict
    pps: dict
    scaling_matrix: dict
    header: Unit


def slice_controls(units: list[Unit]) -> list[SliceControls]:
    """For every traced slice header, in stream order: the parameter sets active for it."""
    sps_by_id: dict[int, dict] = {}
    pps_by_id: dict[int, Unit] = {}
    resolved: dict[tuple[int, int], tuple[dict, dict]] = {}
    out = []
    for u in units:
        if u.title == "Sequence Parameter Set":
            s = sps_control(u)
            sps_by_id[s["seq_parameter_set_id"]] = s
            resolved.clear()
        elif u.title == "Picture Parameter Set":
            pps_by_id[u.get("pic_parameter_set_id")] = u
        elif u.title == "Slice Header":
            pu = pps_by_id[u.get("pic_parameter_set_id")]
            sps = sps_by_id[pu.get("seq_parameter_set_id")]
            key = (id(pu), id(sps))
            if key not in resolved:
                resolved[key] = pps_controls(pu, sps)
            pps, sm = resolved[key]
            out.append(SliceControls(sps, pps, sm, u))
    return out


def public(d: dict) -> dict:
    """The dict without the helper's private ``_`` keys (what goes into a control)."""
    return {k: v for k, v in d.items() if not k.startswith("_")}
