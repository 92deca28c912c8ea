"""Our whole H.264 pipeline on the real kernel: every conformance vector through visl.

visl (the kernel's virtual stateless decoder) draws debug text instead of pixels, but it runs
the real V4L2 core: media requests, control validation of every SPS/PPS/scaling matrix/decode
params/slice params we send, vb2 queues, HOLD_CAPTURE_BUF and reference lookup by timestamp.
A vector passes when every picture was accepted (no errno from any ioctl, no request error)
and every frame came back, as many as FFmpeg's decoder outputs for the vector.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"


def _vectors() -> list[tuple[str, Path, int]]:
    out = []
    manifest = VECTORS / "MANIFEST.tsv"
    if not manifest.exists():
        return out
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            path = VECTORS / row["file"]
            m = re.search(r"\((\d+) frames", row.get("verification", ""))
            md5 = path.with_name(path.name + ".md5")
            if m:
                n = int(m.group(1))
            elif md5.exists():
                n = len([ln for ln in md5.read_text().splitlines() if ln.strip()])
            else:
                continue
            out.append((row.get("fluster_name") or path.name, path, n))
    return out


VECTOR_LIST = _vectors()


@pytest.fixture(scope="module")
def visl_path() -> str:
    from pyv4l2req.v4l2 import discover

    infos = [i for i in discover() if i.driver == "visl"]
    assert infos, "visl not found through the media topology"
    return infos[0].video_path


#: Every vector is decoded to its end frame-based (about 4 minutes under TCG); slice-based mode
#: doubles the requests, so it runs on a selection covering fields, MBAFF, MMCOs, crop and
#: multi-slice pictures, up to SLICE_BASED_LIMIT frames each.
SLICE_BASED = {"BA1_Sony_D", "CVFC1_Sony_C", "HCAFF1_HHI_B", "HCAMFF1_HHI_B", "FRExt_MMCO4_Sony_B",
               "MR2_TANDBERG_E", "SVA_BA2_D", "CI1_FT_B", "test-25fps-interlaced.h264", "FRExt2_Panasonic_C"}
SLICE_BASED_LIMIT = 60


def _cases():
    for name, path, frames in VECTOR_LIST:
        yield pytest.param(name, path, frames, "frame", id=f"{name}-frame")
        if name in SLICE_BASED:
            yield pytest.param(name, path, min(frames, SLICE_BASED_LIMIT), "slice", id=f"{name}-slice")


@pytest.mark.vm
@pytest.mark.parametrize("name,path,frames,mode", list(_cases()))
def test_vector_decodes_on_visl(visl_path, name, path, frames, mode):
    """*frames* frames of the vector (all of them frame-based) come back from visl, no error."""
    from pyv4l2req import Decoder

    got = 0
    with Decoder(device=visl_path, decode_mode=mode) as dec:
        for frame in dec.decode(path):
            assert (frame.width, frame.height) != (0, 0)
            got += 1
            if got >= frames:
                break
        corrupt = dec.stats.corrupt
        requests = dec.stats.requests
    assert got == frames
    assert corrupt == 0
    assert requests >= frames
