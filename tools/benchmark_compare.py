#!/usr/bin/env python3
"""Side by side: the benchmark of this revision against the one of an earlier revision.

    python3 tools/benchmark_compare.py --baseline 3e52bc5            # 3 rounds each
    python3 tools/benchmark_compare.py --baseline v0.1 --rounds 5 --markdown out.md

The machine is shared and noisy, so two numbers measured at different times say little. This
script checks the baseline revision out into a temporary git worktree and runs *each
revision's own* ``tools/benchmark.py`` (so each measures its own code with its own hooks) on
the same stream, alternating: baseline, current, baseline, current, ... (``--rounds`` of
each, ``--repeat 1`` per run). A slow spell of the machine then hits both sides alike. For
each revision the best round (lowest median) of each column is reported, as
``tools/benchmark.py`` does within a run, with the ratio current / baseline.

The columns are those of the benchmark's summary table (U frame-based median and p90, U
slice-based median, A frame-based and slice-based median), read back from the Markdown that
each run writes: the table's format is the contract between the revisions.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import benchmark  # noqa: E402  (the stream generator and its cache are shared)

COLUMNS = ("U frame median", "U frame p90", "U slice median", "A frame median", "A slice median")


def parse_summary(markdown: str, stream_name: str) -> dict[str, float]:
    """The summary table's row of *stream_name* as {column: µs}."""
    for line in markdown.splitlines():
        if line.startswith(f"| `{stream_name}` |"):
            cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")][1:]
            if len(cells) != len(COLUMNS):
                break
            return {k: float(c) for k, c in zip(COLUMNS, cells)}
    raise ValueError(f"no summary row for {stream_name} in the benchmark's Markdown")


def run_benchmark(tree: Path, stream: Path) -> dict[str, float]:
    """One ``--repeat 1`` run of *tree*'s benchmark on *stream*, importing *tree*'s package."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.md"
        env = dict(os.environ, PYTHONPATH=str(tree))
        subprocess.run([sys.executable, str(tree / "tools" / "benchmark.py"), "--repeat", "1",
                        "--input", str(stream), "--markdown", str(out)],
                       check=True, env=env, stdout=subprocess.DEVNULL, cwd=tree)
        return parse_summary(out.read_text(), stream.name)


def check_import_path(tree: Path) -> None:
    """The subprocess must import *tree*'s package, not an installed (editable) one."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    got = subprocess.run([sys.executable, "-c", "import pyv4l2req; print(pyv4l2req.__file__)"],
                         check=True, env=env, capture_output=True, text=True, cwd=tree).stdout.strip()
    if not Path(got).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"benchmark_compare: {tree} imports pyv4l2req from {got}, not from itself")


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: min(r[k] for r in runs) for k in COLUMNS}


def report(baseline: str, current: str, stream: Path, rounds: int,
           base: dict[str, float], cur: dict[str, float]) -> str:
    lines = [
        f"`python3 tools/benchmark_compare.py --baseline {baseline} --rounds {rounds}`: "
        f"stream `{stream.name}`; the two revisions' own `tools/benchmark.py --repeat 1`, "
        f"alternating, {rounds} rounds each, best round per column (µs per frame).",
        "",
        f"| revision | {' | '.join(COLUMNS)} |",
        "|---|" + "---|" * len(COLUMNS),
        f"| baseline `{baseline}` | " + " | ".join(f"{base[k]:.0f}" for k in COLUMNS) + " |",
        f"| current `{current}` | " + " | ".join(f"{cur[k]:.0f}" for k in COLUMNS) + " |",
        "| current / baseline | " + " | ".join(f"{cur[k] / base[k]:.2f}" for k in COLUMNS) + " |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="git revision to compare with")
    ap.add_argument("--rounds", type=int, default=3, help="benchmark runs per revision (alternating)")
    ap.add_argument("--input", type=Path, help="Annex B stream (default: the generated 1080p 1-slice one)")
    ap.add_argument("--frames", type=int, default=240, help="frames of the generated stream")
    ap.add_argument("--markdown", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    stream = args.input
    if stream is None:
        option, _desc = benchmark.STREAMS["1slice"]
        stream = benchmark.stream_path(args.frames, "1slice")
        if not stream.exists():
            benchmark.make_stream(stream, args.frames, option)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          check=True, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           check=True, capture_output=True, text=True).stdout.strip()
    current = head + ("+changes" if dirty else "")
    with tempfile.TemporaryDirectory(prefix="pyv4l2req-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.baseline],
                       check=True, capture_output=True)
        try:
            check_import_path(tree)
            check_import_path(REPO)
            base_runs, cur_runs = [], []
            for i in range(max(1, args.rounds)):
                print(f"round {i + 1}: baseline...", file=sys.stderr)
                base_runs.append(run_benchmark(tree, stream))
                print(f"round {i + 1}: current...", file=sys.stderr)
                cur_runs.append(run_benchmark(REPO, stream))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                           capture_output=True)
    text = report(args.baseline, current, stream, args.rounds, best(base_runs), best(cur_runs))
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
