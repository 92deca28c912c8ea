"""Decoded reference picture marking (H.264 8.2.4.1, 8.2.5.3, 8.2.5.4) on hand-built DPBs.

Expected values follow the spec text: PicNum = FrameNumWrap for frames, 2*FrameNumWrap+1 for
fields of the current parity and 2*FrameNumWrap for the other (8-28..8-30), picNumX =
CurrPicNum - (difference_of_pic_nums_minus1 + 1) (8-39), LongTermPicNum likewise (8-29/8-32).
"""

from __future__ import annotations

from pyv4l2req.codec.h264.dpb import BOTTOM, FRAME, TOP, Dpb, FrameStore
from pyv4l2req.codec.h264.slice import MMCO


def frame(fn: int, ts: int | None = None, short: int = FRAME, long: int = 0, lt_idx: int = -1) -> FrameStore:
    return FrameStore(ts if ts is not None else fn * 10, fn, decoded=FRAME, short_ref=short,
                      long_ref=long, long_term_frame_idx=lt_idx)


def dpb_of(*stores: FrameStore) -> Dpb:
    return Dpb(stores=list(stores))


class TestPicNums:
    def test_frame_num_wrap(self) -> None:
        d = dpb_of(frame(14), frame(15), frame(3))
        d.update_frame_num_wrap(2, 16)
        assert [fs.frame_num_wrap for fs in d] == [-2, -1, -13]

    def test_field_pic_nums(self) -> None:
        fs = frame(5)
        fs.frame_num_wrap = 5
        assert Dpb.pic_num(fs, TOP, TOP) == 11
        assert Dpb.pic_num(fs, BOTTOM, TOP) == 10
        assert Dpb.pic_num(fs, TOP, FRAME) == 5
        lt = frame(5, short=0, long=FRAME, lt_idx=2)
        assert Dpb.long_term_pic_num(lt, BOTTOM, BOTTOM) == 5
        assert Dpb.long_term_pic_num(lt, TOP, BOTTOM) == 4


class TestSlidingWindow:
    def test_removes_smallest_frame_num_wrap(self) -> None:
        a, b = frame(14), frame(15)
        d = dpb_of(a, b)
        cur = FrameStore(99, 0)
        d.update_frame_num_wrap(0, 16)
        assert d.sliding_window(cur, 2) == [a]
        assert not a.is_ref and b.short_ref == FRAME

    def test_below_limit_keeps_everything(self) -> None:
        d = dpb_of(frame(1), frame(2))
        d.update_frame_num_wrap(3, 16)
        assert d.sliding_window(FrameStore(99, 3), 3) == []

    def test_long_term_counts_but_is_not_removed(self) -> None:
        lt, st = frame(1, short=0, long=FRAME, lt_idx=0), frame(2)
        d = dpb_of(lt, st)
        d.update_frame_num_wrap(3, 16)
        assert d.sliding_window(FrameStore(99, 3), 2) == [st]
        assert lt.long_ref == FRAME

    def test_second_field_of_short_term_pair_skips(self) -> None:
        a = frame(1)
        cur = FrameStore(99, 2, decoded=TOP, short_ref=TOP)  # first field already marked
        d = dpb_of(a, cur)
        d.update_frame_num_wrap(2, 16)
        assert d.sliding_window(cur, 1) == []
        assert a.is_ref


class TestMmco:
    def test_mmco1_frame(self) -> None:
        f3, f4 = frame(3), frame(4)
        d = dpb_of(f3, f4)
        cur = FrameStore(99, 5)
        d.update_frame_num_wrap(5, 16)
        d.adaptive_marking(cur, FRAME, 5, [MMCO(1, difference_of_pic_nums_minus1=1)])
        assert not f3.is_ref and f4.short_ref == FRAME

    def test_mmco1_field_unmarks_one_field(self) -> None:
        f2 = frame(2)
        d = dpb_of(f2)
        cur = FrameStore(99, 3)
        d.update_frame_num_wrap(3, 16)
        # current bottom field, CurrPicNum = 2*3+1 = 7; picNumX = 5 = bottom field of fn 2
        d.adaptive_marking(cur, BOTTOM, 7, [MMCO(1, difference_of_pic_nums_minus1=1)])
        assert f2.short_ref == TOP
        # picNumX = 4 = top field of fn 2 (opposite parity: 2*FrameNumWrap)
        d.adaptive_marking(cur, BOTTOM, 7, [MMCO(1, difference_of_pic_nums_minus1=2)])
        assert not f2.is_ref

    def test_mmco2_long_term(self) -> None:
        lt0, lt1 = frame(1, short=0, long=FRAME, lt_idx=0), frame(2, short=0, long=FRAME, lt_idx=1)
        d = dpb_of(lt0, lt1)
        d.adaptive_marking(FrameStore(99, 3), FRAME, 3, [MMCO(2, long_term_pic_num=1)])
        assert lt0.long_ref == FRAME and not lt1.is_ref

    def test_mmco3_short_to_long_replacing_same_index(self) -> None:
        old = frame(1, short=0, long=FRAME, lt_idx=0)
        f2, f3 = frame(2), frame(3)
        d = dpb_of(old, f2, f3)
        d.update_frame_num_wrap(4, 16)
        d.adaptive_marking(FrameStore(99, 4), FRAME, 4,
                           [MMCO(3, difference_of_pic_nums_minus1=1, long_term_frame_idx=0)])
        assert not old.is_ref
        assert f2.long_ref == FRAME and f2.short_ref == 0 and f2.long_term_frame_idx == 0
        assert f3.short_ref == FRAME

    def test_mmco3_field_pair_keeps_sibling(self) -> None:
        f2 = frame(2)
        d = dpb_of(f2)
        d.update_frame_num_wrap(3, 16)
        cur = FrameStore(99, 3)
        # current top (CurrPicNum 7): picNum 5 = top field of fn 2, 4 = bottom field
        d.adaptive_marking(cur, TOP, 7, [MMCO(3, difference_of_pic_nums_minus1=1, long_term_frame_idx=1)])
        d.adaptive_marking(cur, TOP, 7, [MMCO(3, difference_of_pic_nums_minus1=2, long_term_frame_idx=1)])
        assert f2.long_ref == FRAME and f2.short_ref == 0 and f2.long_term_frame_idx == 1

    def test_mmco4_max_long_term_frame_idx(self) -> None:
        lts = [frame(i, short=0, long=FRAME, lt_idx=i) for i in range(3)]
        d = dpb_of(*lts)
        d.adaptive_marking(FrameStore(99, 5), FRAME, 5, [MMCO(4, max_long_term_frame_idx_plus1=2)])
        assert [fs.is_ref for fs in lts] == [True, True, False]
        assert d.max_long_term_frame_idx == 1
        d.adaptive_marking(FrameStore(98, 5), FRAME, 5, [MMCO(4, max_long_term_frame_idx_plus1=0)])
        assert not any(fs.is_ref for fs in lts)
        assert d.max_long_term_frame_idx == -1  # "no long-term frame indices"

    def test_mmco5_unmarks_all(self) -> None:
        d = dpb_of(frame(1), frame(2, short=0, long=FRAME, lt_idx=0))
        mmco5, lt = d.adaptive_marking(FrameStore(99, 3), FRAME, 3, [MMCO(5)])
        assert mmco5 and not lt
        assert not any(fs.is_ref for fs in d)

    def test_mmco6_current_long_term_replaces_index(self) -> None:
        old = frame(1, short=0, long=FRAME, lt_idx=2)
        d = dpb_of(old)
        cur = FrameStore(99, 3)
        mmco5, lt = d.adaptive_marking(cur, FRAME, 3, [MMCO(6, long_term_frame_idx=2)])
        assert lt and not mmco5
        assert not old.is_ref
        assert cur.long_ref == FRAME and cur.long_term_frame_idx == 2

    def test_mmco6_second_field_joins_first(self) -> None:
        cur = FrameStore(99, 3, decoded=TOP, long_ref=TOP, long_term_frame_idx=0)
        d = dpb_of(cur)
        d.adaptive_marking(cur, BOTTOM, 7, [MMCO(6, long_term_frame_idx=0)])
        assert cur.long_ref == FRAME and cur.long_term_frame_idx == 0


def test_remove_unused_keeps_output_and_refs() -> None:
    a, b, c = frame(1), frame(2, short=0), frame(3, short=0)
    b.needed_for_output = True
    d = dpb_of(a, b, c)
    assert d.remove_unused() == [c]
    assert d.stores == [a, b]


# -- single-pass bookkeeping against the plain two-pass reference ----------------------------
def _ref_enforce_ref_limit(dpb: Dpb, current: FrameStore, max_num_ref_frames: int,
                           strict: bool) -> list[FrameStore]:
    """The reference: count, then look for the oldest, with separate generator passes."""
    limit = max(max_num_ref_frames, 1) - (1 if strict else 0)
    dropped: list[FrameStore] = []
    while True:
        short = sum(1 for fs in dpb.stores if fs is not current and fs.short_ref)
        long = sum(1 for fs in dpb.stores if fs is not current and fs.long_ref and not fs.short_ref)
        if short + long <= limit or short == 0:
            return dropped
        oldest = min((fs for fs in dpb.stores if fs is not current and fs.short_ref),
                     key=lambda fs: fs.frame_num_wrap)
        oldest.short_ref = 0
        dropped.append(oldest)


def _random_dpb(rng: "random.Random") -> tuple[Dpb, FrameStore]:
    stores = []
    for i in range(rng.randint(0, 16)):
        fs = FrameStore(i, rng.randint(0, 15), decoded=rng.choice((TOP, BOTTOM, FRAME)),
                        short_ref=rng.choice((0, 0, TOP, BOTTOM, FRAME, FRAME)),
                        long_ref=rng.choice((0, 0, 0, TOP, BOTTOM, FRAME)),
                        long_term_frame_idx=rng.randint(0, 3),
                        needed_for_output=rng.random() < 0.5)
        fs.frame_num_wrap = rng.randint(-8, 15)  # ties too
        stores.append(fs)
    current = rng.choice(stores) if stores and rng.random() < 0.3 else FrameStore(99, 3)
    return Dpb(stores=stores), current


def _marking(dpb: Dpb) -> list[tuple[int, int]]:
    return [(fs.short_ref, fs.long_ref) for fs in dpb.stores]


def test_enforce_ref_limit_and_counts_equal_the_reference_on_random_dpbs() -> None:
    import copy
    import random

    rng = random.Random(1234)
    for _ in range(3000):
        dpb, current = _random_dpb(rng)
        max_refs, strict = rng.randint(0, 16), rng.random() < 0.5
        twin = copy.deepcopy((dpb, current))
        exclude = current if rng.random() < 0.5 else None
        twin_exclude = twin[1] if exclude is not None else None
        assert dpb.num_ref_frames(exclude) == (
            sum(1 for fs in twin[0].stores if fs is not twin_exclude and fs.short_ref),
            sum(1 for fs in twin[0].stores if fs is not twin_exclude and fs.long_ref and not fs.short_ref))
        got = dpb.enforce_ref_limit(current, max_refs, strict)
        want = _ref_enforce_ref_limit(twin[0], twin[1], max_refs, strict)
        assert [dpb.stores.index(fs) for fs in got] == [twin[0].stores.index(fs) for fs in want]
        assert _marking(dpb) == _marking(twin[0])
        keep = rng.choice(dpb.stores) if dpb.stores else None
        gone = dpb.remove_unused(keep)
        assert all(not fs.is_ref and not fs.needed_for_output and fs is not keep for fs in gone)
        assert all(fs.is_ref or fs.needed_for_output or fs is keep for fs in dpb.stores)
