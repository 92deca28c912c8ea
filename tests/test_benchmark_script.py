"""tools/benchmark.py runs end to end on a small clip and reports what the pipeline did.

No timing is asserted (timings are for the benchmark's own report). What is asserted is the
shape of the report and the work counted by the emulated device: the minimum ioctls per
picture for each decode mode, which is what the benchmark's userspace numbers stand on.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "fixtures" / "multislice_176x144.h264"  # 8 pictures, 4 slices each, B frames

pytest.importorskip("av", reason="the emulated H.264 device needs PyAV's libavcodec")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("pyv4l2req_benchmark", REPO / "tools" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_has_every_row(bench, tmp_path):
    out = tmp_path / "bench.md"
    assert bench.main(["--input", str(CLIP), "--repeat", "1", "--markdown", str(out)]) == 0
    text = out.read_text()
    for label in ("**U. frame-based**", "U. slice-based", "K. inside the emulated device, frame-based",
                  "A. codec layer, frame-based controls", "A. codec layer, slice-based controls",
                  "Annex B split", "Peak RSS", f"`{CLIP.name}`: 8 access units"):
        assert label in text, label
    # the summary row of the stream, then every timing row: numbers in every column
    assert re.search(rf"^\| `{CLIP.name}` \| \*\*\d+\*\* \| \d+ \| \d+ \| \d+ \| \d+ \|$", text, re.M)
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and "µs" not in line and "---" not in line and "`" not in line]
    assert len(rows) == 9 + 5
    for line in rows:
        assert re.search(r"\| \d+ \| \d+ \|( \d+ \|)?$", line), line


def test_ioctls_per_picture_are_the_minimum(bench):
    aus = bench.access_units(CLIP.read_bytes())
    frame = bench.bench_pipeline(aus, "frame")["ioctls"]
    slices = bench.bench_pipeline(aus, "slice")["ioctls"]
    # frame-based: one request per picture, one S_EXT_CTRLS on it (+ the configuration's one SPS)
    assert frame["MEDIA_REQUEST_IOC_QUEUE"] == pytest.approx(1.0)
    assert frame["MEDIA_REQUEST_IOC_REINIT"] == pytest.approx(1.0)
    assert 1.0 <= frame["VIDIOC_S_EXT_CTRLS"] <= 1.0 + 2 / len(aus)
    assert frame["VIDIOC_DQBUF"] == pytest.approx(2.0)  # one OUTPUT, one CAPTURE
    # slice-based: the clip has 4 slices per picture, one request each
    assert slices["MEDIA_REQUEST_IOC_QUEUE"] == pytest.approx(4.0)
    assert slices["VIDIOC_DQBUF"] == pytest.approx(5.0)  # four OUTPUT, one CAPTURE
