"""In the test-kernel VM (vgem gives /dev/dri/renderD128): libva loads the driver built there and
``vainfo`` lists what it answers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

RENDER_NODE = "/dev/dri/renderD128"


def _need(ok: bool, what: str) -> None:
    if not ok:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI is set but {what} is missing (.ci/run installs it)")
        pytest.skip(f"{what} is missing")


@pytest.mark.vm
def test_vainfo_lists_h264_vld(installed_driver: tuple[Path, str]) -> None:
    so, _ = installed_driver
    vainfo = shutil.which("vainfo")
    _need(vainfo is not None, "vainfo (apt-get install vainfo)")
    _need(os.path.exists(RENDER_NODE), f"{RENDER_NODE} (vgem in the test kernel)")
    env = {**os.environ, "LIBVA_DRIVER_NAME": "pyv4l2req", "LIBVA_DRIVERS_PATH": str(so.parent)}
    env.pop("PYV4L2REQ_VA_DEVICE", None)
    run = subprocess.run([vainfo, "--display", "drm", "--device", RENDER_NODE], capture_output=True,
                         text=True, env=env, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert f"Trying to open {so}" in out
    assert "Driver version: pyv4l2req V4L2 stateless (Python)" in out
    # "      VAProfileH264Main               :\tVAEntrypointVLD"
    listed = [tuple(part.strip() for part in line.split(":")) for line in run.stdout.splitlines()
              if line.strip().startswith("VAProfile")]
    assert listed == [("VAProfileH264ConstrainedBaseline", "VAEntrypointVLD"),
                      ("VAProfileH264Main", "VAEntrypointVLD"), ("VAProfileH264High", "VAEntrypointVLD")], out
    print(run.stdout)  # in the VM junit XML
