"""Reference picture lists: initialisation (8.2.4.2) and modification (8.2.4.3).

An entry of a list is a :class:`RefPic` ``(store, parity)``: for frame decoding ``parity`` is
``FRAME``, for field decoding the parity of the referenced field. ``None`` stands for "no
reference picture". The caller has already set ``FrameStore.frame_num_wrap`` for the current
picture (:meth:`Dpb.update_frame_num_wrap`).
"""

from __future__ import annotations

from operator import attrgetter, itemgetter
from typing import Iterable, NamedTuple, Sequence

from .dpb import BOTTOM, FRAME, TOP, Dpb, FrameStore, opposite

__all__ = ["RefPic", "init_p_list", "init_b_lists", "modify_list", "build_lists"]


class RefPic(NamedTuple):
    store: FrameStore
    parity: int  # FRAME, TOP or BOTTOM


_first = itemgetter(0)
_frame_num_wrap = attrgetter("frame_num_wrap")
_long_term_frame_idx = attrgetter("long_term_frame_idx")


def _alternate(frames: Sequence[FrameStore], parity: int, marked: str) -> list[RefPic]:
    """8.2.4.2.5: fields alternately of the same and the opposite parity, same parity first."""
    same = [RefPic(fs, parity) for fs in frames if getattr(fs, marked) & parity]
    other = [RefPic(fs, opposite(parity)) for fs in frames if getattr(fs, marked) & opposite(parity)]
    out: list[RefPic] = []
    i = j = 0
    while i < len(same) or j < len(other):
        if i < len(same):
            out.append(same[i])
            i += 1
        if j < len(other):
            out.append(other[j])
            j += 1
    return out


def init_p_list(stores: Iterable[FrameStore], structure: int) -> list[RefPic]:
    """Initial RefPicList0 for P/SP slices (8.2.4.2.1 frames, 8.2.4.2.2 fields)."""
    stores = list(stores)
    if structure == FRAME:
        # short-term frames by descending PicNum (= FrameNumWrap), then long-term frames by
        # ascending LongTermPicNum (= LongTermFrameIdx); list.sort is stable, also reversed
        short = [fs for fs in stores if fs.short_ref == FRAME and not fs.long_ref]
        short.sort(key=_frame_num_wrap, reverse=True)
        long = [fs for fs in stores if fs.long_ref == FRAME]
        long.sort(key=_long_term_frame_idx)
        return [RefPic(fs, FRAME) for fs in (*short, *long)]
    short = sorted((fs for fs in stores if fs.short_ref), key=lambda fs: -fs.frame_num_wrap)
    long = sorted((fs for fs in stores if fs.long_ref), key=lambda fs: fs.long_term_frame_idx)
    return _alternate(short, structure, "short_ref") + _alternate(long, structure, "long_ref")


def init_b_lists(stores: Iterable[FrameStore], structure: int,
                 current_poc: int) -> tuple[list[RefPic], list[RefPic]]:
    """Initial RefPicList0/1 for B slices (8.2.4.2.3 frames, 8.2.4.2.4 fields)."""
    stores = list(stores)
    if structure == FRAME:
        # short-term frames with a lower POC by descending POC ("before"), with a higher POC
        # by ascending POC ("after"); long-term frames by ascending LongTermPicNum. Each
        # frame's PicOrderCnt and RefPic are made once; list.sort is stable, also reversed.
        before: list[tuple[int, RefPic]] = []
        after: list[tuple[int, RefPic]] = []
        long = []
        for fs in stores:
            if fs.long_ref:
                if fs.long_ref == FRAME:
                    long.append(fs)
            elif fs.short_ref == FRAME:
                poc = fs.poc
                if poc < current_poc:
                    before.append((poc, RefPic(fs, FRAME)))
                elif poc > current_poc:
                    after.append((poc, RefPic(fs, FRAME)))
        before.sort(key=_first, reverse=True)
        after.sort(key=_first)
        long.sort(key=_long_term_frame_idx)
        b = [ref for _, ref in before]
        a = [ref for _, ref in after]
        lt = [RefPic(fs, FRAME) for fs in long]
        l0 = b + a + lt
        l1 = a + b + lt
    else:
        short = [fs for fs in stores if fs.short_ref]
        long = sorted((fs for fs in stores if fs.long_ref), key=lambda fs: fs.long_term_frame_idx)
        before = sorted((fs for fs in short if fs.poc <= current_poc), key=lambda fs: -fs.poc)
        after = sorted((fs for fs in short if fs.poc > current_poc), key=lambda fs: fs.poc)
        lt = _alternate(long, structure, "long_ref")
        l0 = _alternate([*before, *after], structure, "short_ref") + lt
        l1 = _alternate([*after, *before], structure, "short_ref") + lt
    if len(l1) > 1 and l0 == l1:
        l1[0], l1[1] = l1[1], l1[0]
    return l0, l1


def modify_list(initial: list[RefPic], ops: Iterable[tuple[int, int]], num_active: int,
                stores: Iterable[FrameStore], structure: int, curr_pic_num: int,
                max_pic_num: int) -> list[RefPic | None]:
    """8.2.4.3: apply ref_pic_list_modification ops ``(modification_of_pic_nums_idc, value)``.

    ``value`` is abs_diff_pic_num_minus1 for idc 0/1 and long_term_pic_num for idc 2.
    Returns exactly ``num_active`` entries (``None`` = no reference picture).
    """
    lst: list[RefPic | None] = list(initial[:num_active])
    lst += [None] * (num_active - len(lst))
    ops = list(ops)
    if not ops:  # no ref_pic_list_modification(): the initial list, cut / padded
        return lst
    stores = list(stores)
    pic_num_pred = curr_pic_num
    ref_idx = 0
    for idc, value in ops:
        if idc == 3:
            break
        if ref_idx >= num_active:
            break
        if idc in (0, 1):
            diff = value + 1
            if idc == 0:
                no_wrap = pic_num_pred - diff
                if no_wrap < 0:
                    no_wrap += max_pic_num
            else:
                no_wrap = pic_num_pred + diff
                if no_wrap >= max_pic_num:
                    no_wrap -= max_pic_num
            pic_num_pred = no_wrap
            pic_num = no_wrap - max_pic_num if no_wrap > curr_pic_num else no_wrap
            target = _find_short(stores, pic_num, structure)

            def same(e: RefPic | None) -> bool:
                return (e is not None and (e.store.short_ref & e.parity) == e.parity
                        and Dpb.pic_num(e.store, e.parity, structure) == pic_num)
        elif idc == 2:
            lt = value
            target = _find_long(stores, lt, structure)

            def same(e: RefPic | None) -> bool:
                return (e is not None and (e.store.long_ref & e.parity) == e.parity
                        and Dpb.long_term_pic_num(e.store, e.parity, structure) == lt)
        else:
            continue
        rest = [e for e in lst[ref_idx:] if not same(e)]
        lst = lst[:ref_idx] + [target] + rest
        lst = (lst + [None] * num_active)[:num_active]
        ref_idx += 1
    return lst


def _find_short(stores: Sequence[FrameStore], pic_num: int, structure: int) -> RefPic | None:
    for fs in stores:
        if structure == FRAME:
            if fs.short_ref == FRAME and fs.frame_num_wrap == pic_num:
                return RefPic(fs, FRAME)
        else:
            for p in (TOP, BOTTOM):
                if fs.short_ref & p and Dpb.pic_num(fs, p, structure) == pic_num:
                    return RefPic(fs, p)
    return None


def _find_long(stores: Sequence[FrameStore], lt_pic_num: int, structure: int) -> RefPic | None:
    for fs in stores:
        if structure == FRAME:
            if fs.long_ref == FRAME and fs.long_term_frame_idx == lt_pic_num:
                return RefPic(fs, FRAME)
        else:
            for p in (TOP, BOTTOM):
                if fs.long_ref & p and Dpb.long_term_pic_num(fs, p, structure) == lt_pic_num:
                    return RefPic(fs, p)
    return None


def build_lists(stores: Sequence[FrameStore], slice_kind: str, structure: int, current_poc: int,
                num_l0: int, num_l1: int, ops_l0: Iterable[tuple[int, int]],
                ops_l1: Iterable[tuple[int, int]], frame_num: int,
                max_frame_num: int) -> tuple[list[RefPic | None], list[RefPic | None]]:
    """RefPicList0/1 of one slice: ``slice_kind`` is "P" (P/SP), "B" or "I" (no lists)."""
    if slice_kind == "I":
        return [], []
    if structure == FRAME:
        curr_pic_num, max_pic_num = frame_num, max_frame_num
    else:
        curr_pic_num, max_pic_num = 2 * frame_num + 1, 2 * max_frame_num
    if slice_kind == "P":
        l0 = init_p_list(stores, structure)
        return modify_list(l0, ops_l0, num_l0, stores, structure, curr_pic_num, max_pic_num), []
    l0, l1 = init_b_lists(stores, structure, current_poc)
    return (modify_list(l0, ops_l0, num_l0, stores, structure, curr_pic_num, max_pic_num),
            modify_list(l1, ops_l1, num_l1, stores, structure, curr_pic_num, max_pic_num))
