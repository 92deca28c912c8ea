"""The vtable of libva's driver interface, read from ``va/va_backend.h``.

The slot list and each slot's C parameter list come from the installed header, so the
generated cffi declarations match the libva the driver is built for (its order, its slots).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_INCLUDE = Path("/usr/include")


@dataclass(frozen=True)
class Slot:
    """One ``VAStatus (*name)(params)`` member of ``struct VADriverVTable``."""

    name: str      # e.g. "vaQueryConfigProfiles"
    params: str    # the C parameter list, e.g. "VADriverContextP ctx, VAProfile *profile_list, int *num_profiles"


class HeaderError(RuntimeError):
    """va_backend.h is missing or has a shape this builder does not understand."""


def find_header(include_dir: Path | None = None) -> Path:
    path = (include_dir or DEFAULT_INCLUDE) / "va" / "va_backend.h"
    if not path.is_file():
        raise HeaderError(f"{path} not found: install libva's headers (Debian: apt-get install libva-dev)")
    return path


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def vtable_slots(header_text: str) -> list[Slot]:
    """The function-pointer members of ``struct VADriverVTable``, in declaration order."""
    text = _strip_comments(header_text)
    start = text.find("struct VADriverVTable {")
    if start < 0:
        raise HeaderError("struct VADriverVTable not found in va_backend.h")
    body = text[start + len("struct VADriverVTable {"):]
    body = body[: body.index("};")]
    slots = []
    for member in (" ".join(m.split()) for m in body.split(";")):
        if not member or member.startswith("unsigned long reserved"):
            continue
        m = re.fullmatch(r"VAStatus ?\( ?\* ?(\w+) ?\) ?\((.*)\)", member)
        if m is None:
            raise HeaderError(f"unexpected VADriverVTable member: {member!r}")
        params = ", ".join(p.strip() for p in m.group(2).split(","))
        slots.append(Slot(m.group(1), params))
    return slots


def read_slots(include_dir: Path | None = None) -> list[Slot]:
    return vtable_slots(find_header(include_dir).read_text())
