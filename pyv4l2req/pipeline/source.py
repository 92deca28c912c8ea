"""Input: H.264 Annex B byte streams and MP4/MOV (avcC) files, as Annex B chunks.

The pipeline always feeds the codec layer an Annex B byte stream: MP4 samples (length-prefixed
NAL units) are rewritten with start codes and the avcC parameter sets are put in front.

An input is opened exactly once and read front to back: the bytes read to sniff its format are
handed out again as the start of the first chunk, so pipes, FIFOs, sockets and ``-`` (standard
input) give the same bytes as the file they came from.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO, Iterator

from ..errors import BitstreamError, UnsupportedStream

CHUNK = 1 << 20
SNIFF = 64
_START3 = b"\x00\x00\x01"
STDIN = "-"


class InputSource:
    """An opened input: ``path``, ``kind`` ('annexb' or 'mp4'), ``size`` in bytes (``None``
    when not known up front: pipes, FIFOs, sockets), ``chunks()``.

    Either *data* (the whole Annex B stream, already converted) or *file* (read incrementally,
    *head* being bytes already read from it) is given; a file that is not standard input is
    closed by :meth:`close`.
    """

    def __init__(self, path: str, kind: str, size: int | None, data: bytes | None = None, *,
                 file: BinaryIO | None = None, head: bytes = b"") -> None:
        if (data is None) == (file is None):
            raise ValueError("InputSource takes either data or file")
        self.path = path
        self.kind = kind
        self.size = size
        self._data = data
        self._file = file
        self._head = head

    def chunks(self) -> Iterator[bytes]:
        """Annex B data in pieces (chunk boundaries may fall anywhere)."""
        if self._data is not None:
            for i in range(0, len(self._data), CHUNK):
                yield self._data[i : i + CHUNK]
            return
        if self._head:
            head, self._head = self._head, b""
            yield head
        while self._file is not None:
            b = self._file.read(CHUNK)
            if not b:
                return
            yield b

    def close(self) -> None:
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


def mp4_to_annexb(data: bytes) -> bytes:
    """Annex B stream from the first AVC track of an MP4/MOV file (parameter sets first)."""
    from ..codec.h264 import mp4

    try:
        nals = list(mp4.iter_annexb_nal_units(data))
    except UnsupportedStream:
        raise
    except (ValueError, IndexError, KeyError) as e:
        raise BitstreamError(f"malformed MP4/MOV file: {e}") from None
    return b"".join(_START3 + n for n in nals)


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
    UnsupportedStream. Annex B streams are read incrementally; MP4/MOV files are read whole (the
    sample tables may come after the media data).
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
            annexb = mp4_to_annexb(head + f.read())
            _close_unless_stdin(f, path)
            return InputSource(path, "mp4", size, annexb)
        if _looks_like_annexb(head):
            return InputSource(path, "annexb", size, file=f, head=head)
        raise BitstreamError(
            "not an H.264 Annex B byte stream (no start code at the beginning) nor an MP4/MOV "
            f"file (first bytes: {head[:8].hex(' ')})"
        )
    except BaseException:
        _close_unless_stdin(f, path)
        raise


def _close_unless_stdin(f: BinaryIO, path: str) -> None:
    if path != STDIN:
        f.close()
