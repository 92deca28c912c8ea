#!/usr/bin/env python3
"""Decode an H.264 file and print one md5 per frame (display order) — the three-line use.

    python3 examples/decode_to_md5.py ../shared/vectors/JVT-AVC_V1/BA1_Sony_D.jsv
"""

import sys

import pyv4l2req

for frame in pyv4l2req.decode_file(sys.argv[1]):
    print(frame.index, f"{frame.width}x{frame.height}", frame.md5(), "CORRUPT" if frame.corrupt else "")
