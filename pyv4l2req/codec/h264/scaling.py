"""H.264 scaling lists: ``scaling_list()`` syntax (7.3.2.1.1.1), default lists (Table 7-3/7-4),
fall-back rules A and B (Table 7-2), and zig-zag <-> raster conversion.

Lists are kept in the order they are coded (zig-zag scan, "frame scan" of 8.5.6). Indices
follow the spec: 4x4 lists i = 0..5 (Intra Y, Intra Cb, Intra Cr, Inter Y, Inter Cb, Inter
Cr), 8x8 lists i = 0..5 standing for spec indices 6..11 (Intra Y, Inter Y, Intra Cb, Inter Cb,
Intra Cr, Inter Cr) -- the same order as ``v4l2_ctrl_h264_scaling_matrix``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bitreader import BitReader

__all__ = [
    "Default_4x4_Intra",
    "Default_4x4_Inter",
    "Default_8x8_Intra",
    "Default_8x8_Inter",
    "Flat_4x4",
    "Flat_8x8",
    "ZIGZAG_4x4",
    "ZIGZAG_8x8",
    "zigzag_to_raster",
    "read_scaling_list",
    "ScalingMatrix",
    "FLAT_MATRIX",
    "resolve_sps_lists",
    "resolve_pps_lists",
]

#: Table 7-3, in zig-zag (coded) order.
Default_4x4_Intra = (6, 13, 13, 20, 20, 20, 28, 28, 28, 28, 32, 32, 32, 37, 37, 42)
Default_4x4_Inter = (10, 14, 14, 20, 20, 20, 24, 24, 24, 24, 27, 27, 27, 30, 30, 34)
#: Table 7-4, in zig-zag (coded) order.
Default_8x8_Intra = (
    6, 10, 10, 13, 11, 13, 16, 16, 16, 16, 18, 18, 18, 18, 18, 23,
    23, 23, 23, 23, 23, 25, 25, 25, 25, 25, 25, 25, 27, 27, 27, 27,
    27, 27, 27, 27, 29, 29, 29, 29, 29, 29, 29, 31, 31, 31, 31, 31,
    31, 33, 33, 33, 33, 33, 36, 36, 36, 36, 38, 38, 38, 40, 40, 42,
)
Default_8x8_Inter = (
    9, 13, 13, 15, 13, 15, 17, 17, 17, 17, 19, 19, 19, 19, 19, 21,
    21, 21, 21, 21, 21, 22, 22, 22, 22, 22, 22, 22, 24, 24, 24, 24,
    24, 24, 24, 24, 25, 25, 25, 25, 25, 25, 25, 27, 27, 27, 27, 27,
    27, 28, 28, 28, 28, 28, 30, 30, 30, 30, 32, 32, 32, 33, 33, 35,
)
Flat_4x4 = (16,) * 16
Flat_8x8 = (16,) * 64


def _zigzag(n: int) -> tuple[int, ...]:
    """Raster index of each zig-zag scan position for an n x n block (frame scan, 8.5.6)."""
    order = []
    for s in range(2 * n - 1):
        cells = [(y, s - y) for y in range(n) if 0 <= s - y < n]  # (row, col)
        if s % 2 == 0:  # up-right: rows decreasing
            cells.reverse()
        order.extend(r * n + c for r, c in cells)
    return tuple(order)


#: ``ZIGZAG_4x4[k]`` is the raster index (row*4+col) of zig-zag position k.
ZIGZAG_4x4 = _zigzag(4)
ZIGZAG_8x8 = _zigzag(8)


def zigzag_to_raster(coded: tuple[int, ...] | list[int]) -> list[int]:
    """A 16- or 64-entry list in zig-zag (coded) order -> raster order (row-major)."""
    zz = ZIGZAG_4x4 if len(coded) == 16 else ZIGZAG_8x8
    out = [0] * len(coded)
    for k, r in enumerate(zz):
        out[r] = coded[k]
    return out


def read_scaling_list(r: BitReader, size: int) -> tuple[int, ...] | None:
    """7.3.2.1.1.1 ``scaling_list()``: the list in coded order, or None for
    useDefaultScalingMatrixFlag (first delta makes nextScale 0)."""
    last = 8
    nxt = 8
    out = []
    for j in range(size):
        if nxt:
            delta = r.se("delta_scale", -128, 127)
            nxt = (last + delta + 256) % 256
            if j == 0 and nxt == 0:
                return None
        last = nxt if nxt else last
        out.append(last)
    return tuple(out)


@dataclass(frozen=True)
class ScalingMatrix:
    """Resolved scaling lists (zig-zag order as coded); 8x8 index k = spec list 6 + k."""

    scaling_list_4x4: tuple[tuple[int, ...], ...]  # 6 x 16
    scaling_list_8x8: tuple[tuple[int, ...], ...]  # 6 x 64

    @property
    def is_flat(self) -> bool:
        return all(v == 16 for lst in self.scaling_list_4x4 for v in lst) and all(
            v == 16 for lst in self.scaling_list_8x8 for v in lst
        )

    def raster_4x4(self) -> list[list[int]]:
        """The 4x4 lists in raster order (what ``v4l2_ctrl_h264_scaling_matrix`` holds)."""
        return [zigzag_to_raster(lst) for lst in self.scaling_list_4x4]

    def raster_8x8(self) -> list[list[int]]:
        """The 8x8 lists in raster order (what ``v4l2_ctrl_h264_scaling_matrix`` holds)."""
        return [zigzag_to_raster(lst) for lst in self.scaling_list_8x8]


FLAT_MATRIX = ScalingMatrix((Flat_4x4,) * 6, (Flat_8x8,) * 6)

_DEFAULT_4x4 = (Default_4x4_Intra,) * 3 + (Default_4x4_Inter,) * 3
_DEFAULT_8x8 = (Default_8x8_Intra, Default_8x8_Inter) * 3

# A coded list entry: tuple = explicit list, None = useDefaultScalingMatrixFlag, absent from
# the dict = scaling_list_present_flag 0.


def _resolve(
    coded: dict[int, tuple[int, ...] | None], fallback: ScalingMatrix | None
) -> ScalingMatrix:
    """Table 7-2: rule A when ``fallback`` is None (SPS), rule B with the SPS matrix (PPS)."""
    l4: list[tuple[int, ...]] = []
    for i in range(6):
        if i in coded:
            lst = coded[i]
            l4.append(_DEFAULT_4x4[i] if lst is None else lst)
        elif i in (0, 3):
            l4.append(_DEFAULT_4x4[i] if fallback is None else fallback.scaling_list_4x4[i])
        else:
            l4.append(l4[i - 1])
    l8: list[tuple[int, ...]] = []
    for k in range(6):
        i = 6 + k
        if i in coded:
            lst = coded[i]
            l8.append(_DEFAULT_8x8[k] if lst is None else lst)
        elif k in (0, 1):
            l8.append(_DEFAULT_8x8[k] if fallback is None else fallback.scaling_list_8x8[k])
        else:
            l8.append(l8[k - 2])
    return ScalingMatrix(tuple(l4), tuple(l8))


def resolve_sps_lists(present: bool, coded: dict[int, tuple[int, ...] | None]) -> ScalingMatrix:
    """The sequence-level lists: Flat when seq_scaling_matrix_present_flag is 0, else rule A."""
    if not present:
        return FLAT_MATRIX
    return _resolve(coded, None)


def resolve_pps_lists(
    present: bool,
    coded: dict[int, tuple[int, ...] | None],
    sps_matrix: ScalingMatrix,
    seq_scaling_matrix_present_flag: bool,
) -> ScalingMatrix:
    """The picture-level lists (7.4.2.2): the SPS lists when pic_scaling_matrix_present_flag is
    0; else fall-back rule A when the SPS has no matrix, rule B (lists 0/3/6/7 fall back to the
    SPS lists, the others to the previous list) when it has one."""
    if not present:
        return sps_matrix
    return _resolve(coded, sps_matrix if seq_scaling_matrix_present_flag else None)
