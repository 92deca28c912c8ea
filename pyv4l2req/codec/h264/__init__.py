"""H.264 (sans-IO): bit reader, NAL units and access units, MP4 demux of bytes, SPS/PPS/slice
header parsing, the decoding process (POC, DPB, reference lists, output order) and the
mapping of its pictures to V4L2 control values.

Module order, bottom to top (each imports only modules before it): ``bitreader``, ``nal``
(NAL units, Annex B scan), ``scaling``, ``sps``, ``pps``, ``slice``,
``paramsets``, ``access_unit`` (access units with parsed slice headers), ``mp4``; ``dpb``,
``poc``, ``reflists``, ``output``, ``picture`` (the spec-term objects handed out),
``decoder`` (:class:`~.decoder.H264Decoder`); ``v4l2_controls`` (kernel control values from
the decoder's pictures).

Parsing entry points: :class:`~.access_unit.AccessUnitSplitter` (Annex B bytes -> access
units with parsed slice headers), :func:`~.nal.split_annexb`, :func:`~.mp4.iter_annexb_nal_units`,
:func:`~.sps.parse_sps`, :func:`~.pps.parse_pps`, :func:`~.slice.parse_slice_header`,
:class:`~.paramsets.ParameterSets`.
"""

from .access_unit import AccessUnit, AccessUnitSplitter, DamageLog, DamageNote, Slice

__all__ = ["AccessUnit", "AccessUnitSplitter", "DamageLog", "DamageNote", "Slice"]
