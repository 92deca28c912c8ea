"""The H.264 decoding state machine (sans-IO, h11-style): access units in, events out.

``H264Decoder().decode_access_unit(au, timestamp_ns)`` takes one parsed
:class:`~pyv4l2req.codec.h264.access_unit.AccessUnit` and returns what the caller must do, in order:

- :class:`SequenceStart` -- a new coded size / DPB size: (re)configure the device;
- :class:`PictureDecode` -- decode one picture (frame or field): its parameter sets, slices
  (parsed headers, NAL bytes, reference lists when asked) and the DPB as the decoding process
  sees it for this picture (:class:`~.picture.ReferencePicture` snapshots), in the spec's
  terms; :mod:`.v4l2_controls` turns it into V4L2 control values;
- :class:`PictureOutput` -- the picture with this timestamp is next in display order;
- :class:`PictureRelease` -- its CAPTURE buffer is no longer needed (not a reference, output).

It joins POC (:mod:`.poc`), marking (:mod:`.dpb`), reference lists (:mod:`.reflists`) and
bumping (:mod:`.output`), like GStreamer's ``gsth264decoder.c``. Both fields of a frame share
the first field's timestamp. A stream that starts at a non-IDR picture is skipped up to the first
I picture or recovery point SEI. No I/O here.

Damage (see :class:`H264Decoder`) is skipped, not raised: a slice whose header turns out
malformed, or that a profile without arbitrary slice order has out of order, is dropped and
noted; the picture that lost it is decoded marked ``damaged``, and so is a picture after a
frame_num gap the stream does not allow (lost pictures); a new sequence that starts at a
non-IDR picture (its parameter sets changed by damage) is resumed like a mid-stream start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

from ...errors import BitstreamError, UnsupportedStream
from .access_unit import AccessUnit, DamageLog, Slice
from .dpb import BOTTOM, FRAME, TOP, Dpb, FrameStore
from .output import OutputQueue
from .picture import Crop, PictureReference, ReferencePicture
from .poc import PocResult, PocState
from .pps import PPS
from .reflists import RefPic, build_lists
from .slice import SliceHeader
from .sps import SPS

__all__ = [
    "H264Decoder",
    "Crop",
    "SequenceStart",
    "PictureDecode",
    "SliceJob",
    "ReferencePicture",
    "PictureReference",
    "PictureOutput",
    "PictureRelease",
    "Event",
]

NAL_SLICE, NAL_SLICE_DPA, NAL_SLICE_IDR, NAL_SEI = 1, 2, 5, 6
SEI_RECOVERY_POINT = 6
#: frame buffers of the DPB at most (A.3.1: max_dec_frame_buffering <= 16)
MAX_DPB_FRAMES = 16


@dataclass(frozen=True)
class SequenceStart:
    """A new coded size / DPB size / picture format: (re)configure the device. ``sps`` is the
    SPS that starts the sequence (what a device is configured with: H.264 drivers choose
    their CAPTURE formats from the SPS control); equality and hash leave it out."""

    coded_width: int
    coded_height: int
    dpb_size: int
    max_num_reorder_frames: int
    profile_idc: int
    level_idc: int
    chroma_format_idc: int
    bit_depth_luma: int
    crop: Crop
    interlaced: bool
    bit_depth_chroma: int = 8
    mbaff: bool = False
    sps: SPS | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class SliceJob:
    """One slice of a picture: its NAL unit and parsed header, and RefPicList0/1 after
    modification (8.2.4; ``num_ref_idx_lX_active_minus1 + 1`` entries, None = "no reference
    picture", empty for the lists a slice type does not use). The lists are None when the
    decoder was made with ``slice_controls=False`` (frame-based devices build their own);
    the slices of a picture with the same list inputs share the list objects."""

    nal: bytes                      # the slice NAL unit (header + EBSP, no start code)
    header: SliceHeader
    ref_pic_list0: list[PictureReference | None] | None
    ref_pic_list1: list[PictureReference | None] | None


@dataclass(slots=True)
class PictureDecode:
    """One picture (frame or field) to decode, in the spec's terms.

    ``dpb`` holds the frame buffers with reference pictures as the decoding process sees them
    for this picture (before its own marking; FrameNumWrap relative to its frame_num), in DPB
    order, 16 at most; an unchanged reference keeps its snapshot object from picture to
    picture. ``top_field_order_cnt``/``bottom_field_order_cnt`` are those of the frame buffer
    the picture is decoded into (a second field: the first field's POC too). The timestamp
    is the caller's identity of the picture: a second field has its first field's.
    Read-only, like the SPS/PPS/header objects it holds.
    """

    timestamp_ns: int
    sps: SPS
    pps: PPS
    slices: list[SliceJob]
    dpb: tuple[ReferencePicture, ...]
    reference_timestamps: tuple[int, ...]   # of ``dpb`` but the picture's own (a second field)
    is_first_field: bool
    is_second_field: bool
    poc: int                        # PicOrderCnt(CurrPic)
    frame_num: int
    nal_ref_idc: int
    is_idr: bool
    structure: int                  # 1 top field, 2 bottom field, 3 frame
    top_field_order_cnt: int
    bottom_field_order_cnt: int
    #: the picture lost slices to damage, or follows pictures lost to it (a frame_num gap the
    #: stream does not allow): the caller marks it corrupt, and the pictures that reference it
    damaged: bool = False

    @property
    def is_reference(self) -> bool:
        return self.nal_ref_idc != 0


# PictureOutput and PictureRelease come with (almost) every picture: slots classes, hashable by
# value like SequenceStart, but not frozen (a frozen dataclass's __init__ costs four times as
# much). Treat them as read-only.
@dataclass(slots=True, unsafe_hash=True)
class PictureOutput:
    timestamp_ns: int
    crop: Crop
    poc: int
    top_field_order_cnt: int = 0
    bottom_field_order_cnt: int = 0
    fields: int = FRAME             # fields decoded (a lone field is output as it is)


@dataclass(slots=True, unsafe_hash=True)
class PictureRelease:
    timestamp_ns: int


Event = SequenceStart | PictureDecode | PictureOutput | PictureRelease


def _bytes(data: bytes | bytearray | memoryview) -> bytes:
    """``data`` as bytes (NalUnit.data already is: no call to bytes())."""
    return data if type(data) is bytes else bytes(data)


_timestamp_of = attrgetter("timestamp_ns")


def _slice_kind(slice_type: int) -> str:
    t = slice_type % 5
    return "B" if t == 1 else "P" if t in (0, 3) else "I"


def _sei_value(data: bytes, i: int) -> tuple[int, int] | None:
    """payloadType / payloadSize of an SEI message (7.3.2.3.1: 0xFF bytes, then the last
    byte) read at *i*: (value, next position), or None when the data ends first."""
    value = 0
    while i < len(data) and data[i] == 0xFF:
        value += 255
        i += 1
    if i >= len(data):
        return None
    return value + data[i], i + 1


def _has_recovery_point(au: AccessUnit) -> bool:
    """An SEI recovery_point (payloadType 6) in the access unit."""
    for nal in au.nals:
        if nal.nal_unit_type != NAL_SEI:
            continue
        data = nal.rbsp
        i = 0
        while i < len(data) and not (i == len(data) - 1 and data[i] == 0x80):
            ptype = _sei_value(data, i)
            if ptype is None:
                break
            size = _sei_value(data, ptype[1])
            if size is None:
                break
            if ptype[0] == SEI_RECOVERY_POINT:
                return True
            i = size[1] + size[0]
    return False


def _crop_of(sps: SPS) -> Crop:
    return Crop(sps.crop_left, sps.crop_top, sps.display_width, sps.display_height)


def _sequence_key(sps: SPS) -> tuple:
    return (sps.frame_width, sps.frame_height, sps.max_dpb_frames,
            sps.chroma_format_idc, sps.bit_depth_luma_minus8, sps.bit_depth_chroma_minus8,
            sps.frame_mbs_only_flag, _crop_of(sps))


def _reference_pictures(stores: list[FrameStore]) -> tuple[list[ReferencePicture], list[FrameStore]]:
    """The DPB as the current picture sees it: a :class:`ReferencePicture` of every frame
    buffer holding a reference (16 at most), and those frame buffers.

    The DPB changes by about one picture per picture: each store keeps its snapshot
    (``FrameStore.reference``) with the tuple of every mutable input it was made from
    (``reference_key``; the timestamp, field coding, first field and non-existing flag never
    change), and makes a new one only when that tuple differs. An unchanged reference is the
    same object from picture to picture, which lets a mapping cache by identity.
    """
    refs: list[ReferencePicture] = []
    used: list[FrameStore] = []
    for fs in stores:
        short_ref, long_ref = fs.short_ref, fs.long_ref
        if not (short_ref or long_ref) or fs.timestamp_ns < 0:
            continue
        key = (short_ref, long_ref, fs.long_term_frame_idx, fs.frame_num_wrap, fs.frame_num,
               fs.decoded, fs.top_field_order_cnt, fs.bottom_field_order_cnt)
        ref = fs.reference
        if ref is None or fs.reference_key != key:
            fs.reference = ref = ReferencePicture(
                fs.timestamp_ns, fs.frame_num, fs.frame_num_wrap, fs.long_term_frame_idx,
                short_ref, long_ref, fs.decoded, fs.top_field_order_cnt,
                fs.bottom_field_order_cnt, fs.field_coded, fs.first_field, fs.non_existing)
            fs.reference_key = key
        refs.append(ref)
        used.append(fs)
        if len(refs) == MAX_DPB_FRAMES:
            break
    return refs, used


def _picture_references(entries: list[RefPic | None],
                        reference_of: dict[int, ReferencePicture]) -> list[PictureReference | None]:
    """A reference list with the snapshots of its frame buffers (``reference_of``: by
    ``id(store)``); a frame buffer without one is "no reference picture"."""
    out: list[PictureReference | None] = []
    for e in entries:
        ref = reference_of.get(id(e.store)) if e is not None else None
        out.append(None if ref is None else PictureReference(ref, e.parity))
    return out


@dataclass(slots=True)
class _FirstField:
    store: FrameStore
    structure: int
    is_reference: bool
    frame_num: int


class H264Decoder:
    """Feed access units in decoding order; get :data:`Event` lists back.

    ``slice_controls=False`` is for frame-based devices, which build the reference lists
    themselves from the DPB: no reference lists are handed out (:class:`SliceJob` carries
    None, so no slice controls can be made), and of every slice header but the first the
    decoder reads only the fields before the reference list syntax (first_mb_in_slice,
    slice_type, redundant_pic_cnt, frame_num, field/bottom flags, idr_pic_id, POC
    lsb/deltas), so a lazily parsed header is never parsed further. The first slice header
    of a non-reference picture (without slice groups) needs no tail element either, for the
    decoder nor for its V4L2 decode params (:func:`.v4l2_controls.decode_params_control`).
    While starting mid-stream the lists are still built, to skip pictures whose references
    were never decoded.

    Malformed input is skipped, never raised (``BitstreamError`` does not escape): a slice
    whose header rest does not parse, or a slice out of order where the profile forbids
    arbitrary slice order, is dropped (``skipped_nal_units``, a note in ``damage``, the
    :class:`~.access_unit.DamageLog` the splitter writes too when the caller shares it); the
    picture is decoded from its other slices with ``PictureDecode.damaged`` set
    (``damaged_pictures`` counts them), as is a picture that lost its first slice, one of an
    access unit the splitter marked damaged, and one after a frame_num gap that the SPS does
    not allow. A sequence that starts at a non-IDR picture (the parameter sets changed without
    an IDR: damage) resumes at the next I picture or recovery point like a mid-stream start.
    Still raised: :class:`UnsupportedStream` (FMO; data partitioning and arbitrary slice order
    where the profile allows them).
    """

    def __init__(self, slice_controls: bool = True, damage: DamageLog | None = None) -> None:
        self._slice_controls = slice_controls
        self.damage = damage if damage is not None else DamageLog()
        self.skipped_nal_units = 0
        self.damaged_pictures = 0
        self._dpb = Dpb()
        self._out = OutputQueue(self._dpb)
        self._poc = PocState()
        self._seq_key: tuple | None = None
        self._sps: SPS | None = None
        self._key_sps: SPS | None = None  # the SPS of _key and _crop
        self._key: tuple | None = None
        self._crop: Crop | None = None
        self._started = False
        self._prev_ref_frame_num = 0
        self._first_field: _FirstField | None = None
        self._decode_index = 0
        self._zombies: set[int] = set()  # released pictures still aliased by non-existing frames
        self._made_non_existing = False  # a frame_num gap was filled (aliasing stores exist)
        self.skipped_access_units = 0
        self.skipped_pictures = 0
        self._recovering = False  # started at a non-IDR picture; until the next IDR
        self._recovery_poc: int | None = None  # POC of the picture decoding started at

    # -- public API ---------------------------------------------------------------------------
    def decode_access_unit(self, au: AccessUnit, timestamp_ns: int) -> list[Event]:
        """Decode one access unit; ``timestamp_ns`` identifies its picture (unused for a second
        field, which takes its first field's timestamp)."""
        slices = [s for s in au.slices if not s.header.redundant_pic_cnt]
        if not slices:
            return []
        # (the slices of an access unit share their PPS, so their SPS, and their IdrPicFlag)
        sps = slices[0].header.sps
        if sps is not self._key_sps:  # SPS objects are immutable: derive these once per SPS
            self._key_sps, self._key, self._crop = sps, _sequence_key(sps), _crop_of(sps)
        key = self._key
        new_sequence = key is not self._seq_key and key != self._seq_key
        idr = slices[0].nal.nal_unit_type == NAL_SLICE_IDR
        restart = not self._started or (new_sequence and not idr)  # (then: recovering)
        damaged = au.damaged
        try:  # the header rests read for this picture, now, before any state changes: all of
            # them for reference lists; else the first one's when the decode params read it
            # (dec_ref_pic_marking() of a reference picture; v4l2_controls.decode_params_control)
            if self._slice_controls or self._recovering or restart:
                for s in slices:
                    s.header.parse_all()
            elif slices[0].nal.nal_ref_idc or slices[0].header.pps.num_slice_groups_minus1:
                slices[0].header.parse_all()
        except BitstreamError:
            slices = self._well_formed(slices)
            if not slices:
                return []
            damaged = True
        sh0 = slices[0].header
        pps = sh0.pps
        in_order = self._check_supported(slices, pps)
        if in_order is not slices:
            if not in_order:
                return []
            slices, damaged = in_order, True
            sh0 = slices[0].header
        if sh0.first_mb_in_slice:
            damaged = True  # its first slice was lost
        if restart:
            intra = all(_slice_kind(s.header.slice_type) == "I" for s in slices)
            if not (idr or intra or _has_recovery_point(au)):
                self.skipped_access_units += 1
                return []
            self._started = True
            self._recovering = not idr
            self._recovery_poc = None
            if not idr:
                self._prev_ref_frame_num = (sh0.frame_num - 1) % sps.MaxFrameNum
        events: list[Event] = []
        if new_sequence:
            no_output = idr and bool(sh0.no_output_of_prior_pics_flag)
            self._first_field = None
            self._out.flush_all(output=not no_output)
            events += self._take_events()
            self._seq_key = key
            self._sps = sps
            self._out.dpb_size = sps.max_dpb_frames
            events.append(SequenceStart(
                coded_width=sps.frame_width, coded_height=sps.frame_height,
                dpb_size=sps.max_dpb_frames, max_num_reorder_frames=sps.max_num_reorder_frames,
                profile_idc=sps.profile_idc, level_idc=sps.level_idc,
                chroma_format_idc=sps.chroma_format_idc, bit_depth_luma=sps.BitDepthY,
                crop=_crop_of(sps), interlaced=not sps.frame_mbs_only_flag,
                bit_depth_chroma=sps.BitDepthC, mbaff=bool(sps.mb_adaptive_frame_field_flag), sps=sps))
        self._sps = sps
        self._out.max_num_reorder_frames = (
            sps.max_num_reorder_frames if sps.bitstream_restriction_flag else None)
        events += self._decode_picture(slices, sps, pps, idr, timestamp_ns, damaged)
        return events

    def flush(self) -> list[Event]:
        """End of stream: output every picture still waiting, release every buffer."""
        self._first_field = None
        self._out.flush_all(output=True)
        events = self._take_events()
        for ts in sorted(self._zombies):
            events.append(PictureRelease(ts))
        self._zombies.clear()
        self._poc.reset()
        self._prev_ref_frame_num = 0
        self._started = False
        return events

    # -- checks ---------------------------------------------------------------------------------
    def _skip_slice(self, s: Slice, error: BitstreamError) -> None:
        self.skipped_nal_units += 1
        self.damage.add(None, s.nal.nal_unit_type, error)

    def _well_formed(self, slices: list[Slice]) -> list[Slice]:
        """The slices whose whole header parses; the others are skipped as damage."""
        out = []
        for s in slices:
            try:
                s.header.parse_all()
            except BitstreamError as e:
                self._skip_slice(s, e)
            else:
                out.append(s)
        return out

    def _check_supported(self, slices: list[Slice], pps: PPS) -> list[Slice]:
        """*slices*, without the repeated ones (the same first_mb_in_slice), the ones out of
        order when the profile has no arbitrary slice order and the data partitions when it
        has no data partitioning (damage); UnsupportedStream for what the uAPI cannot
        express."""
        if pps.num_slice_groups_minus1 > 0:
            raise UnsupportedStream(
                f"PPS {pps.pic_parameter_set_id}: flexible macroblock ordering "
                f"(num_slice_groups_minus1={pps.num_slice_groups_minus1}) cannot be expressed "
                "in the V4L2 stateless H.264 uAPI")
        prev = -1
        out = slices
        for i, s in enumerate(slices):
            sh = s.header
            first_mb = sh.first_mb_in_slice
            if s.nal.nal_unit_type == NAL_SLICE_DPA:
                if sh.sps.profile_idc == 88:  # Extended profile: data partitioning is valid
                    raise UnsupportedStream("data partitioning (nal_unit_type 2..4) is not supported "
                                            "by the V4L2 stateless H.264 uAPI")
                problem = "a data partition (nal_unit_type 2) in a profile without data partitioning"
            elif first_mb <= prev:
                sps = sh.sps
                if first_mb < prev and sps.profile_idc in (66, 88) and not sps.constraint_set1_flag:
                    raise UnsupportedStream(
                        f"arbitrary slice order: slice with first_mb_in_slice={first_mb} after one "
                        f"with {prev} (ASO is not supported by the V4L2 stateless H.264 uAPI)")
                problem = (f"first_mb_in_slice={first_mb} after one with {prev} in a profile "
                           "without arbitrary slice order")
            else:
                if out is not slices:
                    out.append(s)
                prev = first_mb
                continue
            if out is slices:
                out = slices[:i]
            self._skip_slice(s, BitstreamError(f"slice of frame_num {sh.frame_num}: {problem}"))
        return out

    # -- one picture ----------------------------------------------------------------------------
    def _decode_picture(self, slices: list[Slice], sps: SPS, pps: PPS, idr: bool, ts: int,
                        damaged: bool) -> list[Event]:
        sh0 = slices[0].header
        nal_ref_idc = slices[0].nal.nal_ref_idc
        is_ref = nal_ref_idc != 0
        field_pic = bool(sh0.field_pic_flag)
        structure = (BOTTOM if sh0.bottom_field_flag else TOP) if field_pic else FRAME
        max_frame_num = sps.MaxFrameNum
        frame_num = sh0.frame_num

        first = self._first_field
        is_second = (first is not None and field_pic and structure != first.structure
                     and frame_num == first.frame_num and is_ref == first.is_reference
                     and (not idr or first.store.is_idr))
        self._first_field = None
        if first is not None and not is_second:
            self._out.pending = None  # a lone field: it may be output as it is
        events: list[Event] = []
        if is_second:
            assert first is not None
            store = first.store
        else:
            if idr:
                no_output = bool(sh0.no_output_of_prior_pics_flag)
                self._out.flush_all(output=not no_output)
                self._prev_ref_frame_num = 0
            elif frame_num != self._prev_ref_frame_num and \
                    frame_num != (self._prev_ref_frame_num + 1) % max_frame_num:
                self._fill_frame_num_gap(sps, frame_num)
                if not sps.gaps_in_frame_num_value_allowed_flag:
                    damaged = True  # pictures were lost before this one
            events += self._take_events()
            self._decode_index += 1
            # (attributes set after a positional call: keyword arguments to a dataclass's
            # __init__ cost about twice as much, on every picture)
            store = FrameStore(ts, frame_num)
            store.field_coded, store.first_field, store.is_idr, store.decode_index = \
                field_pic, structure, idr, self._decode_index
            store.crop = self._crop if sps is self._key_sps else _crop_of(sps)
        poc = self._poc.compute(sps, sh0, nal_ref_idc, idr)
        if structure & TOP:
            store.top_field_order_cnt = poc.top_field_order_cnt
        if structure & BOTTOM:
            store.bottom_field_order_cnt = poc.bottom_field_order_cnt
        cur_poc = poc.pic_order_cnt(structure)

        # -- the DPB and the reference lists as this picture sees them --------------------------
        self._dpb.update_frame_num_wrap(frame_num, max_frame_num)
        stores = self._dpb.stores  # (not modified before the marking below)
        dpb, dpb_stores = _reference_pictures(stores)
        if self._slice_controls or self._recovering:
            jobs, missing_reference = self._slice_jobs(slices, structure, cur_poc, frame_num,
                                                       max_frame_num, stores, dpb, dpb_stores)
        else:
            jobs = [SliceJob(_bytes(s.nal.data), s.header, None, None) for s in slices]
            missing_reference = False
        if idr:
            self._recovering = False
        elif self._recovering and self._recovery_poc is None:
            self._recovery_poc = cur_poc
        elif self._recovering and not is_second and (
                missing_reference or (cur_poc < self._recovery_poc and any(
                    _slice_kind(s.header.slice_type) != "I" for s in slices))):
            # Started mid-stream: a picture that needs pictures we never had (a leading
            # picture of an open GOP, or one with no reference at all) is not decodable;
            # skip it like FFmpeg does.
            self.skipped_pictures += 1
            self._poc.update(sh0, nal_ref_idc, poc, False)
            if is_ref:
                self._prev_ref_frame_num = frame_num
            return events
        refs = set(map(_timestamp_of, dpb))  # the timestamps of dpb (no comprehension frame)
        refs.discard(store.timestamp_ns)
        store.decoded |= structure  # after the DPB and the lists: they see the first field only
        events.append(PictureDecode(  # positional (see FrameStore above), in field order:
            store.timestamp_ns, sps, pps, jobs, tuple(dpb),  # timestamp_ns, sps, pps, slices, dpb,
            tuple(sorted(refs)),  # reference_timestamps,
            field_pic and not is_second, is_second,  # is_first_field, is_second_field,
            cur_poc, frame_num, nal_ref_idc, idr, structure,  # poc, frame_num, nal_ref_idc, is_idr, structure,
            store.top_field_order_cnt, store.bottom_field_order_cnt, damaged))
        if damaged:
            self.damaged_pictures += 1

        # -- marking (8.2.5) -----------------------------------------------------------------
        mmco5 = False
        if is_ref:
            max_refs = sps.max_num_ref_frames
            if idr:
                self._dpb.unmark_all(keep=store)
                if sh0.long_term_reference_flag:
                    store.long_ref |= structure
                    store.long_term_frame_idx = 0
                    self._dpb.max_long_term_frame_idx = 0
                else:
                    store.short_ref |= structure
                    self._dpb.max_long_term_frame_idx = -1
            else:
                long_term = False
                if sh0.adaptive_ref_pic_marking_mode_flag:
                    curr_pic_num = frame_num if structure == FRAME else 2 * frame_num + 1
                    # the parser's MMCO tuples (no "end" operation)
                    mmco5, long_term = self._dpb.adaptive_marking(store, structure, curr_pic_num,
                                                                  sh0.mmco)
                if not long_term:
                    store.short_ref |= structure
                # Without MMCOs this is the sliding window (8.2.5.3, Dpb.sliding_window): the
                # current picture is not counted, so a second field whose first field is
                # already a short-term reference drops nothing more than the first did.
                # After MMCOs it keeps a broken stream within max_num_ref_frames.
                self._dpb.enforce_ref_limit(store, max_refs, True)  # strict
            if mmco5:
                temp = cur_poc
                if structure & TOP:
                    store.top_field_order_cnt -= temp
                if structure & BOTTOM:
                    store.bottom_field_order_cnt -= temp
                poc = PocResult(store.top_field_order_cnt, store.bottom_field_order_cnt, 0, 0)
                store.frame_num = 0
                store.mmco5 = True
                if not is_second:
                    self._out.flush_all(output=True)
            self._prev_ref_frame_num = store.frame_num
        self._poc.update(sh0, nal_ref_idc, poc, mmco5)

        # -- storage and output (C.4.4, C.4.5) ------------------------------------------------
        if is_second:
            self._out.remove_unused(store)  # keep
            self._out.pending = None
        else:  # store() empties the unused frame buffers first
            self._out.store(store, is_ref, field_pic)  # is_reference, is_field
            if field_pic and store in self._dpb.stores:
                self._out.pending = store
                self._first_field = _FirstField(store, structure, is_ref, frame_num)
            else:
                self._out.pending = None
        self._out.enforce_reorder()
        events += self._take_events()
        return events

    def _slice_jobs(self, slices: list[Slice], structure: int, cur_poc: int, frame_num: int,
                    max_frame_num: int, stores: list[FrameStore], dpb: list[ReferencePicture],
                    dpb_stores: list[FrameStore]) -> tuple[list[SliceJob], bool]:
        """Reference lists (8.2.4) of every slice; also says whether a P or B slice misses its
        first reference picture (mid-stream recovery).

        The slices of a picture usually share their list inputs (same type, same number of
        active references, same modifications), and the DPB does not change between them:
        each distinct pair of lists is built once per picture and shared by the slices with
        the same inputs (read-only).
        """
        jobs: list[SliceJob] = []
        missing_reference = False
        with_lists = self._slice_controls
        reference_of = {id(fs): ref for fs, ref in zip(dpb_stores, dpb)}
        lists_of: dict[tuple, tuple[list | None, list | None, bool]] = {}
        for s in slices:
            sh = s.header
            ops0, ops1 = sh.ref_pic_list_modification_l0, sh.ref_pic_list_modification_l1
            key = (sh.slice_type % 5, sh.num_ref_idx_l0_active_minus1, sh.num_ref_idx_l1_active_minus1,
                   tuple(ops0), tuple(ops1))
            lists = lists_of.get(key)
            if lists is None:
                kind = _slice_kind(sh.slice_type)
                n0 = sh.num_ref_idx_l0_active_minus1 + 1
                n1 = sh.num_ref_idx_l1_active_minus1 + 1
                l0, l1 = build_lists(stores, kind, structure, cur_poc, n0, n1,
                                     ops0, ops1, frame_num, max_frame_num)
                missing = kind != "I" and (not l0 or l0[0] is None
                                           or (kind == "B" and (not l1 or l1[0] is None)))
                if with_lists:
                    lists = (_picture_references(l0, reference_of),
                             _picture_references(l1, reference_of), missing)
                else:
                    lists = (None, None, missing)
                lists_of[key] = lists
            ref0, ref1, missing = lists
            missing_reference |= missing
            jobs.append(SliceJob(_bytes(s.nal.data), sh, ref0, ref1))
        return jobs, missing_reference

    def _fill_frame_num_gap(self, sps: SPS, frame_num: int) -> None:
        """8.2.5.2: "non-existing" short-term frames for the missing frame_num values.

        They alias the CAPTURE buffer of the latest real reference picture (what FFmpeg's
        concealment shows), so a reference to one still resolves in the driver."""
        max_frame_num = sps.MaxFrameNum
        max_refs = max(1, sps.max_num_ref_frames)
        real = [fs for fs in self._dpb.stores if fs.owns_buffer and fs.is_ref]
        if not real:
            self._prev_ref_frame_num = (frame_num - 1) % max_frame_num
            return
        alias = max(real, key=lambda fs: fs.decode_index)
        self._made_non_existing = True
        unused = (self._prev_ref_frame_num + 1) % max_frame_num
        gap = (frame_num - unused) % max_frame_num
        if gap > max_refs:  # older ones would slide out anyway
            unused = (frame_num - max_refs) % max_frame_num
        poc_type = sps.pic_order_cnt_type
        while unused != frame_num:
            fake = _FakeHeader(unused)
            if poc_type != 0:
                poc = self._poc.compute(sps, fake, 1, False)
            else:
                poc = PocResult(alias.top_field_order_cnt, alias.bottom_field_order_cnt,
                                self._poc.prev_pic_order_cnt_msb)
            self._decode_index += 1
            fs = FrameStore(alias.timestamp_ns, unused, decoded=FRAME,
                            top_field_order_cnt=poc.top_field_order_cnt,
                            bottom_field_order_cnt=poc.bottom_field_order_cnt,
                            non_existing=True, owns_buffer=False, decode_index=self._decode_index)
            self._dpb.update_frame_num_wrap(unused, max_frame_num)
            self._dpb.sliding_window(fs, max_refs)
            fs.short_ref = FRAME
            self._out.remove_unused(keep=fs)
            self._out.store(fs, is_reference=True, is_field=False)
            fs.needed_for_output = False
            if poc_type != 0:
                self._poc.update(fake, 1, poc, False)
            self._prev_ref_frame_num = unused
            unused = (unused + 1) % max_frame_num

    def _take_events(self) -> list[Event]:
        out = self._out
        actions = out.actions
        if not actions:
            return []
        out.actions = []
        events: list[Event] = []
        append = events.append
        # Only non-existing frames (frame_num gaps) share a buffer with another frame store:
        # without any ever made, no release needs the aliased scan.
        gaps = self._made_non_existing
        for what, fs in actions:
            if what == "output":
                if fs.non_existing:
                    continue
                append(PictureOutput(
                    fs.timestamp_ns, fs.crop or _crop_of(self._sps), fs.poc,
                    fs.top_field_order_cnt, fs.bottom_field_order_cnt, fs.decoded))
                continue
            ts = fs.timestamp_ns
            if not gaps:
                append(PictureRelease(ts))  # every store owns its buffer
                continue
            aliased = False  # another frame store (a non-existing frame) still uses the buffer
            for other in self._dpb.stores:
                if other.timestamp_ns == ts and other is not fs:
                    aliased = True
                    break
            if fs.owns_buffer:
                if aliased:
                    self._zombies.add(ts)
                else:
                    events.append(PictureRelease(ts))
            elif ts in self._zombies and not aliased:
                self._zombies.discard(ts)
                events.append(PictureRelease(ts))
        return events


@dataclass
class _FakeHeader:
    """Slice header stand-in for a non-existing frame (POC types 1 and 2)."""

    frame_num: int
    field_pic_flag: int = 0
    bottom_field_flag: int = 0
    pic_order_cnt_lsb: int = 0
    delta_pic_order_cnt_bottom: int = 0
    delta_pic_order_cnt: list = field(default_factory=lambda: [0, 0])
