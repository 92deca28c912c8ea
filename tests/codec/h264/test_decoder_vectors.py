"""H264Decoder on the real vectors, against FFmpeg (PyAV) as the oracle.

- the number of output pictures equals FFmpeg's frame count (MANIFEST.tsv, checked when the
  vectors were collected) and PyAV's count;
- the display order equals FFmpeg's: every access unit is fed to libavcodec as one packet
  with pts = its decode index (threads off, ``strict`` compliance so that FFmpeg uses the
  spec's DPB bumping instead of guessing the reorder depth), the frames' pts are compared
  with the decode indices of our PictureOutput events;
- the visible size of every output equals FFmpeg's frame size (SPS cropping);
- buffer life cycle invariants the pipeline relies on: a picture is released exactly once,
  after its output, never while a later picture references it; at most dpb_size + 1
  pictures hold a CAPTURE buffer; both fields of a frame share one timestamp.
"""

from __future__ import annotations

from pathlib import Path

import pytest

av = pytest.importorskip("av")

from pyv4l2req.codec.h264.decoder import (  # noqa: E402
    H264Decoder,
    PictureDecode,
    PictureOutput,
    PictureRelease,
    SequenceStart,
)
from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter  # noqa: E402
from pyv4l2req.errors import UnsupportedStream  # noqa: E402



def _access_units(data: bytes) -> list:
    sp = AccessUnitSplitter()
    return sp.feed(data) + sp.flush()


def _decode(aus: list) -> list:
    dec = H264Decoder()
    events: list = []
    for i, au in enumerate(aus):
        events += dec.decode_access_unit(au, i)
    events += dec.flush()
    return events


def _ffmpeg_order(aus: list) -> list[tuple[int, int, int]]:
    """(pts = decode index, width, height) of FFmpeg's frames in output order."""
    ctx = av.CodecContext.create("h264", "r")
    ctx.thread_type = "NONE"
    ctx.options = {"strict": "strict", "flags": "unaligned"}  # exact crop (CVFC1_Sony_C)
    out = []
    for i, au in enumerate(aus):
        pkt = av.Packet(b"".join(b"\x00\x00\x00\x01" + n.data for n in au.nals))
        pkt.pts = pkt.dts = i
        out += [(f.pts, f.width, f.height) for f in ctx.decode(pkt)]
    out += [(f.pts, f.width, f.height) for f in ctx.decode(None)]
    return out


def _pyav_file_count(path: Path) -> int:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "NONE"
        return sum(1 for _ in c.decode(s))


@pytest.fixture
def decoded(h264_vector: Path | None, vector_data: bytes, h264_oracle):
    aus = _access_units(vector_data)
    try:
        return aus, _decode(aus)
    except UnsupportedStream as e:  # pragma: no cover - none of the collected vectors
        pytest.fail(f"{h264_oracle.vector_id(h264_vector)}: {e}")


def test_output_count_matches_ffmpeg(h264_vector: Path, decoded, h264_oracle) -> None:
    aus, events = decoded
    n = sum(isinstance(e, PictureOutput) for e in events)
    expected = h264_oracle.manifest_frame_counts().get(h264_oracle.vector_id(h264_vector))
    if expected is None:
        expected = _pyav_file_count(h264_vector)
    assert n == expected


def test_display_order_and_size_match_ffmpeg(decoded) -> None:
    aus, events = decoded
    ours = [(e.timestamp_ns, e.crop.width, e.crop.height) for e in events if isinstance(e, PictureOutput)]
    theirs = _ffmpeg_order(aus)
    assert [o[0] for o in ours] == [t[0] for t in theirs]
    assert ours == theirs


def test_buffer_life_cycle(decoded) -> None:
    aus, events = decoded
    dpb_size = None
    held: set[int] = set()          # decoded, not yet released
    output: set[int] = set()
    released: set[int] = set()
    first_field_ts: int | None = None
    max_held = 0
    for e in events:
        if isinstance(e, SequenceStart):
            dpb_size = e.dpb_size
            assert not held, "pictures still held across a new sequence"
        elif isinstance(e, PictureDecode):
            assert dpb_size is not None
            for r in e.reference_timestamps:
                assert r in held, f"picture {e.timestamp_ns} references {r}, which is not held"
            if e.is_second_field:
                assert e.timestamp_ns == first_field_ts
                assert e.timestamp_ns in held
            else:
                assert e.timestamp_ns not in held and e.timestamp_ns not in released
                held.add(e.timestamp_ns)
            first_field_ts = e.timestamp_ns if e.is_first_field else None
            max_held = max(max_held, len(held))
            assert len(held) <= dpb_size + 1
        elif isinstance(e, PictureOutput):
            assert e.timestamp_ns in held
            assert e.timestamp_ns != first_field_ts, "output between the two fields of a frame"
            assert e.timestamp_ns not in output, "output twice"
            output.add(e.timestamp_ns)
        elif isinstance(e, PictureRelease):
            assert e.timestamp_ns in held, f"release of {e.timestamp_ns}, which is not held"
            held.discard(e.timestamp_ns)
            released.add(e.timestamp_ns)
    assert not held, f"{len(held)} pictures never released"
    assert output <= released


def test_every_active_reference_resolves(decoded) -> None:
    """Conformance streams never point past the references they have: every entry of
    RefPicList0/1 up to num_ref_idx_lX_active_minus1 (after modification) must be found in
    the picture's DPB with the referenced field marked as reference (a wrong initialisation or
    modification shows up as None here, and as a 0xff index in the V4L2 lists)."""
    aus, events = decoded
    for e in events:
        if not isinstance(e, PictureDecode):
            continue
        for s in e.slices:
            sh = s.header
            lists = []
            if sh.slice_type % 5 in (0, 1, 3):
                lists.append((s.ref_pic_list0, sh.num_ref_idx_l0_active_minus1 + 1))
            if sh.slice_type % 5 == 1:
                lists.append((s.ref_pic_list1, sh.num_ref_idx_l1_active_minus1 + 1))
            for lst, n in lists:
                assert len(lst) == n
                for r in lst:
                    assert r is not None, f"picture {e.timestamp_ns}: unresolved reference"
                    assert any(r.picture is p for p in e.dpb)
                    assert r.parity & r.picture.fields == r.parity


FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.h264")))
def test_fixture_clips_match_ffmpeg(name: str) -> None:
    """The project's x264 clips (B-pyramid, MBAFF, multi-slice, CQM + weighted, cropping):
    count, display order and visible size as FFmpeg, and the buffer life cycle."""
    path = FIXTURES / name
    aus = _access_units(path.read_bytes())
    events = _decode(aus)
    ours = [(e.timestamp_ns, e.crop.width, e.crop.height) for e in events if isinstance(e, PictureOutput)]
    assert ours == _ffmpeg_order(aus)
    assert len(ours) == _pyav_file_count(path)
    test_buffer_life_cycle((aus, events))
    test_every_active_reference_resolves((aus, events))


RECOVERY_CUTS = [("JVT-AVC_V1/CVFC1_Sony_C.jsv", 12), ("JVT-AVC_V1/MIDR_MW_D.264", 25),
                 ("JVT-FR-EXT/FRExt_MMCO4_Sony_B.264", 11), ("JVT-AVC_V1/MR1_BT_A.h264", 7)]


@pytest.mark.parametrize("name,cut", RECOVERY_CUTS)
def test_start_mid_stream(name: str, cut: int, h264_oracle) -> None:
    """A stream cut before a non-IDR I picture: the leading P/B pictures are skipped, decoding
    starts at the I picture, nothing references a picture we never had, every decoded picture
    is output once. FFmpeg is more cautious (without a recovery point SEI it waits for an IDR
    or its own recovery heuristic, and shows nothing for some of these cuts): what it shows
    must be a subsequence of our output, and its second half must equal our tail."""
    path = h264_oracle.vectors / name
    if not path.exists():
        pytest.skip(f"missing vector {path}")
    full = _access_units(path.read_bytes())
    params = [n for n in full[0].nals if n.nal_unit_type in (7, 8)]
    aus = full[cut:]
    dec = H264Decoder()
    events: list = []
    for i, a in enumerate(aus):
        events += dec.decode_access_unit(a, i)
    events += dec.flush()
    decodes = [e for e in events if isinstance(e, PictureDecode)]
    assert dec.skipped_access_units > 0
    first = aus[decodes[0].timestamp_ns]
    assert all(s.header.slice_type % 5 in (2, 4) for s in first.slices)
    test_buffer_life_cycle((aus, events))
    outputs = [e.timestamp_ns for e in events if isinstance(e, PictureOutput)]
    assert sorted(outputs) == sorted({d.timestamp_ns for d in decodes})
    # FFmpeg fed the same access units (parameter sets prepended to the first one)
    ctx = av.CodecContext.create("h264", "r")
    ctx.thread_type = "NONE"
    ctx.options = {"strict": "strict", "flags": "unaligned"}
    theirs = []
    for i, a in enumerate(aus):
        nals = (params if i == 0 else []) + a.nals
        pkt = av.Packet(b"".join(b"\x00\x00\x00\x01" + n.data for n in nals))
        pkt.pts = pkt.dts = i
        try:
            theirs += [f.pts for f in ctx.decode(pkt)]
        except av.error.InvalidDataError:  # FFmpeg refuses the pictures it cannot decode
            pass
    theirs += [f.pts for f in ctx.decode(None)]
    it = iter(outputs)
    assert all(t in it for t in theirs), "FFmpeg's pictures are not a subsequence of ours"
    k = len(theirs) // 2
    if k:
        assert outputs[-k:] == theirs[-k:]
