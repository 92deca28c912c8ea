"""Every constant and ioctl number of pyv4l2req.uapi equals the C macro in the kernel headers.

A C probe is generated from the names the Python modules define, compiled with gcc against the
installed kernel headers (Debian linux-libc-dev) and its output compared value by value.
"""

from __future__ import annotations

import subprocess

import pytest

from pyv4l2req.uapi import controls, media, videodev2

# Python-only helpers or names newer than the 6.1 headers installed on Debian 12.
_NOT_IN_HEADERS = {"IOCTL_NAMES", "CONTROL_NAMES", "V4L2_PIX_FMT_AV1_FRAME"}


def _constants() -> dict[str, int]:
    out: dict[str, int] = {}
    for mod in (videodev2, media, controls):
        for name, value in vars(mod).items():
            if name.isupper() and isinstance(value, int) and not isinstance(value, bool):
                if name.startswith(("V4L2_", "VIDIOC_", "MEDIA_", "VIDEO_")) and name not in _NOT_IN_HEADERS:
                    out[name] = value
    return out


def test_constants_match_kernel_headers(gcc: str, tmp_path) -> None:
    consts = _constants()
    assert len(consts) > 150, "the probe must cover the whole uapi surface"
    lines = [
        "#include <stdio.h>",
        "#include <sys/ioctl.h>",
        "#include <linux/videodev2.h>",
        "#include <linux/media.h>",
        "#include <linux/v4l2-controls.h>",
        "int main(void) {",
    ]
    for name in sorted(consts):
        lines.append(f'  printf("{name} %llu\\n", (unsigned long long)(unsigned int)({name}));')
    lines += ["  return 0;", "}"]
    src = tmp_path / "probe.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "probe"
    subprocess.run([gcc, "-o", str(exe), str(src)], check=True, capture_output=True, text=True)
    got = dict(line.split() for line in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines())
    mismatches = {n: (hex(v), hex(int(got[n]))) for n, v in consts.items() if int(got[n]) != v & 0xFFFFFFFF}
    assert not mismatches, f"python value vs C value: {mismatches}"
