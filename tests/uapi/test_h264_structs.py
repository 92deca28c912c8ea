"""pyv4l2req.uapi.h264 / fwht: the compiled pack/unpack fast path against construct's own build/parse.

Offsets and sizes against the C headers are checked by tests/test_uapi_layout.py (gcc); here the
oracle is the construct library interpreting the same declarations.
"""

from __future__ import annotations

import random
import zlib

import construct
import pytest

from pyv4l2req.uapi import fwht, h264, packing

ALL = {**h264.C_STRUCTS, **fwht.C_STRUCTS, **fwht.OTHER_STRUCTS}

SIZES = {
    "v4l2_ctrl_h264_sps": 1048,
    "v4l2_ctrl_h264_pps": 12,
    "v4l2_ctrl_h264_scaling_matrix": 480,
    "v4l2_h264_weight_factors": 384,
    "v4l2_ctrl_h264_pred_weights": 772,
    "v4l2_h264_reference": 2,
    "v4l2_ctrl_h264_slice_params": 152,
    "v4l2_h264_dpb_entry": 32,
    "v4l2_ctrl_h264_decode_params": 560,
    "v4l2_ctrl_fwht_params": 40,
    "fwht_cframe_hdr": 44,
}

_RANGES = {"B": (0, 255), "b": (-128, 127), "H": (0, 65535), "h": (-32768, 32767),
           "I": (0, 2**32 - 1), "i": (-(2**31), 2**31 - 1), "L": (0, 2**32 - 1), "l": (-(2**31), 2**31 - 1),
           "Q": (0, 2**64 - 1), "q": (-(2**63), 2**63 - 1)}


def random_value(con, rng: random.Random, partial: bool = False):
    """A random value dict/list for a construct; *partial* drops keys and shortens lists."""
    if isinstance(con, construct.FormatField):
        lo, hi = _RANGES[con.fmtstr[1]]
        return rng.choice([lo, hi, 0, 1, rng.randint(lo, hi)])
    if isinstance(con, construct.Array):
        n = rng.randint(0, con.count) if partial else con.count
        return [random_value(con.subcon, rng, partial) for _ in range(n)]
    out = {}
    for sc in con.subcons:
        if partial and rng.random() < 0.3:
            continue
        out[sc.name] = random_value(sc.subcon, rng, partial)
    return out


def test_sizes_match_c() -> None:
    for name, con in ALL.items():
        assert con.sizeof() == SIZES[name], name
        assert packing.fast(con).size == SIZES[name], name
    assert set(ALL) == set(SIZES)


def test_control_structs_map() -> None:
    from pyv4l2req.uapi import controls as c

    assert h264.CONTROL_STRUCTS[c.V4L2_CID_STATELESS_H264_SPS] is h264.v4l2_ctrl_h264_sps
    assert h264.CONTROL_STRUCTS[c.V4L2_CID_STATELESS_H264_DECODE_PARAMS] is h264.v4l2_ctrl_h264_decode_params
    assert len(h264.CONTROL_STRUCTS) == 6
    assert fwht.CONTROL_STRUCTS[c.V4L2_CID_STATELESS_FWHT_PARAMS] is fwht.v4l2_ctrl_fwht_params


@pytest.mark.parametrize("name", sorted(ALL))
def test_fast_pack_equals_construct_build_random(name: str) -> None:
    con = ALL[name]
    rng = random.Random(zlib.crc32(name.encode()))
    for i in range(40):
        v = random_value(con, rng, partial=bool(i % 2))
        fast = h264.pack(con, v)
        ref = con.build(packing.complete(con, v))
        assert fast == ref, (name, i)
        # unpack is the inverse, and agrees with construct's parse
        back = h264.unpack(con, fast)
        assert back == packing.complete(con, v)
        parsed = con.parse(fast)
        assert back == _plain(parsed)


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def test_known_bytes_decode_params() -> None:
    """Hand-computed little-endian bytes at the documented C offsets."""
    v = {
        "dpb": [{}, {"reference_ts": 0x0102030405060708, "pic_num": 7, "frame_num": 9, "fields": 3,
                     "top_field_order_cnt": -2, "bottom_field_order_cnt": 4, "flags": 0x3}],
        "nal_ref_idc": 2,
        "frame_num": 0x1234,
        "top_field_order_cnt": -1,
        "flags": h264.V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC | h264.V4L2_H264_DECODE_PARAM_FLAG_PFRAME,
    }
    b = h264.pack(h264.v4l2_ctrl_h264_decode_params, v)
    assert len(b) == 560
    assert b[:32] == bytes(32)
    assert b[32:40] == bytes([8, 7, 6, 5, 4, 3, 2, 1])
    assert b[40:44] == (7).to_bytes(4, "little")
    assert b[44:46] == (9).to_bytes(2, "little") and b[46] == 3
    assert b[52:56] == (-2).to_bytes(4, "little", signed=True)
    assert b[60:64] == (3).to_bytes(4, "little")
    assert b[512:514] == b"\x02\x00" and b[514:516] == b"\x34\x12"
    assert b[516:520] == b"\xff\xff\xff\xff"
    assert b[556:560] == b"\x09\x00\x00\x00"


def test_known_bytes_slice_and_sps() -> None:
    sp = h264.pack(h264.v4l2_ctrl_h264_slice_params, {
        "header_bit_size": 0x11, "slice_type": h264.V4L2_H264_SLICE_TYPE_B, "slice_qp_delta": -3,
        "ref_pic_list0": [{"fields": 3, "index": 5}], "ref_pic_list1": [{}, {"fields": 1, "index": 2}],
        "flags": h264.V4L2_H264_SLICE_FLAG_DIRECT_SPATIAL_MV_PRED})
    assert sp[0] == 0x11 and sp[8] == 1 and sp[12] == 0xFD
    assert sp[20:22] == b"\x03\x05" and sp[84:88] == b"\x00\x00\x01\x02" and sp[148] == 1
    sps = h264.pack(h264.v4l2_ctrl_h264_sps, {"profile_idc": 100, "offset_for_ref_frame": [-1],
                                              "pic_width_in_mbs_minus1": 119, "flags": 0x50})
    assert sps[0] == 100 and sps[12:16] == b"\xff" * 4 and sps[16:20] == bytes(4)
    assert sps[1040:1042] == (119).to_bytes(2, "little") and sps[1044:1048] == b"\x50\0\0\0"


def test_fwht_header_big_endian() -> None:
    b = fwht.pack(fwht.fwht_cframe_hdr, {"magic1": fwht.FWHT_MAGIC1, "magic2": fwht.FWHT_MAGIC2,
                                         "version": 3, "width": 0x140, "size": 0x01020304})
    assert b[:8] == b"OOOO\xff\xff\xff\xff" and b[8:12] == b"\0\0\0\x03" and b[12:16] == b"\0\0\x01\x40"
    assert b[40:44] == b"\x01\x02\x03\x04"
    p = fwht.pack(fwht.v4l2_ctrl_fwht_params, {"backward_ref_ts": 1, "version": fwht.V4L2_FWHT_VERSION})
    assert p[:8] == b"\x01" + bytes(7) and p[8:12] == b"\x03\0\0\0"


def test_errors_name_struct_and_field() -> None:
    with pytest.raises(ValueError, match="ref_pic_list0"):
        h264.pack(h264.v4l2_ctrl_h264_slice_params, {"ref_pic_list0": [{}] * 33})
    with pytest.raises(ValueError, match="v4l2_ctrl_h264_pps"):
        h264.pack(h264.v4l2_ctrl_h264_pps, {"pic_init_qp_minus26": 200})
    with pytest.raises(ValueError, match="scaling_list_4x4"):
        h264.pack(h264.v4l2_ctrl_h264_scaling_matrix, {"scaling_list_4x4": [[0] * 17]})
    with pytest.raises(ValueError, match="560"):
        h264.unpack(h264.v4l2_ctrl_h264_decode_params, bytes(559))


def test_bytes_accepted_for_u8_arrays() -> None:
    sm = {"scaling_list_4x4": [bytes(range(16))] * 6, "scaling_list_8x8": [bytes([16]) * 64] * 6}
    b = h264.pack(h264.v4l2_ctrl_h264_scaling_matrix, sm)
    assert b[:16] == bytes(range(16)) and b[96:] == bytes([16]) * 384


def test_macros() -> None:
    assert h264.V4L2_H264_SPS_HAS_CHROMA_FORMAT({"profile_idc": 100})
    assert not h264.V4L2_H264_SPS_HAS_CHROMA_FORMAT({"profile_idc": 77})
    pps = {"flags": h264.V4L2_H264_PPS_FLAG_WEIGHTED_PRED, "weighted_bipred_idc": 2}
    assert h264.V4L2_H264_CTRL_PRED_WEIGHTS_REQUIRED(pps, {"slice_type": h264.V4L2_H264_SLICE_TYPE_P})
    assert not h264.V4L2_H264_CTRL_PRED_WEIGHTS_REQUIRED(pps, {"slice_type": h264.V4L2_H264_SLICE_TYPE_B})
    assert h264.V4L2_H264_REF_LIST_LEN == 32 and h264.V4L2_H264_NUM_DPB_ENTRIES == 16


def test_unknown_member_names_are_rejected() -> None:
    """A misspelt key must not silently pack as 0."""
    with pytest.raises(KeyError, match="nal_ref_idcx"):
        h264.pack(h264.v4l2_ctrl_h264_decode_params, {"nal_ref_idcx": 1})
    with pytest.raises(KeyError, match=r"dpb\[\].*pic_number"):
        h264.pack(h264.v4l2_ctrl_h264_decode_params, {"dpb": [{"pic_number": 1}]})
    with pytest.raises(KeyError, match="idx"):
        h264.pack(h264.v4l2_ctrl_h264_slice_params, {"ref_pic_list1": [{"fields": 3}, {"idx": 1}]})
    with pytest.raises(TypeError, match="ref_pic_list0"):
        h264.pack(h264.v4l2_ctrl_h264_slice_params, {"ref_pic_list0": [(3, 1)]})


@pytest.mark.parametrize("name", sorted(ALL))
def test_pack_into_equals_construct_build_random(name: str) -> None:
    """pack_into writes construct's bytes at the offset and nothing outside them, also over a
    buffer that held another value (every byte is written: the payloads are reused)."""
    con = ALL[name]
    f = packing.fast(con)
    rng = random.Random(zlib.crc32(b"into" + name.encode()))
    buf = bytearray(b"\xa5" * (f.size + 7))
    for i in range(60):
        v = random_value(con, rng, partial=bool(i % 2))
        packing.pack_into(con, memoryview(buf), 3, v)
        assert bytes(buf[3:3 + f.size]) == con.build(packing.complete(con, v)), (name, i)
        assert buf[:3] == b"\xa5" * 3 and buf[3 + f.size:] == b"\xa5" * 4
    f.pack_into(buf, 0, {})  # a bytearray works too; all zero for an empty dict
    assert bytes(buf[:f.size]) == bytes(f.size)


def test_pack_into_errors_like_pack() -> None:
    dp, sp, sm = h264.v4l2_ctrl_h264_decode_params, h264.v4l2_ctrl_h264_slice_params, h264.v4l2_ctrl_h264_scaling_matrix
    buf = memoryview(bytearray(1024))
    with pytest.raises(KeyError, match=r"dpb\[\].*pic_number"):
        packing.pack_into(dp, buf, 0, {"dpb": [{"pic_number": 1}]})
    with pytest.raises(KeyError, match="nal_ref_idcx"):
        packing.pack_into(dp, buf, 0, {"nal_ref_idcx": 1})
    with pytest.raises(ValueError, match="dpb: 17 elements"):
        packing.pack_into(dp, buf, 0, {"dpb": [{}] * 17})
    with pytest.raises(ValueError, match=r"dpb\[\].reserved: 6 elements"):
        packing.pack_into(dp, buf, 0, {"dpb": [{"reserved": [0] * 6}]})
    with pytest.raises(ValueError, match="v4l2_ctrl_h264_decode_params"):
        packing.pack_into(dp, buf, 0, {"dpb": [{"fields": 256}]})
    with pytest.raises(ValueError, match="ref_pic_list0"):
        packing.pack_into(sp, buf, 0, {"ref_pic_list0": [{}] * 33})
    with pytest.raises(TypeError, match="ref_pic_list0"):
        packing.pack_into(sp, buf, 0, {"ref_pic_list0": [(3, 1)]})
    with pytest.raises(ValueError, match="scaling_list_4x4"):
        packing.pack_into(sm, buf, 0, {"scaling_list_4x4": [[0] * 17]})


@pytest.mark.parametrize("name", sorted(ALL))
def test_pack_into_of_dicts_holding_every_member_but_reserved(name: str) -> None:
    """The codec's dicts hold every member except "reserved" (a one-itemgetter fast path for
    structs of scalars): against construct's build, for the struct and inside dpb[]."""
    con = ALL[name]
    f = packing.fast(con)
    rng = random.Random(zlib.crc32(b"exact" + name.encode()))

    def exact(c):  # every member, "reserved" left out, nested values likewise
        if isinstance(c, construct.FormatField):
            return random_value(c, rng)
        if isinstance(c, construct.Array):
            return [exact(c.subcon) for _ in range(rng.randint(0, c.count))]
        return {sc.name: exact(sc.subcon) for sc in c.subcons if sc.name != "reserved"}

    buf = bytearray(b"\x5a" * f.size)
    for i in range(40):
        v = exact(con)
        f.pack_into(buf, 0, v)
        assert bytes(buf) == con.build(packing.complete(con, v)), (name, i)


def test_pack_into_fast_path_keeps_the_checks() -> None:
    dp, pps = h264.v4l2_ctrl_h264_decode_params, h264.v4l2_ctrl_h264_pps
    entry = {"reference_ts": 1, "pic_num": 2, "frame_num": 3, "fields": 3, "top_field_order_cnt": 4,
             "bottom_field_order_cnt": 5, "flags": 3}
    buf = bytearray(560)
    # as many keys as the fast path wants, one of them unknown
    wrong = {**{k: v for k, v in entry.items() if k != "flags"}, "flag": 3}
    with pytest.raises(KeyError, match=r"dpb\[\].*flag"):
        packing.pack_into(dp, buf, 0, {"dpb": [entry, wrong]})
    with pytest.raises(ValueError, match="v4l2_ctrl_h264_decode_params"):
        packing.pack_into(dp, buf, 0, {"dpb": [{**entry, "fields": 256}]})
    with pytest.raises(TypeError):
        packing.pack_into(dp, buf, 0, {"dpb": [None]})
    # a dict subclass that would invent missing members is not trusted with the fast path
    import collections

    dd = collections.defaultdict(int, {k: 1 for k in construct_names(pps)[:-1]})  # 10 of 11
    dd["pic_init_qpx"] = 1
    n = len(dd)
    with pytest.raises(KeyError, match="pic_init_qpx"):
        packing.pack_into(pps, bytearray(12), 0, dd)
    assert len(dd) == n  # not modified


def construct_names(con) -> list[str]:
    return [sc.name for sc in con.subcons]


def test_decode_params_header_fast_path_keeps_the_checks() -> None:
    """v4l2_ctrl_h264_decode_params given with exactly its members but reserved (one
    itemgetter for dpb + header): same bytes as construct, same errors as the checked path."""
    dp = h264.v4l2_ctrl_h264_decode_params
    names = [n for n in construct_names(dp) if n != "reserved"]
    header = {n: i + 1 for i, n in enumerate(names) if n != "dpb"}
    buf = bytearray(b"\x5a" * 560)
    for dpb in (None, [], [{"reference_ts": 7, "pic_num": 1, "frame_num": 1, "fields": 3,
                            "top_field_order_cnt": -2, "bottom_field_order_cnt": 2, "flags": 1}]):
        v = {"dpb": dpb, **header}
        packing.pack_into(dp, buf, 0, v)
        assert bytes(buf) == dp.build(packing.complete(dp, {**v, "dpb": dpb or []}))
    # as many keys as the fast path wants, one of them unknown
    wrong = {**{k: v for k, v in header.items() if k != "flags"}, "flag": 1, "dpb": []}
    with pytest.raises(KeyError, match="flag"):
        packing.pack_into(dp, buf, 0, wrong)
    with pytest.raises(ValueError, match="v4l2_ctrl_h264_decode_params"):
        packing.pack_into(dp, buf, 0, {"dpb": [], **header, "nal_ref_idc": None})
    with pytest.raises(ValueError, match="dpb"):
        packing.pack_into(dp, buf, 0, {"dpb": [{}] * 17, **header})
    # reserved given: the checked path, same bytes
    packing.pack_into(dp, buf, 0, {"dpb": [], **header, "reserved": 0})
    assert bytes(buf) == dp.build(packing.complete(dp, {"dpb": [], **header}))
