"""The per-picture fast paths of the control builders and list initialisation against their
plain reference versions (the straightforward code they replaced, kept here as the oracle).

Every call the decoder makes to ``dpb_entries``, ``decode_params_control``,
``slice_params_control``, ``reference_list``, ``pred_weights_control``, ``init_p_list`` and
``init_b_lists`` while decoding every vector and project clip (slice mode) is checked against
the reference computed on the same inputs; the pred_weights dicts shared between slices must
equal a fresh reference build for each slice; and ``pred_weights_key`` must cover every
header element ``pred_weights_control`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import pytest

from pyv4l2req.codec.h264 import controls as ctl
from pyv4l2req.codec.h264 import reflists
from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode
from pyv4l2req.codec.h264.dpb import BOTTOM, FRAME, TOP, Dpb, FrameStore
from pyv4l2req.codec.h264.nal import AccessUnitSplitter
from pyv4l2req.codec.h264.reflists import RefPic
from pyv4l2req.uapi import h264 as u

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


# -- the reference implementations -----------------------------------------------------------
def _f(obj: object, name: str, default: int = 0) -> int:
    v = getattr(obj, name, default)
    return default if v is None else int(v)


def ref_dpb_entries(stores: Sequence[FrameStore], structure: int) -> tuple[list[dict], list[FrameStore]]:
    out: list[dict] = []
    used: list[FrameStore] = []
    for fs in stores:
        if not fs.is_ref or fs.timestamp_ns < 0:
            continue
        flags = u.V4L2_H264_DPB_ENTRY_FLAG_VALID | u.V4L2_H264_DPB_ENTRY_FLAG_ACTIVE
        if structure == FRAME:
            parity = FRAME
        elif fs.field_coded:
            parity = fs.first_field
        else:
            parity = TOP if fs.top_field_order_cnt < fs.bottom_field_order_cnt else BOTTOM
        if fs.long_ref:
            flags |= u.V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM
            pic_num = Dpb.long_term_pic_num(fs, parity, structure)
            frame_num = fs.long_term_frame_idx
        else:
            pic_num = Dpb.pic_num(fs, parity, structure)
            frame_num = fs.frame_num
        if fs.field_coded:
            flags |= u.V4L2_H264_DPB_ENTRY_FLAG_FIELD
        out.append({
            "reference_ts": fs.timestamp_ns, "pic_num": pic_num & 0xFFFFFFFF, "frame_num": frame_num,
            "fields": fs.ref,
            "top_field_order_cnt": fs.top_field_order_cnt if fs.decoded & 1 else 0,
            "bottom_field_order_cnt": fs.bottom_field_order_cnt if fs.decoded & 2 else 0,
            "flags": flags,
        })
        used.append(fs)
        if len(out) == u.V4L2_H264_NUM_DPB_ENTRIES:
            break
    return out, used


def ref_decode_params(sh: object, nal_ref_idc: int, idr: bool, top_poc: int, bottom_poc: int,
                      dpb: list[dict], slice_types: Sequence[int], second_field: bool = False) -> dict:
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
        "dpb": dpb, "nal_ref_idc": nal_ref_idc, "frame_num": _f(sh, "frame_num"),
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


def ref_reference_list(entries: Sequence[RefPic | None], dpb_stores: Sequence[FrameStore],
                       structure: int, index_of: object = None) -> list[dict]:
    by_store = {id(fs): i for i, fs in enumerate(dpb_stores)}
    out: list[dict] = []
    for e in entries:
        idx = by_store.get(id(e.store)) if e is not None else None
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


# -- checking every call ---------------------------------------------------------------------
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
    for name, ref in (("dpb_entries", ref_dpb_entries), ("decode_params_control", ref_decode_params),
                      ("reference_list", ref_reference_list), ("slice_params_control", ref_slice_params),
                      ("pred_weights_control", ref_pred_weights)):
        monkeypatch.setattr(ctl, name, _checked(getattr(ctl, name), ref, counts, name))
    monkeypatch.setattr(reflists, "init_p_list",
                        _checked(reflists.init_p_list, ref_init_p_list, counts, "init_p_list", frame_only))
    monkeypatch.setattr(reflists, "init_b_lists",
                        _checked(reflists.init_b_lists, ref_init_b_lists, counts, "init_b_lists", frame_only))
    return counts


def test_fast_paths_equal_the_reference_on_every_stream(checked_calls: dict[str, int], h264_oracle) -> None:
    streams = [*h264_oracle.h264_vector_paths(), *sorted(FIXTURES.glob("*.h264"))]
    weighted = 0
    for path in streams:
        sp = AccessUnitSplitter()
        aus = sp.feed(path.read_bytes()) + sp.flush()
        dec = H264Decoder()
        for i, au in enumerate(aus):
            headers = [s.header for s in au.slices if not s.header.redundant_pic_cnt]
            for ev in dec.decode_access_unit(au, i + 1):
                if not isinstance(ev, PictureDecode):
                    continue
                for job, sh in zip(ev.slices, headers):
                    if job.pred_weights is not None:  # shared between slices: still this slice's
                        assert job.pred_weights == ref_pred_weights(sh, sh.sps), path.name
                        weighted += 1
    assert weighted > 0
    for name in ("dpb_entries", "decode_params_control", "reference_list", "slice_params_control",
                 "pred_weights_control", "init_p_list", "init_b_lists"):
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
        present = {name for name in seen if hasattr(sh, name)}  # not the fall-back containers
        assert "luma_weight_l0" in present
        assert present <= key_fields, sorted(present - key_fields)
        assert ctl.pred_weights_key(sh) is not None
    assert len({repr(ctl.pred_weights_key(sh)) for sh in headers}) > 1
    assert ctl.pred_weights_key(object()) is None
