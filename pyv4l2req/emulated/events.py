"""V4L2 events of one emulated file handle (v4l2-event.c / v4l2-ctrls-api.c semantics).

:class:`EventQueue` keeps the subscriptions and pending events of an m2m context:
V4L2_EVENT_CTRL (with SEND_INITIAL and ALLOW_FEEDBACK) always, other types only when the
device profile offers them (visl/vicodec refuse SOURCE_CHANGE and EOS with EINVAL).
"""

from __future__ import annotations

import ctypes
import errno as _errno
import time
from collections import deque
from dataclasses import dataclass

from ..uapi import videodev2 as v
from .controls import ControlHandler
from .kerror import KernelError

__all__ = ["EventQueue", "V4L2_EVENT_CTRL_CH_VALUE", "V4L2_EVENT_CTRL_CH_FLAGS"]

V4L2_EVENT_CTRL_CH_VALUE = 1
V4L2_EVENT_CTRL_CH_FLAGS = 2


@dataclass
class _Event:
    type: int
    id: int
    data: bytes
    sequence: int
    ts: float


class EventQueue:
    """Subscriptions and pending events of one file handle."""

    def __init__(self, ctrls: ControlHandler, types: tuple[int, ...]) -> None:
        self.ctrls = ctrls
        self.types = types                                   # event types besides CTRL
        self.subscriptions: dict[tuple[int, int], int] = {}  # (type, id) -> flags
        self.events: deque[_Event] = deque()
        self.event_seq = 0

    def __bool__(self) -> bool:
        return bool(self.events)

    def clear(self) -> None:
        self.events.clear()

    def subscribe(self, sub: v.v4l2_event_subscription) -> None:
        if sub.type == v.V4L2_EVENT_CTRL:
            if sub.id not in self.ctrls.specs:
                raise KernelError(_errno.EINVAL, f"SUBSCRIBE_EVENT: no control {sub.id:#x}")
            key = (sub.type, sub.id)
            if key in self.subscriptions:
                return
            self.subscriptions[key] = sub.flags
            if sub.flags & v.V4L2_EVENT_SUB_FL_SEND_INITIAL:
                s = self.ctrls.specs[sub.id]
                ch = V4L2_EVENT_CTRL_CH_FLAGS
                if not s.flags & v.V4L2_CTRL_FLAG_WRITE_ONLY:
                    ch |= V4L2_EVENT_CTRL_CH_VALUE
                self._queue_ctrl_event(sub.id, ch)
            return
        if sub.type in self.types:
            self.subscriptions[(sub.type, 0)] = sub.flags
            return
        raise KernelError(_errno.EINVAL, f"SUBSCRIBE_EVENT: event type {sub.type} is not supported")

    def unsubscribe(self, sub: v.v4l2_event_subscription) -> None:
        if sub.type == v.V4L2_EVENT_ALL:
            self.subscriptions.clear()
            self.events.clear()
            return
        key = (sub.type, sub.id if sub.type == v.V4L2_EVENT_CTRL else 0)
        self.subscriptions.pop(key, None)
        self.events = deque(e for e in self.events if (e.type, e.id) != key)

    def ctrl_event(self, cid: int, changes: int, from_self: bool) -> None:
        flags = self.subscriptions.get((v.V4L2_EVENT_CTRL, cid))
        if flags is None:
            return
        if from_self and not flags & v.V4L2_EVENT_SUB_FL_ALLOW_FEEDBACK:
            return
        self._queue_ctrl_event(cid, changes)

    def _queue_ctrl_event(self, cid: int, changes: int) -> None:
        s = self.ctrls.specs[cid]
        ev = v.v4l2_event_ctrl()
        ev.changes = changes
        ev.type = s.type
        val = self.ctrls.cur.get(cid, 0)
        ev.value64 = 0 if isinstance(val, bytes) else int(val)
        ev.flags = s.flags | (v.V4L2_CTRL_FLAG_HAS_PAYLOAD if s.is_compound else 0)
        if s.type < 0x0100:
            ev.minimum, ev.maximum = max(-2**31, s.minimum), min(2**31 - 1, s.maximum)
            ev.step = 1 if s.type in (v.V4L2_CTRL_TYPE_MENU, v.V4L2_CTRL_TYPE_INTEGER_MENU) else s.step
            ev.default_value = s.default if isinstance(s.default, int) else 0
        self.queue(v.V4L2_EVENT_CTRL, cid, bytes(ev))

    def queue(self, etype: int, eid: int, data: bytes) -> None:
        if (etype, eid) not in self.subscriptions:
            return
        self.events.append(_Event(etype, eid, data, self.event_seq, time.monotonic()))
        self.event_seq += 1

    def dqevent(self, e: v.v4l2_event) -> None:
        if not self.events:
            raise KernelError(_errno.ENOENT, "DQEVENT: no event pending")
        ev = self.events.popleft()
        ctypes.memset(ctypes.addressof(e), 0, ctypes.sizeof(e))
        e.type, e.id, e.sequence = ev.type, ev.id, ev.sequence
        ctypes.memmove(ctypes.addressof(e.u), ev.data, min(len(ev.data), 64))
        e.pending = len(self.events)
        e.timestamp.tv_sec = int(ev.ts)
        e.timestamp.tv_nsec = int((ev.ts % 1) * 1e9)
