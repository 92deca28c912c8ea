"""PPS and scaling lists (codec/h264/pps.py, scaling.py).

Oracles: x264's own scaling-matrix options (given in raster order on the command line; x264
signals lists equal to the previous one as "not present", so fall-back rule A is exercised),
the default tables of the spec (Table 7-3/7-4) with cqm=jvt, and hand-made SPS/PPS for
fall-back rule B (7.4.2.2: rule B applies when the SPS carries a matrix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyv4l2req.codec.h264 import scaling as S
from pyv4l2req.codec.h264.access_unit import AccessUnitSplitter
from pyv4l2req.codec.h264.pps import parse_pps
from pyv4l2req.codec.h264.sps import parse_sps
from pyv4l2req.errors import BitstreamError


def _first_pps(path: Path):
    sp = AccessUnitSplitter()
    aus = sp.feed(path.read_bytes()) + sp.flush()
    return aus[0].slices[0].header.pps


def test_x264_matrices(x264_stream: Path) -> None:
    name = x264_stream.stem
    pps = _first_pps(x264_stream)
    m = pps.scaling_matrix
    if name == "cqm_custom":
        # cqm4iy=7.., cqm4ic=7.., cqm4py=9.., cqm8i=6+i%9 (raster); the rest flat 16
        assert pps.pic_scaling_list_present_flag == [1, 0, 0, 1, 1, 0, 1, 1]  # fall-backs happen
        assert m.raster_4x4() == [[7] * 16] * 3 + [[9] * 16] + [[16] * 16] * 2
        assert m.raster_8x8()[0] == [6 + i % 9 for i in range(64)]
        assert m.raster_8x8()[1] == [16] * 64
        assert not m.is_flat
    elif name in ("cqm_jvt", "high444_8x8"):
        assert pps.pic_scaling_matrix_present_flag and not any(pps.pic_scaling_list_present_flag)
        # no list present, SPS without matrix -> rule A: Default lists everywhere
        assert m.scaling_list_4x4 == (S.Default_4x4_Intra,) * 3 + (S.Default_4x4_Inter,) * 3
        assert m.scaling_list_8x8 == (S.Default_8x8_Intra, S.Default_8x8_Inter) * 3
    else:
        assert not pps.pic_scaling_matrix_present_flag and m.is_flat


def test_zigzag_tables() -> None:
    # 8.5.6 Table 8-13 (4x4 frame scan) and the start of the 8x8 frame scan (Table 8-14)
    assert S.ZIGZAG_4x4 == (0, 1, 4, 8, 5, 2, 3, 6, 9, 12, 13, 10, 7, 11, 14, 15)
    assert S.ZIGZAG_8x8[:10] == (0, 1, 8, 16, 9, 2, 3, 10, 17, 24)
    assert S.ZIGZAG_8x8[-3:] == (55, 62, 63)
    assert sorted(S.ZIGZAG_8x8) == list(range(64))
    # Table 7-3 Default_4x4_Intra in raster order: rows 6 13 20 28 / 13 20 28 32 / ...
    assert S.zigzag_to_raster(S.Default_4x4_Intra) == [6, 13, 20, 28, 13, 20, 28, 32, 20, 28, 32, 37, 28, 32, 37, 42]


def _sps_with_matrix(W, lists: dict[int, list[int] | None]) -> bytes:
    """High-profile SPS (id 0) with seq_scaling_matrix_present_flag and the given lists
    (index -> coded values in zig-zag order, None = useDefaultScalingMatrixFlag)."""
    w = W().u(8, 100).u(8, 0).u(8, 30).ue(0).ue(1).ue(0).ue(0).u(1, 0)
    w.u(1, 1)
    for i in range(8):
        lst = lists.get(i, "absent")
        if lst == "absent":
            w.u(1, 0)
            continue
        w.u(1, 1)
        _write_list(w, lst, 16 if i < 6 else 64)
    w.ue(0).ue(0).ue(0).ue(1).u(1, 0).ue(3).ue(2).u(1, 1).u(1, 1).u(1, 0).u(1, 0)
    return w.trailing().bytes()


def _write_list(w, lst, size: int) -> None:
    if lst is None:
        w.se(-8)  # nextScale 0 at j = 0 -> use the default list
        return
    last = 8
    for v in lst:
        w.se((v - last + 128) % 256 - 128)
        last = v


def _pps_with_matrix(W, lists, transform_8x8: int = 1) -> bytes:
    w = W().ue(0).ue(0).u(1, 1).u(1, 0).ue(0).ue(0).ue(0).u(1, 0).u(2, 0).se(0).se(0).se(2)
    w.u(1, 1).u(1, 0).u(1, 0)
    w.u(1, transform_8x8).u(1, 1)
    for i in range(6 + 2 * transform_8x8):
        lst = lists.get(i, "absent")
        if lst == "absent":
            w.u(1, 0)
            continue
        w.u(1, 1)
        _write_list(w, lst, 16 if i < 6 else 64)
    w.se(-3)
    return w.trailing().bytes()


def test_fall_back_rule_b(h264_oracle) -> None:
    W = h264_oracle.BitWriter
    l0 = list(range(10, 26))
    l3 = [20] * 16
    l8 = [30 + i % 5 for i in range(64)]
    sps = parse_sps(_sps_with_matrix(W, {0: l0, 3: l3, 6: l8, 7: None}))
    # SPS (rule A): 1, 2 <- 0; 4, 5 <- 3; 7 default; 8x8 chroma <- luma
    assert sps.scaling_matrix.scaling_list_4x4 == (tuple(l0),) * 3 + (tuple(l3),) * 3
    assert sps.scaling_matrix.scaling_list_8x8[:2] == (tuple(l8), S.Default_8x8_Inter)
    p1 = [40] * 16
    pps = parse_pps(_pps_with_matrix(W, {1: p1, 4: None}), {0: sps})
    m = pps.scaling_matrix
    # rule B: list 0 <- SPS list 0, 2 <- PPS list 1, 3 <- SPS list 3, 4 default (flag), 5 <- 4
    assert m.scaling_list_4x4 == (tuple(l0), tuple(p1), tuple(p1), tuple(l3), S.Default_4x4_Inter, S.Default_4x4_Inter)
    # 8x8: 6, 7 <- the SPS lists
    assert m.scaling_list_8x8[:2] == (tuple(l8), S.Default_8x8_Inter)
    assert pps.second_chroma_qp_index_offset == -3 and pps.transform_8x8_mode_flag == 1
    # without a PPS matrix the SPS lists apply
    pps2 = parse_pps(h264_oracle.BitWriter().ue(1).ue(0).u(1, 0).u(1, 0).ue(0).ue(0).ue(0).u(1, 0).u(2, 0)
                     .se(0).se(0).se(5).u(1, 0).u(1, 0).u(1, 0).trailing().bytes(), {0: sps})
    assert pps2.scaling_matrix == sps.scaling_matrix
    assert pps2.second_chroma_qp_index_offset == 5  # inferred = chroma_qp_index_offset
    # the same PPS with an SPS without matrix: rule A (defaults), not the SPS (flat) lists
    flat_sps = parse_sps(W().u(8, 100).u(8, 0).u(8, 30).ue(0).ue(1).ue(0).ue(0).u(1, 0).u(1, 0)
                         .ue(0).ue(0).ue(0).ue(1).u(1, 0).ue(3).ue(2).u(1, 1).u(1, 1).u(1, 0).u(1, 0)
                         .trailing().bytes())
    pps3 = parse_pps(_pps_with_matrix(W, {1: p1, 4: None}), {0: flat_sps})
    assert pps3.scaling_matrix.scaling_list_4x4[0] == S.Default_4x4_Intra
    assert pps3.scaling_matrix.scaling_list_8x8[0] == S.Default_8x8_Intra


def test_pps_errors(h264_oracle) -> None:
    W = h264_oracle.BitWriter
    with pytest.raises(BitstreamError, match=r"PPS: pic_parameter_set_id = 256"):
        parse_pps(W().ue(256).trailing().bytes(), {})
    with pytest.raises(BitstreamError, match=r"PPS 3: num_slice_groups_minus1 = 8"):
        parse_pps(W().ue(3).ue(0).u(1, 0).u(1, 0).ue(8).trailing().bytes(), {})
    with pytest.raises(BitstreamError, match=r"PPS 3: truncated"):
        parse_pps(W().ue(3).ue(0).u(1, 0).bytes(), {})


def test_parameter_sets_follow_sps_changes(h264_oracle) -> None:
    from pyv4l2req.codec.h264.nal import NalUnit
    from pyv4l2req.codec.h264.paramsets import ParameterSets

    W = h264_oracle.BitWriter
    a, b = list(range(10, 26)), list(range(30, 46))
    ps = ParameterSets()
    ps.add_sps(NalUnit(7, 3, b"\x67" + _sps_with_matrix(W, {0: a})))
    pps_nal = NalUnit(8, 3, b"\x68" + _pps_with_matrix(W, {1: [40] * 16}))
    first = ps.add_pps(pps_nal)
    assert first.scaling_matrix.scaling_list_4x4[0] == tuple(a)  # rule B: SPS list 0
    # the same SPS again: nothing changes (same objects)
    assert ps.add_sps(NalUnit(7, 3, b"\x67" + _sps_with_matrix(W, {0: a}))) is first.sps
    assert ps.pps[0] is first
    # a new SPS 0 with another list 0: held back until the next IDR slice (7.4.1.2.1) ...
    ps.add_sps(NalUnit(7, 3, b"\x67" + _sps_with_matrix(W, {0: b})))
    assert ps.pps[0] is first and ps.sps[0] is first.sps

    def slice_(nal_unit_type: int) -> None:  # (whether its header parses or not)
        try:
            ps.parse_slice_header(NalUnit(nal_unit_type, 3, bytes([0x60 | nal_unit_type, 0x88, 0x80])))
        except BitstreamError:
            pass

    slice_(1)
    assert ps.pps[0] is first
    slice_(5)  # ... then it replaces SPS 0
    # the PPS is re-resolved, the old object is untouched
    assert ps.pps[0].scaling_matrix.scaling_list_4x4[0] == tuple(b)
    assert ps.pps[0].sps is ps.sps[0]
    assert first.scaling_matrix.scaling_list_4x4[0] == tuple(a)
