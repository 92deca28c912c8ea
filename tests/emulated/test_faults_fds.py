"""Fault injection (``EmulatedBackend.faults``) and file-descriptor accounting.

Fault semantics are the project contract (docs/internals.md §2); fd accounting uses the real
``/proc/self/fd`` of this process (every emulated fd is a real eventfd, buffer memory is a
shared mapping that costs no fd, EXPBUF hands out a real fd of the same memory).
"""

from __future__ import annotations

import errno
import mmap
import os
import select

from conftest import CAP, CID_REFS, OUT, Dev, decode, err, open_fds, refs_payload
from pyv4l2req.emulated import EmulatedBackend, FaultPlan
from pyv4l2req.uapi import videodev2 as v


def test_fail_nth_call_times(dev):
    dev.b.faults.fail("VIDIOC_QUERYBUF", errno.EIO, nth=2, times=2)
    dev.querybuf(OUT, 0)                                   # 1st: fine
    assert err(dev.querybuf, OUT, 0) == errno.EIO          # 2nd
    assert err(dev.querybuf, OUT, 0) == errno.EIO          # 3rd
    dev.querybuf(OUT, 0)                                   # 4th: disarmed
    dev.b.faults.fail("MEDIA_REQUEST_IOC_REINIT", errno.ENOMEM, nth=1)
    rfd = dev.alloc_request()
    assert err(dev.reinit, rfd) == errno.ENOMEM
    dev.reinit(rfd)
    dev.b.faults.fail("VIDIOC_QBUF", errno.EIO)
    dev.b.faults.clear()
    dev.qbuf(CAP, 0)
    dev.b.close(rfd)


def test_injected_qbuf_failure_changes_no_state(dev):
    dev.b.faults.fail("VIDIOC_QBUF", errno.EIO)
    assert err(dev.qbuf, CAP, 0) == errno.EIO
    assert not dev.querybuf(CAP, 0).flags & v.V4L2_BUF_FLAG_QUEUED
    dev.qbuf(CAP, 0)


def test_error_flag_nth_completed_capture(dev):
    dev.b.faults.error_flag(nth=2)
    flags = []
    for n in range(3):
        dev.qbuf(CAP, n)
        rfd = decode(dev, n % 2, 1000 * (n + 1))
        dev.dqbuf(OUT)
        flags.append(bool(dev.dqbuf(CAP).flags & v.V4L2_BUF_FLAG_ERROR))
        dev.b.close(rfd)
    assert flags == [False, True, False]


def test_stall_never_completes_until_streamoff(dev):
    dev.b.faults.stall(nth=1)
    dev.qbuf(CAP, 0)
    dev.qbuf(CAP, 1)
    r1 = decode(dev, 0, 1000)
    r2 = decode(dev, 1, 2000)                             # stuck behind the stalled one
    assert dev.b.poll([(r1, select.POLLPRI), (r2, select.POLLPRI)], 30) == []
    assert err(dev.reinit, r1) == errno.EBUSY
    assert err(dev.dqbuf, CAP) == errno.EAGAIN
    dev.streamoff(OUT)                                    # cancel: both requests complete
    assert dev.complete(r1) and dev.complete(r2)
    dev.reinit(r1)
    for fd in (r1, r2):
        dev.b.close(fd)


def test_fault_plan_passed_in():
    plan = FaultPlan()
    b = EmulatedBackend(faults=plan)
    assert b.faults is plan
    plan.fail("open", errno.EMFILE)
    assert err(b.open, "/dev/media0") == errno.EMFILE
    assert err(b.open, "/dev/video9") == errno.ENOENT


def test_no_fd_leaks_after_closing_everything(backend, stub_models):
    before = open_fds()
    d = Dev(backend, 0)
    d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 64, 64)
    d.reqbufs(OUT, 2)
    d.reqbufs(CAP, 2)
    d.streamon(OUT)
    d.streamon(CAP)
    # video + media; buffer memory costs no fd where /proc/self/map_files can be reopened
    # (else each of the 4 planes keeps a memfd, which Python's mmap dups)
    from pyv4l2req.emulated.buffers import _probe_map_files
    per_plane = 0 if _probe_map_files() else 2
    assert open_fds() == before + 2 + 4 * per_plane
    before += 4 * per_plane
    d.qbuf(CAP, 0)
    rfd = decode(d, 0, 1000)
    queued = decode(d, 1, 2000)                           # stays queued (no CAPTURE buffer)
    x = v.v4l2_exportbuffer(type=CAP, index=0, flags=os.O_RDWR | os.O_CLOEXEC)
    d.ioctl(v.VIDIOC_EXPBUF, x)
    with mmap.mmap(x.fd, 4096) as mm:                     # the same memory as the MMAP view
        assert mm[:3] == b"PIC" == bytes(d.mmap(CAP, 0)[:3])
    assert open_fds() == before + 2 + 2 + 1 + 3           # requests, EXPBUF fd, 3 mappings (Python dups)
    d.b.close(queued)                                     # closed while queued
    d.b.close(rfd)
    stub_models[0]["h264"][-1].jobs.clear()             # drop the model's views of the memory
    d.close()                                             # unmaps, closes video and media
    before -= 4 * per_plane                               # REQBUFS(0) at close freed the memory
    assert open_fds() == before + 1                       # the exported buffer outlives all
    os.close(x.fd)
    assert open_fds() == before
    assert backend.open_fds() == []


def test_mapping_flag_and_mmap_errors(dev):
    assert not dev.querybuf(OUT, 1).flags & v.V4L2_BUF_FLAG_MAPPED
    mp = dev.mmap(OUT, 1)
    assert dev.querybuf(OUT, 1).flags & v.V4L2_BUF_FLAG_MAPPED
    mp.close()
    del dev.maps[(OUT, 1)]
    assert not dev.querybuf(OUT, 1).flags & v.V4L2_BUF_FLAG_MAPPED
    assert err(dev.b.mmap, dev.fd, 4096, 0x12345000) == errno.EINVAL
    assert err(dev.b.mmap, dev.mfd, 4096, 0) == errno.ENODEV
    x = v.v4l2_exportbuffer(type=OUT, index=7)
    assert err(dev.ioctl, v.VIDIOC_EXPBUF, x) == errno.EINVAL
    assert err(dev.b.ioctl, dev.mfd, v.VIDIOC_QUERYCAP, v.v4l2_capability()) == errno.ENOTTY


def test_devnodes_and_topology(backend):
    from pyv4l2req.uapi import media as m
    import ctypes

    assert backend.device_nodes("video") == ["/dev/video0", "/dev/video1"]
    assert backend.device_nodes("media") == ["/dev/media0", "/dev/media1"]
    for i in (0, 1):
        fd = backend.open(f"/dev/media{i}")
        try:
            info = m.media_device_info()
            backend.ioctl(fd, m.MEDIA_IOC_DEVICE_INFO, info)
            name = info.driver.decode()
            assert name == ("emulated-h264", "emulated-fwht")[i] and info.bus_info.decode() == f"platform:{name}"
            t = m.media_v2_topology()
            backend.ioctl(fd, m.MEDIA_IOC_G_TOPOLOGY, t)
            assert (t.num_entities, t.num_interfaces, t.num_pads, t.num_links) == (3, 1, 4, 4)
            ents = (m.media_v2_entity * 3)()
            intfs = (m.media_v2_interface * 1)()
            links = (m.media_v2_link * 4)()
            t.ptr_entities, t.ptr_interfaces = ctypes.addressof(ents), ctypes.addressof(intfs)
            t.ptr_links = ctypes.addressof(links)
            backend.ioctl(fd, m.MEDIA_IOC_G_TOPOLOGY, t)
            assert [e.name.decode() for e in ents] == [f"{name}-source", f"{name}-proc", f"{name}-sink"]
            assert ents[1].function == m.MEDIA_ENT_F_PROC_VIDEO_DECODER
            dn = intfs[0].devnode
            assert backend.devnode_path(dn.major, dn.minor) == f"/dev/video{i}"
            assert backend.device_number(f"/dev/video{i}") == (dn.major, dn.minor)
            assert {(l.source_id, l.sink_id) for l in links if l.flags & m.MEDIA_LNK_FL_INTERFACE_LINK} == \
                {(intfs[0].id, ents[0].id), (intfs[0].id, ents[2].id)}
            t.num_entities = 1
            assert err(backend.ioctl, fd, m.MEDIA_IOC_G_TOPOLOGY, t) == errno.ENOSPC
        finally:
            backend.close(fd)
    assert backend.device_number("/dev/video7") is None and backend.devnode_path(1, 3) is None


def test_blocking_dqbuf_and_poll_wake_up_from_another_thread(backend):
    import threading

    d = Dev(backend, 0)
    try:
        blocking = backend.open("/dev/video0", os.O_RDWR)       # no O_NONBLOCK: its own context
        b2 = Dev.__new__(Dev)
        b2.b, b2.fd, b2.mfd, b2.maps = backend, blocking, backend.open("/dev/media0"), {}
        b2.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 64, 64)
        b2.reqbufs(OUT, 1)
        b2.reqbufs(CAP, 1)
        b2.streamon(OUT)
        b2.streamon(CAP)
        assert err(b2.dqbuf, CAP) == errno.EAGAIN                # single thread: would hang
        got = {}

        def waiter():
            got["poll"] = backend.poll([(blocking, select.POLLIN)], 10_000)
            got["cap"] = b2.dqbuf(CAP).index

        b2.qbuf(CAP, 0)                 # something queued: poll waits instead of POLLERR
        t = threading.Thread(target=waiter)
        t.start()
        rfd = decode(b2, 0, 1000)
        t.join(20)
        assert not t.is_alive()
        assert got == {"poll": [(blocking, select.POLLIN)], "cap": 0}   # only requested bits
        backend.close(rfd)
        b2.close()
    finally:
        d.close()


def test_dmabuf_import(backend):
    """DMABUF queues (visl/vicodec advertise SUPPORTS_DMABUF): any mappable fd is imported."""
    d = Dev(backend, 0)
    fds_ = []
    try:
        d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 64, 64)
        for t in (OUT, CAP):
            r = v.v4l2_requestbuffers(type=t, memory=v.V4L2_MEMORY_DMABUF, count=1)
            d.ioctl(v.VIDIOC_REQBUFS, r)
            assert r.count == 1 and r.capabilities & v.V4L2_BUF_CAP_SUPPORTS_DMABUF
        d.streamon(OUT)
        d.streamon(CAP)
        out_fd, cap_fd = os.memfd_create("src"), os.memfd_create("dst")
        fds_ += [out_fd, cap_fd]
        os.ftruncate(out_fd, 262144)
        os.ftruncate(cap_fd, 4096)                          # smaller than sizeimage (6144)
        os.pwrite(out_fd, b"DMA", 0)

        def q(t, fd, used=0, req=None):
            b = d.buf(t, 0)
            b.memory = v.V4L2_MEMORY_DMABUF
            b.m.planes[0].m.fd = fd
            b.m.planes[0].bytesused = used
            if req is not None:
                b.flags, b.request_fd = v.V4L2_BUF_FLAG_REQUEST_FD, req
            d.ioctl(v.VIDIOC_QBUF, b)

        assert err(q, CAP, cap_fd) == errno.EINVAL
        assert err(q, CAP, 9999) == errno.EINVAL
        os.ftruncate(cap_fd, 8192)
        before = open_fds()
        q(CAP, cap_fd)
        assert open_fds() == before                           # an import costs no fd
        rfd = d.alloc_request()
        d.set([(CID_REFS, refs_payload())], which=v.V4L2_CTRL_WHICH_REQUEST_VAL, request_fd=rfd)
        q(OUT, out_fd, 3, rfd)
        d.queue(rfd)
        assert d.dqbuf(CAP).m.planes[0].m.fd == cap_fd
        assert os.pread(cap_fd, 3, 0) == b"DMA"               # the model wrote into our memory
        x = v.v4l2_exportbuffer(type=CAP, index=0)
        assert err(d.ioctl, v.VIDIOC_EXPBUF, x) == errno.EINVAL   # only MMAP buffers export
        assert err(backend.mmap, d.fd, 4096, 0) == errno.EINVAL
        backend.close(rfd)
    finally:
        d.close()
        for fd in fds_:
            os.close(fd)
