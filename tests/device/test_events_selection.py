"""Events (SUBSCRIBE/DQEVENT), decoder commands and G_SELECTION."""

from __future__ import annotations

import errno

import pytest

from pyv4l2req.errors import V4L2Error
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import VideoDevice


def test_control_events(h264_device):
    backend, info = h264_device
    cid = C.V4L2_CID_STATELESS_H264_DECODE_MODE
    with VideoDevice(backend, info.video_path) as dev:
        assert dev.dequeue_event() is None
        dev.subscribe_event(v.V4L2_EVENT_CTRL, cid,
                            v.V4L2_EVENT_SUB_FL_SEND_INITIAL | v.V4L2_EVENT_SUB_FL_ALLOW_FEEDBACK)
        ev = dev.dequeue_event()
        assert ev is not None and ev.type == v.V4L2_EVENT_CTRL and ev.id == cid
        dev.set_controls([(cid, 1)])
        ev = dev.dequeue_event()
        assert ev is not None and ev.type == v.V4L2_EVENT_CTRL and ev.id == cid
        assert ev.changes & 1  # V4L2_EVENT_CTRL_CH_VALUE
        assert dev.dequeue_event() is None
        dev.unsubscribe_event(v.V4L2_EVENT_CTRL, cid)
        dev.set_controls([(cid, 0)])
        assert dev.dequeue_event() is None


def test_decoder_commands(h264_device):
    backend, info = h264_device
    with VideoDevice(backend, info.video_path) as dev:
        dev.try_decoder_cmd(v.V4L2_DEC_CMD_FLUSH)
        dev.decoder_cmd(v.V4L2_DEC_CMD_FLUSH)  # nothing held: a no-op
        with pytest.raises(V4L2Error) as ei:
            dev.try_decoder_cmd(v.V4L2_DEC_CMD_PAUSE)  # stateless decoders only know FLUSH
        assert ei.value.errno == errno.EINVAL


def test_g_selection_fwht(fwht_device):
    backend, info = fwht_device
    with VideoDevice(backend, info.video_path) as dev:
        dev.s_fmt(dev.output_type, v.V4L2_PIX_FMT_FWHT_STATELESS, 640, 368)
        dev.s_fmt(dev.capture_type, v.V4L2_PIX_FMT_YUV420, 640, 368)
        d = dev.g_selection(dev.capture_type, v.V4L2_SEL_TGT_COMPOSE_DEFAULT)
        assert (d.left, d.top, d.width, d.height) == (0, 0, 640, 368)
        r = dev.g_selection(dev.capture_type, v.V4L2_SEL_TGT_COMPOSE)
        # vicodec keeps its previous visible size in COMPOSE until a frame header is decoded
        assert (r.left, r.top) == (0, 0) and r.width > 0 and r.height > 0
