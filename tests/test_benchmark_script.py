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
    for label in ("**U. frame-based**", "U. slice-based", "the device's answers replayed", "K. inside the emulated device, frame-based",
                  "A. codec layer, frame-based controls", "A. codec layer, slice-based controls",
                  "Annex B split", "Peak RSS", f"`{CLIP.name}`: 8 access units"):
        assert label in text, label
    # the summary row of the stream, then every timing row: numbers in every column
    assert re.search(rf"^\| `{CLIP.name}` \| \*\*\d+\*\* \| \d+ \| \d+ \| \d+ \| \d+ \|$", text, re.M)
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and "µs" not in line and "---" not in line and "`" not in line]
    assert len(rows) == 10 + 5
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


@pytest.fixture(scope="module")
def replay(bench):
    import sys

    sys.path.insert(0, str(REPO / "tools"))
    try:
        import replay_kernel
    finally:
        sys.path.remove(str(REPO / "tools"))
    return replay_kernel


@pytest.mark.parametrize("mode", ["frame", "slice"])
def test_replayed_kernel_gives_the_recorded_decode(bench, replay, mode):
    from pyv4l2req.emulated import EmulatedBackend

    aus = bench.access_units(CLIP.read_bytes())
    recorder = replay.RecordingBackend(EmulatedBackend(pixels=False))
    frames = bench._decode_all(recorder, aus, mode)
    assert len(frames) == 8
    kinds = {entry[0] for entry in recorder.tape}
    assert {"poll"} < kinds  # polls and per-picture ioctls were recorded
    live = EmulatedBackend(pixels=False)
    player = replay.ReplayBackend(live, recorder.tape)
    assert bench._decode_all(player, aus, mode) == frames
    assert player.replayed == len(recorder.tape)
    # the live device saw no request: every per-picture call was answered from the tape
    assert live.stats.ioctls["MEDIA_REQUEST_IOC_QUEUE"] == 0
    assert live.stats.ioctls["VIDIOC_QBUF"] == 0
    # the benchmark's replay row checks the same thing itself
    assert bench.bench_pipeline(aus, mode, kernel="replay")["user"]["n"] == len(aus) - 1


def test_replay_of_another_decode_is_refused(bench, replay):
    from pyv4l2req.emulated import EmulatedBackend

    aus = bench.access_units(CLIP.read_bytes())
    recorder = replay.RecordingBackend(EmulatedBackend(pixels=False))
    bench._decode_all(recorder, aus, "frame")
    player = replay.ReplayBackend(EmulatedBackend(pixels=False), recorder.tape)
    with pytest.raises(replay.ReplayDiverged, match="recorded"):
        bench._decode_all(player, aus, "slice")  # more requests per picture than recorded


def test_markdown_keeps_the_hand_written_analysis(bench, tmp_path):
    out = tmp_path / "bench.md"
    out.write_text("# old numbers\n| x | 1 |\n\n" + bench.KEEP_MARKER + "\n## Analysis\nby hand\n")
    assert bench.main(["--input", str(CLIP), "--repeat", "1", "--markdown", str(out)]) == 0
    text = out.read_text()
    assert "# old numbers" not in text  # the generated part is new
    assert text.index("**U. frame-based**") < text.index(bench.KEEP_MARKER)
    assert text.endswith(bench.KEEP_MARKER + "\n## Analysis\nby hand\n")


def test_compare_runs_both_revisions_side_by_side(tmp_path):
    """tools/benchmark_compare.py: a worktree of the baseline, each revision's own benchmark,
    alternating; the table it writes has both revisions' numbers and their ratio."""
    import subprocess
    import sys

    out = tmp_path / "compare.md"
    r = subprocess.run([sys.executable, str(REPO / "tools" / "benchmark_compare.py"), "--baseline", "HEAD",
                        "--rounds", "1", "--input", str(CLIP), "--markdown", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert re.search(r"^\| baseline `HEAD` \|( \d+ \|){5}$", text, re.M), text
    assert re.search(r"^\| current `[0-9a-f]+(\+changes)?` \|( \d+ \|){5}$", text, re.M), text
    assert re.search(r"^\| current / baseline \|( \d+\.\d\d \|){5}$", text, re.M), text
    assert "round 1: baseline" in r.stderr and "round 1: current" in r.stderr
    # the temporary worktree is gone again
    listed = subprocess.run(["git", "-C", str(REPO), "worktree", "list"], capture_output=True, text=True).stdout
    assert "pyv4l2req-baseline-" not in listed


def test_compare_reads_the_summary_row():
    spec = importlib.util.spec_from_file_location("pyv4l2req_benchmark_compare", REPO / "tools" / "benchmark_compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    md = "| stream | a | b | c | d | e |\n|---|\n| `x.h264` | **127** | 209 | 210 | 73 | 133 |\n"
    assert module.parse_summary(md, "x.h264") == dict(zip(module.COLUMNS, (127, 209, 210, 73, 133)))
    with pytest.raises(ValueError, match="no summary row for y.h264"):
        module.parse_summary(md, "y.h264")
