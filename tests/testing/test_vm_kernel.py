"""Facts about the test kernel, checked inside the VM (and thereby the VM plugin itself)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _video_names() -> list[str]:
    return sorted(p.read_text().strip() for p in Path("/sys/class/video4linux").glob("*/name"))


@pytest.mark.vm
def test_inside_the_vm_with_visl_and_vicodec() -> None:
    assert os.environ.get("PYV4L2REQ_IN_VM") == "1"
    names = _video_names()
    assert "visl" in names
    assert {"stateful-encoder", "stateful-decoder", "stateless-decoder", "vim2m"} <= set(names)


@pytest.mark.vm
@pytest.mark.parametrize("driver", ["visl", "vicodec", "vim2m"])
def test_driver_module_is_present(driver: str) -> None:
    assert Path("/sys/module", driver).is_dir()


@pytest.mark.vm(cmdline="vicodec.multiplanar=1")
def test_vicodec_multiplanar_cmdline_group() -> None:
    assert "vicodec.multiplanar=1" in Path("/proc/cmdline").read_text().split()
    assert Path("/sys/module/vicodec/parameters/multiplanar").read_text().strip() == "Y"


@pytest.mark.vm
def test_default_group_boots_without_multiplanar() -> None:
    assert Path("/sys/module/vicodec/parameters/multiplanar").read_text().strip() == "N"
