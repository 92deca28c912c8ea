"""Picture order count (H.264 8.2.1) on synthetic headers; expected values worked out by hand
from the equations of 8.2.1.1 (8-3..8-5), 8.2.1.2 (8-6..8-10) and 8.2.1.3 (8-11, 8-12)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from pyv4l2req.codec.h264.poc import PocResult, PocState


def sps0(log2_lsb: int = 4) -> NS:
    return NS(pic_order_cnt_type=0, log2_max_frame_num_minus4=0,
              log2_max_pic_order_cnt_lsb_minus4=log2_lsb - 4)


def sh(frame_num: int = 0, lsb: int = 0, field: int = 0, bottom: int = 0, dbot: int = 0,
       d0: int = 0, d1: int = 0) -> NS:
    return NS(frame_num=frame_num, pic_order_cnt_lsb=lsb, field_pic_flag=field,
              bottom_field_flag=bottom, delta_pic_order_cnt_bottom=dbot,
              delta_pic_order_cnt=(d0, d1))


def run(state: PocState, sps: NS, h: NS, ref: int, idr: bool = False, mmco5: bool = False) -> PocResult:
    r = state.compute(sps, h, ref, idr)
    if mmco5:
        structure = 3 if not h.field_pic_flag else (2 if h.bottom_field_flag else 1)
        temp = r.pic_order_cnt(structure)
        r = PocResult(r.top_field_order_cnt - temp, r.bottom_field_order_cnt - temp, 0, 0)
    state.update(h, ref, r, mmco5)
    return r


class TestType0:
    def test_msb_wraps_forward_and_non_ref_uses_prev_ref(self) -> None:
        s, p = PocState(), sps0()
        assert run(s, p, sh(lsb=0), 1, idr=True).top_field_order_cnt == 0
        assert run(s, p, sh(lsb=6), 1).top_field_order_cnt == 6
        assert run(s, p, sh(lsb=12), 1).top_field_order_cnt == 12
        # lsb 2 after 12: 12 - 2 >= MaxLsb/2 -> PicOrderCntMsb = 16
        assert run(s, p, sh(lsb=2), 1).top_field_order_cnt == 18
        # non-reference: prevMsb/Lsb are those of the previous REFERENCE picture (16, 2)
        assert run(s, p, sh(lsb=0), 0).top_field_order_cnt == 16
        assert run(s, p, sh(lsb=15), 0).top_field_order_cnt == 15  # 15 - 2 > 8 -> Msb = 0

    def test_negative_msb_after_idr(self) -> None:
        s, p = PocState(), sps0()
        run(s, p, sh(lsb=0), 1, idr=True)
        assert run(s, p, sh(lsb=14), 0).top_field_order_cnt == -2

    def test_bottom_of_frame_and_fields(self) -> None:
        s, p = PocState(), sps0()
        r = run(s, p, sh(lsb=4, dbot=-3), 1, idr=True)
        assert (r.top_field_order_cnt, r.bottom_field_order_cnt) == (4, 1)
        assert r.pic_order_cnt(3) == 1
        r = run(s, p, sh(lsb=8, field=1), 1)
        assert r.pic_order_cnt(1) == 8
        r = run(s, p, sh(lsb=9, field=1, bottom=1), 1)
        assert r.pic_order_cnt(2) == 9

    def test_after_mmco5_frame(self) -> None:
        s, p = PocState(), sps0()
        run(s, p, sh(lsb=0), 1, idr=True)
        r = run(s, p, sh(lsb=8, dbot=1), 1, mmco5=True)
        assert (r.top_field_order_cnt, r.bottom_field_order_cnt) == (0, 1)
        # prevPicOrderCntMsb = 0, prevPicOrderCntLsb = TopFieldOrderCnt (0) of that picture
        assert run(s, p, sh(lsb=2), 0).top_field_order_cnt == 2

    def test_after_mmco5_bottom_field(self) -> None:
        s, p = PocState(), sps0()
        run(s, p, sh(lsb=0), 1, idr=True)
        run(s, p, sh(lsb=12), 1)
        run(s, p, sh(lsb=13, field=1, bottom=1), 1, mmco5=True)
        # prev = (0, 0): lsb 14 - 0 > 8 -> Msb = -16
        assert run(s, p, sh(lsb=14), 1).top_field_order_cnt == -2


def sps1() -> NS:
    return NS(pic_order_cnt_type=1, log2_max_frame_num_minus4=0,
              offset_for_ref_frame=[4, 2], num_ref_frames_in_pic_order_cnt_cycle=2,
              offset_for_non_ref_pic=-3, offset_for_top_to_bottom_field=1)


class TestType1:
    def test_expected_poc_cycle(self) -> None:
        s, p = PocState(), sps1()
        r = run(s, p, sh(0), 1, idr=True)
        assert (r.top_field_order_cnt, r.bottom_field_order_cnt) == (0, 1)
        assert run(s, p, sh(1), 1).top_field_order_cnt == 4        # abs 1: cycle 0, offset[0]
        assert run(s, p, sh(2), 1).top_field_order_cnt == 6        # abs 2: 4 + 2
        # non-reference frame_num 3: absFrameNum 3 - 1 = 2 -> 6, + offset_for_non_ref_pic
        r = run(s, p, sh(3, d0=1, d1=2), 0)
        assert (r.top_field_order_cnt, r.bottom_field_order_cnt) == (4, 7)
        assert run(s, p, sh(3), 1).top_field_order_cnt == 10       # abs 3: 1 cycle (6) + 4

    def test_fields(self) -> None:
        s, p = PocState(), sps1()
        run(s, p, sh(0), 1, idr=True)
        assert run(s, p, sh(1, field=1, d0=2), 1).pic_order_cnt(1) == 6
        # bottom field: expected + offset_for_top_to_bottom_field + delta_pic_order_cnt[0]
        assert run(s, p, sh(1, field=1, bottom=1, d0=2), 1).pic_order_cnt(2) == 7

    def test_frame_num_wrap_adds_max_frame_num(self) -> None:
        s, p = PocState(), sps1()
        run(s, p, sh(0), 1, idr=True)
        for fn in range(1, 16):
            run(s, p, sh(fn), 1)
        r = run(s, p, sh(0), 1)  # FrameNumOffset = 16, absFrameNum 16: 7 cycles + 4 + 2
        assert r.frame_num_offset == 16
        assert r.top_field_order_cnt == 7 * 6 + 6


def sps2() -> NS:
    return NS(pic_order_cnt_type=2, log2_max_frame_num_minus4=0)


class TestType2:
    def test_sequence(self) -> None:
        s, p = PocState(), sps2()
        assert run(s, p, sh(0), 1, idr=True).top_field_order_cnt == 0
        assert run(s, p, sh(1), 1).top_field_order_cnt == 2
        assert run(s, p, sh(2), 0).top_field_order_cnt == 3
        r = run(s, p, sh(2), 1)
        assert r.top_field_order_cnt == r.bottom_field_order_cnt == 4

    def test_wrap_and_mmco5(self) -> None:
        s, p = PocState(), sps2()
        run(s, p, sh(0), 1, idr=True)
        run(s, p, sh(15), 1)
        assert run(s, p, sh(0), 1).top_field_order_cnt == 32
        run(s, p, sh(1), 1, mmco5=True)  # prevFrameNumOffset and prevFrameNum become 0
        assert run(s, p, sh(1), 1).top_field_order_cnt == 2


def test_unknown_type_rejected() -> None:
    with pytest.raises(ValueError):
        PocState().compute(NS(pic_order_cnt_type=3, log2_max_frame_num_minus4=0), sh(0), 1, False)
