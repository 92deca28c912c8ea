"""Controls of the emulated device: QUERY_EXT_CTRL, QUERYMENU, EXT_CTRLS, error_idx.

Oracle: v4l2-ctrls-api.c / -core.c behaviour as measured on visl and vicodec (Linux 6.12) in
the test VM (class control naming and flags, ENOSPC/EFAULT on sizes, error_idx = count for
S/G and the index for TRY) and the kernel's std_validate_compound through
``pyv4l2req.uapi.validate`` (itself checked against the kernel by its own tests).
"""

from __future__ import annotations

import ctypes
import errno

from conftest import CID_GOP, CID_MODE, CID_REFS, CID_RO, CID_SPS, err, refs_payload
from pyv4l2req.uapi import h264 as uh264
from pyv4l2req.uapi import videodev2 as v

NEXT = v.V4L2_CTRL_FLAG_NEXT_CTRL | v.V4L2_CTRL_FLAG_NEXT_COMPOUND


def _enum(dev, flags=NEXT):
    out, qid = [], flags
    while True:
        q = v.v4l2_query_ext_ctrl()
        q.id = qid
        try:
            dev.ioctl(v.VIDIOC_QUERY_EXT_CTRL, q)
        except OSError:
            return out
        out.append(q)
        qid = q.id | flags


def test_enumeration_with_class_controls(dev):
    qs = _enum(dev)
    ids = [q.id for q in qs]
    assert ids == sorted(ids)
    assert ids[0] == 0x00990001 and ids.index(0x00A40001) < ids.index(CID_MODE)
    cls = qs[ids.index(0x00A40001)]
    assert cls.name == b"Stateless Codec Controls" and cls.type == v.V4L2_CTRL_TYPE_CTRL_CLASS
    assert cls.flags == v.V4L2_CTRL_FLAG_READ_ONLY | v.V4L2_CTRL_FLAG_WRITE_ONLY and cls.elem_size == 4
    sps = qs[ids.index(CID_SPS)]
    assert sps.flags & v.V4L2_CTRL_FLAG_HAS_PAYLOAD and sps.elem_size == 1048 and sps.elems == 1
    assert (sps.minimum, sps.maximum, sps.step, sps.default_value, sps.nr_of_dims) == (0, 0, 0, 0, 0)
    refs = qs[ids.index(CID_REFS)]
    assert refs.nr_of_dims == 1 and refs.dims[0] == 64 and refs.elems == 64
    # NEXT_CTRL alone skips payload controls, NEXT_COMPOUND alone returns only them
    assert CID_SPS not in [q.id for q in _enum(dev, v.V4L2_CTRL_FLAG_NEXT_CTRL)]
    assert [q.id for q in _enum(dev, v.V4L2_CTRL_FLAG_NEXT_COMPOUND)] == [CID_SPS, CID_REFS]
    q = v.v4l2_query_ext_ctrl()
    q.id = 0x00A40999
    assert err(dev.ioctl, v.VIDIOC_QUERY_EXT_CTRL, q) == errno.EINVAL


def test_querymenu(dev):
    m = v.v4l2_querymenu()
    m.id, m.index = CID_MODE, 1
    dev.ioctl(v.VIDIOC_QUERYMENU, m)
    assert m.name == b"Frame-Based"
    m.index = 2
    assert err(dev.ioctl, v.VIDIOC_QUERYMENU, m) == errno.EINVAL
    m.id, m.index = CID_GOP, 1
    assert err(dev.ioctl, v.VIDIOC_QUERYMENU, m) == errno.EINVAL


def test_integer_clamped_menu_erange_read_only_eacces(dev):
    cs = dev.set([(CID_GOP, 99)])
    assert cs.controls[0].value == 16 and dev.get(CID_GOP) == 16
    assert err(dev.set, [(CID_MODE, 5)]) == errno.ERANGE
    assert err(dev.set, [(CID_RO, 1)]) == errno.EACCES
    assert dev.get(CID_RO) == 7
    assert dev.get(CID_GOP, which=v.V4L2_CTRL_WHICH_DEF_VAL) == 10
    assert err(dev.set, [(CID_GOP, 3)], which=v.V4L2_CTRL_WHICH_DEF_VAL) == errno.EINVAL


def _cs_err(dev, req, items, **kw):
    cs = None
    try:
        cs = dev.ext(req, items, **kw)
    except OSError as e:
        return e.errno, getattr(e, "cs", None)
    return 0, cs


def test_error_idx_semantics(dev):
    """Unknown id at index 1: S and G report count (2), TRY the index (1)."""
    items = [(CID_GOP, 3), (0x00A40999, 0)]
    for req, want in ((v.VIDIOC_S_EXT_CTRLS, 2), (v.VIDIOC_TRY_EXT_CTRLS, 1), (v.VIDIOC_G_EXT_CTRLS, 2)):
        arr = (v.v4l2_ext_control * 2)()
        for i, (cid, val) in enumerate(items):
            arr[i].id, arr[i].value = cid, val
        cs = v.v4l2_ext_controls(count=2, controls=arr)
        assert err(dev.ioctl, req, cs) == errno.EINVAL
        assert cs.error_idx == want, v.IOCTL_NAMES[req]
    assert dev.get(CID_GOP) == 10            # S failed up front: nothing applied


def test_payload_size_enospc_efault(dev):
    buf = ctypes.create_string_buffer(1048)
    for req, want_err, want_idx in ((v.VIDIOC_G_EXT_CTRLS, errno.ENOSPC, 1), (v.VIDIOC_S_EXT_CTRLS, errno.EFAULT, 1),
                                    (v.VIDIOC_TRY_EXT_CTRLS, errno.EFAULT, 0)):
        c = v.v4l2_ext_control(id=CID_SPS, size=4)
        c.ptr = ctypes.addressof(buf)
        cs = v.v4l2_ext_controls(count=1, controls=ctypes.pointer(c))
        assert err(dev.ioctl, req, cs) == want_err
        assert cs.error_idx == want_idx
        if req == v.VIDIOC_G_EXT_CTRLS:
            assert c.size == 1048            # the kernel tells the size it needs


def test_compound_validated_and_normalised(dev):
    ok = uh264.pack(uh264.v4l2_ctrl_h264_sps, {
        "profile_idc": 66, "chroma_format_idc": 1, "pic_width_in_mbs_minus1": 3,
        "pic_height_in_map_units_minus1": 3,
        "flags": uh264.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY | uh264.V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE,
    })
    cs = dev.set([(CID_SPS, ok)])
    stored = dev.get(CID_SPS, 1048)
    want = uh264.unpack(uh264.v4l2_ctrl_h264_sps, ok)
    want["flags"] &= ~uh264.V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE   # zeroed for chroma_format_idc != 3
    assert uh264.unpack(uh264.v4l2_ctrl_h264_sps, stored) == want
    assert ctypes.string_at(cs.controls[0].ptr, 1048) == stored            # new_to_user()
    bad = uh264.pack(uh264.v4l2_ctrl_h264_sps, {"log2_max_frame_num_minus4": 13})
    assert err(dev.set, [(CID_SPS, bad)]) == errno.EINVAL
    assert dev.get(CID_SPS, 1048) == stored


def test_set_stops_at_the_rejected_value(dev):
    """A value rejected while applying: error_idx is its index, the ones before are set."""
    bad = uh264.pack(uh264.v4l2_ctrl_h264_sps, {"log2_max_frame_num_minus4": 13})
    arr = (v.v4l2_ext_control * 2)()
    arr[0].id, arr[0].size = CID_REFS, 64
    b0 = ctypes.create_string_buffer(refs_payload(9), 64)
    arr[0].ptr = ctypes.addressof(b0)
    arr[1].id, arr[1].size = CID_SPS, 1048
    b1 = ctypes.create_string_buffer(bad, 1048)
    arr[1].ptr = ctypes.addressof(b1)
    cs = v.v4l2_ext_controls(count=2, controls=arr)
    assert err(dev.ioctl, v.VIDIOC_S_EXT_CTRLS, cs) == errno.EINVAL
    assert cs.error_idx == 1
    assert dev.get(CID_REFS, 64) == refs_payload(9)


def test_control_events(dev):
    sub = v.v4l2_event_subscription(type=v.V4L2_EVENT_CTRL, id=CID_GOP, flags=v.V4L2_EVENT_SUB_FL_SEND_INITIAL)
    dev.ioctl(v.VIDIOC_SUBSCRIBE_EVENT, sub)
    assert dev.b.poll([(dev.fd, 0x002)], 0) == [(dev.fd, 0x002)]
    ev = v.v4l2_event()
    dev.ioctl(v.VIDIOC_DQEVENT, ev)
    assert (ev.type, ev.id, ev.u.ctrl.value, ev.u.ctrl.changes) == (v.V4L2_EVENT_CTRL, CID_GOP, 10, 3)
    assert (ev.u.ctrl.minimum, ev.u.ctrl.maximum, ev.u.ctrl.default_value, ev.pending) == (1, 16, 10, 0)
    dev.set([(CID_GOP, 4)])                  # our own change: no event without ALLOW_FEEDBACK
    assert err(dev.ioctl, v.VIDIOC_DQEVENT, ev) == errno.ENOENT
    for t in (v.V4L2_EVENT_SOURCE_CHANGE, v.V4L2_EVENT_EOS):   # visl: v4l2_ctrl_subscribe_event
        assert err(dev.ioctl, v.VIDIOC_SUBSCRIBE_EVENT, v.v4l2_event_subscription(type=t)) == errno.EINVAL
    sub = v.v4l2_event_subscription(type=v.V4L2_EVENT_CTRL, id=0x00A40999)
    assert err(dev.ioctl, v.VIDIOC_SUBSCRIBE_EVENT, sub) == errno.EINVAL
    dev.ioctl(v.VIDIOC_SUBSCRIBE_EVENT, v.v4l2_event_subscription(type=v.V4L2_EVENT_CTRL, id=CID_GOP))
    dev.ioctl(v.VIDIOC_UNSUBSCRIBE_EVENT, v.v4l2_event_subscription(type=v.V4L2_EVENT_CTRL, id=CID_MODE))
    # a request's value applied by the driver is a change from elsewhere: event (visl, 6.12)
    from conftest import CAP, OUT
    rfd = dev.alloc_request()
    dev.set([(CID_GOP, 9)], which=v.V4L2_CTRL_WHICH_REQUEST_VAL, request_fd=rfd)
    dev.qbuf(OUT, 0, b"X", 1, req=rfd)
    dev.queue(rfd)
    dev.qbuf(CAP, 0)
    dev.ioctl(v.VIDIOC_DQEVENT, ev)
    assert (ev.id, ev.u.ctrl.value, ev.u.ctrl.changes) == (CID_GOP, 9, 1)
    dev.b.close(rfd)
    dev.ioctl(v.VIDIOC_UNSUBSCRIBE_EVENT, v.v4l2_event_subscription(type=v.V4L2_EVENT_ALL))


def test_events_profile_source_change_and_eos(stub_models):
    """profile="events": SOURCE_CHANGE on a new coded size, EOS when a FLUSH completes."""
    from conftest import OUT, Dev
    from pyv4l2req.emulated import EmulatedBackend

    b = EmulatedBackend(profile="events", models=stub_models[1])
    d = Dev(b, 0)
    try:
        for t in (v.V4L2_EVENT_SOURCE_CHANGE, v.V4L2_EVENT_EOS):
            d.ioctl(v.VIDIOC_SUBSCRIBE_EVENT, v.v4l2_event_subscription(type=t))
        d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 640, 360)    # the default size (as visl's): no event
        d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 128, 128)
        d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 128, 128)    # same size: no second event
        d.ioctl(v.VIDIOC_DECODER_CMD, v.v4l2_decoder_cmd(cmd=v.V4L2_DEC_CMD_FLUSH))
        ev = v.v4l2_event()
        d.ioctl(v.VIDIOC_DQEVENT, ev)
        assert ev.type == v.V4L2_EVENT_SOURCE_CHANGE and ev.u.src_change.changes == v.V4L2_EVENT_SRC_CH_RESOLUTION
        assert ev.pending == 1
        d.ioctl(v.VIDIOC_DQEVENT, ev)
        assert ev.type == v.V4L2_EVENT_EOS and ev.sequence == 1
        assert err(d.ioctl, v.VIDIOC_DQEVENT, ev) == errno.ENOENT
    finally:
        d.close()
    try:
        EmulatedBackend(profile="nope")
    except ValueError as e:
        assert "events" in str(e)
    else:
        raise AssertionError("unknown profile accepted")
