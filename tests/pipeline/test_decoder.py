"""The decoder pipeline end to end on the emulated device, against FFmpeg's own decode.

Every check compares our frames (display order, cropped I420) with what FFmpeg's software
decoder makes of the same file (``oracle``), so a wrong control value, a wrong reference, a
wrong output order or a lost frame all show up as an md5 mismatch.
"""

from __future__ import annotations

import errno
import random
from pathlib import Path

import pytest

import pyv4l2req
from pyv4l2req import Decoder
from pyv4l2req.emulated import EmulatedBackend
from pyv4l2req.errors import BitstreamError, DecodeError, NoDeviceError, PyV4L2ReqError, UnsupportedStream


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
H264_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.h264"))
MODES = [("frame", "annexb"), ("slice", "none"), ("slice", "annexb")]


def md5s(frames) -> list[str]:
    return [f.md5() for f in frames]


@pytest.mark.parametrize("mode", MODES, ids=lambda m: f"{m[0]}-{m[1]}")
@pytest.mark.parametrize("name", H264_FIXTURES)
def test_fixture_matches_ffmpeg(name, mode, oracle):
    path = FIXTURES / name
    frames = list(pyv4l2req.decode_file(path, device="emulated", decode_mode=mode[0], start_code=mode[1]))
    assert md5s(frames) == oracle(path)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert not any(f.corrupt for f in frames)


def test_mp4_input_matches_ffmpeg(oracle):
    path = FIXTURES / "baseline_176x144.mp4"
    assert md5s(pyv4l2req.decode_file(path, device="emulated")) == oracle(path)


def test_feed_any_chunking_gives_the_same_frames(oracle):
    path = FIXTURES / "main_bframes_176x144.h264"
    data = path.read_bytes()
    rng = random.Random(7)
    got = []
    with Decoder(device="emulated") as dec:
        i = 0
        while i < len(data):
            n = rng.choice([1, 3, 17, 500, 4096])
            got += md5s(dec.feed(data[i : i + n]))
            i += n
        got += md5s(dec.flush())
    assert got == oracle(path)


def test_resolution_change_mid_stream_loses_no_frame(tmp_path, oracle):
    a, b = FIXTURES / "main_bframes_176x144.h264", FIXTURES / "small_128x96.h264"
    joined = tmp_path / "joined.h264"
    joined.write_bytes(a.read_bytes() + b.read_bytes() + a.read_bytes())
    with Decoder(device="emulated") as dec:
        frames = list(dec.decode(joined))
        assert dec.stats.reconfigurations == 2
    assert md5s(frames) == oracle(a) + oracle(b) + oracle(a)
    sizes = [(f.width, f.height) for f in frames]
    assert sizes[0] == (176, 144) and sizes[len(oracle(a))] == (128, 96) and sizes[-1] == (176, 144)


def test_several_requests_in_flight_and_capture_pool_sized_from_the_stream():
    path = FIXTURES / "main_bframes_176x144.h264"
    with Decoder(device="emulated", in_flight=4) as dec:
        session = dec.session
        depth = []
        core = session.core
        real = core.submit

        def spy(*a, **k):
            index = real(*a, **k)
            depth.append(core.in_flight)
            return index

        core.submit = spy
        frames = list(dec.decode(path))
        seq = session._seq
        n_capture = len(session.cap_q.buffers)
    assert len(frames) == 24
    assert max(depth) >= 3, "requests must be pipelined, not one synchronous frame at a time"
    assert n_capture == seq.dpb_size + 4 + 2 < 16


def test_error_flag_marks_frames_corrupt_and_decoding_goes_on(oracle):
    path = FIXTURES / "main_bframes_176x144.h264"
    backend = EmulatedBackend()
    backend.faults.error_flag(nth=1)  # the IDR picture: everything after references it
    with Decoder(device="emulated", backend=backend) as dec:
        frames = list(dec.decode(path))
        stats = dec.stats
    assert len(frames) == len(oracle(path)), "no frame is dropped"
    corrupt = [f.index for f in frames if f.corrupt]
    assert corrupt and frames[0].corrupt
    assert stats.corrupt == len(corrupt)
    # pictures of the second GOP (IDR every 12 frames) do not depend on the flagged one
    assert not frames[-1].corrupt
    assert [f.md5() for f in frames[12:]] == oracle(path)[12:]


def test_error_flag_on_a_non_reference_picture_stays_local():
    path = FIXTURES / "main_bframes_176x144.h264"
    backend = EmulatedBackend()
    with Decoder(device="emulated", backend=backend) as dec:
        clean = list(dec.decode(path))
    backend = EmulatedBackend()
    backend.faults.error_flag(nth=24)  # the last decoded picture
    with Decoder(device="emulated", backend=backend) as dec:
        frames = list(dec.decode(path))
    assert len(frames) == len(clean)
    assert sum(f.corrupt for f in frames) == 1
    assert [f.md5() for f in frames if not f.corrupt] == [c.md5() for f, c in zip(frames, clean) if not f.corrupt]


def _decode_until_error(backend, path, **kw):
    frames = []
    with Decoder(device="emulated", backend=backend, **kw) as dec:
        with pytest.raises(PyV4L2ReqError) as info:
            for f in dec.decode(path):
                frames.append(f)
    return frames, info.value


@pytest.mark.parametrize("ioctl", ["MEDIA_REQUEST_IOC_QUEUE", "VIDIOC_S_EXT_CTRLS"])
def test_fatal_error_keeps_every_frame_already_decoded(ioctl, oracle):
    path = FIXTURES / "main_bframes_176x144.h264"
    backend = EmulatedBackend()
    backend.faults.fail(ioctl, errno.EIO, nth=10)
    frames, err = _decode_until_error(backend, path)
    assert isinstance(err, DecodeError) and "EIO" in str(err)
    expected = oracle(path)
    # every picture decoded before the failure comes out, right and in display order
    positions = [expected.index(m) for m in md5s(frames)]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert len(frames) >= 5


def test_request_timeout_is_an_error_after_the_frames_before_it(oracle):
    path = FIXTURES / "main_bframes_176x144.h264"
    backend = EmulatedBackend()
    backend.faults.stall(nth=10)
    frames, err = _decode_until_error(backend, path, timeout_s=0.3)
    assert "time" in str(err).lower()
    assert 0 < len(frames) < 24
    positions = [oracle(path).index(m) for m in md5s(frames)]
    assert positions == sorted(positions) and len(frames) >= 6


def test_not_h264_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.h264"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(BitstreamError, match="not an H.264"):
        list(pyv4l2req.decode_file(junk, device="emulated"))
    with Decoder(device="emulated") as dec:
        with pytest.raises(BitstreamError, match="no decodable H.264 picture"):
            list(dec.decode(b"\x00\x00\x00\x01\x09\xf0" * 4))


@pytest.mark.parametrize("pix_fmt,what", [("yuv420p10le", "10-bit"), ("yuv444p", "4:4:4")])
def test_unsupported_bit_depth_and_chroma_are_named(tmp_path, pix_fmt, what):
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    path = tmp_path / "clip.h264"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=64x64:rate=25", "-frames:v", "2", "-pix_fmt", pix_fmt,
                    "-c:v", "libx264", "-f", "h264", str(path)], check=True)
    with pytest.raises(UnsupportedStream, match=what):
        list(pyv4l2req.decode_file(path, device="emulated"))


def test_no_device_error_names_what_exists():
    with pytest.raises(NoDeviceError, match="emulated-fwht"):
        Decoder(device="/dev/video1", backend=EmulatedBackend())
    with pytest.raises(NoDeviceError, match="no such device"):
        Decoder(device="/dev/video99")


def test_public_api_surface():
    for name in pyv4l2req.__all__:
        assert getattr(pyv4l2req, name) is not None
    infos = pyv4l2req.discover(EmulatedBackend())
    assert {"h264", "fwht"} <= {c for i in infos for c in i.codecs}


class _FailCaptureQbufOnce(EmulatedBackend):
    """The emulated device, failing the first CAPTURE QBUF after :attr:`armed` is set (EIO)."""

    armed = False
    failed: list[int] = []

    def ioctl(self, fd, request, arg=None):
        from pyv4l2req.errors import V4L2Error
        from pyv4l2req.uapi import videodev2 as v

        if self.armed and request == v.VIDIOC_QBUF and not v.V4L2_TYPE_IS_OUTPUT(arg.type):
            self.armed = False
            self.failed = [arg.index]
            raise V4L2Error(errno.EIO, "VIDIOC_QBUF", "injected")
        return super().ioctl(fd, request, arg)


def test_capture_requeue_failure_costs_one_buffer_not_the_decode(oracle):
    """A CAPTURE buffer that cannot be re-queued leaves the rotation; the pool has slack."""
    path = FIXTURES / "main_bframes_176x144.h264"
    backend = _FailCaptureQbufOnce()
    with Decoder(device="emulated", backend=backend) as dec:
        frames = []
        it = dec.decode(path)
        frames.append(next(it))
        backend.armed = True  # the next CAPTURE buffer given back (DeviceSession.release)
        frames += list(it)
        assert [i for i, _ in dec.session.lost_capture_buffers] == backend.failed
        assert "EIO" in dec.session.lost_capture_buffers[0][1]
    assert md5s(frames) == oracle(path)
