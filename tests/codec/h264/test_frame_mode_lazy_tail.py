"""Frame-based decoding (``H264Decoder(slice_controls=False)``) reads of every slice header but
the first of a picture only the prefix, and of the first one of a non-reference picture too,
so the rest of those headers is never parsed (it is parsed on first access), and it produces
exactly the events of a decoder fed the same access units with every header parsed in full
beforehand.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

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
    number of slice headers whose rest stayed pending."""
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
        if not recovering and not dec_lazy._recovering:
            # the first slice's rest is read for dec_ref_pic_marking_bit_size, which only a
            # reference picture has (7.3.3): a non-reference picture parses no rest at all
            non_ref = a.slices[0].nal.nal_ref_idc == 0 and not a.slices[0].header.pps.num_slice_groups_minus1
            unread = a.slices if non_ref else a.slices[1:]
            assert not any(s.header.tail_parsed for s in unread), f"AU {i}: rest parsed"
            pending += len(unread)
    assert dec_lazy.flush() == dec_full.flush()
    return pending


def test_rest_of_later_slices_stays_unparsed_on_vectors(h264_vector: Path | None, vector_data: bytes) -> None:
    _check(vector_data)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.h264")))
def test_rest_of_later_slices_stays_unparsed_on_fixtures(name: str) -> None:
    _check((FIXTURES / name).read_bytes())


def test_fixtures_have_multi_slice_pictures() -> None:
    """The check above is not vacuous: the multi-slice clip has pictures of several slices."""
    assert _check((FIXTURES / "multislice_176x144.h264").read_bytes()) > 0
