"""H.264 NAL units of an MP4/MOV file held in memory (ISO BMFF box walk, sans-IO).

:func:`iter_annexb_nal_units` yields the NAL units (bytes, no start code) of the first AVC
video track: the SPS/PPS of its ``avcC`` first, then every sample's length-prefixed NAL
units in decode order. Boxes walked: ``moov/trak/mdia/hdlr`` (handler ``vide``),
``mdia/minf/stbl/stsd`` (``avc1``/``avc3`` with ``avcC``), ``stsz``/``stz2``, ``stsc``,
``stco``/``co64``. Fragmented files (``moof``) are not supported.

A file cut short (a download or a recording still being written, with its ``moov`` before the
media data, as ``-movflags +faststart`` writes it) gives the samples that are wholly there:
the last top-level box may run past the end of the data, and the sample walk stops at the
first sample that does (:class:`Mp4Notes` says how many samples were missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from ...errors import BitstreamError, UnsupportedStream

__all__ = ["iter_annexb_nal_units", "AvcTrack", "find_avc_track", "parse_avcc", "AvcDecoderConfig", "Mp4Notes"]

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex"}
_AVC_ENTRIES = {b"avc1", b"avc3", b"avc2", b"avc4"}
_OTHER_CODECS = {
    b"hvc1": "HEVC", b"hev1": "HEVC", b"vp08": "VP8", b"vp09": "VP9", b"av01": "AV1",
    b"mp4v": "MPEG-4 Part 2", b"mjpa": "Motion JPEG", b"jpeg": "JPEG", b"dvh1": "Dolby Vision HEVC",
    b"dvhe": "Dolby Vision HEVC", b"vvc1": "VVC", b"vvi1": "VVC", b"s263": "H.263", b"mp2v": "MPEG-2",
    b"encv": "encrypted video",
}


def _boxes(data: bytes, start: int, end: int, where: str, *,
           cut_short: bool = False) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(type, payload_start, box_end)`` of the boxes in ``data[start:end]``.

    *cut_short* (the file's top level): the last box may run past *end* (a truncated file);
    it is yielded as ending at *end*."""
    p = start
    while p < end:
        if end - p < 8:
            raise BitstreamError(f"MP4: truncated box header at offset {p} in {where}")
        size = int.from_bytes(data[p:p + 4], "big")
        typ = bytes(data[p + 4:p + 8])
        hdr = 8
        if size == 1:
            if end - p < 16:
                raise BitstreamError(f"MP4: truncated 64-bit box size at offset {p} in {where}")
            size = int.from_bytes(data[p + 8:p + 16], "big")
            hdr = 16
        elif size == 0:
            size = end - p
        if cut_short and size >= hdr and p + size > end:
            size = end - p
        if size < hdr or p + size > end:
            raise BitstreamError(
                f"MP4: box '{typ.decode('latin-1')}' at offset {p} in {where} has size {size}, "
                f"beyond its container (ends at {end})"
            )
        yield typ, p + hdr, p + size
        p += size


def _child(data: bytes, start: int, end: int, typ: bytes, where: str) -> tuple[int, int] | None:
    for t, s, e in _boxes(data, start, end, where):
        if t == typ:
            return s, e
    return None


def _need(data: bytes, start: int, end: int, typ: bytes, where: str) -> tuple[int, int]:
    got = _child(data, start, end, typ, where)
    if got is None:
        raise BitstreamError(f"MP4: no '{typ.decode()}' box in {where}")
    return got


def _u32(data: bytes, p: int) -> int:
    return int.from_bytes(data[p:p + 4], "big")


@dataclass
class AvcDecoderConfig:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""

    configurationVersion: int
    AVCProfileIndication: int
    profile_compatibility: int
    AVCLevelIndication: int
    lengthSizeMinusOne: int
    sequenceParameterSetNALUnits: list[bytes] = field(default_factory=list)
    pictureParameterSetNALUnits: list[bytes] = field(default_factory=list)


def parse_avcc(b: bytes) -> AvcDecoderConfig:
    """Parse the payload of an ``avcC`` box."""
    if len(b) < 7:
        raise BitstreamError(f"MP4: avcC is {len(b)} bytes (< 7)")
    if b[0] != 1:
        raise BitstreamError(f"MP4: avcC configurationVersion {b[0]} (expected 1)")
    cfg = AvcDecoderConfig(b[0], b[1], b[2], b[3], b[4] & 3)
    p = 6
    for count, lst, what in ((b[5] & 0x1F, cfg.sequenceParameterSetNALUnits, "SPS"), (None, cfg.pictureParameterSetNALUnits, "PPS")):
        if count is None:
            if p >= len(b):
                raise BitstreamError("MP4: avcC truncated before numOfPictureParameterSets")
            count = b[p]
            p += 1
        for _ in range(count):
            if p + 2 > len(b):
                raise BitstreamError(f"MP4: avcC truncated in its {what} list")
            n = int.from_bytes(b[p:p + 2], "big")
            if p + 2 + n > len(b):
                raise BitstreamError(f"MP4: avcC {what} of {n} bytes runs past the box")
            # trailing zero bytes (trailing_zero_8bits copied by some muxers) are not NAL data
            lst.append(bytes(b[p + 2:p + 2 + n]).rstrip(b"\0"))
            p += 2 + n
    return cfg


@dataclass
class AvcTrack:
    """The sample table of an AVC track."""

    track_index: int
    sample_entry: str
    config: AvcDecoderConfig
    sample_offsets: list[int]
    sample_sizes: list[int]


def _sample_sizes(data: bytes, stbl: tuple[int, int], where: str) -> list[int]:
    got = _child(data, *stbl, b"stsz", where)
    if got is not None:
        s, e = got
        if e - s < 12:
            raise BitstreamError(f"MP4: stsz truncated in {where}")
        size, count = _u32(data, s + 4), _u32(data, s + 8)
        if size:
            if size * count > len(data):
                raise BitstreamError(f"MP4: stsz says {count} samples of {size} bytes, more than the file holds, in {where}")
            return [size] * count
        if s + 12 + 4 * count > e:
            raise BitstreamError(f"MP4: stsz lists {count} samples but has room for {(e - s - 12) // 4} in {where}")
        return [_u32(data, s + 12 + 4 * i) for i in range(count)]
    got = _child(data, *stbl, b"stz2", where)
    if got is None:
        raise BitstreamError(f"MP4: no 'stsz' or 'stz2' box in {where}")
    s, e = got
    if e - s < 12:
        raise BitstreamError(f"MP4: stz2 truncated in {where}")
    fs, count = data[s + 7], _u32(data, s + 8)
    if fs not in (4, 8, 16):
        raise BitstreamError(f"MP4: stz2 field_size {fs} (expected 4, 8 or 16) in {where}")
    if s + 12 + (count * fs + 7) // 8 > e:
        raise BitstreamError(f"MP4: stz2 lists {count} samples beyond its box in {where}")
    p = s + 12
    if fs == 16:
        return [int.from_bytes(data[p + 2 * i:p + 2 * i + 2], "big") for i in range(count)]
    if fs == 8:
        return list(data[p:p + count])
    return [(data[p + i // 2] >> (4 if i % 2 == 0 else 0)) & 0xF for i in range(count)]


def _chunk_offsets(data: bytes, stbl: tuple[int, int], where: str) -> list[int]:
    for typ, width in ((b"stco", 4), (b"co64", 8)):
        got = _child(data, *stbl, typ, where)
        if got is not None:
            s, e = got
            count = _u32(data, s + 4)
            if s + 8 + width * count > e:
                raise BitstreamError(f"MP4: {typ.decode()} lists {count} chunks beyond its box in {where}")
            return [int.from_bytes(data[s + 8 + width * i:s + 8 + width * (i + 1)], "big") for i in range(count)]
    raise BitstreamError(f"MP4: no 'stco' or 'co64' box in {where}")


def _sample_offsets(data: bytes, stbl: tuple[int, int], sizes: list[int], where: str) -> list[int]:
    chunks = _chunk_offsets(data, stbl, where)
    s, e = _need(data, *stbl, b"stsc", where)
    count = _u32(data, s + 4)
    if s + 8 + 12 * count > e:
        raise BitstreamError(f"MP4: stsc lists {count} entries beyond its box in {where}")
    runs = [(_u32(data, s + 8 + 12 * i), _u32(data, s + 12 + 12 * i)) for i in range(count)]
    offsets: list[int] = []
    n = len(sizes)
    for k, (first, per_chunk) in enumerate(runs):
        last = runs[k + 1][0] - 1 if k + 1 < len(runs) else len(chunks)
        if first < 1 or last > len(chunks) or (k + 1 < len(runs) and runs[k + 1][0] <= first):
            raise BitstreamError(f"MP4: stsc entry {k} (first_chunk {first}) is inconsistent with {len(chunks)} chunks in {where}")
        for c in range(first, last + 1):
            off = chunks[c - 1]
            for _ in range(per_chunk):
                if len(offsets) == n:
                    break
                offsets.append(off)
                off += sizes[len(offsets) - 1]
    if len(offsets) != n:
        raise BitstreamError(f"MP4: stsc/stco describe {len(offsets)} samples, stsz {n} in {where}")
    return offsets


def find_avc_track(data: bytes) -> AvcTrack:
    """The first AVC video track; :class:`UnsupportedStream` when the video is not AVC."""
    moov = None
    has_moof = False
    for typ, s, e in _boxes(data, 0, len(data), "file", cut_short=True):
        if typ == b"moov":
            moov = (s, e)
        elif typ == b"moof":
            has_moof = True
    if moov is None:
        raise BitstreamError("MP4: no 'moov' box (not an MP4/MOV file, or cut short before its "
                             "'moov': a file being written by a muxer without faststart)")
    others: list[str] = []
    for idx, (typ, s, e) in enumerate(t for t in _boxes(data, *moov, "moov") if t[0] == b"trak"):
        where = f"trak #{idx}"
        mdia = _need(data, s, e, b"mdia", where)
        hdlr = _need(data, *mdia, b"hdlr", where + "/mdia")
        handler = bytes(data[hdlr[0] + 8:hdlr[0] + 12])
        if handler != b"vide":
            continue
        minf = _need(data, *mdia, b"minf", where + "/mdia")
        stbl = _need(data, *minf, b"stbl", where + "/mdia/minf")
        ss, se = _need(data, *stbl, b"stsd", where + "/stbl")
        if _u32(data, ss + 4) < 1:
            raise BitstreamError(f"MP4: empty stsd in {where}")
        entries = list(_boxes(data, ss + 8, se, where + "/stsd"))
        if not entries:
            raise BitstreamError(f"MP4: stsd of {where} has no sample entry")
        etyp, es, ee = entries[0]
        if etyp not in _AVC_ENTRIES:
            others.append(_OTHER_CODECS.get(etyp, f"'{etyp.decode('latin-1')}'"))
            continue
        # VisualSampleEntry: 8 bytes SampleEntry + 70 bytes of visual fields, then boxes
        avcc = _child(data, es + 78, ee, b"avcC", where + "/" + etyp.decode())
        if avcc is None:
            raise BitstreamError(f"MP4: {etyp.decode()} sample entry of {where} has no avcC box")
        config = parse_avcc(data[avcc[0]:avcc[1]])
        sizes = _sample_sizes(data, stbl, where)
        offsets = _sample_offsets(data, stbl, sizes, where)
        if not sizes and has_moof:
            raise UnsupportedStream("fragmented MP4 (samples in 'moof' boxes) is not supported")
        return AvcTrack(idx, etyp.decode(), config, offsets, sizes)
    if others:
        raise UnsupportedStream(f"the video track is {others[0]}, not H.264/AVC (only H.264 is supported)")
    raise UnsupportedStream("the file has no video track")


@dataclass
class Mp4Notes:
    """What :func:`iter_annexb_nal_units` noticed: ``samples`` in the track, ``missing`` of
    them past the end of a file cut short."""

    samples: int = 0
    missing: int = 0


def iter_annexb_nal_units(data: bytes, notes: Mp4Notes | None = None) -> Iterator[bytes]:
    """NAL units (no start code) of the first AVC track: avcC SPS/PPS, then the samples'.

    The samples that lie (partly) past the end of *data* are not yielded: counted in
    ``notes.missing`` when *notes* is given."""
    track = find_avc_track(data)
    if notes is not None:
        notes.samples = len(track.sample_sizes)
    cfg = track.config
    yield from cfg.sequenceParameterSetNALUnits
    yield from cfg.pictureParameterSetNALUnits
    ls = cfg.lengthSizeMinusOne + 1
    n_data = len(data)
    for i, (off, size) in enumerate(zip(track.sample_offsets, track.sample_sizes)):
        end = off + size
        if end > n_data:  # cut short: this and every later sample (they come in file order
            if notes is not None:  # in a faststart file; a later one that is whole is not
                notes.missing = len(track.sample_sizes) - i  # decodable without this one)
            return
        p = off
        while p < end:
            if p + ls > end:
                raise BitstreamError(f"MP4: sample {i}: truncated NAL unit length at offset {p}")
            n = int.from_bytes(data[p:p + ls], "big")
            p += ls
            if p + n > end:
                raise BitstreamError(f"MP4: sample {i}: NAL unit of {n} bytes at offset {p} runs past the sample end {end}")
            if n:
                yield bytes(data[p:p + n])
            p += n
