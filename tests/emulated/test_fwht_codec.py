"""emulated/fwht_codec.py: our FWHT encoder and decoder against vicodec.

Oracle: SHA-256 digests of what vicodec (Linux 6.12.117, the project's test kernel) produced for
``moving_pattern(16, 640, 368)``: its stateful encoder's 16 compressed frames and its stateful
decoder's 16 decoded frames. tests/device/test_fwht_vicodec.py recomputes them in the VM and
compares byte for byte, so these digests are re-checked against the kernel every VM run. The
pattern covers I- and P-blocks, repeated blocks, raw (uncompressed) planes, an I-frame forced
inside a GOP and the GOP boundary (gop_size 10).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from pyv4l2req.codec.fwht import FWHT_HEADER_SIZE, parse_header, split_frames
from pyv4l2req.emulated import fwht_codec as C
from pyv4l2req.errors import BitstreamError
from pyv4l2req.uapi import fwht as U
from pyv4l2req.uapi import videodev2 as v

W, H, N = 640, 368, 16

#: sha256 of vicodec's stateful-encoder output for each frame of moving_pattern(16, 640, 368)
VICODEC_ENCODED_SHA256 = [
    "bfa0c7a91554fb400ad482eb4e9688aac289cea429563da480a4b7f0dc32c3dd",
    "eec3fe9ca8bd59b44f768c8f3da9ad651fa6cf79dc4b04308645d4a570bfb677",
    "5e83f057059351ddbc00cd8f5cd91adc1d111ba7be8241e1e91d524179a1f422",
    "80e29576f551cda0b4f5f32229bc924e4288bc76654e4b072b8a0aadc72e7404",
    "b9ad6a17416ef6a73ef5138a527ca9821d94c335ffb671557f2394651d7ed6b0",
    "19e8177fff8e9df075833a91b08fab3113031325f5d11dd6aa538a96bc642e19",
    "c6cbf9e22036ccbb93024ce6b2239187359475d59f534c17202dce0fe5de15f8",
    "46cdfb8db101e47e17b9778e5b8b393dc3f933809dba4882ea607bae3bad57db",
    "6fffedffc95c0c7b7e09b94a47fc69cec4489880e6f1d334c64e339233e94e75",
    "afc762271deac15fd95c898d1f7e6b762860a805d7b9ee447bac3f2b91d6feff",
    "54fa017ce5a80a6acca66d4ec631d430e72f28d2dba2a530b92377e78444957c",
    "0463b8c59d5554d4c84f10baa41b58277573b34db6eae44563fa716d5f5251fd",
    "8fefce0e8ae6e945cb1a502181ad297bff79aa889eed409fbc5f04c59741c964",
    "2c8682c5e242ee36a4dfdd379d6a4198d1e7f08c5dfb65cd8c9462eb91c71416",
    "6eb0eb06645c082d18efb99b0297e4b5d804a08a555f17d65b9d55e0613779a2",
    "d34c017f209895eadff3f3f86f88e336fa8793c877a1a25c9ca516b2d6939084",
]
#: sha256 of vicodec's stateful-decoder CAPTURE payload (YUV420 640x368) for each frame
VICODEC_DECODED_SHA256 = [
    "4d01ffd7452716459b7d26cedeca6efb15af9bd158ec182999549f5127a9d52d",
    "a6fec11bb7fc6071f81b815f25b15eed232d72b58cfa8618950b11493dc566fa",
    "8514b39f601286c4771bbcf85a322d965c3c42051f4eef240e0424d2d57bbbe5",
    "9b993173a1401258c79464e4c052b2092487989b689949700f4ea1a7544af4e0",
    "a0f9257076976b208d745fc3ef1de0f9fb5886032624a7412cd1c5c7e24c2369",
    "810a9a3305f873c66512dc03c3d1949b02c92d155f8f24c5b4b58976e3de01cd",
    "5dee89ead7be0af4f85ae773c6e4ed9a9562be7ddc00ac68d18a1a8173d6d465",
    "7f372f342643c1b855e9392a27e898e6bb20cc15ce621a81cb3ce25883b11191",
    "b52c14b74302ba38a1501c2b283f048765c35f44ec295121f69b6d957ab7dd01",
    "2339125941d202644da6d5fc39be269931d8806949404ee7aa14749aa350d992",
    "88f9d9107ce4a4d46a097516d9db5413388ccf6f119f0c3b465547bce508a22b",
    "f229b387272cc5532864ad4ef430ad03157b6c036b573c6361108dd01b8119d6",
    "7e03d68ed257fbef9c52181c46de1ddf537e98b618211e764f90421d24c40233",
    "5437bb0640e80b1639fd7a99888cbdf76955a44248e11b20aa7fe9f4563cd9b0",
    "31f382f3c31262daa090e36c6e4dae84ea0c6e1a115dfa84cf490f3807c949b3",
    "f20efd34725a9f3058721ca559ebfe02f15e143664a9144e23cd411ebd2884e8",
]


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(scope="module")
def raw_frames() -> list[bytes]:
    return C.moving_pattern(N, W, H)


@pytest.fixture(scope="module")
def encoded(raw_frames) -> list[bytes]:
    enc = C.FwhtEncoder(W, H)
    return [enc.encode(f) for f in raw_frames]


@pytest.fixture(scope="module")
def decoded(encoded) -> list[bytes]:
    dec = C.FwhtStatefulDecoder()
    return [dec.decode(f.header, f.payload) for f in split_frames(b"".join(encoded))]


def test_encoder_matches_vicodec(encoded):
    assert [sha(e) for e in encoded] == VICODEC_ENCODED_SHA256


def test_decoder_matches_vicodec(decoded):
    assert [sha(d) for d in decoded] == VICODEC_DECODED_SHA256


def test_pattern_exercises_every_path(encoded):
    flags = [parse_header(e).flags for e in encoded]
    raw = U.V4L2_FWHT_FL_LUMA_IS_UNCOMPRESSED | U.V4L2_FWHT_FL_CB_IS_UNCOMPRESSED | U.V4L2_FWHT_FL_CR_IS_UNCOMPRESSED
    assert flags[3] & raw == raw                           # noise: raw planes
    assert [i for i, f in enumerate(flags) if f & U.V4L2_FWHT_FL_I_FRAME] == [0, 3, 4, 14]
    assert len(encoded[4]) == FWHT_HEADER_SIZE + 12        # flat: one repeated block per plane
    assert len(encoded[2]) < 4000                          # repeat of frame 1: zero P-blocks


def test_decoded_close_to_source(raw_frames, decoded):
    """Lossy but close: PSNR of every frame above 28 dB; raw planes are exact except that the
    encoder stores 0xff as 0xfe (so the magic cannot appear in the data)."""
    for k, (src, out) in enumerate(zip(raw_frames, decoded)):
        a = np.frombuffer(src, np.uint8).astype(np.float64)
        b = np.frombuffer(out, np.uint8).astype(np.float64)
        mse = float(((a - b) ** 2).mean())
        if k == 3:
            assert out == bytes(np.where(np.frombuffer(src, np.uint8) == 0xFF, 0xFE,
                                         np.frombuffer(src, np.uint8)).astype(np.uint8))
        else:
            assert mse == 0.0 or 10 * np.log10(255 ** 2 / mse) > 28, k


def test_stateless_i_frame_ignores_reference(encoded, decoded):
    """An I-frame decoded without a reference equals the stateful result; a P-frame without its
    reference (P-blocks then decoded as intra, as vicodec does for ref == NULL) differs."""
    frames = split_frames(b"".join(encoded))
    out = bytearray(len(decoded[0]))
    dst = C.frame_views(out, v.V4L2_PIX_FMT_YUV420, W, H)
    C.decode_frame(frames[0].payload, W, H, frames[0].header.flags, dst, None)
    assert bytes(out) == decoded[0]
    C.decode_frame(frames[1].payload, W, H, frames[1].header.flags, dst, None)
    assert bytes(out) != decoded[1]
    ref = C.frame_views(bytearray(decoded[0]), v.V4L2_PIX_FMT_YUV420, W, H)
    C.decode_frame(frames[1].payload, W, H, frames[1].header.flags, dst, ref)
    assert bytes(out) == decoded[1]


@pytest.mark.parametrize("fourcc", [v.v4l2_fourcc("N", "V", "1", "2"), v.v4l2_fourcc("Y", "V", "1", "2"),
                                    v.v4l2_fourcc("N", "V", "2", "1")])
def test_other_420_layouts(encoded, decoded, fourcc):
    """Decoding into NV12 / YVU420 / NV21 writes the same samples as YUV420, rearranged."""
    frames = split_frames(b"".join(encoded))[:3]
    ref = None
    for k, f in enumerate(frames):
        buf = bytearray(W * H * 3 // 2)
        C.decode_frame(f.payload, W, H, f.header.flags, C.frame_views(buf, fourcc, W, H), ref)
        ref = C.frame_views(buf, fourcc, W, H)
        want = C.frame_views(bytearray(decoded[k]), v.V4L2_PIX_FMT_YUV420, W, H)
        for p in range(3):
            assert np.array_equal(ref[p], want[p]), (k, p)


def test_truncated_data_is_an_error(encoded):
    f = split_frames(encoded[0])[0]
    dst = C.frame_views(bytearray(W * H * 3 // 2), v.V4L2_PIX_FMT_YUV420, W, H)
    with pytest.raises(BitstreamError, match="luma"):
        C.decode_frame(f.payload[:1000], W, H, f.header.flags, dst, None)
    with pytest.raises(BitstreamError, match="cr"):
        C.decode_frame(f.payload[:-2], W, H, f.header.flags, dst, None)
    raw = split_frames(encoded[3])[0]
    with pytest.raises(BitstreamError, match="raw plane"):
        C.decode_frame(raw.payload[: W * H - 2], W, H, raw.header.flags, dst, None)


def test_rlc_tokens_by_hand():
    """Block syntax from codec-fwht.h: a DC-only intra block (word ``c << 4``, then run 15)
    decodes to the flat value ``((c << 2) >> 6) + 128``; the header's repeat count copies it."""
    w, h = 640, 368
    nblocks = (w // 8) * (h // 8)
    c = 400
    words = [2 * (nblocks - 1), (c << 4) & 0xFFFF, 15]            # luma: one block, repeated
    words += [2 * (nblocks // 4 - 1), ((-c) << 4) & 0xFFFF, 15] * 2  # cb, cr: negative DC
    data = np.array(words, dtype=">u2").tobytes()
    buf = bytearray(w * h * 3 // 2)
    planes = C.frame_views(buf, v.V4L2_PIX_FMT_YUV420, w, h)
    C.decode_frame(data, w, h, U.V4L2_FWHT_FL_PIXENC_YUV | (2 << 16), planes, None)
    assert (planes[0] == ((c << 2) >> 6) + 128).all()
    assert (planes[1] == ((-c << 2) >> 6) + 128).all() and (planes[2] == planes[1]).all()
