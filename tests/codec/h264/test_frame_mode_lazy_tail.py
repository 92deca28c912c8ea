"""Frame-based decoding (``H264Decoder(slice_controls=False)``) of non-reference pictures must
not parse the lazy slice header tail (7.3.3: such a picture has no dec_ref_pic_marking(), and
slice_group_change_cycle needs slice groups), nor must its V4L2 picture controls, and both
must be exactly those of a decoder fed the same access units with every header parsed in full
beforehand.
"""

from __future__ import annotations

from pathlib import Path

import dataclasses

import pytest

from pyv4l2req.codec.h264 import v4l2_controls
from pyv4l2req.codec.h264.access_unit import AccessUnit, AccessUnitSplitter
from pyv4l2req.codec.h264.decoder import H264Decoder, PictureDecode

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def _access_units(data: bytes) -> list[AccessUnit]:
    sp = AccessUnitSplitter()
    return sp.feed(data) + sp.flush()


def _comparable(events: list) -> list:
    """The events with the V4L2 picture controls of each picture, without the slice header
    objects (each decoder has its own)."""
    return [(dataclasses.replace(e, slices=[s.nal for s in e.slices]), v4l2_controls.picture_controls(e))
            if isinstance(e, PictureDecode) else e for e in events]


def _check(data: bytes) -> int:
    """Decode ``data`` twice: lazily parsed headers vs headers parsed in full; returns the
    number of non-reference pictures whose tail stayed pending."""
    lazy, full = _access_units(data), _access_units(data)
    for au in full:
        for s in au.slices:
            s.header.parse_all()
            assert s.header.tail_parsed
    dec_lazy, dec_full = H264Decoder(slice_controls=False), H264Decoder(slice_controls=False)
    pending = 0
    for i, (a, b) in enumerate(zip(lazy, full, strict=True)):
        recovering = dec_lazy._recovering or not dec_lazy._started  # may build reference lists
        got = dec_lazy.decode_access_unit(a, 1000 * (i + 1))
        assert _comparable(got) == _comparable(dec_full.decode_access_unit(b, 1000 * (i + 1)))
        sh0 = a.slices[0].header
        if a.slices[0].nal.nal_ref_idc == 0 and not recovering and not dec_lazy._recovering \
                and not sh0.pps.num_slice_groups_minus1 and any(isinstance(e, PictureDecode) for e in got):
            assert not any(s.header.tail_parsed for s in a.slices), f"AU {i}: tail parsed"
            pending += 1
    assert dec_lazy.flush() == dec_full.flush()
    return pending


def test_non_reference_tail_stays_unparsed_on_vectors(h264_vector: Path | None, vector_data: bytes) -> None:
    _check(vector_data)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.h264")))
def test_non_reference_tail_stays_unparsed_on_fixtures(name: str) -> None:
    _check((FIXTURES / name).read_bytes())


def test_fixtures_have_non_reference_pictures() -> None:
    """The check above is not vacuous: the B-frame clip has non-reference pictures."""
    assert _check((FIXTURES / "main_bframes_176x144.h264").read_bytes()) > 0


def test_picture_controls_of_a_pending_non_reference_header_equal_the_parsed_ones() -> None:
    aus = _access_units((FIXTURES / "main_bframes_176x144.h264").read_bytes())
    dec = H264Decoder(slice_controls=False)
    checked = 0
    for i, au in enumerate(aus):
        for pic in dec.decode_access_unit(au, i + 1):
            if not isinstance(pic, PictureDecode) or pic.nal_ref_idc != 0:
                continue
            sh = pic.slices[0].header
            assert not sh.tail_parsed
            got = v4l2_controls.picture_controls(pic)
            assert not sh.tail_parsed
            sh.parse_all()
            assert got == v4l2_controls.picture_controls(pic)
            checked += 1
    assert checked > 0
