"""MediaDevice: device info, two-pass G_TOPOLOGY, the decoder's video node via interface links."""

from __future__ import annotations

from pyv4l2req.uapi import media as m
from pyv4l2req.v4l2 import MediaDevice


def test_info_and_topology(h264_device, backend_kind):
    backend, info = h264_device
    with MediaDevice(backend, info.media_path) as md:
        di = md.info()
        assert di.driver == info.driver
        topo = md.topology()
        ent_ids = {e.id for e in topo.entities}
        pad_ids = {p.id for p in topo.pads}
        intf_ids = {i.id for i in topo.interfaces}
        assert len(ent_ids) == len(topo.entities) >= 1
        decoders = topo.entities_by_function(m.MEDIA_ENT_F_PROC_VIDEO_DECODER)
        assert decoders
        assert all(p.entity_id in ent_ids for p in topo.pads)
        for link in topo.links:
            if link.is_interface_link:
                assert link.source_id in intf_ids and link.sink_id in ent_ids
            else:
                assert link.source_id in pad_ids and link.sink_id in pad_ids
        pairs = topo.decoder_interfaces()
        assert pairs and all(i.intf_type == m.MEDIA_INTF_T_V4L_VIDEO for _, i in pairs)
        assert info.video_path in md.decoder_video_paths(topo)
        intf = next(i for _, i in pairs if backend.devnode_path(i.major, i.minor) == info.video_path)
        assert backend.device_number(info.video_path) == (intf.major, intf.minor)
        if backend_kind == "kernel":
            assert di.model == "visl" and di.bus_info == "platform:visl"
            assert {e.name for e in topo.entities} == {"visl-source", "visl-proc", "visl-sink"}


def test_alloc_and_close_requests(h264_device, fds):
    backend, info = h264_device
    before = fds()
    with MediaDevice(backend, info.media_path) as md:
        reqs = [md.alloc_request() for _ in range(8)]
        assert len({r.fd for r in reqs}) == 8
        assert fds() == before + 1 + 8
        for r in reqs:
            r.reinit()  # an idle request may be re-initialised
            r.close()
            r.close()  # idempotent
    assert fds() == before
