"""Device session for H.264: the H.264 adapter on top of :class:`StatelessSession`.

The role of GStreamer's ``gstv4l2codech264dec.c`` on top of ``gstv4l2decoder.c``: the
codec-agnostic part (formats, buffers, requests, CAPTURE ownership, completions) is
:class:`pyv4l2req.v4l2.stateless.StatelessSession`; this module adds what is H.264's:

- open the device chosen by the user (``auto`` / ``emulated`` / a ``/dev/videoN`` path) and pick
  the decode mode and start code among what the device's menus offer;
- (re)configure on a new sequence, from its ``SequenceStart`` (sizes, DPB needs and the SPS):
  OUTPUT format, the SPS control (drivers pick CAPTURE formats from it), CAPTURE format (linear
  NV12 preferred, tiled formats detiled on the CPU; CAPTURE buffers = DPB + requests in flight
  + ``EXTRA_CAPTURE``);
- per picture the controls (SPS/PPS/scaling matrix packed only when the codec hands another
  dict, decode params, and in slice-based mode slice params and pred weights per request),
  the slices as bitstream chunks (start code + NAL unit, never concatenated), HOLD_CAPTURE_BUF
  for the slices of a picture and a first field;
- which picture is in which CAPTURE buffer, reference/corrupt bookkeeping (a picture is
  corrupt when the device flags its buffer V4L2_BUF_FLAG_ERROR, when the codec says it is
  ``damaged``, or when it references a corrupt picture), and turning a decoded CAPTURE buffer
  into a :class:`Frame` (copy).

The codec's per-picture control values are read in one place, at the top of
:meth:`DeviceSession.submit`.
"""

from __future__ import annotations

from ..codec.h264 import decoder as h264dec
from ..codec.h264 import v4l2_controls as h264ctl
from ..errors import DecodeError, NoDeviceError, UnsupportedStream
from ..kernel.backend import Backend, OSBackend
from ..uapi import controls as C
from ..uapi import h264 as uh264
from ..uapi import videodev2 as v
from ..v4l2.discover import DecoderInfo, discover
from ..v4l2.stateless import Completion, StatelessSession
from .frames import SUPPORTED_CAPTURE_FORMATS, Crop, Frame, capture_to_frame, nv12_views

ANNEXB_START = b"\x00\x00\x01"
_SPS, _PPS = C.V4L2_CID_STATELESS_H264_SPS, C.V4L2_CID_STATELESS_H264_PPS
_DECODE_PARAMS, _SCALING_MATRIX = C.V4L2_CID_STATELESS_H264_DECODE_PARAMS, C.V4L2_CID_STATELESS_H264_SCALING_MATRIX
_SLICE_PARAMS, _PRED_WEIGHTS = C.V4L2_CID_STATELESS_H264_SLICE_PARAMS, C.V4L2_CID_STATELESS_H264_PRED_WEIGHTS
PROFILE_NAMES = {66: "Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High 10",
                 122: "High 4:2:2", 244: "High 4:4:4 Predictive", 44: "CAVLC 4:4:4 Intra"}
#: what ``decode_mode`` / ``start_code`` accept (``Decoder`` and the CLI)
DECODE_MODES = ("auto", "frame", "slice")
START_CODES = ("auto", "annexb", "none")
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


class DeviceSession:
    """The H.264 adapter of one decode (see module docstring); ``core`` is its
    :class:`StatelessSession`."""

    def __init__(self, backend: Backend, info: DecoderInfo, *, decode_mode: str, start_code: str = "auto", in_flight: int,
                 timeout_s: float, notice: str | None = None) -> None:
        self.backend = backend
        self.info = info
        self.notice = notice
        self.in_flight = max(1, in_flight)
        self.timeout_s = timeout_s
        self.core = StatelessSession.open(backend, info, v.V4L2_PIX_FMT_H264_SLICE, timeout_s=timeout_s)
        self.name = self.core.name
        self.dev = self.core.dev
        try:
            self.frame_based, self.annexb = self._choose_modes(decode_mode, start_code)
        except BaseException:
            self.core.close()
            raise
        self._supports_hold = self.core.supports_hold
        # the SPS/PPS/scaling matrix dicts of the codec (shared by every picture of a sequence,
        # read-only, see PictureDecode) and their packed bytes
        self._sps_src: object = None
        self._sps_bytes = b""
        self._pps_src: object = None
        self._pps_bytes = b""
        self._matrix_src: object = None
        self._matrix_bytes = b""
        self._seq: h264dec.SequenceStart | None = None
        self._decoded: dict[int, tuple[int, bool]] = {}  # ts -> (capture index, error)
        self._release_pending: set[int] = set()
        self._corrupt: set[int] = set()
        self._refs: dict[int, tuple[int, ...]] = {}
        self._pack_cache = uh264.PackCache()
        self._sar = self._frame_rate = (0, 1)  # of the sequence: every Frame gets them
        #: per CAPTURE buffer: its (y, uv) numpy views for a linear NV12 format (built at its
        #: first frame; dropped before the buffers are unmapped), False for other formats
        self._cap_views: list = []

    # -- what the pipeline (and tests) read ------------------------------------------------
    @property
    def configured(self) -> bool:
        return self.core.configured

    @property
    def cap_format(self):
        return self.core.capture_format

    @property
    def out_q(self):
        return self.core.out_q

    @property
    def cap_q(self):
        return self.core.cap_q

    @property
    def lost_capture_buffers(self) -> list[tuple[int, str]]:
        """CAPTURE buffers that could not be queued (index, error): out of the rotation."""
        return self.core.lost_capture

    # -- modes ---------------------------------------------------------------------------
    def _choose_modes(self, decode_mode: str, start_code: str) -> tuple[bool, bool]:
        """Pick the decode mode and start-code mode among what the device's menus offer.

        ``auto`` prefers frame-based decoding (one request per picture instead of one per
        slice) and, in frame-based mode, Annex B start codes (the slices of a picture must be
        delimited); ``slice``/``frame``/``annexb``/``none`` force a choice and fail clearly
        when the device does not offer it.
        """
        if decode_mode not in DECODE_MODES:
            raise ValueError(f"unknown decode mode {decode_mode!r} (valid: {', '.join(DECODE_MODES)})")
        if start_code not in START_CODES:
            raise ValueError(f"unknown start code mode {start_code!r} (valid: {', '.join(START_CODES)})")
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
        """A new sequence starts: set the device up for it (drain and tear down the previous
        one first), with the SPS control of ``seq.sps``.

        Raises :class:`UnsupportedStream` for a sequence whose pictures the CAPTURE formats we
        read (8-bit 4:2:0: NV12, YUV420 and the tiled NV12 variants) cannot hold.
        """
        if seq.chroma_format_idc != 1 or seq.bit_depth_luma != 8 or getattr(seq, "bit_depth_chroma", 8) != 8:
            chroma = {0: "4:0:0 (monochrome)", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}.get(seq.chroma_format_idc, "?")
            raise UnsupportedStream(
                f"{PROFILE_NAMES.get(seq.profile_idc, f'profile_idc {seq.profile_idc}')} stream with "
                f"{seq.bit_depth_luma}-bit {chroma} pictures: pyv4l2req reads 8-bit 4:2:0 CAPTURE "
                f"formats only (NV12, YUV420, NV12_4L4, NV12_32L32, MM21)")
        if seq.sps is None:
            raise DecodeError("SequenceStart without its SPS: the device cannot be configured")
        self._sps_bytes = self._pack_cache.pack(uh264.v4l2_ctrl_h264_sps, h264ctl.sps_control(seq.sps))
        self._sps_src = None  # the first picture's SPS dict is compared by value (PackCache)
        self._cap_views = []  # the numpy views hold the CAPTURE mappings the core unmaps
        self._decoded.clear()
        self._release_pending.clear()
        self._refs.clear()
        w, h = seq.coded_width, seq.coded_height
        self.core.configure(w, h, capture_formats=SUPPORTED_CAPTURE_FORMATS,
                            capture_buffers=seq.dpb_size + self.in_flight + EXTRA_CAPTURE,
                            in_flight=self.in_flight, initial_controls=[(_SPS, self._sps_bytes)],
                            sizeimage=max(w * h * 3 // 4, 256 * 1024))
        self._cap_views = [None] * len(self.core.cap_q.buffers)  # type: ignore[union-attr]
        self._seq = seq
        self._sar, self._frame_rate = seq.sps.sample_aspect_ratio, seq.sps.frame_rate

    # -- decoding ------------------------------------------------------------------------
    def submit(self, pic: "h264dec.PictureDecode") -> int:
        """Queue the requests of one picture; returns how many were queued."""
        # the codec's control values of this picture: read here, and nowhere else
        ctrl = h264ctl.picture_controls(pic)
        sps, pps, matrix, decode_params = ctrl["sps"], ctrl["pps"], ctrl["scaling_matrix"], ctrl["decode_params"]
        slices = pic.slices
        per_slice = None if self.frame_based else [h264ctl.slice_controls(pic, s) for s in slices]

        # SPS/PPS/scaling matrix change per sequence, not per picture: packed again only when
        # the codec hands another dict (then only if its value changed: PackCache)
        if sps is not self._sps_src:
            self._sps_bytes = self._pack_cache.pack(uh264.v4l2_ctrl_h264_sps, sps)
            self._sps_src = sps
        if not self.core.configured:
            raise DecodeError("picture before any sequence start")
        if pps is not self._pps_src:
            self._pps_bytes = self._pack_cache.pack(uh264.v4l2_ctrl_h264_pps, pps)
            self._pps_src = pps
        if matrix is not None and matrix is not self._matrix_src:
            self._matrix_bytes = self._pack_cache.pack(uh264.v4l2_ctrl_h264_scaling_matrix, matrix)
            self._matrix_src = matrix
        ts = pic.timestamp_ns
        self._refs[ts] = pic.reference_timestamps  # a tuple (PictureDecode): kept as it is
        corrupted = self._corrupt  # damage the codec saw, or a corrupt reference: corrupt too
        if pic.damaged or (corrupted and not corrupted.isdisjoint(pic.reference_timestamps)):
            corrupted.add(ts)
        hold_picture = self._supports_hold and bool(pic.is_first_field)
        core_submit = self.core.submit
        if per_slice is None:  # frame-based: one request, the decode params packed into its payload
            if not self.annexb and len(slices) > 1:
                raise UnsupportedStream(
                    f"a picture with {len(slices)} slices cannot be sent frame-based without start "
                    f"codes (the device could not tell the slices apart): use start code 'annexb' or "
                    f"slice-based decoding")
            controls = [(_SPS, self._sps_bytes), (_PPS, self._pps_bytes), (_DECODE_PARAMS, decode_params)]
            if matrix is not None:
                controls.append((_SCALING_MATRIX, self._matrix_bytes))
            if self.annexb:
                chunks = [part for s in slices for part in (ANNEXB_START, s.nal)]
            else:
                chunks = [s.nal for s in slices]
            self._make_room()
            core_submit(controls, chunks, ts, hold=hold_picture)
            return 1
        # slice-based: one request per slice (the kernel copies each stored value back into the
        # payloads, so every request gets all of them written again), all but the last holding
        common = [(_SPS, self._sps_bytes), (_PPS, self._pps_bytes),
                  (_DECODE_PARAMS, uh264.pack(uh264.v4l2_ctrl_h264_decode_params, decode_params))]
        if matrix is not None:
            common.append((_SCALING_MATRIX, self._matrix_bytes))
        last = len(slices) - 1
        for i, (s, (slice_params, pred_weights)) in enumerate(zip(slices, per_slice)):
            controls = common + [(_SLICE_PARAMS, slice_params)]
            if pred_weights is not None:
                controls.append((_PRED_WEIGHTS, pred_weights))
            chunks = (ANNEXB_START, s.nal) if self.annexb else (s.nal,)
            self._make_room()
            core_submit(controls, chunks, ts, hold=hold_picture or i < last)
        return len(slices)

    def _make_room(self) -> None:
        """Before a job: if no CAPTURE buffer is free but pictures released before they were
        decoded are in flight, wait for them (their buffers become free)."""
        core = self.core
        while not core.free_capture and self._release_pending and core.in_flight:
            self._record(core.wait())
        # (with none free and none pending, the job either continues a held buffer or the
        # core raises its "no free CAPTURE buffer" error)

    def _record(self, c: Completion) -> None:
        """A completion from the core: the picture is decoded (or released at once)."""
        ts = c.timestamp_ns
        if ts in self._release_pending:
            self._release_pending.discard(ts)
            self._refs.pop(ts, None)
            self._corrupt.discard(ts)
            self.core.release_capture(c.index)
        else:
            self._decoded[ts] = (c.index, c.error)

    def is_decoded(self, ts: int) -> bool:
        if ts not in self._decoded:
            for c in self.core.completed(reap=False):
                self._record(c)
        return ts in self._decoded

    def drain(self) -> None:
        """Wait until every queued request has completed."""
        self.core.drain()

    def frame(self, ts: int, crop) -> Frame:
        """Copy the decoded picture *ts* out of its CAPTURE buffer."""
        entry = self._decoded.get(ts)
        if entry is None:
            c = self.core.wait(ts)
            entry = self._decoded[ts] = (c.index, c.error)
        index, error = entry
        corrupted = self._corrupt
        corrupt = error or (bool(corrupted) and (ts in corrupted or not corrupted.isdisjoint(self._refs.get(ts, ()))))
        if corrupt:
            corrupted.add(ts)
        frame = self._copy_out(index, crop)
        frame.timestamp_ns = ts
        frame.corrupt = corrupt
        frame.sar, frame.frame_rate = self._sar, self._frame_rate
        return frame

    def _copy_out(self, index: int, crop) -> Frame:
        """The picture in CAPTURE buffer *index* copied into a new :class:`Frame` (detiled
        when the format is tiled); the one step of :meth:`frame` that touches every pixel."""
        views = self._cap_views[index]
        fmt = self.core.capture_format
        if views is None:  # first frame from this buffer: its views, once
            views = self._cap_views[index] = nv12_views(
                self.core.capture_planes(index), fmt.pixelformat, fmt.width, fmt.height,
                fmt.bytesperline[0]) or False
        if views:
            return Frame(views[0].copy(), views[1].copy(), Crop(crop.left, crop.top, crop.width, crop.height))
        return capture_to_frame(self.core.capture_planes(index), fmt.pixelformat, fmt.width, fmt.height,
                                fmt.bytesperline[0], Crop(crop.left, crop.top, crop.width, crop.height))

    def release(self, ts: int) -> None:
        """The codec no longer needs picture *ts*: its CAPTURE buffer is free for a next picture."""
        entry = self._decoded.pop(ts, None)
        if entry is None:
            if not self.is_decoded(ts):
                self._release_pending.add(ts)
                return
            entry = self._decoded.pop(ts)
        self._refs.pop(ts, None)
        self._corrupt.discard(ts)
        self.core.release_capture(entry[0])

    def close(self) -> None:
        self._cap_views = []  # the numpy views hold the CAPTURE mappings
        self.core.close()
