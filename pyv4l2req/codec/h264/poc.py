"""Picture order count (H.264 8.2.1): types 0, 1 and 2, with the state carried between pictures.

:class:`PocState` holds what 8.2.1 calls prevPicOrderCntMsb/Lsb, prevFrameNumOffset and
prevFrameNum; :meth:`PocState.compute` returns (TopFieldOrderCnt, BottomFieldOrderCnt) for the
current picture and :meth:`PocState.update` records the picture once its marking is known
(memory_management_control_operation 5 changes what the next picture sees).

Inputs are duck-typed: ``sps`` needs the SPS syntax elements (pic_order_cnt_type,
log2_max_frame_num_minus4, log2_max_pic_order_cnt_lsb_minus4, offset_for_non_ref_pic,
offset_for_top_to_bottom_field, offset_for_ref_frame, num_ref_frames_in_pic_order_cnt_cycle),
``sh`` the slice header elements (frame_num, field_pic_flag, bottom_field_flag,
pic_order_cnt_lsb, delta_pic_order_cnt_bottom, delta_pic_order_cnt[0..1]).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PocState", "PocResult"]


@dataclass(slots=True)
class PocResult:
    """POC of one picture. For a single field only the value of its parity is meaningful."""

    top_field_order_cnt: int
    bottom_field_order_cnt: int
    pic_order_cnt_msb: int = 0        # type 0 only
    frame_num_offset: int = 0         # types 1 and 2

    def pic_order_cnt(self, structure: int) -> int:
        """PicOrderCnt() of the picture: 1 top field, 2 bottom field, 3 frame (8-1)."""
        if structure == 1:
            return self.top_field_order_cnt
        if structure == 2:
            return self.bottom_field_order_cnt
        return min(self.top_field_order_cnt, self.bottom_field_order_cnt)


def _delta(sh: object, i: int) -> int:
    d = getattr(sh, "delta_pic_order_cnt", None) or (0, 0)
    return d[i] if i < len(d) else 0


@dataclass
class PocState:
    """The variables 8.2.1 keeps from the previous (reference) picture."""

    prev_pic_order_cnt_msb: int = 0
    prev_pic_order_cnt_lsb: int = 0
    prev_frame_num_offset: int = 0
    prev_frame_num: int = 0
    prev_has_mmco5: bool = False          # previous picture (any) had MMCO 5 (types 1, 2)
    prev_ref_has_mmco5: bool = False      # previous reference picture had MMCO 5 (type 0)
    prev_ref_was_bottom_field: bool = False
    prev_ref_top_field_order_cnt: int = 0  # TopFieldOrderCnt of that picture after MMCO 5

    def reset(self) -> None:
        """Forget everything (new stream / recovery)."""
        self.__init__()  # type: ignore[misc]

    def compute(self, sps: object, sh: object, nal_ref_idc: int, idr: bool) -> PocResult:
        """TopFieldOrderCnt / BottomFieldOrderCnt of the current picture (8.2.1.1-8.2.1.3)."""
        t = sps.pic_order_cnt_type  # type: ignore[attr-defined]
        field = bool(getattr(sh, "field_pic_flag", 0))
        bottom = field and bool(getattr(sh, "bottom_field_flag", 0))
        if t == 0:
            return self._type0(sps, sh, idr, field, bottom)
        max_frame_num = 1 << (sps.log2_max_frame_num_minus4 + 4)  # type: ignore[attr-defined]
        frame_num = sh.frame_num  # type: ignore[attr-defined]
        if idr:
            frame_num_offset = 0
        else:
            prev_offset = 0 if self.prev_has_mmco5 else self.prev_frame_num_offset
            if self.prev_frame_num > frame_num:
                frame_num_offset = prev_offset + max_frame_num
            else:
                frame_num_offset = prev_offset
        if t == 1:
            return self._type1(sps, sh, nal_ref_idc, field, bottom, frame_num_offset)
        if t == 2:
            if idr:
                temp = 0
            elif nal_ref_idc == 0:
                temp = 2 * (frame_num_offset + frame_num) - 1
            else:
                temp = 2 * (frame_num_offset + frame_num)
            return PocResult(temp, temp, 0, frame_num_offset)
        raise ValueError(f"pic_order_cnt_type {t} is not 0, 1 or 2")

    def _type0(self, sps: object, sh: object, idr: bool, field: bool, bottom: bool) -> PocResult:
        max_lsb = 1 << (sps.log2_max_pic_order_cnt_lsb_minus4 + 4)  # type: ignore[attr-defined]
        if idr:
            prev_msb, prev_lsb = 0, 0
        elif self.prev_ref_has_mmco5:
            if not self.prev_ref_was_bottom_field:
                prev_msb, prev_lsb = 0, self.prev_ref_top_field_order_cnt
            else:
                prev_msb, prev_lsb = 0, 0
        else:
            prev_msb, prev_lsb = self.prev_pic_order_cnt_msb, self.prev_pic_order_cnt_lsb
        lsb = sh.pic_order_cnt_lsb  # type: ignore[attr-defined]
        if lsb < prev_lsb and (prev_lsb - lsb) >= max_lsb // 2:
            msb = prev_msb + max_lsb
        elif lsb > prev_lsb and (lsb - prev_lsb) > max_lsb // 2:
            msb = prev_msb - max_lsb
        else:
            msb = prev_msb
        top = msb + lsb
        if not field:
            bot = top + getattr(sh, "delta_pic_order_cnt_bottom", 0)
        elif bottom:
            bot = msb + lsb
        else:
            bot = top
        return PocResult(top, bot, msb)  # pic_order_cnt_msb

    def _type1(self, sps: object, sh: object, nal_ref_idc: int, field: bool, bottom: bool,
               frame_num_offset: int) -> PocResult:
        n = sps.num_ref_frames_in_pic_order_cnt_cycle  # type: ignore[attr-defined]
        offsets = list(sps.offset_for_ref_frame)[:n]  # type: ignore[attr-defined]
        abs_frame_num = frame_num_offset + sh.frame_num if n != 0 else 0  # type: ignore[attr-defined]
        if nal_ref_idc == 0 and abs_frame_num > 0:
            abs_frame_num -= 1
        expected = 0
        if abs_frame_num > 0:
            cycle_cnt, in_cycle = divmod(abs_frame_num - 1, n)
            expected = cycle_cnt * sum(offsets) + sum(offsets[: in_cycle + 1])
        if nal_ref_idc == 0:
            expected += sps.offset_for_non_ref_pic  # type: ignore[attr-defined]
        t2b = sps.offset_for_top_to_bottom_field  # type: ignore[attr-defined]
        if not field:
            top = expected + _delta(sh, 0)
            bot = top + t2b + _delta(sh, 1)
        elif not bottom:
            top = bot = expected + _delta(sh, 0)
        else:
            top = bot = expected + t2b + _delta(sh, 0)
        return PocResult(top, bot, 0, frame_num_offset)

    def update(self, sh: object, nal_ref_idc: int, poc: PocResult, has_mmco5: bool,
               frame_num: int | None = None) -> None:
        """Record the decoded picture as "previous picture" for the next one.

        ``poc`` must already be adjusted for MMCO 5 (TopFieldOrderCnt - tempPicOrderCnt);
        ``frame_num`` overrides ``sh.frame_num`` (non-existing frames).
        """
        field = bool(getattr(sh, "field_pic_flag", 0))
        bottom = field and bool(getattr(sh, "bottom_field_flag", 0))
        fn = sh.frame_num if frame_num is None else frame_num  # type: ignore[attr-defined]
        self.prev_has_mmco5 = has_mmco5
        self.prev_frame_num_offset = poc.frame_num_offset
        self.prev_frame_num = 0 if has_mmco5 else fn
        if nal_ref_idc != 0:
            self.prev_ref_has_mmco5 = has_mmco5
            self.prev_ref_was_bottom_field = bottom
            self.prev_ref_top_field_order_cnt = poc.top_field_order_cnt
            self.prev_pic_order_cnt_msb = poc.pic_order_cnt_msb
            self.prev_pic_order_cnt_lsb = getattr(sh, "pic_order_cnt_lsb", 0)
