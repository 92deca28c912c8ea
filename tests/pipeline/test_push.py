"""The push API of Decoder: feed() takes its input at once, frames are pulled, nothing is lost.

Every check compares the frames (md5 of the cropped picture, display order) with a plain
``decode()`` of the same fixture, which tests/pipeline/test_decoder.py checks against FFmpeg.
"""

from __future__ import annotations

import errno
import itertools
from pathlib import Path

import pytest

from pyv4l2req import Decoder
from pyv4l2req.emulated import EmulatedBackend
from pyv4l2req.errors import BitstreamError, DecodeError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CLIP = FIXTURES / "main_bframes_176x144.h264"  # 24 frames, B-frames: output lags decoding


def md5s(frames) -> list[str]:
    return [f.md5() for f in frames]


@pytest.fixture(scope="module")
def reference() -> list[str]:
    with Decoder(device="emulated") as dec:
        out = md5s(dec.decode(CLIP))
    assert len(out) == 24
    return out


def test_feed_with_its_result_ignored_then_flush_gives_every_frame(reference):
    with Decoder(device="emulated") as dec:
        dec.feed(CLIP.read_bytes())  # not iterated
        assert dec.ready > 0  # decoded already, not when iterated
        assert md5s(dec.flush()) == reference
        assert dec.stats.frames == 24 and dec.ready == 0


def test_flush_with_its_result_ignored_keeps_the_frames_for_frames(reference):
    with Decoder(device="emulated", max_ready=3) as dec:
        dec.feed(CLIP.read_bytes())
        dec.flush()  # not iterated either
        assert dec.ready == 3  # the end of the stream outputs many pictures at once: 3 made
        assert md5s(dec.frames()) == reference
        assert list(dec.frames()) == []


def test_breaking_out_early_loses_no_frame(reference):
    data = CLIP.read_bytes()
    got = []
    with Decoder(device="emulated", max_ready=4) as dec:
        for frame in dec.feed(data[:9000]):
            got.append(frame.md5())
            break
        got += md5s(itertools.islice(dec.frames(), 2))  # a second pull stops early too
        for frame in dec.feed(data[9000:]):  # the frames left from before come first
            got.append(frame.md5())
            if len(got) == 10:
                break
        got += md5s(dec.flush())
    assert got == reference


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_feeding_small_pieces_gives_the_same_frames(piece, reference):
    data = CLIP.read_bytes()
    got = []
    with Decoder(device="emulated", max_ready=2) as dec:
        for i in range(0, len(data), piece):
            dec.feed(data[i:i + piece])
            if i % (piece * 3) == 0:  # pull only now and then
                got += md5s(dec.frames())
        got += md5s(dec.flush())
    assert got == reference


def test_an_unpulled_decoder_holds_at_most_max_ready_frames(reference):
    data = CLIP.read_bytes()
    with Decoder(device="emulated", max_ready=2) as dec:
        for i in range(0, len(data), 4096):
            dec.feed(data[i:i + 4096])
            assert len(dec._ready) <= 2 and dec.ready == len(dec._ready)
        assert dec.ready == 2
        assert dec.stats.frames == 2  # only two frames were made (copied out of the device)
        assert len(dec._backlog) > 10  # the rest waits undecoded
        decoded_before_pulling = dec.stats.pictures
        got = []
        for frame in dec.flush():
            assert len(dec._ready) <= 2
            got.append(frame.md5())
        assert decoded_before_pulling < 24 and dec.stats.pictures == 24
    assert got == reference


def test_max_ready_must_be_positive():
    with pytest.raises(ValueError, match="max_ready"):
        Decoder(device="emulated", max_ready=0)


def _in_display_order(got: list[str], reference: list[str]) -> bool:
    positions = [reference.index(m) for m in got]
    return positions == sorted(positions) and len(set(positions)) == len(positions)


@pytest.mark.parametrize("max_ready", [2, 64], ids=["error-while-pulling", "error-while-feeding"])
def test_fatal_error_hands_out_the_frames_before_it_then_raises_from_the_pull(max_ready, reference):
    backend = EmulatedBackend()
    backend.faults.fail("MEDIA_REQUEST_IOC_QUEUE", errno.EIO, nth=10)
    with Decoder(device="emulated", backend=backend, max_ready=max_ready) as dec:
        dec.feed(CLIP.read_bytes())  # does not raise: the error waits behind the frames
        got = []
        with pytest.raises(DecodeError, match="EIO") as first:
            for frame in dec.flush():
                got.append(frame.md5())
        assert len(got) >= 5 and _in_display_order(got, reference)
        assert dec.ready == 0
        # the decoder has stopped: more input is not taken, every pull raises the error again
        with pytest.raises(DecodeError) as again:
            list(dec.feed(CLIP.read_bytes()))
        assert again.value is first.value
        with pytest.raises(DecodeError):
            list(dec.frames())


def test_fatal_error_after_an_early_break_still_hands_out_the_rest_first(reference):
    backend = EmulatedBackend()
    backend.faults.fail("MEDIA_REQUEST_IOC_QUEUE", errno.EIO, nth=10)
    with Decoder(device="emulated", backend=backend, max_ready=3) as dec:
        dec.feed(CLIP.read_bytes())
        got = md5s(itertools.islice(dec.frames(), 1))
        with pytest.raises(DecodeError):
            for frame in dec.frames():
                got.append(frame.md5())
    assert len(got) >= 5 and _in_display_order(got, reference)


def test_a_malformed_nal_unit_is_skipped_and_noted(reference):
    bad_sps = b"\x00\x00\x01\x67\xff\xff\xff\xff"  # truncated SPS: the splitter skips it
    with Decoder(device="emulated", max_ready=2) as dec:
        dec.feed(CLIP.read_bytes())
        dec.feed(bad_sps)  # does not raise
        got = md5s(dec.flush())  # nor does the pull
    assert got == reference
    assert dec.stats.nal_units_skipped == 1 and dec.stats.corrupt == 0
    (note,) = dec.damage
    assert note.nal_unit_type == 7 and "SPS" in note.message


def test_not_h264_raises_from_the_pull_not_from_feed():
    with Decoder(device="emulated") as dec:
        dec.feed(b"\x00\x00\x00\x01\x09\xf0" * 4)
        with pytest.raises(BitstreamError, match="no decodable H.264 picture"):
            list(dec.flush())


def test_a_stream_fed_after_flush_starts_afresh(reference):
    other = FIXTURES / "small_128x96.h264"
    with Decoder(device="emulated") as dec:
        expected_other = md5s(dec.decode(other))
    with Decoder(device="emulated", max_ready=2) as dec:
        dec.feed(CLIP.read_bytes())
        dec.flush()  # neither result iterated: the two streams queue up in order
        dec.feed(other.read_bytes())
        got = md5s(dec.flush())
        assert dec.stats.reconfigurations == 1
    assert got == reference + expected_other
