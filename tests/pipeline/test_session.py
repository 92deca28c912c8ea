"""DeviceSession's per-picture path against the reference construction of each request.

The session writes control payloads in place (SPS/PPS bytes cached per codec dict, decode
params packed straight into the reused payload) and the slices one by one into the mmap'ed
OUTPUT buffer. A spying backend records what every request really carries — the controls of
each VIDIOC_S_EXT_CTRLS and the OUTPUT bytes of each VIDIOC_QBUF — and the test compares it
with what the code before these fast paths sent: ``uh264.pack`` of every control dict of the
PictureDecode and ``b"".join`` of start code + slice NAL units.
"""

from __future__ import annotations

import ctypes
import dataclasses
from pathlib import Path

import pytest

from pyv4l2req import Decoder
from pyv4l2req.codec.h264 import v4l2_controls
from pyv4l2req.emulated import EmulatedBackend
from pyv4l2req.errors import DecodeError
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import h264 as uh264
from pyv4l2req.uapi import videodev2 as v

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


class Spy(EmulatedBackend):
    """The emulated device, recording the controls and OUTPUT payload of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.session = None
        self.requests: list[dict] = []  # {"controls": [(cid, bytes)], "data": bytes}
        self._pending: list[tuple[int, bytes]] | None = None

    def ioctl(self, fd, request, arg=None):
        if request == v.VIDIOC_S_EXT_CTRLS and arg.which == v.V4L2_CTRL_WHICH_REQUEST_VAL:
            ctrls = ctypes.cast(arg.controls, ctypes.POINTER(v.v4l2_ext_control * arg.count)).contents
            self._pending = [(c.id, ctypes.string_at(c.ptr, c.size)) for c in ctrls]
        elif request == v.VIDIOC_QBUF and v.V4L2_TYPE_IS_OUTPUT(arg.type):
            used = arg.m.planes[0].bytesused
            data = bytes(self.session.out_q.buffers[arg.index].planes[0][:used])
            self.requests.append({"controls": self._pending, "data": data})
            self._pending = None
        return super().ioctl(fd, request, arg)


def _expected(pic, frame_based: bool, annexb: bool) -> list[dict]:
    """The requests of *pic* as the reference construction makes them."""
    ctrl = v4l2_controls.picture_controls(pic)
    common = [(C.V4L2_CID_STATELESS_H264_SPS, uh264.pack(uh264.v4l2_ctrl_h264_sps, ctrl["sps"])),
              (C.V4L2_CID_STATELESS_H264_PPS, uh264.pack(uh264.v4l2_ctrl_h264_pps, ctrl["pps"])),
              (C.V4L2_CID_STATELESS_H264_DECODE_PARAMS,
               uh264.pack(uh264.v4l2_ctrl_h264_decode_params, ctrl["decode_params"]))]
    if ctrl.get("scaling_matrix") is not None:
        common.append((C.V4L2_CID_STATELESS_H264_SCALING_MATRIX,
                       uh264.pack(uh264.v4l2_ctrl_h264_scaling_matrix, ctrl["scaling_matrix"])))
    prefix = b"\x00\x00\x01" if annexb else b""
    if frame_based:
        return [{"controls": common, "data": b"".join(prefix + s.nal for s in pic.slices)}]
    out = []
    for s in pic.slices:
        slice_params, pred_weights = v4l2_controls.slice_controls(pic, s)
        ctrls = common + [(C.V4L2_CID_STATELESS_H264_SLICE_PARAMS,
                           uh264.pack(uh264.v4l2_ctrl_h264_slice_params, slice_params))]
        if pred_weights is not None:
            ctrls.append((C.V4L2_CID_STATELESS_H264_PRED_WEIGHTS,
                          uh264.pack(uh264.v4l2_ctrl_h264_pred_weights, pred_weights)))
        out.append({"controls": ctrls, "data": prefix + s.nal})
    return out


@pytest.mark.parametrize("mode", [("frame", "annexb"), ("slice", "none"), ("slice", "annexb")],
                         ids=lambda m: f"{m[0]}-{m[1]}")
@pytest.mark.parametrize("name", ["high_cqm_weighted_160x96.h264", "multislice_176x144.h264",
                                  "mbaff_176x144.h264", "main_bframes_176x144.h264"])
def test_requests_carry_what_the_reference_construction_makes(name, mode):
    backend = Spy()
    checked = 0
    with Decoder(device="emulated", backend=backend, decode_mode=mode[0], start_code=mode[1]) as dec:
        session = backend.session = dec.session
        real_submit = session.submit
        pictures = []

        def submit(pic):
            start = len(backend.requests)
            n = real_submit(pic)
            got = backend.requests[start:]
            assert got == _expected(pic, session.frame_based, session.annexb)
            assert n == len(got)
            pictures.append(pic)
            return n

        session.submit = submit
        frames = list(dec.decode(FIXTURES / name))
        checked = len(pictures)
    assert frames and checked == len(frames)
    if name.startswith("high_cqm_weighted") and mode[0] == "slice":
        ids = {cid for r in backend.requests for cid, _ in r["controls"]}
        assert {C.V4L2_CID_STATELESS_H264_PRED_WEIGHTS, C.V4L2_CID_STATELESS_H264_SCALING_MATRIX} <= ids


def test_a_picture_larger_than_the_output_buffer_is_an_error_and_loses_no_buffer():
    with Decoder(device="emulated") as dec:
        session = dec.session
        captured = []
        real_submit = session.submit

        def submit(pic):
            captured.append(pic)
            return real_submit(pic)

        session.submit = submit
        frames = list(dec.feed((FIXTURES / "main_bframes_176x144.h264").read_bytes()))
        assert captured and frames
        pic = captured[-1]
        free_before = sorted(session.core._free_out)
        size = session.out_q.buffers[0].length
        # with its start code and the other slices, a first slice this long does not fit
        pic.slices = [dataclasses.replace(pic.slices[0], nal=bytes(size - 10))] + list(pic.slices)
        pic.timestamp_ns += 10**9
        with pytest.raises(DecodeError, match=f"-byte picture does not fit the {size}-byte OUTPUT buffer"):
            session.submit(pic)
        assert sorted(session.core._free_out) == free_before
