"""The FWHT codec model of the emulated stateless decoder (behaves like vicodec's stateless decoder).

``FwhtModel`` plugs into the emulated device (``CodecModel``, docs/internals.md §2): OUTPUT
``V4L2_PIX_FMT_FWHT_STATELESS`` (the compressed planes of one frame, no header), the one
required control ``V4L2_CID_STATELESS_FWHT_PARAMS``, CAPTURE raw frames written by our numpy
FWHT decoder (``fwht_codec.py``). A P-frame (no ``V4L2_FWHT_FL_I_FRAME``) reads the CAPTURE
buffer whose timestamp is ``backward_ref_ts``; an I-frame reads none. The checks vicodec makes
(``vicodec_try_ctrl``, ``v4l2_fwht_decode``) make the job fail (CAPTURE buffer flagged ERROR);
the kernel refuses a bad FWHT_PARAMS already at VIDIOC_S_EXT_CTRLS, which this interface cannot.
"""

from __future__ import annotations

from ..errors import BitstreamError
from ..uapi import controls as _cid
from ..uapi import videodev2 as _v
from ..uapi.fwht import (
    V4L2_FWHT_FL_CHROMA_FULL_HEIGHT,
    V4L2_FWHT_FL_CHROMA_FULL_WIDTH,
    V4L2_FWHT_FL_COMPONENTS_NUM_MSK,
    V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET,
    V4L2_FWHT_FL_I_FRAME,
    V4L2_FWHT_FL_PIXENC_MSK,
    V4L2_FWHT_FL_PIXENC_YUV,
    V4L2_FWHT_VERSION,
    pack,
    unpack,
    v4l2_ctrl_fwht_params,
)
from .codec_model import CaptureView, ControlSpec, DecodeJob
from .fwht_codec import PIXFMTS, decode_frame, frame_views

__all__ = ["FwhtModel", "MIN_WIDTH", "MIN_HEIGHT", "MAX_WIDTH", "MAX_HEIGHT"]

# vicodec-core.c limits
MIN_WIDTH, MAX_WIDTH = 640, 4096
MIN_HEIGHT, MAX_HEIGHT = 360, 2160

V4L2_CID_MPEG_VIDEO_GOP_SIZE = _cid.V4L2_CID_CODEC_BASE + 203
V4L2_CID_FWHT_I_FRAME_QP = _cid.V4L2_CID_CODEC_BASE + 290
V4L2_CID_FWHT_P_FRAME_QP = _cid.V4L2_CID_CODEC_BASE + 291

_DEFAULT_PARAMS = pack(v4l2_ctrl_fwht_params, {
    "version": V4L2_FWHT_VERSION, "width": 1280, "height": 720,
    "flags": V4L2_FWHT_FL_PIXENC_YUV | (2 << V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET),
})  # std_init_compound's default for V4L2_CTRL_TYPE_FWHT_PARAMS


class FwhtModel:
    """vicodec's stateless FWHT decoder as a :class:`CodecModel`."""

    name = "fwht"
    output_fourcc = _v.V4L2_PIX_FMT_FWHT_STATELESS
    #: the 4:2:0 formats first (what a YUV 4:2:0 stream decodes to), YUV420 preferred
    capture_fourccs: tuple[int, ...] = (
        _v.V4L2_PIX_FMT_YUV420,
        _v.v4l2_fourcc("Y", "V", "1", "2"),
        _v.v4l2_fourcc("N", "V", "1", "2"),
        _v.v4l2_fourcc("N", "V", "2", "1"),
    )
    required_controls = (_cid.V4L2_CID_STATELESS_FWHT_PARAMS,)

    def __init__(self) -> None:
        self.controls: list[ControlSpec] = [
            ControlSpec(V4L2_CID_MPEG_VIDEO_GOP_SIZE, "Video GOP Size", _v.V4L2_CTRL_TYPE_INTEGER,
                        minimum=1, maximum=16, default=10),
            ControlSpec(V4L2_CID_FWHT_I_FRAME_QP, "FWHT I-Frame QP Value", _v.V4L2_CTRL_TYPE_INTEGER,
                        minimum=1, maximum=31, default=20),
            ControlSpec(V4L2_CID_FWHT_P_FRAME_QP, "FWHT P-Frame QP Value", _v.V4L2_CTRL_TYPE_INTEGER,
                        minimum=1, maximum=31, default=20),
            ControlSpec(_cid.V4L2_CID_STATELESS_FWHT_PARAMS, "FWHT Stateless Parameters",
                        _v.V4L2_CTRL_TYPE_FWHT_PARAMS, elem_size=v4l2_ctrl_fwht_params.sizeof(),
                        default=_DEFAULT_PARAMS),
        ]
        self.width = 0
        self.height = 0
        self.capture_fourcc = _v.V4L2_PIX_FMT_YUV420
        self.last_error: str | None = None

    def capture_layout(self, fourcc: int, width: int, height: int) -> tuple[int, int]:
        """(bytesperline, sizeimage) of a CAPTURE format as vicodec computes them: one memory
        plane, ``bytesperline = width`` for the planar and semi-planar formats, and
        ``sizeimage = width * height * sizeimage_mult / sizeimage_div`` (3/2 for 4:2:0)."""
        info = PIXFMTS.get(fourcc, PIXFMTS[_v.V4L2_PIX_FMT_YUV420])
        size = width * height
        if info.components_num >= 3:
            size += 2 * (width * height // (info.width_div * info.height_div))
        return width, size

    # -- CodecModel ------------------------------------------------------------------------
    def reset(self, width: int, height: int, capture_fourcc: int) -> None:
        self.width, self.height, self.capture_fourcc = width, height, capture_fourcc
        self.last_error = None

    def _params(self, ctrls: dict[int, bytes]) -> dict:
        data = ctrls.get(_cid.V4L2_CID_STATELESS_FWHT_PARAMS, _DEFAULT_PARAMS)
        return unpack(v4l2_ctrl_fwht_params, bytes(data))

    def references(self, ctrls: dict[int, bytes]) -> list[int]:
        p = self._params(ctrls)
        return [] if p["flags"] & V4L2_FWHT_FL_I_FRAME else [int(p["backward_ref_ts"])]

    def try_control(self, cid: int, payload: bytes, capture_fourcc: int, capture_width: int,
                    capture_height: int) -> str | None:
        """``vicodec_try_ctrl``: why VIDIOC_S/TRY_EXT_CTRLS must fail with EINVAL for this value
        given the current CAPTURE format, or None. (A hook for the emulated device.)"""
        if cid != _cid.V4L2_CID_STATELESS_FWHT_PARAMS:
            return None
        return self.check_params(unpack(v4l2_ctrl_fwht_params, bytes(payload)),
                                 CaptureView([], capture_width, capture_height, [capture_width], capture_fourcc))

    def check_params(self, p: dict, capture: CaptureView) -> str | None:
        """Why vicodec would refuse these params for this CAPTURE format (None if it accepts)."""
        info = PIXFMTS.get(capture.pixelformat)
        if info is None:
            return f"CAPTURE format {capture.pixelformat:#010x} is not supported"
        if not (MIN_WIDTH <= p["width"] <= capture.width and MIN_HEIGHT <= p["height"] <= capture.height):
            return (f"FWHT_PARAMS.width/height {p['width']}x{p['height']} outside "
                    f"{MIN_WIDTH}x{MIN_HEIGHT}..{capture.width}x{capture.height}")
        if p["version"] < 3 or p["version"] > V4L2_FWHT_VERSION:
            return f"FWHT_PARAMS.version {p['version']} (stateless needs {V4L2_FWHT_VERSION})"
        comps = 1 + ((p["flags"] & V4L2_FWHT_FL_COMPONENTS_NUM_MSK) >> V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET)
        pixenc = p["flags"] & V4L2_FWHT_FL_PIXENC_MSK
        wdiv = 1 if p["flags"] & V4L2_FWHT_FL_CHROMA_FULL_WIDTH else 2
        hdiv = 1 if p["flags"] & V4L2_FWHT_FL_CHROMA_FULL_HEIGHT else 2
        if comps > 4 or not pixenc:
            return f"FWHT_PARAMS.flags {p['flags']:#x}: bad components_num/pixenc"
        want_pixenc = V4L2_FWHT_FL_PIXENC_YUV if info.components_num == 3 else pixenc
        if (comps != info.components_num or pixenc != want_pixenc
                or (comps >= 3 and (wdiv, hdiv) != (info.width_div, info.height_div))):
            return (f"FWHT_PARAMS.flags {p['flags']:#x} do not match the CAPTURE format "
                    f"{capture.pixelformat:#010x}")
        return None

    def decode(self, job: DecodeJob) -> bool:
        p = self._params(job.ctrls)
        cap = job.capture
        why = self.check_params(p, cap)
        info = PIXFMTS.get(cap.pixelformat)
        if why is None and info is not None:
            size = cap.width * cap.height
            total = size + (2 * size // (info.width_div * info.height_div) if info.components_num >= 3 else 0)
            if len(job.bitstream) > total:
                why = f"OUTPUT payload {len(job.bitstream)} bytes > {total} (comp_max_size)"
        ref_planes = None
        if why is None and not p["flags"] & V4L2_FWHT_FL_I_FRAME:
            ref = job.refs.get(int(p["backward_ref_ts"]))
            if ref is None:
                why = f"FWHT_PARAMS.backward_ref_ts {p['backward_ref_ts']} names no CAPTURE buffer"
            else:
                ref_planes = frame_views(ref.planes[0], ref.pixelformat, ref.bytesperline[0], ref.height)
        if why is not None:
            self.last_error = why
            return False
        stride = cap.bytesperline[0]
        try:
            dst = frame_views(cap.planes[0], cap.pixelformat, stride, cap.height)
            decode_frame(job.bitstream, p["width"], p["height"], p["flags"], dst, ref_planes)
        except BitstreamError as e:
            self.last_error = str(e)
            return False
        self.last_error = None
        return True
