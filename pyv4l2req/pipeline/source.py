"""Input files: H.264 Annex B byte streams and MP4/MOV (avcC) files, as Annex B chunks.

The pipeline always feeds the codec layer an Annex B byte stream: MP4 samples (length-prefixed
NAL units) are rewritten with start codes and the avcC parameter sets are put in front.
"""

from __future__ import annotations

import os
from typing import Iterator

from ..errors import BitstreamError, UnsupportedStream

CHUNK = 1 << 20
_START3 = b"\x00\x00\x01"


class InputSource:
    """An opened input: ``size`` in bytes, ``kind`` ('annexb' or 'mp4'), ``chunks()``."""

    def __init__(self, path: str, kind: str, size: int, data: bytes | None = None) -> None:
        self.path = path
        self.kind = kind
        self.size = size
        self._data = data
        self._file = open(path, "rb") if data is None else None

    def chunks(self) -> Iterator[bytes]:
        """Annex B data in pieces (chunk boundaries may fall anywhere)."""
        if self._data is not None:
            for i in range(0, len(self._data), CHUNK):
                yield self._data[i : i + CHUNK]
            return
        assert self._file is not None
        while True:
            b = self._file.read(CHUNK)
            if not b:
                return
            yield b

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

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


def open_input(path: str | os.PathLike[str]) -> InputSource:
    """Open an H.264 input; raises FileNotFoundError/PermissionError/BitstreamError.

    Annex B streams are read incrementally; MP4/MOV files are read whole (the sample tables
    may come after the media data).
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(64)
    if not head:
        raise BitstreamError("empty file")
    if _looks_like_mp4(head):
        with open(path, "rb") as f:
            annexb = mp4_to_annexb(f.read())
        return InputSource(path, "mp4", size, annexb)
    if _looks_like_annexb(head):
        return InputSource(path, "annexb", size)
    raise BitstreamError(
        "not an H.264 Annex B byte stream (no start code at the beginning) nor an MP4/MOV file "
        f"(first bytes: {head[:8].hex(' ')})"
    )
