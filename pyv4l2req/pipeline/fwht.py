"""Decode an FWHT (vicodec) stream on a stateless FWHT decoder: vicodec's or the emulated one.

The loop joins ``pyv4l2req.codec.fwht`` (frames -> ``v4l2_ctrl_fwht_params`` with the reference
timestamp) and :class:`~pyv4l2req.v4l2.stateless.StatelessSession`: per frame one job carrying
the FWHT_PARAMS control and the compressed planes (header stripped); the decoded picture lands
in a CAPTURE buffer whose timestamp is the OUTPUT buffer's. The CAPTURE buffer of the last
decoded frame stays the caller's until the next frame has been decoded: it is the next
P-frame's reference (``backward_ref_ts``), and giving it back (``release_capture``) would let
a job decode into it.

Frames are decoded one job at a time (the stream is strictly sequential: every P-frame
needs its predecessor), which keeps the loop simple and the buffer ownership obvious.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..codec.fwht import FwhtDecoderState, FwhtFrameSplitter, coded_size
from ..errors import DecodeError, UnsupportedStream
from ..kernel.backend import Backend, OSBackend
from ..uapi import controls as _cid
from ..uapi import videodev2 as _v
from ..v4l2 import find_decoder
from ..v4l2.stateless import StatelessSession

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
        self.session: StatelessSession | None = None
        self.state = FwhtDecoderState()
        self._size: tuple[int, int] | None = None
        self._ref_index: int | None = None
        self._count = 0

    # -- setup ----------------------------------------------------------------------------
    def _start(self, width: int, height: int, width_div: int, height_div: int) -> None:
        self.session = session = StatelessSession(self.backend, self.video_path, self.media_path,
                                                  _v.V4L2_PIX_FMT_FWHT_STATELESS, timeout_s=self.timeout_s)
        cw, ch = coded_size(width, height, width_div, height_div)
        session.configure(cw, ch, capture_formats=[self.capture_fourcc], capture_buffers=self.n_capture,
                          in_flight=self.n_output)
        got = len(session.cap_q.buffers)  # type: ignore[union-attr]
        if got < 2:
            raise DecodeError(f"{self.video_path}: only {got} CAPTURE buffer(s) allocated, need 2")
        self._size = (width, height)

    # -- decoding -------------------------------------------------------------------------
    def _decode_one(self, frame) -> FwhtDecodedFrame:
        h = frame.header
        if self._size is None:
            self._start(h.width, h.height, h.width_div, h.height_div)
        elif (h.width, h.height) != self._size:
            raise UnsupportedStream(f"FWHT frame {self._count}: size changes from {self._size[0]}x{self._size[1]} "
                                    f"to {h.width}x{h.height} (not supported)")
        session = self.session
        assert session is not None and session.capture_format is not None
        ts = (self._count + 1) * TIMESTAMP_STEP_NS
        job = self.state.decode_frame(frame, ts)
        session.submit([(_cid.V4L2_CID_STATELESS_FWHT_PARAMS, job.params)], [job.payload], ts)
        done = session.wait(ts)
        if done.error:
            session.release_capture(done.index)
            raise DecodeError(f"FWHT frame {self._count} (timestamp {ts}): the driver flagged CAPTURE "
                              f"buffer {done.index} V4L2_BUF_FLAG_ERROR")
        data = bytes(session.capture_planes(done.index)[0][:done.bytesused])
        # the new picture is the next reference; the old one may be overwritten now
        if self._ref_index is not None:
            session.release_capture(self._ref_index)
        self._ref_index = done.index
        fmt = session.capture_format
        out = FwhtDecodedFrame(self._count, ts, data, self.capture_fourcc, h.width, h.height,
                               fmt.width, fmt.height, fmt.bytesperline[0], job.is_i_frame)
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
        if self.session is not None:
            self.session.close()
            self.session = None

    def __enter__(self) -> "FwhtStatelessDecoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode_fwht(data: bytes, backend: Backend | None = None, **kwargs) -> list[FwhtDecodedFrame]:
    """Decode a whole FWHT stream on the first stateless FWHT decoder (or ``video_path=``)."""
    with FwhtStatelessDecoder(backend, **kwargs) as dec:
        return dec.decode(data)
