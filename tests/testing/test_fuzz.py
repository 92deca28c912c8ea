"""The fuzzing harness (pyv4l2req/testing/fuzz.py): its mutations, and a small seeded run.

The seeded run is Hypothesis with ``derandomize=True``: the same cases on every machine, so a
failure here is reproducible (Hypothesis prints the shrunk mutation list). The long campaign
(``python3 tools/fuzz.py``) and its results are in docs/fuzzing.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz tests draw cases with Hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pyv4l2req.codec.h264.nal import ebsp_to_rbsp  # noqa: E402
from pyv4l2req.codec.h264.sps import parse_sps  # noqa: E402
from pyv4l2req.errors import BitstreamError  # noqa: E402
from pyv4l2req.testing import fuzz  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SEEDS = fuzz.seeds(REPO)  # the project's fixtures: small, every feature the vectors have

mutations = st.lists(
    st.builds(fuzz.Mutation, st.sampled_from(fuzz.KINDS), st.integers(0, 2**32 - 1),
              st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1)),
    min_size=1, max_size=3)
seed_index = st.integers(0, len(SEEDS) - 1)
CI_SETTINGS = settings(derandomize=True, deadline=None, database=None,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(CI_SETTINGS, max_examples=400)
@given(seed_index, mutations)
def test_parser_breaks_no_invariant(i, muts):
    out = fuzz.run_parser(fuzz.apply(SEEDS[i].data, muts))
    assert fuzz.check(out, fuzz.Bounds(seconds=10)) == [], (SEEDS[i].name, [str(m) for m in muts])


@settings(CI_SETTINGS, max_examples=60)
@given(seed_index, mutations, st.booleans())
def test_pipeline_breaks_no_invariant(i, muts, pixels):
    pytest.importorskip("av", reason="the emulated device's pixels need PyAV")
    out = fuzz.run_pipeline(fuzz.apply(SEEDS[i].data, muts), pixels=pixels)
    assert fuzz.check(out, fuzz.Bounds(seconds=20)) == [], (SEEDS[i].name, [str(m) for m in muts])


# -- the harness itself --------------------------------------------------------------------------

def _seed(name: str) -> bytes:
    return next(s.data for s in SEEDS if s.name == name)


def test_mutations_are_deterministic_and_change_the_data():
    data = _seed("main_bframes_176x144.h264")
    for kind in fuzz.KINDS:
        m = fuzz.Mutation(kind, 12345, 3, 777)
        assert fuzz.mutate(data, m) == fuzz.mutate(data, m), kind
        if kind != "mp4_box":  # (Annex B input: falls back to a bit flip)
            assert fuzz.mutate(data, m) != data, kind
    assert fuzz.mutate(data, fuzz.Mutation("truncate", 100)) == data[:100]
    flipped = fuzz.mutate(data, fuzz.Mutation("flip", 10, 2))
    assert [i for i in range(len(data)) if data[i] != flipped[i]] == [10] and flipped[10] ^ data[10] == 4
    with pytest.raises(ValueError, match="unknown mutation kind"):
        fuzz.mutate(data, fuzz.Mutation("bogus"))


def test_sps_field_writes_the_absurd_value():
    data = _seed("main_bframes_176x144.h264")
    for field_index, (name, values) in enumerate(fuzz.ABSURD_SPS):
        for value_index, value in enumerate(values):
            out = fuzz.mutate(data, fuzz.Mutation("sps_field", 0, field_index, value_index))
            sps_nal = next(n for n in out.split(b"\0\0\1")[1:] if n and n[0] & 0x1F == 7)
            try:
                sps = parse_sps(ebsp_to_rbsp(sps_nal[1:].rstrip(b"\0")))
            except BitstreamError as e:  # refused: the message names the element
                assert name in str(e) or "SPS" in str(e), (name, value, e)
                continue
            assert getattr(sps, name) == value, (name, value)


def test_mp4_box_overwrites_a_box_size():
    data = _seed("baseline_176x144.mp4")
    offsets = fuzz._mp4_box_offsets(data)
    assert len(offsets) > 10  # ftyp, moov and its tree, mdat
    out = fuzz.mutate(data, fuzz.Mutation("mp4_box", 1, 5))  # size 0xFFFFFFFF
    assert out[offsets[1]:offsets[1] + 4] == b"\xff\xff\xff\xff" and len(out) == len(data)


def test_check_reports_each_broken_invariant():
    assert fuzz.check(fuzz.Outcome("x")) == []
    assert fuzz.check(fuzz.Outcome("x", error=BitstreamError("bad"))) == []
    problems = fuzz.check(fuzz.Outcome("x", error=KeyError("k"), seconds=99, fds_leaked=2, frames_lost=1,
                                       peak_bytes=1 << 40))
    assert len(problems) == 5 and problems[0].startswith("KeyError escaped")


def test_run_parser_catches_what_escapes(monkeypatch):
    from pyv4l2req.codec.h264 import decoder

    def boom(self, au, ts):
        raise KeyError("internal")

    monkeypatch.setattr(decoder.H264Decoder, "decode_access_unit", boom)
    out = fuzz.run_parser(_seed("small_128x96.h264"))
    assert isinstance(out.error, KeyError) and not out.documented


def test_run_pipeline_counts_frames_and_fds():
    pytest.importorskip("av", reason="the emulated device's pixels need PyAV")
    out = fuzz.run_pipeline(_seed("main_bframes_176x144.h264"))
    assert out.error is None and out.frames == 24 and out.fds_leaked == 0 and out.frames_lost == 0


# -- what long runs found (tools/fuzz.py; docs/fuzzing.md): each case stays fixed -----------------

FOUND = [
    # SPS pic_width_in_mbs_minus1 = 65536: the parser took it, packing the u16 control field
    # raised construct's ValueError (now a BitstreamError naming the element, A.3.1 limit)
    ("main_bframes_176x144.h264", [fuzz.Mutation("sps_field", 0, 0, 3)]),
    ("main_bframes_176x144.h264", [fuzz.Mutation("sps_field", 0, 1, 3)]),
]


@pytest.mark.parametrize("name,muts", FOUND)
def test_found_cases_stay_fixed(name, muts):
    pytest.importorskip("av", reason="the emulated device's pixels need PyAV")
    data = fuzz.apply(_seed(name), muts)
    for out in (fuzz.run_parser(data), fuzz.run_pipeline(data)):
        assert fuzz.check(out) == [], (out.target, out.error)


def test_found_lone_first_fields_are_output():
    """Found by a long run: a PAFF stream damaged after two first fields (their pairs lost).
    The first field's CAPTURE buffer, held for a pair that never came, was handed back by the
    device when the next picture started, but nothing dequeued it: waiting for that picture
    failed ("no request is in flight") and 0 frames came out."""
    pytest.importorskip("av", reason="the emulated device's pixels need PyAV")
    from pyv4l2req.testing.vectors import require_vector

    data = require_vector("JVT-FR-EXT/HCAFF1_HHI.264").read_bytes()
    muts = [fuzz.Mutation("drop_nal", 4051150339, 12123, 1332748793),
            fuzz.Mutation("zero", 2265291548, 61902, 1891940756),
            fuzz.Mutation("splice", 1702382273, 10120, 1752674575)]
    out = fuzz.run_pipeline(fuzz.apply(data, muts))
    assert fuzz.check(out) == [] and out.error is None and out.frames >= 2
