"""The H.264 codec model of the emulated stateless device (``CodecModel``, docs/internals.md §2).

Control surface exactly like visl's H.264 (drivers/media/test-drivers/visl/visl-core.c; names,
types and menus from v4l2-ctrls-defs.c; min/max/step/default/flags as QUERY_EXT_CTRL reports
them on Linux 6.12): DECODE_MODE (slice- and frame-based), START_CODE (none and Annex B), SPS,
PPS, SCALING_MATRIX, PRED_WEIGHTS, SLICE_PARAMS, DECODE_PARAMS. visl requires no control in a
request (its ``req_validate`` only counts buffers), so :attr:`H264Model.required_controls` is
empty for the ``"visl"`` profile. CAPTURE formats: NV12 and YUV420 (YU12).

Pixels come from FFmpeg's decoder (:mod:`.libavcodec`), fed like hardware is: SPS/PPS NAL units
REBUILT from the request's controls (:mod:`.nal_writer`), never taken from the stream, followed
by the slice NAL units of the OUTPUT buffer. Frame-based requests are decoded as one packet (the
picture is finished at its end). Slice-based requests (one slice each, HOLD_CAPTURE_BUF on all
but the last) are decoded with ``AV_CODEC_FLAG2_CHUNKS``: each request decodes its slice at once
and writes the picture as decoded so far into its CAPTURE buffer, so the request with the last
slice leaves the complete picture there, in decode order; the first slice of a new picture
(first_mb_in_slice 0 or a new timestamp) first ends a picture FFmpeg may still hold open.
"""

from __future__ import annotations

import struct

import numpy as np

from ..uapi import controls as cid
from ..uapi import h264 as h
from ..uapi import videodev2 as v
from .codec_model import CaptureView, ControlSpec, DecodeJob
from .libavcodec import DecodedPicture, FFmpegError, FFmpegH264Decoder
from .nal_writer import first_mb_in_slice, nal_unit_type, pps_nal, split_annexb, sps_nal

__all__ = ["H264Model", "H264_CONTROLS", "write_picture"]

_SLICE_NAL_TYPES = (1, 5)  # coded slice of a non-IDR / IDR picture
#: reference_ts (__u64 at 0) and flags (__u32 at 28) of a v4l2_h264_dpb_entry (32 bytes)
_DPB_TS_FLAGS = struct.Struct("<Q20xI")
_DPB_BYTES = h.V4L2_H264_NUM_DPB_ENTRIES * _DPB_TS_FLAGS.size

#: visl's H.264 controls, in visl's declaration order (visl_h264_ctrl_descs)
H264_CONTROLS: list[ControlSpec] = [
    ControlSpec(cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS, "H264 Decode Parameters",
                v.V4L2_CTRL_TYPE_H264_DECODE_PARAMS, elem_size=560, step=0, default=b""),
    ControlSpec(cid.V4L2_CID_STATELESS_H264_SPS, "H264 Sequence Parameter Set",
                v.V4L2_CTRL_TYPE_H264_SPS, elem_size=1048, step=0, default=b""),
    ControlSpec(cid.V4L2_CID_STATELESS_H264_PPS, "H264 Picture Parameter Set",
                v.V4L2_CTRL_TYPE_H264_PPS, elem_size=12, step=0, default=b""),
    ControlSpec(cid.V4L2_CID_STATELESS_H264_SCALING_MATRIX, "H264 Scaling Matrix",
                v.V4L2_CTRL_TYPE_H264_SCALING_MATRIX, elem_size=480, step=0, default=b""),
    ControlSpec(cid.V4L2_CID_STATELESS_H264_DECODE_MODE, "H264 Decode Mode",
                v.V4L2_CTRL_TYPE_MENU, elem_size=4,
                minimum=cid.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED,
                maximum=cid.V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
                default=cid.V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED,
                menu={0: "Slice-Based", 1: "Frame-Based"}),
    ControlSpec(cid.V4L2_CID_STATELESS_H264_START_CODE, "H264 Start Code",
                v.V4L2_CTRL_TYPE_MENU, elem_size=4,
                minimum=cid.V4L2_STATELESS_H264_START_CODE_NONE,
                maximum=cid.V4L2_STATELESS_H264_START_CODE_ANNEX_B,
                default=cid.V4L2_STATELESS_H264_START_CODE_NONE,
                menu={0: "No Start Code", 1: "Annex B Start Code"}),
    ControlSpec(cid.V4L2_CID_STATELESS_H264_SLICE_PARAMS, "H264 Slice Parameters",
                v.V4L2_CTRL_TYPE_H264_SLICE_PARAMS, elem_size=152, step=0, default=b""),
    ControlSpec(cid.V4L2_CID_STATELESS_H264_PRED_WEIGHTS, "H264 Prediction Weight Table",
                v.V4L2_CTRL_TYPE_H264_PRED_WEIGHTS, elem_size=772, step=0, default=b""),
]

_PROFILES = {
    # profile -> (capture formats, required controls)
    "visl": ((v.V4L2_PIX_FMT_NV12, v.V4L2_PIX_FMT_YUV420), ()),
}


def _int(ctrls: dict[int, bytes], cid_: int, default: int = 0) -> int:
    raw = ctrls.get(cid_)
    return int.from_bytes(raw[:4], "little", signed=True) if raw else default


def write_picture(pic: DecodedPicture, capture: CaptureView) -> None:
    """Write a decoded 4:2:0 picture into a CAPTURE buffer (NV12/YUV420, also the M variants).

    Rows are written at the buffer's ``bytesperline``; plane offsets follow the kernel's
    ``v4l2_fill_pixfmt_mp`` for the negotiated ``height``. Raises ``ValueError`` when the
    picture does not fit the buffer.
    """
    w, hgt = pic.width, pic.height
    if capture.bytesperline[0] < w:
        raise ValueError(f"CAPTURE bytesperline {capture.bytesperline[0]} < picture width {w}")
    if w > capture.width or hgt > capture.height:
        raise ValueError(f"decoded picture {w}x{hgt} larger than the CAPTURE format "
                         f"{capture.width}x{capture.height}")
    fourcc = capture.pixelformat
    planes = [np.frombuffer(p, dtype=np.uint8) for p in capture.planes]
    bpl = list(capture.bytesperline)
    fh = capture.height
    cw, ch = (w + 1) // 2, (hgt + 1) // 2

    def put(dst: np.ndarray, offset: int, stride: int, src: np.ndarray) -> None:
        rows, cols = src.shape
        need = offset + stride * (rows - 1) + cols
        if need > dst.size:
            raise ValueError(f"CAPTURE plane of {dst.size} bytes too small ({need} needed)")
        view = np.lib.stride_tricks.as_strided(dst[offset:], (rows, cols), (stride, 1),
                                               writeable=True)
        view[...] = src

    if fourcc in (v.V4L2_PIX_FMT_NV12, v.V4L2_PIX_FMT_NV12M):
        uv = np.empty((ch, 2 * cw), dtype=np.uint8)
        uv[:, 0::2] = pic.u
        uv[:, 1::2] = pic.v
        put(planes[0], 0, bpl[0], pic.y)
        if fourcc == v.V4L2_PIX_FMT_NV12:
            put(planes[0], bpl[0] * fh, bpl[0], uv)
        else:
            put(planes[1], 0, bpl[1], uv)
    elif fourcc in (v.V4L2_PIX_FMT_YUV420, v.V4L2_PIX_FMT_YUV420M):
        put(planes[0], 0, bpl[0], pic.y)
        if fourcc == v.V4L2_PIX_FMT_YUV420:
            cstride = bpl[0] // 2
            put(planes[0], bpl[0] * fh, cstride, pic.u)
            put(planes[0], bpl[0] * fh + cstride * ((fh + 1) // 2), cstride, pic.v)
        else:
            put(planes[1], 0, bpl[1], pic.u)
            put(planes[2], 0, bpl[2], pic.v)
    else:
        raise ValueError(f"CAPTURE format {fourcc:#x} is not written by the H.264 model")


class H264Model:
    """Stateless H.264 decoding for the emulated device, pixels through FFmpeg.

    ``profile`` selects the driver personality; only ``"visl"`` exists so far (other
    profiles may add tiled CAPTURE formats or required controls). With ``pixels=False`` the
    model checks each request as usual (slices present, parameter sets writable from the
    controls, references resolved) but decodes nothing and leaves the CAPTURE buffer as it is,
    like visl: for benchmarks and tests of the request flow that do not look at pixels.
    """

    name = "h264"
    output_fourcc = v.V4L2_PIX_FMT_H264_SLICE

    def __init__(self, profile: str = "visl", *, pixels: bool = True) -> None:
        self.pixels = pixels
        if profile not in _PROFILES:
            raise ValueError(f"unknown H.264 device profile {profile!r}")
        self.profile = profile
        self.capture_fourccs, self.required_controls = _PROFILES[profile]
        self.controls: list[ControlSpec] = list(H264_CONTROLS)
        self._decoder: FFmpegH264Decoder | None = None
        self._sent_sps: dict[int, bytes] = {}
        self._sent_pps: dict[int, bytes] = {}
        self._built: dict[tuple, tuple[int, bytes, int, bytes]] = {}
        self._last_ts: int | None = None
        self.last_error: str | None = None

    # -- CodecModel --------------------------------------------------------------------------
    def reset(self, width: int, height: int, capture_fourcc: int) -> None:
        """STREAMON: a fresh decoder, no parameter sets sent yet."""
        self.close()
        self._decoder = FFmpegH264Decoder(chunks=True, explode=True)
        self.width, self.height, self.capture_fourcc = width, height, capture_fourcc

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self._sent_sps.clear()
        self._sent_pps.clear()
        self._last_ts = None

    def references(self, ctrls: dict[int, bytes]) -> list[int]:
        """reference_ts of the DPB entries flagged VALID and ACTIVE (order kept, no repeats)."""
        raw = ctrls.get(cid.V4L2_CID_STATELESS_H264_DECODE_PARAMS)
        if not raw:
            return []
        size = h.fast(h.v4l2_ctrl_h264_decode_params).size
        if len(raw) != size:  # what unpack() says about a wrong size
            raise ValueError(f"v4l2_ctrl_h264_decode_params: {len(raw)} bytes, expected {size}")
        need = h.V4L2_H264_DPB_ENTRY_FLAG_VALID | h.V4L2_H264_DPB_ENTRY_FLAG_ACTIVE
        out: list[int] = []
        # only reference_ts (offset 0) and flags (offset 28) of each 32-byte dpb[] entry: no
        # dict of the whole control per request
        for ts, flags in _DPB_TS_FLAGS.iter_unpack(raw[:_DPB_BYTES]):
            if flags & need == need and ts not in out:
                out.append(ts)
        return out

    def decode(self, job: DecodeJob) -> bool:
        """Decode the request's slices into ``job.capture``; False = V4L2_BUF_FLAG_ERROR.

        Errors: a missing SPS/PPS value that makes the parameter sets unwritable, no slice NAL
        unit in the bitstream, a referenced picture that did not resolve, FFmpeg rejecting the
        data, or a picture that does not fit the CAPTURE buffer. ``last_error`` says which.
        """
        self.last_error = None
        if self._decoder is None:
            self.reset(job.capture.width, job.capture.height, job.capture.pixelformat)
        ctrls = job.ctrls
        last_ts, self._last_ts = self._last_ts, job.timestamp_ns
        missing = [ts for ts in self.references(ctrls)
                   if ts not in job.refs and ts != job.timestamp_ns]
        slices = self._slices(job.bitstream, _int(ctrls, cid.V4L2_CID_STATELESS_H264_START_CODE))
        if not slices:
            return self._fail("no slice NAL unit in the OUTPUT buffer")
        try:
            params = self._parameter_sets(ctrls)
        except (KeyError, ValueError) as e:
            return self._fail(f"parameter sets from the controls: {e}")
        if not self.pixels:
            if missing:
                return self._fail("reference picture(s) not found: " + ", ".join(str(ts) for ts in missing))
            return True
        annexb = [b"\x00\x00\x00\x01" + n for n in params + slices]
        dec = self._decoder
        try:
            if _int(ctrls, cid.V4L2_CID_STATELESS_H264_DECODE_MODE) == \
                    cid.V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED:
                # the request holds the whole picture: normal mode finishes it at the end
                dec.set_chunks(False)
                pic = dec.decode(b"".join(annexb))
            else:
                # slice-based: each slice is decoded at once (chunks mode), the picture grows
                # in the CAPTURE buffer; a new picture first ends one left unfinished
                if first_mb_in_slice(slices[0]) == 0 or job.timestamp_ns != last_ts:
                    dec.end_picture()
                dec.set_chunks(True)
                head = b"".join(annexb[:len(params)])
                pic = None
                for i, s in enumerate(annexb[len(params):]):
                    pic = dec.decode((head if i == 0 else b"") + s)
            write_picture(pic, job.capture)
        except (FFmpegError, ValueError) as e:
            return self._fail(str(e))
        if missing:
            return self._fail("reference picture(s) not found: "
                              + ", ".join(str(ts) for ts in missing))
        return True

    # -- helpers -----------------------------------------------------------------------------
    def _fail(self, why: str) -> bool:
        self.last_error = why
        return False

    @staticmethod
    def _slices(bitstream: bytes, start_code: int) -> list[bytes]:
        if start_code == cid.V4L2_STATELESS_H264_START_CODE_ANNEX_B:
            nals = split_annexb(bitstream)
        else:  # START_CODE_NONE: the buffer is one NAL unit (7.3.1), no start code
            nals = [bitstream.rstrip(b"\x00")] if bitstream else []
        return [n for n in nals if n and nal_unit_type(n) in _SLICE_NAL_TYPES]

    def _build_parameter_sets(self, key: tuple[bytes, bytes, bytes | None]
                              ) -> tuple[int, bytes, int, bytes]:
        raw_sps, raw_pps, raw_sm = key
        sps = h.unpack(h.v4l2_ctrl_h264_sps, raw_sps)
        pps = h.unpack(h.v4l2_ctrl_h264_pps, raw_pps)
        sm = h.unpack(h.v4l2_ctrl_h264_scaling_matrix, raw_sm) if raw_sm else None
        return (sps["seq_parameter_set_id"], sps_nal(sps),
                pps["pic_parameter_set_id"], pps_nal(pps, sm, sps=sps))

    def _parameter_sets(self, ctrls: dict[int, bytes]) -> list[bytes]:
        """SPS/PPS NAL units rebuilt from the controls, for those that changed since sent."""
        key = (bytes(ctrls[cid.V4L2_CID_STATELESS_H264_SPS]),
               bytes(ctrls[cid.V4L2_CID_STATELESS_H264_PPS]),
               ctrls.get(cid.V4L2_CID_STATELESS_H264_SCALING_MATRIX))
        if key[2] is not None:
            key = (key[0], key[1], bytes(key[2]))
        built = self._built.get(key)
        if built is None:
            if len(self._built) > 64:
                self._built.clear()
            built = self._built[key] = self._build_parameter_sets(key)
        sps_id, sps_bytes, pps_id, pps_bytes = built
        out = []
        if self._sent_sps.get(sps_id) != sps_bytes:
            out.append(sps_bytes)
            self._sent_sps[sps_id] = sps_bytes
            self._sent_pps.clear()  # FFmpeg binds a PPS to the SPS it saw: send them again
        if self._sent_pps.get(pps_id) != pps_bytes:
            out.append(pps_bytes)
            self._sent_pps[pps_id] = pps_bytes
        return out
