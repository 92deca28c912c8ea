#!/usr/bin/env python3
"""Decode H.264 from the library's parts, without ``pyv4l2req.Decoder``: what a front end of
its own (a VA driver, a GStreamer-like pipeline) does.

    python3 examples/decode_with_session.py clip.264                    # the emulated device
    python3 examples/decode_with_session.py clip.264 --device /dev/video1 --mode slice

Three parts, each used directly:

- the codec layer, sans-IO: ``AccessUnitSplitter`` cuts the byte stream into access units,
  ``H264Decoder`` runs the decoding process (POC, DPB, reference marking, output order) and
  hands out events with pictures in spec terms;
- ``v4l2_controls`` turns a picture into the V4L2 stateless H.264 control values;
- ``StatelessSession`` owns the device: formats, buffers, requests. A job is "these controls,
  this bitstream"; it decodes into a CAPTURE buffer that stays ours (dequeued) until we
  release it, so a reference picture is never overwritten.

Prints the md5 of every frame in display order, cropped, as planar 4:2:0 (I420) bytes, and the
md5 of all of them together: what fluster's md5 for the JVT conformance vectors is.
"""

from __future__ import annotations

import argparse
import hashlib
import sys

from pyv4l2req.codec.h264 import AccessUnitSplitter, v4l2_controls
from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode, PictureOutput, PictureRelease, SequenceStart
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import StatelessSession, discover

IN_FLIGHT = 4  # requests queued at once
SPS, PPS = C.V4L2_CID_STATELESS_H264_SPS, C.V4L2_CID_STATELESS_H264_PPS
DECODE_PARAMS, SCALING_MATRIX = C.V4L2_CID_STATELESS_H264_DECODE_PARAMS, C.V4L2_CID_STATELESS_H264_SCALING_MATRIX
SLICE_PARAMS, PRED_WEIGHTS = C.V4L2_CID_STATELESS_H264_SLICE_PARAMS, C.V4L2_CID_STATELESS_H264_PRED_WEIGHTS
FRAME_BASED, SLICE_BASED = (C.V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
                            C.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED)
ANNEX_B = C.V4L2_STATELESS_H264_START_CODE_ANNEX_B


def open_session(device: str, mode: str) -> StatelessSession:
    """A session on the first H.264 stateless decoder of *device*, in decode *mode*."""
    if device == "emulated":
        from pyv4l2req.emulated import EmulatedBackend

        backend = EmulatedBackend()
    else:
        from pyv4l2req.kernel.backend import OSBackend

        backend = OSBackend()
    infos = [i for i in discover(backend) if "h264" in i.codecs and device in ("emulated", i.video_path)]
    if not infos:
        sys.exit(f"no stateless H.264 decoder at {device}")
    session = StatelessSession.open(backend, infos[0], v.V4L2_PIX_FMT_H264_SLICE)
    want = FRAME_BASED if mode == "frame" else SLICE_BASED
    if want not in session.dev.menu_values(C.V4L2_CID_STATELESS_H264_DECODE_MODE) or \
            ANNEX_B not in session.dev.menu_values(C.V4L2_CID_STATELESS_H264_START_CODE):
        sys.exit(f"{infos[0].video_path} has no {mode}-based decoding with Annex B start codes")
    session.dev.set_controls([(C.V4L2_CID_STATELESS_H264_DECODE_MODE, want),
                              (C.V4L2_CID_STATELESS_H264_START_CODE, ANNEX_B)])
    return session


class Player:
    """Acts on the codec's events: configure, submit, output, release."""

    def __init__(self, session: StatelessSession, frame_based: bool) -> None:
        self.session = session
        self.frame_based = frame_based
        self.capture_of: dict[int, int] = {}  # picture timestamp -> its decoded CAPTURE buffer
        self.frames: list[str] = []  # md5 per output frame
        self.whole = hashlib.md5()

    def handle(self, ev: object) -> None:
        if isinstance(ev, SequenceStart):
            # the SPS control comes first: drivers choose their CAPTURE formats from it
            self.session.configure(ev.coded_width, ev.coded_height, capture_formats=[v.V4L2_PIX_FMT_NV12],
                                   capture_buffers=ev.dpb_size + IN_FLIGHT + 1, in_flight=IN_FLIGHT,
                                   initial_controls=[(SPS, v4l2_controls.sps_control(ev.sps))])
        elif isinstance(ev, PictureDecode):
            self.submit(ev)
        elif isinstance(ev, PictureOutput):
            self.output(ev)
        elif isinstance(ev, PictureRelease):
            self.session.release_capture(self.decoded(ev.timestamp_ns))
            del self.capture_of[ev.timestamp_ns]

    def submit(self, pic: PictureDecode) -> None:
        values = v4l2_controls.picture_controls(pic)
        controls = [(SPS, values["sps"]), (PPS, values["pps"]), (DECODE_PARAMS, values["decode_params"])]
        if values["scaling_matrix"] is not None:
            controls.append((SCALING_MATRIX, values["scaling_matrix"]))
        # the first field of a pair keeps its CAPTURE buffer for the second (same timestamp)
        hold = pic.is_first_field
        if self.frame_based:  # one request: every slice, each after a start code
            chunks = [part for s in pic.slices for part in (b"\0\0\1", s.nal)]
            self.session.submit(controls, chunks, pic.timestamp_ns, hold=hold)
            return
        last = len(pic.slices) - 1  # one request per slice, all but the last hold the buffer
        for i, s in enumerate(pic.slices):
            slice_params, pred_weights = v4l2_controls.slice_controls(pic, s)
            extra = [(SLICE_PARAMS, slice_params)] + ([(PRED_WEIGHTS, pred_weights)] if pred_weights else [])
            self.session.submit(controls + extra, [b"\0\0\1", s.nal], pic.timestamp_ns, hold=hold or i < last)

    def decoded(self, ts: int) -> int:
        """The CAPTURE buffer of picture *ts*, waiting for the device if needed."""
        if ts not in self.capture_of:
            done = self.session.wait(ts)
            if done.error:
                print(f"picture ts={ts}: the device flagged an error", file=sys.stderr)
            self.capture_of[ts] = done.index
        return self.capture_of[ts]

    def output(self, ev: PictureOutput) -> None:
        """The frame, cropped, as I420 bytes from the NV12 CAPTURE buffer."""
        index = self.decoded(ev.timestamp_ns)
        fmt = self.session.capture_format
        plane = self.session.capture_planes(index)[0]
        stride, c = fmt.bytesperline[0], ev.crop
        luma = b"".join(plane[(c.top + y) * stride + c.left:(c.top + y) * stride + c.left + c.width]
                        for y in range(c.height))
        chroma_at = stride * fmt.height  # NV12: the CbCr plane follows the luma plane
        cw, ch = (c.width + 1) // 2, (c.height + 1) // 2
        rows = [bytes(plane[chroma_at + (c.top // 2 + y) * stride + (c.left // 2) * 2:][:2 * cw]) for y in range(ch)]
        data = luma + b"".join(r[0::2] for r in rows) + b"".join(r[1::2] for r in rows)
        self.frames.append(hashlib.md5(data).hexdigest())
        self.whole.update(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="an H.264 Annex B file")
    ap.add_argument("--device", default="emulated", help="'emulated' or a /dev/videoN path")
    ap.add_argument("--mode", choices=["frame", "slice"], default="frame", help="V4L2 decode mode")
    args = ap.parse_args(argv)

    with open_session(args.device, args.mode) as session:
        frame_based = args.mode == "frame"
        player = Player(session, frame_based)
        splitter = AccessUnitSplitter()
        # frame-based devices build their reference lists from the DPB: no lists needed here
        codec = H264Decoder(slice_controls=not frame_based)
        with open(args.input, "rb") as f:
            access_units = splitter.feed(f.read()) + splitter.flush()
        for n, au in enumerate(access_units, 1):
            for ev in codec.decode_access_unit(au, n * 1000):  # timestamps: whole microseconds
                player.handle(ev)
        for ev in codec.flush():
            player.handle(ev)
    for i, md5 in enumerate(player.frames):
        print(f"frame {i} {md5}")
    print(f"{len(player.frames)} frames, md5 of all: {player.whole.hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
