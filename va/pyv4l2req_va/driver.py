"""The driver's logic in Python values: what libva's query and config entry points answer.

No cffi here: :mod:`pyv4l2req_va.callbacks` turns C arguments into these calls and the results
back into C. A refused call raises :class:`VAError` carrying the VAStatus to return.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from . import vaconst as va

VENDOR = "pyv4l2req V4L2 stateless (Python)"
ENV_DEVICE = "PYV4L2REQ_VA_DEVICE"
ENV_DEBUG = "PYV4L2REQ_VA_DEBUG"

PROFILES = (va.VAProfileH264ConstrainedBaseline, va.VAProfileH264Main, va.VAProfileH264High)
ENTRYPOINTS = (va.VAEntrypointVLD,)
RT_FORMATS = va.VA_RT_FORMAT_YUV420
MIN_SIZE = 16
MAX_SIZE = 4096          # the H.264 controls' limit for levels up to 5.2 in V4L2 drivers we target
CONFIG_ID_BASE = 0x1000  # ids distinct from 0 and from VA_INVALID_ID


@dataclass(frozen=True)
class Limits:
    """The ``max_*`` counts libva reads from VADriverContext after init (all non-zero)."""

    max_profiles: int = len(PROFILES)
    max_entrypoints: int = len(ENTRYPOINTS)
    max_attributes: int = 1            # QueryConfigAttributes returns RTFormat only
    max_image_formats: int = 1         # NV12
    max_subpic_formats: int = 1        # none supported, but libva requires a non-zero count
    max_display_attributes: int = 1    # none supported, same


class VAError(Exception):
    """A VA call refused: ``status`` is the VAStatus the entry point returns."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (VAStatus {status:#x})")
        self.status = status


@dataclass(frozen=True)
class Config:
    profile: int
    entrypoint: int
    rt_format: int


@dataclass(frozen=True)
class SurfaceAttrib:
    """One VASurfaceAttrib: integer-valued (``VAGenericValueTypeInteger``)."""

    type: int
    flags: int
    value: int


@dataclass(frozen=True)
class ImageFormat:
    fourcc: int
    byte_order: int
    bits_per_pixel: int


def parse_device(value: str | None) -> str:
    """``PYV4L2REQ_VA_DEVICE``: ``auto`` (default), ``emulated`` or a ``/dev/videoN`` path."""
    value = (value or "auto").strip()
    if value in ("auto", "emulated") or value.startswith("/dev/"):
        return value
    raise ValueError(f"{ENV_DEVICE}={value!r}: expected auto, emulated or /dev/videoN")


def debug_enabled(environ=os.environ) -> bool:
    return environ.get(ENV_DEBUG, "").strip().lower() not in ("", "0", "false", "no")


def log(message: str) -> None:
    """A debug line on stderr when ``PYV4L2REQ_VA_DEBUG`` is set."""
    if debug_enabled():
        print(f"pyv4l2req-va: {message}", file=sys.stderr, flush=True)


@dataclass
class Driver:
    """One VADriverContext's state (libva creates one per vaInitialize)."""

    device: str = "auto"
    limits: Limits = field(default_factory=Limits)
    configs: dict[int, Config] = field(default_factory=dict)
    _next_config: int = CONFIG_ID_BASE

    @classmethod
    def from_environ(cls, environ=os.environ) -> Driver:
        return cls(device=parse_device(environ.get(ENV_DEVICE)))

    # -- queries ------------------------------------------------------------------------------
    def query_config_profiles(self) -> list[int]:
        return list(PROFILES)

    def query_config_entrypoints(self, profile: int) -> list[int]:
        self._check_profile(profile)
        return list(ENTRYPOINTS)

    def get_config_attributes(self, profile: int, entrypoint: int, types: list[int]) -> list[int]:
        """The value of each requested attribute type; unknown ones ``VA_ATTRIB_NOT_SUPPORTED``."""
        self._check(profile, entrypoint)
        return [RT_FORMATS if t == va.VAConfigAttribRTFormat else va.VA_ATTRIB_NOT_SUPPORTED for t in types]

    def query_image_formats(self) -> list[ImageFormat]:
        return [ImageFormat(va.VA_FOURCC_NV12, va.VA_LSB_FIRST, 12)]

    def query_surface_attributes(self, config_id: int) -> list[SurfaceAttrib]:
        self.config(config_id)
        get, both = va.VA_SURFACE_ATTRIB_GETTABLE, va.VA_SURFACE_ATTRIB_GETTABLE | va.VA_SURFACE_ATTRIB_SETTABLE
        return [
            SurfaceAttrib(va.VASurfaceAttribPixelFormat, both, va.VA_FOURCC_NV12),
            SurfaceAttrib(va.VASurfaceAttribMinWidth, get, MIN_SIZE),
            SurfaceAttrib(va.VASurfaceAttribMaxWidth, get, MAX_SIZE),
            SurfaceAttrib(va.VASurfaceAttribMinHeight, get, MIN_SIZE),
            SurfaceAttrib(va.VASurfaceAttribMaxHeight, get, MAX_SIZE),
            SurfaceAttrib(va.VASurfaceAttribMemoryType, both, va.VA_SURFACE_ATTRIB_MEM_TYPE_VA),
        ]

    # -- configs ------------------------------------------------------------------------------
    def create_config(self, profile: int, entrypoint: int, attribs: list[tuple[int, int]]) -> int:
        """A new config id. RTFormat, when given, must ask for YUV420 only; other attribute
        types are ignored for a decoder (as Mesa does) and logged."""
        self._check(profile, entrypoint)
        rt_format = RT_FORMATS
        for kind, value in attribs:
            if kind == va.VAConfigAttribRTFormat:
                if value == 0 or value & ~RT_FORMATS:
                    raise VAError(va.VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT,
                                  f"RTFormat {value:#x}: only YUV420 ({RT_FORMATS:#x}) is supported")
                rt_format = value
            else:
                log(f"CreateConfig: attribute type {kind} = {value:#x} ignored")
        config_id = self._next_config
        self._next_config += 1
        self.configs[config_id] = Config(profile, entrypoint, rt_format)
        return config_id

    def destroy_config(self, config_id: int) -> None:
        self.config(config_id)
        del self.configs[config_id]

    def query_config_attributes(self, config_id: int) -> tuple[Config, list[tuple[int, int]]]:
        config = self.config(config_id)
        return config, [(va.VAConfigAttribRTFormat, config.rt_format)]

    def config(self, config_id: int) -> Config:
        try:
            return self.configs[config_id]
        except KeyError:
            raise VAError(va.VA_STATUS_ERROR_INVALID_CONFIG, f"no config {config_id:#x}") from None

    def terminate(self) -> None:
        self.configs.clear()

    # -- checks -------------------------------------------------------------------------------
    def _check_profile(self, profile: int) -> None:
        if profile not in PROFILES:
            raise VAError(va.VA_STATUS_ERROR_UNSUPPORTED_PROFILE, f"profile {profile} not supported")

    def _check(self, profile: int, entrypoint: int) -> None:
        self._check_profile(profile)
        if entrypoint not in ENTRYPOINTS:
            raise VAError(va.VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT, f"entrypoint {entrypoint} not supported")
