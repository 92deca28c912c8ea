"""Controls: QUERY_EXT_CTRL, QUERYMENU, G/S/TRY_EXT_CTRLS, controls through requests."""

from __future__ import annotations

import errno

import pytest

from pyv4l2req.errors import V4L2Error
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import h264 as uh264
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import VideoDevice

SIZES = {
    C.V4L2_CID_STATELESS_H264_SPS: (v.V4L2_CTRL_TYPE_H264_SPS, 1048),
    C.V4L2_CID_STATELESS_H264_PPS: (v.V4L2_CTRL_TYPE_H264_PPS, 12),
    C.V4L2_CID_STATELESS_H264_SCALING_MATRIX: (v.V4L2_CTRL_TYPE_H264_SCALING_MATRIX, 480),
    C.V4L2_CID_STATELESS_H264_PRED_WEIGHTS: (v.V4L2_CTRL_TYPE_H264_PRED_WEIGHTS, 772),
    C.V4L2_CID_STATELESS_H264_SLICE_PARAMS: (v.V4L2_CTRL_TYPE_H264_SLICE_PARAMS, 152),
    C.V4L2_CID_STATELESS_H264_DECODE_PARAMS: (v.V4L2_CTRL_TYPE_H264_DECODE_PARAMS, 560),
}


@pytest.fixture
def dev(h264_device):
    backend, info = h264_device
    d = VideoDevice(backend, info.video_path)
    yield d
    d.close()


def test_query_compound_controls(dev):
    for cid, (ctype, size) in SIZES.items():
        info = dev.query_ext_ctrl(cid)
        assert info.id == cid and info.type == ctype
        assert info.elem_size == size and info.elems == 1 and info.payload_size == size
        assert info.has_payload
    with pytest.raises(V4L2Error) as ei:
        dev.query_ext_ctrl(C.V4L2_CID_CODEC_STATELESS_BASE + 99)  # no such control
    assert ei.value.errno == errno.EINVAL


def test_menus(dev):
    info = dev.query_ext_ctrl(C.V4L2_CID_STATELESS_H264_DECODE_MODE)
    assert info.type == v.V4L2_CTRL_TYPE_MENU and (info.minimum, info.maximum) == (0, 1)
    assert dev.menu_values(C.V4L2_CID_STATELESS_H264_DECODE_MODE) == [0, 1]
    assert dev.menu_items(C.V4L2_CID_STATELESS_H264_DECODE_MODE) == {0: "Slice-Based", 1: "Frame-Based"}
    assert dev.menu_values(C.V4L2_CID_STATELESS_H264_START_CODE) == [0, 1]
    assert dev.menu_items(C.V4L2_CID_STATELESS_H264_START_CODE) == {0: "No Start Code", 1: "Annex B Start Code"}
    with pytest.raises(ValueError, match="not a menu"):
        dev.menu_values(C.V4L2_CID_STATELESS_H264_SPS)


def test_plain_controls_roundtrip(dev):
    mode = C.V4L2_CID_STATELESS_H264_DECODE_MODE
    assert dev.get_control(mode) == 0  # default: slice-based
    dev.set_controls([(mode, 1), (C.V4L2_CID_STATELESS_H264_START_CODE, 1)])
    assert dev.get_controls([mode, C.V4L2_CID_STATELESS_H264_START_CODE]) == [1, 1]
    dev.try_controls([(mode, 0)])
    assert dev.get_control(mode) == 1  # TRY does not apply
    with pytest.raises(V4L2Error) as ei:
        dev.set_controls([(mode, 2)])
    assert ei.value.errno == errno.ERANGE
    assert "H264_DECODE_MODE" in str(ei.value)
    with pytest.raises(TypeError):
        dev.set_controls([(mode, b"\x01")])


def test_compound_controls_roundtrip_and_validation(dev):
    sps_vals = {"profile_idc": 100, "level_idc": 40, "chroma_format_idc": 1, "log2_max_frame_num_minus4": 2,
                "pic_order_cnt_type": 0, "log2_max_pic_order_cnt_lsb_minus4": 3, "max_num_ref_frames": 4,
                "pic_width_in_mbs_minus1": 119, "pic_height_in_map_units_minus1": 67,
                "flags": uh264.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY | uh264.V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE}
    sps = uh264.pack(uh264.v4l2_ctrl_h264_sps, sps_vals)
    dev.set_controls([(C.V4L2_CID_STATELESS_H264_SPS, sps)])
    assert dev.get_control(C.V4L2_CID_STATELESS_H264_SPS) == sps
    bad = uh264.pack(uh264.v4l2_ctrl_h264_sps, {**sps_vals, "chroma_format_idc": 4})
    for op in (dev.try_controls, dev.set_controls):
        with pytest.raises(V4L2Error) as ei:
            op([(C.V4L2_CID_STATELESS_H264_PPS, bytes(12)), (C.V4L2_CID_STATELESS_H264_SPS, bad)])
        assert ei.value.errno == errno.EINVAL
        assert "H264_SPS" in str(ei.value)
    assert dev.get_control(C.V4L2_CID_STATELESS_H264_SPS) == sps  # unchanged
    with pytest.raises(ValueError, match="1047 bytes, the driver expects 1048"):
        dev.set_controls([(C.V4L2_CID_STATELESS_H264_SPS, sps[:-1])])


def test_controls_through_request(h264_context):
    ctx = h264_context()
    ctx.setup(4, 4)
    dev, pic = ctx.dev, ctx.pic
    req = ctx.media.alloc_request()
    try:
        dev.set_controls(pic.controls, request=req)
        dev.try_controls(pic.controls, request=req)
        with pytest.raises(V4L2Error) as ei:  # values of a request are readable only once it completed
            dev.get_control(C.V4L2_CID_STATELESS_H264_SPS, request=req)
        assert ei.value.errno == errno.EACCES
        # the current value is untouched until the request is applied
        assert dev.get_control(C.V4L2_CID_STATELESS_H264_DECODE_PARAMS) == bytes(560)
        ctx.cap_q.qbuf(0)
        n = ctx.out_q.buffers[0].write(pic.nal)
        ctx.out_q.qbuf(0, bytesused=n, timestamp_ns=5_000, request=req)
        req.queue()
        req.wait(10)
        for cid, payload in pic.controls:
            assert dev.get_control(cid, request=req) == payload
            assert dev.get_control(cid) == payload  # applied
        assert ctx.out_q.dqbuf().timestamp_ns == 5_000
        assert ctx.cap_q.wait(10) and ctx.cap_q.dqbuf().timestamp_ns == 5_000
    finally:
        req.close()
