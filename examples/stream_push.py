#!/usr/bin/env python3
"""Push an H.264 byte stream into a Decoder as it arrives (here: 4 KiB reads from stdin or a
file), write I420 frames to stdout, and report the device and the statistics on stderr.

    python3 examples/stream_push.py clip.h264 > out.yuv
    cat clip.h264 | python3 examples/stream_push.py - > out.yuv

The pattern: ``feed(chunk)`` takes the bytes and decodes them before it returns; the frames
wait in the decoder (at most ``max_ready`` of them, the rest of the input waits compressed)
until ``frames()`` hands them out; ``flush()`` ends the stream and hands out the rest. A
fatal error is raised by the pull that would give the next frame, after every frame decoded
before it.
"""

import sys

import pyv4l2req

src = sys.stdin.buffer if sys.argv[1:] in ([], ["-"]) else open(sys.argv[1], "rb")
out = sys.stdout.buffer
with pyv4l2req.Decoder(device="auto", max_ready=4) as dec:
    if dec.device_notice:
        print(dec.device_notice, file=sys.stderr)
    while chunk := src.read(4096):
        dec.feed(chunk)
        for frame in dec.frames():
            out.write(frame.to_bytes("i420"))
    for frame in dec.flush():
        out.write(frame.to_bytes("i420"))
    s = dec.stats
    print(f"{dec.device_name}: {s.frames} frames, {s.corrupt} corrupt, {s.reconfigurations} reconfigurations",
          file=sys.stderr)
