"""H.264 (sans-IO): bit reader, NAL/access-unit splitting, MP4 demux of bytes, SPS/PPS/slice
header parsing (this package's parsing modules), POC/DPB/reference lists/controls/decoder
(built on the parsed objects).

Parsing entry points: :class:`~.nal.AccessUnitSplitter` (Annex B bytes -> access units with
parsed slice headers), :func:`~.nal.split_annexb`, :func:`~.mp4.iter_annexb_nal_units`,
:func:`~.sps.parse_sps`, :func:`~.pps.parse_pps`, :func:`~.slice.parse_slice_header`,
:class:`~.paramsets.ParameterSets`.
"""
