"""The bumping process (C.4.5.3) of OutputQueue on hand-built frame buffers."""

from __future__ import annotations

from pyv4l2req.codec.h264.dpb import FRAME, TOP, Dpb, FrameStore
from pyv4l2req.codec.h264.output import OutputQueue


def pic(ts: int, poc: int, ref: bool = True, decoded: int = FRAME) -> FrameStore:
    return FrameStore(ts, 0, decoded=decoded, top_field_order_cnt=poc, bottom_field_order_cnt=poc,
                      short_ref=FRAME if ref else 0, decode_index=ts)


def acts(q: OutputQueue) -> list[tuple[str, int]]:
    return [(a, fs.timestamp_ns) for a, fs in q.take_actions()]


def test_bump_outputs_smallest_poc_and_frees_non_references() -> None:
    q = OutputQueue(Dpb(), dpb_size=3)
    q.store(pic(1, 8), True, False)
    q.store(pic(2, 4, ref=False), False, False)
    q.store(pic(3, 6), True, False)
    assert acts(q) == []
    assert q.bump()
    assert acts(q) == [("output", 2), ("release", 2)]
    assert q.bump()
    assert acts(q) == [("output", 3)]  # still a reference: stays in the DPB
    assert [fs.timestamp_ns for fs in q.dpb] == [1, 3]


def test_full_dpb_non_reference_with_lowest_poc_is_output_directly() -> None:
    q = OutputQueue(Dpb(), dpb_size=2)
    q.store(pic(1, 0), True, False)
    q.store(pic(2, 8), True, False)
    q.store(pic(3, 4, ref=False), False, False)
    # POC 0 is bumped first (it stays: reference); then 4 < 8: output without storing
    assert acts(q) == [("output", 1), ("output", 3), ("release", 3)]
    assert len(q.dpb) == 2


def test_reorder_limit() -> None:
    q = OutputQueue(Dpb(), dpb_size=4, max_num_reorder_frames=1)
    q.store(pic(1, 0), True, False)
    q.enforce_reorder()
    assert acts(q) == []
    q.store(pic(2, 4), True, False)
    q.enforce_reorder()
    assert acts(q) == [("output", 1)]


def test_pending_first_field_is_not_output() -> None:
    q = OutputQueue(Dpb(), dpb_size=4, max_num_reorder_frames=0)
    first = pic(1, 0, decoded=TOP)
    q.store(first, True, True)
    q.pending = first
    q.enforce_reorder()
    assert acts(q) == []
    q.pending = None
    q.enforce_reorder()
    assert acts(q) == [("output", 1)]


def test_flush_with_and_without_output() -> None:
    q = OutputQueue(Dpb(), dpb_size=4)
    for ts, poc in ((1, 4), (2, 0), (3, 2)):
        q.store(pic(ts, poc), True, False)
    q.flush_all(output=True)
    assert acts(q) == [("output", 2), ("output", 3), ("output", 1),
                       ("release", 1), ("release", 2), ("release", 3)]
    q.store(pic(4, 0), True, False)
    q.flush_all(output=False)  # no_output_of_prior_pics_flag
    assert acts(q) == [("release", 4)]
    assert len(q.dpb) == 0


def test_enforce_reorder_equals_bumping_one_by_one_on_random_queues() -> None:
    """enforce_reorder keeps its candidate list across bumps: same actions as recomputing the
    candidates before every bump (the plain reading of C.4.5.3)."""
    import copy
    import random

    rng = random.Random(99)
    for _ in range(2000):
        stores = [pic(i, rng.randint(-4, 12), ref=rng.random() < 0.5, decoded=rng.choice((1, 2, 3)))
                  for i in range(rng.randint(0, 12))]
        for fs in stores:
            fs.needed_for_output = rng.random() < 0.7
            fs.decode_index = rng.randint(0, 5)  # ties too
            fs.bottom_field_order_cnt = rng.randint(-4, 12)
        q = OutputQueue(Dpb(stores=stores), max_num_reorder_frames=rng.randint(0, 4))
        q.pending = rng.choice(stores) if stores and rng.random() < 0.3 else None
        ref = copy.deepcopy(q)
        q.enforce_reorder()
        while len(ref._candidates()) > ref.max_num_reorder_frames:
            assert ref.bump()
        assert acts(q) == acts(ref)
        assert [fs.timestamp_ns for fs in q.dpb.stores] == [fs.timestamp_ns for fs in ref.dpb.stores]
