"""``pyv4l2req-decode``: outputs against FFmpeg's decode, exit codes and messages.

The command runs as a real subprocess (its console script), the way a user runs it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CLIP = FIXTURES / "main_bframes_176x144.h264"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("pyv4l2req-decode")
    cmd = [exe] if exe else [sys.executable, "-m", "pyv4l2req.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def ffmpeg_raw(path: Path, pix_fmt: str) -> bytes:
    """FFmpeg's decode of *path* as one raw file (the fluster way)."""
    av = pytest.importorskip("av")
    out = bytearray()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "NONE"
        s.codec_context.flags |= av.codec.context.Flags.unaligned
        for f in c.decode(s):
            out += f.to_ndarray(format=pix_fmt).tobytes()
    return bytes(out)


@pytest.mark.parametrize("fmt,ext,pix_fmt", [("i420", "yuv", "yuv420p"), ("nv12", "nv12", "nv12")])
def test_raw_output_equals_ffmpeg(tmp_path, fmt, ext, pix_fmt):
    out = tmp_path / f"out.{ext}"
    r = run(str(CLIP), "-o", str(out), "--device", "emulated", "--format", fmt)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ffmpeg_raw(CLIP, pix_fmt)
    assert "24 frames" in r.stderr and "0 corrupt" in r.stderr


def test_format_from_extension_and_y4m(tmp_path):
    out = tmp_path / "out.y4m"
    r = run(str(CLIP), "-o", str(out), "--device", "emulated")
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    header, _, rest = data.partition(b"\n")
    assert header.startswith(b"YUV4MPEG2 W176 H144 ")
    frames = rest.split(b"FRAME\n")
    assert frames[0] == b"" and len(frames) == 25
    assert b"".join(frames[1:]) == ffmpeg_raw(CLIP, "yuv420p")


def test_framemd5_and_frames_limit(tmp_path):
    md5file = tmp_path / "frames.md5"
    r = run(str(FIXTURES / "baseline_176x144.mp4"), "--device", "emulated", "--framemd5", str(md5file),
            "--frames", "4", "--format", "i420")
    assert r.returncode == 0, r.stderr
    raw = ffmpeg_raw(FIXTURES / "baseline_176x144.mp4", "yuv420p")
    size = 176 * 144 * 3 // 2
    expected = [hashlib.md5(raw[i * size : (i + 1) * size]).hexdigest() for i in range(4)]
    lines = md5file.read_text().splitlines()
    assert [line.split(", ")[-1] for line in lines if not line.startswith("#")] == expected


@pytest.mark.parametrize("fmt,pix_fmt", [("i420", "yuv420p"), ("nv12", "nv12")])
@pytest.mark.parametrize("src", [FIXTURES / "cropped_170x100.h264",  # odd crop: chroma sizes round up
                                 "JVT-AVC_V1/CVFC1_Sony_C.jsv",  # left crop, VUI without aspect ratio
                                 "other/cros-codecs/64x64-I-P-B-P-high.h264"])  # VUI timing: 30 fps
def test_framemd5_equals_ffmpegs(tmp_path, fmt, pix_fmt, src):
    """--framemd5 writes FFmpeg's framemd5 format: `diff` against ffmpeg's says nothing
    (dimensions after cropping, time base from the VUI frame rate, sample aspect ratio)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    if isinstance(src, str):
        from pyv4l2req.testing.vectors import require_vector

        src = require_vector(src)
    ours = tmp_path / "ours.md5"
    r = run(str(src), "--device", "emulated", "--format", fmt, "--framemd5", str(ours))
    assert r.returncode == 0, r.stderr
    ff = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-flags", "unaligned", "-i", str(src),
                         "-pix_fmt", pix_fmt,
                         "-fflags", "+bitexact", "-f", "framemd5", "-"], capture_output=True, text=True, check=True)
    assert ours.read_text() == ff.stdout
    assert ff.stdout.count("\n0, ") >= 3 and ours.read_text().count("\n0, ") >= 3


def test_slice_mode_gives_the_same_output(tmp_path):
    a, b = tmp_path / "a.yuv", tmp_path / "b.yuv"
    src = FIXTURES / "multislice_176x144.h264"
    assert run(str(src), "-o", str(a), "--device", "emulated", "--decode-mode", "frame").returncode == 0
    assert run(str(src), "-o", str(b), "--device", "emulated", "--decode-mode", "slice").returncode == 0
    assert a.read_bytes() == b.read_bytes() == ffmpeg_raw(src, "yuv420p")


def test_missing_file_exit_3(tmp_path):
    r = run(str(tmp_path / "nope.h264"), "--device", "emulated")
    assert r.returncode == 3
    assert "no such file" in r.stderr


def test_not_h264_exit_3(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not video\n" * 10)
    r = run(str(bad), "--device", "emulated")
    assert r.returncode == 3
    assert "not an H.264 Annex B byte stream" in r.stderr


def test_damaged_input_decodes_exit_0_and_the_summary_counts_the_damage(tmp_path):
    """Junk with start codes in the middle of the clip: skipped, every frame written, exit 0."""
    data = CLIP.read_bytes()
    rng = random.Random(1)
    junk = bytearray(rng.getrandbits(8) for _ in range(2048))
    for p in range(0, len(junk) - 4, 256):
        junk[p:p + 3] = b"\0\0\1"
    bad = tmp_path / "damaged.h264"
    bad.write_bytes(data[:len(data) // 5] + bytes(junk) + data[len(data) // 5:])
    r = run(str(bad), "--device", "emulated", "--framemd5", str(tmp_path / "md5"))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert re.search(r"24 frames, [\d.]+ fps, [1-9]\d* corrupt, [1-9]\d* NAL units? skipped \(damaged\)",
                     r.stderr), r.stderr


def test_hevc_in_mp4_is_unsupported_exit_4(tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    mp4 = tmp_path / "hevc.mp4"
    p = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc2=size=64x64:rate=25", "-frames:v", "2", "-c:v", "libx265", str(mp4)],
                       capture_output=True)
    if p.returncode != 0:
        pytest.skip("ffmpeg has no libx265")
    r = run(str(mp4), "--device", "emulated")
    assert r.returncode in (3, 4), r.stderr
    assert "hev1" in r.stderr or "hvc1" in r.stderr or "HEVC" in r.stderr or "AVC" in r.stderr


def test_no_such_device_exit_5(tmp_path):
    r = run(str(CLIP), "--device", "/dev/video-does-not-exist")
    assert r.returncode == 5
    assert "no such device" in r.stderr


def test_device_that_is_not_a_decoder_exit_5(tmp_path):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    r = run(str(CLIP), "--device", "/dev/null")
    assert r.returncode == 5
    assert "not a stateless decoder" in r.stderr


def test_usage_error_exit_2():
    r = run(str(CLIP), "--format", "rgb")
    assert r.returncode == 2


def test_help_lists_exit_codes():
    r = run("--help")
    assert r.returncode == 0
    assert "Exit codes" in r.stdout and "no decoder device" in r.stdout


# -- input from pipes: opened once, the format sniff loses no byte -----------------------------

def _cli() -> list[str]:
    exe = shutil.which("pyv4l2req-decode")
    return [exe] if exe else [sys.executable, "-m", "pyv4l2req.cli"]


def _trickle(sock, data: bytes) -> None:
    """Send *data* in 7-byte pieces first (less than the 64-byte sniff), then in big ones."""
    with sock:
        pos = 0
        while pos < len(data):
            n = 7 if pos < 128 else 65536
            sock.sendall(data[pos:pos + n])
            pos += n


@pytest.mark.parametrize("clip", ["main_bframes_176x144.h264", "baseline_176x144.mp4"])
@pytest.mark.parametrize("how", ["dash", "dev_stdin", "fifo", "socket"])
def test_piped_input_gives_the_same_frames_as_the_file(tmp_path, clip, how):
    import socket
    import threading

    src = FIXTURES / clip
    ref = tmp_path / "ref.md5"
    r = run(str(src), "--device", "emulated", "-q", "--framemd5", str(ref))
    assert r.returncode == 0, r.stderr
    expected = ref.read_text()
    assert len(expected.splitlines()) >= 10

    got = tmp_path / "got.md5"
    args = ["--device", "emulated", "-q", "--framemd5", str(got)]
    data = src.read_bytes()
    if how in ("dash", "dev_stdin"):
        name = "-" if how == "dash" else "/dev/stdin"
        p = subprocess.run([*_cli(), name, *args], input=data, capture_output=True, timeout=300)
        assert p.returncode == 0, p.stderr
    elif how == "fifo":
        fifo = tmp_path / "in.fifo"
        os.mkfifo(fifo)
        writer = threading.Thread(target=fifo.write_bytes, args=(data,))
        writer.start()
        r = run(str(fifo), *args)
        writer.join(timeout=60)
        assert r.returncode == 0, r.stderr
    else:
        a, b = socket.socketpair()
        t = threading.Thread(target=_trickle, args=(a, data))
        t.start()
        with b:
            p = subprocess.run([*_cli(), "-", *args], stdin=b, capture_output=True, timeout=300)
        t.join(timeout=60)
        assert p.returncode == 0, p.stderr
    assert got.read_text() == expected


def test_open_input_hands_back_the_sniffed_head(tmp_path):
    import threading

    from pyv4l2req.pipeline.source import open_input

    data = (FIXTURES / "main_bframes_176x144.h264").read_bytes()
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    with open_input(fifo) as src:
        assert src.kind == "annexb" and src.size is None
        assert b"".join(src.chunks()) == data
    writer.join(timeout=60)


# -- output errors: one line, exit 7 (6 for permissions), frames written so far stay ---------------

@pytest.mark.parametrize("where,target,message", [
    ("-o", "/dev/full", "/dev/full: cannot write: No space left on device"),
    ("--framemd5", "/dev/full", "/dev/full: cannot write: No space left on device"),
    ("-o", "{tmp}/no/such/dir/out.nv12", "cannot open for writing: No such file or directory"),
])
def test_output_errors_exit_7_without_traceback(tmp_path, where, target, message):
    target = target.format(tmp=tmp_path)
    if target.startswith("/dev/") and not os.path.exists(target):
        pytest.skip(f"{target} does not exist here")
    r = run(str(CLIP), "--device", "emulated", where, target)
    assert r.returncode == 7, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_output_error_keeps_the_frames_written_before_it(tmp_path):
    """A file that stops taking data mid-way (RLIMIT_FSIZE, like a full disk): the frames
    written before are there, whole, and the exit code says what happened."""
    import resource

    frame = 176 * 144 * 3 // 2
    limit = 5 * frame + 100  # room for 5 whole frames
    out = tmp_path / "out.yuv"

    def cap() -> None:
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    exe = shutil.which("pyv4l2req-decode")
    cmd = [exe] if exe else [sys.executable, "-m", "pyv4l2req.cli"]
    r = subprocess.run([*cmd, str(CLIP), "--device", "emulated", "-o", str(out), "--format", "i420"],
                       capture_output=True, text=True, timeout=300, preexec_fn=cap)
    assert r.returncode == 7, r.stderr
    assert "cannot write: File too large" in r.stderr and "Traceback" not in r.stderr
    data = out.read_bytes()
    assert len(data) >= 5 * frame
    assert data[:5 * frame] == ffmpeg_raw(CLIP, "yuv420p")[:5 * frame]


def test_output_permission_denied_exit_6(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere: no permission error to provoke")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    r = run(str(CLIP), "--device", "emulated", "-o", str(ro / "out.nv12"))
    assert r.returncode == 6 and "permission denied" in r.stderr


def test_frame_formats_are_validated():
    from pyv4l2req.pipeline.frames import FRAME_FORMATS, Crop, Frame, FrameWriter

    import io
    import numpy as np

    f = Frame(np.zeros((16, 16), np.uint8), np.zeros((8, 16), np.uint8), Crop(0, 0, 16, 16))
    for bad in ("yuv420p", "rgb", "", "y4m"):
        with pytest.raises(ValueError, match="valid: i420, nv12"):
            f.to_bytes(bad)
        with pytest.raises(ValueError, match="valid: i420, nv12"):
            f.md5(bad)
    with pytest.raises(ValueError, match="valid: i420, nv12, y4m"):
        FrameWriter(io.BytesIO(), "rgb")
    assert set(FRAME_FORMATS) == {"i420", "nv12"}
    assert len(f.to_bytes("i420")) == len(f.to_bytes("nv12")) == 16 * 16 * 3 // 2


def test_mp4_cut_short_decodes_what_is_there(tmp_path):
    data = (FIXTURES / "baseline_176x144.mp4").read_bytes()
    short = tmp_path / "short.mp4"
    short.write_bytes(data[:9000])  # moov first (faststart): the media data is cut
    md5s = tmp_path / "f.md5"
    r = run(str(short), "--device", "emulated", "--framemd5", str(md5s), "--format", "i420")
    assert r.returncode == 0, r.stderr
    assert "note:" in r.stderr and "the MP4 file is cut short" in r.stderr
    got = [line.split(", ")[-1] for line in md5s.read_text().splitlines() if not line.startswith("#")]
    raw = ffmpeg_raw(FIXTURES / "baseline_176x144.mp4", "yuv420p")
    size = 176 * 144 * 3 // 2
    assert 0 < len(got) < 10
    assert got == [hashlib.md5(raw[i * size:(i + 1) * size]).hexdigest() for i in range(len(got))]


def test_hevc_annexb_exit_4_names_hevc(tmp_path):
    hevc = tmp_path / "clip.hevc"
    hevc.write_bytes(b"\0\0\0\1\x40\x01\x0c\x01\xff\xff" + bytes(60))
    r = run(str(hevc), "--device", "emulated")
    assert r.returncode == 4 and "HEVC (H.265) Annex B stream" in r.stderr
