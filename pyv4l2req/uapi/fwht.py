"""FWHT (vicodec) stateless control and compressed-frame header, as construct structs.

- ``v4l2_ctrl_fwht_params``: the payload of ``V4L2_CID_STATELESS_FWHT_PARAMS``
  (``include/uapi/linux/v4l2-controls.h``), little-endian like every control struct, with the
  ``V4L2_FWHT_FL_*`` flags and ``V4L2_FWHT_VERSION``.
- ``fwht_cframe_hdr``: the header vicodec writes in front of every compressed frame
  (``drivers/media/test-drivers/vicodec/codec-fwht.h``). Not a kernel ABI struct but a
  bitstream header: all fields are big-endian; ``magic1``/``magic2`` are byte-symmetric.

``pack``/``unpack`` (re-exported from ``packing``) work on both, e.g.
``unpack(fwht_cframe_hdr, frame[:FWHT_CFRAME_HDR_SIZE])["flags"]``.
"""

from __future__ import annotations

from typing import Any

from construct import Int32ub, Int32ul, Int64ul, Struct

from . import controls as _cid
from .packing import fast, pack, register, unpack  # noqa: F401  (pack/unpack: public API here)

# ------------------------------------------------------------------- v4l2-controls.h
V4L2_FWHT_VERSION = 3

V4L2_FWHT_FL_IS_INTERLACED = 1 << 0
V4L2_FWHT_FL_IS_BOTTOM_FIRST = 1 << 1
V4L2_FWHT_FL_IS_ALTERNATE = 1 << 2
V4L2_FWHT_FL_IS_BOTTOM_FIELD = 1 << 3
V4L2_FWHT_FL_LUMA_IS_UNCOMPRESSED = 1 << 4
V4L2_FWHT_FL_CB_IS_UNCOMPRESSED = 1 << 5
V4L2_FWHT_FL_CR_IS_UNCOMPRESSED = 1 << 6
V4L2_FWHT_FL_CHROMA_FULL_HEIGHT = 1 << 7
V4L2_FWHT_FL_CHROMA_FULL_WIDTH = 1 << 8
V4L2_FWHT_FL_ALPHA_IS_UNCOMPRESSED = 1 << 9
V4L2_FWHT_FL_I_FRAME = 1 << 10
#: number of components - 1, in bits 16..18
V4L2_FWHT_FL_COMPONENTS_NUM_MSK = 0x7 << 16
V4L2_FWHT_FL_COMPONENTS_NUM_OFFSET = 16
V4L2_FWHT_FL_PIXENC_MSK = 0x3 << 19
V4L2_FWHT_FL_PIXENC_OFFSET = 19
V4L2_FWHT_FL_PIXENC_YUV = 1 << V4L2_FWHT_FL_PIXENC_OFFSET
V4L2_FWHT_FL_PIXENC_RGB = 2 << V4L2_FWHT_FL_PIXENC_OFFSET
V4L2_FWHT_FL_PIXENC_HSV = 3 << V4L2_FWHT_FL_PIXENC_OFFSET

v4l2_ctrl_fwht_params = Struct(
    "backward_ref_ts" / Int64ul,  # 0   v4l2_timeval_to_ns() of the reference OUTPUT buffer
    "version" / Int32ul,  # 8   V4L2_FWHT_VERSION
    "width" / Int32ul,  # 12
    "height" / Int32ul,  # 16
    "flags" / Int32ul,  # 20  V4L2_FWHT_FL_*
    "colorspace" / Int32ul,  # 24  enum v4l2_colorspace
    "xfer_func" / Int32ul,  # 28  enum v4l2_xfer_func
    "ycbcr_enc" / Int32ul,  # 32  enum v4l2_ycbcr_encoding
    "quantization" / Int32ul,  # 36  enum v4l2_quantization
)  # sizeof 40

# ------------------------------------------------------------- vicodec codec-fwht.h
FWHT_MAGIC1 = 0x4F4F4F4F
FWHT_MAGIC2 = 0xFFFFFFFF

# fwht_cframe.flags bits used inside the codec (codec-fwht.h), not in the header
FWHT_FRAME_PCODED = 1 << 0
FWHT_FRAME_UNENCODED = 1 << 1
FWHT_LUMA_UNENCODED = 1 << 2
FWHT_CB_UNENCODED = 1 << 3
FWHT_CR_UNENCODED = 1 << 4
FWHT_ALPHA_UNENCODED = 1 << 5

fwht_cframe_hdr = Struct(
    "magic1" / Int32ub,  # 0   FWHT_MAGIC1
    "magic2" / Int32ub,  # 4   FWHT_MAGIC2
    "version" / Int32ub,  # 8   __be32, V4L2_FWHT_VERSION
    "width" / Int32ub,  # 12  __be32
    "height" / Int32ub,  # 16  __be32
    "flags" / Int32ub,  # 20  __be32, V4L2_FWHT_FL_*
    "colorspace" / Int32ub,  # 24  __be32
    "xfer_func" / Int32ub,  # 28  __be32
    "ycbcr_enc" / Int32ub,  # 32  __be32
    "quantization" / Int32ub,  # 36  __be32
    "size" / Int32ub,  # 40  __be32, bytes of compressed data after the header
)  # sizeof 44
FWHT_CFRAME_HDR_SIZE = 44

#: kernel uapi structs (checked against the headers by the layout test)
C_STRUCTS: dict[str, Any] = {"v4l2_ctrl_fwht_params": v4l2_ctrl_fwht_params}
#: other structs of this module (vicodec bitstream, not in the uapi headers)
OTHER_STRUCTS: dict[str, Any] = {"fwht_cframe_hdr": fwht_cframe_hdr}

CONTROL_STRUCTS: dict[int, Any] = {_cid.V4L2_CID_STATELESS_FWHT_PARAMS: v4l2_ctrl_fwht_params}

register(C_STRUCTS)
register(OTHER_STRUCTS)
