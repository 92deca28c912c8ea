"""Decoded picture buffer and decoded reference picture marking (H.264 8.2.4.1, 8.2.5).

A :class:`FrameStore` is one frame buffer of the DPB (C.4): a frame, a complementary field pair
or a single field, with per-field marking (bit 1 = top field, bit 2 = bottom field, 3 = both,
the values of ``V4L2_H264_TOP_FIELD_REF`` / ``BOTTOM`` / ``FRAME``). :class:`Dpb` holds the
frame stores and implements the sliding window (8.2.5.3), the adaptive marking operations
MMCO 1-6 (8.2.5.4) and IDR marking (8.2.5.1). Output/bumping lives in :mod:`.output`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from .slice import MMCO

__all__ = ["TOP", "BOTTOM", "FRAME", "FrameStore", "Dpb", "opposite"]

TOP = 1
BOTTOM = 2
FRAME = 3


def opposite(parity: int) -> int:
    """The other field parity."""
    return BOTTOM if parity == TOP else TOP


@dataclass(eq=False, slots=True)
class FrameStore:
    """One frame buffer: a decoded frame / field pair / single field and its marking."""

    timestamp_ns: int
    frame_num: int
    decoded: int = 0                  # fields decoded so far (TOP|BOTTOM bits)
    top_field_order_cnt: int = 0
    bottom_field_order_cnt: int = 0
    short_ref: int = 0                # fields marked "used for short-term reference"
    long_ref: int = 0                 # fields marked "used for long-term reference"
    long_term_frame_idx: int = -1
    needed_for_output: bool = False
    non_existing: bool = False        # frame_num gap filler (8.2.5.2): no CAPTURE buffer of its own
    owns_buffer: bool = True          # False for non-existing frames (they alias another picture)
    field_coded: bool = False         # coded as field picture(s)
    first_field: int = FRAME          # parity of the first coded field (field_coded only)
    is_idr: bool = False
    mmco5: bool = False
    decode_index: int = 0
    frame_num_wrap: int = 0           # 8-27, relative to the current picture
    crop: object = None               # display rectangle of the picture's SPS
    #: the decoder's snapshot of this store as a reference picture (a picture.ReferencePicture,
    #: shared by the successive pictures that see it unchanged) and the inputs it was made from
    reference: object = field(default=None, repr=False)
    reference_key: tuple | None = field(default=None, repr=False)

    @property
    def is_ref(self) -> bool:
        return bool(self.short_ref | self.long_ref)

    @property
    def ref(self) -> int:
        return self.short_ref | self.long_ref

    @property
    def complete(self) -> bool:
        return self.decoded == FRAME

    def field_poc(self, parity: int) -> int:
        return self.top_field_order_cnt if parity == TOP else self.bottom_field_order_cnt

    @property
    def poc(self) -> int:
        """PicOrderCnt() of the frame buffer: min of the decoded fields (8-1)."""
        decoded = self.decoded
        if decoded == TOP:
            return self.top_field_order_cnt
        if decoded == BOTTOM:
            return self.bottom_field_order_cnt
        top, bottom = self.top_field_order_cnt, self.bottom_field_order_cnt
        return top if top <= bottom else bottom

    def __repr__(self) -> str:  # compact, for test failures
        return (f"FrameStore(ts={self.timestamp_ns}, fn={self.frame_num}, poc={self.poc}, "
                f"dec={self.decoded}, s={self.short_ref}, l={self.long_ref}/{self.long_term_frame_idx}, "
                f"out={self.needed_for_output}{', nonexisting' if self.non_existing else ''})")


@dataclass
class Dpb:
    """Frame stores of the DPB (the current picture's store is added by the caller)."""

    stores: list[FrameStore] = field(default_factory=list)
    max_long_term_frame_idx: int = -1  # -1 = "no long-term frame indices"

    def __iter__(self) -> Iterator[FrameStore]:
        return iter(self.stores)

    def __len__(self) -> int:
        return len(self.stores)

    # -- picture numbers (8.2.4.1) ------------------------------------------------------------
    def update_frame_num_wrap(self, frame_num: int, max_frame_num: int,
                              extra: Iterable[FrameStore] = ()) -> None:
        """FrameNumWrap of every short-term reference relative to the current frame_num."""
        for stores in (self.stores, extra):
            for fs in stores:
                fn = fs.frame_num
                fs.frame_num_wrap = fn - max_frame_num if fn > frame_num else fn

    @staticmethod
    def pic_num(fs: FrameStore, parity: int, current_structure: int) -> int:
        """PicNum of field *parity* of *fs* (or of the frame when decoding a frame)."""
        if current_structure == FRAME:
            return fs.frame_num_wrap
        return 2 * fs.frame_num_wrap + (1 if parity == current_structure else 0)

    @staticmethod
    def long_term_pic_num(fs: FrameStore, parity: int, current_structure: int) -> int:
        if current_structure == FRAME:
            return fs.long_term_frame_idx
        return 2 * fs.long_term_frame_idx + (1 if parity == current_structure else 0)

    # -- marking ------------------------------------------------------------------------------
    def unmark_all(self, keep: FrameStore | None = None) -> None:
        """Mark every picture but *keep* "unused for reference" (IDR, MMCO 5)."""
        for fs in self.stores:
            if fs is not keep:
                fs.short_ref = fs.long_ref = 0
        self.max_long_term_frame_idx = -1

    def num_ref_frames(self, exclude: FrameStore | None = None) -> tuple[int, int]:
        """(numShortTerm, numLongTerm) counted in frames / field pairs / single fields."""
        short = long = 0
        for fs in self.stores:
            if fs is exclude:
                continue
            if fs.short_ref:
                short += 1
            elif fs.long_ref:
                long += 1
        return short, long

    def sliding_window(self, current: FrameStore, max_num_ref_frames: int) -> list[FrameStore]:
        """8.2.5.3; returns the frame stores that lost their last reference marking."""
        if current.short_ref and current in self.stores:
            return []  # second field of a pair whose first field is a short-term reference
        return self.enforce_ref_limit(current, max_num_ref_frames, strict=True)

    def enforce_ref_limit(self, current: FrameStore, max_num_ref_frames: int,
                          strict: bool = False) -> list[FrameStore]:
        """Drop the oldest short-term references while the DPB holds too many.

        With ``strict`` (sliding window) the current picture will add one: make room for it.
        """
        limit = max(max_num_ref_frames, 1) - (1 if strict else 0)
        dropped: list[FrameStore] = []
        while True:
            # numShortTerm + numLongTerm, and the short-term reference with the smallest
            # FrameNumWrap (the first one in DPB order when equal), in one pass
            short = long = 0
            oldest: FrameStore | None = None
            for fs in self.stores:
                if fs is current:
                    continue
                if fs.short_ref:
                    short += 1
                    if oldest is None or fs.frame_num_wrap < oldest.frame_num_wrap:
                        oldest = fs
                elif fs.long_ref:
                    long += 1
            if short + long <= limit or oldest is None:
                return dropped
            oldest.short_ref = 0
            dropped.append(oldest)

    def _short_term_by_pic_num(self, pic_num: int, structure: int,
                               current: FrameStore) -> tuple[FrameStore, int] | None:
        for fs in self._with_current(current):
            if structure == FRAME:
                if fs.short_ref == FRAME and fs.frame_num_wrap == pic_num and fs is not current:
                    return fs, FRAME
                continue
            for p in (TOP, BOTTOM):
                if fs.short_ref & p and self.pic_num(fs, p, structure) == pic_num:
                    if fs is current and p == structure:
                        continue
                    return fs, p
        return None

    def _long_term_by_pic_num(self, lt_pic_num: int, structure: int,
                              current: FrameStore) -> tuple[FrameStore, int] | None:
        for fs in self._with_current(current):
            if structure == FRAME:
                if fs.long_ref == FRAME and fs.long_term_frame_idx == lt_pic_num and fs is not current:
                    return fs, FRAME
                continue
            for p in (TOP, BOTTOM):
                if fs.long_ref & p and self.long_term_pic_num(fs, p, structure) == lt_pic_num:
                    if fs is current and p == structure:
                        continue
                    return fs, p
        return None

    def _with_current(self, current: FrameStore) -> list[FrameStore]:
        return self.stores if current in self.stores else [*self.stores, current]

    def adaptive_marking(self, current: FrameStore, structure: int, curr_pic_num: int,
                         ops: Iterable[MMCO]) -> tuple[bool, bool]:
        """8.2.5.4: apply MMCO 1-6. Returns (had MMCO 5, current marked long-term by MMCO 6)."""
        mmco5 = False
        long_term_current = False
        for op in ops:
            kind = op.memory_management_control_operation
            if kind == 1:
                x = self._short_term_by_pic_num(curr_pic_num - (op.difference_of_pic_nums_minus1 + 1),
                                                structure, current)
                if x is not None:
                    x[0].short_ref &= ~x[1]
            elif kind == 2:
                x = self._long_term_by_pic_num(op.long_term_pic_num, structure, current)
                if x is not None:
                    x[0].long_ref &= ~x[1]
            elif kind == 3:
                x = self._short_term_by_pic_num(curr_pic_num - (op.difference_of_pic_nums_minus1 + 1),
                                                structure, current)
                if x is None:
                    continue
                fs, p = x
                idx = op.long_term_frame_idx
                for other in self._with_current(current):
                    if other is not fs and other.long_ref and other.long_term_frame_idx == idx:
                        other.long_ref = 0
                if fs.long_ref and fs.long_term_frame_idx != idx:
                    fs.long_ref = 0  # the sibling field had another LongTermFrameIdx
                fs.short_ref &= ~p
                fs.long_ref |= p
                fs.long_term_frame_idx = idx
            elif kind == 4:
                self.max_long_term_frame_idx = op.max_long_term_frame_idx_plus1 - 1
                for fs in self._with_current(current):
                    if fs.long_ref and fs.long_term_frame_idx > self.max_long_term_frame_idx:
                        fs.long_ref = 0
            elif kind == 5:
                for fs in self.stores:
                    if fs is not current:
                        fs.short_ref = fs.long_ref = 0
                    else:  # the first field of the current frame
                        fs.short_ref = fs.long_ref = 0
                self.max_long_term_frame_idx = -1
                mmco5 = True
            elif kind == 6:
                idx = op.long_term_frame_idx
                for other in self._with_current(current):
                    if other is not current and other.long_ref and other.long_term_frame_idx == idx:
                        other.long_ref = 0
                if current.long_ref and current.long_term_frame_idx != idx:
                    current.long_ref = 0
                current.short_ref &= ~structure
                current.long_ref |= structure
                current.long_term_frame_idx = idx
                long_term_current = True
        return mmco5, long_term_current

    def remove_unused(self, keep: FrameStore | None = None) -> list[FrameStore]:
        """Empty the frame buffers neither referenced nor waiting for output (C.4.4)."""
        gone = [fs for fs in self.stores if not (fs.needed_for_output or fs.short_ref or fs.long_ref)
                and fs is not keep]
        if gone:
            self.stores = [fs for fs in self.stores if fs not in gone]
        return gone
