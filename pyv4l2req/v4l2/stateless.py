"""A codec-agnostic stateless decoding session: formats, buffers, requests, CAPTURE ownership.

:class:`StatelessSession` is what every stateless codec needs from V4L2, and the only module of
pyv4l2req that queues buffers and requests (``tests/v4l2/test_only_session_queues.py``). A
codec adapter (``pipeline/session.py`` for H.264, ``pipeline/fwht.py`` for FWHT; later a VA
driver) says, per picture: *these controls, this bitstream, decode into this CAPTURE buffer*.

- ``configure(...)``: OUTPUT format (coded fourcc and size), the caller's *initial controls*
  (an H.264 driver picks its CAPTURE formats from the SPS), the CAPTURE format (the first of
  the caller's preferences that ENUM_FMT offers), the buffers of both queues and the request
  pool, STREAMON. Called again (resolution change, new context): drain, tear everything down
  and set it up again.
- ``submit(controls, bitstream, timestamp_ns, hold=, capture=)``: one media request. The
  controls go through a :class:`ControlSet` prepared once per tuple of control ids (payloads
  written in place: nothing is allocated for the kernel per picture), the bitstream chunks are
  copied one after another into the mmap'ed OUTPUT plane.
- CAPTURE ownership: a CAPTURE buffer is *free* (userspace, ours to hand out), *with the
  device* (queued by a job, or held with ``HOLD_CAPTURE_BUF``) or *the caller's* (its
  completion was reported; it stays dequeued — a decoded picture, a reference — until
  ``release_capture``). Only a job puts a CAPTURE buffer in the device's queue: its target
  (the one asked for, or the buffer free the longest), right after its request, so the
  device decodes into exactly that buffer (m2m pairs the next OUTPUT job with the first
  CAPTURE buffer in queue order, and no other is queued). After the request, not before: a
  request that fails to queue (control validation: ENOENT, EINVAL) leaves no CAPTURE buffer
  behind without a job. A job that continues a held buffer (the previous job held it, same
  timestamp) queues none.
- completions ``Completion(timestamp_ns, index, error, bytesused)``: ``completed()``
  (non-blocking) and ``wait(timestamp_ns=None)`` (blocking). A timestamp names one picture:
  the CAPTURE buffer the device hands back carries its OUTPUT buffer's timestamp.

Errors: a request that does not complete in time raises :class:`RequestError` and its slot is
discarded (its OUTPUT buffer is in an unknown state); a failed S_EXT_CTRLS/QBUF/QUEUE raises
:class:`DecodeError` naming the picture, with nothing left queued; a failed REINIT is handled
by the :class:`RequestPool`. A CAPTURE buffer whose QBUF fails leaves the rotation
(``lost_capture``) and the job takes the next free one (its request is already queued).
"""

from __future__ import annotations

import collections
import time
from operator import itemgetter
from typing import NamedTuple, Sequence

from ..errors import DecodeError, NoDeviceError, RequestError, UnsupportedStream, V4L2Error
from ..kernel.backend import POLLIN, Backend
from ..uapi import fwht as ufwht
from ..uapi import h264 as uh264
from ..uapi import videodev2 as v
from ..uapi.ioc import fourcc_str
from ..uapi.packing import fast, pack
from .device import ControlSet, Format, VideoDevice
from .discover import DecoderInfo
from .media import MediaDevice
from .queue import Queue
from .request import RequestPool

__all__ = ["StatelessSession", "Completion", "CONTROL_STRUCTS"]

#: control id -> construct struct of its payload (a ``dict`` payload is packed with it)
CONTROL_STRUCTS = {**uh264.CONTROL_STRUCTS, **ufwht.CONTROL_STRUCTS}
_HOLD = v.V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF
_ERROR = v.V4L2_BUF_FLAG_ERROR
_new_tuple = tuple.__new__  # Completion(...) without the NamedTuple's Python-level __new__
_cids_of = itemgetter(0)


def _no_struct(cid: int):
    """The packer of a control without a struct in CONTROL_STRUCTS: its payload must be bytes."""
    def pack_into(buf: object, offset: int, value: object) -> None:
        raise TypeError(f"control {cid:#x} has no struct in CONTROL_STRUCTS: pass its payload as bytes")
    return pack_into


class Completion(NamedTuple):
    """A CAPTURE buffer the device handed back: from now on it is the caller's."""

    timestamp_ns: int  # that of the job(s) that wrote it
    index: int  # CAPTURE buffer index
    error: bool  # V4L2_BUF_FLAG_ERROR
    bytesused: int  # plane 0


# A job in flight (``_jobs``) is the plain tuple (slot, OUTPUT index, timestamp_ns, holds):
# one per request, made and read on the hot path.


class StatelessSession:
    """One stateless decoder (video + media device) decoding one coded format (module docstring).

    ``StatelessSession(backend, video_path, media_path, coded_format)`` or
    ``StatelessSession.open(backend, info, coded_format)`` with a :class:`DecoderInfo`.
    """

    def __init__(self, backend: Backend, video_path: str, media_path: str, coded_format: int, *,
                 timeout_s: float = 10.0) -> None:
        self.backend = backend
        self.coded_format = coded_format
        self.timeout_s = timeout_s
        self.out_q: Queue | None = None
        self.cap_q: Queue | None = None
        self.pool: RequestPool | None = None
        self.output_format: Format | None = None
        self.capture_format: Format | None = None
        self.configured = False
        self.closed = False
        #: CAPTURE buffers whose QBUF failed (index, error): out of the rotation
        self.lost_capture: list[tuple[int, str]] = []
        self._control_sets: dict[tuple[int, ...], tuple[ControlSet, list]] = {}
        self._reset_state()
        self.dev = VideoDevice(backend, video_path)
        try:
            self.media = MediaDevice(backend, media_path)
        except BaseException:
            self.dev.close()
            raise
        # the emulated device's nodes exist only in its own namespace: name it, not its path
        where = "emulated" if getattr(backend, "name", "") == "emulated" else video_path
        self.name = f"{where} ({self.dev.driver})"
        self.supports_hold = self.dev.supports_hold
        if not self.dev.supports_requests:
            self.close()
            raise NoDeviceError(f"{self.name} does not support media requests")

    @classmethod
    def open(cls, backend: Backend, info: DecoderInfo, coded_format: int, **kwargs) -> "StatelessSession":
        """A session on the decoder *info* (from :func:`pyv4l2req.v4l2.discover`)."""
        return cls(backend, info.video_path, info.media_path, coded_format, **kwargs)

    def _reset_state(self) -> None:
        self._jobs: collections.deque[tuple[object, int, int, bool]] = collections.deque()
        self._free_out: list[int] = []
        self._out_planes: list[memoryview] = []
        self._free_cap: collections.deque[int] = collections.deque()  # free the longest first
        self._callers: set[int] = set()  # CAPTURE buffers reported complete, not released
        self._held: tuple[int, int] | None = None  # (timestamp, index) held by the device
        self._done: dict[int, Completion] = {}  # completions not handed out yet, by timestamp

    # -- configuration ---------------------------------------------------------------------
    def configure(self, coded_width: int, coded_height: int, *, capture_formats: Sequence[int],
                  capture_buffers: int, in_flight: int, initial_controls: Sequence[tuple[int, object]] = (),
                  sizeimage: int | None = None) -> Format:
        """Set up (again) for pictures of *coded_width* x *coded_height*; returns the CAPTURE format.

        *capture_formats*: fourccs in order of preference; *capture_buffers*: how many CAPTURE
        buffers (DPB + in flight + held by the caller); *in_flight*: OUTPUT buffers and
        requests queued at once; *initial_controls*: ``(cid, int | bytes | dict)`` set before
        the CAPTURE format is chosen; *sizeimage*: of the OUTPUT buffers (None: the driver's).
        """
        if self.configured:
            self.drain()
            self._teardown()
        dev = self.dev
        self.output_format = fmt = dev.s_fmt(dev.output_type, self.coded_format, coded_width, coded_height,
                                             sizeimage=sizeimage)
        if fmt.pixelformat != self.coded_format:
            raise UnsupportedStream(f"{self.name}: OUTPUT format {fourcc_str(self.coded_format)} refused "
                                    f"(the driver chose {fourcc_str(fmt.pixelformat)})")
        if initial_controls:
            dev.set_controls([(cid, self._packed(cid, value)) for cid, value in initial_controls])
        offered = [f.pixelformat for f in dev.enum_formats(dev.capture_type)]
        choice = next((f for f in capture_formats if f in offered), None)
        if choice is None:
            raise UnsupportedStream(
                f"{self.name} offers no CAPTURE format we can use for this stream (wanted: "
                f"{', '.join(fourcc_str(f) for f in capture_formats)}; offered: "
                f"{', '.join(fourcc_str(f) for f in offered) or 'none'})")
        cap = dev.s_fmt(dev.capture_type, choice, coded_width, coded_height)
        if cap.pixelformat != choice:
            raise UnsupportedStream(f"{self.name}: CAPTURE format {fourcc_str(choice)} refused "
                                    f"(the driver chose {fourcc_str(cap.pixelformat)})")
        if cap.width < coded_width or cap.height < coded_height:
            raise UnsupportedStream(f"{self.name} cannot decode {coded_width}x{coded_height} (CAPTURE "
                                    f"format is {cap.width}x{cap.height})")
        self.capture_format = cap
        try:
            self.out_q = Queue(dev, dev.output_type)
            self.out_q.setup(in_flight)
            self.cap_q = Queue(dev, dev.capture_type)
            self.cap_q.setup(capture_buffers)
            self.pool = RequestPool(self.media, min(in_flight, len(self.out_q.buffers)))
            self._free_out = list(range(len(self.out_q.buffers)))
            self._out_planes = [b.planes[0] for b in self.out_q.buffers]
            self._free_cap.extend(range(len(self.cap_q.buffers)))
            self._pool_free = self.pool.free_slots  # (the same list for the pool's lifetime)
            self.out_q.streamon()
            self.cap_q.streamon()
        except BaseException:
            self._teardown()
            raise
        self.configured = True
        return cap

    def _teardown(self) -> None:
        try:
            for q in (self.out_q, self.cap_q):
                if q is not None:
                    q.free()  # STREAMOFF, unmap, REQBUFS(0)
        finally:
            if self.pool is not None:
                self.pool.close()
            self.out_q = self.cap_q = None
            self.pool = None
            self._control_sets.clear()
            self._reset_state()
            self.configured = False

    @staticmethod
    def _packed(cid: int, value: object) -> object:
        """A control value as the ioctl takes it: a dict packed with ``CONTROL_STRUCTS``."""
        return pack(CONTROL_STRUCTS[cid], value) if isinstance(value, dict) else value

    # -- CAPTURE buffers -------------------------------------------------------------------
    @property
    def free_capture(self) -> int:
        """CAPTURE buffers a job can take now."""
        return len(self._free_cap)

    @property
    def in_flight(self) -> int:
        """Requests queued and not reaped yet."""
        return len(self._jobs)

    def capture_planes(self, index: int) -> list[memoryview]:
        """The mapped planes of CAPTURE buffer *index* (valid until the next configure/close)."""
        assert self.cap_q is not None
        return self.cap_q.buffers[index].planes

    def release_capture(self, index: int) -> None:
        """The caller is done with CAPTURE buffer *index*: it becomes free for the next job."""
        try:
            self._callers.remove(index)
        except KeyError:
            raise ValueError(f"CAPTURE buffer {index} is not the caller's (free, with the device or "
                             f"unknown)") from None
        self._free_cap.append(index)

    # -- decoding ----------------------------------------------------------------------------
    def submit(self, controls: Sequence[tuple[int, object]], bitstream: Sequence[bytes], timestamp_ns: int, *,
               hold: bool = False, capture: int | None = None) -> int:
        """Queue one request; returns the CAPTURE buffer index it decodes into.

        *controls*: ``(cid, payload)`` with a payload of packed ``bytes`` or a ``dict`` (packed
        with ``CONTROL_STRUCTS``); *bitstream*: chunks written one after another into the
        OUTPUT buffer; *hold*: ``V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF`` (the next job with the same
        timestamp continues the same CAPTURE buffer; dropped when the device does not support
        it, as the kernel does); *capture*: the CAPTURE buffer to decode into (free or the
        caller's; default: the free buffer free the longest). Blocks only for a free OUTPUT
        buffer / request (the oldest job is reaped).
        """
        if not self.configured:
            raise DecodeError(f"picture ts={timestamp_ns} submitted before the session was configured")
        free_out, pool_free = self._free_out, self._pool_free
        while not free_out or not pool_free:
            if not self._jobs:
                raise DecodeError(f"picture ts={timestamp_ns}: no OUTPUT buffer or request left (lost: "
                                  f"{'; '.join(self.pool.losses) or 'none'})")  # type: ignore[union-attr]
            self._reap_oldest(self.timeout_s)
        held = self._held
        continues = held is not None and held[0] == timestamp_ns
        if continues:
            target = held[1]  # type: ignore[index]
            if capture is not None and capture != target:
                raise DecodeError(f"picture ts={timestamp_ns} continues CAPTURE buffer {target} (held), "
                                  f"it cannot target buffer {capture}")
        else:
            target = self._choose_capture(capture, timestamp_ns)
        key = tuple(map(_cids_of, controls))
        entry = self._control_sets.get(key)
        if entry is None:
            entry = self._prepare(key)
        cs, packers = entry
        payloads = cs.payloads
        for i, (_, value) in enumerate(controls):
            if type(value) is bytes:
                try:
                    payloads[i][:] = value
                except ValueError:
                    raise DecodeError(f"picture ts={timestamp_ns}: control {cs.cids[i]:#x} payload of {len(value)} "
                                      f"bytes, the device's is {len(payloads[i])}") from None
            else:
                packers[i](payloads[i], 0, value)
        idx = free_out.pop()
        mv = self._out_planes[idx]
        pos = 0
        try:  # chunk by chunk straight into the mmap'ed plane (a chunk too far: ValueError)
            for chunk in bitstream:
                end = pos + len(chunk)
                mv[pos:end] = chunk
                pos = end
        except ValueError:
            free_out.append(idx)
            raise DecodeError(f"a {sum(map(len, bitstream))}-byte picture does not fit the "
                              f"{len(mv)}-byte OUTPUT buffer") from None
        holds = hold and self.supports_hold
        pool = self.pool
        slot = pool.acquire()  # type: ignore[union-attr]
        request = slot.request
        try:
            cs.apply(request.fd)
            self.out_q.qbuf(idx, pos, timestamp_ns, request.fd, _HOLD if holds else 0)  # type: ignore[union-attr]
            request.queue()
        except V4L2Error as e:
            pool.release(slot)  # type: ignore[union-attr]  # (REINIT unbinds the OUTPUT buffer)
            free_out.append(idx)
            raise DecodeError(f"queueing the request for picture ts={timestamp_ns} failed: {e}") from e
        self._jobs.append((slot, idx, timestamp_ns, holds))
        if not continues:
            target = self._queue_capture(target, timestamp_ns)
        self._held = (timestamp_ns, target) if holds else None
        return target

    def _choose_capture(self, capture: int | None, ts: int) -> int:
        """The CAPTURE buffer of a job that does not continue a held one (not taken yet)."""
        if capture is None:
            if not self._free_cap:
                raise DecodeError(f"no free CAPTURE buffer for picture ts={ts} "
                                  f"({len(self.cap_q.buffers)} allocated: "  # type: ignore[union-attr]
                                  f"{len(self._callers)} the caller's, the others with the device or lost)")
            return self._free_cap[0]
        if capture not in self._free_cap and capture not in self._callers:
            raise DecodeError(f"picture ts={ts}: CAPTURE buffer {capture} is with the device (or lost)")
        return capture

    def _queue_capture(self, target: int, ts: int) -> int:
        """QBUF the CAPTURE buffer of the job just queued; returns the one queued. A buffer
        whose QBUF fails leaves the rotation (``lost_capture``) and the next free one is taken
        (the request is queued: it must get a CAPTURE buffer)."""
        while True:
            if target in self._callers:
                self._callers.discard(target)  # the caller's buffer, overwritten at its request
            else:
                self._free_cap.remove(target)
            try:
                self.cap_q.qbuf(target)  # type: ignore[union-attr]
                return target
            except V4L2Error as e:
                self.lost_capture.append((target, str(e)))
                if not self._free_cap:
                    raise DecodeError(
                        f"picture ts={ts}: CAPTURE buffer {target} could not be queued ({e}) and no other "
                        f"is free: its request is queued and takes the next CAPTURE buffer queued") from e
                target = self._free_cap[0]

    def _prepare(self, key: tuple[int, ...]) -> tuple[ControlSet, list]:
        cs = self.dev.prepare_controls(key)
        packers = [fast(CONTROL_STRUCTS[cid]).pack_into if cid in CONTROL_STRUCTS else _no_struct(cid) for cid in key]
        entry = self._control_sets[key] = (cs, packers)
        return entry

    def _reap_oldest(self, timeout_s: float | None) -> None:
        """Wait for the oldest request, dequeue its OUTPUT buffer and (unless it holds its
        CAPTURE buffer) the CAPTURE buffers up to its own: each becomes a completion."""
        if not self._jobs:
            raise DecodeError("internal: waiting with no request in flight")
        slot, _, job_ts, holds = self._jobs.popleft()
        pool = self.pool
        try:
            slot.request.wait(timeout_s)
        except RequestError:
            pool.discard(slot)  # type: ignore[union-attr]  # its OUTPUT buffer is in an unknown state
            raise
        done = self.out_q.dqbuf()  # type: ignore[union-attr]
        if done is None:
            pool.discard(slot)  # type: ignore[union-attr]
            raise DecodeError(f"request for ts={job_ts} completed but no OUTPUT buffer came back")
        self._free_out.append(done.index)
        pool.release(slot)  # type: ignore[union-attr]
        if not holds:
            self._capture_back(job_ts, self.timeout_s if timeout_s is None else timeout_s,
                               f"CAPTURE buffer for ts={job_ts} never came back")

    def _capture_back(self, ts: int, timeout_s: float, missing: str) -> None:
        """Dequeue the CAPTURE buffers the device hands back (each becomes a completion) until
        the one of picture *ts* is among them; DecodeError *missing* after *timeout_s*."""
        deadline = time.monotonic() + timeout_s
        while True:
            cap = self.cap_q.dqbuf()  # type: ignore[union-attr]
            if cap is not None:
                if self._completion(cap) == ts:
                    return
            elif time.monotonic() > deadline:
                raise DecodeError(missing)
            else:
                self.backend.poll([(self.dev.fd, POLLIN)], 10)

    def _completion(self, cap) -> int:
        """A CAPTURE buffer the device handed back: the caller's now, its completion kept by
        timestamp; returns the timestamp."""
        ts = cap.timestamp_ns
        self._callers.add(cap.index)
        self._done[ts] = _new_tuple(Completion, (ts, cap.index, cap.flags & _ERROR != 0, cap.bytesused))
        return ts

    def completed(self, reap: bool = True) -> list[Completion]:
        """Non-blocking: every completion not handed out yet (oldest first), after reaping the
        jobs whose requests have already completed (*reap* False: no ioctl at all, only what
        earlier calls reaped)."""
        jobs = self._jobs
        while reap and jobs and jobs[0][0].request.is_complete():
            self._reap_oldest(self.timeout_s)
        done = list(self._done.values())
        self._done.clear()
        return done

    def wait(self, timestamp_ns: int | None = None, timeout_s: float | None = None) -> Completion:
        """Block until the CAPTURE buffer of *timestamp_ns* (None: any) comes back and return its
        completion (the others that came back meanwhile stay for :meth:`completed`). Each
        request waited for may take *timeout_s* (default: the session's) before RequestError."""
        done = self._done
        timeout = self.timeout_s if timeout_s is None else timeout_s
        while True:
            if timestamp_ns is None:
                if done:
                    return done.pop(next(iter(done)))
            else:
                c = done.pop(timestamp_ns, None)
                if c is not None:
                    return c
            if not self._jobs:
                # every job is reaped. A CAPTURE buffer held for a picture that no job
                # continued came back when the next picture's job started (m2m hands a held
                # buffer back at the next timestamp), after that job's (holding) reap: take it
                swept = False
                while (cap := self.cap_q.dqbuf()) is not None:  # type: ignore[union-attr]
                    self._completion(cap)
                    swept = True
                if swept:
                    continue
                held = self._held
                if held is not None and timestamp_ns in (None, held[0]):
                    self._release_held(timeout)  # still held, no job will continue it: have it back
                    continue
                what = "any picture" if timestamp_ns is None else f"picture ts={timestamp_ns}"
                raise DecodeError(f"waiting for {what}, but no request is in flight")
            self._reap_oldest(timeout)

    def _release_held(self, timeout_s: float) -> None:
        """The CAPTURE buffer held for a picture that no later job continues (a field without
        its pair: at the end of a stream, or after damage) comes back: ``V4L2_DEC_CMD_FLUSH``
        (every job is reaped, so the device is idle), then its completion as any other."""
        ts, index = self._held  # type: ignore[misc]
        self._held = None
        try:
            self.dev.decoder_cmd(v.V4L2_DEC_CMD_FLUSH)
        except V4L2Error as e:
            raise DecodeError(f"CAPTURE buffer {index} is held for picture ts={ts} and no job continues it; "
                              f"{self.name} cannot release it ({e})") from e
        self._capture_back(ts, timeout_s,
                           f"CAPTURE buffer {index} (ts={ts}) did not come back after V4L2_DEC_CMD_FLUSH")

    def drain(self) -> None:
        """Wait until every queued request has completed (a held CAPTURE buffer stays held)."""
        while self._jobs:
            self._reap_oldest(self.timeout_s)

    def close(self) -> None:
        """Drain (errors ignored), stop streaming, free buffers and requests, close the devices
        (idempotent)."""
        if self.closed:
            return
        self.closed = True
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

    def __enter__(self) -> "StatelessSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StatelessSession({self.name}, {fourcc_str(self.coded_format)}, jobs={len(self._jobs)})"
