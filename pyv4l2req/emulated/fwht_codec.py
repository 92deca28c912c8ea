"""The FWHT pixel codec of vicodec, in numpy: decoder (bit-exact with the kernel) and encoder.

Written from the description of vicodec's codec (drivers/media/test-drivers/vicodec): every
plane is cut into 8x8 blocks, in raster order. A block is transformed with an 8x8 sequency-
ordered Walsh-Hadamard transform, quantised by a fixed table (a shift per coefficient), zig-zag
scanned and run-length coded as big-endian 16-bit words: a block header word (bit 15: P-block,
a delta against the reference frame; bits 1..12: how many following blocks repeat this one),
then words ``coefficient << 4 | zero_run`` (run 15 = the rest of the block is zero). A plane whose
code would not fit in half its raw size is stored raw instead (``*_IS_UNCOMPRESSED`` flags).

The arithmetic follows the kernel's C types: intermediate transform rows are stored in ``s16``
(they wrap), the inverse transform divides by 64 with an arithmetic shift and adds 128 for intra
blocks, results are clamped to 0..255. The run-length parsing (sequential) is plain Python;
dequantisation, transforms and reconstruction are vectorised over all blocks of a plane.

Planes are numpy ``uint8`` 2-D views; :func:`frame_views` makes them for a CAPTURE buffer of a
given fourcc / stride / coded height (planar and semi-planar Y'CbCr 4:2:0 / 4:2:2, grey).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from ..errors import BitstreamError
from ..uapi import videodev2 as _v
from ..uapi.fwht import (
    FWHT_MAGIC1,
    FWHT_MAGIC2,
    V4L2_FWHT_FL_ALPHA_IS_UNCOMPRESSED,
    V4L2_FWHT_FL_CB_IS_UNCOMPRESSED,
    V4L2_FWHT_FL_CHROMA_FULL_HEIGHT,
    V4L2_FWHT_FL_CHROMA_FULL_WIDTH,
    V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET,
    V4L2_FWHT_FL_CR_IS_UNCOMPRESSED,
    V4L2_FWHT_FL_I_FRAME,
    V4L2_FWHT_FL_LUMA_IS_UNCOMPRESSED,
    V4L2_FWHT_FL_PIXENC_YUV,
    V4L2_FWHT_VERSION,
)

__all__ = [
    "ZIGZAG", "QUANT_TABLE", "QUANT_TABLE_P", "PixFmt", "PIXFMTS", "plane_sizes", "frame_views",
    "decode_frame", "decode_into", "FwhtEncoder", "FwhtStatefulDecoder",
]

PFRAME_BIT = 0x8000
DUPS_MASK = 0x1FFE
ALL_ZEROS = 15

#: scan position -> raster index (row * 8 + column) in the 8x8 block
ZIGZAG = np.array([
    0, 1, 8, 2, 9, 16, 3, 10, 17, 24, 4, 11, 18, 25, 32, 5, 12, 19, 26, 33, 40,
    6, 13, 20, 27, 34, 41, 48, 7, 14, 21, 28, 35, 42, 49, 56, 15, 22, 29, 36, 43, 50, 57,
    23, 30, 37, 44, 51, 58, 31, 38, 45, 52, 59, 39, 46, 53, 60, 47, 54, 61, 55, 62, 63,
], dtype=np.intp)
# raster index -> scan position. Built by a plain loop, not np.argsort: numpy 2.4's AVX2 sort
# kernels return a wrong permutation under QEMU's TCG (seen in the test VM).
_UNZIGZAG = np.array([[int(p) for p in ZIGZAG].index(r) for r in range(64)], dtype=np.intp)

#: shift applied to each coefficient (raster order) of intra and inter blocks
QUANT_TABLE = np.array([
    [2, 2, 2, 2, 2, 2, 2, 2],
    [2, 2, 2, 2, 2, 2, 2, 2],
    [2, 2, 2, 2, 2, 2, 2, 3],
    [2, 2, 2, 2, 2, 2, 3, 6],
    [2, 2, 2, 2, 2, 3, 6, 6],
    [2, 2, 2, 2, 3, 6, 6, 6],
    [2, 2, 2, 3, 6, 6, 6, 6],
    [2, 2, 3, 6, 6, 6, 6, 8],
], dtype=np.int32)
QUANT_TABLE_P = np.array([
    [3, 3, 3, 3, 3, 3, 3, 3],
    [3, 3, 3, 3, 3, 3, 3, 3],
    [3, 3, 3, 3, 3, 3, 3, 3],
    [3, 3, 3, 3, 3, 3, 3, 6],
    [3, 3, 3, 3, 3, 3, 6, 6],
    [3, 3, 3, 3, 3, 6, 6, 9],
    [3, 3, 3, 3, 6, 6, 9, 9],
    [3, 3, 3, 6, 6, 9, 9, 10],
], dtype=np.int32)


def _s16(a: np.ndarray) -> np.ndarray:
    """Store into a C ``s16``: wrap modulo 2**16 (as int32 for further arithmetic)."""
    return a.astype(np.int16).astype(np.int32)


def _butterfly_rows(a: np.ndarray, add: int = 0) -> np.ndarray:
    """The 3-stage 8-point butterfly along the last axis (sequency order); *add* is subtracted
    from the pair sums of stage 1 (the forward intra transform's level shift)."""
    x = [a[..., i] for i in range(8)]
    w1 = [x[0] + x[1] - add, x[0] - x[1], x[2] + x[3] - add, x[2] - x[3],
          x[4] + x[5] - add, x[4] - x[5], x[6] + x[7] - add, x[6] - x[7]]
    w2 = [w1[0] + w1[2], w1[0] - w1[2], w1[1] - w1[3], w1[1] + w1[3],
          w1[4] + w1[6], w1[4] - w1[6], w1[5] - w1[7], w1[5] + w1[7]]
    out = [w2[0] + w2[4], w2[0] - w2[4], w2[1] - w2[5], w2[1] + w2[5],
           w2[2] + w2[6], w2[2] - w2[6], w2[3] - w2[7], w2[3] + w2[7]]
    return np.stack(out, axis=-1)


def _transform(blocks: np.ndarray, add: int = 0) -> np.ndarray:
    """2-D butterfly of (n, 8, 8) int32 blocks: rows (stored s16) then columns (stored s16)."""
    rows = _s16(_butterfly_rows(blocks, add))
    cols = _butterfly_rows(np.swapaxes(rows, 1, 2))
    return _s16(np.swapaxes(cols, 1, 2))


def _inverse(coeffs: np.ndarray, intra: np.ndarray) -> np.ndarray:
    """Inverse transform of (n, 8, 8) dequantised coefficients: /64 (arithmetic), +128 intra."""
    out = _transform(coeffs) >> 6
    return out + np.where(intra, 128, 0)[:, None, None]


# ---------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class PixFmt:
    """A raw format vicodec's decoder can write (planar or semi-planar Y'CbCr, or grey)."""

    fourcc: int
    components_num: int
    width_div: int
    height_div: int
    chroma_step: int         # 1 planar, 2 interleaved Cb/Cr
    planes_num: int          # separate chroma planes (3) or one interleaved (2) or none (1)
    cr_first: bool = False


PIXFMTS: dict[int, PixFmt] = {p.fourcc: p for p in (
    PixFmt(_v.V4L2_PIX_FMT_YUV420, 3, 2, 2, 1, 3),
    PixFmt(_v.v4l2_fourcc("Y", "V", "1", "2"), 3, 2, 2, 1, 3, cr_first=True),    # YVU420
    PixFmt(_v.v4l2_fourcc("4", "2", "2", "P"), 3, 2, 1, 1, 3),                  # YUV422P
    PixFmt(_v.v4l2_fourcc("N", "V", "1", "2"), 3, 2, 2, 2, 2),                  # NV12
    PixFmt(_v.v4l2_fourcc("N", "V", "2", "1"), 3, 2, 2, 2, 2, cr_first=True),   # NV21
    PixFmt(_v.v4l2_fourcc("N", "V", "1", "6"), 3, 2, 1, 2, 2),                  # NV16
    PixFmt(_v.v4l2_fourcc("N", "V", "6", "1"), 3, 2, 1, 2, 2, cr_first=True),   # NV61
    PixFmt(_v.v4l2_fourcc("G", "R", "E", "Y"), 1, 1, 1, 1, 1),                  # GREY
)}


def plane_sizes(width: int, height: int, flags: int, components_num: int = 3) -> list[tuple[int, int]]:
    """(width, height) of each coded plane, rounded up to 8, for a header's visible size."""
    r8 = lambda n: -(-n // 8) * 8  # noqa: E731
    sizes = [(r8(width), r8(height))]
    if components_num >= 3:
        cw = width if flags & V4L2_FWHT_FL_CHROMA_FULL_WIDTH else width // 2
        ch = height if flags & V4L2_FWHT_FL_CHROMA_FULL_HEIGHT else height // 2
        sizes += [(r8(cw), r8(ch))] * 2
    if components_num == 4:
        sizes.append((r8(width), r8(height)))
    return sizes


def frame_views(buf, fourcc: int, stride: int, coded_height: int) -> list[np.ndarray]:
    """Y, Cb, Cr (or Y) 2-D uint8 views into a contiguous raw frame buffer laid out like
    vicodec's CAPTURE buffers (luma ``stride * coded_height``, then chroma). Writable when *buf*
    is. Each view spans the full plane; index ``[:h, :w]`` for a coded plane."""
    info = PIXFMTS.get(fourcc)
    if info is None:
        raise ValueError(f"FWHT: unsupported raw format {fourcc:#010x}")
    a = np.frombuffer(buf, dtype=np.uint8)
    size = stride * coded_height
    views = [a[:size].reshape(coded_height, stride)]
    if info.components_num < 3:
        return views
    ch = coded_height // info.height_div
    if info.planes_num == 3:
        cstride = stride // info.width_div
        p1 = a[size: size + cstride * ch].reshape(ch, cstride)
        p2 = a[size + cstride * ch: size + 2 * cstride * ch].reshape(ch, cstride)
    else:
        inter = a[size: size + stride * ch].reshape(ch, stride)
        p1, p2 = inter[:, 0::2], inter[:, 1::2]
    cb, cr = (p2, p1) if info.cr_first else (p1, p2)
    return views + [cb, cr]


# ------------------------------------------------------------------------------ decoder
def _parse_plane(words: list[int], pos: int, nblocks: int, where: str) -> tuple[int, np.ndarray, np.ndarray]:
    """Run-length decode *nblocks* blocks from word *pos*: (new pos, stat per block, zig-zag
    coefficients (nblocks, 64)). Repeated blocks are expanded."""
    n = len(words)
    stats = np.zeros(nblocks, dtype=np.int32)
    zz = np.zeros((nblocks, 64), dtype=np.int32)
    b = 0
    while b < nblocks:
        if pos >= n:
            raise BitstreamError(f"{where}: compressed data ends in block {b} header")
        stat = words[pos]
        pos += 1
        vals: list[int] = []
        count = 0
        while count < 64:
            if pos >= n:
                raise BitstreamError(f"{where}: compressed data ends inside block {b}")
            w = words[pos]
            pos += 1
            run = w & 0xF
            if run == ALL_ZEROS:
                break
            if run:
                vals.extend([0] * run)
            vals.append((w - 0x10000 if w & 0x8000 else w) >> 4)
            count += run + 1
        if len(vals) > 64:
            del vals[64:]
        copies = (stat & DUPS_MASK) >> 1
        last = min(nblocks, b + 1 + copies)
        stats[b:last] = stat
        zz[b:last, : len(vals)] = vals
        b = last
    return pos, stats, zz


def _decode_plane(words: list[int], pos: int, w: int, h: int, uncompressed: bool,
                  ref: np.ndarray | None, dst: np.ndarray, where: str) -> int:
    if uncompressed:
        nw = w * h // 2
        if len(words) < pos + nw:
            raise BitstreamError(f"{where}: raw plane needs {w * h} bytes, {2 * (len(words) - pos)} left")
        raw = np.array(words[pos: pos + nw], dtype=">u2").view(np.uint8)
        if dst.strides[1] != 1:
            # vicodec copies raw rows with memcpy, ignoring the chroma step: into an
            # interleaved (NV12...) plane the bytes land contiguously from the plane's start
            dst = np.lib.stride_tricks.as_strided(dst, shape=(dst.shape[0], w), strides=(dst.strides[0], 1))
        dst[:h, :w] = raw.reshape(h, w)
        return pos + nw
    nbw, nbh = w // 8, h // 8
    pos, stats, zz = _parse_plane(words, pos, nbw * nbh, where)
    coeffs = _s16(zz)[:, _UNZIGZAG].reshape(-1, 8, 8)
    inter = (stats & PFRAME_BIT) != 0
    if ref is None:
        inter[:] = False
    shifts = np.where(inter[:, None, None], QUANT_TABLE_P, QUANT_TABLE)
    coeffs = _s16(coeffs << shifts)
    pix = _inverse(coeffs, ~inter)
    if inter.any():
        refb = ref[:h, :w].reshape(nbh, 8, nbw, 8).swapaxes(1, 2).reshape(-1, 8, 8).astype(np.int32)
        pix = np.where(inter[:, None, None], pix + refb, pix)
    pix = np.clip(pix, 0, 255).astype(np.uint8)
    dst[:h, :w] = pix.reshape(nbh, nbw, 8, 8).swapaxes(1, 2).reshape(h, w)
    return pos


def decode_frame(data: bytes, width: int, height: int, flags: int, dst: list[np.ndarray],
                 ref: list[np.ndarray] | None, components_num: int | None = None) -> None:
    """Decode compressed planes *data* (no header) into *dst* plane views.

    *width*/*height*/*flags* come from the header (or ``v4l2_ctrl_fwht_params``); *ref* are the
    reference planes for P-blocks, ``None`` for an intra frame (the stateless decoder's I-frame:
    P-blocks are then decoded as intra blocks, like vicodec). Raises BitstreamError when the data
    runs out (the kernel then marks the buffer ERROR); planes decoded before stay written.
    """
    if components_num is None:
        components_num = 1 + ((flags >> V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET) & 7)
    words = np.frombuffer(bytes(data[: len(data) // 2 * 2]), dtype=">u2").tolist()
    raw_flags = [V4L2_FWHT_FL_LUMA_IS_UNCOMPRESSED, V4L2_FWHT_FL_CB_IS_UNCOMPRESSED,
                 V4L2_FWHT_FL_CR_IS_UNCOMPRESSED, V4L2_FWHT_FL_ALPHA_IS_UNCOMPRESSED]
    names = ["luma", "cb", "cr", "alpha"]
    pos = 0
    for i, (w, h) in enumerate(plane_sizes(width, height, flags, components_num)):
        pos = _decode_plane(words, pos, w, h, bool(flags & raw_flags[i]),
                            None if ref is None else ref[i], dst[i], f"FWHT {names[i]} plane")


def decode_into(data: bytes, params: dict, fourcc: int, dst_buf, stride: int, coded_height: int,
                ref_buf=None, ref_stride: int | None = None) -> None:
    """Decode into a raw frame buffer like vicodec's stateless decoder (``params`` is the
    ``v4l2_ctrl_fwht_params`` dict; *ref_buf* the reference CAPTURE buffer or None)."""
    dst = frame_views(dst_buf, fourcc, stride, coded_height)
    ref = None
    if ref_buf is not None:
        ref = frame_views(ref_buf, fourcc, ref_stride or stride, coded_height)
    decode_frame(data, params["width"], params["height"], params["flags"], dst, ref)


class FwhtStatefulDecoder:
    """Whole-stream decoder with vicodec's stateful semantics: the reference of every frame is
    the previous decoded frame. ``decode(frame) -> bytes`` (YUV420 ``coded_w x coded_h``)."""

    def __init__(self, fourcc: int = _v.V4L2_PIX_FMT_YUV420) -> None:
        self.fourcc = fourcc
        self._ref: bytearray | None = None

    def decode(self, header, payload: bytes) -> bytes:
        info = PIXFMTS[self.fourcc]
        cw = -(-(header.width // info.width_div) // 8) * 8 * info.width_div
        chh = -(-(header.height // info.height_div) // 8) * 8 * info.height_div
        size = cw * chh
        total = size + (2 * size // (info.width_div * info.height_div) if info.components_num >= 3 else 0)
        out = bytearray(total)
        ref = None
        if self._ref is not None and len(self._ref) == total:
            ref = frame_views(self._ref, self.fourcc, cw, chh)
        decode_frame(payload, header.width, header.height, header.flags,
                     frame_views(out, self.fourcc, cw, chh), ref)
        self._ref = bytearray(out)
        return bytes(out)


# ------------------------------------------------------------------------------ encoder
def _to_blocks(plane: np.ndarray, w: int, h: int) -> np.ndarray:
    return plane[:h, :w].reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2).reshape(-1, 8, 8).astype(np.int32)


def _from_blocks(blocks: np.ndarray, w: int, h: int) -> np.ndarray:
    return blocks.reshape(h // 8, w // 8, 8, 8).swapaxes(1, 2).reshape(h, w)


def _quantize(coeffs: np.ndarray, table: np.ndarray, qp: int) -> np.ndarray:
    q = _s16(coeffs >> table)
    return np.where((q >= -qp) & (q <= qp), 0, q)


def _rlc(zz: list[int], pblock: bool) -> list[int]:
    """Run-length code one block (coefficients in scan order) as vicodec's encoder does."""
    out = [PFRAME_BIT if pblock else 0]
    trailing = 0
    i = 63
    while i >= 0 and zz[i] == 0:
        trailing += 1
        i -= 1
    to_encode = 64 - (trailing if trailing > 14 else 0)
    i = 0
    while i < to_encode:
        cnt = 0
        while True:
            tmp = zz[i]
            if not (tmp == 0 and cnt < 14):
                break
            cnt += 1
            i += 1
            if i == to_encode:
                cnt -= 1
                break
        out.append((cnt | (tmp << 4)) & 0xFFFF)
        i += 1
    if trailing > 14:
        out.append(ALL_ZEROS)
    return out


@dataclass
class FwhtEncoder:
    """vicodec's stateful FWHT encoder for YUV420 input (same decisions, same bytes).

    ``width`` / ``height`` are the visible size (vicodec's OUTPUT crop). ``encode(frame) ->
    bytes`` takes one YUV420 frame laid out at the coded size (``coded_size(width, height)``:
    each plane rounded up to a multiple of 8, stride = coded width), like the encoder's OUTPUT
    buffer, and returns header + data. Blocks reaching into the padding read the padding.
    """

    width: int
    height: int
    gop_size: int = 10
    i_frame_qp: int = 20
    p_frame_qp: int = 20
    colorspace: int = 3          # V4L2_COLORSPACE_REC709, vicodec's default
    xfer_func: int = 0
    ycbcr_enc: int = 0
    quantization: int = 0
    gop_cnt: int = 0
    _ref: list[np.ndarray] | None = field(default=None, repr=False)

    def encode(self, frame: bytes) -> bytes:
        w, h = self.width, self.height
        cw, ch = -(-(w // 2) // 8) * 16, -(-(h // 2) // 8) * 16      # vic_round_dim(., 2)
        if len(frame) < cw * ch * 3 // 2:
            raise ValueError(f"FwhtEncoder: a {w}x{h} frame is {cw}x{ch} YUV420 ({cw * ch * 3 // 2} bytes), "
                             f"got {len(frame)} bytes")
        cur = frame_views(frame, _v.V4L2_PIX_FMT_YUV420, cw, ch)
        is_intra = self.gop_cnt == 0
        next_is_intra = self.gop_cnt == self.gop_size - 1
        if self._ref is None:
            self._ref = [np.zeros_like(p) for p in cur]
            is_intra = True
        encoding_pcoded = False
        flags = (2 << V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET) | V4L2_FWHT_FL_PIXENC_YUV
        raw_flag = [V4L2_FWHT_FL_LUMA_IS_UNCOMPRESSED, V4L2_FWHT_FL_CB_IS_UNCOMPRESSED,
                    V4L2_FWHT_FL_CR_IS_UNCOMPRESSED]
        data = bytearray()
        visible = [(w, h), (w // 2, h // 2), (w // 2, h // 2)]
        for i, (pw, ph) in enumerate(plane_sizes(w, h, 0)):
            limit = (visible[i][0] * visible[i][1]) // 2 - 256     # rlco_max: from the visible size
            plane_words, pcoded, raw = self._encode_plane(cur[i], self._ref[i], pw, ph, limit,
                                                          is_intra, next_is_intra)
            if raw:
                flags |= raw_flag[i]
                data += bytes(np.where(cur[i][:ph, :pw] == 0xFF, 0xFE, cur[i][:ph, :pw]).astype(np.uint8))
            else:
                data += np.array(plane_words, dtype=">u2").tobytes()
                encoding_pcoded |= pcoded
        if not encoding_pcoded:
            flags |= V4L2_FWHT_FL_I_FRAME
            self.gop_cnt = 0
        self.gop_cnt += 1
        if self.gop_cnt >= self.gop_size:
            self.gop_cnt = 0
        hdr = struct.pack(">11I", FWHT_MAGIC1, FWHT_MAGIC2, V4L2_FWHT_VERSION, w, h, flags,
                          self.colorspace, self.xfer_func, self.ycbcr_enc, self.quantization, len(data))
        return hdr + bytes(data)

    def _encode_plane(self, cur: np.ndarray, ref: np.ndarray, w: int, h: int, limit: int,
                      is_intra: bool, next_is_intra: bool) -> tuple[list[int], bool, bool]:
        blocks = _to_blocks(cur, w, h)
        refb = _to_blocks(ref, w, h)
        n = blocks.shape[0]
        if is_intra:
            pblock = np.zeros(n, dtype=bool)
        else:
            mean = blocks.sum(axis=(1, 2)) // 64
            vari = np.abs(blocks - mean[:, None, None]).sum(axis=(1, 2))
            vard = np.abs(refb - blocks).sum(axis=(1, 2))
            pblock = vari > vard
        intra_c = _quantize(_transform(blocks, add=256), QUANT_TABLE, self.i_frame_qp)
        inter_c = _quantize(_transform(_s16(blocks - refb)), QUANT_TABLE_P, self.p_frame_qp)
        q = np.where(pblock[:, None, None], inter_c, intra_c)
        zz = q.reshape(n, 64)[:, ZIGZAG].tolist()
        out: list[int] = []
        last_size = 0
        last_start = -1
        processed = n
        raw = False
        for b in range(n):
            code = _rlc(zz[b], bool(pblock[b]))
            size = len(code)
            if (last_size == size and last_start >= 0 and out[last_start + 1: last_start + size] == code[1:]
                    and not ((out[last_start] ^ code[0]) & PFRAME_BIT)
                    and (out[last_start] & DUPS_MASK) < DUPS_MASK):
                out[last_start] += 2
            else:
                last_start = len(out)
                out.extend(code)
            if len(out) >= limit:
                raw = True
                processed = b + 1
                break
            last_size = size
        if not next_is_intra:
            deq = _s16(q << np.where(pblock[:, None, None], QUANT_TABLE_P, QUANT_TABLE))
            pix = _inverse(deq, ~pblock)
            pix = np.clip(np.where(pblock[:, None, None], pix + refb, pix), 0, 255)
            newref = refb.copy()
            newref[:processed] = pix[:processed]
            ref[:h, :w] = _from_blocks(newref.astype(np.uint8), w, h)
        return out, bool(pblock.any()) and not raw, raw


# ------------------------------------------------------------------------- test pattern
def moving_pattern(n: int, width: int = 640, height: int = 368) -> list[bytes]:
    """Deterministic YUV420 test frames that exercise every FWHT coding path.

    Frames 0..: gradients with a moving textured square and a moving dark stripe (I- then
    P-blocks); frame 2 repeats frame 1 (all-zero P-blocks, long repeat runs); frame 3 is
    integer-hash noise (planes too big for the code: stored raw); frame 4 is flat grey (every
    block intra and identical: an I-frame inside the GOP, one block repeated over each plane).
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    cy, cx = np.mgrid[0: height // 2, 0: width // 2].astype(np.int64)
    frames: list[bytes] = []
    for k in range(n):
        if k == 3:
            h = (x * 1103515245 + y * 12345 + (x * y) * 2654435761) >> 7
            luma = (h & 0xFF).astype(np.uint8)
            hc = (cx * 22695477 + cy * 1103515245 + (cx * cy) * 2246822519) >> 9
            cb = (hc & 0xFF).astype(np.uint8)
            cr = ((hc >> 8) & 0xFF).astype(np.uint8)
        elif k == 4:
            luma = np.full((height, width), 128, np.uint8)
            cb = np.full((height // 2, width // 2), 128, np.uint8)
            cr = cb.copy()
        else:
            t = 1 if k == 2 else k
            luma = ((x * 3 + y * 2 + t * 7) % 220 + 16).astype(np.uint8)
            sx, sy = (40 + 23 * t) % (width - 128), (60 + 11 * t) % (height - 96)
            luma[sy: sy + 96, sx: sx + 128] = (235 - (x[sy: sy + 96, sx: sx + 128] % 32)).astype(np.uint8)
            sp = (200 + 9 * t) % (width - 16)
            luma[:, sp: sp + 16] = 30
            cb = ((cx + 2 * t) % 128 + 64).astype(np.uint8)
            cr = ((cy * 2 + cx - 3 * t) % 160 + 48).astype(np.uint8)
            cr[sy // 2: sy // 2 + 48, sx // 2: sx // 2 + 64] = 200
        frames.append(luma.tobytes() + cb.tobytes() + cr.tobytes())
    return frames
