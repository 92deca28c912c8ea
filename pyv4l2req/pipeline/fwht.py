"""Decode an FWHT (vicodec) stream on a stateless FWHT decoder: vicodec's or the emulated one.

The loop joins ``pyv4l2req.codec.fwht`` (frames -> ``v4l2_ctrl_fwht_params`` with the reference
timestamp) and the V4L2 objects: per frame one media request carrying the FWHT_PARAMS control
and the OUTPUT buffer (the compressed planes, header stripped); the decoded picture lands in a
CAPTURE buffer whose timestamp is the OUTPUT buffer's. The CAPTURE buffer of the last decoded
frame is kept out of the queue until the next frame has been decoded: it is the next P-frame's
reference (``backward_ref_ts``), and re-queueing it would let the driver overwrite it.

Frames are decoded one request at a time (the stream is strictly sequential: every P-frame
needs its predecessor), which keeps the loop simple and the buffer ownership obvious.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..codec.fwht import FwhtDecoderState, FwhtFrameSplitter, coded_size, pack_params
from ..errors import DecodeError, NoDeviceError, UnsupportedStream
from ..kernel.backend import Backend, OSBackend
from ..uapi import controls as _cid
from ..uapi import videodev2 as _v
from ..v4l2 import MediaDevice, Queue, RequestPool, VideoDevice, find_decoder

__all__ = ["FwhtDecodedFrame", "FwhtStatelessDecoder", "decode_fwht"]

#: OUTPUT timestamps: frame k gets (k + 1) * TIMESTAMP_STEP_NS (a multiple of 1000 ns survives
#: the kernel's timeval round trip; 0 is never used)
TIMESTAMP_STEP_NS = 1000


@dataclass(frozen=True)
class FwhtDecodedFrame:
    """One decoded picture: the CAPTURE buffer's payload as the driver wrote it."""

    index: int                 # decode order (= display order for FWHT)
    timestamp_ns: int
    data: bytes                # bytesused bytes of CAPTURE plane 0 (``coded_height`` rows)
    pixelformat: int
    width: int                 # visible size from the frame header
    height: int
    coded_width: int
    coded_height: int
    bytesperline: int
    keyframe: bool


class FwhtStatelessDecoder:
    """A stateless FWHT decoder session (opened lazily at the first frame).

    ``decode(data) -> list[FwhtDecodedFrame]`` for a whole stream, ``iter_decode(chunks)``
    for a stream that arrives in pieces. Errors: :class:`DecodeError` when the driver flags a
    CAPTURE buffer ERROR, :class:`UnsupportedStream` for a size change or a CAPTURE format the
    driver refuses, ``V4L2Error`` / ``RequestError`` from the ioctls.
    """

    def __init__(self, backend: Backend | None = None, *, video_path: str | None = None,
                 media_path: str | None = None, capture_fourcc: int = _v.V4L2_PIX_FMT_YUV420,
                 output_buffers: int = 2, capture_buffers: int = 3, timeout_s: float = 10.0) -> None:
        self.backend = backend or OSBackend()
        if media_path is None or video_path is None:
            info = find_decoder("fwht", self.backend, video_path)
            video_path, media_path = info.video_path, info.media_path
        if capture_buffers < 2:
            raise ValueError("a stateless FWHT decoder needs >= 2 CAPTURE buffers (reference + target)")
        self.video_path, self.media_path = video_path, media_path
        self.capture_fourcc = capture_fourcc
        self.n_output, self.n_capture = output_buffers, capture_buffers
        self.timeout_s = timeout_s
        self.dev: VideoDevice | None = None
        self.media: MediaDevice | None = None
        self.out_q: Queue | None = None
        self.cap_q: Queue | None = None
        self.pool: RequestPool | None = None
        self.state = FwhtDecoderState()
        self._size: tuple[int, int] | None = None
        self._coded = (0, 0)
        self._bytesperline = 0
        self._ref_index: int | None = None
        self._count = 0

    # -- setup ----------------------------------------------------------------------------
    def _start(self, width: int, height: int, width_div: int, height_div: int) -> None:
        self.dev = VideoDevice(self.backend, self.video_path)
        self.media = MediaDevice(self.backend, self.media_path)
        dev = self.dev
        if not dev.supports_requests:
            raise NoDeviceError(f"{self.video_path} ({dev.driver}) does not support media requests")
        cw, ch = coded_size(width, height, width_div, height_div)
        out_fmt = dev.s_fmt(dev.output_type, _v.V4L2_PIX_FMT_FWHT_STATELESS, cw, ch)
        if out_fmt.pixelformat != _v.V4L2_PIX_FMT_FWHT_STATELESS:
            raise UnsupportedStream(f"{self.video_path}: OUTPUT format SFWH refused (got {out_fmt.pixelformat:#x})")
        cap = dev.s_fmt(dev.capture_type, self.capture_fourcc, cw, ch)
        if cap.pixelformat != self.capture_fourcc:
            raise UnsupportedStream(f"{self.video_path}: CAPTURE format {self.capture_fourcc:#010x} refused "
                                    f"(driver chose {cap.pixelformat:#010x})")
        self._coded = (cap.width, cap.height)
        self._bytesperline = cap.bytesperline[0]
        self.out_q = Queue(dev, dev.output_type)
        self.out_q.setup(self.n_output)
        self.cap_q = Queue(dev, dev.capture_type)
        got = self.cap_q.setup(self.n_capture)
        if got < 2:
            raise DecodeError(f"{self.video_path}: only {got} CAPTURE buffer(s) allocated, need 2")
        self.pool = RequestPool(self.media, len(self.out_q.buffers))
        self.out_q.streamon()
        self.cap_q.streamon()
        for b in self.cap_q.buffers:
            self.cap_q.qbuf(b.index)
        self._size = (width, height)

    # -- decoding -------------------------------------------------------------------------
    def _dequeue(self, q: Queue, what: str):
        while True:
            d = q.dqbuf()
            if d is not None:
                return d
            if not q.wait(self.timeout_s):
                raise DecodeError(f"{self.video_path}: no {what} buffer after {self.timeout_s} s")

    def _decode_one(self, frame) -> FwhtDecodedFrame:
        h = frame.header
        if self._size is None:
            self._start(h.width, h.height, h.width_div, h.height_div)
        elif (h.width, h.height) != self._size:
            raise UnsupportedStream(f"FWHT frame {self._count}: size changes from {self._size[0]}x{self._size[1]} "
                                    f"to {h.width}x{h.height} (not supported)")
        assert self.dev and self.out_q and self.cap_q and self.pool
        ts = (self._count + 1) * TIMESTAMP_STEP_NS
        job = self.state.decode_frame(frame, ts)
        slot = self.pool.acquire()
        try:
            free = self.out_q.free_indices()
            if not free:
                raise DecodeError("no free OUTPUT buffer")
            oi = free[0]
            self.out_q.buffers[oi].write(job.payload)
            self.dev.set_controls([(_cid.V4L2_CID_STATELESS_FWHT_PARAMS, pack_params(job.params))],
                                  request=slot.request)
            self.out_q.qbuf(oi, bytesused=len(job.payload), timestamp_ns=ts, request=slot.request)
            slot.request.queue()
            slot.request.wait(self.timeout_s)
            self._dequeue(self.out_q, "OUTPUT")
            d = self._dequeue(self.cap_q, "CAPTURE")
        except BaseException:
            self.pool.discard(slot, f"FWHT frame {self._count} failed")
            raise
        self.pool.release(slot)
        if d.timestamp_ns != ts:
            raise DecodeError(f"FWHT frame {self._count}: CAPTURE buffer {d.index} carries timestamp "
                              f"{d.timestamp_ns}, expected {ts}")
        if d.error:
            self.cap_q.qbuf(d.index)
            raise DecodeError(f"FWHT frame {self._count} (timestamp {ts}): the driver flagged CAPTURE "
                              f"buffer {d.index} V4L2_BUF_FLAG_ERROR")
        data = self.cap_q.buffers[d.index].read(d.bytesused)
        # the new picture is the next reference; the old one may be overwritten now
        if self._ref_index is not None:
            self.cap_q.qbuf(self._ref_index)
        self._ref_index = d.index
        out = FwhtDecodedFrame(self._count, ts, data, self.capture_fourcc, h.width, h.height,
                               self._coded[0], self._coded[1], self._bytesperline, job.is_i_frame)
        self._count += 1
        return out

    def iter_decode(self, chunks: Iterable[bytes]) -> Iterator[FwhtDecodedFrame]:
        """Decode a stream arriving in pieces; yields frames in order."""
        splitter = FwhtFrameSplitter()
        for chunk in chunks:
            for frame in splitter.feed(chunk):
                yield self._decode_one(frame)
        for frame in splitter.flush():
            yield self._decode_one(frame)

    def decode(self, data: bytes) -> list[FwhtDecodedFrame]:
        """Decode a whole stream (header-prefixed frames as vicodec's encoder writes them)."""
        return list(self.iter_decode([data]))

    # -- teardown -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop streaming, free buffers and requests, close the devices (idempotent)."""
        for q in (self.out_q, self.cap_q):
            if q is not None:
                try:
                    q.free()
                except OSError:
                    pass
        self.out_q = self.cap_q = None
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        for d in (self.dev, self.media):
            if d is not None:
                d.close()
        self.dev = self.media = None

    def __enter__(self) -> "FwhtStatelessDecoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode_fwht(data: bytes, backend: Backend | None = None, **kwargs) -> list[FwhtDecodedFrame]:
    """Decode a whole FWHT stream on the first stateless FWHT decoder (or ``video_path=``)."""
    with FwhtStatelessDecoder(backend, **kwargs) as dec:
        return dec.decode(data)
