"""codec/fwht.py: FWHT frame header, stream splitting and v4l2_ctrl_fwht_params values.

Oracles: the kernel header (``struct v4l2_ctrl_fwht_params`` compiled with gcc) for the control
payload, ``pyv4l2req.uapi.fwht.fwht_cframe_hdr`` for the header layout; the streams come from
our encoder, which the VM test proves byte-identical to vicodec's encoder.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pyv4l2req.codec import fwht as F
from pyv4l2req.emulated.fwht_codec import FwhtEncoder, moving_pattern
from pyv4l2req.errors import BitstreamError, UnsupportedStream
from pyv4l2req.uapi import fwht as U

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def stream() -> list[bytes]:
    enc = FwhtEncoder(640, 368)
    return [enc.encode(f) for f in moving_pattern(6)]


def test_header_matches_uapi_struct(stream):
    for frame in stream:
        h = F.parse_header(frame)
        ref = U.unpack(U.fwht_cframe_hdr, frame[: U.FWHT_CFRAME_HDR_SIZE])
        assert ref["magic1"] == U.FWHT_MAGIC1 and ref["magic2"] == U.FWHT_MAGIC2
        for k in ("version", "width", "height", "flags", "colorspace", "xfer_func", "ycbcr_enc",
                  "quantization", "size"):
            assert getattr(h, k) == ref[k], k
        assert F.build_header(h) == frame[: F.FWHT_HEADER_SIZE]
        assert h.size == len(frame) - F.FWHT_HEADER_SIZE
        assert (h.components_num, h.pixenc, h.width_div, h.height_div) == (3, U.V4L2_FWHT_FL_PIXENC_YUV, 2, 2)


def test_bad_magic_and_short_header():
    good = F.build_header(F.FwhtHeader(3, 640, 368, 0, 0, 0, 0, 0, 0))
    with pytest.raises(BitstreamError, match="magic"):
        F.parse_header(b"\x00" + good[1:])
    with pytest.raises(BitstreamError, match="44 bytes"):
        F.parse_header(good[:20])


def test_split_whole_and_incremental(stream):
    data = b"".join(stream)
    frames = F.split_frames(data)
    assert [f.payload for f in frames] == [s[F.FWHT_HEADER_SIZE:] for s in stream]
    offsets = [0]
    for s in stream[:-1]:
        offsets.append(offsets[-1] + len(s))
    assert [f.offset for f in frames] == offsets
    sp = F.FwhtFrameSplitter()
    got = []
    step = 4093
    for i in range(0, len(data), step):
        got += sp.feed(data[i: i + step])
    got += sp.flush()
    assert [f.payload for f in got] == [f.payload for f in frames]
    assert sp.skipped == 0


def test_split_skips_garbage_and_rejects_truncation(stream):
    junk = b"\x00\x01garbage\x4f\x4f"
    sp = F.FwhtFrameSplitter()
    frames = sp.feed(junk + stream[0] + junk + stream[1])
    assert [f.header for f in frames] == [F.parse_header(stream[0]), F.parse_header(stream[1])]
    assert sp.skipped == 2 * len(junk)
    with pytest.raises(BitstreamError, match="truncated"):
        F.split_frames(stream[0] + stream[1][:-1])
    with pytest.raises(BitstreamError, match="truncated"):
        F.split_frames(stream[0][:30])


def test_decoder_state_references(stream):
    st = F.FwhtDecoderState()
    jobs = [st.decode_frame(f, (i + 1) * 1000) for i, f in enumerate(F.split_frames(b"".join(stream)))]
    kinds = [j.is_i_frame for j in jobs]
    assert kinds[0] and not kinds[1]
    prev = None
    for j, frame in zip(jobs, stream):
        h = F.parse_header(frame)
        assert j.params == F.params_from_header(h, j.params["backward_ref_ts"])
        assert j.payload == frame[F.FWHT_HEADER_SIZE:]
        if j.is_i_frame:
            assert j.reference_timestamps == () and j.params["backward_ref_ts"] == 0
        else:
            assert j.reference_timestamps == (prev,) and j.params["backward_ref_ts"] == prev
        prev = j.timestamp_ns


def test_decoder_state_errors(stream):
    frames = F.split_frames(b"".join(stream))
    with pytest.raises(BitstreamError, match="P-frame"):
        F.FwhtDecoderState().decode_frame(frames[1], 1000)
    h = frames[0].header
    old = F.FwhtFrame(F.FwhtHeader(2, h.width, h.height, h.flags, 0, 0, 0, 0, h.size), frames[0].payload)
    with pytest.raises(UnsupportedStream, match="version"):
        F.FwhtDecoderState().decode_frame(old, 1000)


def test_coded_size():
    assert F.coded_size(640, 360) == (640, 368)   # vic_round_dim: chroma height 180 -> 184
    assert F.coded_size(640, 368) == (640, 368)
    assert F.coded_size(1280, 720) == (1280, 720)
    assert F.coded_size(650, 362, 1, 1) == (656, 368)


def test_params_payload_matches_kernel_header(tmp_path):
    """pack_params lays fields out like the compiled ``struct v4l2_ctrl_fwht_params``."""
    gcc = shutil.which("gcc")
    if gcc is None:
        if IN_CI:
            pytest.fail("gcc is required in CI")
        pytest.skip("gcc not installed")
    src = tmp_path / "p.c"
    src.write_text(r"""
#include <stdio.h>
#include <linux/v4l2-controls.h>
int main(void) {
    struct v4l2_ctrl_fwht_params p = {0};
    unsigned char *b = (unsigned char *)&p;
    p.backward_ref_ts = 0x1122334455667788ULL; p.version = V4L2_FWHT_VERSION; p.width = 640;
    p.height = 368; p.flags = V4L2_FWHT_FL_I_FRAME | V4L2_FWHT_FL_PIXENC_YUV; p.colorspace = 3;
    p.xfer_func = 1; p.ycbcr_enc = 2; p.quantization = 4;
    for (unsigned i = 0; i < sizeof(p); i++) printf("%02x", b[i]);
    return 0;
}
""")
    exe = tmp_path / "p"
    subprocess.run([gcc, "-o", str(exe), str(src)], check=True)
    want = bytes.fromhex(subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout)
    got = F.pack_params({"backward_ref_ts": 0x1122334455667788, "version": F.V4L2_FWHT_VERSION,
                         "width": 640, "height": 368,
                         "flags": F.V4L2_FWHT_FL_I_FRAME | F.V4L2_FWHT_FL_PIXENC_YUV, "colorspace": 3,
                         "xfer_func": 1, "ycbcr_enc": 2, "quantization": 4})
    assert got == want
    assert F.unpack_params(want)["backward_ref_ts"] == 0x1122334455667788
