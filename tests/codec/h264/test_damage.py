"""Damaged input through the sans-IO codec layer (splitter + H264Decoder), made from the
project's fixtures: what is skipped is noted, decoding resumes at the next decodable picture,
and the pictures touched by the damage come out with ``PictureDecode.damaged``.

The pictures are counted by PictureOutput events (what a caller turns into frames)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter, DamageLog
from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode, PictureOutput, SequenceStart
from pyv4l2req.codec.h264.nal import NalUnit, split_annexb
from pyv4l2req.codec.h264.slice import parse_slice_header
from pyv4l2req.errors import BitstreamError
from pyv4l2req.testing.fuzz import junk_with_start_codes

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
BFRAMES = FIXTURES / "main_bframes_176x144.h264"  # 24 pictures, IDR at 0 and 12, 1 slice each
MULTISLICE = FIXTURES / "multislice_176x144.h264"  # 4 slices per picture


class Run:
    """A stream through a splitter and a decoder sharing one damage log."""

    def __init__(self, data: bytes, slice_controls: bool = True) -> None:
        self.damage = DamageLog()
        self.splitter = AccessUnitSplitter(damage=self.damage)
        self.decoder = H264Decoder(slice_controls=slice_controls, damage=self.damage)
        self.events: list = []
        aus = self.splitter.feed(data) + self.splitter.flush()
        for ts, au in enumerate(aus, 1):
            self.events += self.decoder.decode_access_unit(au, ts * 1000)
        self.events += self.decoder.flush()

    @property
    def decoded(self) -> list[PictureDecode]:
        return [e for e in self.events if isinstance(e, PictureDecode)]

    @property
    def outputs(self) -> list[int]:
        return [e.timestamp_ns for e in self.events if isinstance(e, PictureOutput)]

    @property
    def skipped(self) -> int:
        return self.splitter.skipped_nal_units + self.decoder.skipped_nal_units


def annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals)


junk = junk_with_start_codes


@pytest.mark.parametrize("slice_controls", [True, False], ids=["slice-controls", "frame-based"])
@pytest.mark.parametrize("where", [0.05, 0.3, 0.5, 0.7, 0.95])
@pytest.mark.parametrize("clip", [BFRAMES, MULTISLICE], ids=lambda p: p.stem)
def test_junk_with_start_codes_is_skipped_and_noted(clip, where, slice_controls):
    data = clip.read_bytes()
    clean = Run(data, slice_controls)
    pos = int(len(data) * where)
    run = Run(data[:pos] + junk(pos) + data[pos:], slice_controls)  # raises nothing
    # every picture of the clip still comes out (the junk only lengthens or splits the NAL
    # unit it fell into); junk that happens to parse as a slice may add one
    assert len(run.outputs) >= len(clean.outputs)
    assert run.skipped > 0 and run.damage.count == run.skipped == len(run.damage)
    assert all(n.message and (n.nal_index is None or n.nal_index >= 0) for n in run.damage)
    # the pictures before the damage decode as in the clean stream, and are not damaged
    before = next(i for i, p in enumerate(run.decoded) if p.damaged)
    assert before > 0 or where < 0.1
    assert [p.poc for p in run.decoded[:before]] == [p.poc for p in clean.decoded[:before]]
    assert not any(p.damaged for p in clean.decoded)


def test_a_dropped_mid_stream_idr_is_concealed_and_marked():
    nals = [n.data for n in split_annexb(BFRAMES.read_bytes())]
    second_idr = [i for i, n in enumerate(nals) if n[0] & 0x1F == 5][1]
    run = Run(annexb(nals[:second_idr] + nals[second_idr + 1:]), slice_controls=False)
    # the pictures after it refer to a frame_num gap: filled (8.2.5.2), decoded, and marked
    assert len(run.decoded) == 23 and len(run.outputs) == 23
    damaged = [i for i, p in enumerate(run.decoded) if p.damaged]
    assert damaged == [12]  # the first picture after the gap; its dependants: the caller's
    assert not any(p.damaged for p in run.decoded[:12])


def test_a_dropped_first_idr_resumes_at_the_next_one():
    nals = [n.data for n in split_annexb(BFRAMES.read_bytes())]
    first_idr = next(i for i, n in enumerate(nals) if n[0] & 0x1F == 5)
    run = Run(annexb(nals[:first_idr] + nals[first_idr + 1:]), slice_controls=False)
    assert run.decoder.skipped_access_units == 11  # the P and B pictures before the next IDR
    assert len(run.outputs) == 12 and run.decoded[0].is_idr
    assert not any(p.damaged for p in run.decoded)


def _truncated_in_rest(nal: bytes, pps, sps) -> bytes:
    """*nal* cut so that its slice header prefix parses and the rest does not."""
    for n in range(2, len(nal)):
        cut = NalUnit(nal[0] & 0x1F, nal[0] >> 5 & 3, nal[:n])
        try:
            sh = parse_slice_header(cut, pps, sps)
        except BitstreamError:
            continue
        try:
            sh.parse_all()
        except BitstreamError:
            return nal[:n]
    raise AssertionError("no truncation leaves the prefix whole")


def test_a_slice_with_a_truncated_header_is_dropped_from_its_picture():
    data = MULTISLICE.read_bytes()
    splitter = AccessUnitSplitter()
    splitter.feed(data)
    splitter.flush()
    ps = splitter.parameter_sets
    nals = [n.data for n in split_annexb(data)]
    victim = [i for i, n in enumerate(nals) if n[0] & 0x1F == 1][5]  # 2nd slice of a P picture
    nals[victim] = _truncated_in_rest(nals[victim], ps.pps, ps.sps)
    clean = Run(data)
    run = Run(annexb(nals))
    assert len(run.outputs) == len(clean.outputs)
    (note,) = run.damage
    assert "truncated" in note.message and note.nal_unit_type == 1 and run.decoder.skipped_nal_units == 1
    (hit,) = [i for i, p in enumerate(run.decoded) if p.damaged]
    assert len(run.decoded[hit].slices) == len(clean.decoded[hit].slices) - 1
    assert run.decoded[hit].slices[0].header.first_mb_in_slice == 0


def test_a_reference_picture_with_a_truncated_header_is_skipped():
    """Frame-based: the only slice of a reference P picture loses its header rest: the picture
    is dropped (nothing to decode), the next one follows a frame_num gap and is damaged."""
    data = BFRAMES.read_bytes()
    splitter = AccessUnitSplitter()
    splitter.feed(data)
    splitter.flush()
    ps = splitter.parameter_sets
    nals = [n.data for n in split_annexb(data)]
    victim = [i for i, n in enumerate(nals) if n[0] & 0x1F == 1 and n[0] >> 5][2]
    nals[victim] = _truncated_in_rest(nals[victim], ps.pps, ps.sps)
    run = Run(annexb(nals), slice_controls=False)
    assert len(run.decoded) == 23 and run.decoder.skipped_nal_units == 1
    assert sum(p.damaged for p in run.decoded) == 1


def _other_sps(clip: Path) -> bytes:
    """An SPS NAL unit like the clip's (id 0) but two macroblocks wider."""
    from pyv4l2req.codec.h264 import v4l2_controls
    from pyv4l2req.emulated import nal_writer

    splitter = AccessUnitSplitter()
    splitter.feed(clip.read_bytes())
    fields = dict(v4l2_controls.sps_control(splitter.parameter_sets.sps[0]))
    fields["pic_width_in_mbs_minus1"] += 2
    return nal_writer.sps_nal(fields, nal_ref_idc=3)


def test_a_stray_sps_before_a_non_idr_picture_changes_nothing():
    """A valid SPS of another size lands before a P picture (damage: 7.4.1.2.1 lets an SPS
    change only at an IDR picture): it is held back, the IDR picture that follows brings the
    stream's own SPS again, so every picture decodes in the one sequence."""
    nals = [n.data for n in split_annexb(BFRAMES.read_bytes())]
    at = [i for i, n in enumerate(nals) if n[0] & 0x1F == 1][4]
    run = Run(annexb(nals[:at] + [_other_sps(BFRAMES)] + nals[at:]), slice_controls=False)
    assert [e.coded_width for e in run.events if isinstance(e, SequenceStart)] == [176]
    assert len(run.outputs) == 24 and run.decoder.skipped_access_units == 0
    assert not any(p.damaged for p in run.decoded)


def test_an_sps_change_takes_effect_at_the_idr_picture():
    nals = [n.data for n in split_annexb(BFRAMES.read_bytes())]
    second_sps = [i for i, n in enumerate(nals) if n[0] & 0x1F == 7][1]  # before the 2nd IDR
    nals[second_sps] = _other_sps(BFRAMES)
    run = Run(annexb(nals), slice_controls=False)
    assert [e.coded_width for e in run.events if isinstance(e, SequenceStart)] == [176, 208]
    assert [p.sps.frame_width for p in run.decoded] == [176] * 12 + [208] * 12
    assert len(run.outputs) == 24


def test_a_new_sequence_at_a_non_idr_picture_resumes_at_the_next_intra_picture():
    """A PPS in force switched to another SPS id, of another size, before a P picture (an IDR
    picture lost, or damage): a new sequence would start at a non-IDR picture, so decoding
    resumes like a mid-stream start. No I picture follows before the IDR picture, whose
    parameter sets are the stream's own again: the pictures between are skipped, and the
    sequence goes on unchanged."""
    nals = [n.data for n in split_annexb(BFRAMES.read_bytes())]
    splitter = AccessUnitSplitter()
    splitter.feed(BFRAMES.read_bytes())
    from pyv4l2req.codec.h264 import v4l2_controls
    from pyv4l2req.emulated import nal_writer

    ps = splitter.parameter_sets
    sps_fields = dict(v4l2_controls.sps_control(ps.sps[0]), seq_parameter_set_id=1)
    sps_fields["pic_width_in_mbs_minus1"] += 2
    pps_fields = dict(v4l2_controls.pps_control(ps.pps[0], ps.sps[0]), seq_parameter_set_id=1)
    at = [i for i, n in enumerate(nals) if n[0] & 0x1F == 1][4]  # a P picture, PPS 0 -> SPS 1
    stream = nals[:at] + [nal_writer.sps_nal(sps_fields, nal_ref_idc=3),
                          nal_writer.pps_nal(pps_fields, sps=sps_fields)] + nals[at:]
    run = Run(annexb(stream), slice_controls=False)
    starts = [e.coded_width for e in run.events if isinstance(e, SequenceStart)]
    assert run.decoder.skipped_access_units == 7  # AUs 5..11: no intra picture before the IDR
    assert starts == [176]
    assert len(run.outputs) == 17 and not any(p.damaged for p in run.decoded)
