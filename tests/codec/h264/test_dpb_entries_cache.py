"""controls.dpb_entries keeps each frame store's entry dict and builds it again only when one
of its inputs changed (the stream-wide equality with the reference builder is checked by
test_controls_reference.py on every vector)."""

from __future__ import annotations

import pytest

from pyv4l2req.codec.h264 import controls as ctl
from pyv4l2req.codec.h264.dpb import BOTTOM, FRAME, TOP, FrameStore

from .test_controls_reference import ref_dpb_entries


def _stores() -> list[FrameStore]:
    a = FrameStore(1000, 3, decoded=FRAME, top_field_order_cnt=6, bottom_field_order_cnt=7, short_ref=FRAME,
                   frame_num_wrap=3)
    b = FrameStore(2000, 4, decoded=FRAME, top_field_order_cnt=8, bottom_field_order_cnt=8, short_ref=FRAME,
                   frame_num_wrap=4, field_coded=True, first_field=BOTTOM)
    return [a, b]


def test_unchanged_stores_share_their_entry() -> None:
    stores = _stores()
    first, _ = ctl.dpb_entries(stores, FRAME)
    again, _ = ctl.dpb_entries(stores, FRAME)
    assert again == first == ref_dpb_entries(stores, FRAME)[0]
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
@pytest.mark.parametrize("structure", [FRAME, TOP, BOTTOM])
def test_a_changed_input_rebuilds_the_entry(change, structure: int) -> None:
    stores = _stores()
    before, _ = ctl.dpb_entries(stores, structure)
    for fs in stores:
        change(fs)
    after, _ = ctl.dpb_entries(stores, structure)
    assert after == ref_dpb_entries(stores, structure)[0]
    assert after != before


def test_a_long_term_index_change_rebuilds_the_entry() -> None:
    stores = _stores()
    for fs in stores:
        fs.short_ref, fs.long_ref, fs.long_term_frame_idx = 0, FRAME, 1
    ctl.dpb_entries(stores, FRAME)
    stores[0].long_term_frame_idx = 5
    assert ctl.dpb_entries(stores, FRAME)[0] == ref_dpb_entries(stores, FRAME)[0]


def test_the_structure_of_the_current_picture_rebuilds_the_entry() -> None:
    stores = _stores()
    frame, _ = ctl.dpb_entries(stores, FRAME)
    top, _ = ctl.dpb_entries(stores, TOP)
    assert top == ref_dpb_entries(stores, TOP)[0] != frame
    assert ctl.dpb_entries(stores, FRAME)[0] == frame
