"""The decoding process's view of pictures, in the spec's terms (no kernel ABI here).

What :class:`~.decoder.H264Decoder` hands out with each picture to decode, for any mapping
to a device interface (V4L2 controls: :mod:`.v4l2_controls`; a VA-API driver would fill its
picture parameter buffers from the same objects):

- :class:`ReferencePicture` -- one frame buffer of the DPB holding a reference picture, as
  the decoding process sees it *for the current picture* (FrameNumWrap is relative to the
  current frame_num): an immutable snapshot, taken when the picture is decoded;
- :class:`PictureReference` -- one entry of RefPicList0/1: a reference picture and the field
  (or frame) of it that is referenced;
- :class:`Crop` -- the visible rectangle of a picture.

Values that change from picture to picture make a new snapshot; an unchanged reference
keeps its snapshot object, so a mapping may cache what it derives from one by identity.
"""

from __future__ import annotations

from typing import NamedTuple

from .dpb import BOTTOM, FRAME, TOP  # field bits: the top field, the bottom field, both

__all__ = ["TOP", "BOTTOM", "FRAME", "Crop", "ReferencePicture", "PictureReference"]


class Crop(NamedTuple):
    """Visible rectangle in luma samples (SPS frame cropping applied)."""

    left: int
    top: int
    width: int
    height: int


class ReferencePicture(NamedTuple):
    """A frame buffer of the DPB holding a reference picture (frame, field pair or field).

    Field bits (``short_term``, ``long_term``, ``decoded``, ``first_field``) are TOP, BOTTOM
    or both (FRAME).
    """

    #: the identity the caller gave the picture (both fields of a frame share it)
    timestamp_ns: int
    frame_num: int
    #: FrameNumWrap relative to the current picture (8-27)
    frame_num_wrap: int
    #: LongTermFrameIdx: meaningful while ``long_term`` is set (-1 if never assigned)
    long_term_frame_idx: int
    #: fields marked "used for short-term reference"
    short_term: int
    #: fields marked "used for long-term reference"
    long_term: int
    #: fields decoded
    decoded: int
    top_field_order_cnt: int
    bottom_field_order_cnt: int
    #: coded as field picture(s)
    field_coded: bool
    #: parity of the first coded field (field-coded pictures)
    first_field: int
    #: a "non-existing" frame of a frame_num gap (8.2.5.2): it has the timestamp of the
    #: picture whose decoded samples it stands for
    non_existing: bool

    @property
    def fields(self) -> int:
        """Fields marked as reference (short- or long-term)."""
        return self.short_term | self.long_term


class PictureReference(NamedTuple):
    """An entry of RefPicList0/1: ``parity`` is FRAME when decoding a frame, else the
    referenced field of ``picture`` (TOP or BOTTOM)."""

    picture: ReferencePicture
    parity: int
