"""Build ``pyv4l2req_drv_video.so`` with cffi's embedding mode against the installed libva.

API mode: the declarations below leave struct layouts to the C compiler (``...;``), which reads
the real ones from ``<va/va_backend.h>``. The vtable slots and their C signatures are read
from that same header (:mod:`pyv4l2req_va.header`), one ``extern "Python"`` per slot.
"""

from __future__ import annotations

import shutil
import site
import sys
import sysconfig
import tempfile
from pathlib import Path

from . import vaconst
from .header import Slot, read_slots

MODULE = "_pyv4l2req_va_drv"
DRIVER_NAME = "pyv4l2req"
SO_NAME = f"{DRIVER_NAME}_drv_video.so"
INIT_ENTRY = "pyv4l2req_va_driver_init"

TYPES = """
typedef int VAStatus;
typedef int... VAProfile;
typedef int... VAEntrypoint;
typedef int... VABufferType;
typedef int... VASurfaceStatus;
typedef int... VAConfigAttribType;
typedef int... VAGenericValueType;
typedef int... VASurfaceAttribType;
typedef int... VAConfigID;
typedef int... VAContextID;
typedef int... VASurfaceID;
typedef int... VABufferID;
typedef int... VAImageID;
typedef int... VASubpictureID;
typedef int... VAMFContextID;
typedef struct { ...; } VABufferInfo;
typedef struct { ...; } VACopyObject;
typedef struct { ...; } VADisplayAttribute;
typedef struct { ...; } VAProcessingRateParameter;
typedef struct { ...; } VARectangle;
typedef struct { ...; } VAImage;
typedef union { uint32_t value; ...; } VACopyOption;
typedef struct { VAConfigAttribType type; uint32_t value; ...; } VAConfigAttrib;
typedef struct { uint32_t fourcc; uint32_t byte_order; uint32_t bits_per_pixel; ...; } VAImageFormat;
typedef struct {
    VAGenericValueType type;
    union { int32_t i; float f; void *p; void (*fn)(void); } value;
    ...;
} VAGenericValue;
typedef struct { VASurfaceAttribType type; uint32_t flags; VAGenericValue value; ...; } VASurfaceAttrib;
typedef struct VADriverContext *VADriverContextP;
"""

CONTEXT = """
struct VADriverContext {
    void *pDriverData;
    struct VADriverVTable *vtable;
    int version_major;
    int version_minor;
    int max_profiles;
    int max_entrypoints;
    int max_attributes;
    int max_image_formats;
    int max_subpic_formats;
    int max_display_attributes;
    const char *str_vendor;
    ...;
};
#define VA_MAJOR_VERSION ...
#define VA_MINOR_VERSION ...
"""

# The exported entry point is C: it tells a Python start-up failure (after which cffi's
# embedded call returns 0, i.e. VA_STATUS_SUCCESS) from a real success: only the Python init
# sets str_vendor. In a process without Python (vainfo, FFmpeg) it first names the installing
# interpreter as the program, so the embedded Python finds the same stdlib and prefix
# (a virtualenv's pyvenv.cfg included) instead of searching PATH for "python3".
SOURCE = """
#include <va/va_backend.h>
#include <va/va_drmcommon.h>
#include <va/va_version.h>

VAStatus %(init)s(VADriverContextP ctx);

__attribute__((visibility("default")))
VAStatus __vaDriverInit_1_0(VADriverContextP ctx)
{
    VAStatus status;
    if (!Py_IsInitialized()) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        Py_SetProgramName(L%(executable)s);
#pragma GCC diagnostic pop
    }
    ctx->str_vendor = NULL;
    status = %(init)s(ctx);
    if (status == VA_STATUS_SUCCESS && ctx->str_vendor == NULL)
        return VA_STATUS_ERROR_OPERATION_FAILED;  /* the embedded Python did not start */
    return status;
}
"""


def c_string(text: str) -> str:
    """A C string literal for ``text``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def extern_name(slot: str) -> str:
    """The ``extern "Python"`` function behind a vtable slot."""
    return f"pyva_{slot}"


def constant_decls() -> str:
    """Every vaconst name, valued by the compiler (macros as #define, enumerators as consts)."""
    lines = []
    for name in vaconst.NAMES:
        lines.append(f"#define {name} ..." if name.startswith("VA_") else f"static const int {name};")
    return "\n".join(lines)


def cdef(slots: list[Slot]) -> str:
    vtable = "\n".join(f"    VAStatus (*{s.name})({s.params});" for s in slots)
    externs = "\n".join(f'extern "Python" VAStatus {extern_name(s.name)}({s.params});' for s in slots)
    return "\n".join([TYPES, "struct VADriverVTable {", vtable, "    ...;", "};", CONTEXT,
                      constant_decls(), externs])


def site_dirs() -> list[str]:
    """Where this interpreter finds packages (a virtualenv's site-packages included): the
    embedded interpreter gets them with site.addsitedir, so .pth files (editable installs) work."""
    dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return list(dict.fromkeys(d for d in dirs if Path(d).is_dir()))


def init_code(slots: list[Slot]) -> str:
    """The Python the driver runs when libva first calls it."""
    return f"""\
import site, sys
for _d in {site_dirs()!r}:
    if _d not in sys.path:
        site.addsitedir(_d)
from {MODULE} import ffi, lib
from pyv4l2req_va import callbacks
callbacks.register(ffi, lib, {[s.name for s in slots]!r}, {INIT_ENTRY!r})
"""


def make_ffi(slots: list[Slot], include_dir: Path | None = None):
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(cdef(slots))
    ffi.embedding_api(f"VAStatus {INIT_ENTRY}(VADriverContextP ctx);")
    ffi.embedding_init_code(init_code(slots))
    libdir = sysconfig.get_config_var("LIBDIR")
    link_args = [f"-Wl,-rpath,{libdir}"] if libdir and libdir not in ("/usr/lib", "/lib") else []
    include_dirs = [str(include_dir)] if include_dir else []
    # The C entry point needs the embedding function's prototype before cffi's code defines it.
    ffi.set_source(MODULE, SOURCE % {"init": INIT_ENTRY, "executable": c_string(sys.executable)}, include_dirs=include_dirs,
                   extra_link_args=link_args)
    return ffi


def build(target_dir: Path, include_dir: Path | None = None, verbose: bool = False) -> Path:
    """Compile the driver into ``target_dir/pyv4l2req_drv_video.so`` and return its path."""
    slots = read_slots(include_dir)
    ffi = make_ffi(slots, include_dir)
    target_dir = Path(target_dir).resolve()
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyv4l2req-va-build-") as tmp:
        built = Path(ffi.compile(tmpdir=tmp, target=SO_NAME, verbose=verbose))
        out = target_dir / SO_NAME
        tmp_out = target_dir / (SO_NAME + ".tmp")
        shutil.copyfile(built, tmp_out)
        tmp_out.replace(out)  # atomic: a process that loaded the old one keeps its mapping
    return out


def python_info() -> str:
    return f"{sys.executable} (Python {sys.version.split()[0]})"
