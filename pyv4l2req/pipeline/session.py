"""Device session: one stateless decoder, its queues, requests and CAPTURE-buffer bookkeeping.

The role of GStreamer's ``gstv4l2decoder.c``: everything that touches the device for a decode,
independent of how the codec turned syntax into controls. Responsibilities:

- open the device chosen by the user (``auto`` / ``emulated`` / a ``/dev/videoN`` path);
- (re)configure on a new sequence: OUTPUT format first, decode mode and start code, the SPS
  control (drivers pick CAPTURE formats from it), CAPTURE format (linear NV12 preferred, tiled
  formats detiled on the CPU), buffer pools sized from the stream, STREAMON;
- submit pictures as media requests (several in flight), reap completed requests, keep the
  CAPTURE buffer of each decoded picture until the codec layer releases it;
- turn a decoded CAPTURE buffer into a :class:`Frame` (copy), with error propagation.

The per-picture path (``submit`` -> ``_queue_job`` -> ``_reap_one`` -> ``release``) allocates
nothing for the kernel: the controls of a request go through a :class:`ControlSet` prepared
once per combination of controls (its payloads are written in place: the SPS/PPS/scaling
matrix bytes, packed again only when the codec hands a different dict, and the decode params
packed straight into their payload), the slices are copied one by one into the mmap'ed OUTPUT
buffer, and QBUF/DQBUF use the queues' reusable ``v4l2_buffer`` (``qbuf_fd``/``dqbuf_raw``).
"""

from __future__ import annotations

import collections
import time
from typing import Sequence

from ..codec.h264 import decoder as h264dec
from ..codec.h264 import v4l2_controls as h264ctl
from ..errors import DecodeError, NoDeviceError, RequestError, UnsupportedStream, V4L2Error
from ..kernel.backend import Backend, OSBackend
from ..uapi import controls as C
from ..uapi import h264 as uh264
from ..uapi import videodev2 as v
from ..v4l2.device import ControlSet, VideoDevice
from ..v4l2.discover import DecoderInfo, discover
from ..v4l2.media import MediaDevice
from ..v4l2.queue import Queue
from ..v4l2.request import RequestPool
from .frames import SUPPORTED_CAPTURE_FORMATS, Crop, Frame, capture_to_frame, nv12_views

ANNEXB_START = b"\x00\x00\x01"
_HOLD = v.V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF
_SPS, _PPS = C.V4L2_CID_STATELESS_H264_SPS, C.V4L2_CID_STATELESS_H264_PPS
_DECODE_PARAMS, _SCALING_MATRIX = C.V4L2_CID_STATELESS_H264_DECODE_PARAMS, C.V4L2_CID_STATELESS_H264_SCALING_MATRIX
_SLICE_PARAMS, _PRED_WEIGHTS = C.V4L2_CID_STATELESS_H264_SLICE_PARAMS, C.V4L2_CID_STATELESS_H264_PRED_WEIGHTS
_pack_decode_params_into = uh264.fast(uh264.v4l2_ctrl_h264_decode_params).pack_into
_pack_slice_params_into = uh264.fast(uh264.v4l2_ctrl_h264_slice_params).pack_into
_pack_pred_weights_into = uh264.fast(uh264.v4l2_ctrl_h264_pred_weights).pack_into
PROFILE_NAMES = {66: "Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High 10",
                 122: "High 4:2:2", 244: "High 4:4:4 Predictive", 44: "CAVLC 4:4:4 Intra"}
EXTRA_CAPTURE = 2  # frames held by us while being copied out / display slack


def open_device(device: str, *, backend: Backend | None = None, decode_mode: str = "auto",
                start_code: str = "auto", in_flight: int = 4, timeout_s: float = 10.0) -> "DeviceSession":
    """Find and open the decoder named by *device* (see :class:`pyv4l2req.Decoder`)."""
    notice = None
    if device == "emulated":
        from ..emulated import EmulatedBackend

        backend = backend or EmulatedBackend()
        infos = [i for i in discover(backend) if "h264" in i.codecs]
    elif device == "auto":
        be = backend or OSBackend()
        infos = [i for i in discover(be) if "h264" in i.codecs]
        backend = be
        if not infos and backend is not None and getattr(backend, "name", "") == "os":
            from ..emulated import EmulatedBackend

            backend = EmulatedBackend()
            infos = [i for i in discover(backend) if "h264" in i.codecs]
            notice = "no hardware stateless H.264 decoder found; using the emulated device (pixels by FFmpeg)"
    else:
        backend = backend or OSBackend()
        if backend.device_number(device) is None and getattr(backend, "name", "") == "os":
            import os

            if not os.path.exists(device):
                raise NoDeviceError(f"{device}: no such device node")
        found = discover(backend)
        infos = [i for i in found if i.video_path == device]
        if not infos:
            listing = ", ".join(f"{i.video_path} ({i.driver}: {', '.join(i.codecs)})" for i in found) or "none"
            raise NoDeviceError(f"{device} is not a stateless decoder (stateless decoders found: {listing})")
        if "h264" not in infos[0].codecs:
            raise NoDeviceError(f"{device} ({infos[0].driver}) does not decode H.264 (it does {', '.join(infos[0].codecs)})")
    if not infos:
        raise NoDeviceError("no stateless H.264 decoder found (looked through every /dev/media* topology)")
    return DeviceSession(backend, infos[0], decode_mode=decode_mode, start_code=start_code, in_flight=in_flight,
                         timeout_s=timeout_s, notice=notice)


# A request in flight (``DeviceSession._jobs``) is the plain tuple (slot, OUTPUT index,
# timestamp_ns, holds): *holds* when the CAPTURE buffer stays with the device after it
# (HOLD_CAPTURE_BUF). A tuple, not a dataclass: one per request, made and read on the hot path.
_JOB_HOLDS = 3


class DeviceSession:
    """Device, queues and requests of one decode (see module docstring)."""

    def __init__(self, backend: Backend, info: DecoderInfo, *, decode_mode: str, start_code: str = "auto", in_flight: int,
                 timeout_s: float, notice: str | None = None) -> None:
        self.backend = backend
        self.info = info
        self.notice = notice
        self.name = f"{info.video_path} ({info.driver})"
        self.in_flight = max(1, in_flight)
        self.timeout_s = timeout_s
        self.dev = VideoDevice(backend, info.video_path)
        self.media = MediaDevice(backend, info.media_path)
        mp = self.dev.is_multiplanar
        self.out_type = v.V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE if mp else v.V4L2_BUF_TYPE_VIDEO_OUTPUT
        self.cap_type = v.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE if mp else v.V4L2_BUF_TYPE_VIDEO_CAPTURE
        self.frame_based, self.annexb = self._choose_modes(decode_mode, start_code)
        self._supports_hold = self.dev.supports_hold
        self._timeout_ms = max(0, int(round(timeout_s * 1000)))
        #: prepared S_EXT_CTRLS by (scaling matrix, slice params, pred weights) sent
        self._control_sets: dict[tuple[bool, bool, bool], ControlSet] = {}
        #: those of frame-based mode by "scaling matrix sent" (False, True)
        self._frame_controls: list[ControlSet | None] = [None, None]
        # the SPS/PPS/scaling matrix dicts of the codec (shared by every picture of a sequence,
        # read-only, see PictureDecode) and their packed bytes
        self._sps_src: object = None
        self._sps_bytes = b""
        self._pps_src: object = None
        self._pps_bytes = b""
        self._matrix_src: object = None
        self._matrix_bytes = b""
        self.out_q: Queue | None = None
        self.cap_q: Queue | None = None
        self.pool: RequestPool | None = None
        self.configured = False
        self._pending_seq: h264dec.SequenceStart | None = None
        self._seq: h264dec.SequenceStart | None = None
        self._free_out: list[int] = []
        self._jobs: collections.deque[tuple[object, int, int, bool]] = collections.deque()
        self._decoded: dict[int, tuple[int, bool]] = {}  # ts -> (capture index, error)
        self._release_pending: set[int] = set()
        self._corrupt: set[int] = set()
        self._refs: dict[int, tuple[int, ...]] = {}
        self._cap_queued = 0
        self._pack_cache = uh264.PackCache()
        self._out_planes: list[memoryview] = []  # plane 0 of each OUTPUT buffer
        #: per CAPTURE buffer: its (y, uv) numpy views for a linear NV12 format (built at its
        #: first frame; dropped before the buffers are unmapped), False for other formats
        self._cap_views: list = []
        self.cap_format = None
        #: CAPTURE buffers that could not be re-queued (index, error): out of the rotation
        self.lost_capture_buffers: list[tuple[int, str]] = []

    # -- modes ---------------------------------------------------------------------------
    def _choose_modes(self, decode_mode: str, start_code: str) -> tuple[bool, bool]:
        """Pick the decode mode and start-code mode among what the device's menus offer.

        ``auto`` prefers frame-based decoding (one request per picture instead of one per
        slice) and, in frame-based mode, Annex B start codes (the slices of a picture must be
        delimited); ``slice``/``frame``/``annexb``/``none`` force a choice and fail clearly
        when the device does not offer it.
        """
        D, S = C.V4L2_CID_STATELESS_H264_DECODE_MODE, C.V4L2_CID_STATELESS_H264_START_CODE
        modes = self.dev.menu_values(D)
        frame_mode, slice_mode = (C.V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
                                  C.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED)
        if decode_mode == "auto":
            want = frame_mode if frame_mode in modes else self.dev.get_control(D)
        else:
            want = {"frame": frame_mode, "slice": slice_mode}[decode_mode]
            if want not in modes:
                raise UnsupportedStream(f"{self.name} does not support {decode_mode}-based decoding")
        codes = self.dev.menu_values(S)
        annexb, none = C.V4L2_STATELESS_H264_START_CODE_ANNEX_B, C.V4L2_STATELESS_H264_START_CODE_NONE
        if start_code == "auto":
            sc = annexb if (want == frame_mode and annexb in codes) else self.dev.get_control(S)
        else:
            sc = {"annexb": annexb, "none": none}[start_code]
            if sc not in codes:
                raise UnsupportedStream(f"{self.name} does not support start code mode {start_code!r}")
        self.dev.set_controls([(D, want), (S, sc)])
        return want == frame_mode, sc == annexb

    # -- configuration ---------------------------------------------------------------------
    def configure(self, seq: "h264dec.SequenceStart") -> None:
        """A new sequence starts; the device is set up at its first picture (needs the SPS).

        Raises :class:`UnsupportedStream` for a sequence whose pictures the CAPTURE formats we
        read (8-bit 4:2:0: NV12, YUV420 and the tiled NV12 variants) cannot hold.
        """
        if seq.chroma_format_idc != 1 or seq.bit_depth_luma != 8 or getattr(seq, "bit_depth_chroma", 8) != 8:
            chroma = {0: "4:0:0 (monochrome)", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}.get(seq.chroma_format_idc, "?")
            raise UnsupportedStream(
                f"{PROFILE_NAMES.get(seq.profile_idc, f'profile_idc {seq.profile_idc}')} stream with "
                f"{seq.bit_depth_luma}-bit {chroma} pictures: pyv4l2req reads 8-bit 4:2:0 CAPTURE "
                f"formats only (NV12, YUV420, NV12_4L4, NV12_32L32, MM21)")
        self._pending_seq = seq

    def _setup(self, seq: "h264dec.SequenceStart", sps_payload: bytes) -> None:
        if self.configured:
            self.drain()
            self._teardown()
        dev = self.dev
        w, h = seq.coded_width, seq.coded_height
        dev.s_fmt(self.out_type, v.V4L2_PIX_FMT_H264_SLICE, w, h, sizeimage=max(w * h * 3 // 4, 256 * 1024))
        dev.set_controls([(C.V4L2_CID_STATELESS_H264_SPS, sps_payload)])
        offered = [f.pixelformat for f in dev.enum_formats(self.cap_type)]
        choice = next((f for f in SUPPORTED_CAPTURE_FORMATS if f in offered), None)
        if choice is None:
            raise UnsupportedStream(
                f"{self.name} offers no CAPTURE format we can read for this stream "
                f"(offered: {', '.join(v_fourcc(f) for f in offered) or 'none'})")
        self.cap_format = dev.s_fmt(self.cap_type, choice, w, h)
        if self.cap_format.width < w or self.cap_format.height < h:
            raise UnsupportedStream(f"{self.name} cannot decode {w}x{h} (CAPTURE format is "
                                    f"{self.cap_format.width}x{self.cap_format.height})")
        self.out_q = Queue(dev, self.out_type)
        self.out_q.setup(self.in_flight)
        n_cap = seq.dpb_size + self.in_flight + EXTRA_CAPTURE
        self.cap_q = Queue(dev, self.cap_type)
        self.cap_q.setup(n_cap)
        self.pool = RequestPool(self.media, min(self.in_flight, len(self.out_q.buffers)))
        self._free_out = list(range(len(self.out_q.buffers)))
        self._out_planes = [b.planes[0] for b in self.out_q.buffers]
        self._out_qbuf, self._out_dqbuf = self.out_q.qbuf_fd, self.out_q.dqbuf_raw
        self._cap_qbuf, self._cap_dqbuf = self.cap_q.qbuf_fd, self.cap_q.dqbuf_raw
        self._pool_free = self.pool.free_slots  # (the same list for the pool's lifetime)
        self._cap_views = [None] * len(self.cap_q.buffers)
        self.out_q.streamon()
        self.cap_q.streamon()
        for i in range(len(self.cap_q.buffers)):
            self.cap_q.qbuf(i)
        self._cap_queued = len(self.cap_q.buffers)
        self._seq = seq
        self.configured = True

    def _teardown(self) -> None:
        self._cap_views = []  # the numpy views hold the CAPTURE mappings
        for q in (self.out_q, self.cap_q):
            if q is not None:
                q.streamoff()
                q.free()
        if self.pool is not None:
            self.pool.close()
        self.out_q = self.cap_q = None
        self.pool = None
        self._out_planes = []
        self._decoded.clear()
        self._release_pending.clear()
        self._refs.clear()
        self.configured = False

    # -- decoding ------------------------------------------------------------------------
    def submit(self, pic: "h264dec.PictureDecode") -> int:
        """Queue the requests of one picture; returns how many were queued."""
        ctrl = h264ctl.picture_controls(pic)
        # SPS/PPS/scaling matrix change per sequence, not per picture: packed again only when
        # the codec hands another dict (then only if its value changed: PackCache)
        sps = ctrl["sps"]
        if sps is not self._sps_src:
            self._sps_bytes = self._pack_cache.pack(uh264.v4l2_ctrl_h264_sps, sps)
            self._sps_src = sps
        if self._pending_seq is not None:
            self._setup(self._pending_seq, self._sps_bytes)
            self._pending_seq = None
        if not self.configured:
            raise DecodeError("picture before any sequence start")
        pps = ctrl["pps"]
        if pps is not self._pps_src:
            self._pps_bytes = self._pack_cache.pack(uh264.v4l2_ctrl_h264_pps, pps)
            self._pps_src = pps
        matrix = ctrl.get("scaling_matrix")
        if matrix is not None and matrix is not self._matrix_src:
            self._matrix_bytes = self._pack_cache.pack(uh264.v4l2_ctrl_h264_scaling_matrix, matrix)
            self._matrix_src = matrix
        ts = pic.timestamp_ns
        self._refs[ts] = pic.reference_timestamps  # a tuple (PictureDecode): kept as it is
        hold_picture = self._supports_hold and bool(pic.is_first_field)
        slices = pic.slices
        if self.frame_based:
            if not self.annexb and len(slices) > 1:
                raise UnsupportedStream(
                    f"a picture with {len(slices)} slices cannot be sent frame-based without start "
                    f"codes (the device could not tell the slices apart): use start code 'annexb' or "
                    f"slice-based decoding")
            cs = self._frame_controls[matrix is not None]
            if cs is None:
                cs = self._frame_controls[matrix is not None] = self._controls(matrix is not None, False, False)
            payloads = cs.payloads
            payloads[0][:] = self._sps_bytes
            payloads[1][:] = self._pps_bytes
            _pack_decode_params_into(payloads[2], 0, ctrl["decode_params"])
            if matrix is not None:
                payloads[3][:] = self._matrix_bytes
            self._queue_job(slices, cs, ts, hold_picture)
            return 1
        # slice-based: one request per slice; the kernel copies each stored value back into
        # the payloads, so every request gets all of them written again
        decode_params = uh264.pack(uh264.v4l2_ctrl_h264_decode_params, ctrl["decode_params"])
        last = len(slices) - 1
        for i, s in enumerate(slices):
            slice_params, pred_weights = h264ctl.slice_controls(pic, s)
            cs = self._controls(matrix is not None, True, pred_weights is not None)
            payloads = cs.payloads
            payloads[0][:] = self._sps_bytes
            payloads[1][:] = self._pps_bytes
            payloads[2][:] = decode_params
            n = 3
            if matrix is not None:
                payloads[3][:] = self._matrix_bytes
                n = 4
            _pack_slice_params_into(payloads[n], 0, slice_params)
            if pred_weights is not None:
                _pack_pred_weights_into(payloads[n + 1], 0, pred_weights)
            self._queue_job((s,), cs, ts, hold_picture or i < last)
        return len(slices)

    def _controls(self, matrix: bool, slice_params: bool, pred_weights: bool) -> ControlSet:
        """The prepared S_EXT_CTRLS of a request: SPS, PPS, DECODE_PARAMS, [SCALING_MATRIX],
        [SLICE_PARAMS, [PRED_WEIGHTS]] (payloads in this order)."""
        key = (matrix, slice_params, pred_weights)
        cs = self._control_sets.get(key)
        if cs is None:
            cids = [_SPS, _PPS, _DECODE_PARAMS]
            if matrix:
                cids.append(_SCALING_MATRIX)
            if slice_params:
                cids.append(_SLICE_PARAMS)
                if pred_weights:
                    cids.append(_PRED_WEIGHTS)
            cs = self._control_sets[key] = self.dev.prepare_controls(cids)
        return cs

    def _queue_job(self, slices: "Sequence[h264dec.SliceJob]", cs: ControlSet, ts: int, holds: bool) -> None:
        """One request: *slices* (with start codes in Annex B mode) in a free OUTPUT buffer,
        the controls of *cs* as they are filled now, QBUF, QUEUE."""
        free_out, pool, pool_free = self._free_out, self.pool, self._pool_free
        while not free_out or not pool_free:  # (submit checked that we are configured)
            self._reap_one()
        if self._cap_queued == 0 and not any(not j[_JOB_HOLDS] for j in self._jobs):
            raise DecodeError(f"no free CAPTURE buffer ({len(self.cap_q.buffers)} allocated, all held)")
        idx = free_out.pop()
        mv = self._out_planes[idx]
        pos = 0
        try:  # slice by slice straight into the mmap'ed plane (a slice too far: ValueError)
            if self.annexb:
                for s in slices:
                    nal = s.nal
                    end = pos + 3 + len(nal)
                    mv[pos:pos + 3] = ANNEXB_START
                    mv[pos + 3:end] = nal
                    pos = end
            else:
                for s in slices:
                    nal = s.nal
                    end = pos + len(nal)
                    mv[pos:end] = nal
                    pos = end
        except ValueError:
            free_out.append(idx)
            size = sum(len(s.nal) for s in slices) + (3 * len(slices) if self.annexb else 0)
            raise DecodeError(f"a {size}-byte picture does not fit the "
                              f"{self.out_q.buffers[idx].length}-byte OUTPUT buffer") from None
        slot = pool.acquire()
        request = slot.request
        try:
            cs.apply(request.fd)
            self._out_qbuf(idx, pos, ts, request.fd, _HOLD if holds else 0)
            request.queue()
        except V4L2Error as e:
            pool.release(slot)
            free_out.append(idx)
            raise DecodeError(f"queueing the request for picture ts={ts} failed: {e}") from e
        self._jobs.append((slot, idx, ts, holds))

    def _reap_one(self) -> None:
        """Wait for the oldest request and dequeue what it finished."""
        if not self._jobs:
            raise DecodeError("internal: waiting with no request in flight")
        slot, _, job_ts, holds = self._jobs.popleft()
        pool = self.pool
        try:
            slot.request.wait_ms(self._timeout_ms)
        except RequestError:
            pool.discard(slot)  # its OUTPUT buffer is in an unknown state
            raise
        done = self._out_dqbuf()
        if done is None:
            pool.discard(slot)
            raise DecodeError(f"request for ts={job_ts} completed but no OUTPUT buffer came back")
        self._free_out.append(done[0])
        pool.release(slot)
        if holds:
            return
        # The CAPTURE buffer of this picture (and any held one before it) comes back now.
        decoded = self._decoded
        deadline = None
        while job_ts not in decoded:
            cap = self._cap_dqbuf()
            if cap is None:
                if deadline is None:
                    deadline = time.monotonic() + self.timeout_s
                elif time.monotonic() > deadline:
                    raise DecodeError(f"CAPTURE buffer for ts={job_ts} never came back")
                self.backend.poll([(self.dev.fd, 0x001)], 10)
                continue
            index, ts, flags = cap
            self._cap_queued -= 1
            decoded[ts] = (index, flags & v.V4L2_BUF_FLAG_ERROR != 0)
            if ts in self._release_pending:
                self._release_pending.discard(ts)
                self.release(ts)

    def is_decoded(self, ts: int) -> bool:
        return ts in self._decoded

    def drain(self) -> None:
        """Wait until every queued request has completed."""
        while self._jobs:
            self._reap_one()

    def frame(self, ts: int, crop) -> Frame:
        """Copy the decoded picture *ts* out of its CAPTURE buffer."""
        while ts not in self._decoded:
            if not self._jobs:
                raise DecodeError(f"internal: picture ts={ts} was never submitted")
            self._reap_one()
        assert self.cap_q is not None and self.cap_format is not None
        index, error = self._decoded[ts]
        corrupted = self._corrupt
        corrupt = error or (bool(corrupted) and not corrupted.isdisjoint(self._refs.get(ts, ())))
        if corrupt:
            corrupted.add(ts)
        frame = self._copy_out(index, crop)
        frame.timestamp_ns = ts
        frame.corrupt = corrupt
        return frame

    def _copy_out(self, index: int, crop) -> Frame:
        """The picture in CAPTURE buffer *index* copied into a new :class:`Frame` (detiled
        when the format is tiled); the one step of :meth:`frame` that touches every pixel."""
        views = self._cap_views[index]
        if views is None:  # first frame from this buffer: its views, once
            fmt = self.cap_format
            views = self._cap_views[index] = nv12_views(
                self.cap_q.buffers[index].planes, fmt.pixelformat, fmt.width, fmt.height,
                fmt.bytesperline[0]) or False
        if views:
            return Frame(views[0].copy(), views[1].copy(), Crop(crop.left, crop.top, crop.width, crop.height))
        fmt = self.cap_format
        return capture_to_frame(self.cap_q.buffers[index].planes, fmt.pixelformat, fmt.width, fmt.height,
                                fmt.bytesperline[0], Crop(crop.left, crop.top, crop.width, crop.height))

    def release(self, ts: int) -> None:
        """The codec no longer needs picture *ts*: give its CAPTURE buffer back."""
        entry = self._decoded.pop(ts, None)
        if entry is None:
            self._release_pending.add(ts)
            return
        self._refs.pop(ts, None)
        self._corrupt.discard(ts)
        try:
            self._cap_qbuf(entry[0], 0, 0, None, 0)  # = cap_q.qbuf(index): no payload, request
        except V4L2Error as e:
            # The buffer stays with us; decoding goes on with one CAPTURE buffer fewer (the pool
            # has slack). When none is left, _queue_job reports it.
            self.lost_capture_buffers.append((entry[0], str(e)))
            return
        self._cap_queued += 1

    def close(self) -> None:
        try:
            if self.configured:
                try:
                    self.drain()
                except (DecodeError, RequestError, V4L2Error):
                    pass
                self._teardown()
        finally:
            self.dev.close()
            self.media.close()


def v_fourcc(code: int) -> str:
    from ..uapi.ioc import fourcc_str

    return fourcc_str(code)
