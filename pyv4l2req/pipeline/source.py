"""Input: H.264 Annex B byte streams, MP4/MOV (avcC) files and, through PyAV's demuxers when
it is installed, other containers (Matroska, MPEG-TS, FLV, AVI, ...), as Annex B chunks.

The pipeline always feeds the codec layer an Annex B byte stream: MP4 samples (length-prefixed
NAL units) are rewritten with start codes and the avcC parameter sets are put in front (pure
Python); other containers' packets go through FFmpeg's ``h264_mp4toannexb`` filter.

An input is opened exactly once and read front to back: the bytes read to sniff its format are
handed out again as the start of the first chunk, so pipes, FIFOs, sockets and ``-`` (standard
input) give the same bytes as the file they came from.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from typing import BinaryIO, Iterable, Iterator

from ..errors import BitstreamError, UnsupportedStream

#: bytes read at a time: small enough that progress moves on small files and that little is
#: held undecoded, large enough that the per-chunk cost does not show
CHUNK = 1 << 16
SNIFF = 64
_START3 = b"\x00\x00\x01"
STDIN = "-"


class InputSource:
    """An opened input: ``path``, ``kind`` ('annexb', 'mp4' or the PyAV format name, e.g.
    'matroska,webm'), ``size`` in bytes (``None`` when not known up front: pipes, FIFOs,
    sockets), ``chunks()``, and ``notices``: what a user should know about the input (e.g. an
    MP4 file cut short), one sentence each.

    One of *data* (the whole Annex B stream, already converted), *file* (read incrementally,
    *head* being bytes already read from it) or *packets* (Annex B pieces from a demuxer) is
    given; a file that is not standard input is closed by :meth:`close`.
    """

    def __init__(self, path: str, kind: str, size: int | None, data: bytes | None = None, *,
                 file: BinaryIO | None = None, head: bytes = b"",
                 packets: Iterable[bytes] | None = None, closer=None) -> None:
        if sum(x is not None for x in (data, file, packets)) != 1:
            raise ValueError("InputSource takes one of data, file or packets")
        self.path = path
        self.kind = kind
        self.size = size
        self.notices: list[str] = []
        self._data = data
        self._file = file
        self._head = head
        self._packets = packets
        self._closer = closer

    def chunks(self) -> Iterator[bytes]:
        """Annex B data in pieces (chunk boundaries may fall anywhere)."""
        if self._packets is not None:
            yield from self._packets
            return
        if self._data is not None:
            for i in range(0, len(self._data), CHUNK):
                yield self._data[i : i + CHUNK]
            return
        if self._head:  # the sniffed bytes start the first chunk
            head, self._head = self._head, b""
            yield head + (self._file.read(CHUNK - len(head)) if self._file is not None else b"")
        while self._file is not None:
            b = self._file.read(CHUNK)
            if not b:
                return
            yield b

    def close(self) -> None:
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()
        f, self._file = self._file, None
        if f is not None and self.path != STDIN:
            f.close()

    def __enter__(self) -> "InputSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _looks_like_mp4(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def _looks_like_annexb(head: bytes) -> bool:
    stripped = head.lstrip(b"\x00")
    zeros = len(head) - len(stripped)
    return zeros >= 2 and stripped[:1] == b"\x01"


#: first bytes of containers that PyAV (FFmpeg) demuxes, for the message when it is missing
_CONTAINER_MAGIC = ((b"\x1a\x45\xdf\xa3", "Matroska/WebM"), (b"FLV", "FLV"), (b"OggS", "Ogg"),
                    (b"RIFF", "RIFF (AVI)"))
#: HEVC NAL unit headers a stream starts with (VPS, SPS, PPS, AUD, prefix SEI; nuh_layer_id 0,
#: TemporalId 0): as H.264 NAL headers they would be types 0/2/4/6/14 with nal_ref_idc 2,
#: which no H.264 stream starts with
_HEVC_FIRST_NAL = {b"\x40\x01", b"\x42\x01", b"\x44\x01", b"\x46\x01", b"\x4e\x01"}


def mp4_to_annexb(data: bytes, notices: list[str] | None = None) -> bytes:
    """Annex B stream from the first AVC track of an MP4/MOV file (parameter sets first); a
    file cut short gives its whole samples, and a sentence in *notices* says so."""
    from ..codec.h264 import mp4

    notes = mp4.Mp4Notes()
    try:
        nals = list(mp4.iter_annexb_nal_units(data, notes))
    except UnsupportedStream:
        raise
    except (ValueError, IndexError, KeyError) as e:
        raise BitstreamError(f"malformed MP4/MOV file: {e}") from None
    if notes.missing and notices is not None:
        notices.append(f"the MP4 file is cut short: {notes.missing} of its {notes.samples} samples "
                       f"are missing (decoding the {notes.samples - notes.missing} that are there)")
    return b"".join(_START3 + n for n in nals)


def _is_mpeg_ts(head: bytes) -> bool:
    return len(head) >= 1 and head[0] == 0x47 and (len(head) < 189 or head[188] == 0x47)


def _container_name(head: bytes) -> str | None:
    for magic, name in _CONTAINER_MAGIC:
        if head.startswith(magic):
            return name
    return "MPEG-TS" if _is_mpeg_ts(head) else None


class _Prepended(io.RawIOBase):
    """A file read from the start again: *head* (already read from it), then the rest."""

    def __init__(self, head: bytes, f: BinaryIO) -> None:
        self._head = memoryview(head)
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._f.read(len(b))
        b[:len(data)] = data
        return len(data)


def _demux_with_pyav(path: str, f: BinaryIO, head: bytes, size: int | None) -> InputSource:
    """Other containers through PyAV: the first video stream, which must be H.264, as Annex B."""
    name = _container_name(head)
    try:
        import av
    except ImportError:
        if name is None:
            raise BitstreamError(
                "not an H.264 Annex B byte stream (no start code at the beginning) nor an MP4/MOV "
                f"file (first bytes: {head[:8].hex(' ')})") from None
        raise UnsupportedStream(
            f"{name} input is demuxed with PyAV, which is not installed: "
            "pip install 'pyv4l2req[containers]' (Annex B and MP4/MOV need nothing more)") from None
    try:
        container = av.open(io.BufferedReader(_Prepended(head, f), 1 << 16), mode="r")
    except av.FFmpegError:
        raise BitstreamError(
            "not an H.264 Annex B byte stream, an MP4/MOV file nor a container FFmpeg knows "
            f"(first bytes: {head[:8].hex(' ')})") from None
    try:
        if not container.streams.video:
            raise UnsupportedStream(f"the {container.format.name} file has no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec != "h264":
            raise UnsupportedStream(f"the video stream is {codec}, not H.264 (only H.264 is supported)")
        bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", stream)
    except BaseException:
        container.close()
        raise

    def packets() -> Iterator[bytes]:
        try:
            for packet in container.demux(stream):
                for out in bsf.filter(packet):
                    yield bytes(out)
            for out in bsf.filter(None):
                yield bytes(out)
        except av.FFmpegError as e:
            raise BitstreamError(f"{container.format.name} demuxer: {e}") from None

    def close() -> None:
        container.close()
        _close_unless_stdin(f, path)

    return InputSource(path, container.format.name, size, packets=packets(), closer=close)


def _read_head(f: BinaryIO, n: int) -> bytes:
    """Up to *n* bytes; short only at end of input (a pipe may return less per read)."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def open_input(path: str | os.PathLike[str]) -> InputSource:
    """Open an H.264 input once: a file, a pipe, a FIFO, a socket, or ``-`` for standard input.

    Raises FileNotFoundError/PermissionError/IsADirectoryError, BitstreamError (not H.264) or
    UnsupportedStream (another codec; a container that needs PyAV when it is missing). Annex B
    streams are read incrementally; MP4/MOV files are read whole (the sample tables may come
    after the media data); other containers are demuxed by PyAV as they are read.
    """
    path = os.fspath(path)
    f: BinaryIO = sys.stdin.buffer if path == STDIN else open(path, "rb")
    try:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory", path)
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
        head = _read_head(f, SNIFF)
        if not head:
            raise BitstreamError("empty input")
        if _looks_like_mp4(head):
            notices: list[str] = []
            annexb = mp4_to_annexb(head + f.read(), notices)
            _close_unless_stdin(f, path)
            src = InputSource(path, "mp4", size, annexb)
            src.notices += notices
            return src
        if _looks_like_annexb(head):
            first = head.lstrip(b"\0")[1:3]
            if first in _HEVC_FIRST_NAL:
                raise UnsupportedStream("this is an HEVC (H.265) Annex B stream, not H.264 "
                                        "(only H.264 is supported)")
            return InputSource(path, "annexb", size, file=f, head=head)
        return _demux_with_pyav(path, f, head, size)
    except BaseException:
        _close_unless_stdin(f, path)
        raise


def _close_unless_stdin(f: BinaryIO, path: str) -> None:
    if path != STDIN:
        f.close()
