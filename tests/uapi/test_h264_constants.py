"""Every constant of pyv4l2req.uapi.h264 / fwht equals the C macro in the installed kernel headers
(gcc probe, like tests/test_uapi_constants.py does for videodev2/media/controls)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pyv4l2req.uapi import fwht, h264

# fwht.py also carries vicodec's private codec-fwht.h values, which are not in the uapi headers.
_NOT_IN_HEADERS = {"FWHT_MAGIC1", "FWHT_MAGIC2", "FWHT_CFRAME_HDR_SIZE", "FWHT_FRAME_PCODED", "FWHT_FRAME_UNENCODED",
                   "FWHT_LUMA_UNENCODED", "FWHT_CB_UNENCODED", "FWHT_CR_UNENCODED", "FWHT_ALPHA_UNENCODED"}


def _constants() -> dict[str, int]:
    out = {}
    for mod in (h264, fwht):
        for name, value in vars(mod).items():
            if name.startswith("V4L2_") and isinstance(value, int) and not isinstance(value, bool):
                out[name] = value
    return out


def test_h264_fwht_constants_match_headers(tmp_path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None or not os.path.exists("/usr/include/linux/v4l2-controls.h"):
        if os.environ.get("CI"):
            pytest.fail("gcc and linux-libc-dev are required in CI")
        pytest.skip("gcc or kernel headers not installed")
    consts = _constants()
    assert len(consts) > 60
    # the uapi header uses the kernel-internal GENMASK for V4L2_FWHT_FL_*_MSK; userspace must define it
    src = ["#define GENMASK(h, l) (((~0UL) << (l)) & (~0UL >> (63 - (h))))", "#include <stdio.h>", "#include <linux/videodev2.h>", "#include <linux/v4l2-controls.h>", "int main(void) {"]
    src += [f'  printf("{n} %llu\\n", (unsigned long long)({n}));' for n in sorted(consts)]
    src += ["  return 0;", "}"]
    (tmp_path / "p.c").write_text("\n".join(src))
    cc = subprocess.run([gcc, "-o", str(tmp_path / "p"), str(tmp_path / "p.c")], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr[:3000]
    got = dict(line.split() for line in subprocess.run([str(tmp_path / "p")], capture_output=True, text=True, check=True).stdout.splitlines())
    bad = {n: (v, got[n]) for n, v in consts.items() if int(got[n]) != v}
    assert not bad, bad


def test_fwht_private_values() -> None:
    # codec-fwht.h (vicodec): the 8-byte sync pattern with every low nibble 0xf
    assert fwht.FWHT_MAGIC1 == 0x4F4F4F4F and fwht.FWHT_MAGIC2 == 0xFFFFFFFF
    assert fwht.FWHT_CFRAME_HDR_SIZE == fwht.fwht_cframe_hdr.sizeof() == 44
