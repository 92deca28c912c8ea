"""FWHT on the real kernel: vicodec's stateless decoder against vicodec's own codec and ours.

In the VM (``@pytest.mark.vm``): a few raw YUV 4:2:0 frames with motion are encoded by vicodec's
STATEFUL encoder; the stream is decoded by vicodec's STATELESS decoder through
``pyv4l2req.pipeline.fwht`` (media requests, references by timestamp) and the result must be
byte-identical to vicodec's STATEFUL decoder's output and to our Python FWHT decoder's output.
Our Python encoder must also reproduce vicodec's bitstream byte for byte. Run once
single-planar (default) and once multiplanar (``vicodec.multiplanar=1``).

The stateful encoder/decoder are driven with raw ioctls on the Backend (small helper below):
they are not stateless devices, so the pipeline has no business knowing them.
"""

from __future__ import annotations

import ctypes
import errno
import os

import numpy as np
import pytest

from pyv4l2req.codec.fwht import FWHT_HEADER_SIZE, split_frames
from pyv4l2req.emulated.fwht_codec import FwhtEncoder, FwhtStatefulDecoder, moving_pattern
from pyv4l2req.errors import DecodeError, V4L2Error
from pyv4l2req.kernel.backend import OSBackend
from pyv4l2req.pipeline.fwht import FwhtStatelessDecoder
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import discover

IN_VM = os.environ.get("PYV4L2REQ_IN_VM") == "1"

WIDTH, HEIGHT = 640, 368   # vicodec's minimum is 640x360; 368 keeps the chroma height a multiple of 8
NFRAMES = 16               # moving_pattern: I/P, repeats, raw planes, forced I-frame, GOP boundary


# ------------------------------------------------------------------------ raw m2m helper
def find_video_node(name: str) -> str:
    """``/dev/videoN`` whose sysfs name is *name* (vicodec: stateful-encoder, ...)."""
    base = "/sys/class/video4linux"
    for entry in sorted(os.listdir(base)):
        try:
            with open(f"{base}/{entry}/name") as f:
                if f.read().strip() == name:
                    return f"/dev/{entry}"
        except OSError:
            continue
    raise FileNotFoundError(f"no video device named {name!r}")


class RawM2M:
    """Minimal mem2mem driving over raw ioctls (MMAP, one plane per buffer)."""

    def __init__(self, backend, path: str) -> None:
        self.b = backend
        self.fd = backend.open(path)
        cap = v.v4l2_capability()
        backend.ioctl(self.fd, v.VIDIOC_QUERYCAP, cap)
        self.mplane = bool(cap.device_caps & v.V4L2_CAP_VIDEO_M2M_MPLANE)
        if self.mplane:
            self.OUT, self.CAP = v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
        else:
            self.OUT, self.CAP = v.V4L2_BUF_TYPE_VIDEO_OUTPUT, v.V4L2_BUF_TYPE_VIDEO_CAPTURE
        self.maps: dict[int, list] = {self.OUT: [], self.CAP: []}

    def s_fmt(self, t: int, fourcc: int, w: int, h: int) -> v.v4l2_format:
        f = v.v4l2_format()
        f.type = t
        if self.mplane:
            f.fmt.pix_mp.width, f.fmt.pix_mp.height = w, h
            f.fmt.pix_mp.pixelformat = fourcc
            f.fmt.pix_mp.num_planes = 1
        else:
            f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.pixelformat = w, h, fourcc
        self.b.ioctl(self.fd, v.VIDIOC_S_FMT, f)
        return f

    def g_fmt(self, t: int) -> tuple[int, int, int, int, int]:
        """(pixelformat, width, height, bytesperline, sizeimage)."""
        f = v.v4l2_format()
        f.type = t
        self.b.ioctl(self.fd, v.VIDIOC_G_FMT, f)
        if self.mplane:
            p = f.fmt.pix_mp
            return p.pixelformat, p.width, p.height, p.plane_fmt[0].bytesperline, p.plane_fmt[0].sizeimage
        p = f.fmt.pix
        return p.pixelformat, p.width, p.height, p.bytesperline, p.sizeimage

    def _buf(self, t: int, index: int) -> tuple[v.v4l2_buffer, object]:
        b = v.v4l2_buffer()
        b.type, b.index, b.memory = t, index, v.V4L2_MEMORY_MMAP
        planes = None
        if self.mplane:
            planes = (v.v4l2_plane * 1)()
            b.m.planes = planes
            b.length = 1
        return b, planes

    def reqbufs(self, t: int, count: int) -> int:
        r = v.v4l2_requestbuffers()
        r.count, r.type, r.memory = count, t, v.V4L2_MEMORY_MMAP
        self.b.ioctl(self.fd, v.VIDIOC_REQBUFS, r)
        for m in self.maps[t]:
            m.close()
        self.maps[t] = []
        for i in range(r.count):
            b, planes = self._buf(t, i)
            self.b.ioctl(self.fd, v.VIDIOC_QUERYBUF, b)
            if self.mplane:
                length, offset = planes[0].length, planes[0].m.mem_offset
            else:
                length, offset = b.length, b.m.offset
            self.maps[t].append(self.b.mmap(self.fd, length, offset))
        return r.count

    def qbuf(self, t: int, index: int, data: bytes | None = None, ts_ns: int = 0) -> None:
        b, planes = self._buf(t, index)
        used = 0
        if data is not None:
            memoryview(self.maps[t][index])[: len(data)] = data
            used = len(data)
        b.timestamp.tv_sec, b.timestamp.tv_usec = ts_ns // 10**9, (ts_ns % 10**9) // 1000
        if self.mplane:
            planes[0].bytesused = used
        else:
            b.bytesused = used
        self.b.ioctl(self.fd, v.VIDIOC_QBUF, b)

    def dqbuf(self, t: int, timeout_ms: int = 10000) -> tuple[int, bytes, int, int]:
        """(index, payload, timestamp_ns, flags); waits with poll."""
        while True:
            b, planes = self._buf(t, 0)
            try:
                self.b.ioctl(self.fd, v.VIDIOC_DQBUF, b)
            except V4L2Error as e:
                if e.errno != errno.EAGAIN:
                    raise
                if not self.b.poll([(self.fd, 0x1 | 0x4 | 0x2)], timeout_ms):
                    raise TimeoutError(f"DQBUF type {t}: nothing after {timeout_ms} ms") from None
                continue
            used = planes[0].bytesused if self.mplane else b.bytesused
            ts = b.timestamp.tv_sec * 10**9 + b.timestamp.tv_usec * 1000
            return b.index, bytes(memoryview(self.maps[t][b.index])[:used]), ts, b.flags

    def stream(self, t: int, on: bool) -> None:
        arg = ctypes.c_int(t)
        self.b.ioctl(self.fd, v.VIDIOC_STREAMON if on else v.VIDIOC_STREAMOFF, arg)

    def subscribe(self, ev_type: int) -> None:
        s = v.v4l2_event_subscription()
        s.type = ev_type
        self.b.ioctl(self.fd, v.VIDIOC_SUBSCRIBE_EVENT, s)

    def dqevent(self, timeout_ms: int = 10000) -> int:
        if not self.b.poll([(self.fd, 0x2)], timeout_ms):
            raise TimeoutError("no V4L2 event")
        e = v.v4l2_event()
        self.b.ioctl(self.fd, v.VIDIOC_DQEVENT, e)
        return e.type

    def close(self) -> None:
        for t in (self.OUT, self.CAP):
            for m in self.maps[t]:
                m.close()
        self.b.close(self.fd)


def vicodec_encode(backend, frames: list[bytes], width: int, height: int,
                   crop: tuple[int, int] | None = None) -> list[bytes]:
    """Encode YUV420 frames with vicodec's stateful encoder: one compressed frame each.
    *crop* sets the visible size (VIDIOC_S_SELECTION V4L2_SEL_TGT_CROP on OUTPUT)."""
    enc = RawM2M(backend, find_video_node("stateful-encoder"))
    try:
        enc.s_fmt(enc.OUT, v.V4L2_PIX_FMT_YUV420, width, height)
        enc.s_fmt(enc.CAP, v.V4L2_PIX_FMT_FWHT, width, height)
        if crop is not None:
            sel = v.v4l2_selection()
            sel.type, sel.target = enc.OUT, v.V4L2_SEL_TGT_CROP
            sel.r.width, sel.r.height = crop
            backend.ioctl(enc.fd, v.VIDIOC_S_SELECTION, sel)
            assert (sel.r.width, sel.r.height) == crop
        n_out = enc.reqbufs(enc.OUT, 2)
        n_cap = enc.reqbufs(enc.CAP, 2)
        enc.stream(enc.OUT, True)
        enc.stream(enc.CAP, True)
        for i in range(n_cap):
            enc.qbuf(enc.CAP, i)
        out: list[bytes] = []
        free_out = list(range(n_out))
        pending = 0
        k = 0
        while len(out) < len(frames):
            while free_out and k < len(frames):
                enc.qbuf(enc.OUT, free_out.pop(0), frames[k], ts_ns=(k + 1) * 1000)
                k += 1
                pending += 1
            idx, data, _ts, _fl = enc.dqbuf(enc.CAP)
            out.append(data)
            enc.qbuf(enc.CAP, idx)
            oidx, _, _, _ = enc.dqbuf(enc.OUT)
            free_out.append(oidx)
        enc.stream(enc.OUT, False)
        enc.stream(enc.CAP, False)
        return out
    finally:
        enc.close()


def vicodec_stateful_decode(backend, stream: list[bytes]) -> tuple[list[bytes], tuple]:
    """Decode FWHT frames (header included) with vicodec's stateful decoder.

    Returns the CAPTURE payloads and the CAPTURE format (fourcc, w, h, bytesperline, sizeimage).
    """
    dec = RawM2M(backend, find_video_node("stateful-decoder"))
    try:
        _, hdr_w, hdr_h = 0, int.from_bytes(stream[0][12:16], "big"), int.from_bytes(stream[0][16:20], "big")
        dec.subscribe(v.V4L2_EVENT_SOURCE_CHANGE)
        dec.s_fmt(dec.OUT, v.V4L2_PIX_FMT_FWHT, hdr_w, hdr_h)
        n_out = dec.reqbufs(dec.OUT, len(stream))
        assert n_out >= len(stream)
        dec.stream(dec.OUT, True)
        dec.qbuf(dec.OUT, 0, stream[0], ts_ns=1000)
        assert dec.dqevent() == v.V4L2_EVENT_SOURCE_CHANGE
        fmt = dec.g_fmt(dec.CAP)
        n_cap = dec.reqbufs(dec.CAP, 4)
        for i in range(n_cap):
            dec.qbuf(dec.CAP, i)
        dec.stream(dec.CAP, True)
        for k in range(1, len(stream)):
            dec.qbuf(dec.OUT, k, stream[k], ts_ns=(k + 1) * 1000)
        out: list[bytes] = []
        while len(out) < len(stream):
            idx, data, _ts, flags = dec.dqbuf(dec.CAP)
            assert not flags & v.V4L2_BUF_FLAG_ERROR, f"stateful decoder: frame {len(out)} has ERROR"
            out.append(data)
            dec.qbuf(dec.CAP, idx)
        dec.stream(dec.OUT, False)
        dec.stream(dec.CAP, False)
        return out, fmt
    finally:
        dec.close()


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def raw_frames() -> list[bytes]:
    return moving_pattern(NFRAMES, WIDTH, HEIGHT)


@pytest.fixture(scope="module")
def our_stream(raw_frames) -> bytes:
    enc = FwhtEncoder(WIDTH, HEIGHT)
    return b"".join(enc.encode(f) for f in raw_frames)


@pytest.fixture(scope="module")
def our_decoded(our_stream) -> list[bytes]:
    dec = FwhtStatefulDecoder()
    return [dec.decode(f.header, f.payload) for f in split_frames(our_stream)]


def golden():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "emulated" / "test_fwht_codec.py"
    spec = importlib.util.spec_from_file_location("_fwht_golden", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.VICODEC_ENCODED_SHA256, mod.VICODEC_DECODED_SHA256


def sha(b: bytes) -> str:
    import hashlib

    return hashlib.sha256(b).hexdigest()


def vicodec_stateless(backend):
    infos = [i for i in discover(backend) if i.driver == "vicodec" and "fwht" in i.codecs]
    assert infos, "vicodec's stateless decoder not found by discover()"
    return infos[0]


# ----------------------------------------------------------------------- the kernel proof
def _kernel_proof(raw_frames, our_stream, our_decoded, expect_mplane: bool) -> None:
    if not IN_VM:
        pytest.skip("runs inside the test VM (PYV4L2REQ_IN_VM=1)")
    with open("/proc/cmdline") as f:
        booted_mplane = "vicodec.multiplanar=1" in f.read().split()
    if booted_mplane is not expect_mplane:
        pytest.skip(f"this kernel was booted {'with' if booted_mplane else 'without'} vicodec.multiplanar=1")
    b = OSBackend()
    enc_sha, dec_sha = golden()
    # 1. vicodec's stateful encoder == our encoder, byte for byte
    encoded = vicodec_encode(b, raw_frames, WIDTH, HEIGHT)
    assert len(encoded) == NFRAMES
    ours = [our_stream[f.offset: f.offset + FWHT_HEADER_SIZE + f.header.size] for f in split_frames(our_stream)]
    for k, (a, o) in enumerate(zip(encoded, ours)):
        assert a == o, f"frame {k}: vicodec's encoder and FwhtEncoder differ"
    assert [sha(e) for e in encoded] == enc_sha
    stream = b"".join(encoded)
    # 2. vicodec's stateful decoder
    stateful, fmt = vicodec_stateful_decode(b, encoded)
    assert fmt[:3] == (v.V4L2_PIX_FMT_YUV420, WIDTH, HEIGHT)
    assert [sha(d) for d in stateful] == dec_sha
    # 3. vicodec's stateless decoder through our pipeline (requests, references by timestamp)
    info = vicodec_stateless(b)
    assert info.multiplanar is expect_mplane
    with FwhtStatelessDecoder(b, video_path=info.video_path, media_path=info.media_path) as dec:
        frames = dec.decode(stream)
    assert len(frames) == NFRAMES
    for k, f in enumerate(frames):
        assert (f.width, f.height, f.coded_width, f.coded_height) == (WIDTH, HEIGHT, WIDTH, HEIGHT)
        assert f.data == stateful[k], f"frame {k}: stateless and stateful vicodec decoders differ"
        assert f.data == our_decoded[k], f"frame {k}: vicodec and our Python decoder differ"
    assert [f.keyframe for f in frames] == [k in (0, 3, 4, 14) for k in range(NFRAMES)]


@pytest.mark.vm
def test_vicodec_single_planar(raw_frames, our_stream, our_decoded):
    _kernel_proof(raw_frames, our_stream, our_decoded, expect_mplane=False)


@pytest.mark.vm(cmdline="vicodec.multiplanar=1")
def test_vicodec_multiplanar(raw_frames, our_stream, our_decoded):
    _kernel_proof(raw_frames, our_stream, our_decoded, expect_mplane=True)


# ------------------------------------------- host twin / both backends (device-level suite)
def test_stateless_pipeline_decode(fwht_device, our_stream, our_decoded):
    """The pipeline on the emulated FWHT device (host) and on vicodec (VM) gives exactly our
    Python decoder's frames (which equal vicodec's, see test_fwht_codec.py)."""
    backend, info = fwht_device
    with FwhtStatelessDecoder(backend, video_path=info.video_path, media_path=info.media_path) as dec:
        frames = dec.decode(our_stream)
    assert [f.data for f in frames] == our_decoded
    assert [f.timestamp_ns for f in frames] == [(k + 1) * 1000 for k in range(NFRAMES)]


def test_missing_reference_is_a_decode_error(fwht_device, our_stream, our_decoded):
    """A P-frame whose backward_ref_ts names no CAPTURE buffer: the driver flags ERROR."""
    backend, info = fwht_device
    frames = split_frames(our_stream)
    with FwhtStatelessDecoder(backend, video_path=info.video_path, media_path=info.media_path) as dec:
        first = dec._decode_one(frames[0])
        assert first.data == our_decoded[0]
        dec.state.last_timestamp_ns = 999_000          # no CAPTURE buffer carries this timestamp
        with pytest.raises(DecodeError, match="V4L2_BUF_FLAG_ERROR"):
            dec._decode_one(frames[1])


def test_chunked_input_and_no_fd_leak(fwht_device, our_stream, our_decoded):
    """Feeding the stream in odd-sized pieces gives the same frames; close() releases every fd
    (video, media, requests, buffer mappings)."""
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    backend, info = fwht_device
    before = open_fds()
    chunks = [our_stream[i: i + 7777] for i in range(0, len(our_stream), 7777)]
    dec = FwhtStatelessDecoder(backend, video_path=info.video_path, media_path=info.media_path)
    got = [f.data for f in dec.iter_decode(iter(chunks))]
    dec.close()
    dec.close()
    assert got == our_decoded
    assert open_fds() == before


def test_size_change_is_unsupported(fwht_device, our_stream):
    from pyv4l2req.errors import UnsupportedStream

    backend, info = fwht_device
    other = FwhtEncoder(656, 368).encode(moving_pattern(1, 656, 368)[0])
    first = split_frames(our_stream)[0]
    data = our_stream[: FWHT_HEADER_SIZE + first.header.size] + other
    with FwhtStatelessDecoder(backend, video_path=info.video_path, media_path=info.media_path) as dec:
        with pytest.raises(UnsupportedStream, match="size changes"):
            dec.decode(data)


def _open_stateless(backend, info):
    """VideoDevice + MediaDevice + queues set up for 640x368 YUV420, streaming."""
    from pyv4l2req.v4l2 import MediaDevice, Queue, VideoDevice

    dev = VideoDevice(backend, info.video_path)
    media = MediaDevice(backend, info.media_path)
    dev.s_fmt(dev.output_type, v.V4L2_PIX_FMT_FWHT_STATELESS, WIDTH, HEIGHT)
    dev.s_fmt(dev.capture_type, v.V4L2_PIX_FMT_YUV420, WIDTH, HEIGHT)
    out_q, cap_q = Queue(dev, dev.output_type), Queue(dev, dev.capture_type)
    out_q.setup(1)
    cap_q.setup(2)
    return dev, media, out_q, cap_q


def test_request_without_params_is_enoent(fwht_device, our_stream):
    """vicodec_request_validate: a request without V4L2_CID_STATELESS_FWHT_PARAMS -> ENOENT."""
    backend, info = fwht_device
    dev, media, out_q, cap_q = _open_stateless(backend, info)
    try:
        out_q.streamon()
        cap_q.streamon()
        req = media.alloc_request()
        payload = split_frames(our_stream)[0].payload
        out_q.buffers[0].write(payload)
        out_q.qbuf(0, bytesused=len(payload), timestamp_ns=1000, request=req)
        with pytest.raises(V4L2Error) as ei:
            req.queue()
        assert ei.value.errno == errno.ENOENT
        req.close()
    finally:
        out_q.free()
        cap_q.free()
        media.close()
        dev.close()


def test_params_below_minimum_size_rejected_at_set(fwht_device, backend_kind, our_stream):
    """vicodec_try_ctrl: FWHT_PARAMS.width < 640 fails VIDIOC_S_EXT_CTRLS with EINVAL."""
    from pyv4l2req.codec.fwht import FwhtDecoderState, pack_params
    from pyv4l2req.uapi import controls as cid

    backend, info = fwht_device
    dev, media, out_q, cap_q = _open_stateless(backend, info)
    try:
        job = FwhtDecoderState().decode_frame(split_frames(our_stream)[0], 1000)
        req = media.alloc_request()
        with pytest.raises(V4L2Error) as ei:
            dev.set_controls([(cid.V4L2_CID_STATELESS_FWHT_PARAMS, pack_params(dict(job.params, width=320)))],
                             request=req)
        assert ei.value.errno == errno.EINVAL
        dev.set_controls([(cid.V4L2_CID_STATELESS_FWHT_PARAMS, pack_params(job.params))], request=req)
        req.close()
    finally:
        out_q.free()
        cap_q.free()
        media.close()
        dev.close()


@pytest.mark.vm
def test_vicodec_visible_smaller_than_coded():
    """640x360 visible (coded 640x368: vicodec rounds the chroma height 180 up to 184): our
    encoder matches vicodec's, and vicodec's stateless decoder through the pipeline (CAPTURE
    sized by codec.fwht.coded_size) matches our decoder exactly and vicodec's stateful decoder
    except, in P-frames, the last chroma block row: the stateful decoder's private reference
    copy (copy_cap_to_ref) holds only the 180 visible chroma rows, so rows 180..183 it predicts
    from are stale, while the stateless decoder predicts from the whole CAPTURE buffer."""
    if not IN_VM:
        pytest.skip("runs inside the test VM (PYV4L2REQ_IN_VM=1)")
    b = OSBackend()
    raw = moving_pattern(5, WIDTH, HEIGHT)
    encoded = vicodec_encode(b, raw, WIDTH, HEIGHT, crop=(640, 360))
    enc = FwhtEncoder(640, 360)
    assert [enc.encode(f) for f in raw] == encoded
    assert {(int.from_bytes(e[12:16], "big"), int.from_bytes(e[16:20], "big")) for e in encoded} == {(640, 360)}
    stateful, fmt = vicodec_stateful_decode(b, encoded)
    assert fmt[1:3] == (640, 368)
    sd = FwhtStatefulDecoder()
    ours = [sd.decode(f.header, f.payload) for f in split_frames(b"".join(encoded))]
    info = vicodec_stateless(b)
    with FwhtStatelessDecoder(b, video_path=info.video_path, media_path=info.media_path) as dec:
        frames = dec.decode(b"".join(encoded))
    assert [(f.width, f.height, f.coded_width, f.coded_height) for f in frames] == [(640, 360, 640, 368)] * 5
    luma = 640 * 368
    for k, f in enumerate(frames):
        assert f.data == ours[k], f"frame {k}: vicodec and our Python decoder differ"
        if f.keyframe:
            assert f.data == stateful[k], f"I-frame {k}: stateless and stateful vicodec decoders differ"
        else:
            assert f.data[:luma] == stateful[k][:luma], f"frame {k}: luma differs from the stateful decoder"
            for c in range(2):
                base = luma + c * luma // 4
                rows = slice(base, base + 176 * 320)
                assert f.data[rows] == stateful[k][rows], f"frame {k}: chroma {c} rows < 176 differ"


@pytest.mark.parametrize("fourcc", [v.v4l2_fourcc("N", "V", "1", "2"), v.v4l2_fourcc("Y", "V", "1", "2")],
                         ids=["NV12", "YVU420"])
def test_other_capture_formats(fwht_device, our_stream, our_decoded, fourcc):
    """The same 4:2:0 stream decoded into NV12 / YVU420 CAPTURE buffers (vicodec accepts every
    format whose subsampling matches) equals our decoder writing that layout into CAPTURE
    buffers used in the same order. Frame 3 has raw planes, which vicodec memcpy's ignoring
    the NV12 chroma step (Cr overwrites Cb, half of each row keeps the buffer's old bytes), so
    the buffer rotation matters; coded frames equal the YUV420 samples rearranged."""
    from pyv4l2req.emulated.fwht_codec import decode_frame, frame_views

    backend, info = fwht_device
    frames = split_frames(our_stream)[:6]
    data = b"".join(our_stream[f.offset: f.offset + FWHT_HEADER_SIZE + f.header.size] for f in frames)
    with FwhtStatelessDecoder(backend, video_path=info.video_path, media_path=info.media_path,
                              capture_fourcc=fourcc, capture_buffers=3) as dec:
        got = dec.decode(data)
    # the pipeline's CAPTURE rotation: all 3 queued; after a decode the old reference is re-queued
    bufs = [bytearray(WIDTH * HEIGHT * 3 // 2) for _ in range(3)]
    queue, ref = [0, 1, 2], None
    for k, f in enumerate(frames):
        i = queue.pop(0)
        refv = None if f.header.is_i_frame else frame_views(bufs[ref], fourcc, WIDTH, HEIGHT)
        decode_frame(f.payload, WIDTH, HEIGHT, f.header.flags, frame_views(bufs[i], fourcc, WIDTH, HEIGHT), refv)
        if ref is not None:
            queue.append(ref)
        ref = i
        assert got[k].pixelformat == fourcc
        assert got[k].data == bytes(bufs[i]), f"frame {k}"
        if k != 3:
            have = frame_views(got[k].data, fourcc, WIDTH, HEIGHT)
            want = frame_views(our_decoded[k], v.V4L2_PIX_FMT_YUV420, WIDTH, HEIGHT)
            for p in range(3):
                assert np.array_equal(have[p], want[p]), (k, p)
