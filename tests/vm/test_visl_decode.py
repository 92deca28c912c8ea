"""Our whole H.264 pipeline on the real kernel: every conformance vector through visl.

visl (the kernel's virtual stateless decoder) draws debug text instead of pixels, but it runs
the real V4L2 core: media requests, control validation of every SPS/PPS/scaling matrix/decode
params/slice params we send, vb2 queues, HOLD_CAPTURE_BUF and reference lookup by timestamp.
A vector passes when every picture was accepted (no errno from any ioctl, no request error)
and every frame came back, as many as FFmpeg's decoder outputs for the vector (when the
vectors' data gives that count). Vectors are found by ``pyv4l2req.testing.vectors``.
"""

from __future__ import annotations

import pytest

from pyv4l2req.testing.vectors import Vector, vectors


def _vectors() -> list[Vector]:
    """Every vector present (pyv4l2req.testing.vectors)."""
    return vectors()


VECTOR_LIST = _vectors()


@pytest.fixture(scope="module")
def visl_path() -> str:
    from pyv4l2req.v4l2 import discover

    infos = [i for i in discover() if i.driver == "visl"]
    assert infos, "visl not found through the media topology"
    return infos[0].video_path


#: Every vector is decoded to its end frame-based (about 4 minutes under TCG); slice-based mode
#: doubles the requests, so it runs on a selection covering fields, MBAFF, MMCOs, crop and
#: multi-slice pictures, up to SLICE_BASED_LIMIT frames each.
SLICE_BASED = {"BA1_Sony_D", "CVFC1_Sony_C", "HCAFF1_HHI_B", "HCAMFF1_HHI_B", "FRExt_MMCO4_Sony_B",
               "MR2_TANDBERG_E", "SVA_BA2_D", "CI1_FT_B", "test-25fps-interlaced.h264", "FRExt2_Panasonic_C"}
SLICE_BASED_LIMIT = 60


def _cases():
    for vec in VECTOR_LIST:
        yield pytest.param(vec, vec.frames, "frame", id=f"{vec.name}-frame")
        if vec.name in SLICE_BASED:
            yield pytest.param(vec, min(vec.frames or SLICE_BASED_LIMIT, SLICE_BASED_LIMIT), "slice",
                               id=f"{vec.name}-slice")


@pytest.mark.vm
@pytest.mark.parametrize("vec,frames,mode", list(_cases()))
def test_vector_decodes_on_visl(visl_path, vec, frames, mode):
    """*frames* frames of the vector (all of them frame-based) come back from visl, no error;
    a vector pyv4l2req cannot decode yet (pyv4l2req.testing.vectors.DECODABLE) is refused with
    UnsupportedStream naming its bit depth and chroma format, before any request."""
    from pyv4l2req import Decoder
    from pyv4l2req.errors import UnsupportedStream

    path = vec.path
    if not vec.decodable:
        with Decoder(device=visl_path, decode_mode=mode) as dec:
            with pytest.raises(UnsupportedStream) as exc:
                for _ in dec.decode(path):
                    pass
            requests = dec.stats.requests
        assert f"{vec.needs.bit_depth}-bit {vec.needs.chroma}" in str(exc.value)
        assert requests == 0
        return
    got = 0
    with Decoder(device=visl_path, decode_mode=mode) as dec:
        for frame in dec.decode(path):
            assert (frame.width, frame.height) != (0, 0)
            got += 1
            if frames is not None and got >= frames:
                break
        corrupt = dec.stats.corrupt
        requests = dec.stats.requests
    if frames is None:  # no reference count (no MANIFEST/.md5 entry): every request came back
        assert got > 0 and requests >= got
    else:
        assert got == frames
        assert requests >= frames
    assert corrupt == 0
