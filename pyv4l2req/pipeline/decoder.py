"""The decoder loop: sans-IO H.264 codec events -> media requests -> frames in display order.

Like GStreamer's ``gstv4l2decoder.c`` + ``gstv4l2codech264dec.c``: the codec layer
(:mod:`pyv4l2req.codec.h264`) says what to decode and when a picture is output or released;
:class:`~pyv4l2req.pipeline.session.DeviceSession` owns the device, its queues and requests.
This module only joins the two:

- ``SequenceStart`` -> drain what is in flight, (re)configure the session for the new size and
  DPB needs (capture pool = DPB frames + requests in flight + frames held for display);
- ``PictureDecode`` -> one request (frame-based) or one per slice (slice-based, all but the
  last holding the CAPTURE buffer; a first field also holds it for its second field);
  several requests stay in flight;
- ``PictureOutput`` -> wait until that picture is decoded, copy it out as a :class:`Frame`;
- ``PictureRelease`` -> give its CAPTURE buffer back to the device.

A frame whose CAPTURE buffer came back with V4L2_BUF_FLAG_ERROR, or that references such a
frame, is reported with ``frame.corrupt = True`` and counted; decoding goes on. On a fatal
error every picture already decoded is still handed out before the exception propagates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from ..codec.h264 import decoder as h264dec
from ..codec.h264.access_unit import AccessUnitSplitter
from ..errors import BitstreamError, PyV4L2ReqError
from .frames import Frame
from .session import DeviceSession, open_device
from .source import InputSource, open_input

__all__ = ["Decoder", "DecodeStats", "decode_file", "open_input"]

TIMESTAMP_STEP_NS = 1000  # OUTPUT timestamps are timevals: keep them whole microseconds

_PictureDecode = h264dec.PictureDecode
_PictureOutput = h264dec.PictureOutput
_PictureRelease = h264dec.PictureRelease


@dataclass
class DecodeStats:
    """Counters of one decode; ``corrupt`` frames were flagged by the device (or inherited it)."""

    access_units: int = 0
    pictures: int = 0
    requests: int = 0
    frames: int = 0
    corrupt: int = 0
    reconfigurations: int = 0
    corrupt_timestamps: list[int] = field(default_factory=list)


class Decoder:
    """Decode H.264 through a V4L2 stateless decoder.

    >>> with Decoder() as dec:                         # doctest: +SKIP
    ...     for frame in dec.decode("clip.h264"):
    ...         frame.y, frame.uv, frame.crop

    *device*: ``"auto"`` (first hardware stateless H.264 decoder, else the emulated device —
    then :attr:`device_notice` says so), ``"emulated"``, or a ``/dev/videoN`` path.
    *decode_mode*: ``"auto"`` (frame-based when the device offers it, else its current mode),
    ``"frame"`` or ``"slice"``. *start_code*: ``"auto"`` (Annex B in frame-based mode when
    offered), ``"annexb"`` or ``"none"``.
    *in_flight*: how many requests may be queued at once.
    """

    def __init__(
        self,
        device: str = "auto",
        *,
        backend: object | None = None,
        decode_mode: str = "auto",
        start_code: str = "auto",
        in_flight: int = 4,
        timeout_s: float = 10.0,
    ) -> None:
        self.session: DeviceSession = open_device(
            device, backend=backend, decode_mode=decode_mode, start_code=start_code, in_flight=in_flight,
            timeout_s=timeout_s
        )
        self.device_notice: str | None = self.session.notice
        self.device_name: str = self.session.name
        self.stats = DecodeStats()
        self._splitter = AccessUnitSplitter()
        # frame-based devices build their reference lists from the DPB: no per-slice controls
        self._codec = h264dec.H264Decoder(slice_controls=not self.session.frame_based)
        self._next_ts = TIMESTAMP_STEP_NS
        self._index = 0

    # -- public API ----------------------------------------------------------------------
    def decode(self, source: str | os.PathLike[str] | bytes | InputSource,
               progress: Callable[[int], None] | None = None) -> Iterator[Frame]:
        """Decode a whole file / byte string; yields frames in display order, then flushes."""
        if isinstance(source, (bytes, bytearray, memoryview)):
            chunks: Iterable[bytes] = [bytes(source)]
            src = None
        else:
            src = source if isinstance(source, InputSource) else open_input(source)
            chunks = src.chunks()
        try:
            for chunk in chunks:
                yield from self.feed(chunk)
                if progress is not None:
                    progress(len(chunk))
            yield from self.flush()
        finally:
            if src is not None and src is not source:
                src.close()

    def feed(self, data: bytes) -> Iterator[Frame]:
        """Push bytes of an Annex B stream; yields the frames that become ready."""
        return self._run(self._splitter.feed, data)

    def flush(self) -> Iterator[Frame]:
        """End of stream: decode what is buffered and output every remaining picture."""
        yield from self._run(self._splitter.flush, None)
        yield from self._guarded(self._handle(self._codec.flush()))
        self.session.drain()
        if self.stats.pictures == 0:
            raise BitstreamError("no decodable H.264 picture found (is this an H.264 stream?)")

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Decoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------
    def _guarded(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """Yield frames; on a fatal error first hand out every picture already decoded."""
        try:
            yield from frames
        except PyV4L2ReqError:
            yield from self._salvage()
            raise

    def _salvage(self) -> Iterator[Frame]:
        try:
            pending = self._codec.flush()
        except PyV4L2ReqError:
            return
        for ev in pending:
            if isinstance(ev, h264dec.PictureOutput) and self.session.is_decoded(ev.timestamp_ns):
                yield self._make_frame(ev)

    def _run(self, split: Callable[..., list], data: bytes | None) -> Iterator[Frame]:
        """The per-access-unit loop, flattened into one generator (the hot path): split, decode
        each access unit, act on each event by its exact type; on a fatal error while handling
        an access unit, first hand out every picture already decoded (as :meth:`_guarded`)."""
        aus = split() if data is None else split(data)  # split errors propagate as they are
        session = self.session
        stats = self.stats
        decode_access_unit = self._codec.decode_access_unit
        for au in aus:
            stats.access_units += 1
            ts = self._next_ts
            self._next_ts = ts + TIMESTAMP_STEP_NS
            try:
                for ev in decode_access_unit(au, ts):
                    kind = type(ev)
                    if kind is _PictureDecode:
                        stats.pictures += 1
                        stats.requests += session.submit(ev)
                    elif kind is _PictureOutput:
                        yield self._make_frame(ev)
                    elif kind is _PictureRelease:
                        session.release(ev.timestamp_ns)
                    else:  # SequenceStart, or an event subclass: the general dispatch
                        yield from self._handle((ev,))
            except PyV4L2ReqError:
                yield from self._salvage()
                raise

    def _handle(self, events: Iterable[object]) -> Iterator[Frame]:
        session = self.session
        for ev in events:
            if isinstance(ev, h264dec.PictureDecode):
                self.stats.pictures += 1
                self.stats.requests += session.submit(ev)
            elif isinstance(ev, h264dec.PictureOutput):
                yield self._make_frame(ev)
            elif isinstance(ev, h264dec.PictureRelease):
                session.release(ev.timestamp_ns)
            elif isinstance(ev, h264dec.SequenceStart):
                if session.configured:
                    self.stats.reconfigurations += 1
                session.configure(ev)

    def _make_frame(self, ev: "h264dec.PictureOutput") -> Frame:
        frame = self.session.frame(ev.timestamp_ns, ev.crop)
        frame.index = self._index
        frame.poc = getattr(ev, "poc", 0)
        self._index += 1
        self.stats.frames += 1
        if frame.corrupt:
            self.stats.corrupt += 1
            self.stats.corrupt_timestamps.append(ev.timestamp_ns)
        return frame


def decode_file(path: str | os.PathLike[str], device: str = "auto", **kwargs: object) -> Iterator[Frame]:
    """Decode a file (Annex B or MP4/MOV) and yield its frames in display order."""
    with Decoder(device=device, **kwargs) as dec:  # type: ignore[arg-type]
        yield from dec.decode(path)
