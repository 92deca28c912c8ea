"""pipeline/source.py: every kind of input becomes the same Annex B stream.

MP4 cut short, other containers through PyAV, HEVC and unknown data refused by name. (Pipes,
FIFOs, sockets and ``-``: tests/test_cli.py.)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pyv4l2req.codec.h264 import mp4
from pyv4l2req.errors import BitstreamError, UnsupportedStream
from pyv4l2req.pipeline.source import mp4_to_annexb, open_input

REPO = Path(__file__).resolve().parents[2]
MP4 = REPO / "fixtures" / "baseline_176x144.mp4"  # faststart: moov before mdat, 10 samples


def _annexb(path) -> bytes:
    with open_input(path) as src:
        return b"".join(src.chunks())


def test_mp4_cut_short_gives_its_whole_samples_and_says_so(tmp_path):
    data = MP4.read_bytes()
    whole = mp4_to_annexb(data)
    track = mp4.find_avc_track(data)
    # cut inside sample 6: samples 0..5 are whole
    cut = track.sample_offsets[6] + track.sample_sizes[6] // 2
    short = tmp_path / "short.mp4"
    short.write_bytes(data[:cut])
    with open_input(short) as src:
        got = b"".join(src.chunks())
        notices = src.notices
    assert notices == ["the MP4 file is cut short: 4 of its 10 samples are missing "
                       "(decoding the 6 that are there)"]
    assert whole.startswith(got) and len(got) < len(whole)
    notes = mp4.Mp4Notes()
    nals = list(mp4.iter_annexb_nal_units(data[:cut], notes))
    assert (notes.samples, notes.missing) == (10, 4)
    # the parameter sets and 6 samples' NAL units, each exactly as in the whole file
    assert got == b"".join(b"\0\0\1" + n for n in nals)


def test_mp4_cut_before_its_moov_is_a_clear_error(tmp_path):
    short = tmp_path / "short.mp4"
    short.write_bytes(MP4.read_bytes()[:100])  # ftyp + the start of moov
    with pytest.raises(BitstreamError, match="MP4"):
        _annexb(short)


def test_whole_mp4_has_no_notice():
    with open_input(MP4) as src:
        assert src.kind == "mp4" and src.notices == []


@pytest.mark.parametrize("ext,kind", [("mkv", "matroska"), ("ts", "mpegts"), ("flv", "flv")])
def test_other_containers_through_pyav_give_the_mp4s_stream(tmp_path, ext, kind):
    pytest.importorskip("av", reason="other containers are demuxed by PyAV")
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg (to remux the fixture) is not installed")
    out = tmp_path / f"clip.{ext}"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(MP4), "-c", "copy", str(out)],
                   check=True)
    with open_input(out) as src:
        assert kind in src.kind
        got = b"".join(src.chunks())
    # the same NAL units as the pure-Python MP4 path (parameter sets may be repeated in-band)
    from pyv4l2req.codec.h264.nal import split_annexb

    slices = lambda data: [n.data for n in split_annexb(data) if n.nal_unit_type in (1, 5)]  # noqa: E731
    assert slices(got) == slices(mp4_to_annexb(MP4.read_bytes()))
    assert len(slices(got)) == 10


def test_hevc_annexb_is_named(tmp_path):
    hevc = tmp_path / "clip.hevc"
    # VPS NAL unit header (type 32), then junk: the first NAL header is what tells
    hevc.write_bytes(b"\0\0\0\1\x40\x01\x0c\x01\xff\xff" + bytes(60))
    with pytest.raises(UnsupportedStream, match=r"HEVC \(H.265\) Annex B stream, not H.264"):
        _annexb(hevc)


def test_unknown_data_is_not_h264(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello, this is not video\n" * 10)
    with pytest.raises(BitstreamError, match="not an H.264 Annex B byte stream"):
        _annexb(junk)


def test_container_without_pyav_names_the_extra(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_av(name, *a, **k):
        if name == "av" or name.startswith("av."):
            raise ImportError("no av here")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_av)
    mkv = tmp_path / "clip.mkv"
    mkv.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(100))
    with pytest.raises(UnsupportedStream, match=r"Matroska/WebM input .* pip install 'pyv4l2req\[containers\]'"):
        _annexb(mkv)
