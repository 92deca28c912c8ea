"""Load a built pyv4l2req_drv_video.so into this process the way libva does, call its slots.

Run as ``python driver_harness.py SO``: dlopen with RTLD_GLOBAL, ``__vaDriverInit_1_0`` on a
zeroed VADriverContext whose vtable points at a zeroed VADriverVTable (what libva hands a
driver), then the vtable's function pointers through the driver's own cffi module (the real
struct layouts). Prints one JSON object with what came back.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys


def main(so: str) -> dict:
    out: dict = {}
    ctx_buf = ctypes.create_string_buffer(1 << 14)
    vt_buf = ctypes.create_string_buffer(1 << 14)
    # struct VADriverContext starts with void *pDriverData, struct VADriverVTable *vtable
    ctypes.c_void_p.from_buffer(ctx_buf, ctypes.sizeof(ctypes.c_void_p)).value = ctypes.addressof(vt_buf)
    dll = ctypes.CDLL(so, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    out["init"] = dll.__vaDriverInit_1_0(ctypes.c_void_p(ctypes.addressof(ctx_buf)))
    if out["init"] != 0:
        return out
    mod = sys.modules["_pyv4l2req_va_drv"]
    ffi, lib = mod.ffi, mod.lib
    out["vtable_offset"] = ffi.offsetof("struct VADriverContext", "vtable")
    ctx = ffi.cast("VADriverContextP", ctypes.addressof(ctx_buf))
    vt = ctx.vtable
    out["vendor"] = ffi.string(ctx.str_vendor).decode()
    out["limits"] = {k: getattr(ctx, k) for k in (
        "max_profiles", "max_entrypoints", "max_attributes", "max_image_formats",
        "max_subpic_formats", "max_display_attributes")}
    slots = [name for name in dir(vt)]
    out["null_slots"] = [s for s in slots if getattr(vt, s) == ffi.NULL]
    out["slot_count"] = len(slots)

    profiles = ffi.new("VAProfile[]", ctx.max_profiles)
    n = ffi.new("int *")
    out["QueryConfigProfiles"] = vt.vaQueryConfigProfiles(ctx, profiles, n)
    out["profiles"] = [profiles[i] for i in range(n[0])]
    eps = ffi.new("VAEntrypoint[]", ctx.max_entrypoints)
    out["entrypoints"] = {}
    for p in out["profiles"] + [lib.VAProfileH264Main + 1000]:
        st = vt.vaQueryConfigEntrypoints(ctx, p, eps, n)
        out["entrypoints"][str(p)] = [st, [eps[i] for i in range(n[0])] if st == 0 else []]

    attrib = ffi.new("VAConfigAttrib[2]")
    attrib[0].type, attrib[1].type = lib.VAConfigAttribRTFormat, 9999
    out["GetConfigAttributes"] = vt.vaGetConfigAttributes(ctx, lib.VAProfileH264High, lib.VAEntrypointVLD, attrib, 2)
    out["config_attrib_values"] = [attrib[0].value, attrib[1].value]

    cid = ffi.new("VAConfigID *")
    out["CreateConfig_none"] = vt.vaCreateConfig(ctx, lib.VAProfileH264Main, lib.VAEntrypointVLD, ffi.NULL, 0, cid)
    first = cid[0]
    attrib[0].value = 0x4  # VA_RT_FORMAT_YUV444
    out["CreateConfig_yuv444"] = vt.vaCreateConfig(ctx, lib.VAProfileH264Main, lib.VAEntrypointVLD, attrib, 1, cid)
    out["CreateConfig_bad_profile"] = vt.vaCreateConfig(ctx, 0, lib.VAEntrypointVLD, ffi.NULL, 0, cid)

    prof, ep, na = ffi.new("VAProfile *"), ffi.new("VAEntrypoint *"), ffi.new("int *")
    qattr = ffi.new("VAConfigAttrib[]", ctx.max_attributes)
    out["QueryConfigAttributes"] = vt.vaQueryConfigAttributes(ctx, first, prof, ep, qattr, na)
    out["queried_config"] = [prof[0], ep[0], [[qattr[i].type, qattr[i].value] for i in range(na[0])]]

    un = ffi.new("unsigned int *")
    out["QuerySurfaceAttributes_count"] = vt.vaQuerySurfaceAttributes(ctx, first, ffi.NULL, un)
    count = un[0]
    out["surface_attrib_count"] = count
    un[0] = count - 1
    sa = ffi.new("VASurfaceAttrib[]", count)
    out["QuerySurfaceAttributes_short"] = vt.vaQuerySurfaceAttributes(ctx, first, sa, un)
    un[0] = count
    out["QuerySurfaceAttributes"] = vt.vaQuerySurfaceAttributes(ctx, first, sa, un)
    out["surface_attribs"] = [[sa[i].type, sa[i].flags, sa[i].value.type, sa[i].value.value.i]
                              for i in range(un[0])]

    fmts = ffi.new("VAImageFormat[]", ctx.max_image_formats)
    out["QueryImageFormats"] = vt.vaQueryImageFormats(ctx, fmts, n)
    out["image_formats"] = [[fmts[i].fourcc, fmts[i].byte_order, fmts[i].bits_per_pixel] for i in range(n[0])]

    out["DestroyConfig"] = vt.vaDestroyConfig(ctx, first)
    out["DestroyConfig_again"] = vt.vaDestroyConfig(ctx, first)
    out["unimplemented"] = {
        "vaBeginPicture": vt.vaBeginPicture(ctx, 1, 2),
        "vaCreateSurfaces": vt.vaCreateSurfaces(ctx, 16, 16, 1, 0, ffi.NULL),
        "vaQuerySubpictureFormats": vt.vaQuerySubpictureFormats(ctx, ffi.NULL, ffi.NULL, ffi.NULL),
        "vaBufferInfo": vt.vaBufferInfo(ctx, 1, ffi.NULL, ffi.NULL, ffi.NULL),
    }
    out["Terminate"] = vt.vaTerminate(ctx)
    out["after_terminate"] = vt.vaQueryConfigProfiles(ctx, profiles, n)
    return out


if __name__ == "__main__":
    if "--break-start" in sys.argv[2:]:
        # the driver's Python start-up (its init code) fails: pyv4l2req_va.callbacks cannot be imported
        sys.modules["pyv4l2req_va.callbacks"] = None  # type: ignore[assignment]
    print(json.dumps(main(sys.argv[1])))
