"""The C side of the driver: cffi ``extern "Python"`` callbacks behind every vtable slot.

Runs inside the built ``pyv4l2req_drv_video.so``: its init code calls :func:`register`, which
defines the init entry point and one callback per slot of ``struct VADriverVTable``. Each
callback converts C arguments, calls :class:`~pyv4l2req_va.driver.Driver` and writes results
back; a :class:`~pyv4l2req_va.driver.VAError` becomes its status, any other exception
``VA_STATUS_ERROR_OPERATION_FAILED`` (cffi's ``error=``: never 0, which is success). Slots
without an implementation return ``VA_STATUS_ERROR_UNIMPLEMENTED``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from . import vaconst as va
from .driver import VENDOR, Driver, VAError, log

_ffi: Any = None
_lib: Any = None
_slots: list[str] = []
_contexts: dict[int, tuple[Driver, Any, Any]] = {}
"""ctx address -> (driver, its cffi handle in pDriverData, the vendor string buffer): kept
alive here for as long as libva may read them."""


def unimplemented(slot: str) -> Callable[..., int]:
    """The callback of a slot the driver does not implement (yet)."""

    def callback(*args: Any) -> int:
        log(f"{slot}: not implemented")
        return va.VA_STATUS_ERROR_UNIMPLEMENTED

    callback.__name__ = f"unimplemented_{slot}"
    return callback


def _driver(ctx: Any) -> Driver:
    entry = _contexts.get(_address(ctx))
    if entry is None:
        raise VAError(va.VA_STATUS_ERROR_OPERATION_FAILED, "context not initialised by this driver")
    return entry[0]


def _address(ctx: Any) -> int:
    return int(_ffi.cast("uintptr_t", ctx))


def _guarded(slot: str, func: Callable[..., int]) -> Callable[..., int]:
    @functools.wraps(func)
    def callback(ctx: Any, *args: Any) -> int:
        try:
            status = func(ctx, *args)
        except VAError as exc:
            log(f"{slot}: {exc}")
            return exc.status
        log(f"{slot}: ok")
        return va.VA_STATUS_SUCCESS if status is None else status

    return callback


def check_constants(lib: Any) -> list[str]:
    """Names whose vaconst value differs from the compiled header's (empty when all agree)."""
    return [n for n in va.NAMES if getattr(va, n) != getattr(lib, n)]


# -- init -------------------------------------------------------------------------------------
def driver_init(ctx: Any) -> int:
    wrong = check_constants(_lib)
    if wrong:
        raise RuntimeError(f"vaconst disagrees with va.h on {wrong}")
    if ctx == _ffi.NULL or ctx.vtable == _ffi.NULL:
        return va.VA_STATUS_ERROR_INVALID_PARAMETER
    driver = Driver.from_environ()
    handle = _ffi.new_handle(driver)
    vendor = _ffi.new("char[]", VENDOR.encode())
    _contexts[_address(ctx)] = (driver, handle, vendor)
    ctx.pDriverData = handle
    ctx.version_major = _lib.VA_MAJOR_VERSION
    ctx.version_minor = _lib.VA_MINOR_VERSION
    for name, value in vars(driver.limits).items():
        setattr(ctx, name, value)
    for slot in _slots:
        setattr(ctx.vtable, slot, getattr(_lib, f"pyva_{slot}"))
    ctx.str_vendor = vendor  # last: the C entry point takes a NULL vendor for a failed start
    log(f"init: device {driver.device}, {len(_slots)} vtable slots")
    return va.VA_STATUS_SUCCESS


# -- implemented slots ------------------------------------------------------------------------
def vaTerminate(ctx):
    _driver(ctx).terminate()
    del _contexts[_address(ctx)]
    ctx.pDriverData = _ffi.NULL


def vaQueryConfigProfiles(ctx, profile_list, num_profiles):
    profiles = _driver(ctx).query_config_profiles()
    for i, p in enumerate(profiles):
        profile_list[i] = p
    num_profiles[0] = len(profiles)


def vaQueryConfigEntrypoints(ctx, profile, entrypoint_list, num_entrypoints):
    entrypoints = _driver(ctx).query_config_entrypoints(profile)
    for i, e in enumerate(entrypoints):
        entrypoint_list[i] = e
    num_entrypoints[0] = len(entrypoints)


def vaGetConfigAttributes(ctx, profile, entrypoint, attrib_list, num_attribs):
    types = [attrib_list[i].type for i in range(num_attribs)]
    for i, value in enumerate(_driver(ctx).get_config_attributes(profile, entrypoint, types)):
        attrib_list[i].value = value


def vaCreateConfig(ctx, profile, entrypoint, attrib_list, num_attribs, config_id):
    if num_attribs > 0 and attrib_list == _ffi.NULL:
        return va.VA_STATUS_ERROR_INVALID_PARAMETER
    attribs = [(attrib_list[i].type, attrib_list[i].value) for i in range(num_attribs)]
    config_id[0] = _driver(ctx).create_config(profile, entrypoint, attribs)


def vaDestroyConfig(ctx, config_id):
    _driver(ctx).destroy_config(config_id)


def vaQueryConfigAttributes(ctx, config_id, profile, entrypoint, attrib_list, num_attribs):
    config, attribs = _driver(ctx).query_config_attributes(config_id)
    profile[0] = config.profile
    entrypoint[0] = config.entrypoint
    for i, (kind, value) in enumerate(attribs):
        attrib_list[i].type = kind
        attrib_list[i].value = value
    num_attribs[0] = len(attribs)


def vaQueryImageFormats(ctx, format_list, num_formats):
    formats = _driver(ctx).query_image_formats()
    size = _ffi.sizeof("VAImageFormat")
    for i, f in enumerate(formats):
        _ffi.memmove(format_list + i, bytes(size), size)
        format_list[i].fourcc = f.fourcc
        format_list[i].byte_order = f.byte_order
        format_list[i].bits_per_pixel = f.bits_per_pixel
    num_formats[0] = len(formats)


def vaQuerySurfaceAttributes(ctx, config_id, attrib_list, num_attribs):
    """FFmpeg asks the count first (NULL list), then passes exactly that many entries."""
    attribs = _driver(ctx).query_surface_attributes(config_id)
    if attrib_list == _ffi.NULL:
        num_attribs[0] = len(attribs)
        return None
    if num_attribs[0] < len(attribs):
        num_attribs[0] = len(attribs)
        return va.VA_STATUS_ERROR_MAX_NUM_EXCEEDED
    size = _ffi.sizeof("VASurfaceAttrib")
    for i, a in enumerate(attribs):
        _ffi.memmove(attrib_list + i, bytes(size), size)
        attrib_list[i].type = a.type
        attrib_list[i].flags = a.flags
        attrib_list[i].value.type = va.VAGenericValueTypeInteger
        attrib_list[i].value.value.i = a.value
    num_attribs[0] = len(attribs)


IMPLEMENTED: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (vaTerminate, vaQueryConfigProfiles, vaQueryConfigEntrypoints, vaGetConfigAttributes,
              vaCreateConfig, vaDestroyConfig, vaQueryConfigAttributes, vaQueryImageFormats,
              vaQuerySurfaceAttributes)
}


def callback_for(slot: str) -> Callable[..., int]:
    """What the ``extern "Python"`` function of ``slot`` runs."""
    impl = IMPLEMENTED.get(slot)
    return unimplemented(slot) if impl is None else _guarded(slot, impl)


def register(ffi: Any, lib: Any, slots: list[str], init_entry: str) -> None:
    """Called once by the driver's init code: attach every callback to its C declaration."""
    global _ffi, _lib, _slots
    _ffi, _lib, _slots = ffi, lib, list(slots)
    error = va.VA_STATUS_ERROR_OPERATION_FAILED
    ffi.def_extern(name=init_entry, error=error)(driver_init)
    for slot in slots:
        ffi.def_extern(name=f"pyva_{slot}", error=error)(callback_for(slot))
