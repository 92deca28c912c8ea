"""media.h: the media controller and Media Request API ABI, as ctypes.

Names follow ``include/uapi/linux/media.h``; layouts are checked against the installed headers
by ``tests/test_uapi_layout.py``.
"""

from __future__ import annotations

import ctypes
from ctypes import Structure, Union, c_char, c_uint32, c_uint64

from .ioc import _IO, _IOR, _IOWR

MEDIA_ENT_F_BASE = 0x00000000
MEDIA_ENT_F_OLD_BASE = 0x00010000
MEDIA_ENT_F_UNKNOWN = MEDIA_ENT_F_BASE
MEDIA_ENT_F_IO_V4L = MEDIA_ENT_F_OLD_BASE + 1
MEDIA_ENT_F_PROC_VIDEO_ENCODER = MEDIA_ENT_F_BASE + 0x4007
MEDIA_ENT_F_PROC_VIDEO_DECODER = MEDIA_ENT_F_BASE + 0x4008

MEDIA_PAD_FL_SINK = 1 << 0
MEDIA_PAD_FL_SOURCE = 1 << 1
MEDIA_PAD_FL_MUST_CONNECT = 1 << 2

MEDIA_LNK_FL_ENABLED = 1 << 0
MEDIA_LNK_FL_IMMUTABLE = 1 << 1
MEDIA_LNK_FL_DYNAMIC = 1 << 2
MEDIA_LNK_FL_LINK_TYPE = 0xF << 28
MEDIA_LNK_FL_DATA_LINK = 0 << 28
MEDIA_LNK_FL_INTERFACE_LINK = 1 << 28
MEDIA_LNK_FL_ANCILLARY_LINK = 2 << 28

MEDIA_INTF_T_DVB_BASE = 0x00000100
MEDIA_INTF_T_V4L_BASE = 0x00000200
MEDIA_INTF_T_V4L_VIDEO = MEDIA_INTF_T_V4L_BASE


class media_device_info(Structure):
    _fields_ = [
        ("driver", c_char * 16),
        ("model", c_char * 32),
        ("serial", c_char * 40),
        ("bus_info", c_char * 32),
        ("media_version", c_uint32),
        ("hw_revision", c_uint32),
        ("driver_version", c_uint32),
        ("reserved", c_uint32 * 31),
    ]


class media_v2_entity(Structure):
    _fields_ = [
        ("id", c_uint32),
        ("name", c_char * 64),
        ("function", c_uint32),
        ("flags", c_uint32),
        ("reserved", c_uint32 * 5),
    ]


class media_v2_intf_devnode(Structure):
    _fields_ = [("major", c_uint32), ("minor", c_uint32)]


class _media_v2_interface_u(Union):
    _fields_ = [("devnode", media_v2_intf_devnode), ("raw", c_uint32 * 16)]


class media_v2_interface(Structure):
    _anonymous_ = ("_u",)
    _fields_ = [
        ("id", c_uint32),
        ("intf_type", c_uint32),
        ("flags", c_uint32),
        ("reserved", c_uint32 * 9),
        ("_u", _media_v2_interface_u),
    ]


class media_v2_pad(Structure):
    _fields_ = [
        ("id", c_uint32),
        ("entity_id", c_uint32),
        ("flags", c_uint32),
        ("index", c_uint32),
        ("reserved", c_uint32 * 4),
    ]


class media_v2_link(Structure):
    _fields_ = [
        ("id", c_uint32),
        ("source_id", c_uint32),
        ("sink_id", c_uint32),
        ("flags", c_uint32),
        ("reserved", c_uint32 * 6),
    ]


class media_v2_topology(Structure):
    _fields_ = [
        ("topology_version", c_uint64),
        ("num_entities", c_uint32),
        ("reserved1", c_uint32),
        ("ptr_entities", c_uint64),
        ("num_interfaces", c_uint32),
        ("reserved2", c_uint32),
        ("ptr_interfaces", c_uint64),
        ("num_pads", c_uint32),
        ("reserved3", c_uint32),
        ("ptr_pads", c_uint64),
        ("num_links", c_uint32),
        ("reserved4", c_uint32),
        ("ptr_links", c_uint64),
    ]


MEDIA_IOC_DEVICE_INFO = _IOWR("|", 0x00, media_device_info)
MEDIA_IOC_G_TOPOLOGY = _IOWR("|", 0x04, media_v2_topology)
MEDIA_IOC_REQUEST_ALLOC = _IOR("|", 0x05, ctypes.c_int)
MEDIA_REQUEST_IOC_QUEUE = _IO("|", 0x80)
MEDIA_REQUEST_IOC_REINIT = _IO("|", 0x81)

IOCTL_NAMES: dict[int, str] = {
    v: k
    for k, v in list(globals().items())
    if (k.startswith("MEDIA_IOC_") or k.startswith("MEDIA_REQUEST_IOC_")) and isinstance(v, int)
}
