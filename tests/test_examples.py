"""The examples run as a user runs them, and give what they promise.

``examples/decode_with_session.py`` decodes through the library's parts alone (codec layer,
``v4l2_controls``, ``StatelessSession``; no ``Decoder``): its output must be bit-exact with
fluster's md5 of the conformance vectors, in both V4L2 decode modes, on streams with field
pairs (PAFF), MBAFF, MMCOs and several slices per picture.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyv4l2req.testing.vectors import by_id, require_vector

REPO = Path(__file__).resolve().parents[1]
SESSION_EXAMPLE = REPO / "examples" / "decode_with_session.py"

#: one feature each: plain CAVLC, PAFF field pairs, MBAFF, MMCOs with several slices per picture
VECTORS = ["JVT-AVC_V1/BA1_Sony_D.jsv", "JVT-FR-EXT/HCAFF1_HHI.264", "JVT-FR-EXT/HCAMFF1_HHI.264",
           "JVT-AVC_V1/MR2_TANDBERG_E.264"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SESSION_EXAMPLE), *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO)


@pytest.mark.parametrize("mode", ["frame", "slice"])
@pytest.mark.parametrize("vid", VECTORS)
def test_session_example_is_bit_exact_with_fluster(vid, mode):
    pytest.importorskip("av", reason="the emulated H.264 device's pixels need PyAV")
    path = require_vector(vid)
    expected = by_id(vid).expected_md5
    assert expected, f"{vid} has no fluster md5"
    r = _run(str(path), "--mode", mode)
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.endswith(f"md5 of all: {expected}"), last
    frames = by_id(vid).frames
    if frames:
        assert last.startswith(f"{frames} frames"), last


def test_session_example_uses_no_decoder():
    """It is built from the parts: no Decoder / DeviceSession / pipeline import."""
    text = SESSION_EXAMPLE.read_text()
    assert "StatelessSession" in text and "v4l2_controls" in text and "H264Decoder" in text
    for name in ("pyv4l2req.pipeline", "import Decoder", "decode_file", "DeviceSession"):
        assert name not in text, name


@pytest.mark.vm
def test_session_example_on_visl():
    """On the real kernel (visl: real request API and control validation, debug pixels): every
    picture accepted, every frame out."""
    from pyv4l2req.v4l2 import discover

    path = require_vector("JVT-FR-EXT/HCAFF1_HHI.264")
    visl = [i.video_path for i in discover() if i.driver == "visl"]
    assert visl, "visl not found through the media topology"
    for mode in ("frame", "slice"):
        r = _run(str(path), "--device", visl[0], "--mode", mode)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().splitlines()[-1].startswith(f"{by_id('JVT-FR-EXT/HCAFF1_HHI.264').frames} frames")
