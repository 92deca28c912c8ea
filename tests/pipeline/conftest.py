"""Oracles for the pipeline tests: FFmpeg (PyAV) decodes of the same files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pyv4l2req.testing.vectors import vectors_root

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
VECTORS = vectors_root()  # $PYV4L2REQ_VECTORS or ../shared/vectors (pyv4l2req.testing.vectors)


def ffmpeg_frame_md5s(path: Path | str) -> list[str]:
    """Per-frame md5 of the cropped I420 picture, display order, by FFmpeg's software decoder
    (threads off and exact crop, the settings that reproduce the conformance md5s)."""
    av = pytest.importorskip("av")
    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "NONE"
        s.codec_context.flags |= av.codec.context.Flags.unaligned
        for f in c.decode(s):
            out.append(hashlib.md5(f.to_ndarray(format="yuv420p").tobytes()).hexdigest())
    return out


@pytest.fixture(scope="session")
def oracle():
    cache: dict[str, list[str]] = {}

    def get(path: Path | str) -> list[str]:
        key = os.fspath(path)
        if key not in cache:
            cache[key] = ffmpeg_frame_md5s(path)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def vectors() -> Path:
    if not VECTORS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{VECTORS} is missing (the shared conformance vectors)")
        pytest.skip(f"{VECTORS} is missing (the shared conformance vectors)")
    return VECTORS
