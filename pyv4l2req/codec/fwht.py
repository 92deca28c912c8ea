"""FWHT (vicodec) streams, sans-IO: the compressed-frame header, frame splitting, control values.

An FWHT stream as vicodec's stateful encoder writes it is a sequence of frames, each a
``struct fwht_cframe_hdr`` (44 bytes: two magic words, then nine big-endian u32: version, width,
height, flags, colorspace, xfer_func, ycbcr_enc, quantization, size) followed by ``size`` bytes
of compressed planes. A stateless decoder (``V4L2_PIX_FMT_FWHT_STATELESS``) gets the header as
the ``V4L2_CID_STATELESS_FWHT_PARAMS`` control (``struct v4l2_ctrl_fwht_params``) and only the
compressed bytes in the OUTPUT buffer; a P-frame names its reference by the timestamp of the
CAPTURE buffer holding the previous frame (``backward_ref_ts``).

Usage (the caller does all I/O)::

    state = FwhtDecoderState()
    for frame in split_frames(data):
        job = state.decode_frame(frame, timestamp_ns)
        # queue job.payload with job.params (packed by pack_params) in one request
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import BitstreamError, UnsupportedStream

__all__ = [
    "FWHT_MAGIC1", "FWHT_MAGIC2", "FWHT_HEADER_SIZE", "V4L2_FWHT_VERSION",
    "V4L2_FWHT_FL_IS_INTERLACED", "V4L2_FWHT_FL_IS_BOTTOM_FIRST", "V4L2_FWHT_FL_IS_ALTERNATE",
    "V4L2_FWHT_FL_IS_BOTTOM_FIELD", "V4L2_FWHT_FL_LUMA_IS_UNCOMPRESSED",
    "V4L2_FWHT_FL_CB_IS_UNCOMPRESSED", "V4L2_FWHT_FL_CR_IS_UNCOMPRESSED",
    "V4L2_FWHT_FL_CHROMA_FULL_HEIGHT", "V4L2_FWHT_FL_CHROMA_FULL_WIDTH",
    "V4L2_FWHT_FL_ALPHA_IS_UNCOMPRESSED", "V4L2_FWHT_FL_I_FRAME",
    "V4L2_FWHT_FL_COMPONENTS_NUM_MSK", "V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET",
    "V4L2_FWHT_FL_PIXENC_MSK", "V4L2_FWHT_FL_PIXENC_YUV", "V4L2_FWHT_FL_PIXENC_RGB",
    "V4L2_FWHT_FL_PIXENC_HSV", "FWHT_PARAMS_SIZE",
    "FwhtHeader", "FwhtFrame", "FwhtPictureDecode", "FwhtFrameSplitter", "FwhtDecoderState",
    "parse_header", "build_header", "split_frames", "params_from_header", "pack_params",
    "unpack_params", "coded_size",
]

# --- constants: pyv4l2req.uapi.fwht (codec-fwht.h / v4l2-controls.h), re-exported ---------
from ..uapi.fwht import (  # noqa: E402
    FWHT_MAGIC1, FWHT_MAGIC2, V4L2_FWHT_FL_ALPHA_IS_UNCOMPRESSED, V4L2_FWHT_FL_CB_IS_UNCOMPRESSED,
    V4L2_FWHT_FL_CHROMA_FULL_HEIGHT, V4L2_FWHT_FL_CHROMA_FULL_WIDTH,
    V4L2_FWHT_FL_COMPONENTS_NUM_MSK, V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET,
    V4L2_FWHT_FL_CR_IS_UNCOMPRESSED, V4L2_FWHT_FL_I_FRAME, V4L2_FWHT_FL_IS_ALTERNATE,
    V4L2_FWHT_FL_IS_BOTTOM_FIELD, V4L2_FWHT_FL_IS_BOTTOM_FIRST, V4L2_FWHT_FL_IS_INTERLACED,
    V4L2_FWHT_FL_LUMA_IS_UNCOMPRESSED, V4L2_FWHT_FL_PIXENC_HSV, V4L2_FWHT_FL_PIXENC_MSK,
    V4L2_FWHT_FL_PIXENC_OFFSET, V4L2_FWHT_FL_PIXENC_RGB, V4L2_FWHT_FL_PIXENC_YUV,
    V4L2_FWHT_VERSION, v4l2_ctrl_fwht_params,
)
from ..uapi.fwht import pack as _pack  # noqa: E402
from ..uapi.fwht import unpack as _unpack  # noqa: E402

_MAGIC = b"\x4f\x4f\x4f\x4f\xff\xff\xff\xff"
_HDR = struct.Struct(">II9I")          # magic words compared as big-endian too (symmetrical)
FWHT_HEADER_SIZE = _HDR.size           # 44
FWHT_PARAMS_SIZE = 40                  # sizeof(struct v4l2_ctrl_fwht_params)
_PARAM_FIELDS = ("backward_ref_ts", "version", "width", "height", "flags", "colorspace",
                 "xfer_func", "ycbcr_enc", "quantization")


@dataclass(frozen=True)
class FwhtHeader:
    """``struct fwht_cframe_hdr`` with host-order values (field names as in codec-fwht.h)."""

    version: int
    width: int
    height: int
    flags: int
    colorspace: int
    xfer_func: int
    ycbcr_enc: int
    quantization: int
    size: int

    @property
    def is_i_frame(self) -> bool:
        return bool(self.flags & V4L2_FWHT_FL_I_FRAME)

    @property
    def components_num(self) -> int:
        """1 (grey), 3 (Y'CbCr / RGB / HSV) or 4 (with alpha); version 1 streams are always 3."""
        if self.version < 2:
            return 3
        return 1 + ((self.flags & V4L2_FWHT_FL_COMPONENTS_NUM_MSK) >> V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET)

    @property
    def pixenc(self) -> int:
        return self.flags & V4L2_FWHT_FL_PIXENC_MSK

    @property
    def width_div(self) -> int:
        return 1 if self.flags & V4L2_FWHT_FL_CHROMA_FULL_WIDTH else 2

    @property
    def height_div(self) -> int:
        return 1 if self.flags & V4L2_FWHT_FL_CHROMA_FULL_HEIGHT else 2


@dataclass(frozen=True)
class FwhtFrame:
    """One frame of a stream: its header and its compressed planes (``header.size`` bytes)."""

    header: FwhtHeader
    payload: bytes
    offset: int = 0           # byte offset of the header in the stream (for messages)


@dataclass(frozen=True)
class FwhtPictureDecode:
    """What to queue for one frame on a stateless FWHT decoder.

    ``params`` is the ``v4l2_ctrl_fwht_params`` dict (C field names); ``payload`` the OUTPUT
    buffer content; ``reference_timestamps`` the CAPTURE timestamps the frame reads (one for a
    P-frame, none for an I-frame).
    """

    timestamp_ns: int
    params: dict
    payload: bytes
    reference_timestamps: tuple[int, ...]
    is_i_frame: bool


def parse_header(data: bytes, offset: int = 0) -> FwhtHeader:
    """Parse the ``fwht_cframe_hdr`` at *offset*; BitstreamError on a short header or bad magic."""
    if len(data) - offset < FWHT_HEADER_SIZE:
        raise BitstreamError(
            f"FWHT frame at byte {offset}: fwht_cframe_hdr needs {FWHT_HEADER_SIZE} bytes, "
            f"{max(0, len(data) - offset)} left")
    m1, m2, *rest = _HDR.unpack_from(data, offset)
    if m1 != FWHT_MAGIC1 or m2 != FWHT_MAGIC2:
        raise BitstreamError(
            f"FWHT frame at byte {offset}: fwht_cframe_hdr.magic1/magic2 are {m1:#010x}/{m2:#010x}, "
            f"expected {FWHT_MAGIC1:#010x}/{FWHT_MAGIC2:#010x}")
    return FwhtHeader(*rest)


def build_header(h: FwhtHeader) -> bytes:
    """The 44 header bytes of *h* (what vicodec's encoder writes)."""
    return _HDR.pack(FWHT_MAGIC1, FWHT_MAGIC2, h.version, h.width, h.height, h.flags,
                     h.colorspace, h.xfer_func, h.ycbcr_enc, h.quantization, h.size)


class FwhtFrameSplitter:
    """Incremental splitter: ``feed(bytes) -> [FwhtFrame]``, ``flush()`` at end of input.

    Bytes before a magic sequence are skipped (vicodec's stateful decoder resyncs the same way);
    ``skipped`` counts them.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0              # stream offset of _buf[0]
        self.skipped = 0

    def feed(self, data: bytes) -> list[FwhtFrame]:
        self._buf += data
        frames: list[FwhtFrame] = []
        while True:
            start = self._buf.find(_MAGIC)
            if start < 0:
                # keep a possible partial magic at the end
                keep = min(len(self._buf), len(_MAGIC) - 1)
                drop = len(self._buf) - keep
                self._discard(drop, skipped=True)
                return frames
            if start:
                self._discard(start, skipped=True)
            if len(self._buf) < FWHT_HEADER_SIZE:
                return frames
            hdr = parse_header(self._buf, 0)
            end = FWHT_HEADER_SIZE + hdr.size
            if len(self._buf) < end:
                return frames
            frames.append(FwhtFrame(hdr, bytes(self._buf[FWHT_HEADER_SIZE:end]), self._pos))
            self._discard(end, skipped=False)

    def flush(self) -> list[FwhtFrame]:
        """End of input: BitstreamError if a frame is incomplete."""
        if self._buf.find(_MAGIC) >= 0:
            start = self._buf.find(_MAGIC)
            have = len(self._buf) - start
            need = FWHT_HEADER_SIZE
            if have >= FWHT_HEADER_SIZE:
                need += parse_header(self._buf, start).size
            raise BitstreamError(
                f"FWHT frame at byte {self._pos + start}: truncated ({have} of {need} bytes)")
        self.skipped += len(self._buf)
        self._buf.clear()
        return []

    def _discard(self, n: int, *, skipped: bool) -> None:
        if skipped:
            self.skipped += n
        del self._buf[:n]
        self._pos += n


def split_frames(data: bytes) -> list[FwhtFrame]:
    """All frames of a complete stream (BitstreamError if the last one is truncated)."""
    s = FwhtFrameSplitter()
    frames = s.feed(data)
    frames += s.flush()
    return frames


def params_from_header(h: FwhtHeader, backward_ref_ts: int = 0) -> dict:
    """``v4l2_ctrl_fwht_params`` values for a frame with header *h*."""
    return {
        "backward_ref_ts": backward_ref_ts,
        "version": h.version,
        "width": h.width,
        "height": h.height,
        "flags": h.flags,
        "colorspace": h.colorspace,
        "xfer_func": h.xfer_func,
        "ycbcr_enc": h.ycbcr_enc,
        "quantization": h.quantization,
    }


def pack_params(values: dict) -> bytes:
    """``struct v4l2_ctrl_fwht_params`` bytes (missing keys are 0)."""
    return _pack(v4l2_ctrl_fwht_params, values)


def unpack_params(data: bytes) -> dict:
    """Inverse of :func:`pack_params`."""
    if len(data) < FWHT_PARAMS_SIZE:
        raise ValueError(f"v4l2_ctrl_fwht_params needs {FWHT_PARAMS_SIZE} bytes, got {len(data)}")
    return {k: int(v) for k, v in _unpack(v4l2_ctrl_fwht_params, bytes(data[:FWHT_PARAMS_SIZE])).items()
            if k in _PARAM_FIELDS}


def coded_size(width: int, height: int, width_div: int = 2, height_div: int = 2) -> tuple[int, int]:
    """vicodec's coded size for a visible size: each plane rounded up to a multiple of 8
    (``vic_round_dim``)."""
    return (-(-(width // width_div) // 8) * 8 * width_div,
            -(-(height // height_div) // 8) * 8 * height_div)


class FwhtDecoderState:
    """Turns frames into stateless decode jobs: params with the previous frame as reference.

    Every frame's CAPTURE buffer is identified by its OUTPUT timestamp; a P-frame references the
    frame decoded just before it. UnsupportedStream for what the stateless uAPI cannot carry
    (header version < 3, per vicodec's ``validate_stateless_params_flags``); BitstreamError for
    a P-frame with nothing to reference.
    """

    def __init__(self) -> None:
        self.last_timestamp_ns: int | None = None
        self.frames = 0

    def decode_frame(self, frame: FwhtFrame, timestamp_ns: int) -> FwhtPictureDecode:
        h = frame.header
        where = f"FWHT frame {self.frames} (byte {frame.offset})"
        if h.version < 3 or h.version > V4L2_FWHT_VERSION:
            raise UnsupportedStream(
                f"{where}: fwht_cframe_hdr.version {h.version}: stateless FWHT needs version 3")
        if h.components_num not in (1, 3, 4) or not h.pixenc:
            raise BitstreamError(
                f"{where}: fwht_cframe_hdr.flags {h.flags:#x}: components_num "
                f"{h.components_num} / pixenc {h.pixenc >> V4L2_FWHT_FL_PIXENC_OFFSET} invalid")
        if len(frame.payload) != h.size:
            raise BitstreamError(f"{where}: fwht_cframe_hdr.size {h.size} but {len(frame.payload)} bytes")
        if h.is_i_frame:
            refs: tuple[int, ...] = ()
            ref_ts = 0
        else:
            if self.last_timestamp_ns is None:
                raise BitstreamError(f"{where}: P-frame (no V4L2_FWHT_FL_I_FRAME) without a previous frame")
            ref_ts = self.last_timestamp_ns
            refs = (ref_ts,)
        self.last_timestamp_ns = timestamp_ns
        self.frames += 1
        return FwhtPictureDecode(timestamp_ns, params_from_header(h, ref_ts), frame.payload, refs,
                                 h.is_i_frame)

    def reset(self) -> None:
        """Forget the reference (after a seek or an error)."""
        self.last_timestamp_ns = None
