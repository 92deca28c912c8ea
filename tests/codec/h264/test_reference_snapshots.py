"""The decoder keeps each frame store's ReferencePicture snapshot and makes a new one only when
one of its inputs changed; v4l2_controls keeps each snapshot's dpb[] entry dict while the
snapshot (and the current picture's structure) stays the same. The stream-wide equality with
reference builders is checked by test_controls_reference.py on every vector."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyv4l2req.codec.h264 import v4l2_controls
from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter
from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode, _reference_pictures
from pyv4l2req.codec.h264.dpb import BOTTOM, FRAME, TOP, FrameStore

from .test_controls_reference import ref_dpb_entries, ref_reference_pictures

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def _stores() -> list[FrameStore]:
    a = FrameStore(1000, 3, decoded=FRAME, top_field_order_cnt=6, bottom_field_order_cnt=7, short_ref=FRAME,
                   frame_num_wrap=3)
    b = FrameStore(2000, 4, decoded=FRAME, top_field_order_cnt=8, bottom_field_order_cnt=8, short_ref=FRAME,
                   frame_num_wrap=4, field_coded=True, first_field=BOTTOM)
    return [a, b]


def test_unchanged_stores_keep_their_snapshot() -> None:
    stores = _stores()
    first, used = _reference_pictures(stores)
    again, _ = _reference_pictures(stores)
    assert again == first == ref_reference_pictures(stores)
    assert used == stores
    assert all(x is y for x, y in zip(first, again))


@pytest.mark.parametrize("change", [
    lambda fs: setattr(fs, "short_ref", TOP),
    lambda fs: (setattr(fs, "short_ref", 0), setattr(fs, "long_ref", FRAME), setattr(fs, "long_term_frame_idx", 2)),
    lambda fs: setattr(fs, "frame_num_wrap", fs.frame_num_wrap - 16),
    lambda fs: setattr(fs, "frame_num", 0),
    lambda fs: setattr(fs, "decoded", TOP),
    lambda fs: setattr(fs, "top_field_order_cnt", -2),
    lambda fs: setattr(fs, "bottom_field_order_cnt", -1),
])
def test_a_changed_input_makes_a_new_snapshot(change) -> None:
    stores = _stores()
    before, _ = _reference_pictures(stores)
    for fs in stores:
        change(fs)
    after, _ = _reference_pictures(stores)
    assert after == ref_reference_pictures(stores)
    assert after != before


def test_a_long_term_index_change_makes_a_new_snapshot() -> None:
    stores = _stores()
    for fs in stores:
        fs.short_ref, fs.long_ref, fs.long_term_frame_idx = 0, FRAME, 1
    _reference_pictures(stores)
    stores[0].long_term_frame_idx = 5
    assert _reference_pictures(stores)[0] == ref_reference_pictures(stores)


@pytest.mark.parametrize("name", ["main_bframes_176x144.h264", "mbaff_176x144.h264"])
def test_dpb_entries_are_shared_while_their_snapshot_is(name: str) -> None:
    sp = AccessUnitSplitter()
    aus = sp.feed((FIXTURES / name).read_bytes()) + sp.flush()
    dec = H264Decoder(slice_controls=False)
    entry_of: dict[int, tuple[object, int, dict]] = {}  # id(snapshot) -> (snapshot, structure, entry)
    shared = 0
    for i, au in enumerate(aus):
        for pic in dec.decode_access_unit(au, i + 1):
            if not isinstance(pic, PictureDecode):
                continue
            dpb = v4l2_controls.picture_controls(pic)["decode_params"]["dpb"]
            assert dpb == ref_dpb_entries(pic.dpb, pic.structure)
            for ref, entry in zip(pic.dpb, dpb):
                seen = entry_of.get(id(ref))
                if seen is not None and seen[0] is ref and seen[1] == pic.structure:
                    assert seen[2] is entry
                    shared += 1
                entry_of[id(ref)] = (ref, pic.structure, entry)
    assert shared > 0
