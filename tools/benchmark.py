#!/usr/bin/env python3
"""Userspace cost per frame of pyv4l2req on a 1080p H.264 stream, and peak memory.

    python3 tools/benchmark.py                  # makes ~/.cache/pyv4l2req/bench_1080p.h264 once
    python3 tools/benchmark.py --input clip.h264 --frames 300

What is measured, per access unit (one frame; median, p90 and mean over the stream):

A. **codec layer** — Annex B splitting + SPS/PPS/slice parsing + POC/DPB/reference lists/output
   order + building every control value + packing them to the kernel structs
   (``H264Decoder`` + ``uapi.h264.pack``): pure userspace, what a real board pays too.
B. **pipeline on the emulated device** — everything ``Decoder.feed`` does (A + requests +
   S_EXT_CTRLS + QBUF/DQBUF + QUEUE/poll/REINIT + CAPTURE recycling), with the emulated
   device's pixel work (FFmpeg decoding the slice data, ``stats.pixel_seconds``) subtracted and
   the copy of each output frame out of its CAPTURE buffer reported separately. The emulated
   "kernel" is Python too, so B over-states what the ioctls cost on a real kernel.

The target of the H.264 issue is ≤ 100 µs/frame median for parse + DPB + controls + ioctls.
The numbers go to docs/benchmark.md (``--markdown``). Never a test: timings are not asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pyv4l2req"


def make_stream(path: Path, frames: int) -> None:
    """A 1080p High-profile stream with B-pyramid, 3 references and 4 slices per picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=1920x1080:rate=30", "-frames:v", str(frames), "-pix_fmt", "yuv420p",
         "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
         "-x264-params", "bframes=3:b-pyramid=normal:ref=3:keyint=60:slices=4",
         "-f", "h264", str(path)],
        check=True,
    )


def access_units(data: bytes) -> list[bytes]:
    """The stream cut into access units (bytes), with our own splitter."""
    from pyv4l2req.codec.h264.nal import AccessUnitSplitter

    sp = AccessUnitSplitter()
    aus = sp.feed(data) + sp.flush()
    return [b"".join(b"\x00\x00\x00\x01" + n.data for n in au.nals) for au in aus]


def stats_us(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "median": statistics.median(s) * 1e6,
        "p90": s[int(len(s) * 0.9)] * 1e6,
        "mean": statistics.fmean(s) * 1e6,
        "n": len(s),
    }


def bench_codec(au_bytes: list[bytes]) -> dict[str, float]:
    from pyv4l2req.codec.h264 import decoder as h264dec
    from pyv4l2req.codec.h264.nal import AccessUnitSplitter
    from pyv4l2req.uapi import h264 as uh264

    # like the pipeline (DeviceSession.submit): the per-sequence controls go through a
    # PackCache (packed again only when their value changes), the others are packed every time
    per_sequence = uh264.PackCache()
    packers = {
        "sps": (per_sequence.pack, uh264.v4l2_ctrl_h264_sps),
        "pps": (per_sequence.pack, uh264.v4l2_ctrl_h264_pps),
        "scaling_matrix": (per_sequence.pack, uh264.v4l2_ctrl_h264_scaling_matrix),
        "decode_params": (uh264.pack, uh264.v4l2_ctrl_h264_decode_params),
    }
    sp = AccessUnitSplitter()
    dec = h264dec.H264Decoder()
    samples = []
    ts = 1000
    for data in au_bytes + [b""]:
        t0 = time.perf_counter()
        aus = sp.feed(data) if data else sp.flush()
        for au in aus:
            for ev in dec.decode_access_unit(au, ts):
                if isinstance(ev, h264dec.PictureDecode):
                    for key, (pack, st) in packers.items():
                        if ev.controls.get(key) is not None:
                            pack(st, ev.controls[key])
                    for s in ev.slices:
                        uh264.pack(uh264.v4l2_ctrl_h264_slice_params, s.slice_params)
                        if s.pred_weights is not None:
                            uh264.pack(uh264.v4l2_ctrl_h264_pred_weights, s.pred_weights)
            ts += 1000
        samples.append(time.perf_counter() - t0)
    dec.flush()
    return stats_us(samples[1:])  # the first call only buffers the first AU


def bench_pipeline(au_bytes: list[bytes]) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    from pyv4l2req import Decoder
    from pyv4l2req.emulated import EmulatedBackend

    backend = EmulatedBackend()
    copy_s = [0.0]
    with Decoder(device="emulated", backend=backend) as dec:
        session = dec.session
        real_frame = session.frame

        def timed_frame(*a, **k):
            t0 = time.perf_counter()
            try:
                return real_frame(*a, **k)
            finally:
                copy_s[0] += time.perf_counter() - t0

        session.frame = timed_frame  # type: ignore[method-assign]
        userspace, copies = [], []
        frames = 0
        for data in au_bytes:
            px0, cp0 = backend.stats.pixel_seconds, copy_s[0]
            t0 = time.perf_counter()
            frames += sum(1 for _ in dec.feed(data))
            dt = time.perf_counter() - t0
            px, cp = backend.stats.pixel_seconds - px0, copy_s[0] - cp0
            userspace.append(dt - px - cp)
            copies.append(cp)
        frames += sum(1 for _ in dec.flush())
        n = max(1, frames)
        ioctls = {k: v / n for k, v in sorted(backend.stats.ioctls.items())}
    out_copies = [c for c in copies if c > 0]
    return stats_us(userspace[1:]), stats_us(out_copies or [0.0]), ioctls


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=Path, help="an Annex B H.264 file (default: a generated 1080p stream)")
    ap.add_argument("--frames", type=int, default=240, help="frames of the generated stream")
    ap.add_argument("--markdown", type=Path, help="write the results as Markdown here")
    args = ap.parse_args(argv)
    path = args.input or CACHE / f"bench_1080p_{args.frames}.h264"
    if not path.exists():
        print(f"making {path} (1080p, {args.frames} frames, libx264)...", file=sys.stderr)
        make_stream(path, args.frames)
    data = path.read_bytes()
    aus = access_units(data)
    a = bench_codec(aus)
    b, copy, ioctls = bench_pipeline(aus)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "# Benchmark: userspace cost per frame",
        "",
        f"`python3 tools/benchmark.py` on {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores; stream: `{path.name}` ({len(aus)} access units, 1920x1080, "
        "High profile, B-pyramid, 3 refs, 4 slices/picture).",
        "",
        "| what (per frame) | median µs | p90 µs | mean µs |",
        "|---|---|---|---|",
        f"| A. codec layer: split + parse + POC/DPB/ref lists/output + controls + pack | {a['median']:.0f} | {a['p90']:.0f} | {a['mean']:.0f} |",
        f"| B. whole pipeline on the emulated device, pixels and frame copy excluded | {b['median']:.0f} | {b['p90']:.0f} | {b['mean']:.0f} |",
        f"| copy of an output frame out of its CAPTURE buffer (numpy) | {copy['median']:.0f} | {copy['p90']:.0f} | {copy['mean']:.0f} |",
        "",
        f"Peak RSS of the benchmark process: {rss_mib:.0f} MiB.",
        "",
        "ioctls per frame: " + ", ".join(f"{k} {v:.2f}" for k, v in ioctls.items()),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
