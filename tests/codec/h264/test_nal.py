"""NAL units and access units (codec/h264/nal.py).

Oracles: the spec's byte-by-byte emulation-prevention loop (7.3.1) for ebsp_to_rbsp, FFmpeg's
h264 parser (``ffprobe -count_packets``: one packet per access unit) and the decoded frame
counts of MANIFEST.tsv / the cros-codecs md5 files (field pictures: two AUs per frame) for the
access-unit splitter; the splitter must give the same AUs for any chunking of the stream.
"""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest

from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter
from pyv4l2req.codec.h264.nal import NalUnit, ebsp_to_rbsp, split_annexb
from pyv4l2req.errors import BitstreamError
from pyv4l2req.testing.vectors import require_vector


def _spec_unescape(ebsp: bytes) -> bytes:
    """7.3.1 nal_unit(): emulation_prevention_three_byte removal, one byte at a time."""
    out = bytearray()
    i = 0
    n = len(ebsp)
    while i < n:
        if i + 2 < n and ebsp[i] == 0 and ebsp[i + 1] == 0 and ebsp[i + 2] == 3:
            out += b"\x00\x00"
            i += 3
        else:
            out.append(ebsp[i])
            i += 1
    return bytes(out)


def test_ebsp_to_rbsp_matches_spec_loop() -> None:
    rng = random.Random(1)
    for _ in range(3000):
        # dense in 0x00/0x03 so that emulation patterns are frequent
        b = bytes(rng.choice((0, 0, 0, 3, 3, 1, 0x80, 0xFF)) for _ in range(rng.randrange(0, 40)))
        assert ebsp_to_rbsp(b) == _spec_unescape(b), b.hex()
    assert ebsp_to_rbsp(b"\x00\x00\x03\x00\x00\x03\x01") == b"\x00\x00\x00\x00\x01"
    assert ebsp_to_rbsp(b"\x00\x00\x03") == b"\x00\x00"  # cabac_zero_word at the end


def test_split_annexb_start_codes_and_zeros() -> None:
    stream = (
        b"\xff\xee"  # garbage before the first start code is ignored
        + b"\x00\x00\x00\x01\x67\x42\x00"  # 4-byte start code; SPS ends in 0x00? -> no: stripped below
        + b"\x1e\x00\x00\x00"  # trailing_zero_8bits
        + b"\x00\x00\x01\x68\xce\x38\x80"  # 3-byte start code
        + b"\x00\x00\x00\x00\x01\x65\x88\x00\x00\x03\x01\x80"  # many zeros before a start code
    )
    nals = split_annexb(stream)
    assert [n.nal_unit_type for n in nals] == [7, 8, 5]
    assert [n.nal_ref_idc for n in nals] == [3, 3, 3]
    assert nals[0].data == b"\x67\x42\x00\x1e"
    assert nals[1].data == b"\x68\xce\x38\x80"
    assert nals[2].data == b"\x65\x88\x00\x00\x03\x01\x80"  # data keeps emulation prevention
    assert nals[2].rbsp == b"\x88\x00\x00\x01\x80"  # rbsp: after the header, without it
    assert nals[2].header_bytes == 1


def test_nal_header_errors() -> None:
    with pytest.raises(BitstreamError, match="forbidden_zero_bit"):
        NalUnit.from_bytes(b"\xe5\x00")
    with pytest.raises(BitstreamError, match="empty"):
        NalUnit.from_bytes(b"")


def _au_signature(aus) -> list[tuple[bytes, ...]]:
    return [tuple(n.data for n in au.nals) for au in aus]


def _split(data: bytes, chunk_sizes) -> list:
    sp = AccessUnitSplitter()
    out = []
    p = 0
    for size in chunk_sizes:
        out += sp.feed(data[p:p + size])
        p += size
        if p >= len(data):
            break
    out += sp.feed(data[p:])
    out += sp.flush()
    return out


def test_random_chunkings_give_the_same_access_units(h264_vector: Path, vector_data: bytes) -> None:
    data = vector_data
    whole = _split(data, [len(data)])
    ref = _au_signature(whole)
    assert ref and all(au.slices for au in whole)
    rng = random.Random(hash(h264_vector.name) & 0xFFFF)
    # chunk boundaries anywhere: tiny chunks (inside start codes) and larger ones
    for max_chunk in (3, 17, 1000, 70000):
        if max_chunk <= 17 and len(data) > 200_000:
            data_part = data[:200_000]  # keep the run time modest on the long vectors
            expected = _au_signature(_split(data_part, [len(data_part)]))
        else:
            data_part, expected = data, ref
        sizes = [rng.randint(1, max_chunk) for _ in range(len(data_part) // max(1, max_chunk // 2) + 2)]
        assert _au_signature(_split(data_part, sizes)) == expected, f"chunks up to {max_chunk} bytes"
    # every NAL unit of the stream is in exactly one AU (none dropped, order kept)
    assert [n.data for au in whole for n in au.nals] == [n.data for n in split_annexb(data)]


def test_cuts_around_every_start_code_and_whole_access_units() -> None:
    """Chunks cut at every offset around each start code (inside 3- and 4-byte start codes,
    inside trailing zeros), and whole access units per call (the common case), give the
    access units of the whole-stream split."""
    data = (Path(__file__).resolve().parents[3] / "fixtures/multislice_176x144.h264").read_bytes()
    data = data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x01", 3)  # extra zero_bytes
    whole = _split(data, [len(data)])
    ref = _au_signature(whole)
    assert len(ref) > 2
    starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\x00\x00\x01"]
    for p in starts:
        for cut in range(max(1, p - 3), min(len(data), p + 5)):
            assert _au_signature(_split(data, [cut, len(data)])) == ref, cut
    # two cuts close together: a start code spread over three chunks
    for p in starts[:20]:
        for cut in range(max(1, p - 2), p + 3):
            assert _au_signature(_split(data, [cut, 1, len(data)])) == ref, cut
            assert _au_signature(_split(data, [cut, 2, 1, len(data)])) == ref, cut
    au_sizes = [sum(4 + len(n.data) for n in au.nals) for au in whole]
    au_bytes = b"".join(b"\x00\x00\x00\x01" + n.data for au in whole for n in au.nals)
    assert _au_signature(_split(au_bytes, au_sizes)) == ref


def test_byte_by_byte_feeding() -> None:
    data = require_vector("JVT-AVC_V1/SVA_BA2_D.264")
    b = data.read_bytes()
    assert _au_signature(_split(b, [1] * len(b))) == _au_signature(_split(b, [len(b)]))


def _frames_from_aus(aus) -> int:
    """Frames a decoder outputs: frame AUs, plus complementary field pairs counted once."""
    n = 0
    first_field = None
    for au in aus:
        sh = au.slices[0].header
        if not sh.field_pic_flag:
            n += 1
            first_field = None
        elif (
            first_field is not None
            and first_field.bottom_field_flag != sh.bottom_field_flag
            and first_field.frame_num == sh.frame_num
            and not sh.IdrPicFlag
        ):
            first_field = None  # second field of a pair
        else:
            n += 1
            first_field = sh
    return n


def test_access_units_match_ffmpeg_parser_and_frame_counts(h264_vector: Path, vector_data: bytes, h264_oracle) -> None:
    sp = AccessUnitSplitter()
    aus = sp.feed(vector_data) + sp.flush()
    assert sp.dropped_nal_units == 0
    frames = h264_oracle.manifest_frame_counts().get(h264_oracle.vector_id(h264_vector))
    if frames is not None:  # a vector without a count in MANIFEST.tsv/.md5: ffprobe below only
        assert _frames_from_aus(aus) == frames
    exe = h264_oracle.require_ffmpeg().replace("ffmpeg", "ffprobe")
    res = subprocess.run(
        [exe, "-v", "error", "-f", "h264", "-count_packets", "-show_entries", "stream=nb_read_packets",
         "-of", "csv=p=0", str(h264_vector)], capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert len(aus) == int(res.stdout.strip().splitlines()[0])
    for au in aus:
        # 7.4.1.2.3 order: no parameter set / SEI / AUD after the first slice of the AU
        types = au.nal_unit_types
        first_vcl = next(i for i, t in enumerate(types) if 1 <= t <= 5)
        assert not any(t in (6, 7, 8, 9) for t in types[first_vcl:]), types
        assert au.slices[0].header.first_mb_in_slice == 0 or au.slices[0].header.pps.num_slice_groups_minus1 > 0 \
            or au.slices[0].header.sps.profile_idc == 66


def test_slices_before_parameter_sets_are_dropped() -> None:
    p = require_vector("JVT-AVC_V1/MIDR_MW_D.264")
    nals = split_annexb(p.read_bytes())
    first_slice = next(i for i, n in enumerate(nals) if n.nal_unit_type in (1, 5))
    tail = b"".join(b"\x00\x00\x01" + n.data for n in nals[first_slice:])  # no SPS/PPS first
    sp = AccessUnitSplitter()
    assert sp.feed(tail) + sp.flush() == []
    assert sp.dropped_nal_units > 0


def test_malformed_slice_is_skipped_and_noted() -> None:
    p = require_vector("JVT-AVC_V1/SVA_BA2_D.264")
    nals = split_annexb(p.read_bytes())
    good = b"".join(b"\x00\x00\x01" + n.data for n in nals)
    ref = _au_signature(_split(good, [len(good)]))
    # a slice NAL with a truncated header after the 3rd access unit
    cut = [i for i, n in enumerate(nals) if n.nal_unit_type in (1, 5)][3]
    bad_nal = nals[cut].data[:2]
    bad = b"".join(b"\x00\x00\x01" + n.data for n in nals[:cut]) + b"\x00\x00\x01" + bad_nal \
        + b"".join(b"\x00\x00\x01" + n.data for n in nals[cut:])
    sp = AccessUnitSplitter()
    aus = sp.feed(bad) + sp.flush()  # does not raise
    assert _au_signature(aus) == ref  # every other NAL unit where it was
    assert sp.skipped_nal_units == 1
    (note,) = sp.damage
    assert note.nal_index == cut and note.nal_unit_type == bad_nal[0] & 0x1F
    assert re.search("slice header.*truncated", note.message), note.message
    assert str(note).startswith(f"NAL unit #{cut} (type {note.nal_unit_type}) skipped: ")
    # the access unit open when it was skipped may have lost it: marked damaged, no other
    assert [i for i, au in enumerate(aus) if au.damaged] == [
        next(i for i, au in enumerate(aus) if au.nals[-1] is not None
             and sum(len(a.nals) for a in aus[:i + 1]) >= cut)]


def test_corrupted_streams_are_skipped_and_noted_never_raised() -> None:
    """Random byte corruption of a High-profile stream with scaling matrices: the splitter
    skips what does not parse (a note per NAL unit skipped) and raises nothing."""
    p = require_vector("JVT-FR-EXT/FRExt1_Panasonic.avc")
    data = p.read_bytes()[:20000]
    rng = random.Random(3)
    skipped = 0
    for _ in range(300):
        b = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        sp = AccessUnitSplitter()
        aus = sp.feed(bytes(b)) + sp.flush()
        assert all(au.slices for au in aus)
        assert sp.damage.count == len(sp.damage) == sp.skipped_nal_units
        assert all(n.message for n in sp.damage)
        skipped += sp.skipped_nal_units
    assert skipped > 0


def test_a_malformed_sps_does_not_replace_the_good_one() -> None:
    """An SPS repeated later, corrupted so that it no longer parses: skipped, the one before
    stays in force, and the slices after it are parsed with it (a parameter set is not a
    slice: no access unit is marked damaged; nor does a skipped NAL unit end one)."""
    p = require_vector("JVT-AVC_V1/BA1_FT_C.264")
    nals = split_annexb(p.read_bytes())
    sps = next(n for n in nals if n.nal_unit_type == 7)
    broken = sps.data[:4] + b"\xff" * 4  # profile/level kept, then a ue(v) that never ends
    cut = [i for i, n in enumerate(nals) if n.nal_unit_type in (1, 5)][10]
    stream = [n.data for n in nals[:cut]] + [broken] + [n.data for n in nals[cut:]]
    sp = AccessUnitSplitter()
    aus = sp.feed(b"".join(b"\x00\x00\x01" + d for d in stream)) + sp.flush()
    good = AccessUnitSplitter()
    ref = good.feed(b"".join(b"\x00\x00\x01" + n.data for n in nals)) + good.flush()
    assert _au_signature(aus) == _au_signature(ref)
    assert sp.skipped_nal_units == 1 and sp.damage[0].nal_unit_type == 7
    assert sp.parameter_sets.sps[0] == good.parameter_sets.sps[0]
    assert not any(au.damaged for au in aus)
    assert all(a.slices[0].header.sps is aus[0].slices[0].header.sps for a in aus)


def test_repeated_idr_pictures_without_delimiters(tmp_path: Path, h264_oracle) -> None:
    """Consecutive IDR pictures with the same idr_pic_id and nothing between them (seen from
    some encoders): one AU each, like FFmpeg's parser (ffprobe packet and frame counts)."""
    p = require_vector("other/cros-codecs/64x64-I.h264")
    nals = split_annexb(p.read_bytes())
    idr = next(n for n in nals if n.nal_unit_type == 5)
    stream = b"".join(b"\x00\x00\x00\x01" + n.data for n in nals if n.nal_unit_type in (7, 8))
    stream += (b"\x00\x00\x00\x01" + idr.data) * 3
    sp = AccessUnitSplitter()
    aus = sp.feed(stream) + sp.flush()
    path = tmp_path / "rep.h264"
    path.write_bytes(stream)
    exe = h264_oracle.require_ffmpeg().replace("ffmpeg", "ffprobe")
    res = subprocess.run([exe, "-v", "error", "-f", "h264", "-count_frames", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert len(aus) == int(res.stdout.split()[0]) == 3
