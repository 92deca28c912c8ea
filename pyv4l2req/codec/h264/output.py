"""Output order: the bumping process of the output-order DPB (H.264 C.4.4, C.4.5.3).

:class:`OutputQueue` works on a :class:`~.dpb.Dpb` and reports what happens to frame buffers as
``("output", store)`` / ``("release", store)`` actions, in order. A frame buffer is released
when it is neither needed for output nor used for reference; non-existing frames (frame_num
gaps) are never output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .dpb import BOTTOM, TOP, Dpb, FrameStore

__all__ = ["OutputQueue", "Action"]

Action = tuple[str, FrameStore]  # ("output" | "release", store)


@dataclass
class OutputQueue:
    """Bumping on a DPB of ``dpb_size`` frame buffers, plus an optional reorder limit."""

    dpb: Dpb
    dpb_size: int = 16
    max_num_reorder_frames: int | None = None   # from the VUI; None = only bump when full
    pending: FrameStore | None = None           # first field whose second field may follow
    actions: list[Action] = field(default_factory=list)

    def take_actions(self) -> list[Action]:
        out, self.actions = self.actions, []
        return out

    def _candidates(self) -> list[FrameStore]:
        pending = self.pending
        return [fs for fs in self.dpb.stores if fs.needed_for_output and fs is not pending]

    def bump(self, candidates: list[FrameStore] | None = None) -> bool:
        """Output the picture with the smallest POC (C.4.5.3); False when there is none.
        ``candidates``: :meth:`_candidates` when the caller has just computed it."""
        cands = self._candidates() if candidates is None else candidates
        if not cands:
            return False
        fs = min(cands, key=_output_order)
        fs.needed_for_output = False
        self.actions.append(("output", fs))
        if not (fs.short_ref or fs.long_ref):
            self.dpb.stores.remove(fs)
            self.actions.append(("release", fs))
        return True

    def remove_unused(self, keep: FrameStore | None = None) -> None:
        for fs in self.dpb.remove_unused(keep):
            self.actions.append(("release", fs))

    def flush_all(self, output: bool = True) -> None:
        """IDR / MMCO 5 / end of stream: output everything in POC order (or drop it)."""
        self.pending = None
        if output:
            while self.bump():
                pass
        for fs in list(self.dpb.stores):
            fs.needed_for_output = False
        self.dpb.unmark_all()
        self.remove_unused()

    def store(self, current: FrameStore, is_reference: bool, is_field: bool) -> None:
        """C.4.5.1 / C.4.5.2: make room for and store the current (non-second-field) picture."""
        self.remove_unused(current)  # keep
        while len(self.dpb.stores) >= self.dpb_size:
            if not is_reference and not is_field:
                cands = self._candidates()
                if not cands or current.poc < min(fs.poc for fs in cands):
                    # Output directly without storing (C.4.5.2).
                    current.needed_for_output = False
                    self.actions.append(("output", current))
                    self.actions.append(("release", current))
                    return
            if not self.bump():
                break  # nothing can leave: overflow rather than fail (broken stream)
        current.needed_for_output = True
        self.dpb.stores.append(current)

    def enforce_reorder(self) -> None:
        """Output early when more pictures wait than max_num_reorder_frames allows."""
        limit = self.max_num_reorder_frames
        if limit is None or len(self.dpb.stores) <= limit:  # the candidates are a subset
            return
        cands = self._candidates()
        excess = len(cands) - limit
        while excess > 0:
            self.bump(cands)
            excess -= 1
            if excess:
                # bumping changes no other picture's needed_for_output: the same list, less
                # the picture just output (not rebuilt after the last bump: usually the only one)
                cands = [fs for fs in cands if fs.needed_for_output]


def _output_order(fs: FrameStore) -> tuple[int, int]:
    """Bumping order: smallest PicOrderCnt first, the first decoded when equal.
    (FrameStore.poc inlined: this key is computed for every candidate of every bump.)"""
    decoded = fs.decoded
    top, bottom = fs.top_field_order_cnt, fs.bottom_field_order_cnt
    if decoded == TOP:
        return top, fs.decode_index
    if decoded == BOTTOM:
        return bottom, fs.decode_index
    return (top if top <= bottom else bottom), fs.decode_index
