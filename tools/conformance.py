#!/usr/bin/env python3
"""Decode the conformance vectors through pyv4l2req and compare with the reference md5s.

The oracle is fluster's expected md5 of the whole decoded output (planar I420, cropped, every
frame in display order) for the JVT vectors, and the per-frame NV12 md5s that come with the
cros-codecs clips. Vectors are read from ``../shared/vectors`` (never copied).

    python3 tools/conformance.py                         # all vectors, emulated device
    python3 tools/conformance.py --device /dev/video1    # a real decoder
    python3 tools/conformance.py --markdown docs/conformance.md
    python3 tools/conformance.py --only BA1_Sony_D --only HCAFF1_HHI
    tools/vmtest --exec "python3 tools/conformance.py --device visl --check frames"   # in the VM

``--check frames`` is for devices that decode no pixels (visl draws debug text): a vector
passes when every frame comes back with no error from the kernel. ``--device`` takes a
``/dev/videoN`` path, ``auto``, ``emulated`` or a driver name (``visl``, ``hantro-vpu``, ...).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pyv4l2req.testing.vectors import vectors_root  # noqa: E402

DEFAULT_VECTORS = vectors_root()  # $PYV4L2REQ_VECTORS or ../shared/vectors


@dataclass
class Vector:
    name: str
    path: Path
    suite: str
    expected_md5: str | None  # whole-output md5 (fluster), or None
    frame_md5s: list[str] | None  # per-frame NV12 md5s (cros-codecs), or None
    frames: int | None = None  # how many frames the reference decoder outputs


@dataclass
class Result:
    name: str
    suite: str
    status: str  # PASS, FAIL, UNSUPPORTED, ERROR
    frames: int
    corrupt: int
    seconds: float
    detail: str = ""


def load_vectors(root: Path) -> list[Vector]:
    """Every vector present that has an oracle, as found by ``pyv4l2req.testing.vectors``
    (MANIFEST.tsv, the fluster suites, the clips' .md5 files): fluster's whole-output md5 when
    it is of 8-bit I420 output or the vector is an expected refusal, else per-frame NV12 md5s."""
    from pyv4l2req.testing import vectors as tv

    out = []
    for v in tv.vectors(root):
        suite = v.suite
        i420 = v.output_format in (None, "yuv420p")
        if v.expected_md5 and (i420 or not v.decodable):
            out.append(Vector(v.name, v.path, suite, v.expected_md5, None, v.frames))
        elif v.frame_md5s:
            out.append(Vector(v.name, v.path, suite, None, list(v.frame_md5s), v.frames))
    return out


def resolve_device(device: str) -> str:
    """A driver name (``visl``) -> its video node; paths, ``auto`` and ``emulated`` unchanged."""
    if device in ("auto", "emulated") or device.startswith("/"):
        return device
    from pyv4l2req import discover

    for info in discover():
        if info.driver == device or info.card == device:
            return info.video_path
    raise SystemExit(f"no stateless decoder with driver {device!r}")


def run_one(vec: Vector, device: str, check: str = "md5", decode_mode: str = "auto") -> Result:
    from pyv4l2req import Decoder
    from pyv4l2req.errors import PyV4L2ReqError, UnsupportedStream

    t0 = time.perf_counter()
    whole = hashlib.md5()
    frames = corrupt = 0
    mismatch = ""
    try:
        with Decoder(device=device, decode_mode=decode_mode) as dec:
            for frame in dec.decode(str(vec.path)):
                whole.update(frame.to_bytes("i420"))
                if vec.frame_md5s is not None:
                    got = frame.md5("nv12")
                    if not mismatch and (frames >= len(vec.frame_md5s) or got != vec.frame_md5s[frames]):
                        mismatch = f"frame {frames} differs"
                frames += 1
                corrupt += frame.corrupt
    except UnsupportedStream as e:
        return Result(vec.name, vec.suite, "UNSUPPORTED", frames, corrupt, time.perf_counter() - t0, str(e))
    except (PyV4L2ReqError, OSError, ValueError) as e:
        return Result(vec.name, vec.suite, "ERROR", frames, corrupt, time.perf_counter() - t0, f"{type(e).__name__}: {e}")
    dt = time.perf_counter() - t0
    if check == "frames":
        ok = frames == vec.frames and corrupt == 0
        detail = "" if ok else f"{frames} frames ({corrupt} corrupt), expected {vec.frames}"
        return Result(vec.name, vec.suite, "PASS" if ok else "FAIL", frames, corrupt, dt, detail)
    if vec.expected_md5 is not None:
        ok = whole.hexdigest() == vec.expected_md5
        detail = "" if ok else f"md5 {whole.hexdigest()} != {vec.expected_md5}"
    else:
        assert vec.frame_md5s is not None
        if not mismatch and frames != len(vec.frame_md5s):
            mismatch = f"{frames} frames, expected {len(vec.frame_md5s)}"
        ok, detail = not mismatch, mismatch
    return Result(vec.name, vec.suite, "PASS" if ok else "FAIL", frames, corrupt, dt, detail)


def to_markdown(results: list[Result], device: str, check: str = "md5", decode_mode: str = "auto") -> str:
    oracle = ("fluster's md5 of the whole I420 output (JVT suites), per-frame NV12 md5s (cros-codecs)"
              if check == "md5" else "every frame comes back (as many as FFmpeg outputs), no errno, no error flag")
    lines = [
        f"## Device `{device}`, decode mode `{decode_mode}`, check `{check}`",
        "",
        f"Produced by `python3 tools/conformance.py --device {device} --decode-mode {decode_mode} "
        f"--check {check} --markdown FILE`.",
        f"Oracle: {oracle}.",
        "",
    ]
    for suite in sorted({r.suite for r in results}):
        rs = [r for r in results if r.suite == suite]
        npass = sum(r.status == "PASS" for r in rs)
        lines += [f"### {suite}: {npass}/{len(rs)} pass", "", "| vector | result | frames | corrupt | seconds | detail |", "|---|---|---|---|---|---|"]
        for r in sorted(rs, key=lambda r: r.name):
            lines.append(f"| {r.name} | {r.status} | {r.frames} | {r.corrupt} | {r.seconds:.1f} | {r.detail.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", type=Path, default=DEFAULT_VECTORS)
    ap.add_argument("--device", default="emulated")
    ap.add_argument("--only", action="append", help="vector name (repeatable)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--markdown", type=Path, help="write a Markdown table here")
    ap.add_argument("--decode-mode", choices=["auto", "frame", "slice"], default="auto")
    ap.add_argument("--check", choices=["md5", "frames"], default="md5",
                    help="md5: pixels against the reference (default); frames: every frame back, no error")
    args = ap.parse_args(argv)
    vectors = load_vectors(args.vectors)
    if args.only:
        vectors = [v for v in vectors if v.name in args.only or v.path.name in args.only]
    if not vectors:
        print("no vectors selected", file=sys.stderr)
        return 2
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        device = resolve_device(args.device)
        n = len(vectors)
        results = list(ex.map(run_one, vectors, [device] * n, [args.check] * n, [args.decode_mode] * n))
    for r in results:
        print(f"{r.status:12s} {r.suite:12s} {r.name:24s} {r.frames:5d} frames {r.seconds:6.1f}s {r.detail}")
    npass = sum(r.status == "PASS" for r in results)
    print(f"{npass}/{len(results)} pass")
    if args.markdown:
        args.markdown.write_text(to_markdown(results, args.device, args.check, args.decode_mode) + "\n")
    return 0 if all(r.status in ("PASS", "UNSUPPORTED") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
