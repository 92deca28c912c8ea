"""Run commands and pytest selections inside the test-kernel VM (virtme-ng + QEMU/TCG).

The test kernel (``<repo>/../shared/testkernel/bzImage``, see its README) has visl, vicodec and
vim2m built in. virtme-ng boots it with the host's root filesystem mounted read-only, so the
host's interpreter, GStreamer and FFmpeg are visible inside; results leave the guest only
through directories passed with ``--rwdir`` (guest console output needs ``--verbose`` and is
kept only as a boot log). KVM hangs on these machines, so the guest always runs under TCG.

Public API:

- :func:`run_in_vm` -- run one argv in a fresh guest, return a :class:`GuestResult`
- :func:`run_pytest` -- run ``python -m pytest ARGS`` in a fresh guest with
  ``PYV4L2REQ_IN_VM=1``, return a :class:`PytestRun` (exit code, output, junit XML, the
  serialized reports written by the ``tests/conftest.py`` plugin)
- :func:`check_prerequisites` -- raise :class:`VMUnavailable` naming what is missing
- :func:`main` -- ``python -m pyv4l2req.testing.vm [options] [--] [pytest args]``
  (also ``tools/vmtest``), exits with pytest's exit code

Every guest run is bounded by a timeout: on expiry the whole vng/QEMU process group is killed
and :class:`GuestResult.timed_out` is set (``run_pytest`` keeps the partial results).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

REPO = Path(__file__).resolve().parents[2]
DEFAULT_KERNEL = REPO.parent / "shared" / "testkernel" / "bzImage"
DEFAULT_TIMEOUT_S = 900.0
"""Bound for one guest run (boot + command + power-off); a hung guest is killed after it."""

ENV_KERNEL = "PYV4L2REQ_KERNEL"
ENV_TIMEOUT = "PYV4L2REQ_VM_TIMEOUT"
ENV_IN_VM = "PYV4L2REQ_IN_VM"
ENV_OUT = "PYV4L2REQ_VM_OUT"
"""Inside the guest: a writable directory whose files the host reads back after the run."""
ENV_CACHE = "PYV4L2REQ_VM_CACHE"
"""Inside the guest: a writable directory that survives between runs (GStreamer registry)."""

ROOT_FLAGS = "rootflags=version=9p2000.L,trans=virtio,access=any,msize=524288,cache=loose"
"""Appended after virtme's own ``rootflags=`` (the last one wins): the same 9p options plus
``cache=loose`` for the read-only host root, which makes Python start-up in the TCG guest 2-3x
faster (every import stats several directories over 9p)."""

OUT_PLACEHOLDER = "{VM_OUT}"
"""In an argv element of :func:`run_in_vm`, replaced by the exchange directory's path."""

BOOT_ATTEMPTS = 2
"""A guest that dies before running the command (boot panic) is booted once more."""

BASE_CMDLINE = "root=/dev/root no_timer_check"
"""root=/dev/root: required by this kernel with virtme-ng. no_timer_check: under TCG on a loaded
host the IO-APIC timer check can fail and panic the boot ("IO-APIC + timer doesn't work")."""

EXIT_TIMEOUT = 124
EXIT_VM_ERROR = 125


class VMUnavailable(RuntimeError):
    """qemu, virtme-ng or the kernel image is missing: VM tests cannot run on this machine."""


class VMError(RuntimeError):
    """The guest did not boot, did not run the command or did not report its exit status."""


@dataclass
class GuestResult:
    """What one guest run left behind."""

    returncode: int | None
    """Exit status of the command inside the guest; None if it never reported one."""
    output: str
    """The command's stdout+stderr (written to a file in the guest)."""
    console: str
    """vng/QEMU output on the host (kernel log, virtme messages) -- for boot failures."""
    duration_s: float
    timed_out: bool
    files: dict[str, bytes] = field(default_factory=dict)
    """Files the command left in ``$PYV4L2REQ_VM_OUT`` (name -> content)."""

    def describe_failure(self, tail: int = 40) -> str:
        """A human-readable reason why the run produced no exit status."""
        what = "timed out" if self.timed_out else "reported no exit status"
        lines = [f"the VM run {what} after {self.duration_s:.0f} s"]
        if self.output.strip():
            lines += ["--- guest command output (tail) ---", *self.output.splitlines()[-tail:]]
        if self.console.strip():
            lines += ["--- vng/QEMU console (tail) ---", *self.console.splitlines()[-tail:]]
        return "\n".join(lines)


@dataclass
class PytestRun:
    """The outcome of :func:`run_pytest`."""

    returncode: int | None
    output: str
    junit_xml: str | None
    reports: list[dict]
    """JSON records written by the in-VM plugin (``reports.jsonl``), in execution order."""
    guest: GuestResult


def find_kernel(kernel: str | os.PathLike[str] | None = None) -> Path:
    """The kernel image: ``kernel``, else ``$PYV4L2REQ_KERNEL``, else the shared test kernel."""
    chosen = kernel or os.environ.get(ENV_KERNEL) or DEFAULT_KERNEL
    return Path(chosen).expanduser().resolve()


def find_vng() -> str | None:
    """Path of the ``vng`` executable (PATH, then next to the running interpreter)."""
    found = shutil.which("vng")
    if found:
        return found
    beside = Path(sys.executable).parent / "vng"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def default_timeout() -> float:
    """``$PYV4L2REQ_VM_TIMEOUT`` seconds, else :data:`DEFAULT_TIMEOUT_S`."""
    raw = os.environ.get(ENV_TIMEOUT)
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{ENV_TIMEOUT}={raw!r} is not a number of seconds") from None


def check_prerequisites(kernel: str | os.PathLike[str] | None = None) -> Path:
    """Return the kernel path, or raise :class:`VMUnavailable` naming everything missing."""
    missing = []
    if find_vng() is None:
        missing.append("virtme-ng ('vng' not on PATH; pip install virtme-ng)")
    if shutil.which("qemu-system-x86_64") is None:
        missing.append("QEMU ('qemu-system-x86_64' not on PATH; apt-get install qemu-system-x86)")
    path = find_kernel(kernel)
    if not path.is_file():
        missing.append(f"the test kernel ({path} does not exist; set {ENV_KERNEL} or --kernel)")
    if not Path(sys.executable).is_file():
        missing.append(f"the interpreter {sys.executable} (not a file, the guest could not run it)")
    if missing:
        raise VMUnavailable("cannot run the VM: missing " + "; ".join(missing))
    return path


def cache_dir() -> Path | None:
    """A host directory kept between runs and writable in the guest; None if unavailable."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "pyv4l2req-vm"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path


def _independent(dirs: Sequence[Path]) -> list[Path]:
    """Drop duplicates and directories nested in another one (one 9p mount covers them)."""
    out: list[Path] = []
    for d in sorted({p.resolve() for p in dirs}, key=lambda p: len(p.parts)):
        if not any(d == o or o in d.parents for o in out):
            out.append(d)
    return out


def _guest_script(argv: Sequence[str], workdir: Path, env: Mapping[str, str], out: Path) -> str:
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())
    exe = argv[0]
    return f"""#!/bin/sh
# generated by pyv4l2req.testing.vm: runs inside the guest
{exports}
out={shlex.quote(str(out))}
: > "$out/.started"
if ! cd {shlex.quote(str(workdir))}; then
    echo "guest: cannot cd to {workdir}" > "$out/output.txt"; echo 126 > "$out/rc"; exit 0
fi
if [ ! -x {shlex.quote(exe)} ] && ! command -v {shlex.quote(exe)} >/dev/null; then
    echo "guest: {exe} is not executable inside the guest" > "$out/output.txt"
    echo 127 > "$out/rc"; exit 0
fi
{shlex.join(argv)} > "$out/output.txt" 2>&1 </dev/null
echo $? > "$out/rc.tmp"
mv "$out/rc.tmp" "$out/rc"
sync
"""


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _boot(cmd: list[str], wd: Path, console_path: Path, timeout: float, vng: str) -> bool:
    """Run vng once (console appended to ``console_path``); True if it was killed on timeout."""
    with open(console_path, "ab") as console:
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                cwd=wd, start_new_session=True,
            )
        except OSError as exc:
            raise VMUnavailable(f"cannot start {vng}: {exc}") from exc
        try:
            proc.wait(max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return True
        except BaseException:  # KeyboardInterrupt: do not leave a QEMU behind
            _kill_group(proc)
            raise
    return False


def run_in_vm(
    argv: Sequence[str],
    *,
    kernel: str | os.PathLike[str] | None = None,
    cmdline: str = "",
    workdir: str | os.PathLike[str] | None = None,
    rwdirs: Sequence[str | os.PathLike[str]] = (),
    env: Mapping[str, str] | None = None,
    files: Mapping[str, str | bytes] | None = None,
    timeout: float | None = None,
    keep: bool = False,
) -> GuestResult:
    """Boot the test kernel, run ``argv`` in ``workdir`` (default: cwd) and power off.

    ``cmdline`` is appended to the kernel command line (after ``root=/dev/root``). ``files`` are
    written into the run's exchange directory before boot (visible in the guest as
    ``$PYV4L2REQ_VM_OUT/<name>``; ``{VM_OUT}`` in an argv element is replaced by that
    directory's path); every file found there afterwards is returned in
    :attr:`GuestResult.files`. The repository, ``workdir``, the exchange directory, the cache
    directory and ``rwdirs`` are writable inside. ``keep`` leaves the exchange directory on disk.
    Raises :class:`VMUnavailable` when qemu/vng/kernel are missing.
    """
    kernel_path = check_prerequisites(kernel)
    vng = find_vng()
    assert vng is not None
    timeout = default_timeout() if timeout is None else timeout
    wd = Path(workdir or os.getcwd()).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="pyv4l2req-vm-"))
    try:
        for name, content in (files or {}).items():
            data = content.encode() if isinstance(content, str) else content
            (tmp / name).write_bytes(data)
        guest_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), ENV_OUT: str(tmp)}
        dirs = [REPO, wd, tmp, *map(Path, rwdirs)]
        cache = cache_dir()
        if cache is not None:
            guest_env[ENV_CACHE] = str(cache)
            dirs.append(cache)
        guest_env.update(env or {})
        script = tmp / ".guest.sh"
        argv = [a.replace(OUT_PLACEHOLDER, str(tmp)) for a in argv]
        script.write_text(_guest_script(argv, wd, guest_env, tmp))
        append = " ".join([BASE_CMDLINE, ROOT_FLAGS, cmdline.strip()]).strip()
        # --force-9p: the host's virtiofsd fails to start here and vng spends ~3 s per mount
        # waiting before falling back to 9p anyway. --verbose: the kernel log for boot failures.
        cmd = [vng, "--run", str(kernel_path), "--disable-kvm", "--force-9p", "--verbose"]
        cmd += ["--append", append]
        for d in _independent(dirs):
            cmd += ["--rwdir", str(d)]
        cmd += ["--exec", f"sh {shlex.quote(str(script))}"]
        console_path = tmp / ".console.log"
        start = time.monotonic()
        timed_out = False
        for attempt in range(1, BOOT_ATTEMPTS + 1):
            remaining = timeout - (time.monotonic() - start)
            timed_out = _boot(cmd, wd, console_path, remaining, vng)
            started = (tmp / ".started").exists()
            if timed_out or started or attempt == BOOT_ATTEMPTS:
                break
            # The guest never reached our script (e.g. a TCG timer-check panic on a loaded
            # host): boot again, keeping the failed console log above the new one.
            with open(console_path, "ab") as console:
                console.write(f"\n--- vmtest: boot attempt {attempt} failed, retrying ---\n".encode())
        duration = time.monotonic() - start
        rc_file = tmp / "rc"
        returncode = int(rc_file.read_text().strip()) if rc_file.is_file() else None
        out_file = tmp / "output.txt"
        output = out_file.read_text(errors="replace") if out_file.is_file() else ""
        console_text = console_path.read_text(errors="replace")
        found = {
            p.name: p.read_bytes()
            for p in tmp.iterdir()
            if p.is_file() and p.name not in {"rc", "output.txt"} and not p.name.startswith(".")
        }
        return GuestResult(returncode, output, console_text, duration, timed_out, found)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run_pytest(
    args: Sequence[str],
    *,
    kernel: str | os.PathLike[str] | None = None,
    cmdline: str = "",
    workdir: str | os.PathLike[str] | None = None,
    rwdirs: Sequence[str | os.PathLike[str]] = (),
    env: Mapping[str, str] | None = None,
    files: Mapping[str, str | bytes] | None = None,
    timeout: float | None = None,
) -> PytestRun:
    """Run ``python -m pytest ARGS`` in the guest with the host interpreter.

    Sets ``PYV4L2REQ_IN_VM=1``, disables the cache provider (the checkout is shared with the
    host) and third-party plugin autoloading (slow under TCG), and writes a junit XML. ``reports`` holds the records the ``tests/conftest.py`` plugin
    wrote to ``$PYV4L2REQ_VM_OUT/reports.jsonl`` (partial if the guest timed out).
    """
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    argv += ["--junitxml", OUT_PLACEHOLDER + "/junit.xml", *args]
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    guest_env = {
        ENV_IN_VM: "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": pythonpath,
        # Third-party plugins (hypothesis, benchmark) triple pytest's start-up under TCG; a vm
        # test module that needs one names it with ``pytest_plugins``.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    # tests that may skip only outside CI must see it inside too; the guest must find the
    # same vectors as the host that collected the test ids (pyv4l2req.testing.vectors)
    for name in ("CI", "PYV4L2REQ_VECTORS"):
        if name in os.environ:
            guest_env[name] = os.environ[name]
    guest_env.update(env or {})
    result = run_in_vm(
        argv, kernel=kernel, cmdline=cmdline, workdir=workdir, rwdirs=rwdirs,
        env=guest_env, files=files, timeout=timeout,
    )
    junit = result.files.get("junit.xml")
    reports = []
    for line in result.files.get("reports.jsonl", b"").decode(errors="replace").splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:
            break  # a record cut short by a timeout
    return PytestRun(
        result.returncode, result.output, junit.decode() if junit else None, reports, result
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run a pytest selection in the VM, print its output, return its exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m pyv4l2req.testing.vm",
        description="Run pytest inside the test-kernel VM (virtme-ng, QEMU TCG). Arguments after"
        " the options go to pytest (default: the vm tests of tests/). Exit status: pytest's;"
        f" {EXIT_TIMEOUT} if the guest timed out; {EXIT_VM_ERROR} if the VM could not run.",
    )
    parser.add_argument("--kernel", help=f"kernel image (default ${ENV_KERNEL} or {DEFAULT_KERNEL})")
    parser.add_argument("--cmdline", default="", help="extra kernel command line, e.g. vicodec.multiplanar=1")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds before the guest is killed (default ${ENV_TIMEOUT} or {DEFAULT_TIMEOUT_S:.0f})")
    parser.add_argument("--junitxml", help="copy the in-VM junit XML here")
    parser.add_argument("--exec", dest="exec_cmd", help="run this shell command instead of pytest")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    pytest_args = [a for a in ns.pytest_args if a != "--"] or ["-m", "vm", "tests"]
    try:
        if ns.exec_cmd:
            guest = run_in_vm(["sh", "-c", ns.exec_cmd], kernel=ns.kernel, cmdline=ns.cmdline,
                              timeout=ns.timeout, env={ENV_IN_VM: "1"})
            rc, output = guest.returncode, guest.output
        else:
            run = run_pytest(pytest_args, kernel=ns.kernel, cmdline=ns.cmdline, timeout=ns.timeout)
            guest, rc, output = run.guest, run.returncode, run.output
            if ns.junitxml and run.junit_xml is not None:
                Path(ns.junitxml).write_text(run.junit_xml)
    except VMUnavailable as exc:
        print(f"vmtest: {exc}", file=sys.stderr)
        return EXIT_VM_ERROR
    sys.stdout.write(output)
    print(f"vmtest: guest run took {guest.duration_s:.1f} s", file=sys.stderr)
    if rc is None:
        print("vmtest: " + guest.describe_failure(), file=sys.stderr)
        return EXIT_TIMEOUT if guest.timed_out else EXIT_VM_ERROR
    return rc


if __name__ == "__main__":
    sys.exit(main())
