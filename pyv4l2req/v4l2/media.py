"""The media controller device: device info, topology, request allocation.

A :class:`MediaDevice` wraps one ``/dev/mediaN`` opened through a :class:`Backend`. Its
:meth:`MediaDevice.topology` reads ``MEDIA_IOC_G_TOPOLOGY`` in two passes (counts first, then
the arrays through real pointers) and :meth:`Topology.decoder_interfaces` /
:meth:`MediaDevice.decoder_video_paths` find the video node of each decoder through the graph
(interface links from a ``MEDIA_INTF_T_V4L_VIDEO`` interface to the entities around a
``MEDIA_ENT_F_PROC_VIDEO_DECODER`` entity), resolving the interface's device number to a path
with ``backend.devnode_path`` instead of guessing ``/dev`` numbers.
"""

from __future__ import annotations

import ctypes
import errno
from dataclasses import dataclass, field

from ..errors import V4L2Error
from ..kernel.backend import Backend
from ..uapi import media as m
from .request import Request

__all__ = [
    "MediaDevice",
    "MediaDeviceInfo",
    "Topology",
    "Entity",
    "Interface",
    "Pad",
    "Link",
]


def _s(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class MediaDeviceInfo:
    """``struct media_device_info``."""

    driver: str
    model: str
    serial: str
    bus_info: str
    media_version: int
    hw_revision: int
    driver_version: int


@dataclass(frozen=True, slots=True)
class Entity:
    """``struct media_v2_entity``."""

    id: int
    name: str
    function: int
    flags: int


@dataclass(frozen=True, slots=True)
class Interface:
    """``struct media_v2_interface`` (devnode interfaces carry the char device number)."""

    id: int
    intf_type: int
    flags: int
    major: int
    minor: int


@dataclass(frozen=True, slots=True)
class Pad:
    """``struct media_v2_pad``."""

    id: int
    entity_id: int
    flags: int
    index: int


@dataclass(frozen=True, slots=True)
class Link:
    """``struct media_v2_link``; interface links go from an interface id to an entity id."""

    id: int
    source_id: int
    sink_id: int
    flags: int

    @property
    def is_interface_link(self) -> bool:
        return self.flags & m.MEDIA_LNK_FL_LINK_TYPE == m.MEDIA_LNK_FL_INTERFACE_LINK

    @property
    def is_data_link(self) -> bool:
        return self.flags & m.MEDIA_LNK_FL_LINK_TYPE == m.MEDIA_LNK_FL_DATA_LINK


@dataclass(slots=True)
class Topology:
    """The graph returned by ``MEDIA_IOC_G_TOPOLOGY``."""

    topology_version: int
    entities: list[Entity] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    pads: list[Pad] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    def entity(self, entity_id: int) -> Entity | None:
        return next((e for e in self.entities if e.id == entity_id), None)

    def entities_by_function(self, function: int) -> list[Entity]:
        return [e for e in self.entities if e.function == function]

    def _pad_entity(self) -> dict[int, int]:
        return {p.id: p.entity_id for p in self.pads}

    def connected_entities(self, entity_id: int) -> set[int]:
        """Ids of the entities reachable from *entity_id* over data links (either direction)."""
        pad_entity = self._pad_entity()
        adj: dict[int, set[int]] = {}
        for link in self.links:
            if not link.is_data_link:
                continue
            a, b = pad_entity.get(link.source_id), pad_entity.get(link.sink_id)
            if a is None or b is None:
                continue
            adj.setdefault(a, set()).add(b)
            adj.setdefault(b, set()).add(a)
        seen = {entity_id}
        todo = [entity_id]
        while todo:
            for nxt in adj.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def interfaces_of(self, entity_ids: set[int], intf_type: int = m.MEDIA_INTF_T_V4L_VIDEO) -> list[Interface]:
        """Interfaces of *intf_type* with an interface link to one of *entity_ids*."""
        ids = {link.source_id for link in self.links if link.is_interface_link and link.sink_id in entity_ids}
        return [i for i in self.interfaces if i.id in ids and i.intf_type == intf_type]

    def decoder_interfaces(self) -> list[tuple[Entity, Interface]]:
        """(decoder entity, its V4L2 video interface) for each ``PROC_VIDEO_DECODER`` entity."""
        out = []
        for ent in self.entities_by_function(m.MEDIA_ENT_F_PROC_VIDEO_DECODER):
            for intf in self.interfaces_of(self.connected_entities(ent.id)):
                out.append((ent, intf))
        return out


class MediaDevice:
    """One media controller device node (``/dev/mediaN``)."""

    def __init__(self, backend: Backend, path: str) -> None:
        self.backend = backend
        self.path = path
        self.fd: int = backend.open(path)
        self._closed = False

    # -- info / topology -------------------------------------------------------------------
    def info(self) -> MediaDeviceInfo:
        """``MEDIA_IOC_DEVICE_INFO``."""
        raw = m.media_device_info()
        self.backend.ioctl(self.fd, m.MEDIA_IOC_DEVICE_INFO, raw)
        return MediaDeviceInfo(
            driver=_s(raw.driver), model=_s(raw.model), serial=_s(raw.serial), bus_info=_s(raw.bus_info),
            media_version=raw.media_version, hw_revision=raw.hw_revision, driver_version=raw.driver_version,
        )

    def topology(self) -> Topology:
        """``MEDIA_IOC_G_TOPOLOGY``: first the counts, then the arrays (retried if the graph changed)."""
        for _ in range(8):
            counts = m.media_v2_topology()
            self.backend.ioctl(self.fd, m.MEDIA_IOC_G_TOPOLOGY, counts)
            ents = (m.media_v2_entity * max(counts.num_entities, 1))()
            intfs = (m.media_v2_interface * max(counts.num_interfaces, 1))()
            pads = (m.media_v2_pad * max(counts.num_pads, 1))()
            links = (m.media_v2_link * max(counts.num_links, 1))()
            topo = m.media_v2_topology()
            topo.num_entities, topo.ptr_entities = counts.num_entities, ctypes.addressof(ents)
            topo.num_interfaces, topo.ptr_interfaces = counts.num_interfaces, ctypes.addressof(intfs)
            topo.num_pads, topo.ptr_pads = counts.num_pads, ctypes.addressof(pads)
            topo.num_links, topo.ptr_links = counts.num_links, ctypes.addressof(links)
            try:
                self.backend.ioctl(self.fd, m.MEDIA_IOC_G_TOPOLOGY, topo)
            except V4L2Error as e:
                if e.errno == errno.ENOSPC:  # the graph grew between the two calls
                    continue
                raise
            if topo.topology_version != counts.topology_version:
                continue
            return Topology(
                topology_version=topo.topology_version,
                entities=[Entity(e.id, _s(e.name), e.function, e.flags) for e in ents[: topo.num_entities]],
                interfaces=[
                    Interface(i.id, i.intf_type, i.flags, i.devnode.major, i.devnode.minor)
                    for i in intfs[: topo.num_interfaces]
                ],
                pads=[Pad(p.id, p.entity_id, p.flags, p.index) for p in pads[: topo.num_pads]],
                links=[Link(k.id, k.source_id, k.sink_id, k.flags) for k in links[: topo.num_links]],
            )
        raise V4L2Error(errno.EAGAIN, "MEDIA_IOC_G_TOPOLOGY", f"{self.path}: topology kept changing")

    def decoder_video_paths(self, topology: Topology | None = None) -> list[str]:
        """Device-node paths of the decoders' video interfaces (via ``backend.devnode_path``)."""
        topo = topology or self.topology()
        paths: list[str] = []
        for _ent, intf in topo.decoder_interfaces():
            p = self.backend.devnode_path(intf.major, intf.minor)
            if p is not None and p not in paths:
                paths.append(p)
        return paths

    def video_paths(self, topology: Topology | None = None) -> list[str]:
        """Device-node paths of every V4L2 video interface of this media device."""
        topo = topology or self.topology()
        paths: list[str] = []
        for intf in topo.interfaces:
            if intf.intf_type != m.MEDIA_INTF_T_V4L_VIDEO:
                continue
            p = self.backend.devnode_path(intf.major, intf.minor)
            if p is not None and p not in paths:
                paths.append(p)
        return paths

    # -- requests ----------------------------------------------------------------------------
    def alloc_request(self) -> Request:
        """``MEDIA_IOC_REQUEST_ALLOC``: a new, idle request."""
        fd = ctypes.c_int(-1)
        self.backend.ioctl(self.fd, m.MEDIA_IOC_REQUEST_ALLOC, fd)
        return Request(self.backend, fd.value)

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.backend.close(self.fd)

    def __enter__(self) -> "MediaDevice":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MediaDevice({self.path!r}, fd={self.fd})"
