"""MP4/MOV demux of bytes (codec/h264/mp4.py) against FFmpeg's muxer: each vector muxed with
``ffmpeg -c copy`` into an .mp4 must give back exactly the Annex B NAL units (after the avcC
parameter sets, which must equal the stream's first SPS/PPS). Also: non-AVC tracks ->
UnsupportedStream, malformed boxes -> BitstreamError, and the less common box variants
(co64, stz2, several stsc runs) on a file rebuilt from FFmpeg's sample table."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pyv4l2req.codec.h264 import mp4
from pyv4l2req.codec.h264.nal import split_annexb
from pyv4l2req.errors import BitstreamError, UnsupportedStream

MUXED = [
    "JVT-AVC_V1/BA1_Sony_D.jsv",  # Baseline, multiple slices
    "JVT-AVC_V1/CVFC1_Sony_C.jsv",  # cropping
    "JVT-AVC_V1/MIDR_MW_D.264",  # several IDRs
    "JVT-AVC_V1/SVA_BA2_D.264",
    "JVT-FR-EXT/HCAFF1_HHI.264",  # PAFF fields: two samples per frame
    "JVT-FR-EXT/FRExt1_Panasonic.avc",  # several PPS, end of sequence / stream
    "JVT-FR-EXT/FREXT01_JVC_D.264",
    "other/cros-codecs/test-25fps-interlaced.h264",
]


def _ffmpeg(h264_oracle, *args: str) -> None:
    exe = h264_oracle.require_ffmpeg()
    res = subprocess.run([exe, "-v", "error", "-nostdin", "-y", *args], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("name", MUXED)
def test_mp4_nal_units_equal_annexb(name: str, tmp_path: Path, h264_oracle) -> None:
    src = h264_oracle.vectors / name
    if not src.exists():
        if h264_oracle.in_ci():
            pytest.fail(f"missing vector {src}")
        pytest.skip(f"missing vector {src}")
    out = tmp_path / "v.mp4"
    _ffmpeg(h264_oracle, "-f", "h264", "-i", str(src), "-c", "copy", str(out))
    data = out.read_bytes()
    annexb = [n.data for n in split_annexb(src.read_bytes())]
    track = mp4.find_avc_track(data)
    cfg = track.config
    ps = cfg.sequenceParameterSetNALUnits + cfg.pictureParameterSetNALUnits
    got = list(mp4.iter_annexb_nal_units(data))
    assert got[: len(ps)] == ps
    assert got[len(ps):] == annexb
    # (FFmpeg copies the zero byte of the next 4-byte start code into avcC; we strip it)
    assert cfg.sequenceParameterSetNALUnits[0] == next(n for n in annexb if n[0] & 0x1F == 7)
    assert cfg.pictureParameterSetNALUnits[0] == next(n for n in annexb if n[0] & 0x1F == 8)
    assert track.sample_entry in ("avc1", "avc3")
    # FFmpeg puts one access unit per sample: samples = frames (+1 per second field)
    assert len(track.sample_sizes) == len(set(track.sample_offsets)) > 0


def test_hevc_track_is_unsupported(tmp_path: Path, h264_oracle) -> None:
    out = tmp_path / "hevc.mp4"
    _ffmpeg(h264_oracle, "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-frames:v", "2",
            "-c:v", "libx265", "-x265-params", "log-level=error", str(out))
    with pytest.raises(UnsupportedStream, match="HEVC"):
        list(mp4.iter_annexb_nal_units(out.read_bytes()))


def test_mpeg4_part2_track_is_unsupported(tmp_path: Path, h264_oracle) -> None:
    out = tmp_path / "mp4v.mp4"
    _ffmpeg(h264_oracle, "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-frames:v", "2", "-c:v", "mpeg4", str(out))
    with pytest.raises(UnsupportedStream, match="MPEG-4 Part 2"):
        list(mp4.iter_annexb_nal_units(out.read_bytes()))


def test_audio_only_file_has_no_video_track(tmp_path: Path, h264_oracle) -> None:
    out = tmp_path / "a.mp4"
    _ffmpeg(h264_oracle, "-f", "lavfi", "-i", "sine=duration=0.1", "-c:a", "aac", str(out))
    with pytest.raises(UnsupportedStream, match="no video track"):
        list(mp4.iter_annexb_nal_units(out.read_bytes()))


def test_h264_track_after_audio_track(tmp_path: Path, h264_oracle) -> None:
    src = h264_oracle.vectors / "JVT-AVC_V1/SVA_BA2_D.264"
    out = tmp_path / "av.mp4"
    _ffmpeg(h264_oracle, "-f", "lavfi", "-i", "sine=duration=0.5", "-f", "h264", "-i", str(src),
            "-map", "0:a", "-map", "1:v", "-c:a", "aac", "-c:v", "copy", str(out))
    got = list(mp4.iter_annexb_nal_units(out.read_bytes()))
    assert got[2:] == [n.data for n in split_annexb(src.read_bytes())]


@pytest.fixture
def small_mp4(tmp_path: Path, h264_oracle) -> tuple[bytes, Path]:
    src = h264_oracle.vectors / "JVT-AVC_V1/SVA_BA2_D.264"
    out = tmp_path / "s.mp4"
    _ffmpeg(h264_oracle, "-f", "h264", "-i", str(src), "-c", "copy", str(out))
    return out.read_bytes(), src


def test_moov_cut_in_its_sample_tables_is_bitstream_error(small_mp4) -> None:
    data, _ = small_mp4
    # this file has its moov last (no faststart): cut inside its sample tables
    cut = data.index(b"stsz") + 8
    with pytest.raises(BitstreamError, match="MP4"):
        list(mp4.iter_annexb_nal_units(data[:cut]))


def test_moov_cut_after_what_is_needed_gives_every_sample(small_mp4) -> None:
    data, _ = small_mp4
    # the last 10 bytes of the file are in a box after the sample tables (udta/meta): the
    # truncated top-level box is read as far as it goes, and every sample is there
    whole = list(mp4.iter_annexb_nal_units(data))
    notes = mp4.Mp4Notes()
    assert list(mp4.iter_annexb_nal_units(data[: len(data) - 10], notes)) == whole
    assert notes.missing == 0 and notes.samples > 0


def test_corrupt_box_size_is_bitstream_error(small_mp4) -> None:
    data, _ = small_mp4
    p = data.index(b"stsz") - 4
    bad = data[:p] + (0xFFFFFF).to_bytes(4, "big") + data[p + 4:]
    with pytest.raises(BitstreamError, match="stsz"):
        list(mp4.iter_annexb_nal_units(bad))


def test_no_moov_is_bitstream_error() -> None:
    with pytest.raises(BitstreamError, match="moov"):
        list(mp4.iter_annexb_nal_units(b"\x00\x00\x00\x08free"))


# -- rebuilding FFmpeg's file with other sample-table boxes --------------------------------

def _box(typ: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + typ + payload


def _replace_box(data: bytes, typ: bytes, new_box: bytes) -> bytes:
    """Replace the (only) box ``typ`` and fix the sizes of its ancestors (moov/trak/.../stbl)."""
    p = data.index(typ) - 4
    old_size = int.from_bytes(data[p:p + 4], "big")
    delta = len(new_box) - old_size
    out = bytearray(data[:p] + new_box + data[p + old_size:])
    for parent in (b"stbl", b"minf", b"mdia", b"trak", b"moov"):
        q = out.index(parent) - 4
        assert q < p
        size = int.from_bytes(out[q:q + 4], "big")
        out[q:q + 4] = (size + delta).to_bytes(4, "big")
    return bytes(out)


def test_co64_stz2_and_stsc_runs(small_mp4) -> None:
    data, src = small_mp4
    expected = list(mp4.iter_annexb_nal_units(data))
    t = mp4.find_avc_track(data)
    assert len(t.sample_sizes) > 4
    # every sample its own chunk, described by two stsc runs (1 per chunk, then 1 per chunk
    # again from chunk 3) -- stco replaced by co64, stsz by stz2 with 16-bit fields
    offs = t.sample_offsets
    sizes = t.sample_sizes
    assert max(sizes) < 65536
    co64 = _box(b"co64", b"\0\0\0\0" + len(offs).to_bytes(4, "big") + b"".join(o.to_bytes(8, "big") for o in offs))
    stsc = _box(b"stsc", b"\0\0\0\0" + (2).to_bytes(4, "big")
                + b"".join(x.to_bytes(4, "big") for x in (1, 1, 1, 3, 1, 1)))
    stz2 = _box(b"stz2", b"\0\0\0\0" + b"\0\0\0\x10" + len(sizes).to_bytes(4, "big")
                + b"".join(s.to_bytes(2, "big") for s in sizes))
    # co64 is longer than stco: chunk offsets move by the growth of moov when moov precedes mdat
    moov_first = data.index(b"moov") < data.index(b"mdat")
    rebuilt = data
    for typ, box in ((b"stsz", stz2), (b"stsc", stsc)):
        rebuilt = _replace_box(rebuilt, typ, box)
    rebuilt = _replace_box(rebuilt, b"stco", co64)
    if moov_first:
        shift = len(rebuilt) - len(data)
        co64 = _box(b"co64", b"\0\0\0\0" + len(offs).to_bytes(4, "big") + b"".join((o + shift).to_bytes(8, "big") for o in offs))
        rebuilt = _replace_box(rebuilt, b"co64", co64)
    assert list(mp4.iter_annexb_nal_units(rebuilt)) == expected


def test_corrupted_files_raise_only_our_errors(small_mp4) -> None:
    """Random truncation / byte corruption: BitstreamError or UnsupportedStream, nothing else."""
    import random

    data, _ = small_mp4
    rng = random.Random(5)
    outcomes = set()
    for _ in range(400):
        b = bytearray(data)
        if rng.random() < 0.3:
            b = b[: rng.randrange(len(b))]
        for _ in range(rng.randint(1, 5)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        try:
            list(mp4.iter_annexb_nal_units(bytes(b)))
            outcomes.add("ok")
        except (BitstreamError, UnsupportedStream) as e:
            outcomes.add(type(e).__name__)
    assert "BitstreamError" in outcomes


def test_huge_constant_sample_count_is_rejected(small_mp4) -> None:
    data, _ = small_mp4
    p = data.index(b"stsz") + 4
    bad = data[:p + 4] + (1000).to_bytes(4, "big") + (0xFFFFFFF0).to_bytes(4, "big") + data[p + 12:]
    with pytest.raises(BitstreamError, match="more than the file holds"):
        list(mp4.iter_annexb_nal_units(bad))
