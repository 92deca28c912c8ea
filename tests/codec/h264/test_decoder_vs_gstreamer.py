"""Our control values against GStreamer's ``v4l2slh264dec`` (1.22) on visl, field by field.

Inside the test-kernel VM, GStreamer decodes the vector on visl (slice-based, one request per
slice) while visl traces every control it receives (:mod:`pyv4l2req.testing.visl_trace`). We
decode the same access units with timestamp = 1000 * access-unit index, which is what GStreamer
uses (``system_frame_number * 1000``), and compare request by request.

Deliberate differences (not compared):

- ``pred_weights`` of slices without explicit weighted prediction: GStreamer sends the control
  for every slice; we send it only when it applies (compared when we send it).
- ``scaling_matrix`` when neither SPS nor PPS carries one: nobody sends it, visl prints the
  control's previous value.
- ``ref_pic_list1`` of P slices: stale/unused (GStreamer leaves 0xff; so do we) -- compared.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyv4l2req.codec.h264 import v4l2_controls
from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter
from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode
from pyv4l2req.testing.vectors import require_vector, vectors_root
from pyv4l2req.uapi import h264 as u

REPO = Path(__file__).resolve().parents[3]
VECTORS = vectors_root()
CASES = ["other/cros-codecs/64x64-I-P-B-P-high.h264",   # CABAC, B, weighted_bipred_idc 2
         "JVT-FR-EXT/HCAFF1_HHI.264",                   # PAFF field pairs
         "JVT-FR-EXT/HCAMFF1_HHI.264",                  # MBAFF
         "JVT-FR-EXT/FRExt_MMCO4_Sony_B.264",           # MMCO 4/6/3, long-term references
         "JVT-AVC_V1/MR1_BT_A.h264",                    # multiple references, list modification
         "JVT-AVC_V1/CVFC1_Sony_C.jsv",                 # cropping, 4 slices a picture
         "JVT-FR-EXT/FRExt4_Panasonic.avc"]             # fields referencing frames with equal POCs
# FRExt2_Panasonic is left out: GStreamer 1.22's h264parse stops on it ("Invalid H.264 stream")
# after 21 requests -- which equal ours.


def our_requests(path: Path) -> list[tuple[PictureDecode, object]]:
    sp = AccessUnitSplitter()
    aus = sp.feed(path.read_bytes()) + sp.flush()
    dec = H264Decoder()
    out = []
    for i, a in enumerate(aus):
        for e in dec.decode_access_unit(a, 1000 * i):
            if isinstance(e, PictureDecode):
                out += [(e, s) for s in e.slices]
    return out


def _s16_pairs(rows: list) -> list:
    """visl prints chroma_weight/offset (s16 [32][2]) as a hex dump of 128 bytes; a parser that
    reads the bytes as s8 pairs yields 64 rows: rebuild the s16 little-endian values."""
    if len(rows) != 64:
        return rows
    data = bytes(v & 0xFF for row in rows for v in row)
    vals = [int.from_bytes(data[i:i + 2], "little", signed=True) for i in range(0, len(data), 2)]
    return [vals[i:i + 2] for i in range(0, len(vals), 2)]


def compare(ours: list, theirs: list[dict]) -> list[str]:
    """Differences between our requests and GStreamer's traced ones (empty = identical)."""
    diffs: list[str] = []
    if len(ours) != len(theirs):
        diffs.append(f"{len(ours)} requests, GStreamer {len(theirs)}")
    for k, ((pic, job), rec) in enumerate(zip(ours, theirs)):
        where = f"request {k} (ts {pic.timestamp_ns})"
        c = v4l2_controls.picture_controls(pic)
        slice_params, pred_weights = v4l2_controls.slice_controls(pic, job)

        def cmp(name: str, mine: dict, gst: dict, skip: tuple[str, ...] = ()) -> None:
            for key, value in gst.items():
                if key in skip or key.startswith("reserved"):
                    continue
                mv = mine.get(key, 0)
                if isinstance(value, list) and isinstance(mv, list):
                    mv = mv + [0] * (len(value) - len(mv)) if len(mv) < len(value) else mv
                if mv != value:
                    diffs.append(f"{where}: {name}.{key} = {mine.get(key, 0)!r}, GStreamer {value!r}")

        cmp("sps", c["sps"], rec["sps"])
        cmp("pps", c["pps"], rec["pps"])
        if c["scaling_matrix"] is not None:
            cmp("scaling_matrix", c["scaling_matrix"], rec["scaling_matrix"])
        dp = dict(c["decode_params"])
        gdp = dict(rec["decode_params"])
        cmp("decode_params", dp, gdp, skip=("dpb",))
        gdpb = [e for e in rec["dpb"] if e["flags"] & u.V4L2_H264_DPB_ENTRY_FLAG_VALID]
        if len(dp["dpb"]) != len(gdpb):
            diffs.append(f"{where}: {len(dp['dpb'])} dpb entries, GStreamer {len(gdpb)}: {dp['dpb']} / {gdpb}")
        for i, (mine, gst) in enumerate(zip(dp["dpb"], gdpb)):
            cmp(f"dpb[{i}]", mine, gst)
        cmp("slice_params", slice_params, rec["slice_params"])
        for lx in ("ref_pic_list0", "ref_pic_list1"):
            if slice_params[lx] != rec[lx]:
                diffs.append(f"{where}: {lx} {slice_params[lx][:4]}..., GStreamer {rec[lx][:4]}...")
        if pred_weights is not None:
            pw = rec["pred_weights"]
            cmp("pred_weights", pred_weights, pw, skip=("weight_factors",))
            for f in (0, 1):
                g = dict(pw["weight_factors"][f]) if "weight_factors" in pw else {}
                for key in ("chroma_weight", "chroma_offset"):
                    if key in g:
                        g[key] = _s16_pairs(g[key])
                cmp(f"pred_weights.weight_factors[{f}]", pred_weights["weight_factors"][f], g)
    return diffs


@pytest.mark.vm
@pytest.mark.parametrize("name", CASES)
def test_controls_equal_gstreamer_on_visl(name: str) -> None:
    if os.environ.get("PYV4L2REQ_IN_VM") != "1":
        pytest.skip("needs the test-kernel VM (visl + GStreamer v4l2slh264dec)")
    from pyv4l2req.testing.visl_trace import as_controls, gst_reference_controls

    path = require_vector(name)
    records = gst_reference_controls(path, timeout_s=240)
    theirs = []
    for r in records:
        c = as_controls(r)
        theirs.append({**c, "ref_pic_list0": r["ref_pic_list0"], "ref_pic_list1": r["ref_pic_list1"],
                       "dpb": r["dpb"]})
    diffs = compare(our_requests(path), theirs)
    assert not diffs, f"{len(diffs)} differences, first ones:\n" + "\n".join(diffs[:15])
