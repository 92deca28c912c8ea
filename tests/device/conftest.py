"""Fixtures of the device-level suite: one set of assertions, two backends.

``backend`` is parametrised: ``emulated`` (``pyv4l2req.emulated.EmulatedBackend`` on the host)
and ``kernel`` (``OSBackend`` on the real test kernel, ``@pytest.mark.vm``: visl and vicodec).
``h264_device`` / ``fwht_device`` give ``(backend, DecoderInfo)`` of visl / vicodec's stateless
decoder, or of the emulated device's H.264 / FWHT decoder.

The H.264 helpers make a *valid* IDR picture of any size in macroblocks, all I_PCM (so every
decoder, FFmpeg included, reproduces the samples exactly), with the matching SPS / PPS /
decode_params / slice_params control payloads packed by ``pyv4l2req.uapi.h264``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from pyv4l2req.emulated.nal_writer import escape_rbsp
from pyv4l2req.kernel.backend import OSBackend
from pyv4l2req.uapi import controls as C
from pyv4l2req.uapi import h264 as uh264
from pyv4l2req.uapi import videodev2 as v
from pyv4l2req.v4l2 import DecoderInfo, MediaDevice, Queue, RequestPool, VideoDevice, discover

IN_VM = os.environ.get("PYV4L2REQ_IN_VM") == "1"
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def open_fds() -> int:
    """Number of open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def _emulated_backend(single_planar: bool = False):
    try:
        from pyv4l2req.emulated import EmulatedBackend
    except ImportError as e:
        if IN_CI:
            raise
        pytest.skip(f"pyv4l2req.emulated.EmulatedBackend not importable yet: {e}")
    return EmulatedBackend(single_planar=single_planar)


EMULATED_SINGLE_PLANAR = "emulated-single-planar"


def pytest_generate_tests(metafunc):
    """``backend_kind``: emulated and kernel; tests of the FWHT decoder also run on the emulated
    device's single-planar variant (vicodec is single-planar by default), so single-planar queue
    code is exercised on the host too."""
    if "backend_kind" in metafunc.fixturenames:
        kinds = ["emulated"] + ([EMULATED_SINGLE_PLANAR] if "fwht_device" in metafunc.fixturenames else [])
        metafunc.parametrize("backend_kind", kinds + [pytest.param("kernel", marks=pytest.mark.vm)], indirect=True)


@pytest.fixture
def backend_kind(request) -> str:
    """``"emulated"`` (either planarity of the emulated device) or ``"kernel"``."""
    if request.param == "kernel" and not IN_VM:
        pytest.skip("kernel backend tests run inside the test VM (PYV4L2REQ_IN_VM=1)")
    return "emulated" if request.param == EMULATED_SINGLE_PLANAR else request.param


@pytest.fixture
def backend(request, backend_kind):
    if backend_kind == "kernel":
        return OSBackend()
    callspec = getattr(request.node, "callspec", None)
    return _emulated_backend(callspec is not None and callspec.params.get("backend_kind") == EMULATED_SINGLE_PLANAR)


def _pick(backend, backend_kind: str, codec: str, kernel_driver: str) -> DecoderInfo:
    infos = [i for i in discover(backend) if codec in i.codecs]
    if backend_kind == "kernel":
        infos = [i for i in infos if i.driver == kernel_driver]
    assert infos, f"no {codec} stateless decoder found on the {backend_kind} backend"
    return infos[0]


@pytest.fixture
def h264_device(backend, backend_kind) -> tuple[object, DecoderInfo]:
    """(backend, DecoderInfo) of visl (kernel) or the emulated H.264 decoder."""
    return backend, _pick(backend, backend_kind, "h264", "visl")


@pytest.fixture
def fwht_device(backend, backend_kind) -> tuple[object, DecoderInfo]:
    """(backend, DecoderInfo) of vicodec's stateless decoder (kernel) or the emulated FWHT one."""
    return backend, _pick(backend, backend_kind, "fwht", "vicodec")


# ------------------------------------------------------------------- minimal valid H.264
class BitWriter:
    """MSB-first bit writer (u(n), ue(v), se(v)) with byte-aligned raw appends."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.nacc = 0

    def __len__(self) -> int:
        return len(self.out) * 8 + self.nacc

    def u(self, n: int, value: int) -> None:
        self.acc = (self.acc << n) | (value & ((1 << n) - 1))
        self.nacc += n
        while self.nacc >= 8:
            self.nacc -= 8
            self.out.append((self.acc >> self.nacc) & 0xFF)
        self.acc &= (1 << self.nacc) - 1

    def ue(self, value: int) -> None:
        x = value + 1
        n = x.bit_length()
        self.u(n - 1, 0)
        self.u(n, x)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align_zero(self) -> None:
        if self.nacc:
            self.u(8 - self.nacc, 0)

    def raw(self, data: bytes) -> None:
        assert self.nacc == 0
        self.out += data

    def trailing(self) -> None:
        self.u(1, 1)
        self.align_zero()

    def bytes(self) -> bytes:
        assert self.nacc == 0
        return bytes(self.out)


ebsp = escape_rbsp  # H.264 7.4.1 emulation prevention (the emulated device's writer)


@dataclass
class IdrPicture:
    """One I_PCM IDR picture: the slice NAL (no start code) and its control payloads."""

    width: int
    height: int
    nal: bytes
    luma: bytes  # the Y samples coded, raster order (width x height)
    controls: list[tuple[int, bytes]] = field(default_factory=list)


def make_idr(width_mbs: int, height_mbs: int, idr_pic_id: int = 0, seed: int = 0) -> IdrPicture:
    """A baseline-profile IDR of *width_mbs* x *height_mbs* macroblocks, every MB I_PCM."""
    w, h = width_mbs * 16, height_mbs * 16
    luma = bytes(16 + ((x * 7 + y * 3 + seed * 11) % 200) for y in range(h) for x in range(w))
    bw = BitWriter()
    bw.ue(0)  # first_mb_in_slice
    bw.ue(7)  # slice_type: I (all slices of the picture)
    bw.ue(0)  # pic_parameter_set_id
    bw.u(4, 0)  # frame_num (log2_max_frame_num = 4)
    bw.ue(idr_pic_id)
    mark_start = len(bw)
    bw.u(1, 0)  # no_output_of_prior_pics_flag
    bw.u(1, 0)  # long_term_reference_flag
    mark_bits = len(bw) - mark_start
    bw.se(0)  # slice_qp_delta
    bw.ue(1)  # disable_deblocking_filter_idc
    header_bit_size = len(bw)
    for mby in range(height_mbs):
        for mbx in range(width_mbs):
            bw.ue(25)  # mb_type I_PCM
            bw.align_zero()  # pcm_alignment_zero_bit
            for y in range(16):
                row = (mby * 16 + y) * w + mbx * 16
                bw.raw(luma[row:row + 16])
            bw.raw(bytes([128]) * 128)  # Cb, Cr
    bw.trailing()
    nal = bytes([0x65]) + ebsp(bw.bytes())  # nal_ref_idc 3, nal_unit_type 5
    sps = uh264.pack(uh264.v4l2_ctrl_h264_sps, {
        "profile_idc": 66, "level_idc": 30, "chroma_format_idc": 1, "pic_order_cnt_type": 2,
        "max_num_ref_frames": 1, "pic_width_in_mbs_minus1": width_mbs - 1,
        "pic_height_in_map_units_minus1": height_mbs - 1,
        "flags": uh264.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY | uh264.V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE,
    })
    pps = uh264.pack(uh264.v4l2_ctrl_h264_pps, {"flags": uh264.V4L2_H264_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT})
    dp = uh264.pack(uh264.v4l2_ctrl_h264_decode_params, {
        "nal_ref_idc": 3, "idr_pic_id": idr_pic_id, "dec_ref_pic_marking_bit_size": mark_bits,
        "flags": uh264.V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC,
    })
    sp = uh264.pack(uh264.v4l2_ctrl_h264_slice_params, {
        "header_bit_size": header_bit_size, "slice_type": uh264.V4L2_H264_SLICE_TYPE_I,
        "disable_deblocking_filter_idc": 1,
    })
    ctrls = [(C.V4L2_CID_STATELESS_H264_SPS, sps), (C.V4L2_CID_STATELESS_H264_PPS, pps),
             (C.V4L2_CID_STATELESS_H264_DECODE_PARAMS, dp), (C.V4L2_CID_STATELESS_H264_SLICE_PARAMS, sp)]
    return IdrPicture(w, h, nal, luma, ctrls)


class H264Context:
    """A decode context on an H.264 stateless decoder: device, both queues, requests.

    ``setup(w_mbs, h_mbs)`` configures in the order drivers accept (OUTPUT format, SPS, CAPTURE
    format, buffers, STREAMON); ``teardown()`` STREAMOFF + unmap + REQBUFS(0) on both queues.
    """

    def __init__(self, backend, info: DecoderInfo, n_out: int = 2, n_cap: int = 3, pool_size: int = 2) -> None:
        self.backend, self.info = backend, info
        self.n_out, self.n_cap, self.pool_size = n_out, n_cap, pool_size
        self.dev = VideoDevice(backend, info.video_path)
        self.media = MediaDevice(backend, info.media_path)
        self.out_q: Queue | None = None
        self.cap_q: Queue | None = None
        self.pool: RequestPool | None = None
        self.pic: IdrPicture | None = None

    def setup(self, width_mbs: int = 4, height_mbs: int = 4, stream: bool = True) -> None:
        dev = self.dev
        self.pic = make_idr(width_mbs, height_mbs)
        w, h = self.pic.width, self.pic.height
        fmt = dev.s_fmt(dev.output_type, v.V4L2_PIX_FMT_H264_SLICE, w, h, sizeimage=256 * 1024)
        assert (fmt.width, fmt.height) == (w, h)
        dev.set_controls([self.pic.controls[0]])  # SPS before the CAPTURE format
        cap = dev.s_fmt(dev.capture_type, v.V4L2_PIX_FMT_NV12, w, h)
        assert cap.pixelformat == v.V4L2_PIX_FMT_NV12 and cap.width >= w and cap.height >= h
        self.cap_fmt = cap
        self.out_q = Queue(dev, dev.output_type)
        assert self.out_q.setup(self.n_out) >= 1
        self.cap_q = Queue(dev, dev.capture_type)
        assert self.cap_q.setup(self.n_cap) >= 1
        self.pool = RequestPool(self.media, min(self.pool_size, len(self.out_q.buffers)))
        if stream:
            self.out_q.streamon()
            self.cap_q.streamon()

    def teardown(self) -> None:
        for q in (self.out_q, self.cap_q):
            if q is not None:
                q.free()
        if self.pool is not None:
            self.pool.close()
        self.out_q = self.cap_q = self.pool = None

    def close(self) -> None:
        try:
            self.teardown()
        finally:
            self.dev.close()
            self.media.close()

    def submit(self, request, out_index: int, timestamp_ns: int, pic: IdrPicture | None = None) -> None:
        """Controls + OUTPUT buffer into *request*, then MEDIA_REQUEST_IOC_QUEUE."""
        pic = pic or self.pic
        assert self.out_q is not None and pic is not None
        self.dev.set_controls(pic.controls, request=request)
        n = self.out_q.buffers[out_index].write(pic.nal)
        self.out_q.qbuf(out_index, bytesused=n, timestamp_ns=timestamp_ns, request=request)
        request.queue()

    def cycle(self, timestamp_ns: int, timeout_s: float = 10.0):
        """One frame through a pooled request: returns (OUTPUT Dequeued, CAPTURE Dequeued)."""
        assert self.out_q is not None and self.cap_q is not None and self.pool is not None
        cap_index = self.cap_q.free_indices()[0]
        self.cap_q.qbuf(cap_index)
        slot = self.pool.acquire()
        try:
            self.submit(slot.request, 0, timestamp_ns)
            slot.request.wait(timeout_s)
            out = self.out_q.dqbuf()
            assert self.cap_q.wait(timeout_s)
            cap = self.cap_q.dqbuf()
        except BaseException:
            self.pool.discard(slot, "test cycle failed")
            raise
        self.pool.release(slot)
        return out, cap


@pytest.fixture
def h264_context(h264_device):
    """A factory of :class:`H264Context` on the H.264 device; every context is closed after."""
    backend, info = h264_device
    made: list[H264Context] = []

    def make(**kw) -> H264Context:
        ctx = H264Context(backend, info, **kw)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def fds():
    """``fds()`` -> number of open file descriptors of this process (/proc/self/fd)."""
    return open_fds
