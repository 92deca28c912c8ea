#!/usr/bin/env python3
"""Long fuzzing campaign: random damage to the fixtures and the shared vectors, through the parser
alone and through the whole pipeline on the emulated device.

    python3 tools/fuzz.py                                  # 100 000 cases, seed 1
    python3 tools/fuzz.py --cases 2000 --seed 7 --pipeline-share 0.5
    python3 tools/fuzz.py --markdown docs/fuzzing.md       # the results table for the docs

Each case: a seed stream, 1-3 mutations (``pyv4l2req/testing/fuzz.py``: bit flips,
truncations, junk splices with and without start codes, zeroed ranges, duplicated/dropped/
swapped NAL units, absurd SPS values, MP4 box sizes), then one target. Every case is checked
against the invariants (only documented errors escape, time bound, no fd left open, no
decoded frame withheld, Python memory bound on the parser target); a case that breaks one is
printed as a recipe (seed name + mutation list) that ``fuzz.apply`` replays. The run is
seeded: the same arguments give the same cases.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pyv4l2req.testing import fuzz  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pipeline-share", type=float, default=0.1,
                    help="share of the cases run through the whole pipeline (the rest: parser alone)")
    ap.add_argument("--vectors", type=Path, default=REPO.parent / "shared" / "vectors")
    ap.add_argument("--max-bytes", type=int, default=200_000, help="largest seed stream used")
    ap.add_argument("--trace-memory-every", type=int, default=50,
                    help="trace Python memory on every Nth parser case (tracemalloc is slow)")
    ap.add_argument("--markdown", type=Path, help="write the summary as Markdown here")
    args = ap.parse_args(argv)

    seeds = fuzz.seeds(REPO, args.vectors, args.max_bytes)
    rng = random.Random(args.seed)
    outcomes: dict[str, collections.Counter] = {"parser": collections.Counter(), "pipeline": collections.Counter()}
    slowest = {"parser": 0.0, "pipeline": 0.0}
    peak = 0
    found: dict[str, tuple[str, list[str], str]] = {}
    broken = 0
    t0 = time.perf_counter()
    for n in range(args.cases):
        seed = rng.choice(seeds)
        muts = fuzz.random_case(rng)
        data = fuzz.apply(seed.data, muts)
        if rng.random() < args.pipeline_share:
            out = fuzz.run_pipeline(data, pixels=rng.random() < 0.5)
        else:
            out = fuzz.run_parser(data, trace_memory=n % args.trace_memory_every == 0)
        outcomes[out.target]["clean end" if out.error is None else type(out.error).__name__] += 1
        slowest[out.target] = max(slowest[out.target], out.seconds)
        peak = max(peak, out.peak_bytes)
        problems = fuzz.check(out)
        if problems:
            broken += 1
            key = problems[0].split(":")[0][:80]
            if key not in found:
                found[key] = (seed.name, [str(m) for m in muts], "; ".join(problems)[:300])
                print(f"case {n}: {seed.name} {[str(m) for m in muts]}: {'; '.join(problems)[:300]}",
                      file=sys.stderr)
        if (n + 1) % 5000 == 0:
            print(f"{n + 1} cases, {broken} broke an invariant, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    elapsed = time.perf_counter() - t0

    lines = [
        f"`python3 tools/fuzz.py --cases {args.cases} --seed {args.seed} --pipeline-share "
        f"{args.pipeline_share}`: {len(seeds)} seed streams (fixtures, shared vectors up to "
        f"{args.max_bytes} bytes), {elapsed / 60:.1f} min.",
        "",
        "| target | cases | outcome counts | slowest case |",
        "|---|---|---|---|",
    ]
    for target, counts in outcomes.items():
        total = sum(counts.values())
        desc = ", ".join(f"{k} {v}" for k, v in counts.most_common())
        lines.append(f"| {target} | {total} | {desc} | {slowest[target]:.2f} s |")
    lines += ["", f"Cases that broke an invariant: {broken}. Largest traced Python memory peak: "
              f"{peak / (1 << 20):.1f} MiB.", ""]
    for key, (name, muts, problem) in found.items():
        lines.append(f"- `{name}` {', '.join(muts)}: {problem}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
