"""The codec plug-in interface of the emulated stateless decoder.

The emulated device (``pyv4l2req.emulated.device``) implements the V4L2 core, the request API
and the mem2mem job scheduling; everything codec specific comes from a :class:`CodecModel`:
which formats and controls the driver exposes, which reference pictures a request needs, and
how a picture is decoded into a CAPTURE buffer. ``emulated/h264_model.py`` and
``emulated/fwht_model.py`` implement it (docs/internals.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["ControlSpec", "CaptureView", "DecodeJob", "CodecModel"]


@dataclass(frozen=True)
class ControlSpec:
    """One control the emulated driver exposes (what VIDIOC_QUERY_EXT_CTRL reports).

    ``type`` is a ``V4L2_CTRL_TYPE_*`` value. For compound controls ``elem_size`` is the size
    of the C struct and ``default`` its default payload (``bytes``, zero-filled when shorter);
    for integer / menu controls ``default`` is an ``int``. ``dims`` is empty for scalars and
    single structs (the kernel reports ``nr_of_dims = 0``). ``menu`` maps the menu index to its
    name for ``V4L2_CTRL_TYPE_MENU`` (indices absent from the dict are skipped by QUERYMENU, like
    ``menu_skip_mask``). ``flags`` are ``V4L2_CTRL_FLAG_*`` (``HAS_PAYLOAD`` is added by the
    device for compound types).
    """

    id: int
    name: str
    type: int
    elem_size: int = 4
    dims: tuple[int, ...] = ()
    minimum: int = 0
    maximum: int = 0
    step: int = 1
    default: int | bytes = 0
    flags: int = 0
    menu: dict[int, str] = field(default_factory=dict)

    @property
    def elems(self) -> int:
        """Number of elements (product of ``dims``, 1 for a scalar / single struct)."""
        n = 1
        for d in self.dims:
            n *= d
        return n

    @property
    def is_compound(self) -> bool:
        """True for payload controls (type >= V4L2_CTRL_COMPOUND_TYPES or an array)."""
        return self.type >= 0x0100 or bool(self.dims)

    @property
    def size(self) -> int:
        """Payload size in bytes of the whole control (``elem_size * elems``)."""
        return self.elem_size * self.elems

    def default_payload(self) -> bytes:
        """Default value of a compound control as bytes of length :attr:`size`."""
        d = self.default if isinstance(self.default, bytes) else b""
        d = d[: self.size]
        return d + bytes(self.size - len(d))


@dataclass
class CaptureView:
    """A CAPTURE buffer as the codec model sees it.

    ``planes`` are writable memoryviews of the buffer memory (one per memory plane: one for
    the contiguous formats NV12/YUV420), ``bytesperline`` and ``sizeimage`` per plane as
    negotiated with S_FMT, ``pixelformat`` the CAPTURE fourcc, ``width``/``height`` the coded
    size, ``timestamp_ns`` the timestamp of the picture it holds (0 when none yet).
    """

    planes: list[memoryview]
    width: int
    height: int
    bytesperline: list[int]
    pixelformat: int
    sizeimage: list[int] = field(default_factory=list)
    timestamp_ns: int = 0
    index: int = -1


@dataclass
class DecodeJob:
    """One m2m job: an OUTPUT request decoded into a CAPTURE buffer."""

    ctrls: dict[int, bytes]        # control values of the request (merged over the current ones)
    bitstream: bytes               # OUTPUT payload (bytesused bytes of plane 0)
    timestamp_ns: int              # v4l2_timeval_to_ns of the OUTPUT buffer
    capture: CaptureView           # destination
    refs: dict[int, CaptureView]   # reference timestamp -> its decoded CAPTURE buffer
    holds_capture: bool = False    # V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF was set on the OUTPUT buffer


@runtime_checkable
class CodecModel(Protocol):
    """What the emulated device needs from a codec.

    Integer / menu control values are passed in ``ctrls`` as little-endian bytes of their
    C size (4 bytes for INTEGER/MENU/BOOLEAN, 8 for INTEGER64) like compound payloads.

    Optional attributes the device uses when present (else its defaults):
    ``frmsize = (min_w, max_w, step_w, min_h, max_h, step_h)`` for ENUM_FRAMESIZES and the
    size clamping of TRY/S_FMT (default: visl's H.264 64..4096 x 64..2304 step 1 on
    /dev/video0, vicodec's 640..4096 x 360..2160 step 8 on /dev/video1), and
    ``capture_layout(fourcc, width, height) -> (bytesperline, sizeimage)`` for the CAPTURE
    format (default: ``v4l2_fill_pixfmt_mp`` arithmetic, ``buffers.fill_pixfmt``).
    ``try_control(cid, payload, capture_fourcc, capture_width, capture_height) -> str | None``:
    the driver's ``try_ctrl`` op, called at VIDIOC_S/TRY_EXT_CTRLS for each compound control
    that passed the standard validation; a returned reason fails the ioctl with EINVAL.
    """

    name: str                          # "h264" | "fwht"
    output_fourcc: int                 # V4L2_PIX_FMT_H264_SLICE | V4L2_PIX_FMT_FWHT_STATELESS
    capture_fourccs: tuple[int, ...]   # the CAPTURE formats ENUM_FMT lists, preferred first
    controls: list[ControlSpec]        # what the driver exposes
    required_controls: tuple[int, ...]  # missing in a request -> MEDIA_REQUEST_IOC_QUEUE ENOENT

    def reset(self, width: int, height: int, capture_fourcc: int) -> None:
        """Start of a stream (CAPTURE STREAMON): forget any state."""
        ...

    def references(self, ctrls: dict[int, bytes]) -> list[int]:
        """Timestamps (ns) of the pictures this request references; each must resolve."""
        ...

    def decode(self, job: DecodeJob) -> bool:
        """Decode into ``job.capture``; False marks the buffer V4L2_BUF_FLAG_ERROR."""
        ...
