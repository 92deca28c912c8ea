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

Input is pushed and frames are pulled (:class:`Decoder`): ``feed`` splits and decodes at
once and puts the frames in a ready queue of at most ``max_ready`` frames; access units that
would overflow it wait, compressed, in a backlog and are decoded as frames are taken.

A frame whose CAPTURE buffer came back with V4L2_BUF_FLAG_ERROR, or that the codec says is
damaged, or that references such a frame, is reported with ``frame.corrupt = True`` and
counted; decoding goes on. Malformed input is skipped by the codec layer and noted
(:attr:`Decoder.damage`). On a fatal error every picture already decoded is still handed out
before the exception propagates.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from ..codec.h264 import decoder as h264dec
from ..codec.h264.access_unit import AccessUnitSplitter, DamageLog
from ..errors import BitstreamError, PyV4L2ReqError
from .frames import Frame
from .session import DeviceSession, open_device
from .source import InputSource, open_input

__all__ = ["Decoder", "DecodeStats", "decode_file", "open_input"]

TIMESTAMP_STEP_NS = 1000  # OUTPUT timestamps are timevals: keep them whole microseconds

_PictureDecode = h264dec.PictureDecode
_PictureOutput = h264dec.PictureOutput
_PictureRelease = h264dec.PictureRelease

#: In the backlog: the end of the stream (``flush``); among the events: drain the device.
_END = object()


@dataclass
class DecodeStats:
    """Counters of one decode. ``corrupt`` frames were flagged by the device, or damaged, or
    reference such a frame. What damage cost: ``nal_units_skipped`` (malformed NAL units and
    slices dropped), ``pictures_skipped`` (not decodable while resynchronising: a start or a
    restart at a non-IDR picture, references never decoded), ``damaged`` (pictures decoded
    with slices lost, or after pictures lost)."""

    access_units: int = 0
    pictures: int = 0
    requests: int = 0
    frames: int = 0
    corrupt: int = 0
    reconfigurations: int = 0
    corrupt_timestamps: list[int] = field(default_factory=list)
    nal_units_skipped: int = 0
    pictures_skipped: int = 0
    damaged: int = 0


class Decoder:
    """Decode H.264 through a V4L2 stateless decoder: push bytes in, pull frames out.

    >>> with Decoder() as dec:                         # doctest: +SKIP
    ...     for frame in dec.decode("clip.h264"):      # a whole file, display order
    ...         frame.y, frame.uv, frame.crop

    A stream that arrives in pieces::

        with Decoder() as dec:
            for chunk in chunks:
                dec.feed(chunk)                  # taken and decoded now
                for frame in dec.frames():       # the frames ready so far, display order
                    show(frame)
            for frame in dec.flush():            # end of stream: every remaining frame
                show(frame)

    :meth:`feed` consumes its input before it returns, and :meth:`flush` ends the stream
    before it returns; frames wait in the decoder's ready queue until they are taken, by
    :meth:`frames` or by iterating what ``feed``/``flush`` return (the same: :meth:`frames`).
    Not iterating it, or stopping early, loses nothing: the next pull starts where the last
    one stopped.

    *device*: ``"auto"`` (first hardware stateless H.264 decoder, else the emulated device —
    then :attr:`device_notice` says so), ``"emulated"``, or a ``/dev/videoN`` path.
    *decode_mode*: ``"auto"`` (frame-based when the device offers it, else its current mode),
    ``"frame"`` or ``"slice"``. *start_code*: ``"auto"`` (Annex B in frame-based mode when
    offered), ``"annexb"`` or ``"none"``.
    *in_flight*: how many requests may be queued at once.
    *max_ready*: at most this many decoded frames wait in the ready queue (each a copy of a
    picture: ~3 MiB at 1080p). Once it is full, further access units stay in a backlog
    undecoded (compressed, cheap) and are decoded as frames are taken; so a decoder nobody
    pulls from holds at most *max_ready* decoded frames, while its backlog grows with the
    input it is given.

    Damage is not fatal: a malformed NAL unit, slice header or parameter set is skipped and
    noted in :attr:`damage` (:class:`~pyv4l2req.codec.h264.access_unit.DamageNote` s: which
    NAL unit, the error message); decoding resumes at the next picture that can be decoded
    (its references present, or the next I picture / recovery point); a picture that lost
    slices or follows lost pictures, and every picture referencing it, comes out with
    ``frame.corrupt``. :attr:`stats` counts what was skipped.

    Fatal errors: :class:`UnsupportedStream` (FMO, data partitioning, ASO, >8-bit or
    non-4:2:0 pictures), :class:`NoDeviceError`, device and request errors
    (:class:`V4L2Error`, :class:`RequestError`, :class:`DecodeError`), and a
    :class:`BitstreamError` at the end of a stream that held no decodable picture at all.
    A fatal error stops decoding, and ``feed`` and ``flush`` do not raise it. The frames
    decoded before it are handed out first (also the pictures the device had finished that
    were still waiting for their display turn); then the pull that finds the queue empty
    raises the error, and so does every later pull. After a fatal error ``feed`` and
    ``flush`` take no more input.
    """

    def __init__(
        self,
        device: str = "auto",
        *,
        backend: object | None = None,
        decode_mode: str = "auto",
        start_code: str = "auto",
        in_flight: int = 4,
        max_ready: int = 4,
        timeout_s: float = 10.0,
    ) -> None:
        if max_ready < 1:
            raise ValueError(f"max_ready must be at least 1, not {max_ready}")
        self.session: DeviceSession = open_device(
            device, backend=backend, decode_mode=decode_mode, start_code=start_code, in_flight=in_flight,
            timeout_s=timeout_s
        )
        self.device_notice: str | None = self.session.notice
        self.device_name: str = self.session.name
        self.stats = DecodeStats()
        self.max_ready = max_ready
        #: what was skipped as malformed, in stream order (the splitter's and the codec's notes)
        self.damage = DamageLog()
        self._splitter = AccessUnitSplitter(damage=self.damage)
        # frame-based devices build their reference lists from the DPB: no per-slice controls
        self._codec = h264dec.H264Decoder(slice_controls=not self.session.frame_based,
                                          damage=self.damage)
        self._next_ts = TIMESTAMP_STEP_NS
        self._index = 0
        self._ready: deque[Frame] = deque()  # decoded frames, display order
        # access units not decoded yet, then _END after flush(): decoding order
        self._backlog: deque[object] = deque()
        self._events: Iterator[object] | None = None  # the rest of a partly handled event list
        self._error: PyV4L2ReqError | None = None  # decoding stopped: raised once _ready is empty

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
        """Take bytes of an Annex B stream: split them into access units and decode them now,
        until :attr:`max_ready` frames are ready (the rest waits, compressed). Returns
        :meth:`frames`, which need not be iterated: the frames stay queued until taken."""
        self._take(self._splitter.feed, data)
        return self.frames()

    def flush(self) -> Iterator[Frame]:
        """End of stream: the splitter's last access unit, then every picture still waiting
        for output. Returns :meth:`frames`, which hands out every remaining frame (those
        ready first) and raises :class:`BitstreamError` at the end if the stream held no
        decodable picture. A stream fed after ``flush`` starts afresh."""
        self._take(self._splitter.flush, None)
        return self.frames()

    def frames(self) -> Iterator[Frame]:
        """Yield the ready frames in display order, decoding the backlog as they are taken;
        ends when no frame can be made without more input (or, after :meth:`flush`, at the
        end of the stream). Stopping early leaves the rest queued. After a fatal error: the
        frames decoded before it, then the error."""
        ready = self._ready
        while True:
            if not ready:
                if not self._backlog and self._events is None:
                    break  # nothing to decode (feed and flush decode what they take at once)
                self._decode()
                if not ready:
                    break
            yield ready.popleft()
        if self._error is not None:
            raise self._error

    @property
    def ready(self) -> int:
        """How many decoded frames are waiting to be taken (at most :attr:`max_ready`)."""
        return len(self._ready)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Decoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------
    def _take(self, split: Callable[..., list], data: bytes | None) -> None:
        """Split *data* (``None``: the end of the stream) into the backlog and start decoding.
        The splitter raises nothing: it skips malformed NAL units and notes them (``damage``)."""
        if self._error is not None:
            return  # decoding has stopped; the next pull raises the error
        backlog = self._backlog
        backlog.extend(split() if data is None else split(data))
        if data is None:
            backlog.append(_END)
        self._decode()

    def _decode(self) -> None:
        """Decode until :attr:`max_ready` frames are ready or nothing is left; on a fatal
        error, queue the pictures already decoded instead (:meth:`_fail`)."""
        try:
            self._run()
        except PyV4L2ReqError as exc:
            self._fail(exc)
        finally:
            self._count_damage()

    def _count_damage(self) -> None:
        """The damage counters of :attr:`stats`, from the splitter's and the codec's."""
        stats, codec = self.stats, self._codec
        stats.nal_units_skipped = self._splitter.skipped_nal_units + codec.skipped_nal_units
        stats.pictures_skipped = codec.skipped_access_units + codec.skipped_pictures
        stats.damaged = codec.damaged_pictures

    def _run(self) -> None:
        """The per-access-unit loop (the hot path): decode each access unit of the backlog and
        act on each event by its exact type. When the ready queue is full the rest of the
        access unit's events are kept for the next call."""
        ready = self._ready
        limit = self.max_ready
        if len(ready) >= limit:
            return
        backlog = self._backlog
        session = self.session
        stats = self.stats
        decode_access_unit = self._codec.decode_access_unit
        make_frame = self._make_frame
        events = self._events
        while True:
            if events is None:
                if not backlog:
                    return
                item = backlog.popleft()
                if item is _END:
                    events = iter([*self._codec.flush(), _END])
                else:
                    stats.access_units += 1
                    ts = self._next_ts
                    self._next_ts = ts + TIMESTAMP_STEP_NS
                    events = iter(decode_access_unit(item, ts))
                self._events = events
            for ev in events:
                kind = type(ev)
                if kind is _PictureDecode:
                    stats.pictures += 1
                    stats.requests += session.submit(ev)
                elif kind is _PictureRelease:
                    session.release(ev.timestamp_ns)
                elif kind is _PictureOutput or isinstance(ev, _PictureOutput):
                    ready.append(make_frame(ev))
                    if len(ready) >= limit:
                        return  # self._events keeps the rest of this list
                else:  # SequenceStart, the end of the stream, an event subclass
                    self._handle(ev)
            events = self._events = None

    def _handle(self, ev: object) -> None:
        """The events :meth:`_run` does not dispatch by exact type (none of them outputs)."""
        session = self.session
        if ev is _END:
            session.drain()
            if self.stats.pictures == 0:
                raise BitstreamError("no decodable H.264 picture found (is this an H.264 stream?)")
        elif isinstance(ev, h264dec.PictureDecode):
            self.stats.pictures += 1
            self.stats.requests += session.submit(ev)
        elif isinstance(ev, h264dec.PictureRelease):
            session.release(ev.timestamp_ns)
        elif isinstance(ev, h264dec.SequenceStart):
            if session.configured:
                self.stats.reconfigurations += 1
            session.configure(ev)

    def _fail(self, exc: PyV4L2ReqError) -> None:
        """Stop decoding on *exc*: drop the backlog and queue, for output, every picture that
        was decoded but not output yet (still within :attr:`max_ready`: the rest are made as
        frames are taken). An error while making those frames ends them; *exc* is kept."""
        if self._error is not None:  # failed again, handing out the salvaged pictures
            self._events = None
            return
        self._error = exc
        self._backlog.clear()
        self._events = None
        try:
            pending = self._codec.flush()
        except PyV4L2ReqError:
            return
        is_decoded = self.session.is_decoded
        self._events = iter([ev for ev in pending
                             if isinstance(ev, _PictureOutput) and is_decoded(ev.timestamp_ns)])
        self._decode()

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
