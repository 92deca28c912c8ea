"""Reference picture list initialisation (8.2.4.2.1-8.2.4.2.5) and modification (8.2.4.3)
on hand-built DPBs; the expected lists follow the ordering rules of the spec text."""

from __future__ import annotations

from pyv4l2req.codec.h264.dpb import BOTTOM, FRAME, TOP, Dpb, FrameStore
from pyv4l2req.codec.h264.reflists import (
    RefPic,
    build_lists,
    init_b_lists,
    init_p_list,
    modify_list,
)


def frame(fn: int, poc: int = 0, short: int = FRAME, long: int = 0, lt_idx: int = -1,
          decoded: int = FRAME) -> FrameStore:
    return FrameStore(fn * 10 + 1000 * lt_idx if long else fn * 10, fn, decoded=decoded,
                      top_field_order_cnt=poc, bottom_field_order_cnt=poc, short_ref=short,
                      long_ref=long, long_term_frame_idx=lt_idx)


def wrap(stores: list[FrameStore], frame_num: int, max_frame_num: int = 16) -> list[FrameStore]:
    Dpb(stores=stores).update_frame_num_wrap(frame_num, max_frame_num)
    return stores


def names(lst) -> list:
    return [None if e is None else (e.store.frame_num, e.parity) for e in lst]


class TestP:
    def test_frame_descending_pic_num_then_long_term(self) -> None:
        f14, f15, f1 = frame(14), frame(15), frame(1)
        lt1, lt0 = frame(7, short=0, long=FRAME, lt_idx=1), frame(8, short=0, long=FRAME, lt_idx=0)
        stores = wrap([f14, lt1, f1, f15, lt0], 2)
        assert names(init_p_list(stores, FRAME)) == [(1, FRAME), (15, FRAME), (14, FRAME),
                                                     (8, FRAME), (7, FRAME)]

    def test_frame_list_needs_both_fields_marked(self) -> None:
        half = frame(3, short=TOP)
        stores = wrap([half, frame(2)], 4)
        assert names(init_p_list(stores, FRAME)) == [(2, FRAME)]

    def test_field_alternates_parity_from_frame_list(self) -> None:
        # refFrameList0ShortTerm = [fn 2, fn 1] (FrameNumWrap descending); fn 2 has only its
        # bottom field marked: same parity (top) first, skipping missing fields (8.2.4.2.5)
        f2, f1 = frame(2, short=BOTTOM), frame(1)
        stores = wrap([f1, f2], 3)
        assert names(init_p_list(stores, TOP)) == [(1, TOP), (2, BOTTOM), (1, BOTTOM)]
        assert names(init_p_list(stores, BOTTOM)) == [(2, BOTTOM), (1, TOP), (1, BOTTOM)]

    def test_second_field_references_first_field(self) -> None:
        first = FrameStore(50, 5, decoded=TOP, short_ref=TOP)
        stores = wrap([frame(4), first], 5)
        assert names(init_p_list(stores, BOTTOM)) == [(4, BOTTOM), (5, TOP), (4, TOP)]


class TestB:
    def test_frame_poc_order_and_long_term(self) -> None:
        a, b, c, d = frame(1, poc=2), frame(2, poc=4), frame(3, poc=10), frame(4, poc=12)
        lt = frame(0, poc=0, short=0, long=FRAME, lt_idx=0)
        l0, l1 = init_b_lists(wrap([c, a, lt, d, b], 5), FRAME, 8)
        assert names(l0) == [(2, FRAME), (1, FRAME), (3, FRAME), (4, FRAME), (0, FRAME)]
        assert names(l1) == [(3, FRAME), (4, FRAME), (2, FRAME), (1, FRAME), (0, FRAME)]

    def test_identical_lists_swap_first_two_of_list1(self) -> None:
        a, b = frame(1, poc=2), frame(2, poc=4)
        l0, l1 = init_b_lists(wrap([a, b], 3), FRAME, 8)
        assert names(l0) == [(2, FRAME), (1, FRAME)]
        assert names(l1) == [(1, FRAME), (2, FRAME)]

    def test_single_entry_not_swapped(self) -> None:
        l0, l1 = init_b_lists(wrap([frame(1, poc=2)], 3), FRAME, 8)
        assert names(l0) == names(l1) == [(1, FRAME)]

    def test_field_lists(self) -> None:
        # frames with POC (min of the fields) 4 and 12 around a current field with POC 8
        a = FrameStore(10, 1, decoded=FRAME, top_field_order_cnt=4, bottom_field_order_cnt=5, short_ref=FRAME)
        b = FrameStore(20, 2, decoded=FRAME, top_field_order_cnt=12, bottom_field_order_cnt=13, short_ref=FRAME)
        l0, l1 = init_b_lists(wrap([a, b], 3), TOP, 8)
        assert names(l0) == [(1, TOP), (1, BOTTOM), (2, TOP), (2, BOTTOM)]
        assert names(l1) == [(2, TOP), (2, BOTTOM), (1, TOP), (1, BOTTOM)]


class TestModification:
    def test_short_term_reorder(self) -> None:
        f1, f2, f3 = frame(1), frame(2), frame(3)
        stores = wrap([f1, f2, f3], 4)
        init = init_p_list(stores, FRAME)
        assert names(init) == [(3, FRAME), (2, FRAME), (1, FRAME)]
        # idc 0, abs_diff 3: picNum 4 - 3 = 1; then idc 1, abs_diff 1: picNum 1 + 1 = 2
        out = modify_list(init, [(0, 2), (1, 0)], 3, stores, FRAME, 4, 16)
        assert names(out) == [(1, FRAME), (2, FRAME), (3, FRAME)]

    def test_wrapping_pic_num_pred(self) -> None:
        f15, f0 = frame(15), frame(0)
        stores = wrap([f15, f0], 1)          # FrameNumWrap: 15 -> -1, 0 -> 0
        init = init_p_list(stores, FRAME)
        assert names(init) == [(0, FRAME), (15, FRAME)]
        # picNumNoWrap = 1 - 2 = -1 + 16 = 15 > CurrPicNum -> picNum = 15 - 16 = -1
        out = modify_list(init, [(0, 1)], 2, stores, FRAME, 1, 16)
        assert names(out) == [(15, FRAME), (0, FRAME)]

    def test_long_term_and_duplicates(self) -> None:
        f1 = frame(1)
        lt = frame(5, short=0, long=FRAME, lt_idx=3)
        stores = wrap([f1, lt], 2)
        init = init_p_list(stores, FRAME)
        out = modify_list(init, [(2, 3), (2, 3)], 3, stores, FRAME, 2, 16)
        assert names(out) == [(5, FRAME), (5, FRAME), (1, FRAME)]

    def test_list_padded_with_no_reference(self) -> None:
        stores = wrap([frame(1)], 2)
        out = modify_list(init_p_list(stores, FRAME), [], 3, stores, FRAME, 2, 16)
        assert names(out) == [(1, FRAME), None, None]

    def test_field_modification_picks_opposite_parity(self) -> None:
        f1 = frame(1)
        stores = wrap([f1], 2)
        # current top field: CurrPicNum 5; top of fn1 = 3, bottom of fn1 = 2
        l0, _ = build_lists(stores, "P", TOP, 0, 2, 1, [(0, 2)], [], 2, 16)
        assert names(l0) == [(1, BOTTOM), (1, TOP)]


def test_intra_has_no_lists() -> None:
    assert build_lists([frame(1)], "I", FRAME, 0, 1, 1, [], [], 2, 16) == ([], [])


def test_refpic_is_store_and_parity() -> None:
    fs = frame(1)
    assert RefPic(fs, TOP).store is fs
