"""Every struct layout of pyv4l2req.uapi equals the C layout in the kernel headers.

``python -m pyv4l2req.uapi --layout`` lists ``<struct>.<member> <offset> <size>`` and
``<struct> sizeof <n>`` for every ctypes and construct struct; this test turns each line into
``offsetof``/``sizeof`` expressions of a C probe, compiles it with gcc against the installed
kernel headers (Debian linux-libc-dev) and requires every value to match.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEADERS = ["sys/time.h", "stddef.h", "stdio.h", "linux/videodev2.h", "linux/media.h", "linux/v4l2-controls.h"]


@pytest.fixture(scope="module")
def layout() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pyv4l2req.uapi", "--layout"], check=True, capture_output=True, text=True
    ).stdout
    return out.splitlines()


def _probe_source(lines: list[str]) -> str:
    src = [f"#include <{h}>" for h in HEADERS]
    src.append("int main(void) {")
    for line in lines:
        key, *_ = line.split()
        if line.split()[1] == "sizeof":
            src.append(f'  printf("%s sizeof %zu\\n", "{key}", sizeof(struct {key}));')
        else:
            st, member = key.split(".", 1)
            src.append(
                f'  printf("%s %zu %zu\\n", "{key}", offsetof(struct {st}, {member}), '
                f"sizeof(((struct {st} *)0)->{member}));"
            )
    src += ["  return 0;", "}"]
    return "\n".join(src) + "\n"


def test_layout_listing_format(layout: list[str]) -> None:
    structs = {line.split()[0] for line in layout if line.split()[1] == "sizeof"}
    # every struct the issue names is listed, with C names
    for name in (
        "v4l2_buffer", "v4l2_plane", "v4l2_format", "v4l2_ext_controls", "v4l2_ext_control",
        "v4l2_query_ext_ctrl", "v4l2_querymenu", "v4l2_decoder_cmd", "v4l2_event", "v4l2_selection",
        "v4l2_requestbuffers", "v4l2_create_buffers", "v4l2_exportbuffer", "v4l2_capability",
        "v4l2_fmtdesc", "v4l2_frmsizeenum", "v4l2_event_subscription", "media_device_info",
        "media_v2_topology", "v4l2_ctrl_h264_sps", "v4l2_ctrl_h264_pps", "v4l2_ctrl_h264_scaling_matrix",
        "v4l2_h264_weight_factors", "v4l2_ctrl_h264_pred_weights", "v4l2_h264_reference",
        "v4l2_ctrl_h264_slice_params", "v4l2_h264_dpb_entry", "v4l2_ctrl_h264_decode_params",
        "v4l2_ctrl_fwht_params",
    ):
        assert name in structs, name
    assert "v4l2_ctrl_h264_sps.flags 1044 4" in layout
    assert any(line.startswith("v4l2_buffer.m.planes ") for line in layout)
    assert not any("._" in line or line.startswith("_") for line in layout), "Python-only helper names leaked"
    assert len(layout) == len(set(layout))


def test_layout_matches_kernel_headers(gcc: str, layout: list[str], tmp_path) -> None:
    assert len(layout) > 300
    src = tmp_path / "layout_probe.c"
    src.write_text(_probe_source(layout))
    exe = tmp_path / "layout_probe"
    cc = subprocess.run([gcc, "-o", str(exe), str(src)], capture_output=True, text=True)
    assert cc.returncode == 0, f"probe does not compile (unknown struct or member?):\n{cc.stderr[:4000]}"
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    assert len(got) == len(layout)
    mismatches = [(py, c) for py, c in zip(layout, got) if py != c]
    assert not mismatches, "python layout vs C layout:\n" + "\n".join(f"{p}  !=  {c}" for p, c in mismatches)


# ------------------------------------------------------------------ scalar types (signedness)
def _construct_scalars(con, path: str):
    """(C member path, signed, size) of every scalar leaf of a construct struct ([0] for arrays)."""
    import construct

    if isinstance(con, construct.FormatField):
        ch = con.fmtstr[1]
        yield path, ch.islower(), con.sizeof()
    elif isinstance(con, construct.Array):
        yield from _construct_scalars(con.subcon, f"{path}[0]")
    else:
        for sc in con.subcons:
            yield from _construct_scalars(sc.subcon, f"{path}.{sc.name}" if path else sc.name)


def _ctypes_scalars(cls, path: str):
    import ctypes

    signed = {ctypes.c_int8, ctypes.c_int16, ctypes.c_int32, ctypes.c_int64, ctypes.c_long, ctypes.c_int}
    unsigned = {ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_ulong, ctypes.c_uint}
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for fname, ftype, *_ in cls._fields_:
        if fname.startswith("_") and fname not in anonymous:
            continue
        p = path if fname in anonymous else (f"{path}.{fname}" if path else fname)
        while isinstance(ftype, type) and issubclass(ftype, ctypes.Array):
            if ftype._type_ is ctypes.c_char:
                break
            p, ftype = f"{p}[0]", ftype._type_
        if ftype in signed or ftype in unsigned:
            yield p, ftype in signed, ctypes.sizeof(ftype)
        elif isinstance(ftype, type) and issubclass(ftype, (ctypes.Structure, ctypes.Union)):
            yield from _ctypes_scalars(ftype, p)


def test_scalar_signedness_matches_kernel_headers(gcc: str, tmp_path) -> None:
    """Layouts cannot tell __s8 from __u8: compare each scalar member's signedness and size."""
    from pyv4l2req.uapi import layout as L

    items = []
    for cname, con in L.construct_structs().items():
        items += [(cname, p, s, n) for p, s, n in _construct_scalars(con, "")]
    for cname, cls in L.ctypes_structs().items():
        items += [(cname, p, s, n) for p, s, n in _ctypes_scalars(cls, "")]
    assert len(items) > 250
    src = [f"#include <{h}>" for h in HEADERS] + ["int main(void) {"]
    for cname, p, _s, _n in items:
        m = f"(((struct {cname} *)0)->{p})"
        src.append(f'  printf("{cname}.{p} %d %zu\\n", (int)((__typeof__({m}))-1 < 0), sizeof({m}));')
    src += ["  return 0;", "}"]
    (tmp_path / "s.c").write_text("\n".join(src) + "\n")
    cc = subprocess.run([gcc, "-o", str(tmp_path / "s"), str(tmp_path / "s.c")], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr[:4000]
    got = subprocess.run([str(tmp_path / "s")], check=True, capture_output=True, text=True).stdout.splitlines()
    want = [f"{cname}.{p} {int(s)} {n}" for cname, p, s, n in items]
    bad = [(w, g) for w, g in zip(want, got) if w != g]
    assert not bad, "python (signed, size) vs C:\n" + "\n".join(f"{w}  !=  {g}" for w, g in bad)
