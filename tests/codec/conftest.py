"""Shared helpers for the codec-layer tests: the H.264 test vectors and FFmpeg's
``trace_headers`` bitstream filter as the syntax oracle.

Vectors are read from ``<repo>/../shared/vectors`` (never copied). FFmpeg traces are produced
in a temporary directory per test session and never stored in the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pyv4l2req.testing.vectors import vectors as discovered_vectors
from pyv4l2req.testing.vectors import vectors_root

REPO = Path(__file__).resolve().parents[2]
VECTORS = vectors_root()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def h264_vector_paths() -> list[Path]:
    """Every H.264 vector present (pyv4l2req.testing.vectors; sorted), whatever its picture
    format: the codec layer parses 10-bit and 4:2:2 streams too."""
    return [v.path for v in discovered_vectors()]


def vector_id(p: Path) -> str:
    return p.relative_to(VECTORS).as_posix()


def manifest_frame_counts() -> dict[str, int]:
    """Decoded frame count of each vector: MANIFEST.tsv '(N frames', else the .md5 line count."""
    return {v.id: v.frames for v in discovered_vectors() if v.frames is not None}


def require_vectors() -> None:
    if not h264_vector_paths():
        if in_ci():
            pytest.fail(f"no H.264 vectors under {VECTORS}")
        pytest.skip(f"no H.264 vectors under {VECTORS}")


def require_ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        if in_ci():
            pytest.fail("ffmpeg is required in CI (FFmpeg trace_headers is the syntax oracle)")
        pytest.skip("ffmpeg not installed (needed for the trace_headers oracle)")
    return exe


_TRACE_LINE = re.compile(r"\] (\d+)\s+(\S+)\s+([01]+) = (-?\d+)\s*$")


def parse_ffmpeg_trace(text: str) -> list[list[tuple[int, str, int, int]]]:
    """FFmpeg trace_headers output -> one list of ``(bit position, name, value, bit length)``
    per NAL unit of the packets (the 'Extradata' section before the first packet is skipped). Positions
    count from the first bit of the NAL unit header, on the unescaped NAL unit."""
    units: list[list[tuple[int, str, int, int]]] = []
    in_packets = False
    for line in text.splitlines():
        if "] Packet: " in line:
            in_packets = True
            continue
        if not in_packets:
            continue
        m = _TRACE_LINE.search(line)
        if not m:
            continue
        pos, name, value, nbits = int(m.group(1)), m.group(2), int(m.group(4)), len(m.group(3))
        if pos == 0 and name == "forbidden_zero_bit":
            units.append([])
        if units:
            units[-1].append((pos, name, value, nbits))
    return units


_trace_cache: dict[tuple[str, int | None], list[list[tuple[int, str, int, int]]]] = {}


def ffmpeg_trace(path: Path, max_packets: int | None = None) -> list[list[tuple[int, str, int, int]]]:
    """Run ``ffmpeg -c:v copy -bsf:v trace_headers`` on ``path`` (cached per session)."""
    key = (str(path), max_packets)
    if key not in _trace_cache:
        exe = require_ffmpeg()
        cmd = [exe, "-hide_banner", "-nostats", "-nostdin", "-f", "h264", "-i", str(path), "-c:v", "copy"]
        if max_packets is not None:
            cmd += ["-frames:v", str(max_packets)]
        cmd += ["-bsf:v", "trace_headers", "-f", "h264", "-y", os.devnull]
        res = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300)
        assert res.returncode == 0, f"ffmpeg failed on {path}: {res.stderr[-2000:]}"
        _trace_cache[key] = parse_ffmpeg_trace(res.stderr)
    return _trace_cache[key]


#: x264 streams covering what the conformance vectors lack: High 10 / 4:2:2 / 4:4:4 (incl.
#: lossless transform bypass), monochrome, custom and default scaling matrices (with the
#: "fall back to the previous list" signalling), HRD in the VUI, weighted prediction with
#: several references and B-pyramid (MMCO), MBAFF, cropping, level 1b.
X264_CONFIGS = {
    "high10": ["-pix_fmt", "yuv420p10le", "-x264-params", "bframes=2:weightp=2:ref=3"],
    "high422": ["-pix_fmt", "yuv422p10le", "-x264-params", "bframes=2:weightb=1"],
    "high444_lossless": ["-pix_fmt", "yuv444p", "-qp", "0"],
    "high444_8x8": ["-pix_fmt", "yuv444p", "-x264-params", "8x8dct=1:cqm=jvt"],
    "monochrome": ["-pix_fmt", "gray", "-x264-params", "weightp=2:bframes=1"],
    "cqm_custom": ["-x264-params",
                   "cqm4iy=" + ",".join(["7"] * 16) + ":cqm4ic=" + ",".join(["7"] * 16)
                   + ":cqm4py=" + ",".join(["9"] * 16) + ":cqm8i=" + ",".join(str(6 + i % 9) for i in range(64))],
    "cqm_jvt": ["-x264-params", "cqm=jvt"],
    "hrd_vui": ["-x264-params", "nal-hrd=vbr:vbv-maxrate=300:vbv-bufsize=600:bframes=3:b-pyramid=normal:ref=4",
                "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-aspect", "16:9"],
    "mbaff_cavlc_slices": ["-flags", "+ildct", "-x264-params", "interlaced=1:tff=1:cabac=0:slices=3:bframes=2"],
    "crop_odd_size": ["-vf", "scale=70:46", "-x264-params", "bframes=2:weightp=1"],
    "level1b_baseline": ["-profile:v", "baseline", "-level", "1b", "-x264-params", "slices=2"],
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "x264_stream" in metafunc.fixturenames:
        metafunc.parametrize("x264_stream", sorted(X264_CONFIGS), indirect=True)
    if "h264_vector" in metafunc.fixturenames:
        paths = h264_vector_paths()
        metafunc.parametrize("h264_vector", paths or [None], ids=[vector_id(p) for p in paths] or ["none"])


@pytest.fixture
def vector_data(h264_vector: Path | None) -> bytes:
    """The bytes of the parametrised vector (skips/fails when the vectors are missing)."""
    if h264_vector is None:
        require_vectors()
    return h264_vector.read_bytes()


_x264_cache: dict[str, Path] = {}


def make_x264_stream(name: str, directory: Path) -> Path:
    """Encode the X264_CONFIGS entry ``name`` (96x64, 12 frames) into ``directory`` (cached)."""
    if name not in _x264_cache:
        exe = require_ffmpeg()
        out = directory / f"{name}.h264"
        cmd = [exe, "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25",
               "-frames:v", "12", "-c:v", "libx264", *X264_CONFIGS[name], str(out)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, f"{cmd}: {res.stderr}"
        _x264_cache[name] = out
    return _x264_cache[name]


@pytest.fixture
def x264_stream(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Annex B stream made by FFmpeg's libx264 with the X264_CONFIGS entry of the parameter
    (made once per session in a temporary directory)."""
    return make_x264_stream(request.param, tmp_path_factory.getbasetemp())


class BitWriter:
    """Test-side writer of u(n)/ue(v)/se(v) (the inverse of the reader under test)."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, v: int) -> "BitWriter":
        assert 0 <= v < (1 << n) or n == 0
        self.bits += [(v >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def ue(self, v: int) -> "BitWriter":
        code = v + 1
        n = code.bit_length()
        return self.u(n - 1, 0).u(n, code)

    def se(self, v: int) -> "BitWriter":
        return self.ue(2 * v - 1 if v > 0 else -2 * v)

    def trailing(self) -> "BitWriter":
        self.u(1, 1)
        while len(self.bits) % 8:
            self.u(1, 0)
        return self

    def bytes(self) -> bytes:
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


class _Oracle:
    """Helpers handed to tests through the ``h264_oracle`` fixture."""

    vectors = VECTORS
    h264_vector_paths = staticmethod(h264_vector_paths)
    vector_id = staticmethod(vector_id)
    manifest_frame_counts = staticmethod(manifest_frame_counts)
    ffmpeg_trace = staticmethod(ffmpeg_trace)
    require_ffmpeg = staticmethod(require_ffmpeg)
    in_ci = staticmethod(in_ci)
    BitWriter = BitWriter
    X264_CONFIGS = X264_CONFIGS
    make_x264_stream = staticmethod(make_x264_stream)


@pytest.fixture(scope="session")
def h264_oracle() -> _Oracle:
    """Vector paths, MANIFEST frame counts and the FFmpeg trace_headers runner."""
    return _Oracle()
