"""pyv4l2req.testing.vectors: the one discovery of the shared test vectors.

Oracles: FFmpeg's pixel format names (what fluster's ``output_format`` holds), the SPS of each
vector (parsed by our codec layer) against that output format, and fake vectors directories
(MANIFEST rows for missing/unknown files, broken fluster files) that must still collect and run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyv4l2req.testing import vectors as tv
from pyv4l2req.testing.vectors import PictureFormat

REPO = Path(__file__).resolve().parents[2]
PRESENT = tv.vectors()


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


@pytest.mark.parametrize("pix_fmt,expected", [
    ("yuv420p", PictureFormat(8, "4:2:0")), ("yuvj420p", PictureFormat(8, "4:2:0")),
    ("yuv420p10le", PictureFormat(10, "4:2:0")), ("yuv422p10le", PictureFormat(10, "4:2:2")),
    ("yuv444p14le", PictureFormat(14, "4:4:4")), ("yuv444p", PictureFormat(8, "4:4:4")),
    ("gbrp14le", PictureFormat(14, "4:4:4")), ("gray", PictureFormat(8, "4:0:0")),
    ("gray10le", PictureFormat(10, "4:0:0")), ("nv12", PictureFormat(8, "4:2:0")),
    ("p010le", PictureFormat(10, "4:2:0")), ("foo", None), ("", None), (None, None)])
def test_output_format_names(pix_fmt, expected) -> None:
    assert tv.format_from_pix_fmt(pix_fmt) == expected


def test_only_8bit_420_is_decodable_today() -> None:
    assert tv.DECODABLE == {PictureFormat(8, "4:2:0")}
    assert str(PictureFormat(10, "4:2:0")) == "10-bit 4:2:0"


def _vec(tmp_path: Path, fmt: str | None, data: bytes = b"") -> tv.Vector:
    p = tmp_path / "x.264"
    p.write_bytes(data)
    return tv.Vector("x.264", p, "x.264", "x", None, fmt)


def test_format_from_sps_of_hostile_files(tmp_path: Path) -> None:
    mp4 = tmp_path / "a.mp4"   # MP4-like bytes with a stray 00 00 01 67 inside
    mp4.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00\x00\x01\x67\x6e\x00\x1e" * 3)
    junk = tmp_path / "b.264"  # Annex B, an SPS NAL unit that is garbage
    junk.write_bytes(b"\x00\x00\x00\x01\x67\xff\xff\xff\xff")
    for p in (mp4, junk, tmp_path / "missing.264"):
        assert tv.format_from_sps(p) is None
    assert not _vec(tmp_path, None).needs and _vec(tmp_path, None).decodable  # unknown: tried


def test_decodable_follows_the_capability_set_alone(tmp_path: Path, monkeypatch) -> None:
    ten = _vec(tmp_path, "yuv420p10le")
    assert ten.needs == PictureFormat(10, "4:2:0") and not ten.decodable
    monkeypatch.setattr(tv, "DECODABLE", tv.DECODABLE | {PictureFormat(10, "4:2:0")})
    assert ten.decodable
    assert not _vec(tmp_path, "yuv422p10le").decodable
    assert not _vec(tmp_path, "gray").decodable   # 8-bit, but 4:0:0


@pytest.mark.parametrize("vec", PRESENT or [None], ids=[v.id for v in PRESENT] or ["none"])
def test_sps_and_output_format_agree(vec: tv.Vector | None) -> None:
    """The SPS (trusted) and fluster's output format say the same, and MANIFEST.tsv agrees with
    the fluster suite files."""
    if vec is None:
        (pytest.fail if _in_ci() else pytest.skip)(f"no vectors under {tv.vectors_root()}")
    assert vec.format_from_sps is not None, "no parsable SPS in the first MiB"
    if vec.format_from_output is not None:
        assert vec.format_from_sps.same_as(vec.format_from_output)
    assert vec.conflicts == ()


def test_every_listed_vector_is_present() -> None:
    missing = [v.id for v in tv.all_listed() if not v.exists]
    if missing:
        msg = f"MANIFEST.tsv lists files missing under {tv.vectors_root()}: {missing}"
        if _in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


def _fake_root(tmp_path: Path) -> Path:
    """A vectors directory whose files are symlinks to the real ones (nothing copied): the
    MANIFEST with extra rows for a missing file and for files no oracle knows, a 10-bit stream
    under an innocent name, an 8-bit one under a 10-bit-looking name, broken fluster files."""
    real = tv.vectors_root()
    ten = next((v for v in PRESENT if v.needs and v.needs.bit_depth == 10), None)
    eight = next((v for v in PRESENT if v.frames and v.frames < 20 and v.decodable
                  and v.expected_md5), None)
    if ten is None or eight is None:
        (pytest.fail if _in_ci() else pytest.skip)(f"needs a 10-bit and a short 8-bit vector under {real}")
    root = tmp_path / "vectors"
    (root / "fluster").mkdir(parents=True)
    for name in ("mystery", "JVT-Professional_profiles"):
        (root / name).mkdir()
    (root / "mystery" / "clip.264").symlink_to(ten.path)
    (root / "JVT-Professional_profiles" / "PPH10I9_looks_10bit.264").symlink_to(eight.path)
    (root / eight.id).parent.mkdir(parents=True, exist_ok=True)
    (root / eight.id).symlink_to(eight.path)
    lines = (real / "MANIFEST.tsv").read_text().splitlines()
    head = lines[0].split("\t")
    keep = [ln for ln in lines[1:] if ln.split("\t")[0] == eight.id]

    def row(**kw):
        return "\t".join(kw.get(c, "") for c in head)

    rows = keep + [
        row(file="JVT-AVC_V1/NOT_THERE.264", fluster_name="NOT_THERE",
            fluster_expected_md5="0" * 32, fluster_output_format="yuv420p"),
        row(file="mystery/clip.264"),
        row(file="JVT-Professional_profiles/PPH10I9_looks_10bit.264",
            fluster_expected_md5="not an md5"),
        "a line\twith too few columns",
    ]
    (root / "MANIFEST.tsv").write_text("\n".join([lines[0], *rows]) + "\n")
    (root / "fluster" / "broken.json").write_text("{not json")
    (root / "fluster" / "odd.json").write_text('{"test_vectors": [{"name": 3}, "x"]}')
    (root / "fluster" / "odd.tsv").write_text("name\tresult_md5\nNOT_THERE\tzz\n")
    return root


def test_fake_vectors_dir_is_read_from_the_data(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    listed = {v.id: v for v in tv.load_vectors(root)}
    assert not listed["JVT-AVC_V1/NOT_THERE.264"].exists
    present = {v.id: v for v in tv.vectors(root)}
    assert "JVT-AVC_V1/NOT_THERE.264" not in present
    mystery = present["mystery/clip.264"]
    assert mystery.expected_md5 is None and mystery.output_format is None and mystery.frames is None
    assert mystery.needs == PictureFormat(10, "4:2:0") and not mystery.decodable   # from its SPS
    looks = present["JVT-Professional_profiles/PPH10I9_looks_10bit.264"]
    assert looks.expected_md5 is None and looks.decodable
    assert not listed["a line"].exists and "a line" not in present   # a malformed row: missing


def test_collection_and_runs_on_a_fake_vectors_dir(tmp_path: Path) -> None:
    """PYV4L2REQ_VECTORS elsewhere: every vector-iterating test module collects, and the
    pipeline test runs every vector of it (a refusal, a decode checked against FFmpeg only)."""
    root = _fake_root(tmp_path)
    env = dict(os.environ, PYV4L2REQ_VECTORS=str(root))
    env.pop("CI", None)
    modules = ["tests/pipeline/test_vectors.py", "tests/emulated/test_h264_pixels.py",
               "tests/emulated/test_nal_writer.py", "tests/vm/test_visl_decode.py", "tests/codec",
               "tests/testing/test_vectors.py"]
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--no-vm", "-q"]
    res = subprocess.run(base + ["--collect-only", *modules], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "mystery/clip.264" in res.stdout and "NOT_THERE" not in res.stdout
    res = subprocess.run(base + ["-rs", "tests/pipeline/test_vectors.py",
                                 "tests/testing/test_vectors.py::test_every_listed_vector_is_present"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "3 passed, 1 skipped" in res.stdout and "NOT_THERE" in res.stdout
