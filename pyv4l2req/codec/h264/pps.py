"""Picture parameter set (H.264 7.3.2.2), incl. slice groups (parsed only) and the picture
scaling matrix resolved with the fall-back rules of Table 7-2.

:func:`parse_pps` needs the SPS table for the elements that depend on the SPS
(``chroma_format_idc`` for the number of 8x8 lists, ``PicSizeInMapUnits`` is coded explicitly).
:meth:`PPS.from_fields` builds the same object from element values and its SPS.
"""

from __future__ import annotations

from typing import Mapping

from .bitreader import BitReader
from .scaling import FLAT_MATRIX, ScalingMatrix, read_scaling_list, resolve_pps_lists
from .sps import SPS

__all__ = ["PPS", "parse_pps", "PPS_ELEMENTS"]

#: the syntax elements of pic_parameter_set_rbsp() (scaling lists by list index), in syntax
#: order, with the value :meth:`PPS.from_fields` gives an element it is not passed (the
#: inferred value where the spec gives one; second_chroma_qp_index_offset, when not given,
#: is inferred equal to chroma_qp_index_offset).
PPS_ELEMENTS: dict[str, object] = {
    "pic_parameter_set_id": 0, "seq_parameter_set_id": 0, "entropy_coding_mode_flag": 0,
    "bottom_field_pic_order_in_frame_present_flag": 0, "num_slice_groups_minus1": 0,
    "slice_group_map_type": 0, "run_length_minus1": [], "top_left": [], "bottom_right": [],
    "slice_group_change_direction_flag": 0, "slice_group_change_rate_minus1": 0,
    "pic_size_in_map_units_minus1": 0, "slice_group_id": [],
    "num_ref_idx_l0_default_active_minus1": 0, "num_ref_idx_l1_default_active_minus1": 0,
    "weighted_pred_flag": 0, "weighted_bipred_idc": 0, "pic_init_qp_minus26": 0,
    "pic_init_qs_minus26": 0, "chroma_qp_index_offset": 0,
    "deblocking_filter_control_present_flag": 0, "constrained_intra_pred_flag": 0,
    "redundant_pic_cnt_present_flag": 0, "transform_8x8_mode_flag": 0,
    "pic_scaling_matrix_present_flag": 0, "pic_scaling_list_present_flag": [],
    "pic_scaling_lists": {}, "second_chroma_qp_index_offset": None,
}


class PPS:
    """A pic_parameter_set_rbsp(), parsed (:func:`parse_pps`) or built from element values
    (:meth:`from_fields`); absent elements hold their inferred values. Never modified once
    made."""

    pic_parameter_set_id: int
    seq_parameter_set_id: int
    entropy_coding_mode_flag: int
    bottom_field_pic_order_in_frame_present_flag: int
    num_slice_groups_minus1: int
    slice_group_map_type: int = 0
    run_length_minus1: list[int]
    top_left: list[int]
    bottom_right: list[int]
    slice_group_change_direction_flag: int = 0
    slice_group_change_rate_minus1: int = 0
    pic_size_in_map_units_minus1: int = 0
    slice_group_id: list[int]
    num_ref_idx_l0_default_active_minus1: int
    num_ref_idx_l1_default_active_minus1: int
    weighted_pred_flag: int
    weighted_bipred_idc: int
    pic_init_qp_minus26: int
    pic_init_qs_minus26: int
    chroma_qp_index_offset: int
    deblocking_filter_control_present_flag: int
    constrained_intra_pred_flag: int
    redundant_pic_cnt_present_flag: int
    transform_8x8_mode_flag: int = 0
    pic_scaling_matrix_present_flag: int = 0
    #: pic_scaling_list_present_flag[i] for the lists that were signalled
    pic_scaling_list_present_flag: list[int]
    #: coded lists by spec index i (0..11): tuple in zig-zag order, None = use default
    pic_scaling_lists: dict[int, tuple[int, ...] | None]
    #: inferred equal to chroma_qp_index_offset when absent
    second_chroma_qp_index_offset: int
    #: the SPS the PPS was parsed against (its scaling lists are the fall-back)
    sps: SPS | None = None
    #: the scaling lists in force for pictures using this PPS (Table 7-2 rules A/B resolved);
    #: Flat_4x4/Flat_8x8 when neither the SPS nor the PPS carries a matrix
    scaling_matrix: ScalingMatrix

    @property
    def SliceGroupChangeRate(self) -> int:
        return self.slice_group_change_rate_minus1 + 1

    def resolve_scaling_matrix(self, sps: SPS) -> ScalingMatrix:
        """The lists in force for this PPS with ``sps`` active (7.4.2.2)."""
        return resolve_pps_lists(
            bool(self.pic_scaling_matrix_present_flag),
            self.pic_scaling_lists,
            sps.scaling_matrix,
            bool(sps.seq_scaling_matrix_present_flag),
        )

    @classmethod
    def from_fields(cls, sps: SPS | None, **elements: object) -> "PPS":
        """A PPS from syntax element values by their spec names (:data:`PPS_ELEMENTS`; the
        ones not given take its values) and the SPS it refers to (its scaling lists are the
        fall-back; None: Flat, like :func:`parse_pps` without the SPS), with the scaling
        matrix resolved as for a parsed one. TypeError for an unknown name."""
        unknown = elements.keys() - PPS_ELEMENTS.keys()
        if unknown:
            raise TypeError(f"PPS.from_fields: not PPS syntax elements: {', '.join(sorted(unknown))}")
        p = cls()
        for name, default in PPS_ELEMENTS.items():
            value = elements.get(name, default)
            setattr(p, name, value.copy() if isinstance(value, (list, dict)) else value)
        if p.second_chroma_qp_index_offset is None:
            p.second_chroma_qp_index_offset = p.chroma_qp_index_offset
        _complete(p, sps)
        return p

    def __repr__(self) -> str:
        return (
            f"PPS(id={self.pic_parameter_set_id}, sps={self.seq_parameter_set_id}, "
            f"cabac={self.entropy_coding_mode_flag})"
        )

    def __eq__(self, other: object) -> bool:
        """Same syntax element values (whatever SPS object each was made with)."""
        return isinstance(other, PPS) and all(
            getattr(self, name) == getattr(other, name) for name in PPS_ELEMENTS)

    __hash__ = None  # type: ignore[assignment]


def _ceil_log2(n: int) -> int:
    return (n - 1).bit_length()


def parse_pps(
    rbsp: bytes,
    sps_by_id: Mapping[int, SPS],
    *,
    reader_cls: type[BitReader] = BitReader,
    tracer: list | None = None,
) -> PPS:
    """Parse a pic_parameter_set_rbsp() (``rbsp``: after the NAL header, no emulation prevention).

    ``sps_by_id`` gives the SPS the PPS refers to; if it is missing, chroma_format_idc 1 is
    assumed for the number of 8x8 scaling lists and the SPS lists are taken as Flat.
    """
    r = reader_cls(rbsp, what="PPS")
    if tracer is not None:
        tracer.append(r)
    p = PPS()
    p.pic_parameter_set_id = r.ue("pic_parameter_set_id", 255)
    r.what = f"PPS {p.pic_parameter_set_id}"
    p.seq_parameter_set_id = r.ue("seq_parameter_set_id", 31)
    sps = sps_by_id.get(p.seq_parameter_set_id)
    p.entropy_coding_mode_flag = r.u1("entropy_coding_mode_flag")
    p.bottom_field_pic_order_in_frame_present_flag = r.u1("bottom_field_pic_order_in_frame_present_flag")
    p.num_slice_groups_minus1 = r.ue("num_slice_groups_minus1", 7)
    p.run_length_minus1 = []
    p.top_left = []
    p.bottom_right = []
    p.slice_group_id = []
    if p.num_slice_groups_minus1 > 0:
        p.slice_group_map_type = t = r.ue("slice_group_map_type", 6)
        n = p.num_slice_groups_minus1 + 1
        if t == 0:
            p.run_length_minus1 = [r.ue("run_length_minus1") for _ in range(n)]
        elif t == 2:
            for _ in range(n - 1):
                p.top_left.append(r.ue("top_left"))
                p.bottom_right.append(r.ue("bottom_right"))
        elif t in (3, 4, 5):
            p.slice_group_change_direction_flag = r.u1("slice_group_change_direction_flag")
            p.slice_group_change_rate_minus1 = r.ue("slice_group_change_rate_minus1")
        elif t == 6:
            p.pic_size_in_map_units_minus1 = r.ue("pic_size_in_map_units_minus1")
            bits = _ceil_log2(n)
            p.slice_group_id = [r.u(bits, "slice_group_id") for _ in range(p.pic_size_in_map_units_minus1 + 1)]
    p.num_ref_idx_l0_default_active_minus1 = r.ue("num_ref_idx_l0_default_active_minus1", 31)
    p.num_ref_idx_l1_default_active_minus1 = r.ue("num_ref_idx_l1_default_active_minus1", 31)
    p.weighted_pred_flag = r.u1("weighted_pred_flag")
    p.weighted_bipred_idc = r.u(2, "weighted_bipred_idc")
    if p.weighted_bipred_idc == 3:
        raise r.error("weighted_bipred_idc", "= 3 (reserved)")
    p.pic_init_qp_minus26 = r.se("pic_init_qp_minus26", -26 - 48, 25)
    p.pic_init_qs_minus26 = r.se("pic_init_qs_minus26", -26, 25)
    p.chroma_qp_index_offset = r.se("chroma_qp_index_offset", -12, 12)
    p.deblocking_filter_control_present_flag = r.u1("deblocking_filter_control_present_flag")
    p.constrained_intra_pred_flag = r.u1("constrained_intra_pred_flag")
    p.redundant_pic_cnt_present_flag = r.u1("redundant_pic_cnt_present_flag")
    p.pic_scaling_list_present_flag = []
    p.pic_scaling_lists = {}
    p.second_chroma_qp_index_offset = p.chroma_qp_index_offset
    if r.more_rbsp_data():
        p.transform_8x8_mode_flag = r.u1("transform_8x8_mode_flag")
        p.pic_scaling_matrix_present_flag = r.u1("pic_scaling_matrix_present_flag")
        if p.pic_scaling_matrix_present_flag:
            cfi = sps.chroma_format_idc if sps is not None else 1
            count = 6 + (2 if cfi != 3 else 6) * p.transform_8x8_mode_flag
            for i in range(count):
                f = r.u1("pic_scaling_list_present_flag")
                p.pic_scaling_list_present_flag.append(f)
                if f:
                    p.pic_scaling_lists[i] = read_scaling_list(r, 16 if i < 6 else 64)
        p.second_chroma_qp_index_offset = r.se("second_chroma_qp_index_offset", -12, 12)
    _complete(p, sps)
    return p


def _complete(p: PPS, sps: SPS | None) -> None:
    """The SPS and the resolved scaling matrix of a PPS whose syntax elements are set: the one
    way both :func:`parse_pps` and :meth:`PPS.from_fields` finish a PPS."""
    p.sps = sps
    p.scaling_matrix = p.resolve_scaling_matrix(sps) if sps is not None else resolve_pps_lists(
        bool(p.pic_scaling_matrix_present_flag), p.pic_scaling_lists, FLAT_MATRIX, False
    )
