"""``python -m pyv4l2req.uapi --layout``: print the layout of every uapi struct.

One line per member, ``<c_struct>.<member path> <offset> <size>`` (C names, C member paths as
``offsetof`` accepts them), then ``<c_struct> sizeof <n>``. ``tests/test_uapi_layout.py`` turns
this listing into a C probe and checks it with gcc against the kernel headers.
"""

from __future__ import annotations

import argparse
import sys

from .layout import layout_lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyv4l2req.uapi", description=__doc__.splitlines()[0])
    parser.add_argument("--layout", action="store_true", help="print offset/size of every struct member")
    args = parser.parse_args(argv)
    if not args.layout:
        parser.print_help()
        return 2
    sys.stdout.write("\n".join(layout_lines()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
