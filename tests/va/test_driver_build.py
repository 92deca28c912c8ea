"""``pyv4l2req-va install`` builds a driver libva can load; loaded in a process like libva
does, its entry points answer through the real struct layouts of libva-dev's headers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("driver_harness.py")


def test_install_prints_the_two_exports(installed_driver: tuple[Path, str]) -> None:
    so, stdout = installed_driver
    assert so.is_file()
    assert stdout.splitlines() == ["export LIBVA_DRIVER_NAME=pyv4l2req", f"export LIBVA_DRIVERS_PATH={so.parent}"]


def test_driver_exports_the_init_function(installed_driver: tuple[Path, str]) -> None:
    so, _ = installed_driver
    nm = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True, text=True, check=True)
    assert "__vaDriverInit_1_0" in nm.stdout.split()


def test_vaconst_matches_the_headers(installed_driver: tuple[Path, str]) -> None:
    """vaconst's numbers equal va.h's (the driver checks this at init too; a difference fails init)."""
    from pyv4l2req_va import vaconst

    code = (
        "import ctypes,os,sys,json; ctypes.CDLL(sys.argv[1], os.RTLD_NOW|os.RTLD_GLOBAL);"
        "import importlib.machinery as m, importlib.util as u;"
        "l=m.ExtensionFileLoader('_pyv4l2req_va_drv', sys.argv[1]);"
        "s=u.spec_from_loader('_pyv4l2req_va_drv', l); mod=u.module_from_spec(s); l.exec_module(mod);"
        f"print(json.dumps({{n: getattr(mod.lib, n) for n in {vaconst.NAMES!r}}}))"
    )
    run = subprocess.run([sys.executable, "-c", code, str(installed_driver[0])], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {n: getattr(vaconst, n) for n in vaconst.NAMES}


@pytest.fixture(scope="module")
def harness(installed_driver: tuple[Path, str]) -> dict:
    run = subprocess.run([sys.executable, str(HARNESS), str(installed_driver[0])], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_init_fills_the_context(harness: dict) -> None:
    from pyv4l2req_va import header

    assert harness["init"] == 0
    assert harness["vendor"] == "pyv4l2req V4L2 stateless (Python)"
    assert all(v > 0 for v in harness["limits"].values()), harness["limits"]
    assert harness["null_slots"] == []
    assert harness["slot_count"] == len(header.read_slots())


def test_queries_through_the_vtable(harness: dict) -> None:
    from pyv4l2req_va import vaconst as va

    h264 = [va.VAProfileH264ConstrainedBaseline, va.VAProfileH264Main, va.VAProfileH264High]
    assert harness["QueryConfigProfiles"] == 0 and harness["profiles"] == h264
    for p in h264:
        assert harness["entrypoints"][str(p)] == [0, [va.VAEntrypointVLD]]
    assert harness["entrypoints"][str(va.VAProfileH264Main + 1000)][0] == va.VA_STATUS_ERROR_UNSUPPORTED_PROFILE
    assert harness["GetConfigAttributes"] == 0
    assert harness["config_attrib_values"] == [va.VA_RT_FORMAT_YUV420, va.VA_ATTRIB_NOT_SUPPORTED]
    assert harness["CreateConfig_none"] == 0
    assert harness["CreateConfig_yuv444"] == va.VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT
    assert harness["CreateConfig_bad_profile"] == va.VA_STATUS_ERROR_UNSUPPORTED_PROFILE
    assert harness["QueryConfigAttributes"] == 0
    assert harness["queried_config"] == [va.VAProfileH264Main, va.VAEntrypointVLD,
                                         [[va.VAConfigAttribRTFormat, va.VA_RT_FORMAT_YUV420]]]
    assert harness["image_formats"] == [[va.VA_FOURCC_NV12, va.VA_LSB_FIRST, 12]]
    assert harness["DestroyConfig"] == 0 and harness["DestroyConfig_again"] == va.VA_STATUS_ERROR_INVALID_CONFIG


def test_surface_attributes_count_query_then_fill(harness: dict) -> None:
    from pyv4l2req_va import vaconst as va

    assert harness["QuerySurfaceAttributes_count"] == 0
    count = harness["surface_attrib_count"]
    assert count == len(harness["surface_attribs"]) > 0
    assert harness["QuerySurfaceAttributes_short"] == va.VA_STATUS_ERROR_MAX_NUM_EXCEEDED
    assert harness["QuerySurfaceAttributes"] == 0
    by_type = {t: (flags, vtype, value) for t, flags, vtype, value in harness["surface_attribs"]}
    assert by_type[va.VASurfaceAttribPixelFormat][1:] == (va.VAGenericValueTypeInteger, va.VA_FOURCC_NV12)
    for t in (va.VASurfaceAttribMinWidth, va.VASurfaceAttribMaxWidth, va.VASurfaceAttribMinHeight,
              va.VASurfaceAttribMaxHeight, va.VASurfaceAttribMemoryType):
        assert t in by_type


def test_unimplemented_slots_and_terminate(harness: dict) -> None:
    from pyv4l2req_va import vaconst as va

    assert set(harness["unimplemented"].values()) == {va.VA_STATUS_ERROR_UNIMPLEMENTED}
    assert harness["Terminate"] == 0
    # after Terminate the context is gone: a call fails, and never with 0 (success)
    assert harness["after_terminate"] == va.VA_STATUS_ERROR_OPERATION_FAILED


def test_failed_init_is_not_success(installed_driver: tuple[Path, str]) -> None:
    """An exception in the Python init (here a bad PYV4L2REQ_VA_DEVICE) returns an error status,
    never 0 (cffi's default for an exception), and stderr says why."""
    from pyv4l2req_va import vaconst as va

    env = {**__import__("os").environ, "PYV4L2REQ_VA_DEVICE": "video3"}
    run = subprocess.run([sys.executable, str(HARNESS), str(installed_driver[0])], capture_output=True,
                         text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"init": va.VA_STATUS_ERROR_OPERATION_FAILED}
    assert "PYV4L2REQ_VA_DEVICE='video3'" in run.stderr


def test_failed_python_start_is_not_success(installed_driver: tuple[Path, str]) -> None:
    """When the driver's Python init code fails, cffi's embedded call returns 0; the C entry
    point sees that str_vendor was never set and returns VA_STATUS_ERROR_OPERATION_FAILED."""
    from pyv4l2req_va import vaconst as va

    run = subprocess.run([sys.executable, str(HARNESS), str(installed_driver[0]), "--break-start"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"init": va.VA_STATUS_ERROR_OPERATION_FAILED}
    assert "ImportError" in run.stderr or "ModuleNotFoundError" in run.stderr, run.stderr
