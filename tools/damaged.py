#!/usr/bin/env python3
"""Damaged streams: how many frames the CLI gets out of them, next to FFmpeg on the same files.

    python3 tools/damaged.py                         # table on stdout
    python3 tools/damaged.py --markdown docs/damaged.md

Each damage is made from a clean stream (shared conformance vectors and the project's
fixtures, read in place) and written to a temporary file: junk with start codes spliced in
(the worst case for a parser: it looks like NAL units), junk without start codes, a zeroed
range, a truncation, a burst of bit flips, each at a few positions. Then

- ``pyv4l2req-decode FILE --device emulated --framemd5 ...``: frames out, exit code, and
  whether a traceback was printed;
- ``ffmpeg -i FILE -f framemd5 -`` (software decoder, default error concealment): frames out.

The table is the evidence for the hostile-input issue's "at least as many frames as FFmpeg,
no traceback, a documented exit code". Not a test: FFmpeg's count is a reference, not a rule.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO.parent / "shared" / "vectors"

#: in the --markdown file, the hand-written text starts at this line (kept when regenerating)
KEEP_MARKER = "<!-- written by hand, kept by tools/damaged.py --markdown -->"

#: (name, function(data, rng, where) -> damaged data); *where* is a fraction of the file
DAMAGES = {
    "junk with start codes": lambda d, rng, w: _splice(d, rng, w, start_codes=True),
    "junk, no start code": lambda d, rng, w: _splice(d, rng, w, start_codes=False),
    "zeroed 4 KiB": lambda d, rng, w: d[:int(len(d) * w)] + bytes(4096) + d[int(len(d) * w) + 4096:],
    "truncated": lambda d, rng, w: d[:int(len(d) * w)],
    "64 bit flips in 1 KiB": lambda d, rng, w: _flips(d, rng, w),
}
WHERE = (0.1, 0.5, 0.9)
STREAMS = ("JVT-AVC_V1/BA1_FT_C.264", "JVT-AVC_V1/MR2_TANDBERG_E.264", "JVT-FR-EXT/FRExt1_Panasonic.avc",
           "fixtures/main_bframes_176x144.h264")


MARKDOWN_INTRO = """# Damaged streams: pyv4l2req next to FFmpeg

Made by `python3 tools/damaged.py --markdown docs/damaged.md`: each clean stream (shared
conformance vectors, the project's fixtures) damaged one way at 10, 50 or 90 % of the file,
decoded by `pyv4l2req-decode --device emulated` (frames out, exit code, traceback or not) and
by FFmpeg's software decoder with its default error concealment (frames out). FFmpeg's count
is a reference, not a rule; bold marks a file where pyv4l2req decoded fewer frames.

"""


def _splice(d: bytes, rng: random.Random, w: float, start_codes: bool) -> bytes:
    junk = bytearray(rng.getrandbits(8) for _ in range(2048))
    if start_codes:
        for p in range(0, len(junk) - 4, 256):
            junk[p:p + 3] = b"\0\0\1"
    else:
        junk = junk.replace(b"\0\0", b"\0\x80")
    pos = int(len(d) * w)
    return d[:pos] + bytes(junk) + d[pos:]


def _flips(d: bytes, rng: random.Random, w: float) -> bytes:
    out = bytearray(d)
    pos = int(len(d) * w)
    for _ in range(64):
        i = min(len(out) - 1, pos + rng.randrange(1024))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _cli() -> list[str]:
    exe = shutil.which("pyv4l2req-decode")
    return [exe] if exe else [sys.executable, "-m", "pyv4l2req.cli"]


def ours(path: Path, tmp: Path) -> tuple[int, int, bool]:
    md5 = tmp / "ours.md5"
    r = subprocess.run([*_cli(), str(path), "--device", "emulated", "-q", "--framemd5", str(md5)],
                       capture_output=True, text=True, timeout=600)
    frames = sum(1 for line in md5.read_text().splitlines() if line and not line.startswith("#")) \
        if md5.exists() else 0
    return frames, r.returncode, "Traceback" in r.stderr


def ffmpeg(path: Path) -> int:
    r = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "quiet", "-i", str(path), "-f", "framemd5", "-"],
                       capture_output=True, text=True, timeout=600)
    return sum(1 for line in r.stdout.splitlines() if line and not line.startswith("#"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("damaged.py: ffmpeg is needed for the reference counts", file=sys.stderr)
        return 2
    rows = ["| stream | damage | at | frames (clean) | pyv4l2req frames | exit | traceback | FFmpeg frames |",
            "|---|---|---|---|---|---|---|---|"]
    worse = tracebacks = 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for rel in STREAMS:
            src = (REPO / rel) if rel.startswith("fixtures/") else VECTORS / rel
            if not src.exists():
                print(f"damaged.py: skipping {rel} (not found)", file=sys.stderr)
                continue
            data = src.read_bytes()
            clean = ffmpeg(src)
            for dname, damage in DAMAGES.items():
                for w in WHERE:
                    rng = random.Random(f"{args.seed}{rel}{dname}{w}")
                    bad = tmp / f"bad{src.suffix}"
                    bad.write_bytes(damage(data, rng, w))
                    n, code, tb = ours(bad, tmp)
                    ref = ffmpeg(bad)
                    worse += n < ref
                    tracebacks += tb
                    rows.append(f"| `{src.name}` | {dname} | {int(w * 100)} % | {clean} | "
                                f"{'**' + str(n) + '**' if n < ref else n} | {code} | {'yes' if tb else 'no'} | {ref} |")
                    print(rows[-1], file=sys.stderr)
    summary = (f"{len(rows) - 2} damaged files: pyv4l2req decoded fewer frames than FFmpeg on {worse} "
               f"(bold), printed a traceback on {tracebacks}.")
    text = "\n".join([*rows, "", summary, ""])
    print(text)
    if args.markdown:
        # the hand-written part after KEEP_MARKER in an existing file is kept
        old = args.markdown.read_text() if args.markdown.exists() else ""
        kept = "\n" + old[old.index(KEEP_MARKER):] if KEEP_MARKER in old else ""
        args.markdown.write_text(MARKDOWN_INTRO + text + kept)
    return 0


if __name__ == "__main__":
    sys.exit(main())
