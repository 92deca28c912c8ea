"""pytest plugin: ``@pytest.mark.vm`` tests run inside the test-kernel VM, reported on the host.

On the host, vm-marked items are grouped by their kernel command line
(``@pytest.mark.vm(cmdline="vicodec.multiplanar=1")``, default none). At the first item of a
group the whole group runs in ONE VM boot (``pyv4l2req.testing.vm.run_pytest``); inside, this
same plugin serializes every test report (pytest's ``pytest_report_to_serializable``) into the
exchange directory, and the host replays them for its own items: passed, failed with the in-VM
traceback, skipped with the in-VM reason, xfail, errors -- parametrised ids included. Host
fixtures are never set up for vm items.

Inside the VM (``PYV4L2REQ_IN_VM=1``), non-vm items are deselected, the host's selection
(``$PYV4L2REQ_VM_OUT/select.json``) is honoured, and an item whose ``cmdline`` is not on the
running kernel's command line is skipped (running by hand with ``tools/vmtest``).

Missing qemu/virtme-ng/kernel: vm items are skipped with the reason, or fail when ``CI`` is set.
Options: ``--no-vm`` (skip vm tests), ``--vm-only`` (deselect the others), ``--vm-kernel``,
``--vm-timeout``, ``--vm-junit-dir`` (keep the in-VM junit XML of every group).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pyv4l2req.testing import vm as vmrun

SELECT_FILE = "select.json"
REPORTS_FILE = "reports.jsonl"


def in_vm() -> bool:
    """True inside the test-kernel VM (the runner sets ``PYV4L2REQ_IN_VM=1``)."""
    return os.environ.get(vmrun.ENV_IN_VM) == "1"


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to something other than false/0."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def vm_cmdline(item: pytest.Item) -> str | None:
    """The normalised kernel command line of a vm item, or None for a non-vm item."""
    marker = item.get_closest_marker("vm")
    if marker is None:
        return None
    raw = marker.kwargs.get("cmdline", marker.args[0] if marker.args else "")
    return " ".join(shlex.split(raw or ""))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pyv4l2req-vm", "test-kernel VM (pyv4l2req.testing.vm)")
    group.addoption("--no-vm", action="store_true", help="skip the @pytest.mark.vm tests")
    group.addoption("--vm-only", action="store_true", help="run only the @pytest.mark.vm tests")
    group.addoption("--vm-kernel", default=None,
                    help=f"kernel image (default ${vmrun.ENV_KERNEL} or {vmrun.DEFAULT_KERNEL})")
    group.addoption("--vm-timeout", type=float, default=None,
                    help=f"seconds one VM boot may take before it is killed (default "
                    f"${vmrun.ENV_TIMEOUT} or {vmrun.DEFAULT_TIMEOUT_S:.0f})")
    group.addoption("--vm-junit-dir", default=None, help="write the in-VM junit XML of each group here")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "vm(cmdline=''): runs inside the test-kernel VM, booted with this extra kernel command line")
    if config.getoption("no_vm") and config.getoption("vm_only"):
        raise pytest.UsageError("--no-vm and --vm-only exclude each other")
    plugin = InVMPlugin(config) if in_vm() else HostVMPlugin(config)
    config.pluginmanager.register(plugin, "pyv4l2req-vm")


class InVMPlugin:
    """Inside the guest: select the host's items, record every report for the host."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        out = os.environ.get(vmrun.ENV_OUT)
        self.out = Path(out) if out else None
        self.selection: set[str] | None = None
        if self.out is not None and (self.out / SELECT_FILE).is_file():
            self.selection = set(json.loads((self.out / SELECT_FILE).read_text()))
        try:
            self.kernel_args = set(Path("/proc/cmdline").read_text().split())
        except OSError:
            self.kernel_args = set()
        self._stream = open(self.out / REPORTS_FILE, "a") if self.out is not None else None

    def _record(self, data: dict) -> None:
        if self._stream is not None:
            self._stream.write(json.dumps(data) + "\n")
            self._stream.flush()

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            wanted = vm_cmdline(item) is not None
            if self.selection is not None:
                wanted = wanted and item.nodeid in self.selection
            (keep if wanted else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        for item in keep:
            missing = [a for a in (vm_cmdline(item) or "").split() if a not in self.kernel_args]
            if missing:
                item.add_marker(pytest.mark.skip(
                    reason=f"needs kernel command line {' '.join(missing)!r} (the host plugin or "
                    f"tools/vmtest --cmdline boots it)"))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._record({"collect_error": report.nodeid, "text": str(report.longrepr)})

    def pytest_runtest_logstart(self, nodeid: str, location: tuple) -> None:
        self._record({"started": nodeid})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self._record({"report": data})

    def pytest_unconfigure(self) -> None:
        if self._stream is not None:
            self._stream.close()


@dataclass
class _Group:
    cmdline: str
    items: list[pytest.Item] = field(default_factory=list)
    done: bool = False
    reports: dict[str, list[dict]] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    problem: str | None = None       # the VM run itself went wrong (items without reports fail)
    unavailable: str | None = None   # qemu/vng/kernel missing
    summary: str = ""


class HostVMPlugin:
    """On the host: run each cmdline group of vm items in one VM boot and replay the reports."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.groups: dict[str, _Group] = {}
        self.group_of: dict[str, _Group] = {}

    @pytest.hookimpl(trylast=True)  # after -k/-m deselection: groups hold only what will run
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if config.getoption("vm_only"):
            drop = [i for i in items if vm_cmdline(i) is None]
            if drop:
                config.hook.pytest_deselected(items=drop)
                items[:] = [i for i in items if vm_cmdline(i) is not None]
        for item in items:
            cmdline = vm_cmdline(item)
            if cmdline is None:
                continue
            if config.getoption("no_vm"):
                item.add_marker(pytest.mark.skip(reason="vm test: --no-vm given"))
                continue
            group = self.groups.setdefault(cmdline, _Group(cmdline))
            group.items.append(item)
            self.group_of[item.nodeid] = group

    # -- running a group ---------------------------------------------------------------------
    def _run_group(self, group: _Group) -> None:
        group.done = True
        config = self.config
        try:
            kernel = vmrun.check_prerequisites(config.getoption("vm_kernel"))
        except vmrun.VMUnavailable as exc:
            group.unavailable = str(exc)
            group.summary = f"not run: {exc}"
            return
        args = ["--rootdir", str(config.rootpath)]
        if config.inipath is not None:
            args += ["-c", str(config.inipath)]
        paths = list(dict.fromkeys(str(item.path) for item in group.items))
        nodeids = [item.nodeid for item in group.items]
        try:
            run = vmrun.run_pytest(
                [*args, *paths],
                kernel=kernel,
                cmdline=group.cmdline,
                workdir=config.invocation_params.dir,
                rwdirs=[config.rootpath],
                files={SELECT_FILE: json.dumps(nodeids)},
                timeout=config.getoption("vm_timeout"),
            )
        except vmrun.VMUnavailable as exc:
            group.unavailable = str(exc)
            group.summary = f"not run: {exc}"
            return
        except Exception as exc:  # noqa: BLE001 -- reported on every item of the group
            group.problem = f"the VM run failed: {type(exc).__name__}: {exc}"
            group.summary = group.problem
            return
        for record in run.reports:
            if "report" in record:
                group.reports.setdefault(record["report"]["nodeid"], []).append(record["report"])
            elif "started" in record:
                group.started.append(record["started"])
        junit_dir = config.getoption("vm_junit_dir")
        if junit_dir and run.junit_xml:
            Path(junit_dir).mkdir(parents=True, exist_ok=True)
            name = "junit-vm" + ("-" + "_".join(group.cmdline.split()) if group.cmdline else "") + ".xml"
            (Path(junit_dir) / name).write_text(run.junit_xml)
        tail = "\n".join(run.output.splitlines()[-60:])
        if run.returncode is None:
            group.problem = run.guest.describe_failure()
        elif run.returncode not in (0, 1):
            group.problem = f"in-VM pytest exited with status {run.returncode}; its output (tail):\n{tail}"
        else:
            group.problem = f"in-VM pytest did not report this test; its output (tail):\n{tail}"
        state = "timed out" if run.guest.timed_out else f"in-VM pytest exit status {run.returncode}"
        group.summary = (f"{len(group.items)} tests in one boot, {run.guest.duration_s:.1f} s, {state}")

    # -- reporting ---------------------------------------------------------------------------
    def _synthetic(self, item: pytest.Item, outcome: str, message: str) -> list[pytest.TestReport]:
        """Host-made reports: a skip at setup, or a failure of the test call itself."""

        def fail() -> None:
            pytest.fail(message, pytrace=False)

        def make(func, when) -> pytest.TestReport:
            return pytest.TestReport.from_item_and_call(item, pytest.CallInfo.from_call(func, when))

        if outcome == "skipped":
            reports = [make(lambda: pytest.skip(message), "setup")]
        else:
            reports = [make(lambda: None, "setup"), make(fail, "call")]
        return reports + [make(lambda: None, "teardown")]

    def _reports_for(self, item: pytest.Item, group: _Group) -> list[pytest.TestReport]:
        if group.unavailable is not None:
            if in_ci():
                return self._synthetic(item, "failed", f"CI is set but the VM cannot run: {group.unavailable}")
            return self._synthetic(item, "skipped", f"vm test: {group.unavailable}")
        data = group.reports.get(item.nodeid)
        if not data:
            where = "this test was running when the VM run ended; " if item.nodeid in group.started else ""
            return self._synthetic(item, "failed", f"vm test [{group.cmdline or 'default cmdline'}]: "
                                   f"{where}{group.problem}")
        hook = self.config.hook
        reports = [hook.pytest_report_from_serializable(config=self.config, data=d) for d in data]
        for report in reports:
            if isinstance(report.longrepr, list):  # a skip's (path, lineno, reason) went through JSON
                report.longrepr = tuple(report.longrepr)
        return reports

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        group = self.group_of.get(item.nodeid)
        if group is None:
            return None
        if not group.done:
            self._run_group(group)
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for report in self._reports_for(item, group):
            ihook.pytest_runtest_logreport(report=report)
        # Host fixtures of the previous items that nextitem no longer needs are torn down here,
        # as pytest's own protocol would do after this item.
        setupstate = getattr(item.session, "_setupstate", None)
        if setupstate is not None:
            call = pytest.CallInfo.from_call(lambda: setupstate.teardown_exact(nextitem), "teardown")
            if call.excinfo is not None:
                ihook.pytest_runtest_logreport(report=pytest.TestReport.from_item_and_call(item, call))
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_terminal_summary(self, terminalreporter) -> None:
        ran = [g for g in self.groups.values() if g.done]
        if not ran:
            return
        terminalreporter.write_sep("-", "test-kernel VM")
        for g in ran:
            terminalreporter.write_line(f"vm [{g.cmdline or 'default cmdline'}]: {g.summary}")


@pytest.fixture(scope="session")
def gcc() -> str:
    """gcc with the kernel headers (Debian linux-libc-dev), for the C probes that check our uAPI
    layer; skipped outside CI when missing, a failure in CI."""
    import shutil

    path = shutil.which("gcc")
    if path is None or not os.path.exists("/usr/include/linux/videodev2.h"):
        if in_ci():
            pytest.fail("gcc and linux-libc-dev are required in CI")
        pytest.skip("gcc or kernel headers (linux-libc-dev) not installed")
    return path
