"""Damaged streams through the whole pipeline on the emulated device: at least as many frames
as FFmpeg gets out of the same file (PyAV, default error concealment), the frames before the
damage bit-exact with the clean stream's, the damaged ones flagged ``corrupt``, and what was
skipped counted and noted. ``tools/damaged.py`` is the wider sweep (docs/damaged.md)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pyv4l2req import Decoder
from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter
from pyv4l2req.codec.h264.nal import split_annexb
from pyv4l2req.errors import BitstreamError
from pyv4l2req.testing.fuzz import junk_with_start_codes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BFRAMES = FIXTURES / "main_bframes_176x144.h264"  # 24 pictures, IDR at 0 and 12
MULTISLICE = FIXTURES / "multislice_176x144.h264"

av = pytest.importorskip("av", reason="the emulated device's pixels and the reference need PyAV")


def ffmpeg_frames(path: Path) -> int:
    """Frames FFmpeg's decoder gets out of *path* with its default error concealment."""
    n = 0
    with av.open(str(path)) as c:
        for packet in c.demux(video=0):
            try:
                n += len(packet.decode())
            except av.error.InvalidDataError:
                continue
    return n


junk = junk_with_start_codes


def flips(data: bytes, pos: int, seed: int) -> bytes:
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(64):
        i = min(len(out) - 1, pos + rng.randrange(1024))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def without_second_idr(data: bytes) -> bytes:
    nals = [n.data for n in split_annexb(data)]
    i = [k for k, n in enumerate(nals) if n[0] & 0x1F == 5][1]
    return b"".join(b"\0\0\0\1" + n for n in nals[:i] + nals[i + 1:])


def undamaged_prefix(data: bytes, pos: int, clean_frames) -> int:
    """How many frames (display order) of the clean stream come from pictures whose access
    units lie wholly before byte *pos*."""
    sp = AccessUnitSplitter()
    before = len(sp.feed(data[:pos]))  # (completed access units: their NAL units all ended)
    k = 0
    for f in clean_frames:  # timestamps count access units in decoding order
        if f.timestamp_ns // 1000 > before:
            break
        k += 1
    return k


def decode(data: bytes, **kwargs):
    with Decoder(device="emulated", **kwargs) as dec:
        frames = list(dec.decode(data))
    return dec, frames


DAMAGED = {
    "junk-30": (BFRAMES, lambda d: d[:len(d) * 3 // 10] + junk(3) + d[len(d) * 3 // 10:], 0.3),
    "junk-70": (BFRAMES, lambda d: d[:len(d) * 7 // 10] + junk(7) + d[len(d) * 7 // 10:], 0.7),
    "junk-multislice-50": (MULTISLICE, lambda d: d[:len(d) // 2] + junk(5) + d[len(d) // 2:], 0.5),
    "flips-50": (BFRAMES, lambda d: flips(d, len(d) // 2, 1), 0.5),
    "no-second-idr": (BFRAMES, without_second_idr, None),
}


@pytest.mark.parametrize("mode", ["frame", "slice"])
@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_stream_at_least_ffmpeg_frames_and_exact_before_the_damage(case, mode, tmp_path):
    clip, damage, where = DAMAGED[case]
    data = clip.read_bytes()
    bad = damage(data)
    path = tmp_path / "bad.h264"
    path.write_bytes(bad)
    _, clean = decode(data, decode_mode=mode)
    dec, frames = decode(bad, decode_mode=mode)  # raises nothing
    assert len(frames) >= ffmpeg_frames(path), case
    assert dec.stats.frames == len(frames) and [f.index for f in frames] == list(range(len(frames)))
    if where is not None:
        k = undamaged_prefix(data, int(len(data) * where), clean)
        assert k > 0
        assert [f.md5() for f in frames[:k]] == [f.md5() for f in clean[:k]]
        assert not any(f.corrupt for f in frames[:k])
    assert dec.stats.corrupt == sum(f.corrupt for f in frames)
    assert dec.stats.damaged <= dec.stats.corrupt  # a damaged picture is a corrupt frame


def test_dropped_idr_marks_the_pictures_until_the_next_one_corrupt():
    data = BFRAMES.read_bytes()
    dec, frames = decode(without_second_idr(data))
    _, clean = decode(data)
    assert len(frames) == 23 and dec.stats.damaged == 1
    # the first GOP is intact; the second one refers to the lost IDR picture: all corrupt
    assert [f.md5() for f in frames[:12]] == [f.md5() for f in clean[:12]]
    assert [f.corrupt for f in frames] == [False] * 12 + [True] * 11


def test_junk_is_counted_noted_and_flagged():
    data = BFRAMES.read_bytes()
    pos = len(data) // 5  # in the first GOP
    dec, frames = decode(data[:pos] + junk(1) + data[pos:])
    assert len(frames) == 24
    assert dec.stats.nal_units_skipped == len(dec.damage) > 0
    assert all("NAL unit" in str(n) and n.message for n in dec.damage)
    assert dec.stats.damaged >= 1 and dec.stats.corrupt >= dec.stats.damaged
    # the corrupt frames are the damaged pictures and those decoded from them, up to the IDR
    # picture that ends the damage: the second GOP is clean, and bit-exact
    _, clean = decode(data)
    assert [f.corrupt for f in frames[12:]] == [False] * 12
    assert [f.md5() for f in frames[12:]] == [f.md5() for f in clean[12:]]


def test_nothing_decodable_stays_fatal():
    with Decoder(device="emulated") as dec:
        with pytest.raises(BitstreamError, match="no decodable H.264 picture"):
            list(dec.decode(junk(9, 8192)))
    assert dec.stats.nal_units_skipped > 0


def test_a_first_field_whose_second_field_is_lost_is_output(tmp_path):
    """A field-coded stream cut after a first field: the device holds that field's CAPTURE
    buffer for the second one; the decoder gets it back (V4L2_DEC_CMD_FLUSH) and outputs the
    lone field instead of failing."""
    from pyv4l2req.testing.vectors import require_vector

    data = require_vector("JVT-FR-EXT/FRExt4_Panasonic.avc").read_bytes()
    sp = AccessUnitSplitter()
    aus = sp.feed(data) + sp.flush()
    def first_field(i: int) -> bool:  # followed by the other field of its frame
        a, b = aus[i].slices[0].header, aus[i + 1].slices[0].header
        return bool(a.field_pic_flag and b.field_pic_flag and a.frame_num == b.frame_num
                    and a.bottom_field_flag != b.bottom_field_flag)

    first = next(i for i in range(4, len(aus) - 1) if first_field(i))
    last_nal = aus[first].nals[-1].data
    cut = data.find(last_nal) + len(last_nal)
    path = tmp_path / "cut.avc"
    path.write_bytes(data[:cut])
    dec, frames = decode(data[:cut])
    assert dec.stats.pictures == first + 1
    assert len(frames) >= ffmpeg_frames(path)
    assert len(frames) == dec.stats.frames
