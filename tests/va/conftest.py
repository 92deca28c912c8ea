"""Fixtures of the VA driver tests: the tools they need (skipped outside CI, failed in CI) and
one driver built per session with the real ``pyv4l2req-va install``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HEADER = Path("/usr/include/va/va_backend.h")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def need(ok: bool, what: str) -> None:
    """Skip with the reason when ``what`` is missing, or fail in CI (.ci/run installs it)."""
    if not ok:
        if _in_ci():
            pytest.fail(f"CI is set but {what} is missing (.ci/run installs it)")
        pytest.skip(f"{what} is missing")


def console_script() -> str | None:
    beside = Path(sys.executable).parent / "pyv4l2req-va"
    return str(beside) if beside.is_file() else shutil.which("pyv4l2req-va")


@pytest.fixture(scope="session")
def va_build_tools() -> str:
    """The ``pyv4l2req-va`` command with what it needs: cffi, gcc, libva-dev's headers."""
    try:
        import cffi  # noqa: F401
        import pyv4l2req_va  # noqa: F401
        have = True
    except ImportError:
        have = False
    need(have, "the adapter (pip install ./va) or cffi")
    need(shutil.which("gcc") is not None, "gcc")
    need(HEADER.is_file(), f"libva's headers ({HEADER}; apt-get install libva-dev)")
    script = console_script()
    need(script is not None, "the pyv4l2req-va command (pip install ./va)")
    assert script is not None
    return script


@pytest.fixture(scope="session")
def installed_driver(va_build_tools: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the built .so, the install command's stdout)."""
    target = tmp_path_factory.mktemp("va-driver")
    run = subprocess.run([va_build_tools, "install", "--dir", str(target)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return target / "pyv4l2req_drv_video.so", run.stdout
