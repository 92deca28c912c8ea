"""Sequence parameter set (H.264 7.3.2.1.1), VUI and HRD (Annex E), derived values.

:func:`parse_sps` returns an :class:`SPS` whose attributes are the spec's syntax element names
(VUI elements are flattened into the SPS: ``sps.max_num_reorder_frames``, HRD parameters are
:class:`HRD` objects in ``sps.nal_hrd`` / ``sps.vcl_hrd``). Elements that are absent have the
value the spec infers. :meth:`SPS.from_fields` builds the same object from element values
(e.g. a VA-API picture parameter buffer's), with the same derived values. Derived variables keep the spec's names (``PicWidthInMbs``,
``FrameHeightInMbs``, ``MaxFrameNum``, ``ChromaArrayType``, ...), plus ``frame_width``,
``frame_height``, the crop rectangle in luma samples and ``max_dpb_frames``.
"""

from __future__ import annotations

import math

from .bitreader import BitReader
from .scaling import ScalingMatrix, read_scaling_list, resolve_sps_lists
from ...errors import BitstreamError

__all__ = ["SPS", "HRD", "parse_sps", "SPS_ELEMENTS", "HIGH_PROFILES", "MAX_DPB_MBS", "level_limits_index"]

#: profile_idc values whose SPS carries chroma_format_idc, bit depths and scaling lists.
HIGH_PROFILES = frozenset((100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135))

#: Table A-1 MaxDpbMbs by level ("1b" written as 9).
MAX_DPB_MBS = {
    10: 396, 9: 396, 11: 900, 12: 2376, 13: 2376, 20: 2376, 21: 4752, 22: 8100, 30: 8100,
    31: 18000, 32: 20480, 40: 32768, 41: 32768, 42: 34816, 50: 110400, 51: 184320,
    52: 184320, 60: 696320, 61: 696320, 62: 696320,
}


#: A.3.1: Sqrt(MaxFS * 8) for the largest MaxFS of Table A-1 (139264, levels 6 to 6.2)
MAX_PIC_SIDE_IN_MBS = 1055


def level_limits_index(profile_idc: int, level_idc: int, constraint_set3_flag: int) -> int:
    """The Table A-1 level (level_idc, 9 for level 1b: 11 with constraint_set3 in Baseline/Main/Extended)."""
    if level_idc == 11 and constraint_set3_flag and profile_idc in (66, 77, 88):
        return 9
    return level_idc


class HRD:
    """hrd_parameters() (E.1.2)."""

    cpb_cnt_minus1: int = 0
    bit_rate_scale: int = 0
    cpb_size_scale: int = 0
    bit_rate_value_minus1: list[int]
    cpb_size_value_minus1: list[int]
    cbr_flag: list[int]
    initial_cpb_removal_delay_length_minus1: int = 23
    cpb_removal_delay_length_minus1: int = 23
    dpb_output_delay_length_minus1: int = 23
    time_offset_length: int = 24

    def __repr__(self) -> str:
        return f"HRD({vars(self)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HRD) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]


def _parse_hrd(r: BitReader) -> HRD:
    h = HRD()
    h.cpb_cnt_minus1 = n = r.ue("cpb_cnt_minus1", 31)
    h.bit_rate_scale = r.u(4, "bit_rate_scale")
    h.cpb_size_scale = r.u(4, "cpb_size_scale")
    h.bit_rate_value_minus1 = []
    h.cpb_size_value_minus1 = []
    h.cbr_flag = []
    for _ in range(n + 1):
        h.bit_rate_value_minus1.append(r.ue("bit_rate_value_minus1"))
        h.cpb_size_value_minus1.append(r.ue("cpb_size_value_minus1"))
        h.cbr_flag.append(r.u1("cbr_flag"))
    h.initial_cpb_removal_delay_length_minus1 = r.u(5, "initial_cpb_removal_delay_length_minus1")
    h.cpb_removal_delay_length_minus1 = r.u(5, "cpb_removal_delay_length_minus1")
    h.dpb_output_delay_length_minus1 = r.u(5, "dpb_output_delay_length_minus1")
    h.time_offset_length = r.u(5, "time_offset_length")
    return h


#: the syntax elements of seq_parameter_set_data() and vui_parameters() (HRD parameters as
#: :class:`HRD` objects, scaling lists by list index), in syntax order, with the value
#: :meth:`SPS.from_fields` gives an element it is not passed: the inferred value where the
#: spec gives one (E.2.1 for the VUI), else that of a plain 4:2:0 8-bit progressive stream.
#: ``max_num_reorder_frames`` / ``max_dec_frame_buffering`` are inferred from the level
#: whatever their value when ``bitstream_restriction_flag`` is 0.
SPS_ELEMENTS: dict[str, object] = {
    "profile_idc": 100, "constraint_set0_flag": 0, "constraint_set1_flag": 0,
    "constraint_set2_flag": 0, "constraint_set3_flag": 0, "constraint_set4_flag": 0,
    "constraint_set5_flag": 0, "reserved_zero_2bits": 0, "level_idc": 40,
    "seq_parameter_set_id": 0, "chroma_format_idc": 1, "separate_colour_plane_flag": 0,
    "bit_depth_luma_minus8": 0, "bit_depth_chroma_minus8": 0,
    "qpprime_y_zero_transform_bypass_flag": 0, "seq_scaling_matrix_present_flag": 0,
    "seq_scaling_list_present_flag": [], "seq_scaling_lists": {},
    "log2_max_frame_num_minus4": 0, "pic_order_cnt_type": 0,
    "log2_max_pic_order_cnt_lsb_minus4": 0, "delta_pic_order_always_zero_flag": 0,
    "offset_for_non_ref_pic": 0, "offset_for_top_to_bottom_field": 0,
    "num_ref_frames_in_pic_order_cnt_cycle": 0, "offset_for_ref_frame": [],
    "max_num_ref_frames": 1, "gaps_in_frame_num_value_allowed_flag": 0,
    "pic_width_in_mbs_minus1": 0, "pic_height_in_map_units_minus1": 0,
    "frame_mbs_only_flag": 1, "mb_adaptive_frame_field_flag": 0,
    "direct_8x8_inference_flag": 1, "frame_cropping_flag": 0, "frame_crop_left_offset": 0,
    "frame_crop_right_offset": 0, "frame_crop_top_offset": 0, "frame_crop_bottom_offset": 0,
    "vui_parameters_present_flag": 0,
    "aspect_ratio_info_present_flag": 0, "aspect_ratio_idc": 0, "sar_width": 0, "sar_height": 0,
    "overscan_info_present_flag": 0, "overscan_appropriate_flag": 0,
    "video_signal_type_present_flag": 0, "video_format": 5, "video_full_range_flag": 0,
    "colour_description_present_flag": 0, "colour_primaries": 2, "transfer_characteristics": 2,
    "matrix_coefficients": 2, "chroma_loc_info_present_flag": 0,
    "chroma_sample_loc_type_top_field": 0, "chroma_sample_loc_type_bottom_field": 0,
    "timing_info_present_flag": 0, "num_units_in_tick": 0, "time_scale": 0,
    "fixed_frame_rate_flag": 0, "nal_hrd_parameters_present_flag": 0, "nal_hrd": None,
    "vcl_hrd_parameters_present_flag": 0, "vcl_hrd": None, "low_delay_hrd_flag": 0,
    "pic_struct_present_flag": 0, "bitstream_restriction_flag": 0,
    "motion_vectors_over_pic_boundaries_flag": 1, "max_bytes_per_pic_denom": 2,
    "max_bits_per_mb_denom": 1, "log2_max_mv_length_horizontal": 15,
    "log2_max_mv_length_vertical": 15, "max_num_reorder_frames": 0, "max_dec_frame_buffering": 0,
}


class SPS:
    """A seq_parameter_set_rbsp(), parsed (:func:`parse_sps`) or built from element values
    (:meth:`from_fields`); absent elements hold their inferred values. Never modified once
    made: equal SPSs (same elements) may be told apart by identity.
    """

    profile_idc: int
    constraint_set0_flag: int
    constraint_set1_flag: int
    constraint_set2_flag: int
    constraint_set3_flag: int
    constraint_set4_flag: int
    constraint_set5_flag: int
    reserved_zero_2bits: int
    level_idc: int
    seq_parameter_set_id: int
    chroma_format_idc: int = 1
    separate_colour_plane_flag: int = 0
    bit_depth_luma_minus8: int = 0
    bit_depth_chroma_minus8: int = 0
    qpprime_y_zero_transform_bypass_flag: int = 0
    seq_scaling_matrix_present_flag: int = 0
    #: seq_scaling_list_present_flag[i] for the lists that were signalled (8 or 12 entries)
    seq_scaling_list_present_flag: list[int]
    #: coded lists by spec index i (0..11): tuple in zig-zag order, None = use default
    seq_scaling_lists: dict[int, tuple[int, ...] | None]
    #: the resolved sequence-level matrix (Flat when no matrix; fall-back rule A)
    scaling_matrix: ScalingMatrix
    log2_max_frame_num_minus4: int
    pic_order_cnt_type: int
    log2_max_pic_order_cnt_lsb_minus4: int = 0
    delta_pic_order_always_zero_flag: int = 0
    offset_for_non_ref_pic: int = 0
    offset_for_top_to_bottom_field: int = 0
    num_ref_frames_in_pic_order_cnt_cycle: int = 0
    offset_for_ref_frame: list[int]
    max_num_ref_frames: int
    gaps_in_frame_num_value_allowed_flag: int
    pic_width_in_mbs_minus1: int
    pic_height_in_map_units_minus1: int
    frame_mbs_only_flag: int
    mb_adaptive_frame_field_flag: int = 0
    direct_8x8_inference_flag: int
    frame_cropping_flag: int
    frame_crop_left_offset: int = 0
    frame_crop_right_offset: int = 0
    frame_crop_top_offset: int = 0
    frame_crop_bottom_offset: int = 0
    vui_parameters_present_flag: int
    # -- VUI (E.1.1), flattened ---------------------------------------------------------
    aspect_ratio_info_present_flag: int = 0
    aspect_ratio_idc: int = 0
    sar_width: int = 0
    sar_height: int = 0
    overscan_info_present_flag: int = 0
    overscan_appropriate_flag: int = 0
    video_signal_type_present_flag: int = 0
    video_format: int = 5
    video_full_range_flag: int = 0
    colour_description_present_flag: int = 0
    colour_primaries: int = 2
    transfer_characteristics: int = 2
    matrix_coefficients: int = 2
    chroma_loc_info_present_flag: int = 0
    chroma_sample_loc_type_top_field: int = 0
    chroma_sample_loc_type_bottom_field: int = 0
    timing_info_present_flag: int = 0
    num_units_in_tick: int = 0
    time_scale: int = 0
    fixed_frame_rate_flag: int = 0
    nal_hrd_parameters_present_flag: int = 0
    nal_hrd: HRD | None = None
    vcl_hrd_parameters_present_flag: int = 0
    vcl_hrd: HRD | None = None
    low_delay_hrd_flag: int = 0
    pic_struct_present_flag: int = 0
    bitstream_restriction_flag: int = 0
    motion_vectors_over_pic_boundaries_flag: int = 1
    max_bytes_per_pic_denom: int = 2
    max_bits_per_mb_denom: int = 1
    log2_max_mv_length_horizontal: int = 15
    log2_max_mv_length_vertical: int = 15
    #: E.2.1: inferred from the level (MaxDpbFrames, or 0 for intra profiles) when absent
    max_num_reorder_frames: int
    max_dec_frame_buffering: int

    # -- derived (7.4.2.1.1) ------------------------------------------------------------
    ChromaArrayType: int
    SubWidthC: int
    SubHeightC: int
    BitDepthY: int
    BitDepthC: int
    MaxFrameNum: int
    MaxPicOrderCntLsb: int
    ExpectedDeltaPerPicOrderCntCycle: int
    PicWidthInMbs: int
    PicHeightInMapUnits: int
    PicSizeInMapUnits: int
    FrameHeightInMbs: int
    FrameSizeInMbs: int             # PicWidthInMbs * FrameHeightInMbs
    CropUnitX: int
    CropUnitY: int
    #: coded size in luma samples (PicWidthInMbs * 16, FrameHeightInMbs * 16)
    frame_width: int
    frame_height: int
    #: crop rectangle in luma samples (CropUnitX/Y applied)
    crop_left: int
    crop_right: int
    crop_top: int
    crop_bottom: int
    #: DPB size in frames: max_dec_frame_buffering (from the VUI, else MaxDpbFrames of the
    #: level, Table A-1 MaxDpbMbs), at least max_num_ref_frames and 1, at most 16
    max_dpb_frames: int

    @property
    def sample_aspect_ratio(self) -> tuple[int, int]:
        """(width, height) of a sample (E.2.1, Table E-1), reduced; (0, 1) when the VUI does not
        say (as FFmpeg reports an unknown one)."""
        if not self.aspect_ratio_info_present_flag:
            return (0, 1)
        if self.aspect_ratio_idc == _SAR_EXTENDED:
            w, h = self.sar_width, self.sar_height
        elif 1 <= self.aspect_ratio_idc <= len(_SAR_TABLE):
            w, h = _SAR_TABLE[self.aspect_ratio_idc - 1]
        else:
            return (0, 1)
        if not w or not h:
            return (0, 1)
        g = math.gcd(w, h)
        return (w // g, h // g)

    @property
    def frame_rate(self) -> tuple[int, int]:
        """Frames per second as (num, den), reduced, from the VUI timing (E.2.1: a frame is two
        ticks, time_scale / (2 * num_units_in_tick)); (0, 1) when the VUI does not say."""
        if not (self.timing_info_present_flag and self.num_units_in_tick and self.time_scale):
            return (0, 1)
        num, den = self.time_scale, 2 * self.num_units_in_tick
        g = math.gcd(num, den)
        return (num // g, den // g)

    @property
    def display_width(self) -> int:
        return self.frame_width - self.crop_left - self.crop_right

    @property
    def display_height(self) -> int:
        return self.frame_height - self.crop_top - self.crop_bottom

    @property
    def level_max_dpb_frames(self) -> int:
        """Min(MaxDpbMbs / (PicWidthInMbs * FrameHeightInMbs), 16) from Table A-1."""
        lvl = level_limits_index(self.profile_idc, self.level_idc, self.constraint_set3_flag)
        mbs = MAX_DPB_MBS.get(lvl, MAX_DPB_MBS[62])
        return max(1, min(mbs // (self.PicWidthInMbs * self.FrameHeightInMbs), 16))

    @classmethod
    def from_fields(cls, **elements: object) -> "SPS":
        """An SPS from syntax element values by their spec names (:data:`SPS_ELEMENTS`; the
        ones not given take its values), with every derived value computed as for a parsed
        one. ``seq_scaling_lists`` maps list index (0..11) to the coded list in zig-zag order
        (None: the default list), as the parser gives it. TypeError for an unknown name,
        :class:`BitstreamError` for crop offsets that leave no picture."""
        unknown = elements.keys() - SPS_ELEMENTS.keys()
        if unknown:
            raise TypeError(f"SPS.from_fields: not SPS syntax elements: {', '.join(sorted(unknown))}")
        s = cls()
        for name, default in SPS_ELEMENTS.items():
            value = elements.get(name, default)
            setattr(s, name, value.copy() if isinstance(value, (list, dict)) else value)
        _complete(s)
        return s

    def __repr__(self) -> str:
        return (
            f"SPS(id={self.seq_parameter_set_id}, profile_idc={self.profile_idc}, "
            f"level_idc={self.level_idc}, {self.frame_width}x{self.frame_height})"
        )

    def __eq__(self, other: object) -> bool:
        """Same syntax element values (the derived values follow from them)."""
        return isinstance(other, SPS) and all(
            getattr(self, name) == getattr(other, name) for name in SPS_ELEMENTS)

    __hash__ = None  # type: ignore[assignment]


_SAR_EXTENDED = 255
#: Table E-1: the sample aspect ratios of aspect_ratio_idc 1..16
_SAR_TABLE = ((1, 1), (12, 11), (10, 11), (16, 11), (40, 33), (24, 11), (20, 11), (32, 11), (80, 33),
              (18, 11), (15, 11), (64, 33), (160, 99), (4, 3), (3, 2), (2, 1))


def parse_sps(rbsp: bytes, *, reader_cls: type[BitReader] = BitReader, tracer: list | None = None) -> SPS:
    """Parse a seq_parameter_set_rbsp() (``rbsp``: after the NAL header, no emulation prevention).

    ``reader_cls=TracingBitReader`` with a ``tracer`` list collects the reader (for tests).
    """
    r = reader_cls(rbsp, what="SPS")
    if tracer is not None:
        tracer.append(r)
    s = SPS()
    s.profile_idc = r.u(8, "profile_idc")
    s.constraint_set0_flag = r.u1("constraint_set0_flag")
    s.constraint_set1_flag = r.u1("constraint_set1_flag")
    s.constraint_set2_flag = r.u1("constraint_set2_flag")
    s.constraint_set3_flag = r.u1("constraint_set3_flag")
    s.constraint_set4_flag = r.u1("constraint_set4_flag")
    s.constraint_set5_flag = r.u1("constraint_set5_flag")
    s.reserved_zero_2bits = r.u(2, "reserved_zero_2bits")
    s.level_idc = r.u(8, "level_idc")
    s.seq_parameter_set_id = r.ue("seq_parameter_set_id", 31)
    r.what = f"SPS {s.seq_parameter_set_id}"
    s.seq_scaling_list_present_flag = []
    s.seq_scaling_lists = {}
    if s.profile_idc in HIGH_PROFILES:
        s.chroma_format_idc = r.ue("chroma_format_idc", 3)
        if s.chroma_format_idc == 3:
            s.separate_colour_plane_flag = r.u1("separate_colour_plane_flag")
        s.bit_depth_luma_minus8 = r.ue("bit_depth_luma_minus8", 6)
        s.bit_depth_chroma_minus8 = r.ue("bit_depth_chroma_minus8", 6)
        s.qpprime_y_zero_transform_bypass_flag = r.u1("qpprime_y_zero_transform_bypass_flag")
        s.seq_scaling_matrix_present_flag = r.u1("seq_scaling_matrix_present_flag")
        if s.seq_scaling_matrix_present_flag:
            for i in range(8 if s.chroma_format_idc != 3 else 12):
                f = r.u1("seq_scaling_list_present_flag")
                s.seq_scaling_list_present_flag.append(f)
                if f:
                    s.seq_scaling_lists[i] = read_scaling_list(r, 16 if i < 6 else 64)
    s.log2_max_frame_num_minus4 = r.ue("log2_max_frame_num_minus4", 12)
    s.pic_order_cnt_type = r.ue("pic_order_cnt_type", 2)
    s.offset_for_ref_frame = []
    if s.pic_order_cnt_type == 0:
        s.log2_max_pic_order_cnt_lsb_minus4 = r.ue("log2_max_pic_order_cnt_lsb_minus4", 12)
    elif s.pic_order_cnt_type == 1:
        s.delta_pic_order_always_zero_flag = r.u1("delta_pic_order_always_zero_flag")
        s.offset_for_non_ref_pic = r.se("offset_for_non_ref_pic")
        s.offset_for_top_to_bottom_field = r.se("offset_for_top_to_bottom_field")
        s.num_ref_frames_in_pic_order_cnt_cycle = r.ue("num_ref_frames_in_pic_order_cnt_cycle", 255)
        s.offset_for_ref_frame = [
            r.se("offset_for_ref_frame") for _ in range(s.num_ref_frames_in_pic_order_cnt_cycle)
        ]
    s.max_num_ref_frames = r.ue("max_num_ref_frames", 16)
    s.gaps_in_frame_num_value_allowed_flag = r.u1("gaps_in_frame_num_value_allowed_flag")
    # A.3.1 f/g: PicWidthInMbs and FrameHeightInMbs <= Sqrt(MaxFS * 8), 1055 at level 6.2 (the
    # largest MaxFS): a bigger value is no H.264 stream (and overflows the uAPI's u16 fields)
    s.pic_width_in_mbs_minus1 = r.ue("pic_width_in_mbs_minus1", MAX_PIC_SIDE_IN_MBS - 1)
    s.pic_height_in_map_units_minus1 = r.ue("pic_height_in_map_units_minus1", MAX_PIC_SIDE_IN_MBS - 1)
    s.frame_mbs_only_flag = r.u1("frame_mbs_only_flag")
    if not s.frame_mbs_only_flag:
        s.mb_adaptive_frame_field_flag = r.u1("mb_adaptive_frame_field_flag")
    s.direct_8x8_inference_flag = r.u1("direct_8x8_inference_flag")
    s.frame_cropping_flag = r.u1("frame_cropping_flag")
    if s.frame_cropping_flag:
        s.frame_crop_left_offset = r.ue("frame_crop_left_offset")
        s.frame_crop_right_offset = r.ue("frame_crop_right_offset")
        s.frame_crop_top_offset = r.ue("frame_crop_top_offset")
        s.frame_crop_bottom_offset = r.ue("frame_crop_bottom_offset")
    s.vui_parameters_present_flag = r.u1("vui_parameters_present_flag")
    if s.vui_parameters_present_flag:
        _parse_vui(r, s)
    _complete(s)
    return s


def _parse_vui(r: BitReader, s: SPS) -> None:
    s.aspect_ratio_info_present_flag = r.u1("aspect_ratio_info_present_flag")
    if s.aspect_ratio_info_present_flag:
        s.aspect_ratio_idc = r.u(8, "aspect_ratio_idc")
        if s.aspect_ratio_idc == _SAR_EXTENDED:
            s.sar_width = r.u(16, "sar_width")
            s.sar_height = r.u(16, "sar_height")
    s.overscan_info_present_flag = r.u1("overscan_info_present_flag")
    if s.overscan_info_present_flag:
        s.overscan_appropriate_flag = r.u1("overscan_appropriate_flag")
    s.video_signal_type_present_flag = r.u1("video_signal_type_present_flag")
    if s.video_signal_type_present_flag:
        s.video_format = r.u(3, "video_format")
        s.video_full_range_flag = r.u1("video_full_range_flag")
        s.colour_description_present_flag = r.u1("colour_description_present_flag")
        if s.colour_description_present_flag:
            s.colour_primaries = r.u(8, "colour_primaries")
            s.transfer_characteristics = r.u(8, "transfer_characteristics")
            s.matrix_coefficients = r.u(8, "matrix_coefficients")
    s.chroma_loc_info_present_flag = r.u1("chroma_loc_info_present_flag")
    if s.chroma_loc_info_present_flag:
        s.chroma_sample_loc_type_top_field = r.ue("chroma_sample_loc_type_top_field", 5)
        s.chroma_sample_loc_type_bottom_field = r.ue("chroma_sample_loc_type_bottom_field", 5)
    s.timing_info_present_flag = r.u1("timing_info_present_flag")
    if s.timing_info_present_flag:
        s.num_units_in_tick = r.u(32, "num_units_in_tick")
        s.time_scale = r.u(32, "time_scale")
        s.fixed_frame_rate_flag = r.u1("fixed_frame_rate_flag")
    s.nal_hrd_parameters_present_flag = r.u1("nal_hrd_parameters_present_flag")
    if s.nal_hrd_parameters_present_flag:
        s.nal_hrd = _parse_hrd(r)
    s.vcl_hrd_parameters_present_flag = r.u1("vcl_hrd_parameters_present_flag")
    if s.vcl_hrd_parameters_present_flag:
        s.vcl_hrd = _parse_hrd(r)
    if s.nal_hrd_parameters_present_flag or s.vcl_hrd_parameters_present_flag:
        s.low_delay_hrd_flag = r.u1("low_delay_hrd_flag")
    s.pic_struct_present_flag = r.u1("pic_struct_present_flag")
    s.bitstream_restriction_flag = r.u1("bitstream_restriction_flag")
    if s.bitstream_restriction_flag:
        s.motion_vectors_over_pic_boundaries_flag = r.u1("motion_vectors_over_pic_boundaries_flag")
        s.max_bytes_per_pic_denom = r.ue("max_bytes_per_pic_denom", 16)
        s.max_bits_per_mb_denom = r.ue("max_bits_per_mb_denom", 16)
        s.log2_max_mv_length_horizontal = r.ue("log2_max_mv_length_horizontal", 15)
        s.log2_max_mv_length_vertical = r.ue("log2_max_mv_length_vertical", 15)
        s.max_num_reorder_frames = r.ue("max_num_reorder_frames", 16)
        s.max_dec_frame_buffering = r.ue("max_dec_frame_buffering", 16)


def _complete(s: SPS) -> None:
    """The resolved scaling matrix and the derived values (7.4.2.1.1, E.2.1) of an SPS whose
    syntax elements are set: the one way both :func:`parse_sps` and
    :meth:`SPS.from_fields` finish an SPS."""
    s.scaling_matrix = resolve_sps_lists(bool(s.seq_scaling_matrix_present_flag), s.seq_scaling_lists)
    cfi = s.chroma_format_idc
    s.ChromaArrayType = 0 if s.separate_colour_plane_flag else cfi
    s.SubWidthC = 2 if cfi in (1, 2) else 1
    s.SubHeightC = 2 if cfi == 1 else 1
    s.BitDepthY = 8 + s.bit_depth_luma_minus8
    s.BitDepthC = 8 + s.bit_depth_chroma_minus8
    s.MaxFrameNum = 1 << (s.log2_max_frame_num_minus4 + 4)
    s.MaxPicOrderCntLsb = 1 << (s.log2_max_pic_order_cnt_lsb_minus4 + 4)
    s.ExpectedDeltaPerPicOrderCntCycle = sum(s.offset_for_ref_frame)
    s.PicWidthInMbs = s.pic_width_in_mbs_minus1 + 1
    s.PicHeightInMapUnits = s.pic_height_in_map_units_minus1 + 1
    s.PicSizeInMapUnits = s.PicWidthInMbs * s.PicHeightInMapUnits
    s.FrameHeightInMbs = (2 - s.frame_mbs_only_flag) * s.PicHeightInMapUnits
    s.FrameSizeInMbs = s.PicWidthInMbs * s.FrameHeightInMbs
    if s.ChromaArrayType == 0:
        s.CropUnitX = 1
        s.CropUnitY = 2 - s.frame_mbs_only_flag
    else:
        s.CropUnitX = s.SubWidthC
        s.CropUnitY = s.SubHeightC * (2 - s.frame_mbs_only_flag)
    s.frame_width = s.PicWidthInMbs * 16
    s.frame_height = s.FrameHeightInMbs * 16
    s.crop_left = s.CropUnitX * s.frame_crop_left_offset
    s.crop_right = s.CropUnitX * s.frame_crop_right_offset
    s.crop_top = s.CropUnitY * s.frame_crop_top_offset
    s.crop_bottom = s.CropUnitY * s.frame_crop_bottom_offset
    if s.crop_left + s.crop_right >= s.frame_width or s.crop_top + s.crop_bottom >= s.frame_height:
        raise BitstreamError(
            f"SPS {s.seq_parameter_set_id}: frame_crop offsets ({s.crop_left},{s.crop_right},"
            f"{s.crop_top},{s.crop_bottom}) leave no picture in {s.frame_width}x{s.frame_height}"
        )
    level_frames = s.level_max_dpb_frames
    if not s.bitstream_restriction_flag:
        intra_only = s.profile_idc in (44, 86, 100, 110, 122, 244) and s.constraint_set3_flag
        s.max_dec_frame_buffering = 0 if intra_only else level_frames
        s.max_num_reorder_frames = 0 if intra_only else level_frames
    # never smaller than the references the stream may keep (some encoders understate it)
    s.max_dpb_frames = min(16, max(1, s.max_dec_frame_buffering, s.max_num_ref_frames))
