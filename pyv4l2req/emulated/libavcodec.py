"""ctypes binding to FFmpeg's H.264 software decoder, capturing pictures in DECODE order.

The emulated stateless device decodes like hardware: one picture (frame or field) per job, its
pixels in the CAPTURE buffer when the job completes. FFmpeg hands out pictures in display order
only, so :class:`FFmpegH264Decoder` hooks ``AVCodecContext.get_buffer2`` to learn which buffer
every picture is decoded into and copies the pixels out right after the packet holding the
picture's last slice was sent (with ``threads=1`` the picture is complete at that point; a second
field is decoded into the buffer of its first field).

The libraries are the ones PyAV bundles (``site-packages/av.libs``), falling back to the
system's ``libavcodec.so.*``. ABI use is kept minimal and checked:

- options through ``av_opt_set``/``av_opt_set_int`` (``threads``, ``thread_type``, ``flags``),
  never struct offsets;
- ``get_buffer2`` located by scanning the fresh context for the address of the exported
  ``avcodec_default_get_buffer2``;
- of ``AVFrame`` only ``data[8]`` (offset 0), ``linesize[8]`` (64), ``width``/``height`` (104,
  108) and ``format`` (116), unchanged since FFmpeg 1.x; of ``AVBufferRef`` only ``data`` (8);
- packets made with ``av_packet_from_data`` (no ``AVPacket`` offsets).

Decoder settings are those that reproduce the conformance md5s: no threading, the
``unaligned`` flag (exact crop). Checked with PyAV 18.1's libavcodec 62 (FFmpeg 8) and Debian
12's libavcodec 59 (FFmpeg 5.1): tests/emulated/test_h264_pixels.py.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.util
import os
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FFmpegError",
    "DecodedPicture",
    "OutputRecord",
    "FFmpegH264Decoder",
    "load_libraries",
]

AV_PIX_FMT_YUV420P = 0
AV_PIX_FMT_YUVJ420P = 12
AV_PIX_FMT_GRAY8 = 8
_AVERROR_EAGAIN = -11
_AVERROR_EOF = -0x20464F45  # -MKTAG('E','O','F',' ')
_AV_INPUT_BUFFER_PADDING_SIZE = 64
_AV_CODEC_FLAG_UNALIGNED = 1 << 0

# AVFrame offsets (see module docstring)
_FRAME_DATA = 0
_FRAME_LINESIZE = 64
_FRAME_WIDTH = 104
_FRAME_HEIGHT = 108
_FRAME_FORMAT = 116
_BUFREF_DATA = 8


class FFmpegError(RuntimeError):
    """A libavcodec call failed; ``code`` is the negative AVERROR, ``call`` the function."""

    def __init__(self, call: str, code: int, detail: str = ""):
        self.call = call
        self.code = code
        super().__init__(f"{call} failed: AVERROR {code} ({_av_err2str(code)}){detail}")


_libs: tuple[ctypes.CDLL, ctypes.CDLL] | None = None


def _candidates() -> list[tuple[str, str]]:
    out = []
    spec = importlib.util.find_spec("av")
    if spec is not None and spec.origin:
        libdir = os.path.join(os.path.dirname(os.path.dirname(spec.origin)), "av.libs")
        codecs = sorted(glob.glob(os.path.join(libdir, "libavcodec-*.so*")))
        utils = sorted(glob.glob(os.path.join(libdir, "libavutil-*.so*")))
        if codecs and utils:
            out.append((utils[0], codecs[0]))
    c, u = ctypes.util.find_library("avcodec"), ctypes.util.find_library("avutil")
    if c and u:
        out.append((u, c))
    return out


def load_libraries() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    """Load (libavutil, libavcodec): PyAV's bundled copies, else the system's."""
    global _libs
    if _libs is not None:
        return _libs
    errors = []
    for util_path, codec_path in _candidates():
        try:
            util = ctypes.CDLL(util_path)
            codec = ctypes.CDLL(codec_path)
        except OSError as e:  # pragma: no cover - depends on the machine
            errors.append(str(e))
            continue
        _declare(util, codec)
        _libs = (util, codec)
        return _libs
    raise OSError("no usable libavcodec/libavutil found (PyAV's av.libs or the system's): "
                  + "; ".join(errors))


_GET_BUFFER2 = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)


def _declare(util: ctypes.CDLL, codec: ctypes.CDLL) -> None:
    vp, ci, cc = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    sigs = [
        (util, "av_malloc", vp, [ctypes.c_size_t]),
        (util, "av_free", None, [vp]),
        (util, "av_frame_alloc", vp, []),
        (util, "av_frame_free", None, [ctypes.POINTER(vp)]),
        (util, "av_frame_unref", None, [vp]),
        (util, "av_frame_get_plane_buffer", vp, [vp, ci]),
        (util, "av_buffer_ref", vp, [vp]),
        (util, "av_buffer_unref", None, [ctypes.POINTER(vp)]),
        (util, "av_opt_set", ci, [vp, cc, cc, ci]),
        (util, "av_opt_set_int", ci, [vp, cc, ctypes.c_int64, ci]),
        (util, "av_strerror", ci, [ci, cc, ctypes.c_size_t]),
        (codec, "avcodec_find_decoder_by_name", vp, [cc]),
        (codec, "avcodec_alloc_context3", vp, [vp]),
        (codec, "avcodec_free_context", None, [ctypes.POINTER(vp)]),
        (codec, "avcodec_open2", ci, [vp, vp, vp]),
        (codec, "avcodec_send_packet", ci, [vp, vp]),
        (codec, "avcodec_receive_frame", ci, [vp, vp]),
        (codec, "avcodec_flush_buffers", None, [vp]),
        (codec, "av_packet_alloc", vp, []),
        (codec, "av_packet_free", None, [ctypes.POINTER(vp)]),
        (codec, "av_packet_from_data", ci, [vp, vp, ci]),
        (codec, "av_packet_unref", None, [vp]),
        (codec, "avcodec_default_get_buffer2", ci, [vp, vp, ci]),
    ]
    for lib, name, res, args in sigs:
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def _av_err2str(code: int) -> str:
    try:
        util, _ = load_libraries()
    except OSError:
        return "?"
    buf = ctypes.create_string_buffer(128)
    util.av_strerror(code, buf, 128)
    return buf.value.decode(errors="replace")


def _i32(addr: int) -> int:
    return ctypes.c_int32.from_address(addr).value


def _ptr(addr: int) -> int:
    return ctypes.c_void_p.from_address(addr).value or 0


@dataclass
class DecodedPicture:
    """The pixels of one decoded frame buffer (coded size, not cropped), copied out of FFmpeg.

    ``y`` is (height, width), ``u``/``v`` (height/2, width/2) uint8 arrays; ``buffer_key``
    identifies the FFmpeg buffer (its luma address) while FFmpeg uses it; ``pic_id`` counts the
    pictures allocated by this decoder (a second field shares the id of its first field).
    """

    width: int
    height: int
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    buffer_key: int
    pic_id: int


@dataclass
class OutputRecord:
    """A picture FFmpeg output (display order): which buffer, visible size and crop offset."""

    buffer_key: int
    width: int
    height: int
    crop_left: int
    crop_top: int


class _Allocated:
    """A picture FFmpeg allocated through get_buffer2, with our own refs on its planes."""

    __slots__ = ("refs", "data", "linesize", "width", "height", "format", "pic_id")

    def __init__(self, frame: int, util: ctypes.CDLL, pic_id: int):
        self.data = [_ptr(frame + _FRAME_DATA + 8 * i) for i in range(3)]
        self.linesize = [_i32(frame + _FRAME_LINESIZE + 4 * i) for i in range(3)]
        self.width = _i32(frame + _FRAME_WIDTH)
        self.height = _i32(frame + _FRAME_HEIGHT)
        self.format = _i32(frame + _FRAME_FORMAT)
        self.pic_id = pic_id
        self.refs: list[int] = []
        for i in range(3):
            plane = util.av_frame_get_plane_buffer(frame, i)
            if plane:
                ref = util.av_buffer_ref(plane)
                if not ref:
                    raise MemoryError("av_buffer_ref failed")
                self.refs.append(ref)

    def release(self, util: ctypes.CDLL) -> None:
        for ref in self.refs:
            p = ctypes.c_void_p(ref)
            util.av_buffer_unref(ctypes.byref(p))
        self.refs = []


def _plane(addr: int, linesize: int, width: int, rows: int) -> np.ndarray:
    if addr == 0 or linesize < width:
        raise FFmpegError("get_buffer2", -22, f": unexpected plane layout (linesize {linesize})")
    raw = (ctypes.c_uint8 * (linesize * (rows - 1) + width)).from_address(addr)
    flat = np.frombuffer(raw, dtype=np.uint8)
    return np.lib.stride_tricks.as_strided(flat, (rows, width), (linesize, 1)).copy()


class FFmpegH264Decoder:
    """FFmpeg's h264 decoder (threads=1, no threading, flags +unaligned) in decode order.

    ``decode(data)`` sends one packet: Annex B NAL units making up exactly one picture (frame,
    or one field), parameter sets in front when they changed; it returns the
    :class:`DecodedPicture` of the frame buffer the picture was decoded into (for a second
    field: the whole frame with both fields). Output frames are drained and dropped; with
    ``log_output=True`` each is recorded in :attr:`outputs` (display order) for checks.
    ``strict=True`` sets ``strict_std_compliance`` to strict, so that FFmpeg reorders with the
    full DPB size when the SPS lacks bitstream_restriction (without it FFmpeg guesses the
    reorder depth and drops pictures that come out late; decode-order capture is unaffected).
    ``chunks=True`` sets ``AV_CODEC_FLAG2_CHUNKS``: a packet may hold only some slices of a
    picture (slice-based decoding); the picture is finished when its last macroblock row was
    decoded, and ``decode`` returns the buffer as decoded so far. ``explode=True`` sets
    ``err_detect +explode`` while not in chunks mode: a damaged slice makes ``decode`` raise
    instead of being concealed.
    """

    def __init__(self, *, log_output: bool = False, strict: bool = False, chunks: bool = False,
                 explode: bool = False):
        self._util, self._codec = load_libraries()
        self._explode = explode
        self._strict = strict
        self._chunks = chunks
        self.log_output = log_output
        self.outputs: list[OutputRecord] = []
        self._ctx = ctypes.c_void_p()
        self._frame = ctypes.c_void_p()
        self._pkt = ctypes.c_void_p()
        self._new: list[_Allocated] = []
        self._current: _Allocated | None = None
        self._pic_count = 0
        self._callback_error: BaseException | None = None
        self.end_picture_status: int | None = None  # what FFmpeg returned for end_picture()
        self._cb = _GET_BUFFER2(self._get_buffer2)
        self._open()

    # -- setup / teardown -------------------------------------------------------------------
    def _open(self) -> None:
        util, codec = self._util, self._codec
        dec = codec.avcodec_find_decoder_by_name(b"h264")
        if not dec:
            raise FFmpegError("avcodec_find_decoder_by_name", -1, ": no h264 decoder")
        ctx = codec.avcodec_alloc_context3(dec)
        if not ctx:
            raise MemoryError("avcodec_alloc_context3")
        self._ctx = ctypes.c_void_p(ctx)
        try:
            # log_level_offset +40: FFmpeg's messages of this context (concealment notes of a
            # slice-by-slice picture, errors we report through return values) drop below
            # AV_LOG_TRACE and stay off the user's terminal; other FFmpeg users are unaffected.
            for name, value in ((b"threads", 1), (b"thread_type", 0), (b"log_level_offset", 40)):
                r = util.av_opt_set_int(ctx, name, value, 0)
                if r < 0:
                    raise FFmpegError(f"av_opt_set_int({name.decode()})", r)
            r = util.av_opt_set(ctx, b"flags", b"+unaligned", 0)
            if r < 0:
                raise FFmpegError("av_opt_set(flags)", r)
            if self._chunks:  # a picture may span packets: one slice per packet is fine
                r = util.av_opt_set(ctx, b"flags2", b"+chunks", 0)
                if r < 0:
                    raise FFmpegError("av_opt_set(flags2)", r)
            if self._explode and not self._chunks:  # errors fail send_packet, no concealment
                r = util.av_opt_set(ctx, b"err_detect", b"+explode", 0)
                if r < 0:
                    raise FFmpegError("av_opt_set(err_detect)", r)
            if self._strict:  # reorder with the full DPB: no pictures dropped from the output
                r = util.av_opt_set(ctx, b"strict", b"strict", 0)
                if r < 0:
                    raise FFmpegError("av_opt_set(strict)", r)
            self._hook_get_buffer2(ctx)
            r = codec.avcodec_open2(ctx, dec, None)
            if r < 0:
                raise FFmpegError("avcodec_open2", r)
            self._frame = ctypes.c_void_p(util.av_frame_alloc())
            self._pkt = ctypes.c_void_p(codec.av_packet_alloc())
            if not self._frame or not self._pkt:
                raise MemoryError("av_frame_alloc/av_packet_alloc")
        except BaseException:
            self.close()
            raise

    def _hook_get_buffer2(self, ctx: int) -> None:
        default = ctypes.cast(self._codec.avcodec_default_get_buffer2, ctypes.c_void_p).value
        for off in range(0, 4096, 8):
            if _ptr(ctx + off) == default:
                ctypes.c_void_p.from_address(ctx + off).value = ctypes.cast(
                    self._cb, ctypes.c_void_p).value
                self.get_buffer2_offset = off
                return
        raise FFmpegError("get_buffer2 hook", -1,
                          ": avcodec_default_get_buffer2 not found in AVCodecContext")

    def close(self) -> None:
        """Free the context, frame, packet and every buffer reference we hold (idempotent)."""
        for pic in self._new:
            pic.release(self._util)
        self._new = []
        if self._current is not None:
            self._current.release(self._util)
            self._current = None
        if self._frame:
            self._util.av_frame_free(ctypes.byref(self._frame))
        if self._pkt:
            self._codec.av_packet_free(ctypes.byref(self._pkt))
        if self._ctx:
            self._codec.avcodec_free_context(ctypes.byref(self._ctx))

    def __enter__(self) -> "FFmpegH264Decoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    # -- the hook ---------------------------------------------------------------------------
    def _get_buffer2(self, avctx: int, frame: int, flags: int) -> int:
        # Called by FFmpeg on this thread (threads=1) from inside avcodec_send_packet; ctypes
        # holds the GIL for us here. Never let an exception escape into C.
        try:
            r = self._codec.avcodec_default_get_buffer2(avctx, frame, flags)
            if r < 0:
                return r
            self._pic_count += 1
            self._new.append(_Allocated(frame, self._util, self._pic_count))
            return 0
        except BaseException as e:  # pragma: no cover - defensive
            self._callback_error = e
            return -12  # AVERROR(ENOMEM)

    # -- decoding ---------------------------------------------------------------------------
    def _send(self, data: bytes | None) -> int:
        codec = self._codec
        if data is None:
            return codec.avcodec_send_packet(self._ctx, None)
        n = len(data)
        buf = self._util.av_malloc(n + _AV_INPUT_BUFFER_PADDING_SIZE)
        if not buf:
            raise MemoryError("av_malloc")
        ctypes.memmove(buf, data, n)
        ctypes.memset(buf + n, 0, _AV_INPUT_BUFFER_PADDING_SIZE)
        r = codec.av_packet_from_data(self._pkt, buf, n)
        if r < 0:
            self._util.av_free(buf)
            raise FFmpegError("av_packet_from_data", r)
        try:
            return codec.avcodec_send_packet(self._ctx, self._pkt)
        finally:
            codec.av_packet_unref(self._pkt)

    def _drain(self) -> None:
        codec, util, frame = self._codec, self._util, self._frame
        while True:
            r = codec.avcodec_receive_frame(self._ctx, frame)
            if r == _AVERROR_EAGAIN or r == _AVERROR_EOF:
                return
            if r < 0:
                raise FFmpegError("avcodec_receive_frame", r)
            if self.log_output:
                self._record_output(frame.value)
            util.av_frame_unref(frame)

    def _record_output(self, frame: int) -> None:
        plane = self._util.av_frame_get_plane_buffer(frame, 0)
        start = _ptr(plane + _BUFREF_DATA) if plane else 0
        d0 = _ptr(frame + _FRAME_DATA)
        ls = _i32(frame + _FRAME_LINESIZE)
        # the luma buffer starts at the picture's data[0] as get_buffer2 returned it
        off = d0 - start
        self.outputs.append(OutputRecord(start, _i32(frame + _FRAME_WIDTH),
                                         _i32(frame + _FRAME_HEIGHT), off % ls, off // ls))

    def set_chunks(self, chunks: bool) -> None:
        """Switch ``AV_CODEC_FLAG2_CHUNKS`` on an open decoder (h264dec reads it per packet).

        ``err_detect +explode`` (when requested) applies to normal mode only: with slices sent
        one per packet it changes the decoded pixels of multi-slice pictures (measured on
        BA1_FT_C), so it is switched off together with chunks on.
        """
        if chunks != self._chunks:
            util = self._util
            r = util.av_opt_set(self._ctx, b"flags2", b"+chunks" if chunks else b"-chunks", 0)
            if r >= 0 and self._explode:
                r = util.av_opt_set(self._ctx, b"err_detect",
                                    b"-explode" if chunks else b"+explode", 0)
            if r < 0:
                raise FFmpegError("av_opt_set(flags2/err_detect)", r)
            self._chunks = chunks

    def end_picture(self) -> None:
        """Forget a picture left unfinished (missing or damaged slices in chunks mode).

        In chunks mode FFmpeg keeps collecting slices until a picture's last macroblock row was
        decoded; a picture that never gets there would make it reject every later slice
        ("Frame num change"). A packet without slices sent in normal mode resets that state
        (h264dec's decode_nal_units); it starts with h264dec's "Q264" marker, which makes the
        decoder accept a packet without a picture silently. A first field stays, so its second
        field still pairs with it.
        """
        chunks = self._chunks
        self.set_chunks(False)
        try:
            r = self._send(b"Q264\x00\x00\x00\x01\x09\x10")  # marker + access unit delimiter
            self.end_picture_status = r
            self._drain_quietly()
        finally:
            self.set_chunks(chunks)
            self._new, new = [], self._new
            for pic in new:
                pic.release(self._util)

    def decode(self, data: bytes) -> DecodedPicture:
        """Decode one picture's packet and return its frame buffer's pixels (coded size).

        Raises :class:`FFmpegError` when FFmpeg rejects the packet or when no picture was ever
        allocated (nothing decodable).
        """
        r = self._send(data)
        if r == _AVERROR_EAGAIN:  # an output frame is pending (not consumed): drain, resend
            self._adopt_new()
            self._drain()
            r = self._send(data)
        self._adopt_new()
        if r < 0:
            self._drain_quietly()
            raise FFmpegError("avcodec_send_packet", r)
        pic = self._current
        if pic is None:
            raise FFmpegError("avcodec_send_packet", -1094995529, ": no picture decoded")
        out = self._copy(pic)
        self._drain()
        return out

    def _adopt_new(self) -> None:
        """Keep the last picture get_buffer2 allocated during the last send (ours to copy)."""
        err = self._callback_error
        self._callback_error = None
        new, self._new = self._new, []
        # pictures allocated for frame_num gaps come first; the last one is this picture
        for pic in new[:-1]:
            pic.release(self._util)
        if new:
            if self._current is not None:
                self._current.release(self._util)
            self._current = new[-1]
        if err is not None:
            raise FFmpegError("get_buffer2", -12, f": {err!r}")

    def _drain_quietly(self) -> None:
        try:
            self._drain()
        except FFmpegError:
            pass

    def _copy(self, pic: _Allocated) -> DecodedPicture:
        if pic.format not in (AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P):
            raise FFmpegError("get_buffer2", -1163346256,  # AVERROR_PATCHWELCOME
                              f": pixel format {pic.format} (only 8-bit 4:2:0 is emulated)")
        w, h = pic.width, pic.height
        y = _plane(pic.data[0], pic.linesize[0], w, h)
        u = _plane(pic.data[1], pic.linesize[1], (w + 1) // 2, (h + 1) // 2)
        v = _plane(pic.data[2], pic.linesize[2], (w + 1) // 2, (h + 1) // 2)
        return DecodedPicture(w, h, y, u, v, pic.data[0], pic.pic_id)

    def flush(self) -> None:
        """End of stream: drain every pending output, then reset for a new stream."""
        r = self._send(None)
        if r < 0 and r != _AVERROR_EOF:
            raise FFmpegError("avcodec_send_packet(NULL)", r)
        self._drain()
        self._codec.avcodec_flush_buffers(self._ctx)
        if self._current is not None:
            self._current.release(self._util)
            self._current = None
