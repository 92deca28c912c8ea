"""Media controller side of the emulated device: device info, topology, media requests.

The topology is the one ``v4l2_m2m_register_media_controller()`` builds for a stateless
decoder: entities ``<name>-source`` (MEDIA_ENT_F_IO_V4L), ``<name>-proc``
(MEDIA_ENT_F_PROC_VIDEO_DECODER) and ``<name>-sink`` (MEDIA_ENT_F_IO_V4L), data links
source -> proc -> sink, and one V4L2 video interface (the devnode major/minor) linked to the
source and sink entities. :class:`MediaRequest` carries the request state machine of
``mc-request.c`` (idle / validating / queued / complete / cleaning).
"""

from __future__ import annotations

import ctypes
import errno as _errno
from dataclasses import dataclass, field

from ..uapi import media as m
from .kerror import KernelError

__all__ = ["MediaRequest", "fill_device_info", "fill_topology", "IDLE", "QUEUED", "COMPLETE"]

KERNEL_VERSION = 0x060C75      # 6.12.117, the test kernel's version

IDLE = "idle"
VALIDATING = "validating"
QUEUED = "queued"
COMPLETE = "complete"
CLEANING = "cleaning"


@dataclass
class MediaRequest:
    """A media request (one per MEDIA_IOC_REQUEST_ALLOC)."""

    fd: int
    media_index: int
    serial: int
    state: str = IDLE
    buffers: list = field(default_factory=list)          # bound vb2 buffers
    ctrl_ctx: object | None = None                       # context whose handler has values here
    ctrls: dict[int, int | bytes] = field(default_factory=dict)       # p_req_valid values
    completed_ctrls: dict[int, int | bytes] | None = None  # after v4l2_ctrl_request_complete
    stalled: bool = False
    fd_open: bool = True

    def describe(self) -> str:
        return f"request {self.serial} (fd {self.fd}, {self.state})"


def fill_device_info(info: m.media_device_info, driver: str) -> None:
    ctypes.memset(ctypes.addressof(info), 0, ctypes.sizeof(info))
    info.driver = driver.encode()
    info.model = driver.encode()
    info.bus_info = f"platform:{driver}".encode()
    info.media_version = KERNEL_VERSION
    info.driver_version = KERNEL_VERSION
    info.hw_revision = 0


def _objects(name: str, major: int, minor: int):
    # ids as the kernel hands them out: entity, its pads, next entity, ..., links, interface
    E, P, L, I = 0, 1 << 24, 2 << 24, 3 << 24   # MEDIA_GRAPH_* type in the id's top byte
    ents = [
        (1, f"{name}-source", m.MEDIA_ENT_F_IO_V4L),
        (3, f"{name}-proc", m.MEDIA_ENT_F_PROC_VIDEO_DECODER),
        (6, f"{name}-sink", m.MEDIA_ENT_F_IO_V4L),
    ]
    pads = [
        (P | 2, E | 1, m.MEDIA_PAD_FL_SOURCE, 0),
        (P | 4, E | 3, m.MEDIA_PAD_FL_SINK, 0),
        (P | 5, E | 3, m.MEDIA_PAD_FL_SOURCE, 1),
        (P | 7, E | 6, m.MEDIA_PAD_FL_SINK, 0),
    ]
    data = m.MEDIA_LNK_FL_ENABLED | m.MEDIA_LNK_FL_IMMUTABLE | m.MEDIA_LNK_FL_DATA_LINK
    intf = m.MEDIA_LNK_FL_ENABLED | m.MEDIA_LNK_FL_IMMUTABLE | m.MEDIA_LNK_FL_INTERFACE_LINK
    links = [(L | 8, P | 2, P | 4, data), (L | 10, P | 5, P | 7, data),
             (L | 13, I | 12, E | 1, intf), (L | 14, I | 12, E | 6, intf)]
    intfs = [(I | 12, m.MEDIA_INTF_T_V4L_VIDEO, major, minor)]
    return ents, pads, links, intfs


def fill_topology(t: m.media_v2_topology, name: str, major: int, minor: int) -> None:
    """MEDIA_IOC_G_TOPOLOGY: counts always; arrays where the caller gave pointers."""
    ents, pads, links, intfs = _objects(name, major, minor)
    t.topology_version = 1
    arrays = [
        ("entities", ents, m.media_v2_entity),
        ("interfaces", intfs, m.media_v2_interface),
        ("pads", pads, m.media_v2_pad),
        ("links", links, m.media_v2_link),
    ]
    for key, items, cls in arrays:
        ptr = getattr(t, f"ptr_{key}")
        if ptr:
            if getattr(t, f"num_{key}") < len(items):
                raise KernelError(_errno.ENOSPC, f"{key}: {getattr(t, f'num_{key}')} < {len(items)}")
            arr = (cls * len(items)).from_address(ptr)
            for i, item in enumerate(items):
                o = cls()
                if cls is m.media_v2_entity:
                    o.id, o.function = item[0], item[2]
                    o.name = item[1].encode()[:63]
                elif cls is m.media_v2_interface:
                    o.id, o.intf_type = item[0], item[1]
                    o.devnode.major, o.devnode.minor = item[2], item[3]
                elif cls is m.media_v2_pad:
                    o.id, o.entity_id, o.flags, o.index = item
                else:
                    o.id, o.source_id, o.sink_id, o.flags = item
                arr[i] = o
        setattr(t, f"num_{key}", len(items))
