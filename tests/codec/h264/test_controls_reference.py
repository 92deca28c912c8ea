"""The cached and shared control values of :mod:`~pyv4l2req.codec.h264.v4l2_controls`, the
decoder's cached DPB snapshots and list initialisation against plain reference versions
(straightforward code, kept here as the oracle).

For every picture of every vector and project clip (slice mode): the DPB snapshots the
decoder hands out equal fresh ones made from its frame stores; ``picture_controls`` (dpb[]
entries cached per snapshot, SPS/PPS dicts per parameter set pair) and ``slice_controls``
(reference lists shared between slices, pred_weights shared between consecutive slices)
equal a fresh reference build; ``init_p_list`` and ``init_b_lists`` equal the reference on
the same inputs; and ``pred_weights_key`` covers every header element
``pred_weights_control`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import pytest

from pyv4l2req.codec.h264 import decoder as h264dec
from pyv4l2req.codec.h264 import reflists
from pyv4l2req.codec.h264 import v4l2_controls as ctl
from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter
from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode, ReferencePicture
from pyv4l2req.codec.h264.dpb import BOTTOM, FRAME, TOP, FrameStore
from pyv4l2req.codec.h264.reflists import RefPic
from pyv4l2req.uapi import h264 as u

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


# -- the reference implementations -----------------------------------------------------------
def _f(obj: object, name: str, default: int = 0) -> int:
    v = getattr(obj, name, default)
    return default if v is None else int(v)


def ref_reference_pictures(stores: Sequence[FrameStore]) -> list[ReferencePicture]:
    return [ReferencePicture(fs.timestamp_ns, fs.frame_num, fs.frame_num_wrap, fs.long_term_frame_idx,
                             fs.short_ref, fs.long_ref, fs.decoded, fs.top_field_order_cnt,
                             fs.bottom_field_order_cnt, fs.field_coded, fs.first_field, fs.non_existing)
            for fs in stores if fs.is_ref and fs.timestamp_ns >= 0][:16]


def ref_dpb_entries(refs: Sequence[ReferencePicture], structure: int) -> list[dict]:
    out: list[dict] = []
    for r in refs:
        flags = u.V4L2_H264_DPB_ENTRY_FLAG_VALID | u.V4L2_H264_DPB_ENTRY_FLAG_ACTIVE
        if structure == FRAME:
            parity = FRAME
        elif r.field_coded:
            parity = r.first_field
        else:
            parity = TOP if r.top_field_order_cnt < r.bottom_field_order_cnt else BOTTOM

        def num(n: int) -> int:  # PicNum / LongTermPicNum (8-28 .. 8-32)
            return n if structure == FRAME else 2 * n + (1 if parity == structure else 0)

        if r.long_term:
            flags |= u.V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM
            pic_num, frame_num = num(r.long_term_frame_idx), r.long_term_frame_idx
        else:
            pic_num, frame_num = num(r.frame_num_wrap), r.frame_num
        if r.field_coded:
            flags |= u.V4L2_H264_DPB_ENTRY_FLAG_FIELD
        out.append({
            "reference_ts": r.timestamp_ns, "pic_num": pic_num & 0xFFFFFFFF, "frame_num": frame_num,
            "fields": r.short_term | r.long_term,
            "top_field_order_cnt": r.top_field_order_cnt if r.decoded & 1 else 0,
            "bottom_field_order_cnt": r.bottom_field_order_cnt if r.decoded & 2 else 0,
            "flags": flags,
        })
    return out


def ref_decode_params(pic: PictureDecode, dpb: list[dict]) -> dict:
    sh = pic.slices[0].header
    idr, second_field = pic.is_idr, pic.is_second_field
    top_poc, bottom_poc = pic.top_field_order_cnt, pic.bottom_field_order_cnt
    slice_types = [s.header.slice_type for s in pic.slices]
    field = _f(sh, "field_pic_flag")
    bottom = field and _f(sh, "bottom_field_flag")
    flags = 0
    if idr:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC
    if field:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC
    if bottom:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD
    kinds = {t % 5 for t in slice_types}
    if 1 in kinds:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_BFRAME
    elif kinds & {0, 3}:
        flags |= u.V4L2_H264_DECODE_PARAM_FLAG_PFRAME
    delta = list(getattr(sh, "delta_pic_order_cnt", None) or [0, 0]) + [0, 0]
    return {
        "dpb": dpb, "nal_ref_idc": pic.nal_ref_idc, "frame_num": _f(sh, "frame_num"),
        "top_field_order_cnt": 0 if (bottom and not second_field) else top_poc,
        "bottom_field_order_cnt": 0 if (field and not bottom and not second_field) else bottom_poc,
        "idr_pic_id": _f(sh, "idr_pic_id"), "pic_order_cnt_lsb": _f(sh, "pic_order_cnt_lsb"),
        "delta_pic_order_cnt_bottom": _f(sh, "delta_pic_order_cnt_bottom"),
        "delta_pic_order_cnt0": int(delta[0]), "delta_pic_order_cnt1": int(delta[1]),
        "dec_ref_pic_marking_bit_size": _f(sh, "dec_ref_pic_marking_bit_size"),
        "pic_order_cnt_bit_size": _f(sh, "pic_order_cnt_bit_size"),
        "slice_group_change_cycle": _f(sh, "slice_group_change_cycle"),
        "flags": flags,
    }


def ref_reference_list(entries: Sequence, dpb: Sequence[ReferencePicture], structure: int) -> list[dict]:
    out: list[dict] = []
    for e in entries:
        idx = next((i for i, r in enumerate(dpb) if r is e.picture), None) if e is not None else None
        if e is None or idx is None:
            out.append({"fields": 0xFF, "index": 0xFF})
            continue
        out.append({"fields": FRAME if structure == FRAME else e.parity, "index": idx})
    return out + [{"fields": 0xFF, "index": 0xFF} for _ in range(u.V4L2_H264_REF_LIST_LEN - len(out))]


_SLICE_FIELDS = ("header_bit_size", "first_mb_in_slice", "slice_type", "colour_plane_id",
                 "redundant_pic_cnt", "cabac_init_idc", "slice_qp_delta", "slice_qs_delta",
                 "disable_deblocking_filter_idc", "slice_alpha_c0_offset_div2",
                 "slice_beta_offset_div2", "num_ref_idx_l0_active_minus1",
                 "num_ref_idx_l1_active_minus1")


def ref_slice_params(sh: object, list0: list[dict], list1: list[dict]) -> dict:
    out = {name: _f(sh, name) for name in _SLICE_FIELDS}
    out["slice_type"] %= 5
    flags = 0
    if _f(sh, "direct_spatial_mv_pred_flag"):
        flags |= u.V4L2_H264_SLICE_FLAG_DIRECT_SPATIAL_MV_PRED
    if _f(sh, "sp_for_switch_flag"):
        flags |= u.V4L2_H264_SLICE_FLAG_SP_FOR_SWITCH
    out["ref_pic_list0"] = list0
    out["ref_pic_list1"] = list1
    out["flags"] = flags
    return out


def ref_pred_weights(sh: object, sps: object) -> dict:
    def table(name: str, n: int, width: int | None = None) -> list:
        src = list(getattr(sh, name, None) or [])
        if width is None:
            vals = [int(v) for v in src[:n]]
            return vals + [0] * (32 - len(vals))
        rows = [[int(x) for x in r][:width] for r in src[:n]]
        return rows + [[0] * width for _ in range(32 - len(rows))]

    n0 = _f(sh, "num_ref_idx_l0_active_minus1") + 1
    n1 = _f(sh, "num_ref_idx_l1_active_minus1") + 1 if _f(sh, "slice_type") % 5 == 1 else 0
    chroma = _f(sps, "ChromaArrayType", _f(sps, "chroma_format_idc", 1)) != 0
    return {
        "luma_log2_weight_denom": _f(sh, "luma_log2_weight_denom"),
        "chroma_log2_weight_denom": _f(sh, "chroma_log2_weight_denom"),
        "weight_factors": [{
            "luma_weight": table(f"luma_weight_{lx}", n),
            "luma_offset": table(f"luma_offset_{lx}", n),
            "chroma_weight": table(f"chroma_weight_{lx}", n if chroma else 0, 2),
            "chroma_offset": table(f"chroma_offset_{lx}", n if chroma else 0, 2),
        } for lx, n in (("l0", n0), ("l1", n1))],
    }


def ref_init_p_list(stores: Sequence[FrameStore], structure: int) -> list[RefPic]:
    assert structure == FRAME
    short = sorted((fs for fs in stores if fs.short_ref == FRAME and not fs.long_ref),
                   key=lambda fs: -fs.frame_num_wrap)
    long = sorted((fs for fs in stores if fs.long_ref == FRAME), key=lambda fs: fs.long_term_frame_idx)
    return [RefPic(fs, FRAME) for fs in (*short, *long)]


def ref_init_b_lists(stores: Sequence[FrameStore], structure: int,
                     current_poc: int) -> tuple[list[RefPic], list[RefPic]]:
    assert structure == FRAME
    short = [fs for fs in stores if fs.short_ref == FRAME and not fs.long_ref]
    long = sorted((fs for fs in stores if fs.long_ref == FRAME), key=lambda fs: fs.long_term_frame_idx)
    before = sorted((fs for fs in short if fs.poc < current_poc), key=lambda fs: -fs.poc)
    after = sorted((fs for fs in short if fs.poc > current_poc), key=lambda fs: fs.poc)
    l0 = [RefPic(fs, FRAME) for fs in (*before, *after, *long)]
    l1 = [RefPic(fs, FRAME) for fs in (*after, *before, *long)]
    if len(l1) > 1 and l0 == l1:
        l1[0], l1[1] = l1[1], l1[0]
    return l0, l1


# -- checking every picture -------------------------------------------------------------------
def _checked(fast: Callable, ref: Callable, counts: dict[str, int], name: str,
             only: Callable[..., bool] = lambda *a: True) -> Callable:
    def call(*args: object, **kwargs: object) -> object:
        got = fast(*args, **kwargs)
        if only(*args):
            assert got == ref(*args, **kwargs), f"{name}{args!r}"
            counts[name] = counts.get(name, 0) + 1
        return got
    return call


@pytest.fixture
def checked_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts: dict[str, int] = {}
    frame_only = lambda stores, structure, *rest: structure == FRAME  # noqa: E731
    fast_snapshots = h264dec._reference_pictures

    def snapshots(stores: list[FrameStore]) -> tuple[list[ReferencePicture], list[FrameStore]]:
        refs, used = fast_snapshots(stores)  # cached per frame store: must be up to date
        assert refs == ref_reference_pictures(stores)
        counts["reference_pictures"] = counts.get("reference_pictures", 0) + 1
        return refs, used

    monkeypatch.setattr(h264dec, "_reference_pictures", snapshots)
    monkeypatch.setattr(reflists, "init_p_list",
                        _checked(reflists.init_p_list, ref_init_p_list, counts, "init_p_list", frame_only))
    monkeypatch.setattr(reflists, "init_b_lists",
                        _checked(reflists.init_b_lists, ref_init_b_lists, counts, "init_b_lists", frame_only))
    return counts


def test_cached_values_equal_the_reference_on_every_stream(checked_calls: dict[str, int], h264_oracle) -> None:
    streams = [*h264_oracle.h264_vector_paths(), *sorted(FIXTURES.glob("*.h264"))]
    weighted = pictures = 0
    for path in streams:
        sp = AccessUnitSplitter()
        aus = sp.feed(path.read_bytes()) + sp.flush()
        dec = H264Decoder()
        for i, au in enumerate(aus):
            for pic in dec.decode_access_unit(au, i + 1):
                if not isinstance(pic, PictureDecode):
                    continue
                pictures += 1
                sps, pps = pic.sps, pic.pps
                controls = ctl.picture_controls(pic)
                dpb = ref_dpb_entries(pic.dpb, pic.structure)
                assert controls == {
                    "sps": ctl.sps_control(sps), "pps": ctl.pps_control(pps, sps),
                    "scaling_matrix": ctl.scaling_matrix_control(sps, pps),
                    "decode_params": ref_decode_params(pic, dpb)}, f"{path.name} picture {i}"
                for job in pic.slices:
                    sh = job.header
                    params, weights = ctl.slice_controls(pic, job)
                    lists = [ref_reference_list(lst, pic.dpb, pic.structure)
                             for lst in (job.ref_pic_list0, job.ref_pic_list1)]
                    assert params == ref_slice_params(sh, *lists), f"{path.name} picture {i}"
                    if weights is not None:  # shared between slices: still this slice's
                        assert weights == ref_pred_weights(sh, sh.sps), path.name
                        weighted += 1
    assert weighted > 0 and pictures > 0
    for name in ("reference_pictures", "init_p_list", "init_b_lists"):
        assert checked_calls.get(name, 0) > 0, name


class _Recorder:
    def __init__(self, header: object, seen: set[str]) -> None:
        self._header, self._seen = header, seen

    def __getattr__(self, name: str) -> object:
        self._seen.add(name)
        return getattr(self._header, name)


def test_pred_weights_key_covers_what_the_control_reads() -> None:
    """Equal keys must mean equal controls: every element pred_weights_control reads from a
    parsed header is in pred_weights_key, and the key changes with each table."""
    path = FIXTURES / "high_cqm_weighted_160x96.h264"
    sp = AccessUnitSplitter()
    aus = sp.feed(path.read_bytes()) + sp.flush()
    headers = [s.header for a in aus for s in a.slices if s.header.luma_weight_l0]
    assert headers
    key_fields = set(ctl._get_pred_weights_key.__reduce__()[1])
    for sh in headers:
        seen: set[str] = set()
        ctl.pred_weights_control(_Recorder(sh, seen), sh.sps)
        assert "luma_weight_l0" in seen
        assert seen <= key_fields, sorted(seen - key_fields)
    assert len({repr(ctl.pred_weights_key(sh)) for sh in headers}) > 1
