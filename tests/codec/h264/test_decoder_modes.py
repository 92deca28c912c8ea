"""H264Decoder(slice_controls=False) (frame-based devices) against the default slice mode.

The frame-based path skips the reference lists and the per-slice controls; everything else
(events, their order, decode_params with its dpb[], reference timestamps, POC, output and
release order) must be exactly what slice mode produces, on every vector, on the project's
clips and when starting mid-stream. It must also read of every slice header but the first
only the "prefix" fields (a lazily parsed header would otherwise be parsed in full).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode
from pyv4l2req.codec.h264.nal import AccessUnit, AccessUnitSplitter, Slice

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"

#: slice header fields coded before ref_pic_list_modification (plus the attached parameter sets)
PREFIX_FIELDS = frozenset({
    "first_mb_in_slice", "slice_type", "pic_parameter_set_id", "colour_plane_id", "frame_num",
    "field_pic_flag", "bottom_field_flag", "idr_pic_id", "pic_order_cnt_lsb",
    "delta_pic_order_cnt_bottom", "delta_pic_order_cnt", "redundant_pic_cnt", "sps", "pps",
})


class _PrefixGuard:
    """Stands for a slice header; records every non-prefix field read while the decoder is
    not recovering (mid-stream recovery may build reference lists)."""

    def __init__(self, header: object, dec: H264Decoder, seen: set[str]) -> None:
        self._header, self._dec, self._seen = header, dec, seen

    def __getattr__(self, name: str) -> object:
        if name not in PREFIX_FIELDS and not self._dec._recovering:
            self._seen.add(name)
        return getattr(self._header, name)


def _access_units(data: bytes) -> list[AccessUnit]:
    sp = AccessUnitSplitter()
    return sp.feed(data) + sp.flush()


def _events(aus: list[AccessUnit], slice_controls: bool, seen: set[str] | None = None) -> list:
    dec = H264Decoder(slice_controls=slice_controls)
    events: list = []
    for i, au in enumerate(aus):
        if seen is not None:
            au = AccessUnit(au.nals, [s if j == 0 else Slice(s.nal, _PrefixGuard(s.header, dec, seen))
                                      for j, s in enumerate(au.slices)])
        events += dec.decode_access_unit(au, 1000 * (i + 1))
    return events + dec.flush()


def _without_slice_controls(ev: object) -> object:
    if not isinstance(ev, PictureDecode):
        return ev
    return dataclasses.replace(ev, slices=[dataclasses.replace(s, slice_params=None, pred_weights=None)
                                           for s in ev.slices])


def _check_same(aus: list[AccessUnit]) -> None:
    seen: set[str] = set()
    frame = _events(aus, False, seen)
    full = _events(aus, True)
    assert seen == set(), f"non-prefix fields read from non-first slices: {sorted(seen)}"
    for ev in frame:
        if isinstance(ev, PictureDecode):
            assert all(s.slice_params is None and s.pred_weights is None for s in ev.slices)
    assert any(isinstance(ev, PictureDecode) for ev in full)
    assert frame == [_without_slice_controls(ev) for ev in full]


def test_frame_mode_matches_slice_mode(h264_vector: Path | None, vector_data: bytes) -> None:
    _check_same(_access_units(vector_data))


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.h264")))
def test_frame_mode_matches_slice_mode_on_fixtures(name: str) -> None:
    _check_same(_access_units((FIXTURES / name).read_bytes()))


@pytest.mark.parametrize("name,cut", [("JVT-AVC_V1/CVFC1_Sony_C.jsv", 12), ("JVT-AVC_V1/MR1_BT_A.h264", 7),
                                      ("JVT-AVC_V1/BA1_FT_C.264", 40)])
def test_frame_mode_matches_slice_mode_mid_stream(name: str, cut: int, h264_oracle) -> None:
    path = h264_oracle.vectors / name
    if not path.exists():
        pytest.skip(f"missing vector {path}")
    aus = _access_units(path.read_bytes())[cut:]
    _check_same(aus)


def test_guard_notices_a_non_prefix_read() -> None:
    """The guard itself: slice mode reads num_ref_idx_* of every slice, so it must be seen."""
    aus = _access_units((FIXTURES / "multislice_176x144.h264").read_bytes())
    assert max(len(a.slices) for a in aus) > 1
    seen: set[str] = set()
    _events(aus, True, seen)
    assert "num_ref_idx_l0_active_minus1" in seen
