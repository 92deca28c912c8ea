"""H.264 NAL units for the emulated device: bit reader/writer, Annex B splitting, SPS/PPS rebuilt
from V4L2 control values.

The emulated device decodes like hardware: it sees only the slice NAL units of a request and the
control values, never the original parameter sets. :func:`sps_nal` and :func:`pps_nal` write
SPS/PPS NAL units (7.3.2.1.1, 7.3.2.2) from the dicts of ``v4l2_ctrl_h264_sps``/``_pps`` and
``v4l2_ctrl_h264_scaling_matrix`` (C field names, as ``pyv4l2req.uapi.h264.unpack`` returns
them). What the controls do not carry (VUI, frame cropping, ``constraint_set`` flags beyond the
byte, SPS scaling lists) is written as absent: none of it changes the decoded pixels of the coded
picture. A scaling matrix that applies (PPS flag ``SCALING_MATRIX_PRESENT``) is written as
explicit PPS lists, converted from the kernel's raster order back to zig-zag scan order.
"""

from __future__ import annotations

__all__ = [
    "BitWriter",
    "BitReader",
    "escape_rbsp",
    "unescape_ebsp",
    "split_annexb",
    "nal_unit_type",
    "first_mb_in_slice",
    "sps_nal",
    "pps_nal",
    "ZIGZAG_4x4",
    "ZIGZAG_8x8",
]

# zig-zag scan (frame) for 4x4 and 8x8 blocks: scan index -> raster index (Table 8-12/8-13)
ZIGZAG_4x4 = (0, 1, 4, 8, 5, 2, 3, 6, 9, 12, 13, 10, 7, 11, 14, 15)


def _zigzag8() -> tuple[int, ...]:
    order = []
    for s in range(15):
        diag = [(i, s - i) for i in range(8) if 0 <= s - i < 8]  # (row, col)
        if s % 2 == 0:
            diag.reverse()  # even diagonals go up-right: row decreasing
        order.extend(r * 8 + c for r, c in diag)
    return tuple(order)


ZIGZAG_8x8 = _zigzag8()

# flags of the V4L2 controls (uapi/linux/v4l2-controls.h)
SPS_FLAG_SEPARATE_COLOUR_PLANE = 0x01
SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS = 0x02
SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO = 0x04
SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED = 0x08
SPS_FLAG_FRAME_MBS_ONLY = 0x10
SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD = 0x20
SPS_FLAG_DIRECT_8X8_INFERENCE = 0x40
PPS_FLAG_ENTROPY_CODING_MODE = 0x01
PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT = 0x02
PPS_FLAG_WEIGHTED_PRED = 0x04
PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT = 0x08
PPS_FLAG_CONSTRAINED_INTRA_PRED = 0x10
PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT = 0x20
PPS_FLAG_TRANSFORM_8X8_MODE = 0x40
PPS_FLAG_SCALING_MATRIX_PRESENT = 0x80

_HIGH_PROFILES = (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135)


class BitWriter:
    """MSB-first bit writer with the H.264 descriptors u(n), ue(v), se(v)."""

    def __init__(self) -> None:
        self._bits: list[int] = []

    def u(self, n: int, value: int) -> None:
        """Write ``value`` as n bits, MSB first (value must fit)."""
        if value < 0 or value >> n:
            raise ValueError(f"u({n}) cannot hold {value}")
        for i in range(n - 1, -1, -1):
            self._bits.append((value >> i) & 1)

    def flag(self, value: bool | int) -> None:
        self.u(1, 1 if value else 0)

    def ue(self, value: int) -> None:
        """Exp-Golomb unsigned (9.1)."""
        if value < 0:
            raise ValueError(f"ue(v) cannot hold {value}")
        v = value + 1
        n = v.bit_length()
        self.u(n - 1, 0)
        self.u(n, v)

    def se(self, value: int) -> None:
        """Exp-Golomb signed (9.1.1): k>0 -> 2k-1, k<=0 -> -2k."""
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp_trailing_bits(self) -> None:
        self._bits.append(1)
        while len(self._bits) % 8:
            self._bits.append(0)

    @property
    def bit_length(self) -> int:
        return len(self._bits)

    def to_bytes(self) -> bytes:
        """The bits so far, zero-padded to a byte boundary."""
        bits = self._bits + [0] * (-len(self._bits) % 8)
        out = bytearray()
        for i in range(0, len(bits), 8):
            b = 0
            for bit in bits[i:i + 8]:
                b = (b << 1) | bit
            out.append(b)
        return bytes(out)


class BitReader:
    """MSB-first reader of an RBSP (emulation prevention already removed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ValueError("read past the end of the RBSP")
            v = (v << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("ue(v) longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def escape_rbsp(rbsp: bytes) -> bytes:
    """Insert emulation_prevention_three_byte (7.4.1): no 0x000000..0x000003 in the output."""
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def unescape_ebsp(ebsp: bytes) -> bytes:
    """Remove emulation_prevention_three_bytes."""
    out = bytearray()
    zeros = 0
    for b in ebsp:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream (3- or 4-byte start codes), without start codes.

    Trailing zero bytes (trailing_zero_8bits) are stripped. Data before the first start code is
    ignored.
    """
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    nals = []
    for k, s in enumerate(starts):
        e = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
        nal = data[s:e].rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def nal_unit_type(nal: bytes) -> int:
    return nal[0] & 0x1F


def first_mb_in_slice(nal: bytes) -> int:
    """first_mb_in_slice of a slice NAL unit (types 1, 5; header byte + EBSP)."""
    return BitReader(unescape_ebsp(nal[1:8])).ue()


def _nal(nal_ref_idc: int, nal_type: int, w: BitWriter) -> bytes:
    w.rbsp_trailing_bits()
    return bytes([(nal_ref_idc << 5) | nal_type]) + escape_rbsp(w.to_bytes())


def _write_scaling_list(w: BitWriter, raster: list[int], zigzag: tuple[int, ...]) -> None:
    """Explicit scaling_list() (7.3.2.1.1.1) from raster-order values, as delta_scale in zig-zag."""
    last = 8
    for idx in zigzag:
        value = raster[idx]
        delta = (value - last) % 256
        if delta > 127:
            delta -= 256
        w.se(delta)
        last = value


def sps_nal(sps: dict, scaling_matrix: dict | None = None, *, nal_ref_idc: int = 3) -> bytes:
    """seq_parameter_set NAL unit (header + EBSP) from a ``v4l2_ctrl_h264_sps`` dict.

    Written without SPS scaling matrices, VUI and frame cropping (the V4L2 control does not carry
    them; a scaling matrix that applies is written into the PPS by :func:`pps_nal`).
    ``scaling_matrix`` is accepted for symmetry and unused.
    """
    g = sps.get
    flags = g("flags", 0)
    profile_idc = g("profile_idc", 0)
    w = BitWriter()
    w.u(8, profile_idc)
    constraint_set_flags = g("constraint_set_flags", 0)  # V4L2: bit i = constraint_set<i>_flag
    for i in range(6):
        w.flag(constraint_set_flags & (1 << i))
    w.u(2, 0)  # reserved_zero_2bits
    w.u(8, g("level_idc", 0))
    w.ue(g("seq_parameter_set_id", 0))
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = g("chroma_format_idc", 1)
        w.ue(chroma_format_idc)
        if chroma_format_idc == 3:
            w.flag(flags & SPS_FLAG_SEPARATE_COLOUR_PLANE)
        w.ue(g("bit_depth_luma_minus8", 0))
        w.ue(g("bit_depth_chroma_minus8", 0))
        w.flag(flags & SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS)
        w.flag(0)  # seq_scaling_matrix_present_flag
    w.ue(g("log2_max_frame_num_minus4", 0))
    poc_type = g("pic_order_cnt_type", 0)
    w.ue(poc_type)
    if poc_type == 0:
        w.ue(g("log2_max_pic_order_cnt_lsb_minus4", 0))
    elif poc_type == 1:
        w.flag(flags & SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO)
        w.se(g("offset_for_non_ref_pic", 0))
        w.se(g("offset_for_top_to_bottom_field", 0))
        n = g("num_ref_frames_in_pic_order_cnt_cycle", 0)
        w.ue(n)
        offsets = list(g("offset_for_ref_frame", [])) + [0] * n
        for i in range(n):
            w.se(offsets[i])
    w.ue(g("max_num_ref_frames", 0))
    w.flag(flags & SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED)
    w.ue(g("pic_width_in_mbs_minus1", 0))
    w.ue(g("pic_height_in_map_units_minus1", 0))
    frame_mbs_only = flags & SPS_FLAG_FRAME_MBS_ONLY
    w.flag(frame_mbs_only)
    if not frame_mbs_only:
        w.flag(flags & SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD)
    w.flag(flags & SPS_FLAG_DIRECT_8X8_INFERENCE)
    w.flag(0)  # frame_cropping_flag
    w.flag(0)  # vui_parameters_present_flag
    return _nal(nal_ref_idc, 7, w)


def _is_flat(scaling_matrix: dict) -> bool:
    return all(v == 16 for row in scaling_matrix.get("scaling_list_4x4", []) for v in row) and all(
        v == 16 for row in scaling_matrix.get("scaling_list_8x8", []) for v in row)


def pps_nal(pps: dict, scaling_matrix: dict | None = None, *, sps: dict | None = None,
            nal_ref_idc: int = 3) -> bytes:
    """pic_parameter_set NAL unit (header + EBSP) from a ``v4l2_ctrl_h264_pps`` dict.

    When the PPS flag SCALING_MATRIX_PRESENT is set and ``scaling_matrix`` is given, all 6 4x4
    lists and (with transform_8x8_mode) the 8x8 lists are written explicitly
    (pic_scaling_list_present_flag = 1 for each), in zig-zag order. ``sps`` (its
    ``chroma_format_idc``) decides whether 2 or 6 8x8 lists exist (default 2, for 4:2:0).
    """
    g = pps.get
    flags = g("flags", 0)
    w = BitWriter()
    w.ue(g("pic_parameter_set_id", 0))
    w.ue(g("seq_parameter_set_id", 0))
    w.flag(flags & PPS_FLAG_ENTROPY_CODING_MODE)
    w.flag(flags & PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT)
    if g("num_slice_groups_minus1", 0):
        raise ValueError("pps: num_slice_groups_minus1 > 0 (FMO) cannot be written: the V4L2 PPS"
                         " control does not carry the slice group map")
    w.ue(0)
    w.ue(g("num_ref_idx_l0_default_active_minus1", 0))
    w.ue(g("num_ref_idx_l1_default_active_minus1", 0))
    w.flag(flags & PPS_FLAG_WEIGHTED_PRED)
    w.u(2, g("weighted_bipred_idc", 0))
    w.se(g("pic_init_qp_minus26", 0))
    w.se(g("pic_init_qs_minus26", 0))
    w.se(g("chroma_qp_index_offset", 0))
    w.flag(flags & PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT)
    w.flag(flags & PPS_FLAG_CONSTRAINED_INTRA_PRED)
    w.flag(flags & PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT)
    transform_8x8 = bool(flags & PPS_FLAG_TRANSFORM_8X8_MODE)
    matrix = scaling_matrix if (flags & PPS_FLAG_SCALING_MATRIX_PRESENT) else None
    second_offset = g("second_chroma_qp_index_offset", 0)
    if transform_8x8 or matrix is not None or second_offset != g("chroma_qp_index_offset", 0):
        w.flag(transform_8x8)
        w.flag(matrix is not None)
        if matrix is not None:
            chroma_format_idc = (sps or {}).get("chroma_format_idc", 1)
            n8 = (2 if chroma_format_idc != 3 else 6) if transform_8x8 else 0
            l4 = matrix.get("scaling_list_4x4", [[16] * 16] * 6)
            l8 = matrix.get("scaling_list_8x8", [[16] * 64] * 6)
            for i in range(6 + n8):
                w.flag(1)  # pic_scaling_list_present_flag[i]
                if i < 6:
                    _write_scaling_list(w, list(l4[i]), ZIGZAG_4x4)
                else:
                    _write_scaling_list(w, list(l8[i - 6]), ZIGZAG_8x8)
        w.se(second_offset)
    return _nal(nal_ref_idc, 8, w)
