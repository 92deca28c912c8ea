"""H264Decoder(slice_controls=False) (frame-based devices) against the default slice mode.

The frame-based path skips the reference lists; everything else (events, their order, the
DPB snapshots, the V4L2 per-picture controls with decode_params and its dpb[], reference
timestamps, POC, output and release order) must be exactly what slice mode produces, on
every vector, on the project's clips and when starting mid-stream. It must also leave the
lazily parsed tail of every slice header but the first unparsed (the decoder and the V4L2
picture controls read only their prefix), once decoding is not recovering from a mid-stream
start (which builds reference lists).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import pytest

from pyv4l2req.codec.h264 import v4l2_controls
from pyv4l2req.codec.h264.access_unit import AccessUnit, AccessUnitSplitter
from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def _access_units(data: bytes) -> list[AccessUnit]:
    sp = AccessUnitSplitter()
    return sp.feed(data) + sp.flush()


def _events(aus: list[AccessUnit], slice_controls: bool) -> tuple[list, list[AccessUnit]]:
    """The events, with the V4L2 picture controls of each picture made as it comes; and the
    access units decoded while not recovering from a mid-stream start."""
    dec = H264Decoder(slice_controls=slice_controls)
    events: list = []
    settled: list[AccessUnit] = []
    for i, au in enumerate(aus):
        recovering = dec._recovering or not dec._started
        for ev in dec.decode_access_unit(au, 1000 * (i + 1)):
            events.append((ev, v4l2_controls.picture_controls(ev)) if isinstance(ev, PictureDecode) else ev)
        if not recovering:
            settled.append(au)
    return events + dec.flush(), settled


def _comparable(ev: object) -> object:
    """An event without what the two modes hold differently: the header objects (parsed
    separately) and the reference lists."""
    if not isinstance(ev, tuple):
        return ev
    pic, controls = ev
    return dataclasses.replace(pic, slices=[s.nal for s in pic.slices]), controls


def _check_same(make_aus: Callable[[], list[AccessUnit]]) -> None:
    frame, settled = _events(make_aus(), False)
    unparsed = [s.header.tail_parsed for au in settled for s in au.slices[1:]]
    assert not any(unparsed), f"{sum(unparsed)} non-first slice headers parsed in full"
    for ev in frame:
        if isinstance(ev, tuple):
            assert all(s.ref_pic_list0 is None and s.ref_pic_list1 is None for s in ev[0].slices)
    full, _ = _events(make_aus(), True)
    assert any(isinstance(ev, tuple) for ev in full)
    assert [_comparable(ev) for ev in frame] == [_comparable(ev) for ev in full]


def test_frame_mode_matches_slice_mode(h264_vector: Path | None, vector_data: bytes) -> None:
    _check_same(lambda: _access_units(vector_data))


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.h264")))
def test_frame_mode_matches_slice_mode_on_fixtures(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    _check_same(lambda: _access_units(data))


@pytest.mark.parametrize("name,cut", [("JVT-AVC_V1/CVFC1_Sony_C.jsv", 12), ("JVT-AVC_V1/MR1_BT_A.h264", 7),
                                      ("JVT-AVC_V1/BA1_FT_C.264", 40)])
def test_frame_mode_matches_slice_mode_mid_stream(name: str, cut: int, h264_oracle) -> None:
    path = h264_oracle.vectors / name
    if not path.exists():
        pytest.skip(f"missing vector {path}")
    data = path.read_bytes()
    _check_same(lambda: _access_units(data)[cut:])


def test_slice_mode_parses_every_header() -> None:
    """What the frame-mode check guards against: slice mode reads num_ref_idx_* of every
    slice (for its reference lists), which parses the tails of the non-first slices."""
    aus = _access_units((FIXTURES / "multislice_176x144.h264").read_bytes())
    assert max(len(a.slices) for a in aus) > 1
    _events(aus, True)
    assert all(s.header.tail_parsed for au in aus for s in au.slices[1:])
