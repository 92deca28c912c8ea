"""``pyv4l2req-decode``: decode an H.264 file through a V4L2 stateless decoder.

Exit codes (also in ``--help``):

====  =====================================================================
0     decoded to the end: also through damage (malformed NAL units skipped, corrupt frames
      and skipped pictures are counted in the summary)
1     decoding stopped on an error; every frame decoded before it was written
2     usage error (bad option)
3     input problem: missing/unreadable file, not H.264 (Annex B or MP4/MOV), or nothing in
      it could be decoded
4     unsupported stream (profile, FMO/ASO, bit depth, ...)
5     no stateless decoder device for H.264
6     permission denied (input, output, or the device)
7     output problem: cannot create or write the output or the --framemd5 file (missing
      directory, no space left, I/O error, ...); the frames written before it stay written
====  =====================================================================
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import time
from typing import BinaryIO

import click

from .errors import BitstreamError, NoDeviceError, PyV4L2ReqError, UnsupportedStream, V4L2Error
from .pipeline.frames import FrameWriter, format_from_extension

EXIT_OK, EXIT_DECODE, EXIT_USAGE, EXIT_INPUT, EXIT_UNSUPPORTED, EXIT_NODEV, EXIT_PERM, EXIT_OUTPUT = range(8)

_EPILOG = """\b
Exit codes: 0 ok (also through damaged input: see the summary); 1 decode error
(frames before it are written); 2 usage; 3 input missing/not H.264/nothing
decodable; 4 unsupported stream; 5 no decoder device;
6 permission denied; 7 cannot write the output.
\b
Examples:
  pyv4l2req-decode clip.h264 -o out.nv12
  pyv4l2req-decode movie.mp4 -o out.y4m --device /dev/video1
  pyv4l2req-decode clip.264 -o out.yuv --format i420 --framemd5 frames.md5
"""


def _fail(code: int, message: str) -> "click.exceptions.Exit":
    click.echo(f"pyv4l2req-decode: error: {message}", err=True)
    return click.exceptions.Exit(code)


@click.command(epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, allow_dash=True, path_type=str))
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Output file ('-' for stdout). Omit to decode without writing (e.g. with --framemd5).")
@click.option("--format", "fmt", type=click.Choice(["nv12", "i420", "y4m"]),
              help="Output layout; default from the output extension (.nv12, .yuv/.i420, .y4m), else nv12.")
@click.option("--device", default="auto", show_default=True,
              help="'auto' (first hardware stateless H.264 decoder, else the emulated one), 'emulated', or a /dev/videoN path.")
@click.option("--frames", "max_frames", type=click.IntRange(min=1), help="Stop after N output frames.")
@click.option("--framemd5", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write FFmpeg's framemd5 format: one md5 per output frame of the cropped picture in "
                   "the output layout (nv12, or yuv420p for i420/y4m); compare with "
                   "'ffmpeg -flags unaligned -i INPUT -pix_fmt yuv420p -fflags +bitexact -f framemd5 -'.")
@click.option("--decode-mode", type=click.Choice(["auto", "frame", "slice"]), default="auto", show_default=True,
              help="V4L2 decode mode (auto: what the device reports, frame-based preferred).")
@click.option("-q", "--quiet", is_flag=True, help="No progress line or notices; errors only.")
def main(input_path: str, output: str | None, fmt: str | None, device: str, max_frames: int | None,
         framemd5: str | None, decode_mode: str, quiet: bool) -> None:
    """Decode an H.264 stream (Annex B .h264/.264/.jsv or MP4/MOV) to raw frames in display order.

    INPUT may be a file, a pipe or FIFO, or '-' for standard input."""
    from .pipeline.decoder import Decoder, open_input  # deferred: keeps --help fast

    if fmt is None:
        fmt = (format_from_extension(output) if output and output != "-" else None) or "nv12"
    try:
        source = open_input(input_path)
    except FileNotFoundError:
        raise _fail(EXIT_INPUT, f"{input_path}: no such file")
    except PermissionError:
        raise _fail(EXIT_PERM, f"{input_path}: permission denied")
    except IsADirectoryError:
        raise _fail(EXIT_INPUT, f"{input_path}: is a directory")
    except BitstreamError as e:
        raise _fail(EXIT_INPUT, f"{input_path}: {e}")
    except UnsupportedStream as e:
        raise _fail(EXIT_UNSUPPORTED, f"{input_path}: unsupported stream: {e}")
    if not quiet:
        for notice in source.notices:
            click.echo(f"pyv4l2req-decode: note: {input_path}: {notice}", err=True)

    out: BinaryIO | None = None
    md5_out = None
    try:
        if output:
            out = sys.stdout.buffer if output == "-" else open(output, "wb")
        if framemd5:
            md5_out = sys.stdout if framemd5 == "-" else open(framemd5, "w")
    except OSError as e:
        source.close()
        if out is not None and out is not sys.stdout.buffer:
            out.close()
        if isinstance(e, PermissionError):
            raise _fail(EXIT_PERM, f"{e.filename}: permission denied")
        raise _fail(EXIT_OUTPUT, f"{e.filename}: cannot open for writing: {e.strerror}")

    writer = FrameWriter(out, fmt) if out is not None else None
    progress = _Progress(source.size) if not quiet and sys.stderr.isatty() else None
    md5s = _FrameMd5(md5_out) if md5_out is not None else None
    frames = corrupt = 0
    code = EXIT_OK
    t0 = time.perf_counter()
    dec = None
    try:
        dec = Decoder(device=device, decode_mode=decode_mode)
        if not quiet and dec.device_notice:
            click.echo(f"pyv4l2req-decode: {dec.device_notice}", err=True)
        try:
            for frame in dec.decode(source, progress=progress.read if progress else None):
                if writer is not None:
                    data = _writing(output, writer.write, frame)
                else:
                    data = frame.to_bytes("nv12" if fmt == "nv12" else "i420")
                if md5s is not None:
                    _writing(framemd5, md5s.write, frame, data)
                frames += 1
                corrupt += frame.corrupt
                if progress is not None:
                    progress.frame()
                if max_frames is not None and frames >= max_frames:
                    break
        finally:
            if progress is not None:
                progress.end()
    except _OutputError as e:
        code = EXIT_PERM if isinstance(e.__cause__, PermissionError) else EXIT_OUTPUT
        click.echo(f"pyv4l2req-decode: error: {e}", err=True)
    except NoDeviceError as e:
        code = EXIT_NODEV
        click.echo(f"pyv4l2req-decode: error: {e}", err=True)
    except UnsupportedStream as e:
        code = EXIT_UNSUPPORTED
        click.echo(f"pyv4l2req-decode: error: unsupported stream: {e}", err=True)
    except BitstreamError as e:
        code = EXIT_INPUT if frames == 0 else EXIT_DECODE
        click.echo(f"pyv4l2req-decode: error: {input_path}: {e}", err=True)
    except V4L2Error as e:
        code = EXIT_PERM if e.errno in (errno.EACCES, errno.EPERM) else EXIT_DECODE
        click.echo(f"pyv4l2req-decode: error: {e}", err=True)
    except PyV4L2ReqError as e:
        code = EXIT_DECODE
        click.echo(f"pyv4l2req-decode: error: {e}", err=True)
    except KeyboardInterrupt:
        code = EXIT_DECODE
        click.echo("pyv4l2req-decode: interrupted", err=True)
    finally:
        if dec is not None:
            dec.close()
        source.close()
        # closing flushes: a full disk may only show now
        for path, f in ((output, out), (framemd5, md5_out)):
            if f is None:
                continue
            try:
                f.flush() if f in (sys.stdout, sys.stdout.buffer) else f.close()
            except OSError as e:
                if not code:
                    code = EXIT_OUTPUT
                    click.echo(f"pyv4l2req-decode: error: {_OutputError.describe(path, e)}", err=True)
    elapsed = time.perf_counter() - t0
    if not quiet or code:
        fps = frames / elapsed if elapsed > 0 else 0.0
        summary = f"{frames} frames, {fps:.1f} fps, {corrupt} corrupt"
        if dec is not None:
            stats = dec.stats
            for n, one, many in ((stats.nal_units_skipped, "NAL unit", "NAL units"),
                                 (stats.pictures_skipped, "picture", "pictures")):
                if n:  # (undecodable pictures: damaged input, or a start at a non-IDR picture)
                    summary += f", {n} {one if n == 1 else many} skipped (damaged)"
        if dec is not None and dec.device_name:
            summary += f", device {dec.device_name}"
        if code:
            summary += f" (stopped: exit {code})"
        click.echo(f"pyv4l2req-decode: {summary}", err=True)
    if code:
        raise click.exceptions.Exit(code)


class _OutputError(Exception):
    """An OS error writing the output or the md5 file (kept apart from the device's OSErrors)."""

    @staticmethod
    def describe(path: str | None, e: OSError) -> str:
        name = "standard output" if path in (None, "-") else path
        return f"{name}: cannot write: {e.strerror or e}"


def _writing(path: str | None, write, *args):
    try:
        return write(*args)
    except OSError as e:
        raise _OutputError(_OutputError.describe(path, e)) from e


class _FrameMd5:
    """FFmpeg's framemd5 muxer output (version 2, as with ``-fflags +bitexact``: no software
    line): the header at the first frame, then ``stream, dts, pts, duration, size, md5``. The
    time base is one frame at the SPS's VUI frame rate (1/25 without one, as FFmpeg takes for
    raw H.264) and pts counts frames; the sample aspect ratio is the SPS's (0/1 when its VUI
    does not give one)."""

    def __init__(self, out) -> None:
        self.out = out
        self.n = 0

    def write(self, frame, data: bytes) -> None:
        if self.n == 0:
            num, den = frame.frame_rate if frame.frame_rate[0] else (25, 1)
            self.out.write(
                f"#format: frame checksums\n#version: 2\n#hash: MD5\n#tb 0: {den}/{num}\n"
                "#media_type 0: video\n#codec_id 0: rawvideo\n"
                f"#dimensions 0: {frame.width}x{frame.height}\n#sar 0: {frame.sar[0]}/{frame.sar[1]}\n"
                "#stream#, dts,        pts, duration,     size, hash\n")
        self.out.write(f"0, {self.n:10d}, {self.n:10d}, {1:8d}, {len(data):8d}, "
                       f"{hashlib.md5(data).hexdigest()}\n")
        self.n += 1


class _Progress:
    """One status line on a terminal: frames, fps, and the share of the input read with an ETA
    when its size is known; redrawn at most 5 times a second."""

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.read_bytes = 0
        self.frames = 0
        self.t0 = time.perf_counter()
        self.shown = 0.0

    def read(self, n: int) -> None:
        self.read_bytes += n

    def frame(self) -> None:
        self.frames += 1
        now = time.perf_counter()
        if now - self.shown >= 0.2:
            self.shown = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.t0, 1e-9)
        line = f"decoding: {self.frames} frames, {self.frames / elapsed:.1f} fps"
        if self.size:
            done = min(1.0, self.read_bytes / self.size)
            line += f", {100 * done:.0f}%"
            if 0 < done < 1:
                left = elapsed * (1 - done) / done
                line += f", ETA {int(left) // 60}:{int(left) % 60:02d}"
        click.echo(f"\r{line}\x1b[K", err=True, nl=False)

    def end(self) -> None:
        if self.shown:
            click.echo("\r\x1b[K", err=True, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
