"""pyv4l2req: userspace for Linux V4L2 stateless video decoders, in Python.

The public API::

    import pyv4l2req

    for frame in pyv4l2req.decode_file("clip.h264"):    # frames in display order
        frame.md5(), frame.width, frame.height, frame.corrupt

    with pyv4l2req.Decoder(device="auto") as dec:       # push bytes as they arrive
        for chunk in chunks:
            dec.feed(chunk)                             # taken and decoded now
            for frame in dec.frames():                  # pull the frames ready so far
                ...
        for frame in dec.flush():                       # end of stream: the rest
            ...

    pyv4l2req.discover()                                # the machine's stateless decoders

Everything is imported lazily so that ``import pyv4l2req`` stays cheap and the optional
dependencies (numpy, PyAV) are needed only by what uses them.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import (
    BitstreamError,
    ControlValidationError,
    DecodeError,
    NoDeviceError,
    PyV4L2ReqError,
    RequestError,
    UnsupportedStream,
    V4L2Error,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "Decoder",
    "DecodeStats",
    "Frame",
    "decode_file",
    "discover",
    "BitstreamError",
    "ControlValidationError",
    "DecodeError",
    "NoDeviceError",
    "PyV4L2ReqError",
    "RequestError",
    "UnsupportedStream",
    "V4L2Error",
]

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline.decoder import DecodeStats, Decoder, decode_file
    from .pipeline.frames import Frame
    from .v4l2.discover import discover

_LAZY = {
    "Decoder": ("pipeline.decoder", "Decoder"),
    "DecodeStats": ("pipeline.decoder", "DecodeStats"),
    "decode_file": ("pipeline.decoder", "decode_file"),
    "Frame": ("pipeline.frames", "Frame"),
    "discover": ("v4l2.discover", "discover"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pyv4l2req' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public API, the dunders and the subpackages already imported (``errors``): no
    helper of this module and no name it imported for itself."""
    return sorted({*__all__, *(n for n, v in globals().items() if n.startswith("__") and n.endswith("__")
                               or isinstance(v, ModuleType) and v.__name__.startswith(__name__ + "."))})
