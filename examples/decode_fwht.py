#!/usr/bin/env python3
"""Decode an FWHT (vicodec) stream on a stateless FWHT decoder and write raw I420 frames.

    python3 examples/decode_fwht.py stream.fwht out.yuv            # vicodec (real kernel)
    python3 examples/decode_fwht.py --emulated stream.fwht out.yuv # the emulated device
    python3 examples/decode_fwht.py --make-test-stream stream.fwht # 16 frames from our encoder

The stream is what vicodec's stateful encoder writes (``v4l2-ctl --stream-to``): frames each
with their ``fwht_cframe_hdr``. Every output frame is the CAPTURE buffer as the driver filled it
(YUV420, coded size); its md5 is printed per frame.
"""

import argparse
import hashlib
import sys

from pyv4l2req.pipeline.fwht import FwhtStatelessDecoder

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("input")
ap.add_argument("output", nargs="?")
ap.add_argument("--emulated", action="store_true", help="use pyv4l2req's emulated FWHT device")
ap.add_argument("--make-test-stream", action="store_true", help="write a test stream to INPUT and exit")
args = ap.parse_args()

if args.make_test_stream:
    from pyv4l2req.emulated.fwht_codec import FwhtEncoder, moving_pattern

    enc = FwhtEncoder(640, 368)
    with open(args.input, "wb") as f:
        for raw in moving_pattern(16, 640, 368):
            f.write(enc.encode(raw))
    sys.exit(0)

backend = None
kwargs = {}
if args.emulated:
    from pyv4l2req.emulated import EmulatedBackend

    backend = EmulatedBackend()
    kwargs = {"video_path": "/dev/video1", "media_path": "/dev/media1"}

with open(args.input, "rb") as f:
    data = f.read()
out = open(args.output, "wb") if args.output else None
with FwhtStatelessDecoder(backend, **kwargs) as dec:
    print(f"decoder: {dec.video_path} (media {dec.media_path})", file=sys.stderr)
    for frame in dec.iter_decode([data]):
        kind = "I" if frame.keyframe else "P"
        print(frame.index, kind, f"{frame.width}x{frame.height}", hashlib.md5(frame.data).hexdigest())
        if out:
            out.write(frame.data)
if out:
    out.close()
