"""ns <-> v4l2_timeval against the installed kernel header's v4l2_timeval_to_ns (gcc as oracle)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pyv4l2req.v4l2 import ns_to_timeval, timeval_to_ns

CASES = [(0, 0), (1, 0), (0, 1), (0, 999_999), (1, 999_999), (1_700_000_000, 123_456),
         (2**31 - 1, 999_999), (2**33, 5), (9_223_372_036, 854_775), (-1, 0), (-5, 999_999),
         (2**62, 0), (2**63 - 1, 999_999)]

C_PROG = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <linux/videodev2.h>
int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        struct timeval tv = { .tv_sec = strtoll(argv[i], 0, 10), .tv_usec = strtoll(argv[i + 1], 0, 10) };
        printf("%llu\n", (unsigned long long)v4l2_timeval_to_ns(&tv));
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def c_timeval_to_ns(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    d = tmp_path_factory.mktemp("tv")
    (d / "tv.c").write_text(C_PROG)
    subprocess.run(["gcc", "-O0", "-o", str(d / "tv"), str(d / "tv.c")], check=True)
    return str(d / "tv")


def test_timeval_to_ns_matches_the_header(c_timeval_to_ns):
    args = [str(x) for case in CASES for x in case]
    out = subprocess.run([c_timeval_to_ns, *args], check=True, capture_output=True, text=True).stdout.split()
    assert [int(x) for x in out] == [timeval_to_ns(s, u) for s, u in CASES]


@pytest.mark.parametrize("ns", [0, 999, 1_000, 1_234_567_891, 10**18 + 7, 2**63 - 1])
def test_round_trip_drops_sub_microsecond(ns):
    sec, usec = ns_to_timeval(ns)
    assert 0 <= usec < 1_000_000
    assert timeval_to_ns(sec, usec) == ns - ns % 1000
