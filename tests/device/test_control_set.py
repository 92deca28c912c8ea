"""ControlSet (prepared VIDIOC_S_EXT_CTRLS) against set_controls, on visl and the emulated device.

The prepared path must put the same values into a request as ``set_controls`` and fail with
the same error; the values are read back from the completed request (G_EXT_CTRLS), the
kernel being the oracle.
"""

from __future__ import annotations

import errno

import pytest

from pyv4l2req.errors import V4L2Error
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import h264 as uh264
from pyv4l2req.uapi import videodev2 as v


def _cycle_with(ctx, cs, ts: int) -> tuple[int, int, int]:
    """One request whose controls come from *cs*, through qbuf/wait/dqbuf with positional arguments and fds."""
    slot = ctx.pool.acquire()
    try:
        ctx.cap_q.qbuf(0, 0, 0, None, 0)
        n = ctx.out_q.buffers[0].write(ctx.pic.nal)
        cs.apply(slot.request.fd)
        ctx.out_q.qbuf(0, n, ts, slot.request.fd, 0)
        slot.request.queue()
        slot.request.wait(10)
        for cid, payload in ctx.pic.controls:
            assert ctx.dev.get_control(cid, request=slot.request) == payload, hex(cid)
        out = ctx.out_q.dqbuf()
        assert ctx.cap_q.wait(10)
        cap = ctx.cap_q.dqbuf()
    finally:
        ctx.pool.release(slot)
    assert out[:2] == (0, ts) and cap[:2] == (0, ts)
    return cap


def test_control_set_puts_the_same_values_as_set_controls(h264_context):
    ctx = h264_context(n_cap=1)
    ctx.setup(4, 4)
    cids = [cid for cid, _ in ctx.pic.controls]
    cs = ctx.dev.prepare_controls(cids)
    assert [len(p) for p in cs.payloads] == [len(payload) for _, payload in ctx.pic.controls]
    for ts in (1000, 2000, 3000):  # reused: written again before every request
        for mv, (_cid, payload) in zip(cs.payloads, ctx.pic.controls):
            mv[:] = payload
        _cycle_with(ctx, cs, ts)
    # decode params packed straight into the payload: same bytes as pack()
    values = uh264.unpack(uh264.v4l2_ctrl_h264_decode_params, ctx.pic.controls[2][1])
    cs.payloads[2][:] = bytes(560)
    uh264.pack_into(uh264.v4l2_ctrl_h264_decode_params, cs.payloads[2], 0, values)
    assert bytes(cs.payloads[2]) == ctx.pic.controls[2][1]


def test_control_set_errors_like_set_controls(h264_context):
    ctx = h264_context()
    ctx.setup(4, 4)
    dev = ctx.dev
    bad_sps = uh264.pack(uh264.v4l2_ctrl_h264_sps, {  # a High profile SPS with chroma_format_idc 4
        "profile_idc": 100, "level_idc": 40, "chroma_format_idc": 4, "pic_width_in_mbs_minus1": 3,
        "pic_height_in_map_units_minus1": 3, "flags": uh264.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY})
    items = [(C.V4L2_CID_STATELESS_H264_PPS, ctx.pic.controls[1][1]), (C.V4L2_CID_STATELESS_H264_SPS, bad_sps)]
    cs = dev.prepare_controls([cid for cid, _ in items])
    for mv, (_cid, payload) in zip(cs.payloads, items):
        mv[:] = payload
    req = ctx.media.alloc_request()
    try:
        # into a request (drivers may validate now or at MEDIA_REQUEST_IOC_QUEUE) and as the
        # current values (validated now: EINVAL)
        assert _outcome(lambda: cs.apply(req.fd)) == _outcome(lambda: dev.set_controls(items, request=req))
        prepared = _outcome(cs.apply)
        assert prepared == _outcome(lambda: dev.set_controls(items))
        assert prepared is not None and prepared[0] == errno.EINVAL and "H264_SPS" in prepared[1]
    finally:
        req.close()


def _outcome(fn) -> tuple[int, str] | None:
    try:
        fn()
    except V4L2Error as e:
        return e.errno, str(e)
    return None


def test_control_set_takes_compound_controls_only(h264_context):
    ctx = h264_context()
    ctx.setup(4, 4)
    with pytest.raises(ValueError, match="not a fixed-size compound control"):
        ctx.dev.prepare_controls([C.V4L2_CID_STATELESS_H264_DECODE_MODE])
    with pytest.raises(ValueError, match="at least one"):
        ctx.dev.prepare_controls([])


def test_control_set_switches_between_current_and_request_values(h264_context):
    """apply(None) after apply(request fd) and back again: each call reaches its target (the
    control set only rewrites which/request_fd when the target changes)."""
    ctx = h264_context(n_cap=1)
    ctx.setup(4, 4)
    cids = [cid for cid, _ in ctx.pic.controls]
    cs = ctx.dev.prepare_controls(cids)
    dp = cids.index(C.V4L2_CID_STATELESS_H264_DECODE_PARAMS)
    original = ctx.pic.controls[dp][1]

    def fill(frame_num: int | None = None) -> None:
        for mv, (_cid, payload) in zip(cs.payloads, ctx.pic.controls):
            mv[:] = payload
        if frame_num is not None:
            values = uh264.unpack(uh264.v4l2_ctrl_h264_decode_params, original)
            values["frame_num"] = frame_num
            uh264.pack_into(uh264.v4l2_ctrl_h264_decode_params, cs.payloads[dp], 0, values)

    def current_frame_num() -> int:
        got = ctx.dev.get_control(C.V4L2_CID_STATELESS_H264_DECODE_PARAMS)
        return uh264.unpack(uh264.v4l2_ctrl_h264_decode_params, got)["frame_num"]

    seen, real_ioctl = [], cs._ioctl

    def recording(fd, request, ec):  # what reaches the device: the target of each call
        seen.append((ec.which, ec.request_fd))
        return real_ioctl(fd, request, ec)

    cs._ioctl = recording
    for round_ in range(2):
        fill(5 + round_)
        cs.apply(None)
        assert current_frame_num() == 5 + round_
        fill()
        _cycle_with(ctx, cs, 1000 * (round_ + 1))  # the request gets the original values
        fill(9 + round_)
        cs.apply(None)
        assert current_frame_num() == 9 + round_
    cur, req = v.V4L2_CTRL_WHICH_CUR_VAL, v.V4L2_CTRL_WHICH_REQUEST_VAL
    assert [w for w, _fd in seen] == [cur, req, cur] * 2
    assert all(fd == 0 for w, fd in seen if w == cur) and all(fd > 0 for w, fd in seen if w == req)
