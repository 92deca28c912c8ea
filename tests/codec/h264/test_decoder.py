"""H264Decoder on synthetic access units (built SPS/PPS/slice header objects, not parsed):
bumping (C.4.5.3), field pairing, frame_num gaps (8.2.5.2), IDR/no_output_of_prior_pics,
MMCO 5, recovery, unsupported features. Expected event sequences are worked out from the
spec's DPB rules; the DPB and reference lists are checked as the decoder's spec-term objects
and, where the kernel's conventions matter, as V4L2 control values (v4l2_controls)."""

from __future__ import annotations

import pytest

from pyv4l2req.codec.h264 import v4l2_controls
from pyv4l2req.codec.h264.access_unit import AccessUnit, Slice
from pyv4l2req.codec.h264.decoder import (
    H264Decoder,
    PictureDecode,
    PictureOutput,
    PictureReference,
    PictureRelease,
    SequenceStart,
)
from pyv4l2req.codec.h264.dpb import FRAME, TOP
from pyv4l2req.codec.h264.nal import NalUnit
from pyv4l2req.codec.h264.pps import PPS
from pyv4l2req.codec.h264.slice import MMCO, SliceHeader
from pyv4l2req.codec.h264.sps import SPS
from pyv4l2req.errors import UnsupportedStream
from pyv4l2req.uapi import h264 as u


def make_sps(max_dpb_frames: int = 2, frame_width: int = 64, **elements) -> SPS:
    """A 4:2:0 High profile SPS: MaxFrameNum 16, MaxPicOrderCntLsb 256, 2 references, a DPB
    of ``max_dpb_frames`` (max_dec_frame_buffering; the reorder limit as large)."""
    fields = dict(profile_idc=100, level_idc=40, log2_max_frame_num_minus4=0,
                  pic_order_cnt_type=0, log2_max_pic_order_cnt_lsb_minus4=4, max_num_ref_frames=2,
                  gaps_in_frame_num_value_allowed_flag=1, pic_width_in_mbs_minus1=frame_width // 16 - 1,
                  pic_height_in_map_units_minus1=3, vui_parameters_present_flag=1,
                  bitstream_restriction_flag=1, max_dec_frame_buffering=max_dpb_frames,
                  max_num_reorder_frames=max_dpb_frames)
    fields.update(elements)
    return SPS.from_fields(**fields)


def make_header(sps: SPS, pps: PPS, nal: NalUnit, **elements) -> SliceHeader:
    """A slice header object with these element values (the others: their inferred values)."""
    sh = SliceHeader()
    sh.sps, sh.pps = sps, pps
    sh.nal_unit_type, sh.nal_ref_idc = nal.nal_unit_type, nal.nal_ref_idc
    sh.IdrPicFlag = int(nal.nal_unit_type == 5)
    sh.pic_parameter_set_id = pps.pic_parameter_set_id
    for name, value in elements.items():
        assert hasattr(SliceHeader, name) or name in SliceHeader.__annotations__, name
        setattr(sh, name, value)
    return sh


def au(sps: SPS, st: str, fn: int, lsb: int, ref: int = 1, idr: bool = False, field: int = 0,
       bottom: int = 0, n_l0: int = 1, n_l1: int = 1, pps_elements: dict | None = None,
       slices: int = 1, first_mbs: tuple[int, ...] | None = None, **hdr) -> AccessUnit:
    pps = PPS.from_fields(sps, **(pps_elements or {}))
    out = []
    for i in range(slices):
        nal = NalUnit(5 if idr else 1, ref, bytes([0x65, i]))
        h = dict(slice_type={"P": 0, "B": 1, "I": 2}[st], frame_num=fn, pic_order_cnt_lsb=lsb,
                 field_pic_flag=field, bottom_field_flag=bottom,
                 first_mb_in_slice=(first_mbs[i] if first_mbs else i),
                 num_ref_idx_l0_active_minus1=n_l0 - 1, num_ref_idx_l1_active_minus1=n_l1 - 1,
                 header_bit_size=40)
        h.update(hdr)
        out.append(Slice(nal, make_header(sps, pps, nal, **h)))
    return AccessUnit(nals=[s.nal for s in out], slices=out)


def kinds(events: list) -> list[tuple[str, int]]:
    short = {PictureDecode: "D", PictureOutput: "O", PictureRelease: "R", SequenceStart: "S"}
    return [(short[type(e)], getattr(e, "timestamp_ns", -1)) for e in events]


def feed(dec: H264Decoder, aus: list) -> list:
    events = []
    for i, a in enumerate(aus):
        events += dec.decode_access_unit(a, i)
    return events


class TestBumping:
    def test_ipbb_with_full_dpb(self) -> None:
        sps = make_sps()
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True), au(sps, "P", 1, 12),
                        au(sps, "B", 2, 4, ref=0), au(sps, "B", 2, 8, ref=0)])
        ev += dec.flush()
        # I and P fill the 2 frame buffers; B(4): I (POC 0) bumped, then B has the smallest
        # POC of what waits and is output without being stored (C.4.5.2); same for B(8).
        assert kinds(ev) == [("S", -1), ("D", 0), ("D", 1), ("D", 2), ("O", 0), ("O", 2), ("R", 2),
                             ("D", 3), ("O", 3), ("R", 3), ("O", 1), ("R", 0), ("R", 1)]
        assert [e.poc for e in ev if isinstance(e, PictureOutput)] == [0, 4, 8, 12]

    def test_reorder_limit_outputs_early(self) -> None:
        sps = make_sps(bitstream_restriction_flag=1, max_num_reorder_frames=0, max_dpb_frames=4,
                       max_num_ref_frames=4)
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True), au(sps, "P", 1, 2), au(sps, "P", 2, 4)])
        assert kinds(ev) == [("S", -1), ("D", 0), ("O", 0), ("D", 1), ("O", 1), ("D", 2), ("O", 2)]

    def test_sliding_window_releases_after_output(self) -> None:
        sps = make_sps(max_num_ref_frames=1, max_dpb_frames=1)
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True), au(sps, "P", 1, 2), au(sps, "P", 2, 4)])
        # dpb_size 1: each P bumps the previous picture, which the sliding window then frees
        assert kinds(ev) == [("S", -1), ("D", 0), ("D", 1), ("O", 0), ("R", 0), ("D", 2), ("O", 1), ("R", 1)]
        d = ev[2]
        assert [(r.timestamp_ns, r.fields) for r in d.dpb] == [(0, FRAME)]
        assert d.slices[0].ref_pic_list0 == [PictureReference(d.dpb[0], FRAME)]
        dp = v4l2_controls.picture_controls(d)["decode_params"]
        assert dp["dpb"][0]["reference_ts"] == 0 and dp["dpb"][0]["fields"] == u.V4L2_H264_FRAME_REF
        params, _ = v4l2_controls.slice_controls(d, d.slices[0])
        assert params["ref_pic_list0"][0] == {"fields": 3, "index": 0}


class TestFields:
    def test_pair_shares_timestamp_and_references_first_field(self) -> None:
        sps = make_sps(frame_mbs_only_flag=0, max_dpb_frames=2)
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True, field=1),
                        au(sps, "P", 0, 1, field=1, bottom=1)])
        d1, d2 = [e for e in ev if isinstance(e, PictureDecode)]
        assert (d1.timestamp_ns, d2.timestamp_ns) == (0, 0)
        assert d1.is_first_field and not d1.is_second_field
        assert d2.is_second_field and not d2.is_first_field
        assert [(r.timestamp_ns, r.fields, r.field_coded) for r in d2.dpb] == [(0, TOP, True)]
        assert d2.slices[0].ref_pic_list0 == [PictureReference(d2.dpb[0], TOP)]
        dp = v4l2_controls.picture_controls(d2)["decode_params"]
        assert dp["flags"] & u.V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC
        assert dp["flags"] & u.V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD
        assert dp["top_field_order_cnt"] == 0 and dp["bottom_field_order_cnt"] == 1
        entry = dp["dpb"][0]
        assert entry["reference_ts"] == 0 and entry["fields"] == u.V4L2_H264_TOP_FIELD_REF
        assert entry["flags"] & u.V4L2_H264_DPB_ENTRY_FLAG_FIELD
        params, _ = v4l2_controls.slice_controls(d2, d2.slices[0])
        assert params["ref_pic_list0"][0] == {"fields": u.V4L2_H264_TOP_FIELD_REF, "index": 0}
        assert d2.reference_timestamps == ()  # its own buffer, not another picture
        ev = dec.flush()
        assert kinds(ev) == [("O", 0), ("R", 0)]
        assert ev[0].fields == 3 and ev[0].poc == 0

    def test_unpaired_field_is_output_alone(self) -> None:
        sps = make_sps(frame_mbs_only_flag=0)
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True, field=1), au(sps, "P", 1, 4, field=1),
                        au(sps, "P", 1, 5, field=1, bottom=1)])
        ev += dec.flush()
        decodes = [e for e in ev if isinstance(e, PictureDecode)]
        assert [(d.timestamp_ns, d.is_second_field) for d in decodes] == [(0, False), (1, False), (1, True)]
        outs = [e for e in ev if isinstance(e, PictureOutput)]
        assert [(o.timestamp_ns, o.fields) for o in outs] == [(0, 1), (1, 3)]


class TestGapsAndMarking:
    def test_frame_num_gap_inserts_non_existing_frames(self) -> None:
        sps = make_sps(max_num_ref_frames=3, max_dpb_frames=3, pic_order_cnt_type=2)
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True), au(sps, "P", 1, 0), au(sps, "P", 4, 0, n_l0=3)])
        d = [e for e in ev if isinstance(e, PictureDecode)][-1]
        # sliding window over 3 frames: fn 0 slid out by the two non-existing frames 2 and 3,
        # which alias the buffer of fn 1 (the last real reference)
        assert sorted((r.frame_num, r.timestamp_ns, r.non_existing) for r in d.dpb) == \
            [(1, 1, False), (2, 1, True), (3, 1, True)]
        assert [e.picture.frame_num for e in d.slices[0].ref_pic_list0] == [3, 2, 1]
        dpb = v4l2_controls.picture_controls(d)["decode_params"]["dpb"]
        l0 = v4l2_controls.slice_controls(d, d.slices[0])[0]["ref_pic_list0"][:3]
        assert [dpb[x["index"]]["frame_num"] for x in l0] == [3, 2, 1]
        assert d.reference_timestamps == (1,)
        # storing fn 4 bumps fn 1, which is no longer a reference: it is output, but its
        # buffer stays held while the non-existing frames 2 and 3 alias it
        assert kinds(ev)[-4:] == [("O", 0), ("R", 0), ("D", 2), ("O", 1)]
        ev = dec.flush()
        assert [e.timestamp_ns for e in ev if isinstance(e, PictureOutput)] == [2]
        assert sorted(e.timestamp_ns for e in ev if isinstance(e, PictureRelease)) == [1, 2]

    def test_idr_no_output_of_prior_pics(self) -> None:
        sps = make_sps()
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True), au(sps, "P", 1, 4),
                        au(sps, "I", 0, 0, idr=True, no_output_of_prior_pics_flag=1)])
        assert kinds(ev)[-3:] == [("R", 0), ("R", 1), ("D", 2)]
        assert not any(isinstance(e, PictureOutput) for e in ev)

    def test_idr_outputs_prior_pictures_first(self) -> None:
        sps = make_sps()
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True), au(sps, "P", 1, 4), au(sps, "I", 0, 0, idr=True)])
        assert kinds(ev)[-5:] == [("O", 0), ("O", 1), ("R", 0), ("R", 1), ("D", 2)]

    def test_mmco5_bumps_prior_pictures_and_resets_poc(self) -> None:
        sps = make_sps(max_dpb_frames=3, max_num_ref_frames=3)
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True), au(sps, "P", 1, 8),
                        au(sps, "P", 2, 12, adaptive_ref_pic_marking_mode_flag=1, mmco=[MMCO(5)]),
                        au(sps, "P", 1, 2)])
        ev += dec.flush()
        outs = [(e.timestamp_ns, e.poc) for e in ev if isinstance(e, PictureOutput)]
        # the MMCO 5 picture gets POC 0 (12 - tempPicOrderCnt) and frame_num 0; the next
        # picture's POC continues from it (prevPicOrderCntLsb = 0)
        assert outs == [(0, 0), (1, 8), (2, 0), (3, 2)]
        d3 = [e for e in ev if isinstance(e, PictureDecode)][3]
        assert [(r.timestamp_ns, r.frame_num) for r in d3.dpb] == [(2, 0)]

    def test_long_term_reference_in_dpb_entry(self) -> None:
        sps = make_sps(max_dpb_frames=3, max_num_ref_frames=3)
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "I", 0, 0, idr=True, long_term_reference_flag=1), au(sps, "P", 1, 2, n_l0=2)])
        d = [e for e in ev if isinstance(e, PictureDecode)][1]
        (r,) = d.dpb
        assert (r.long_term, r.short_term, r.long_term_frame_idx) == (FRAME, 0, 0)
        assert d.slices[0].ref_pic_list0 == [PictureReference(r, FRAME), None]
        e = v4l2_controls.picture_controls(d)["decode_params"]["dpb"][0]
        assert e["flags"] & u.V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM
        assert (e["frame_num"], e["pic_num"]) == (0, 0)  # LongTermFrameIdx, LongTermPicNum
        params, _ = v4l2_controls.slice_controls(d, d.slices[0])
        assert params["ref_pic_list0"][:2] == [{"fields": 3, "index": 0}, {"fields": 0xFF, "index": 0xFF}]


class TestRobustness:
    def test_starts_at_first_i_picture(self) -> None:
        sps = make_sps()
        dec = H264Decoder()
        ev = feed(dec, [au(sps, "P", 5, 10), au(sps, "B", 6, 8, ref=0), au(sps, "I", 6, 12), au(sps, "P", 7, 14)])
        ev += dec.flush()
        assert dec.skipped_access_units == 2
        assert [e.timestamp_ns for e in ev if isinstance(e, PictureDecode)] == [2, 3]
        assert [e.timestamp_ns for e in ev if isinstance(e, PictureOutput)] == [2, 3]

    def test_fmo_is_unsupported(self) -> None:
        a = au(make_sps(), "I", 0, 0, idr=True, pps_elements={"num_slice_groups_minus1": 1})
        with pytest.raises(UnsupportedStream, match="flexible macroblock ordering"):
            H264Decoder().decode_access_unit(a, 0)

    def test_aso_is_unsupported(self) -> None:
        # Baseline without constraint_set1_flag allows arbitrary slice order: a valid stream
        a = au(make_sps(profile_idc=66), "I", 0, 0, idr=True, slices=2, first_mbs=(8, 0))
        with pytest.raises(UnsupportedStream, match="arbitrary slice order"):
            H264Decoder().decode_access_unit(a, 0)

    def test_slice_out_of_order_without_aso_is_damage(self) -> None:
        # High profile has no ASO: a slice out of order (here a repeated one) is dropped, noted,
        # and its picture decoded from the others, marked damaged
        a = au(make_sps(), "I", 0, 0, idr=True, slices=3, first_mbs=(0, 8, 8))
        dec = H264Decoder()
        (d,) = [e for e in dec.decode_access_unit(a, 0) if isinstance(e, PictureDecode)]
        assert [s.header.first_mb_in_slice for s in d.slices] == [0, 8]
        assert d.damaged and dec.damaged_pictures == 1 and dec.skipped_nal_units == 1
        (note,) = dec.damage
        assert "first_mb_in_slice=8 after one with 8" in note.message and note.nal_unit_type == 5

    def test_redundant_slices_dropped(self) -> None:
        a = au(make_sps(), "I", 0, 0, idr=True, slices=2)
        a.slices[1].header.redundant_pic_cnt = 1
        ev = H264Decoder().decode_access_unit(a, 0)
        (d,) = [e for e in ev if isinstance(e, PictureDecode)]
        assert len(d.slices) == 1

    def test_new_sequence_outputs_old_pictures_first(self) -> None:
        small, big = make_sps(), make_sps(frame_width=128)
        dec = H264Decoder()
        ev = feed(dec, [au(small, "I", 0, 0, idr=True), au(big, "I", 0, 0, idr=True)])
        assert kinds(ev) == [("S", -1), ("D", 0), ("O", 0), ("R", 0), ("S", -1), ("D", 1)]
        assert ev[4].coded_width == 128 and ev[4].crop.width == 128


def test_recovery_point_sei_starts_decoding() -> None:
    """A P picture carrying an SEI recovery_point (payloadType 6) is a valid start."""
    sps = make_sps()
    a = au(sps, "P", 3, 6)
    a.nals.insert(0, NalUnit.from_bytes(b"\x06\x06\x01\x84\x80"))
    other = NalUnit.from_bytes(b"\x06\x05\x01\x00\x80")
    b = au(sps, "P", 2, 4)
    b.nals.insert(0, other)  # user data unregistered: not a recovery point
    dec = H264Decoder()
    assert dec.decode_access_unit(b, 0) == []
    ev = dec.decode_access_unit(a, 1)
    assert [type(e).__name__ for e in ev] == ["SequenceStart", "PictureDecode"]
