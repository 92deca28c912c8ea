"""Layer 3: V4L2 objects on top of a :class:`pyv4l2req.kernel.backend.Backend`.

``MediaDevice`` (device info, topology, request allocation), ``Request`` / ``RequestPool``,
``VideoDevice`` (caps, formats, controls, events, decoder commands, selection; ``ControlSet``:
a prepared S_EXT_CTRLS), ``Queue`` /
``Buffer`` / ``Dequeued`` (MMAP buffers, EXPBUF, streaming), ``discover()`` / ``DecoderInfo``,
``StatelessSession`` / ``Completion`` (the codec-agnostic decoding session: the only queuer).
"""

from __future__ import annotations

from .device import ControlInfo, ControlSet, Event, FmtDesc, Format, FrameSize, Rect, VideoDevice
from .discover import STATELESS_CODECS, DecoderInfo, discover, find_decoder
from .media import Entity, Interface, Link, MediaDevice, MediaDeviceInfo, Pad, Topology
from .queue import Buffer, Dequeued, Queue, ns_to_timeval, timeval_to_ns
from .request import Request, RequestPool, Slot
from .stateless import Completion, StatelessSession

__all__ = [
    "MediaDevice", "MediaDeviceInfo", "Topology", "Entity", "Interface", "Pad", "Link",
    "Request", "RequestPool", "Slot",
    "VideoDevice", "ControlSet", "FmtDesc", "Format", "FrameSize", "ControlInfo", "Event", "Rect",
    "Queue", "Buffer", "Dequeued", "ns_to_timeval", "timeval_to_ns",
    "DecoderInfo", "discover", "find_decoder", "STATELESS_CODECS",
    "StatelessSession", "Completion",
]
