"""Every shared vector through the whole pipeline on the emulated device (``pyv4l2req.Decoder``
and ``decode_file``), as found by ``pyv4l2req.testing.vectors``.

- a vector whose pictures pyv4l2req decodes (``DECODABLE``) must give its oracle: fluster's md5
  of the whole I420 output (8-bit 4:2:0 fluster vectors), else the per-frame NV12 md5s of its
  ``.md5`` file, else FFmpeg's (PyAV) per-frame md5s of the same file; and as many frames as
  MANIFEST.tsv says when it says;
- any other vector is an expected refusal: ``UnsupportedStream`` naming its bit depth and
  chroma format, before a single request is queued, from both entry points.
"""

from __future__ import annotations

import hashlib
import os

import pytest

import pyv4l2req
from pyv4l2req.errors import UnsupportedStream
from pyv4l2req.testing.vectors import Vector, vectors, vectors_root

VECTORS = vectors()


def _missing_vectors() -> None:
    msg = f"no H.264 vectors under {vectors_root()}"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.mark.parametrize("vec", VECTORS or [None], ids=[v.id for v in VECTORS] or ["none"])
def test_vector_through_the_emulated_device(vec: Vector | None, oracle) -> None:
    if vec is None:
        _missing_vectors()
    if not vec.decodable:
        needs = f"{vec.needs.bit_depth}-bit {vec.needs.chroma}"
        got = []
        with pyv4l2req.Decoder(device="emulated") as dec:
            with pytest.raises(UnsupportedStream) as exc:
                for frame in dec.decode(vec.path):
                    got.append(frame)
            requests = dec.stats.requests
        assert needs in str(exc.value)
        assert got == [] and requests == 0
        with pytest.raises(UnsupportedStream, match=needs):
            list(pyv4l2req.decode_file(vec.path, device="emulated"))
        return
    frames = list(pyv4l2req.decode_file(vec.path, device="emulated"))
    assert not any(f.corrupt for f in frames)
    if vec.frames is not None:
        assert len(frames) == vec.frames
    if vec.expected_md5 and vec.output_format == "yuv420p":
        whole = hashlib.md5()
        for f in frames:
            whole.update(f.to_bytes("i420"))
        assert whole.hexdigest() == vec.expected_md5
    elif vec.frame_md5s:
        assert [f.md5("nv12") for f in frames] == list(vec.frame_md5s)
    else:  # no oracle of its own: FFmpeg's decode of the same file
        assert [hashlib.md5(f.to_bytes("i420")).hexdigest() for f in frames] == oracle(vec.path)
