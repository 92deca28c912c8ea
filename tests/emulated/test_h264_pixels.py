"""H.264 pixels of the emulated device.

Part 1 (``libavcodec``): FFmpeg's decoder driven through our ctypes binding captures every
picture in DECODE order right after its last slice was sent. Oracles: PyAV's own decode of the
same file (display order, the set of pictures must be identical) and the fluster conformance md5
of the whole display-order output built from OUR captured pixels.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from h264_vector_helpers import (VECTORS, annexb, conformance_vectors, crop_i420,
                                 expected_md5s, md5, pictures, pyav_display_frames)

pytest.importorskip("av")
from pyv4l2req.emulated.libavcodec import FFmpegError, FFmpegH264Decoder  # noqa: E402

needs_vectors = pytest.mark.skipif(
    not VECTORS.exists() and not os.environ.get("CI"), reason=f"no test vectors at {VECTORS}")


def _decode_order_capture(path):
    """Decode with our binding: (decode-order pictures by id, display-order I420 list)."""
    data = path.read_bytes()
    by_key, by_id, display = {}, {}, []
    with FFmpegH264Decoder(log_output=True, strict=True) as dec:
        def consume():
            for rec in dec.outputs:
                pic = by_key[rec.buffer_key]
                display.append((pic.pic_id, crop_i420(pic.y, pic.u, pic.v, rec.crop_left,
                                                      rec.crop_top, rec.width, rec.height)))
            dec.outputs.clear()

        for nals in pictures(data):
            pic = dec.decode(annexb(nals))
            by_key[pic.buffer_key] = pic
            by_id[pic.pic_id] = pic   # a second field replaces the first-field capture
            consume()
        dec.flush()
        consume()
    return by_id, display


@needs_vectors
@pytest.mark.parametrize("vector", conformance_vectors())
def test_decode_order_capture_matches_ffmpeg_and_fluster(vector):
    path = VECTORS / vector
    by_id, display = _decode_order_capture(path)
    # whole output in display order, from the pixels we captured in decode order
    assert md5(b"".join(d for _, d in display)) == expected_md5s()[vector]
    # every decoded picture is output exactly once, and vice versa
    assert sorted(pid for pid, _ in display) == sorted(by_id)
    # the same pictures as PyAV's display-order decode (content-identical multiset)
    ref = pyav_display_frames(path)
    assert md5(b"".join(ref)) == expected_md5s()[vector]
    crop = {pid: d for pid, d in display}
    assert Counter(md5(crop[pid]) for pid in by_id) == Counter(md5(f) for f in ref)


@needs_vectors
def test_field_pictures_second_field_completes_the_frame():
    # PAFF: the first-field capture holds one field, the second-field capture the whole frame
    data = (VECTORS / "JVT-FR-EXT/HCAFF1_HHI.264").read_bytes()
    with FFmpegH264Decoder() as dec:
        pics = [dec.decode(annexb(n)) for n in pictures(data)]
    pairs = [(a, b) for a, b in zip(pics, pics[1:]) if a.pic_id == b.pic_id]
    assert len(pairs) >= 3  # PAFF: several frames came as two field pictures
    first, second = pairs[0]
    assert (first.y[0::2] == second.y[0::2]).all()          # top field unchanged
    assert not (first.y[1::2] == second.y[1::2]).all()      # bottom field filled in


def test_garbage_packet_is_an_error():
    with FFmpegH264Decoder() as dec:
        with pytest.raises(FFmpegError):
            dec.decode(b"\x00\x00\x01\x65\x88\x84\x00\x10")  # IDR slice without SPS/PPS


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@needs_vectors
def test_no_leak_over_thousands_of_pictures():
    data = (VECTORS / "JVT-AVC_V1/LS_SVA_D.264").read_bytes()  # 1700 QCIF pictures
    packets = [annexb(n) for n in pictures(data)]

    def run():
        with FFmpegH264Decoder(log_output=False) as dec:
            for p in packets:
                dec.decode(p)
            dec.flush()

    run()
    before = _rss_kib()
    for _ in range(3):
        run()
    # 5100 pictures of 38 KiB each: a leaked picture per packet would add ~190 MiB
    assert _rss_kib() - before < 16 * 1024
