"""Only ``pyv4l2req/v4l2/stateless.py`` queues buffers and requests (AST check).

Outside the session, the modules that implement those ioctls (``v4l2/queue.py``,
``v4l2/request.py``) and the emulated kernel, no module of ``pyv4l2req/`` may call
``Queue.qbuf`` (QBUF) or ``Request.queue`` (MEDIA_REQUEST_IOC_QUEUE), nor name the raw ioctl
numbers ``VIDIOC_QBUF`` / ``MEDIA_REQUEST_IOC_QUEUE`` (a backend ioctl behind the objects'
backs). The checker is run on doctored sources too, so that the test would fail if
``pipeline/session.py`` queued anything itself again.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pyv4l2req"
#: the modules allowed to queue: the session, the ioctl implementations, the emulated kernel
ALLOWED = ("v4l2/stateless.py", "v4l2/queue.py", "v4l2/request.py", "emulated/")
QUEUE_METHODS = {"qbuf", "queue"}
RAW_IOCTLS = {"VIDIOC_QBUF", "MEDIA_REQUEST_IOC_QUEUE"}


def queueing_calls(source: str, filename: str = "<source>") -> list[str]:
    """Where *source* queues a buffer or request: ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in QUEUE_METHODS:
                found.append(f"{node.lineno}: .{func.attr}(...)")
            elif (isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2
                  and isinstance(node.args[1], ast.Constant) and node.args[1].value in QUEUE_METHODS):
                found.append(f"{node.lineno}: getattr(..., {node.args[1].value!r})")
        elif isinstance(node, ast.Attribute) and node.attr in RAW_IOCTLS and isinstance(node.ctx, ast.Load):
            found.append(f"{node.lineno}: {node.attr}")
        elif isinstance(node, ast.Name) and node.id in RAW_IOCTLS and isinstance(node.ctx, ast.Load):
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.ImportFrom):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name in RAW_IOCTLS]
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if not any(p.relative_to(PACKAGE).as_posix().startswith(a) for a in ALLOWED))


def test_no_module_but_the_session_queues():
    offenders = {}
    for path in _modules():
        calls = queueing_calls(path.read_text(), str(path))
        if calls:
            offenders[path.relative_to(PACKAGE).as_posix()] = calls
    assert offenders == {}, "only pyv4l2req/v4l2/stateless.py may queue buffers and requests"


def test_the_scan_covers_the_adapters():
    scanned = {p.relative_to(PACKAGE).as_posix() for p in _modules()}
    assert {"pipeline/session.py", "pipeline/fwht.py", "pipeline/decoder.py", "v4l2/device.py"} <= scanned
    assert "v4l2/stateless.py" not in scanned


def test_the_checker_finds_the_session_s_own_queueing():
    """On the one module that queues, the checker finds the CAPTURE and OUTPUT QBUF and the
    request QUEUE: it recognises the real code, not only made-up snippets."""
    calls = queueing_calls((PACKAGE / "v4l2/stateless.py").read_text())
    assert sum(".qbuf(" in c for c in calls) >= 2 and any(".queue(" in c for c in calls)


@pytest.mark.parametrize("line", [
    "self.core.cap_q.qbuf(0)",
    "self.out_q.qbuf(idx, pos, ts, request.fd, 0)",
    "slot.request.queue()",
    "self.backend.ioctl(self.dev.fd, v.VIDIOC_QBUF, arg)",
    "self.backend.ioctl(fd, MEDIA_REQUEST_IOC_QUEUE)",
    "getattr(q, 'qbuf')(3)",
])
def test_it_would_fail_if_the_h264_adapter_queued_again(line):
    source = (PACKAGE / "pipeline/session.py").read_text()
    assert queueing_calls(source) == []
    anchor = "    def release(self, ts: int) -> None:\n"
    assert anchor in source
    doctored = source.replace(anchor, anchor + f"        {line}\n", 1)
    assert len(queueing_calls(doctored)) == 1
