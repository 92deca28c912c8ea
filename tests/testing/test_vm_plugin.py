"""The VM plugin of tests/conftest.py, run through pytester.

Most cases use a stand-in ``vng`` (and a stand-in ``qemu-system-x86_64`` that only has to be found)
on PATH that runs the guest script on the host (no VM) and logs its arguments: grouping by kernel command line, in-guest selection, options, missing
prerequisites, timeouts. One case boots the real test kernel: a deliberately failing in-VM test
must surface on the host with its in-VM failure text.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from pyv4l2req.testing import vm as vmrun

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
CONFTEST = REPO / "tests" / "conftest.py"

FAKE_VNG = """\
import json, os, subprocess, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_VNG_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
mode = os.environ.get("FAKE_VNG_MODE")
if mode == "hang":
    time.sleep(600)
if mode == "panic-once" and not os.path.exists(os.environ["FAKE_VNG_LOG"] + ".panicked"):
    open(os.environ["FAKE_VNG_LOG"] + ".panicked", "w").close()
    print("Kernel panic - not syncing: IO-APIC + timer doesn't work!")
    sys.exit(255)
# a guest starts with an empty environment: only what the guest script exports (+ our test log)
subprocess.run(args[args.index("--exec") + 1], shell=True, env={"RUN_LOG": os.environ["RUN_LOG"]})
sys.exit(255)   # like the real vng here: the guest's status only comes back through files
"""

GROUPED = """\
import json, os, pytest

def _log(name):
    with open(os.environ["RUN_LOG"], "a") as f:
        f.write(json.dumps([name, os.environ.get("PYV4L2REQ_IN_VM")]) + "\\n")

@pytest.mark.vm
def test_a():
    _log("a")

@pytest.mark.vm(cmdline="foo.bar=1")
def test_b():
    _log("b")

@pytest.mark.vm
@pytest.mark.parametrize("p", ["x y", "1/2"])
def test_c(p):
    _log("c[" + p + "]")

def test_d():
    _log("d")
"""


@pytest.fixture
def fake_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict:
    """A pytester project with our conftest and a stand-in vng that runs the guest on the host."""
    pytester.makeconftest(CONFTEST.read_text())
    bindir = tmp_path / "bin"
    bindir.mkdir()
    vng = bindir / "vng"
    vng.write_text(f"#!{sys.executable}\n" + FAKE_VNG)
    vng.chmod(0o755)
    # The stand-in vng never starts QEMU, but the plugin's prerequisite check looks for it on
    # PATH: a stand-in that fails if run keeps these tests independent of the host's QEMU
    # (missing or old); the real boot below skips (outside CI) when QEMU is missing.
    qemu = bindir / "qemu-system-x86_64"
    qemu.write_text("#!/bin/sh\necho 'stand-in qemu must not run' >&2\nexit 99\n")
    qemu.chmod(0o755)
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(b"not really a kernel")
    env = {"vng_log": tmp_path / "vng.log", "run_log": tmp_path / "run.log", "kernel": kernel,
           "bindir": bindir}
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VNG_LOG", str(env["vng_log"]))
    monkeypatch.setenv("RUN_LOG", str(env["run_log"]))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(vmrun.ENV_IN_VM, raising=False)
    return env


def _lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_groups_by_cmdline_one_boot_each(pytester: pytest.Pytester, fake_env: dict) -> None:
    pytester.makepyfile(test_grouped=GROUPED)
    result = pytester.runpytest_subprocess("-v", "-rs", f"--vm-kernel={fake_env['kernel']}")
    calls = _lines(fake_env["vng_log"])
    assert len(calls) == 2, calls
    appends = [c[c.index("--append") + 1].split() for c in calls]
    assert all("root=/dev/root" in a for a in appends)
    assert "foo.bar=1" not in appends[0] and "foo.bar=1" in appends[1]
    assert all("--disable-kvm" in c for c in calls)
    ran = _lines(fake_env["run_log"])
    # vm items ran once each, "inside"; the non-vm item once, on the host only
    assert sorted(ran) == sorted([["a", "1"], ["c[x y]", "1"], ["c[1/2]", "1"], ["d", None]])
    result.stdout.fnmatch_lines([
        "*test_grouped.py::test_a PASSED*",
        "*test_grouped.py::test_b SKIPPED*",
        "*test_grouped.py::test_c?x y? PASSED*",
        "*test_grouped.py::test_c?1/2? PASSED*",
        "*test_grouped.py::test_d PASSED*",
        "SKIPPED*needs kernel command line 'foo.bar=1'*",
    ])
    result.assert_outcomes(passed=4, skipped=1)


def test_ci_is_forwarded_to_the_guest(
    pytester: pytest.Pytester, fake_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_one=(
        "import os, pytest\n@pytest.mark.vm\ndef test_x():\n"
        "    assert os.environ.get('CI') == 'yes-ci' and os.environ['PYV4L2REQ_IN_VM'] == '1'\n"))
    monkeypatch.setenv("CI", "yes-ci")
    result = pytester.runpytest_subprocess(f"--vm-kernel={fake_env['kernel']}")
    result.assert_outcomes(passed=1)


def test_vm_only_and_no_vm(pytester: pytest.Pytester, fake_env: dict) -> None:
    pytester.makepyfile(test_grouped=GROUPED)
    only = pytester.runpytest_subprocess("--vm-only", f"--vm-kernel={fake_env['kernel']}")
    only.assert_outcomes(passed=3, skipped=1, deselected=1)
    assert ["d", None] not in _lines(fake_env["run_log"])
    fake_env["vng_log"].unlink()
    none = pytester.runpytest_subprocess("--no-vm", "-rs", f"--vm-kernel={fake_env['kernel']}")
    none.assert_outcomes(passed=1, skipped=4)
    none.stdout.fnmatch_lines(["SKIPPED*--no-vm given*"])
    assert not fake_env["vng_log"].exists()
    # -k deselection happens before grouping: only test_a reaches the (stand-in) VM
    fake_env["run_log"].unlink()
    picked = pytester.runpytest_subprocess("-k", "test_a", f"--vm-kernel={fake_env['kernel']}")
    picked.assert_outcomes(passed=1, deselected=4)
    assert _lines(fake_env["run_log"]) == [["a", "1"]]
    both = pytester.runpytest_subprocess("--no-vm", "--vm-only")
    assert both.ret == pytest.ExitCode.USAGE_ERROR


def test_missing_kernel_skips_outside_ci_and_fails_in_ci(
    pytester: pytest.Pytester, fake_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_grouped=GROUPED)
    missing = fake_env["kernel"].with_name("no-such-bzImage")
    result = pytester.runpytest_subprocess("-rs", f"--vm-kernel={missing}")
    result.assert_outcomes(passed=1, skipped=4)
    result.stdout.fnmatch_lines([f"SKIPPED*{missing} does not exist*"])
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess(f"--vm-kernel={missing}")
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines([f"*CI is set but the VM cannot run*{missing} does not exist*"])
    assert not fake_env["vng_log"].exists()


def test_missing_qemu_skips_outside_ci_and_fails_in_ci(
    pytester: pytest.Pytester, fake_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No qemu-system-x86_64 on PATH at all (neither the stand-in nor the host's)."""
    pytester.makepyfile(test_grouped=GROUPED)
    (fake_env["bindir"] / "qemu-system-x86_64").unlink()
    monkeypatch.setenv("PATH", str(fake_env["bindir"]))   # the host's QEMU is not found either
    result = pytester.runpytest_subprocess("-rs", f"--vm-kernel={fake_env['kernel']}")
    result.assert_outcomes(passed=1, skipped=4)
    result.stdout.fnmatch_lines(["SKIPPED*missing QEMU ('qemu-system-x86_64' not on PATH*"])
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess(f"--vm-kernel={fake_env['kernel']}")
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines(["*CI is set but the VM cannot run*missing QEMU*"])
    assert not fake_env["vng_log"].exists()


def test_hung_guest_is_killed_and_reported(
    pytester: pytest.Pytester, fake_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_one="import pytest\n@pytest.mark.vm\ndef test_x():\n    pass\n")
    monkeypatch.setenv("FAKE_VNG_MODE", "hang")
    result = pytester.runpytest_subprocess(f"--vm-kernel={fake_env['kernel']}", "--vm-timeout=2",
                                           timeout=120)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the VM run timed out after*"])


def test_boot_that_dies_before_the_script_is_retried_once(
    pytester: pytest.Pytester, fake_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_one="import pytest\n@pytest.mark.vm\ndef test_x():\n    pass\n")
    monkeypatch.setenv("FAKE_VNG_MODE", "panic-once")
    result = pytester.runpytest_subprocess(f"--vm-kernel={fake_env['kernel']}")
    result.assert_outcomes(passed=1)
    assert len(_lines(fake_env["vng_log"])) == 2


def test_broken_vm_settings_fail_the_group_cleanly(
    pytester: pytest.Pytester, fake_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_one="import pytest\n@pytest.mark.vm\ndef test_x():\n    pass\n")
    monkeypatch.setenv(vmrun.ENV_TIMEOUT, "soon")
    result = pytester.runpytest_subprocess(f"--vm-kernel={fake_env['kernel']}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the VM run failed: ValueError: PYV4L2REQ_VM_TIMEOUT='soon' is not a number*"])
    assert not fake_env["vng_log"].exists()


REAL = """\
import os
from pathlib import Path
import pytest

def _names():
    return sorted(p.read_text().strip() for p in Path("/sys/class/video4linux").glob("*/name"))

@pytest.mark.vm
def test_sees_visl():
    assert "visl" in _names()

@pytest.mark.vm
def test_fails_inside():
    assert "no-such-driver" in _names(), "deliberate in-VM failure"

@pytest.mark.vm
@pytest.mark.parametrize("n", [1, pytest.param(2, id="two words")])
def test_param(n):
    if n == 2:
        pytest.skip("skipped inside the VM on purpose")
    assert os.environ["PYV4L2REQ_IN_VM"] == "1"

@pytest.mark.vm
@pytest.mark.xfail(reason="expected in-VM failure", strict=True)
def test_xfail():
    assert _names() == []

def test_on_host():
    assert os.environ.get("PYV4L2REQ_IN_VM") != "1"
"""


def test_real_vm_outcomes_surface_on_host(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """One real boot: pass, fail (with the in-VM assertion text), skip, xfail, parametrised ids."""
    if request.config.getoption("no_vm"):
        pytest.skip("boots the VM: --no-vm given")
    try:
        vmrun.check_prerequisites(request.config.getoption("vm_kernel"))
    except vmrun.VMUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_real=REAL)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv(vmrun.ENV_IN_VM, raising=False)
    result = pytester.runpytest_subprocess("-v", "-rs")
    result.assert_outcomes(passed=3, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "*test_real.py::test_fails_inside FAILED*",
        "*test_real.py::test_param?two words? SKIPPED*",
        "*AssertionError: deliberate in-VM failure*",
        "*'visl'*",           # the assertion introspection shows the guest's device names
        "*vm ?default cmdline?: 5 tests in one boot*",
        "SKIPPED*skipped inside the VM on purpose*",
    ])
