"""The shared test vectors: what there is, what each one is checked against, what it needs.

One place for every test and tool that iterates over ``../shared/vectors`` (never copied into
the project). Sources, read in place:

- ``MANIFEST.tsv``: one row per file (path, fluster name, expected md5, output format, the
  frame count in the ``verification`` column);
- ``fluster/*.json`` and ``fluster/*.tsv``: the fluster suites (name, input file, output
  format, md5 of the whole decoded output); they fill in what a MANIFEST row leaves empty and
  are cross-checked against it (:attr:`Vector.conflicts`);
- ``<file>.md5`` beside a clip: per-frame NV12 md5s (cros-codecs);
- the bitstream itself: its first SPS, parsed with :mod:`pyv4l2req.codec.h264.sps`.

What a vector *needs* (bit depth and chroma format) is known twice: from the fluster output
format (``yuv420p``, ``yuv420p10le``, ``yuv422p10le``, ``gray``, ``gbrp14le``, ...: the
reference decoder's output) and from the SPS (``BitDepthY``/``BitDepthC``,
``chroma_format_idc``: what the decoder under test sees). The SPS is trusted (it is what
pyv4l2req decides from); the output format is the fallback when the file cannot be parsed and
the cross-check otherwise (``tests/test_vectors.py`` asserts that both agree for every vector).

Whether pyv4l2req can decode a vector is decided by :data:`DECODABLE` alone: when the project
learns 10-bit 4:2:0 (pipeline and emulated device), adding ``PictureFormat(10, "4:2:0")``
there turns the expected refusals of those vectors into normal, md5-checked decodes.

The vectors directory is ``$PYV4L2REQ_VECTORS`` if set, else ``<repo>/../shared/vectors``.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO.parent / "shared" / "vectors"
ENV = "PYV4L2REQ_VECTORS"
H264_SUFFIXES = (".264", ".jsv", ".h264", ".avc", ".26l", ".jvt", ".bits")

CHROMA_NAMES = {0: "4:0:0", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}


@dataclass(frozen=True, order=True)
class PictureFormat:
    """Bit depth (luma; chroma when it differs) and chroma format ("4:2:0", ...) of pictures."""

    bit_depth: int
    chroma: str
    bit_depth_chroma: int | None = None   # None: same as bit_depth

    def __str__(self) -> str:
        c = "" if self.bit_depth_chroma in (None, self.bit_depth) else f"/{self.bit_depth_chroma}"
        return f"{self.bit_depth}{c}-bit {self.chroma}"

    def same_as(self, other: "PictureFormat") -> bool:
        return (self.bit_depth, self.chroma) == (other.bit_depth, other.chroma) and \
            (self.bit_depth_chroma or self.bit_depth) == (other.bit_depth_chroma or other.bit_depth)


#: The picture formats pyv4l2req decodes (through its pipeline, on the emulated device and on
#: visl). Every other vector is an expected refusal (``UnsupportedStream`` naming bit depth and
#: chroma format). The one place to change when the project learns more.
DECODABLE: frozenset[PictureFormat] = frozenset({PictureFormat(8, "4:2:0")})

_YUV = re.compile(r"^(?:yuv|yuvj)(420|422|444|440|411|410)p(\d+)?(le|be)?$")
_OTHER = re.compile(r"^(gray|gbrp|gbr|rgb|bgr|nv12|nv21|nv16|nv24|p010|p016|p210|p410)(\d+)?(le|be)?$")


def format_from_pix_fmt(pix_fmt: str | None) -> PictureFormat | None:
    """An FFmpeg/fluster output format -> PictureFormat; None when unknown."""
    if not pix_fmt:
        return None
    s = pix_fmt.strip().lower()
    m = _YUV.match(s)
    if m:
        sub = m.group(1)
        return PictureFormat(int(m.group(2) or 8), f"{sub[0]}:{sub[1]}:{sub[2]}")
    m = _OTHER.match(s)
    if not m:
        return None
    kind, depth = m.group(1), m.group(2)
    if kind == "gray":
        return PictureFormat(int(depth or 8), "4:0:0")
    if kind in ("gbrp", "gbr", "rgb", "bgr"):
        return PictureFormat(int(depth or 8), "4:4:4")
    if kind in ("nv12", "nv21"):
        return PictureFormat(8, "4:2:0")
    if kind == "nv16":
        return PictureFormat(8, "4:2:2")
    if kind == "nv24":
        return PictureFormat(8, "4:4:4")
    # p010/p016 (4:2:0), p210 (4:2:2), p410 (4:4:4): the digits are the bit depth
    chroma = {"p01": "4:2:0", "p21": "4:2:2", "p41": "4:4:4"}[kind[:3]]
    return PictureFormat(10 if kind.endswith("10") else 16, chroma)


def format_from_sps(path: Path, limit: int = 1 << 20) -> PictureFormat | None:
    """The picture format of the first SPS of an Annex B stream; None when there is none in
    the first ``limit`` bytes, the file is not Annex B (MP4) or cannot be read/parsed."""
    from pyv4l2req.codec.h264.nal import NalUnit, iter_annexb_spans
    from pyv4l2req.codec.h264.sps import parse_sps

    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError:
        return None
    head = data[:64].lstrip(b"\x00")
    if not head.startswith(b"\x01") or len(data) - len(data.lstrip(b"\x00")) < 2:
        return None   # not an Annex B byte stream (MP4, ...): start codes there would be chance
    for s, e in iter_annexb_spans(data):
        if data[s] & 0x1F != 7:
            continue
        try:
            sps = parse_sps(NalUnit.from_bytes(data[s:e]).rbsp)
        except Exception:  # noqa: BLE001 - hostile data: unknown, not a crash of the discovery
            return None
        depth_c = sps.BitDepthC if sps.chroma_format_idc else None
        return PictureFormat(sps.BitDepthY, CHROMA_NAMES.get(sps.chroma_format_idc, "?"),
                             None if depth_c in (None, sps.BitDepthY) else depth_c)
    return None


@dataclass(frozen=True)
class Vector:
    """One test vector of the shared directory."""

    id: str                         # path relative to the vectors root ("JVT-AVC_V1/BA1_FT_C.264")
    path: Path
    name: str                       # fluster name, else the file name
    suite: str                      # "JVT-AVC_V1", ..., "cros-codecs" for other/cros-codecs
    expected_md5: str | None        # md5 of the whole output in output_format (fluster), or None
    output_format: str | None       # fluster/MANIFEST output format ("yuv420p10le", "nv12"), or None
    frame_md5s: tuple[str, ...] | None = None   # per-frame NV12 md5s (<file>.md5), or None
    frames: int | None = None       # frames FFmpeg outputs (MANIFEST / .md5 line count), or None
    conflicts: tuple[str, ...] = field(default=(), compare=False)  # MANIFEST vs fluster

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    @property
    def format_from_output(self) -> PictureFormat | None:
        return format_from_pix_fmt(self.output_format)

    @functools.cached_property
    def format_from_sps(self) -> PictureFormat | None:
        return format_from_sps(self.path)

    @property
    def needs(self) -> PictureFormat | None:
        """What decoding it needs: the SPS's picture format (trusted), else the output format's."""
        return self.format_from_sps or self.format_from_output

    @property
    def decodable(self) -> bool:
        """True when pyv4l2req is expected to decode it (:data:`DECODABLE`); False: an expected
        refusal. A vector whose format is unknown is tried (and then fails loudly)."""
        needs = self.needs
        return needs is None or any(needs.same_as(f) for f in DECODABLE)

    def __str__(self) -> str:
        return self.id


def vectors_root() -> Path:
    """``$PYV4L2REQ_VECTORS`` if set, else ``<repo>/../shared/vectors``."""
    env = os.environ.get(ENV)
    return Path(env).expanduser().resolve() if env else DEFAULT_ROOT


def _md5(text: str | None) -> str | None:
    t = (text or "").strip().lower()
    return t if re.fullmatch(r"[0-9a-f]{32}", t) else None


def fluster_entries(root: Path) -> dict[str, dict]:
    """fluster name -> {"input_file", "output_format", "md5", "suite"} from fluster/*.json|tsv."""
    out: dict[str, dict] = {}
    d = root / "fluster"
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.json")):
        try:
            suite = json.loads(p.read_text())
            tvs = suite.get("test_vectors", [])
        except (OSError, ValueError, AttributeError):
            continue
        for tv in tvs if isinstance(tvs, list) else []:
            if isinstance(tv, dict) and tv.get("name"):
                out[tv["name"]] = {"input_file": tv.get("input_file"), "suite": p.stem,
                                   "output_format": tv.get("output_format"),
                                   "md5": _md5(tv.get("result"))}
    for p in sorted(d.glob("*.tsv")):  # extracts: fill only what the JSON did not give
        try:
            with open(p, newline="") as f:
                rows = list(csv.DictReader(f, delimiter="\t"))
        except OSError:
            continue
        for row in rows:
            name = row.get("name")
            if not name:
                continue
            e = out.setdefault(name, {"input_file": row.get("input_file"), "suite": p.stem,
                                      "output_format": None, "md5": None})
            e["output_format"] = e["output_format"] or row.get("output_format")
            e["md5"] = e["md5"] or _md5(row.get("result_md5") or row.get("result"))
    return out


def _frame_md5s(path: Path) -> tuple[str, ...] | None:
    f = path.with_name(path.name + ".md5")
    try:
        lines = f.read_text().split()
    except OSError:
        return None
    sums = tuple(s.lower() for s in lines if _md5(s))
    return sums or None


def load_vectors(root: Path | None = None) -> list[Vector]:
    """Every vector of MANIFEST.tsv (present on disk or not: see :attr:`Vector.exists`), then
    every H.264 file of the directory that MANIFEST does not list; sorted by id. Missing or
    malformed sources give fewer vectors, never an exception."""
    root = vectors_root() if root is None else Path(root)
    fl = fluster_entries(root)
    by_input = {}
    for name, e in fl.items():
        if e.get("input_file"):
            by_input.setdefault(Path(e["input_file"]).name, []).append(name)
    out: dict[str, Vector] = {}
    rows: list[dict] = []
    try:
        with open(root / "MANIFEST.tsv", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except (OSError, csv.Error):
        rows = []
    for row in rows:
        rel = (row.get("file") or "").strip()
        if not rel or rel in out:
            continue
        out[rel] = _vector(root, rel, row, fl, by_input)
    if root.is_dir():
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() in H264_SUFFIXES and p.is_file() and "fluster" not in p.parts:
                rel = p.relative_to(root).as_posix()
                if rel not in out:
                    out[rel] = _vector(root, rel, {}, fl, by_input)
    return sorted(out.values(), key=lambda v: v.id)


def _vector(root: Path, rel: str, row: dict, fl: dict, by_input: dict) -> Vector:
    path = root / rel
    suite = "cros-codecs" if rel.startswith("other/cros-codecs/") else rel.split("/")[0]
    name = (row.get("fluster_name") or "").strip()
    if not name and len(by_input.get(path.name, [])) == 1:
        name = by_input[path.name][0]
    e = fl.get(name, {}) if name else {}
    m_md5, f_md5 = _md5(row.get("fluster_expected_md5")), e.get("md5")
    m_fmt, f_fmt = (row.get("fluster_output_format") or "").strip() or None, e.get("output_format")
    conflicts = []
    if m_md5 and f_md5 and m_md5 != f_md5:
        conflicts.append(f"md5: MANIFEST {m_md5} != fluster {f_md5}")
    if m_fmt and f_fmt and m_fmt != f_fmt:
        conflicts.append(f"output format: MANIFEST {m_fmt} != fluster {f_fmt}")
    frame_md5s = _frame_md5s(path)
    m = re.search(r"\((\d+) frames", row.get("verification") or "")
    frames = int(m.group(1)) if m else (len(frame_md5s) if frame_md5s else None)
    return Vector(id=rel, path=path, name=name or path.name, suite=suite,
                  expected_md5=m_md5 or f_md5, output_format=m_fmt or f_fmt,
                  frame_md5s=frame_md5s, frames=frames, conflicts=tuple(conflicts))


@functools.cache
def _cached(root: str) -> tuple[Vector, ...]:
    return tuple(load_vectors(Path(root)))


def vectors(root: Path | None = None) -> list[Vector]:
    """:func:`load_vectors` of the root, cached per process; only the files present on disk."""
    return [v for v in _cached(str(vectors_root() if root is None else root)) if v.exists]


def all_listed(root: Path | None = None) -> list[Vector]:
    """Like :func:`vectors`, with the MANIFEST rows whose file is missing."""
    return list(_cached(str(vectors_root() if root is None else root)))


def by_id(vid: str, root: Path | None = None) -> Vector:
    for v in all_listed(root):
        if v.id == vid:
            return v
    raise KeyError(f"no vector {vid!r} under {vectors_root() if root is None else root}")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_vector(vid: str, root: Path | None = None) -> Path:
    """The path of the vector *vid* (relative to the root) for a test that needs that very
    stream (a feature it has: PAFF, MBAFF, ...); skips the test with the reason when it is not
    there, fails it in CI."""
    import pytest

    base = vectors_root() if root is None else Path(root)
    path = base / vid
    if not path.is_file():
        msg = f"test vector {vid} is not under {base}"
        if in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    return path
