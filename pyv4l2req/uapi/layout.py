"""Field layouts of the uapi structs, for ``python -m pyv4l2req.uapi --layout``.

:func:`layout_lines` lists ``<c_struct>.<member path> <offset> <size>`` and
``<c_struct> sizeof <n>`` for every ctypes struct of ``videodev2.py``/``media.py`` and every
construct struct of ``h264.py``/``fwht.py``, with C names and C member paths (what ``offsetof``
accepts), so that ``tests/test_uapi_layout.py`` can check each line against the kernel headers
with gcc. Read from the one declaration of each struct (no second copy of any layout).

Packing control values to bytes (the compiled per-frame fast path) is the other job, in
``packing.py``: the struct modules import ``packing``, this module imports the struct modules,
and no import goes the other way.
"""

from __future__ import annotations

import ctypes
from typing import Any, Iterator

from . import fwht, h264, media, videodev2


def construct_layout(cname: str, con: Any) -> Iterator[tuple[str, int, int]]:
    """(member, offset, size) of each member of a construct struct (no alignment: uapi structs
    carry explicit reserved members, and the gcc test proves there is no hidden padding)."""
    off = 0
    for member in con.subcons:
        size = member.sizeof()
        yield member.name, off, size
        off += size


def _ctypes_members(cls: type, prefix: str, base: int) -> Iterator[tuple[str, int, int]]:
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for fname, ftype, *_bits in cls._fields_:
        desc = getattr(cls, fname)
        off = base + desc.offset
        helper = isinstance(ftype, type) and issubclass(ftype, (ctypes.Structure, ctypes.Union)) and ftype.__name__.startswith("_")
        if fname in anonymous:
            # C anonymous struct/union: its members are named directly in the parent.
            yield from _ctypes_members(ftype, prefix, off)
            continue
        if fname.startswith("_"):
            continue  # Python-only member (alignment helper): no C counterpart
        path = prefix + fname
        yield path, off, desc.size
        if helper:
            # A named member whose type is an unnamed C struct/union: list its members too.
            yield from _ctypes_members(ftype, path + ".", off)


#: ctypes classes whose C name differs from the class name.
_C_NAMES = {"v4l2_timeval": "timeval", "v4l2_timespec": "timespec"}


def ctypes_structs() -> dict[str, type]:
    """C name -> ctypes class of every public struct in videodev2.py and media.py."""
    out: dict[str, type] = {}
    for mod in (videodev2, media):
        for name, obj in vars(mod).items():
            if (
                isinstance(obj, type)
                and issubclass(obj, (ctypes.Structure, ctypes.Union))
                and obj.__module__ == mod.__name__
                and not name.startswith("_")
            ):
                out[_C_NAMES.get(name, name)] = obj
    return out


def construct_structs() -> dict[str, Any]:
    """C name -> construct Struct of every kernel uapi struct in h264.py and fwht.py."""
    return {**h264.C_STRUCTS, **fwht.C_STRUCTS}


def layout_lines() -> list[str]:
    """The ``--layout`` listing: member lines then a sizeof line for each struct, sorted by name."""
    lines: list[str] = []
    for cname, cls in sorted(ctypes_structs().items()):
        for path, off, size in _ctypes_members(cls, "", 0):
            lines.append(f"{cname}.{path} {off} {size}")
        lines.append(f"{cname} sizeof {ctypes.sizeof(cls)}")
    for cname, con in sorted(construct_structs().items()):
        for path, off, size in construct_layout(cname, con):
            lines.append(f"{cname}.{path} {off} {size}")
        lines.append(f"{cname} sizeof {con.sizeof()}")
    return lines
