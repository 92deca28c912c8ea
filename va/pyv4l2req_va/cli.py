"""``pyv4l2req-va``: build and install the VA-API driver shared object."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .build import DRIVER_NAME, python_info


def default_dir() -> Path:
    """``$XDG_DATA_HOME/pyv4l2req-va/dri`` (``~/.local/share/pyv4l2req-va/dri``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pyv4l2req-va" / "dri"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyv4l2req-va", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="compile pyv4l2req_drv_video.so against the installed libva headers")
    inst.add_argument("--dir", type=Path, default=None, help=f"target directory (default {default_dir()})")
    inst.add_argument("--include-dir", type=Path, default=None,
                      help="where va/va_backend.h is (default /usr/include)")
    inst.add_argument("-v", "--verbose", action="store_true", help="show the compiler commands")
    ns = parser.parse_args(argv)

    from .build import build
    from .header import HeaderError

    target = ns.dir or default_dir()
    try:
        so = build(target, ns.include_dir, verbose=ns.verbose)
    except HeaderError as exc:
        print(f"pyv4l2req-va: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # noqa: BLE001 -- compiler missing, cffi error: one line, exit 1
        print(f"pyv4l2req-va: building the driver failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"# built {so} for {python_info()}", file=sys.stderr)
    print(f"export LIBVA_DRIVER_NAME={DRIVER_NAME}")
    print(f"export LIBVA_DRIVERS_PATH={so.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
