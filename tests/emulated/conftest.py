"""Fixtures of the emulated-device tests: a tiny stub codec model and a raw-ioctl driver.

The tests drive ``EmulatedBackend`` with the ctypes structs of ``pyv4l2req.uapi`` directly
(no ``pyv4l2req.v4l2`` layer), like a C program would. Expected errnos are the ones the real
kernel returns (Linux 6.12 visl / vicodec, probed in the test VM; the device-level suite in
``tests/device`` re-checks most of them on the kernel).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

import pytest

from pyv4l2req.emulated import ControlSpec, DecodeJob, EmulatedBackend
from pyv4l2req.errors import V4L2Error
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import media as m
from pyv4l2req.uapi import videodev2 as v

OUT = v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
CAP = v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE

CID_REFS = C.V4L2_CID_CODEC_STATELESS_BASE + 50      # stub: u8[64]: n, then n u64 timestamps
CID_GOP = C.V4L2_CID_CODEC_BASE + 203                # stub: INTEGER 1..16 step 1, default 10
CID_RO = C.V4L2_CID_CODEC_BASE + 290                 # stub: read-only INTEGER
CID_SPS = C.V4L2_CID_STATELESS_H264_SPS
CID_MODE = C.V4L2_CID_STATELESS_H264_DECODE_MODE


def refs_payload(*timestamps: int) -> bytes:
    data = bytes([len(timestamps)]) + b"".join(struct.pack("<Q", t) for t in timestamps)
    return data + bytes(64 - len(data))


class StubModel:
    """A CodecModel that copies the bitstream into the CAPTURE buffer and records its jobs."""

    name = "stub"
    output_fourcc = v.V4L2_PIX_FMT_H264_SLICE
    capture_fourccs = (v.V4L2_PIX_FMT_NV12, v.V4L2_PIX_FMT_YUV420)

    def __init__(self, required: tuple[int, ...] = ()) -> None:
        self.required_controls = required
        self.controls = [
            ControlSpec(CID_MODE, "H264 Decode Mode", v.V4L2_CTRL_TYPE_MENU, maximum=1,
                        menu={0: "Slice-Based", 1: "Frame-Based"}),
            ControlSpec(CID_SPS, "H264 Sequence Parameter Set", v.V4L2_CTRL_TYPE_H264_SPS, elem_size=1048),
            ControlSpec(CID_REFS, "Stub References", v.V4L2_CTRL_TYPE_U8, elem_size=1, dims=(64,),
                        maximum=255),
            ControlSpec(CID_GOP, "Video GOP Size", v.V4L2_CTRL_TYPE_INTEGER, minimum=1, maximum=16, default=10),
            ControlSpec(CID_RO, "Read Only", v.V4L2_CTRL_TYPE_INTEGER, maximum=100, default=7,
                        flags=v.V4L2_CTRL_FLAG_READ_ONLY),
        ]
        self.jobs: list[DecodeJob] = []
        self.resets: list[tuple[int, int, int]] = []

    def reset(self, width: int, height: int, capture_fourcc: int) -> None:
        self.resets.append((width, height, capture_fourcc))

    def references(self, ctrls: dict[int, bytes]) -> list[int]:
        p = ctrls.get(CID_REFS, bytes(64))
        return [struct.unpack_from("<Q", p, 1 + 8 * i)[0] for i in range(p[0])]

    def decode(self, job: DecodeJob) -> bool:
        self.jobs.append(job)
        if job.bitstream.startswith(b"BAD"):
            return False
        plane = job.capture.planes[0]
        plane[: len(job.bitstream)] = job.bitstream
        return True


def err(fn, *a, **kw) -> int:
    """errno of a call that must fail with V4L2Error."""
    with pytest.raises(V4L2Error) as ei:
        fn(*a, **kw)
    return ei.value.errno


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Dev:
    """Raw ioctls on one emulated decoder (video + media fd)."""

    def __init__(self, backend: EmulatedBackend, index: int = 0, video: str = "", media: str = "") -> None:
        self.b = backend
        self.fd = backend.open(video or f"/dev/video{index}")
        self.mfd = backend.open(media or f"/dev/media{index}")
        self.maps: dict[tuple[int, int], object] = {}

    def ioctl(self, req: int, arg=None) -> int:
        return self.b.ioctl(self.fd, req, arg)

    def close(self) -> None:
        for mp in self.maps.values():
            mp.close()
        self.maps.clear()
        self.b.close(self.fd)
        self.b.close(self.mfd)

    # formats / buffers
    def fmt(self, t: int, fourcc: int = 0, w: int = 0, h: int = 0, req: int = v.VIDIOC_S_FMT) -> v.v4l2_format:
        f = v.v4l2_format()
        f.type = t
        if req != v.VIDIOC_G_FMT:
            f.fmt.pix_mp.pixelformat, f.fmt.pix_mp.width, f.fmt.pix_mp.height = fourcc, w, h
            f.fmt.pix_mp.num_planes = 1
        self.ioctl(req, f)
        return f

    def reqbufs(self, t: int, count: int) -> v.v4l2_requestbuffers:
        r = v.v4l2_requestbuffers()
        r.type, r.memory, r.count = t, v.V4L2_MEMORY_MMAP, count
        self.ioctl(v.VIDIOC_REQBUFS, r)
        return r

    def buf(self, t: int, index: int) -> v.v4l2_buffer:
        b = v.v4l2_buffer()
        b.type, b.memory, b.index = t, v.V4L2_MEMORY_MMAP, index
        planes = (v.v4l2_plane * 1)()
        b.m.planes = planes
        b.length = 1
        b._keep = planes  # type: ignore[attr-defined]
        return b

    def querybuf(self, t: int, index: int) -> v.v4l2_buffer:
        b = self.buf(t, index)
        self.ioctl(v.VIDIOC_QUERYBUF, b)
        return b

    def mmap(self, t: int, index: int):
        key = (t, index)
        if key not in self.maps:
            b = self.querybuf(t, index)
            p = b.m.planes[0]
            self.maps[key] = self.b.mmap(self.fd, p.length, p.m.mem_offset)
        return self.maps[key]

    def qbuf(self, t: int, index: int, data: bytes = b"", ts_ns: int = 0, req: int | None = None,
             flags: int = 0) -> v.v4l2_buffer:
        if data:
            mp = self.mmap(t, index)
            mp[: len(data)] = data
        b = self.buf(t, index)
        b.m.planes[0].bytesused = len(data)
        b.timestamp.tv_sec, b.timestamp.tv_usec = ts_ns // 1_000_000_000, ts_ns % 1_000_000_000 // 1000
        b.flags = flags
        if req is not None:
            b.flags |= v.V4L2_BUF_FLAG_REQUEST_FD
            b.request_fd = req
        self.ioctl(v.VIDIOC_QBUF, b)
        return b

    def dqbuf(self, t: int) -> v.v4l2_buffer:
        b = self.buf(t, 0)
        self.ioctl(v.VIDIOC_DQBUF, b)
        return b

    def streamon(self, t: int) -> None:
        self.ioctl(v.VIDIOC_STREAMON, ctypes.c_int(t))

    def streamoff(self, t: int) -> None:
        self.ioctl(v.VIDIOC_STREAMOFF, ctypes.c_int(t))

    # requests
    def alloc_request(self) -> int:
        fd = ctypes.c_int()
        self.b.ioctl(self.mfd, m.MEDIA_IOC_REQUEST_ALLOC, fd)
        return fd.value

    def queue(self, rfd: int) -> None:
        self.b.ioctl(rfd, m.MEDIA_REQUEST_IOC_QUEUE)

    def reinit(self, rfd: int) -> None:
        self.b.ioctl(rfd, m.MEDIA_REQUEST_IOC_REINIT)

    def complete(self, rfd: int, timeout_ms: int = 0) -> bool:
        return any(ev & 0x002 for _, ev in self.b.poll([(rfd, 0x002)], timeout_ms))   # POLLPRI

    # controls
    def ext(self, req: int, items: list[tuple[int, int | bytes]], which: int = v.V4L2_CTRL_WHICH_CUR_VAL,
            request_fd: int | None = None, sizes: dict[int, int] | None = None):
        arr = (v.v4l2_ext_control * max(1, len(items)))()
        keep = []
        for i, (cid, val) in enumerate(items):
            arr[i].id = cid
            if isinstance(val, bytes):
                size = (sizes or {}).get(cid, len(val))
                buf = ctypes.create_string_buffer(val, max(size, len(val)))
                keep.append(buf)
                arr[i].size = size
                arr[i].ptr = ctypes.addressof(buf)
            else:
                arr[i].value = val
        cs = v.v4l2_ext_controls()
        cs.which = which
        cs.count = len(items)
        cs.controls = arr
        if request_fd is not None:
            cs.request_fd = request_fd
        cs._keep = (arr, keep)  # type: ignore[attr-defined]
        try:
            self.ioctl(req, cs)
        finally:
            cs._bufs = keep  # type: ignore[attr-defined]
        return cs

    def set(self, items, **kw):
        return self.ext(v.VIDIOC_S_EXT_CTRLS, items, **kw)

    def get(self, cid: int, size: int = 0, **kw) -> int | bytes:
        cs = self.ext(v.VIDIOC_G_EXT_CTRLS, [(cid, bytes(size) if size else 0)], **kw)
        c = cs.controls[0]
        return ctypes.string_at(c.ptr, size) if size else c.value


@pytest.fixture
def stub_models():
    made: dict[str, list[StubModel]] = {"h264": [], "fwht": []}

    def h264():
        made["h264"].append(StubModel())
        return made["h264"][-1]

    def fwht():
        made["fwht"].append(StubModel(required=(CID_REFS,)))
        return made["fwht"][-1]

    return made, {"h264": h264, "fwht": fwht}


@pytest.fixture
def backend(stub_models):
    return EmulatedBackend(models=stub_models[1])


@pytest.fixture
def dev(backend, stub_models):
    """/dev/video0 with a 64x64 OUTPUT format, 2 OUTPUT + 3 CAPTURE buffers, both streaming."""
    d = Dev(backend, 0)
    d.model = stub_models[0]["h264"][-1]
    d.fmt(OUT, v.V4L2_PIX_FMT_H264_SLICE, 64, 64)
    d.reqbufs(OUT, 2)
    d.reqbufs(CAP, 3)
    d.streamon(OUT)
    d.streamon(CAP)
    yield d
    d.close()


def decode(d: Dev, out_index: int, ts: int, data: bytes = b"PIC", refs: tuple[int, ...] = (),
           flags: int = 0) -> int:
    """Controls + OUTPUT buffer in a new request, queued; returns the request fd."""
    rfd = d.alloc_request()
    d.set([(CID_REFS, refs_payload(*refs))], which=v.V4L2_CTRL_WHICH_REQUEST_VAL, request_fd=rfd)
    d.qbuf(OUT, out_index, data, ts, req=rfd, flags=flags)
    d.queue(rfd)
    return rfd


ERRNO = errno
