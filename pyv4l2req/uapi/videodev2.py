"""videodev2.h: the V4L2 ioctl ABI used by stateless decoders, as ctypes.

Class names are the C struct names and field names the C field names, so this file reads side
by side with ``include/uapi/linux/videodev2.h``. ctypes (not ``construct``) is used here
because these structs carry pointers (``v4l2_buffer.m.planes``, ``v4l2_ext_controls.controls``,
``v4l2_ext_control.ptr``) that the kernel dereferences: they need real addresses.
Every layout is checked against the installed kernel headers by ``tests/test_uapi_layout.py``.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    Structure,
    Union,
    c_char,
    c_int32,
    c_int64,
    c_long,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_ulong,
    c_void_p,
)

from .ioc import _IOR, _IOW, _IOWR, v4l2_fourcc

# --- enum v4l2_field ---------------------------------------------------------------------
V4L2_FIELD_ANY = 0
V4L2_FIELD_NONE = 1
V4L2_FIELD_TOP = 2
V4L2_FIELD_BOTTOM = 3
V4L2_FIELD_INTERLACED = 4
V4L2_FIELD_SEQ_TB = 5
V4L2_FIELD_SEQ_BT = 6
V4L2_FIELD_ALTERNATE = 7
V4L2_FIELD_INTERLACED_TB = 8
V4L2_FIELD_INTERLACED_BT = 9

# --- enum v4l2_buf_type ------------------------------------------------------------------
V4L2_BUF_TYPE_VIDEO_CAPTURE = 1
V4L2_BUF_TYPE_VIDEO_OUTPUT = 2
V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE = 9
V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE = 10


def V4L2_TYPE_IS_MULTIPLANAR(buf_type: int) -> bool:
    return buf_type in (V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)


def V4L2_TYPE_IS_OUTPUT(buf_type: int) -> bool:
    return buf_type in (V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)


# --- enum v4l2_memory --------------------------------------------------------------------
V4L2_MEMORY_MMAP = 1
V4L2_MEMORY_USERPTR = 2
V4L2_MEMORY_OVERLAY = 3
V4L2_MEMORY_DMABUF = 4
V4L2_MEMORY_FLAG_NON_COHERENT = 1 << 0

# --- capabilities (v4l2_capability.capabilities / device_caps) ------------------------
V4L2_CAP_VIDEO_CAPTURE = 0x00000001
V4L2_CAP_VIDEO_OUTPUT = 0x00000002
V4L2_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
V4L2_CAP_VIDEO_OUTPUT_MPLANE = 0x00002000
V4L2_CAP_VIDEO_M2M_MPLANE = 0x00004000
V4L2_CAP_VIDEO_M2M = 0x00008000
V4L2_CAP_EXT_PIX_FORMAT = 0x00200000
V4L2_CAP_STREAMING = 0x04000000
V4L2_CAP_IO_MC = 0x20000000
V4L2_CAP_DEVICE_CAPS = 0x80000000

# --- pixel formats ----------------------------------------------------------------------
V4L2_PIX_FMT_GREY = v4l2_fourcc("G", "R", "E", "Y")
V4L2_PIX_FMT_NV12 = v4l2_fourcc("N", "V", "1", "2")
V4L2_PIX_FMT_NV21 = v4l2_fourcc("N", "V", "2", "1")
V4L2_PIX_FMT_NV16 = v4l2_fourcc("N", "V", "1", "6")
V4L2_PIX_FMT_P010 = v4l2_fourcc("P", "0", "1", "0")
V4L2_PIX_FMT_NV12M = v4l2_fourcc("N", "M", "1", "2")
V4L2_PIX_FMT_YUV420 = v4l2_fourcc("Y", "U", "1", "2")
V4L2_PIX_FMT_YVU420 = v4l2_fourcc("Y", "V", "1", "2")
V4L2_PIX_FMT_YUV420M = v4l2_fourcc("Y", "M", "1", "2")
V4L2_PIX_FMT_NV12_4L4 = v4l2_fourcc("V", "T", "1", "2")
V4L2_PIX_FMT_NV12_16L16 = v4l2_fourcc("H", "M", "1", "2")
V4L2_PIX_FMT_NV12_32L32 = v4l2_fourcc("S", "T", "1", "2")
V4L2_PIX_FMT_SUNXI_TILED_NV12 = V4L2_PIX_FMT_NV12_32L32
V4L2_PIX_FMT_MM21 = v4l2_fourcc("M", "M", "2", "1")
V4L2_PIX_FMT_H264 = v4l2_fourcc("H", "2", "6", "4")
V4L2_PIX_FMT_H264_SLICE = v4l2_fourcc("S", "2", "6", "4")
V4L2_PIX_FMT_HEVC_SLICE = v4l2_fourcc("S", "2", "6", "5")
V4L2_PIX_FMT_MPEG2_SLICE = v4l2_fourcc("M", "G", "2", "S")
V4L2_PIX_FMT_VP8_FRAME = v4l2_fourcc("V", "P", "8", "F")
V4L2_PIX_FMT_VP9_FRAME = v4l2_fourcc("V", "P", "9", "F")
V4L2_PIX_FMT_AV1_FRAME = v4l2_fourcc("A", "V", "1", "F")
V4L2_PIX_FMT_FWHT = v4l2_fourcc("F", "W", "H", "T")
V4L2_PIX_FMT_FWHT_STATELESS = v4l2_fourcc("S", "F", "W", "H")

# --- v4l2_fmtdesc.flags -------------------------------------------------------------------
V4L2_FMT_FLAG_COMPRESSED = 0x0001
V4L2_FMT_FLAG_EMULATED = 0x0002
V4L2_FMT_FLAG_CONTINUOUS_BYTESTREAM = 0x0004
V4L2_FMT_FLAG_DYN_RESOLUTION = 0x0008

# --- enum v4l2_frmsizetypes -------------------------------------------------------------
V4L2_FRMSIZE_TYPE_DISCRETE = 1
V4L2_FRMSIZE_TYPE_CONTINUOUS = 2
V4L2_FRMSIZE_TYPE_STEPWISE = 3

# --- buffer capabilities (REQBUFS/CREATE_BUFS .capabilities) -----------------------------
V4L2_BUF_CAP_SUPPORTS_MMAP = 1 << 0
V4L2_BUF_CAP_SUPPORTS_USERPTR = 1 << 1
V4L2_BUF_CAP_SUPPORTS_DMABUF = 1 << 2
V4L2_BUF_CAP_SUPPORTS_REQUESTS = 1 << 3
V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS = 1 << 4
V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF = 1 << 5
V4L2_BUF_CAP_SUPPORTS_MMAP_CACHE_HINTS = 1 << 6

# --- v4l2_buffer.flags ---------------------------------------------------------------------
V4L2_BUF_FLAG_MAPPED = 0x00000001
V4L2_BUF_FLAG_QUEUED = 0x00000002
V4L2_BUF_FLAG_DONE = 0x00000004
V4L2_BUF_FLAG_KEYFRAME = 0x00000008
V4L2_BUF_FLAG_PFRAME = 0x00000010
V4L2_BUF_FLAG_BFRAME = 0x00000020
V4L2_BUF_FLAG_ERROR = 0x00000040
V4L2_BUF_FLAG_IN_REQUEST = 0x00000080
V4L2_BUF_FLAG_TIMECODE = 0x00000100
V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF = 0x00000200
V4L2_BUF_FLAG_PREPARED = 0x00000400
V4L2_BUF_FLAG_NO_CACHE_INVALIDATE = 0x00000800
V4L2_BUF_FLAG_NO_CACHE_CLEAN = 0x00001000
V4L2_BUF_FLAG_TIMESTAMP_MASK = 0x0000E000
V4L2_BUF_FLAG_TIMESTAMP_COPY = 0x00004000
V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN = 0x00000000
V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC = 0x00002000
V4L2_BUF_FLAG_TSTAMP_SRC_MASK = 0x00070000
V4L2_BUF_FLAG_TSTAMP_SRC_EOF = 0x00000000
V4L2_BUF_FLAG_TSTAMP_SRC_SOE = 0x00010000
V4L2_BUF_FLAG_LAST = 0x00100000
V4L2_BUF_FLAG_REQUEST_FD = 0x00800000

# --- controls -----------------------------------------------------------------------------
V4L2_CTRL_WHICH_CUR_VAL = 0
V4L2_CTRL_WHICH_DEF_VAL = 0x0F000000
V4L2_CTRL_WHICH_REQUEST_VAL = 0x0F010000

V4L2_CTRL_TYPE_INTEGER = 1
V4L2_CTRL_TYPE_BOOLEAN = 2
V4L2_CTRL_TYPE_MENU = 3
V4L2_CTRL_TYPE_BUTTON = 4
V4L2_CTRL_TYPE_INTEGER64 = 5
V4L2_CTRL_TYPE_CTRL_CLASS = 6
V4L2_CTRL_TYPE_STRING = 7
V4L2_CTRL_TYPE_BITMASK = 8
V4L2_CTRL_TYPE_INTEGER_MENU = 9
V4L2_CTRL_COMPOUND_TYPES = 0x0100
V4L2_CTRL_TYPE_U8 = 0x0100
V4L2_CTRL_TYPE_U16 = 0x0101
V4L2_CTRL_TYPE_U32 = 0x0102
V4L2_CTRL_TYPE_H264_SPS = 0x0200
V4L2_CTRL_TYPE_H264_PPS = 0x0201
V4L2_CTRL_TYPE_H264_SCALING_MATRIX = 0x0202
V4L2_CTRL_TYPE_H264_SLICE_PARAMS = 0x0203
V4L2_CTRL_TYPE_H264_DECODE_PARAMS = 0x0204
V4L2_CTRL_TYPE_H264_PRED_WEIGHTS = 0x0205
V4L2_CTRL_TYPE_FWHT_PARAMS = 0x0220

V4L2_CTRL_FLAG_DISABLED = 0x0001
V4L2_CTRL_FLAG_GRABBED = 0x0002
V4L2_CTRL_FLAG_READ_ONLY = 0x0004
V4L2_CTRL_FLAG_UPDATE = 0x0008
V4L2_CTRL_FLAG_INACTIVE = 0x0010
V4L2_CTRL_FLAG_WRITE_ONLY = 0x0040
V4L2_CTRL_FLAG_VOLATILE = 0x0080
V4L2_CTRL_FLAG_HAS_PAYLOAD = 0x0100
V4L2_CTRL_FLAG_EXECUTE_ON_WRITE = 0x0200
V4L2_CTRL_FLAG_MODIFY_LAYOUT = 0x0400
V4L2_CTRL_FLAG_DYNAMIC_ARRAY = 0x0800
V4L2_CTRL_FLAG_NEXT_CTRL = 0x80000000
V4L2_CTRL_FLAG_NEXT_COMPOUND = 0x40000000
V4L2_CTRL_ID_MASK = 0x0FFFFFFF
V4L2_CTRL_MAX_DIMS = 4

# --- decoder commands ---------------------------------------------------------------------
V4L2_DEC_CMD_START = 0
V4L2_DEC_CMD_STOP = 1
V4L2_DEC_CMD_PAUSE = 2
V4L2_DEC_CMD_RESUME = 3
V4L2_DEC_CMD_FLUSH = 4
V4L2_DEC_CMD_STOP_TO_BLACK = 1 << 0
V4L2_DEC_CMD_STOP_IMMEDIATELY = 1 << 1
V4L2_DEC_CMD_START_MUTE_AUDIO = 1 << 0
V4L2_DEC_CMD_PAUSE_TO_BLACK = 1 << 0
V4L2_DEC_START_FMT_NONE = 0
V4L2_DEC_START_FMT_GOP = 1

# --- events -------------------------------------------------------------------------------
V4L2_EVENT_ALL = 0
V4L2_EVENT_VSYNC = 1
V4L2_EVENT_EOS = 2
V4L2_EVENT_CTRL = 3
V4L2_EVENT_FRAME_SYNC = 4
V4L2_EVENT_SOURCE_CHANGE = 5
V4L2_EVENT_MOTION_DET = 6
V4L2_EVENT_PRIVATE_START = 0x08000000
V4L2_EVENT_CTRL_CH_VALUE = 1 << 0
V4L2_EVENT_CTRL_CH_FLAGS = 1 << 1
V4L2_EVENT_CTRL_CH_RANGE = 1 << 2
V4L2_EVENT_CTRL_CH_DIMENSIONS = 1 << 3
V4L2_EVENT_SRC_CH_RESOLUTION = 1 << 0
V4L2_EVENT_SUB_FL_SEND_INITIAL = 1 << 0
V4L2_EVENT_SUB_FL_ALLOW_FEEDBACK = 1 << 1

# --- selection targets (v4l2-common.h) ----------------------------------------------------
V4L2_SEL_TGT_CROP = 0x0000
V4L2_SEL_TGT_CROP_DEFAULT = 0x0001
V4L2_SEL_TGT_CROP_BOUNDS = 0x0002
V4L2_SEL_TGT_NATIVE_SIZE = 0x0003
V4L2_SEL_TGT_COMPOSE = 0x0100
V4L2_SEL_TGT_COMPOSE_DEFAULT = 0x0101
V4L2_SEL_TGT_COMPOSE_BOUNDS = 0x0102
V4L2_SEL_TGT_COMPOSE_PADDED = 0x0103

VIDEO_MAX_PLANES = 8


# ===================================================================================== structs
class v4l2_capability(Structure):
    _fields_ = [
        ("driver", c_char * 16),
        ("card", c_char * 32),
        ("bus_info", c_char * 32),
        ("version", c_uint32),
        ("capabilities", c_uint32),
        ("device_caps", c_uint32),
        ("reserved", c_uint32 * 3),
    ]


class v4l2_rect(Structure):
    _fields_ = [("left", c_int32), ("top", c_int32), ("width", c_uint32), ("height", c_uint32)]


class v4l2_pix_format(Structure):
    class _enc(Union):
        _fields_ = [("ycbcr_enc", c_uint32), ("hsv_enc", c_uint32)]

    _anonymous_ = ("_u",)
    _fields_ = [
        ("width", c_uint32),
        ("height", c_uint32),
        ("pixelformat", c_uint32),
        ("field", c_uint32),
        ("bytesperline", c_uint32),
        ("sizeimage", c_uint32),
        ("colorspace", c_uint32),
        ("priv", c_uint32),
        ("flags", c_uint32),
        ("_u", _enc),
        ("quantization", c_uint32),
        ("xfer_func", c_uint32),
    ]


class v4l2_plane_pix_format(Structure):
    _pack_ = 1
    _fields_ = [("sizeimage", c_uint32), ("bytesperline", c_uint32), ("reserved", c_uint16 * 6)]


class v4l2_pix_format_mplane(Structure):
    class _enc(Union):
        _fields_ = [("ycbcr_enc", c_uint8), ("hsv_enc", c_uint8)]

    _pack_ = 1
    _anonymous_ = ("_u",)
    _fields_ = [
        ("width", c_uint32),
        ("height", c_uint32),
        ("pixelformat", c_uint32),
        ("field", c_uint32),
        ("colorspace", c_uint32),
        ("plane_fmt", v4l2_plane_pix_format * VIDEO_MAX_PLANES),
        ("num_planes", c_uint8),
        ("flags", c_uint8),
        ("_u", _enc),
        ("quantization", c_uint8),
        ("xfer_func", c_uint8),
        ("reserved", c_uint8 * 7),
    ]


class _v4l2_format_fmt(Union):
    # The kernel union also holds v4l2_window (which has pointers, hence 8-byte alignment),
    # vbi, sliced, sdr and meta formats; raw_data[200] covers their size.
    _fields_ = [
        ("pix", v4l2_pix_format),
        ("pix_mp", v4l2_pix_format_mplane),
        ("raw_data", c_uint8 * 200),
        ("_align", c_void_p),
    ]


class v4l2_format(Structure):
    _fields_ = [("type", c_uint32), ("fmt", _v4l2_format_fmt)]


class v4l2_requestbuffers(Structure):
    _fields_ = [
        ("count", c_uint32),
        ("type", c_uint32),
        ("memory", c_uint32),
        ("capabilities", c_uint32),
        ("flags", c_uint8),
        ("reserved", c_uint8 * 3),
    ]


class v4l2_create_buffers(Structure):
    _fields_ = [
        ("index", c_uint32),
        ("count", c_uint32),
        ("memory", c_uint32),
        ("format", v4l2_format),
        ("capabilities", c_uint32),
        ("flags", c_uint32),
        ("reserved", c_uint32 * 6),
    ]


class v4l2_timeval(Structure):
    """``struct timeval`` as the 64-bit kernel ABI lays it out in v4l2_buffer."""

    _fields_ = [("tv_sec", c_long), ("tv_usec", c_long)]


class v4l2_timespec(Structure):
    _fields_ = [("tv_sec", c_long), ("tv_nsec", c_long)]


class v4l2_timecode(Structure):
    _fields_ = [
        ("type", c_uint32),
        ("flags", c_uint32),
        ("frames", c_uint8),
        ("seconds", c_uint8),
        ("minutes", c_uint8),
        ("hours", c_uint8),
        ("userbits", c_uint8 * 4),
    ]


class _v4l2_plane_m(Union):
    _fields_ = [("mem_offset", c_uint32), ("userptr", c_ulong), ("fd", c_int32)]


class v4l2_plane(Structure):
    _fields_ = [
        ("bytesused", c_uint32),
        ("length", c_uint32),
        ("m", _v4l2_plane_m),
        ("data_offset", c_uint32),
        ("reserved", c_uint32 * 11),
    ]


class _v4l2_buffer_m(Union):
    _fields_ = [
        ("offset", c_uint32),
        ("userptr", c_ulong),
        ("planes", ctypes.POINTER(v4l2_plane)),
        ("fd", c_int32),
    ]


class _v4l2_buffer_req(Union):
    _fields_ = [("request_fd", c_int32), ("reserved", c_uint32)]


class v4l2_buffer(Structure):
    _anonymous_ = ("_r",)
    _fields_ = [
        ("index", c_uint32),
        ("type", c_uint32),
        ("bytesused", c_uint32),
        ("flags", c_uint32),
        ("field", c_uint32),
        ("timestamp", v4l2_timeval),
        ("timecode", v4l2_timecode),
        ("sequence", c_uint32),
        ("memory", c_uint32),
        ("m", _v4l2_buffer_m),
        ("length", c_uint32),
        ("reserved2", c_uint32),
        ("_r", _v4l2_buffer_req),
    ]


class v4l2_exportbuffer(Structure):
    _fields_ = [
        ("type", c_uint32),
        ("index", c_uint32),
        ("plane", c_uint32),
        ("flags", c_uint32),
        ("fd", c_int32),
        ("reserved", c_uint32 * 11),
    ]


class v4l2_fmtdesc(Structure):
    _fields_ = [
        ("index", c_uint32),
        ("type", c_uint32),
        ("flags", c_uint32),
        ("description", c_char * 32),
        ("pixelformat", c_uint32),
        ("mbus_code", c_uint32),
        ("reserved", c_uint32 * 3),
    ]


class v4l2_frmsize_discrete(Structure):
    _fields_ = [("width", c_uint32), ("height", c_uint32)]


class v4l2_frmsize_stepwise(Structure):
    _fields_ = [
        ("min_width", c_uint32),
        ("max_width", c_uint32),
        ("step_width", c_uint32),
        ("min_height", c_uint32),
        ("max_height", c_uint32),
        ("step_height", c_uint32),
    ]


class _v4l2_frmsizeenum_u(Union):
    _fields_ = [("discrete", v4l2_frmsize_discrete), ("stepwise", v4l2_frmsize_stepwise)]


class v4l2_frmsizeenum(Structure):
    _anonymous_ = ("_u",)
    _fields_ = [
        ("index", c_uint32),
        ("pixel_format", c_uint32),
        ("type", c_uint32),
        ("_u", _v4l2_frmsizeenum_u),
        ("reserved", c_uint32 * 2),
    ]


class _v4l2_ext_control_u(Union):
    _pack_ = 1
    _fields_ = [
        ("value", c_int32),
        ("value64", c_int64),
        ("string", ctypes.c_char_p),
        ("p_u8", ctypes.POINTER(c_uint8)),
        ("p_u16", ctypes.POINTER(c_uint16)),
        ("p_u32", ctypes.POINTER(c_uint32)),
        ("ptr", c_void_p),
    ]


class v4l2_ext_control(Structure):
    _pack_ = 1
    _anonymous_ = ("_u",)
    _fields_ = [
        ("id", c_uint32),
        ("size", c_uint32),
        ("reserved2", c_uint32 * 1),
        ("_u", _v4l2_ext_control_u),
    ]


class _v4l2_ext_controls_which(Union):
    _fields_ = [("ctrl_class", c_uint32), ("which", c_uint32)]


class v4l2_ext_controls(Structure):
    _anonymous_ = ("_w",)
    _fields_ = [
        ("_w", _v4l2_ext_controls_which),
        ("count", c_uint32),
        ("error_idx", c_uint32),
        ("request_fd", c_int32),
        ("reserved", c_uint32 * 1),
        ("controls", ctypes.POINTER(v4l2_ext_control)),
    ]


class v4l2_query_ext_ctrl(Structure):
    _fields_ = [
        ("id", c_uint32),
        ("type", c_uint32),
        ("name", c_char * 32),
        ("minimum", c_int64),
        ("maximum", c_int64),
        ("step", c_uint64),
        ("default_value", c_int64),
        ("flags", c_uint32),
        ("elem_size", c_uint32),
        ("elems", c_uint32),
        ("nr_of_dims", c_uint32),
        ("dims", c_uint32 * 4),
        ("reserved", c_uint32 * 32),
    ]


class _v4l2_querymenu_u(Union):
    _pack_ = 1
    _fields_ = [("name", c_char * 32), ("value", c_int64)]


class v4l2_querymenu(Structure):
    _pack_ = 1
    _anonymous_ = ("_u",)
    _fields_ = [
        ("id", c_uint32),
        ("index", c_uint32),
        ("_u", _v4l2_querymenu_u),
        ("reserved", c_uint32),
    ]


class _v4l2_decoder_cmd_stop(Structure):
    _fields_ = [("pts", c_uint64)]


class _v4l2_decoder_cmd_start(Structure):
    _fields_ = [("speed", c_int32), ("format", c_uint32)]


class _v4l2_decoder_cmd_raw(Structure):
    _fields_ = [("data", c_uint32 * 16)]


class _v4l2_decoder_cmd_u(Union):
    _fields_ = [
        ("stop", _v4l2_decoder_cmd_stop),
        ("start", _v4l2_decoder_cmd_start),
        ("raw", _v4l2_decoder_cmd_raw),
    ]


class v4l2_decoder_cmd(Structure):
    _anonymous_ = ("_u",)
    _fields_ = [("cmd", c_uint32), ("flags", c_uint32), ("_u", _v4l2_decoder_cmd_u)]


class v4l2_event_subscription(Structure):
    _fields_ = [
        ("type", c_uint32),
        ("id", c_uint32),
        ("flags", c_uint32),
        ("reserved", c_uint32 * 5),
    ]


class v4l2_event_src_change(Structure):
    _fields_ = [("changes", c_uint32)]


class _v4l2_event_ctrl_value(Union):
    _fields_ = [("value", c_int32), ("value64", c_int64)]


class v4l2_event_ctrl(Structure):
    _anonymous_ = ("_v",)
    _fields_ = [
        ("changes", c_uint32),
        ("type", c_uint32),
        ("_v", _v4l2_event_ctrl_value),
        ("flags", c_uint32),
        ("minimum", c_int32),
        ("maximum", c_int32),
        ("step", c_int32),
        ("default_value", c_int32),
    ]


class _v4l2_event_u(Union):
    _fields_ = [
        ("ctrl", v4l2_event_ctrl),
        ("src_change", v4l2_event_src_change),
        ("data", c_uint8 * 64),
    ]


class v4l2_event(Structure):
    _fields_ = [
        ("type", c_uint32),
        ("u", _v4l2_event_u),
        ("pending", c_uint32),
        ("sequence", c_uint32),
        ("timestamp", v4l2_timespec),
        ("id", c_uint32),
        ("reserved", c_uint32 * 8),
    ]


class v4l2_selection(Structure):
    _fields_ = [
        ("type", c_uint32),
        ("target", c_uint32),
        ("flags", c_uint32),
        ("r", v4l2_rect),
        ("reserved", c_uint32 * 9),
    ]


# ======================================================================== ioctl numbers
VIDIOC_QUERYCAP = _IOR("V", 0, v4l2_capability)
VIDIOC_ENUM_FMT = _IOWR("V", 2, v4l2_fmtdesc)
VIDIOC_G_FMT = _IOWR("V", 4, v4l2_format)
VIDIOC_S_FMT = _IOWR("V", 5, v4l2_format)
VIDIOC_REQBUFS = _IOWR("V", 8, v4l2_requestbuffers)
VIDIOC_QUERYBUF = _IOWR("V", 9, v4l2_buffer)
VIDIOC_QBUF = _IOWR("V", 15, v4l2_buffer)
VIDIOC_EXPBUF = _IOWR("V", 16, v4l2_exportbuffer)
VIDIOC_DQBUF = _IOWR("V", 17, v4l2_buffer)
VIDIOC_STREAMON = _IOW("V", 18, ctypes.c_int)
VIDIOC_STREAMOFF = _IOW("V", 19, ctypes.c_int)
VIDIOC_QUERYMENU = _IOWR("V", 37, v4l2_querymenu)
VIDIOC_TRY_FMT = _IOWR("V", 64, v4l2_format)
VIDIOC_G_EXT_CTRLS = _IOWR("V", 71, v4l2_ext_controls)
VIDIOC_S_EXT_CTRLS = _IOWR("V", 72, v4l2_ext_controls)
VIDIOC_TRY_EXT_CTRLS = _IOWR("V", 73, v4l2_ext_controls)
VIDIOC_ENUM_FRAMESIZES = _IOWR("V", 74, v4l2_frmsizeenum)
VIDIOC_DQEVENT = _IOR("V", 89, v4l2_event)
VIDIOC_SUBSCRIBE_EVENT = _IOW("V", 90, v4l2_event_subscription)
VIDIOC_UNSUBSCRIBE_EVENT = _IOW("V", 91, v4l2_event_subscription)
VIDIOC_CREATE_BUFS = _IOWR("V", 92, v4l2_create_buffers)
VIDIOC_PREPARE_BUF = _IOWR("V", 93, v4l2_buffer)
VIDIOC_G_SELECTION = _IOWR("V", 94, v4l2_selection)
VIDIOC_S_SELECTION = _IOWR("V", 95, v4l2_selection)
VIDIOC_DECODER_CMD = _IOWR("V", 96, v4l2_decoder_cmd)
VIDIOC_TRY_DECODER_CMD = _IOWR("V", 97, v4l2_decoder_cmd)
VIDIOC_QUERY_EXT_CTRL = _IOWR("V", 103, v4l2_query_ext_ctrl)

#: ioctl number -> name, for error messages and the emulated device's dispatcher.
IOCTL_NAMES: dict[int, str] = {
    v: k for k, v in list(globals().items()) if k.startswith("VIDIOC_") and isinstance(v, int)
}
