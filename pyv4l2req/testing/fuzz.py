"""Fuzzing harness: damaged H.264 input through the parser alone and through the whole pipeline.

A *case* is a seed stream (a fixture or a shared vector: Annex B or MP4) and a list of
:class:`Mutation` s applied in order. Mutations are plain data (kind + integers), so a case
prints as a reproducible recipe, and Hypothesis can draw and shrink them
(``tests/testing/test_fuzz.py``); ``tools/fuzz.py`` runs long seeded campaigns with
:func:`random_case`.

Kinds: ``flip`` (one bit), ``truncate``, ``splice`` (junk bytes, with or without a start code
in front), ``zero`` (a range), ``dup_nal`` / ``swap_nal`` / ``drop_nal`` (NAL units of the Annex
B stream), ``sps_field`` (an SPS rewritten with an absurd value of one field: sizes, counts, POC
type, bit depth, ...), ``mp4_box`` (an MP4 box's size field overwritten).

Targets and what they check (:class:`Outcome`):

- :func:`run_parser`: the sans-IO codec layer (MP4 demux, access-unit splitting, slice headers,
  H264Decoder events) on the bytes;
- :func:`run_pipeline`: ``pyv4l2req.Decoder`` on the emulated device.

Invariants (:func:`check`): only the library's documented errors escape
(:class:`~pyv4l2req.errors.PyV4L2ReqError` subclasses), and malformed input
(:class:`~pyv4l2req.errors.BitstreamError`) only when it held nothing decodable: damage is
skipped, it never ends decoding after frames came out; a case ends within a time bound;
the pipeline leaves no file descriptor open and hands out every frame it decoded (the frames
the caller received equal ``Decoder.stats.frames``); Python memory (tracemalloc peak, when
asked) stays under a bound.
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import BitstreamError, PyV4L2ReqError

KINDS = ("flip", "truncate", "splice", "zero", "dup_nal", "swap_nal", "drop_nal", "sps_field", "mp4_box")

#: SPS fields and the absurd values ``sps_field`` writes (index = Mutation.b % len)
ABSURD_SPS = (
    ("pic_width_in_mbs_minus1", (0, 1000, 8191, 1 << 16, (1 << 31) - 2)),
    ("pic_height_in_map_units_minus1", (0, 1000, 8191, 1 << 16, (1 << 31) - 2)),
    ("log2_max_frame_num_minus4", (12, 13, 100)),
    ("log2_max_pic_order_cnt_lsb_minus4", (12, 13, 100)),
    ("pic_order_cnt_type", (1, 2, 3, 7)),
    ("num_ref_frames_in_pic_order_cnt_cycle", (255, 256, 5000)),
    ("max_num_ref_frames", (0, 16, 17, 1000)),
    ("chroma_format_idc", (0, 2, 3, 4, 100)),
    ("bit_depth_luma_minus8", (2, 6, 7, 100)),
    ("profile_idc", (0, 44, 110, 255)),
    ("level_idc", (0, 9, 255)),
    ("seq_parameter_set_id", (31, 32, 1000)),
)


@dataclass(frozen=True)
class Mutation:
    """One change: *kind* with integer arguments *a*, *b*, *c* read modulo what they index."""

    kind: str
    a: int = 0
    b: int = 0
    c: int = 0

    def __str__(self) -> str:
        return f"{self.kind}({self.a}, {self.b}, {self.c})"


@dataclass
class Outcome:
    """What one run did: frames out, the error raised (None = clean end), time, fds, memory."""

    target: str
    frames: int = 0
    error: BaseException | None = None
    seconds: float = 0.0
    fds_leaked: int = 0
    frames_lost: int = 0          # decoded (stats.frames) but never handed to the caller
    peak_bytes: int = 0           # tracemalloc peak (0 when not traced)

    @property
    def documented(self) -> bool:
        return self.error is None or isinstance(self.error, PyV4L2ReqError)


# -- mutations ----------------------------------------------------------------------------------

def _nal_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each NAL unit's bytes, start code included (3 or 4 bytes)."""
    starts = []
    i = data.find(b"\0\0\1")
    while i >= 0:
        starts.append(i - 1 if i > 0 and data[i - 1] == 0 else i)
        i = data.find(b"\0\0\1", i + 3)
    return [(s, starts[k + 1] if k + 1 < len(starts) else len(data)) for k, s in enumerate(starts)]


def _sps_with(nal_bytes: bytes, field_index: int, value_index: int) -> bytes | None:
    """The SPS NAL unit *nal_bytes* (no start code) rewritten with one absurd field value."""
    from ..codec.h264.nal import ebsp_to_rbsp
    from ..codec.h264.sps import parse_sps
    from ..emulated import nal_writer
    from ..uapi import h264 as u

    try:
        sps = parse_sps(ebsp_to_rbsp(nal_bytes[1:]))
    except PyV4L2ReqError:
        return None
    flags = 0
    for name, bit in (("separate_colour_plane_flag", u.V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE),
                      ("delta_pic_order_always_zero_flag", u.V4L2_H264_SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO),
                      ("gaps_in_frame_num_value_allowed_flag", u.V4L2_H264_SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED),
                      ("frame_mbs_only_flag", u.V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY),
                      ("mb_adaptive_frame_field_flag", u.V4L2_H264_SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD),
                      ("direct_8x8_inference_flag", u.V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE)):
        if getattr(sps, name, 0):
            flags |= bit
    names = ("profile_idc", "level_idc", "seq_parameter_set_id", "chroma_format_idc", "bit_depth_luma_minus8",
             "bit_depth_chroma_minus8", "log2_max_frame_num_minus4", "pic_order_cnt_type",
             "log2_max_pic_order_cnt_lsb_minus4", "offset_for_non_ref_pic", "offset_for_top_to_bottom_field",
             "num_ref_frames_in_pic_order_cnt_cycle", "max_num_ref_frames", "pic_width_in_mbs_minus1",
             "pic_height_in_map_units_minus1")
    values = {n: getattr(sps, n, 0) or 0 for n in names}
    values["offset_for_ref_frame"] = list(getattr(sps, "offset_for_ref_frame", []) or [])
    values["flags"] = flags
    name, choices = ABSURD_SPS[field_index % len(ABSURD_SPS)]
    values[name] = choices[value_index % len(choices)]
    # a field only written when another has a given value: make it written
    values.update({"num_ref_frames_in_pic_order_cnt_cycle": {"pic_order_cnt_type": 1},
                   "log2_max_pic_order_cnt_lsb_minus4": {"pic_order_cnt_type": 0},
                   "chroma_format_idc": {"profile_idc": 100},
                   "bit_depth_luma_minus8": {"profile_idc": 100}}.get(name, {}))
    if name == "profile_idc" or values["profile_idc"] in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        values.setdefault("chroma_format_idc", 1)
    return nal_writer.sps_nal(values, nal_ref_idc=nal_bytes[0] >> 5 & 3)


def _mp4_box_offsets(data: bytes) -> list[int]:
    """Offsets of the box headers of an MP4 file (containers walked), for ``mp4_box``."""
    containers = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}
    out: list[int] = []

    def walk(start: int, end: int, depth: int) -> None:
        p = start
        while p + 8 <= end and depth < 8:
            size = int.from_bytes(data[p:p + 4], "big")
            typ = data[p + 4:p + 8]
            out.append(p)
            if size < 8 or p + size > end:
                return
            if typ in containers:
                walk(p + 8, p + size, depth + 1)
            elif typ == b"stsd":
                walk(p + 16, p + size, depth + 1)
            p += size

    walk(0, len(data), 0)
    return out


def is_mp4(data: bytes) -> bool:
    return len(data) >= 8 and data[4:8] in (b"ftyp", b"moov", b"mdat", b"free")


def mutate(data: bytes, m: Mutation) -> bytes:
    """*data* with mutation *m* applied (the same bytes for the same inputs)."""
    n = len(data)
    if n == 0:
        return data
    kind = m.kind
    if kind == "flip":
        pos = m.a % n
        return data[:pos] + bytes([data[pos] ^ (1 << (m.b % 8))]) + data[pos + 1:]
    if kind == "truncate":
        return data[:m.a % n]
    if kind == "splice":
        rng = random.Random(m.c)
        junk = bytes(rng.getrandbits(8) for _ in range(1 + m.b % 4096))
        if m.c % 2:
            junk = b"\0\0\1" + junk
        pos = m.a % (n + 1)
        return data[:pos] + junk + data[pos:]
    if kind == "zero":
        pos = m.a % n
        return data[:pos] + bytes(min(1 + m.b % 65536, n - pos)) + data[pos + 1 + m.b % 65536:]
    if kind == "mp4_box":
        offsets = _mp4_box_offsets(data) if is_mp4(data) else []
        if not offsets:
            return mutate(data, Mutation("flip", m.a, m.b))
        pos = offsets[m.a % len(offsets)]
        size = (0, 1, 7, 8, 9, 0xFFFFFFFF, 1 << 20, m.c & 0xFFFFFFFF)[m.b % 8]
        return data[:pos] + size.to_bytes(4, "big") + data[pos + 4:]
    spans = _nal_spans(data)
    if not spans:
        return mutate(data, Mutation("flip", m.a, m.b))
    i = m.a % len(spans)
    s, e = spans[i]
    if kind == "dup_nal":
        return data[:e] + data[s:e] + data[e:]
    if kind == "drop_nal":
        return data[:s] + data[e:]
    if kind == "swap_nal":
        j = m.b % len(spans)
        if i == j:
            return data
        (s1, e1), (s2, e2) = sorted((spans[i], spans[j]))
        return data[:s1] + data[s2:e2] + data[e1:s2] + data[s1:e1] + data[e2:]
    if kind == "sps_field":
        sps_spans = [(s, e) for s, e in spans if data[s:e].lstrip(b"\0")[1:2] and data[s:e].lstrip(b"\0")[1] & 0x1F == 7]
        if not sps_spans:
            return data
        s, e = sps_spans[m.a % len(sps_spans)]
        body = data[s:e].lstrip(b"\0")[1:]  # after the start code's 0x01
        new = _sps_with(body, m.b, m.c)
        return data if new is None else data[:s] + b"\0\0\0\1" + new + data[e:]
    raise ValueError(f"unknown mutation kind {kind!r} (valid: {', '.join(KINDS)})")


def junk_with_start_codes(seed: int, size: int = 2048) -> bytes:
    """*size* random bytes with a start code every 256 bytes: what looks most like NAL units
    (the damaged-stream tests splice it in)."""
    rng = random.Random(seed)
    out = bytearray(rng.getrandbits(8) for _ in range(size))
    for p in range(0, size - 4, 256):
        out[p:p + 3] = b"\0\0\1"
    return bytes(out)


def apply(data: bytes, mutations: Sequence[Mutation]) -> bytes:
    for m in mutations:
        data = mutate(data, m)
    return data


def random_case(rng: random.Random, max_mutations: int = 3) -> list[Mutation]:
    return [Mutation(rng.choice(KINDS), rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32))
            for _ in range(rng.randint(1, max_mutations))]


# -- targets ------------------------------------------------------------------------------------

def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def run_parser(data: bytes, *, trace_memory: bool = False) -> Outcome:
    """The sans-IO codec layer on *data*: pictures decoded count as frames (PictureOutput)."""
    from ..codec.h264 import decoder as h264dec
    from ..codec.h264.access_unit import AccessUnitSplitter

    out = Outcome("parser")
    if trace_memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    try:
        if is_mp4(data):
            from ..pipeline.source import mp4_to_annexb

            data = mp4_to_annexb(data)
        splitter = AccessUnitSplitter()
        dec = h264dec.H264Decoder()
        ts = 0
        for chunk in (data[i:i + 65536] for i in range(0, len(data), 65536)):
            for au in splitter.feed(chunk):
                ts += 1000
                out.frames += sum(isinstance(ev, h264dec.PictureOutput) for ev in dec.decode_access_unit(au, ts))
        for au in splitter.flush():
            ts += 1000
            out.frames += sum(isinstance(ev, h264dec.PictureOutput) for ev in dec.decode_access_unit(au, ts))
        out.frames += sum(isinstance(ev, h264dec.PictureOutput) for ev in dec.flush())
    except Exception as e:  # noqa: BLE001 -- what escapes is the finding
        out.error = e
    finally:
        out.seconds = time.perf_counter() - t0
        if trace_memory:
            out.peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return out


def run_pipeline(data: bytes, *, pixels: bool = True, timeout_s: float = 5.0) -> Outcome:
    """``pyv4l2req.Decoder`` on the emulated device (with FFmpeg's pixels, or visl-like)."""
    from ..emulated import EmulatedBackend
    from ..pipeline.decoder import Decoder

    out = Outcome("pipeline")
    fds = _open_fds()
    t0 = time.perf_counter()
    dec = None
    try:
        dec = Decoder(device="emulated", backend=EmulatedBackend(pixels=pixels), timeout_s=timeout_s)
        if is_mp4(data):
            from ..pipeline.source import mp4_to_annexb

            data = mp4_to_annexb(data)
        for _frame in dec.decode(data):
            out.frames += 1
    except Exception as e:  # noqa: BLE001
        out.error = e
    finally:
        if dec is not None:
            out.frames_lost = dec.stats.frames - out.frames
            try:
                dec.close()
            except Exception as e:  # noqa: BLE001
                out.error = out.error or e
        out.seconds = time.perf_counter() - t0
        out.fds_leaked = _open_fds() - fds
    return out


@dataclass
class Bounds:
    seconds: float = 30.0
    peak_bytes: int = 512 << 20


def check(out: Outcome, bounds: Bounds = Bounds()) -> list[str]:
    """The invariants *out* breaks, one sentence each (empty: none)."""
    problems = []
    if not out.documented:
        problems.append(f"{type(out.error).__name__} escaped: {out.error}")
    elif isinstance(out.error, BitstreamError) and out.frames:
        # malformed input is skipped: it ends decoding only when nothing was decodable at all
        problems.append(f"malformed input ended decoding after {out.frames} frames: {out.error}")
    if out.seconds > bounds.seconds:
        problems.append(f"took {out.seconds:.1f} s (bound {bounds.seconds} s)")
    if out.fds_leaked > 0:
        problems.append(f"{out.fds_leaked} file descriptors left open")
    if out.frames_lost:
        problems.append(f"{out.frames_lost} decoded frames never handed out")
    if out.peak_bytes > bounds.peak_bytes:
        problems.append(f"Python memory peaked at {out.peak_bytes >> 20} MiB (bound {bounds.peak_bytes >> 20})")
    return problems


@dataclass
class Seed:
    name: str
    data: bytes = field(repr=False)


def seeds(repo: Path, vectors: Path | None = None, max_bytes: int = 200_000) -> list[Seed]:
    """The project's fixtures, and the shared vectors up to *max_bytes* (small ones keep each
    case fast)."""
    out = [Seed(p.name, p.read_bytes()) for p in sorted((repo / "fixtures").glob("*"))
           if p.suffix in (".h264", ".mp4")]
    if vectors is not None and vectors.is_dir():
        for p in sorted(vectors.glob("*/*")):
            if p.suffix.lower() in (".264", ".jsv", ".h264", ".26l", ".jvt", ".avc") and p.stat().st_size <= max_bytes:
                out.append(Seed(f"{p.parent.name}/{p.name}", p.read_bytes()))
    return out
