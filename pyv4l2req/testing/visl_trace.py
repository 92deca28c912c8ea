"""visl's H.264 control trace (tracefs), captured inside the test-kernel VM and parsed to dicts.

visl (drivers/media/test-drivers/visl) prints, for every request it runs, each H.264 control
struct as the kernel received it (``events/visl_h264_controls/``). In Linux 6.12 the order per
request is: ``v4l2_ctrl_h264_sps``, ``_pps``, ``_scaling_matrix``, ``_slice_params``, 32 x
``v4l2_h264_ref_pic_list0``, 32 x ``_list1``, ``v4l2_ctrl_h264_decode_params``, 16 x
``v4l2_h264_dpb_entry``, ``v4l2_ctrl_h264_pred_weights``. A record starts at each SPS event.

Each record is a dict ``{"sps": {...}, "pps": {...}, "scaling_matrix": {...},
"slice_params": {...}, "ref_pic_list0": [{"fields", "index"}] * 32, "ref_pic_list1": [...],
"decode_params": {...}, "dpb": [{...}] * 16, "pred_weights": {...}}`` with C field names and
integer values (flags and symbols turned back into numbers, signed fields sign-corrected, 2-D
arrays as lists of lists) -- the value convention of ``pyv4l2req.uapi.h264``. :func:`as_controls`
nests the lists into ``slice_params``/``decode_params`` like the control structs.

Public API: :func:`parse_trace`, :func:`trace_visl_h264` (run a command with the events on),
:func:`gst_reference_controls` (GStreamer's ``v4l2slh264dec`` on visl: the reference our own
controls are compared with), :func:`as_controls`, :class:`TraceError`.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

from pyv4l2req.uapi import h264 as uh264

TRACEFS = Path("/sys/kernel/tracing")
EVENT_SYSTEM = "visl_h264_controls"

_EVENT_KEYS = {
    "v4l2_ctrl_h264_sps": "sps",
    "v4l2_ctrl_h264_pps": "pps",
    "v4l2_ctrl_h264_scaling_matrix": "scaling_matrix",
    "v4l2_ctrl_h264_pred_weights": "pred_weights",
    "v4l2_ctrl_h264_slice_params": "slice_params",
    "v4l2_h264_ref_pic_list0": "ref_pic_list0",
    "v4l2_h264_ref_pic_list1": "ref_pic_list1",
    "v4l2_ctrl_h264_decode_params": "decode_params",
    "v4l2_h264_dpb_entry": "dpb",
}
_LIST_KEYS = {"ref_pic_list0", "ref_pic_list1", "dpb"}

_HEADER = re.compile(r"^.*?\d+\.\d+: (?P<event>v4l2_\w+): ?(?P<rest>.*)$")
_FIELD = re.compile(r"(?P<name>[A-Za-z_][\w.\[\]]*) (?P<value>\{[^}]*\}|[^\n]*)", re.S)
_ENTRY = re.compile(r"^\[(?P<i>\d+)\]: (?P<body>.*)$", re.S)


class TraceError(RuntimeError):
    """The trace could not be captured or does not parse (names the event and field)."""


def _flag_table(prefix: str) -> dict[str, int]:
    return {name[len(prefix):]: getattr(uh264, name) for name in dir(uh264) if name.startswith(prefix)}


# The names __print_flags/__print_symbolic print, as in visl-trace-h264.h -> their values.
_FLAGS = {
    ("sps", "constraint_set_flags"): {
        k: v for k, v in _flag_table("V4L2_H264_SPS_").items() if k.startswith("CONSTRAINT_SET")},
    ("sps", "flags"): _flag_table("V4L2_H264_SPS_FLAG_"),
    ("pps", "flags"): _flag_table("V4L2_H264_PPS_FLAG_"),
    ("slice_params", "flags"): _flag_table("V4L2_H264_SLICE_FLAG_"),
    ("decode_params", "flags"): _flag_table("V4L2_H264_DECODE_PARAM_FLAG_"),
    ("dpb", "flags"): _flag_table("V4L2_H264_DPB_ENTRY_FLAG_"),
    ("dpb", "fields"): {"TOP_FIELD_REF": uh264.V4L2_H264_TOP_FIELD_REF,
                        "BOTTOM_FIELD_REF": uh264.V4L2_H264_BOTTOM_FIELD_REF,
                        "FRAME_REF": uh264.V4L2_H264_FRAME_REF},
}
_FLAGS[("ref", "fields")] = _FLAGS[("dpb", "fields")]
_SLICE_TYPES = _flag_table("V4L2_H264_SLICE_TYPE_")

# Signed C fields printed with %u (s8 promoted to int) or as unsigned array elements / bytes.
_SIGNED_SCALAR_BITS = {("slice_params", "slice_alpha_c0_offset_div2"): 32,
                       ("slice_params", "slice_beta_offset_div2"): 32}
_SIGNED_ARRAY_BITS = {"offset_for_ref_frame": 32, "luma_weight": 16, "luma_offset": 16,
                      "chroma_weight": 16, "chroma_offset": 16}
# __s16 arrays printed byte by byte by __print_hex_dump (x86: little endian).
_HEX_DUMPED_S16 = {"chroma_weight", "chroma_offset"}


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _parse_flags(key: tuple[str, str], text: str) -> int:
    table = _FLAGS[key]
    value = 0
    for part in filter(None, text.strip().split("|")):
        if part in table:
            value |= table[part]
        elif part.startswith("0x"):  # bits __print_flags has no name for
            value |= int(part, 16)
        else:
            raise TraceError(f"{key[0]}.{key[1]}: unknown flag {part!r}")
    return value


def _parse_array(text: str) -> list[int]:
    # __print_array: {0x1,0x2}; __print_hex_dump: {\n01 02 ... (rows of 32 bytes)\n}
    return [int(tok, 16) for tok in re.split(r"[\s,]+", text.strip()[1:-1]) if tok]


def _parse_struct(key: str, body: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pw: dict[int, dict[str, Any]] = {}
    for m in _FIELD.finditer(body):
        name, raw = m.group("name"), m.group("value").strip()
        if (key, name) in _FLAGS:
            out[name] = _parse_flags((key, name), raw)
            continue
        if key == "slice_params" and name == "slice_type":
            if raw not in _SLICE_TYPES:
                raise TraceError(f"slice_params.slice_type: unknown symbol {raw!r}")
            out[name] = _SLICE_TYPES[raw]
            continue
        if raw.startswith("{"):
            base = name.split(".")[-1]
            values = _parse_array(raw)
            if base in _HEX_DUMPED_S16:
                values = [values[i] | values[i + 1] << 8 for i in range(0, len(values) - 1, 2)]
            if base in _SIGNED_ARRAY_BITS:
                values = [_signed(v, _SIGNED_ARRAY_BITS[base]) for v in values]
            if base in ("chroma_weight", "chroma_offset"):  # [32][2]
                values = [values[i:i + 2] for i in range(0, len(values), 2)]
            elif base == "scaling_list_4x4":
                values = [values[i:i + 16] for i in range(0, len(values), 16)]
            elif base == "scaling_list_8x8":
                values = [values[i:i + 64] for i in range(0, len(values), 64)]
            wf = re.fullmatch(r"weight_factor\[(\d)\]\.(\w+)", name)
            if wf:
                pw.setdefault(int(wf.group(1)), {})[wf.group(2)] = values
            else:
                out[name] = values
            continue
        try:
            value = int(raw)
        except ValueError:
            raise TraceError(f"{key}.{name}: cannot parse {raw!r}") from None
        if (key, name) in _SIGNED_SCALAR_BITS:
            value = _signed(value & ((1 << 32) - 1), _SIGNED_SCALAR_BITS[(key, name)])
        out[name] = value
    if pw:
        out["weight_factors"] = [pw.get(0, {}), pw.get(1, {})]
    return out


_DPB_ENTRY = re.compile(
    r"reference_ts (?P<reference_ts>\d+), pic_num (?P<pic_num>\d+) frame_num (?P<frame_num>\d+)"
    r" fields (?P<fields>\S*) ?top_field_order_cnt (?P<top_field_order_cnt>-?\d+)"
    r" bottom_field_order_cnt (?P<bottom_field_order_cnt>-?\d+) flags ?(?P<flags>\S*)")
_REF_ENTRY = re.compile(r"fields (?P<fields>\S*) ?index (?P<index>\d+)")


def _parse_entry(key: str, body: str) -> tuple[int, dict[str, int]]:
    m = _ENTRY.match(body.strip())
    if not m:
        raise TraceError(f"{key}: cannot parse entry {body!r}")
    inner = m.group("body")
    pattern = _DPB_ENTRY if key == "dpb" else _REF_ENTRY
    f = pattern.search(inner)
    if not f:
        raise TraceError(f"{key}: cannot parse entry {body!r}")
    entry: dict[str, int] = {}
    for name, raw in f.groupdict().items():
        if name == "fields":
            entry[name] = _parse_flags(("dpb", "fields"), raw)
        elif name == "flags":
            entry[name] = _parse_flags(("dpb", "flags"), raw)
        else:
            entry[name] = int(raw)
    return int(m.group("i")), entry


def _events(text: str) -> list[tuple[str, str]]:
    events: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = _HEADER.match(line)
        if m:
            events.append((m.group("event"), [m.group("rest")]))
        elif events:
            events[-1][1].append(line)
    return [(name, "\n".join(lines)) for name, lines in events]


def parse_trace(text: str) -> list[dict[str, Any]]:
    """Per-request records from the text of ``/sys/kernel/tracing/trace`` (see module doc)."""
    records: list[dict[str, Any]] = []
    for event, body in _events(text):
        key = _EVENT_KEYS.get(event)
        if key is None:
            continue
        if key == "sps" or not records:
            records.append({})
        record = records[-1]
        if key in _LIST_KEYS:
            index, entry = _parse_entry(key, body)
            entries = record.setdefault(key, [])
            if index != len(entries):
                raise TraceError(f"{event}: entry [{index}] out of order (expected [{len(entries)}])")
            entries.append(entry)
        else:
            if key in record:
                raise TraceError(f"{event}: twice in one request (a record starts at each SPS event)")
            record[key] = _parse_struct(key, body)
    return records


def as_controls(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record shaped like the control structs: ref lists in slice_params, dpb in decode_params."""
    out = {k: dict(v) for k, v in record.items() if k not in _LIST_KEYS}
    if "slice_params" in out:
        out["slice_params"]["ref_pic_list0"] = list(record.get("ref_pic_list0", []))
        out["slice_params"]["ref_pic_list1"] = list(record.get("ref_pic_list1", []))
    if "decode_params" in out:
        out["decode_params"]["dpb"] = list(record.get("dpb", []))
    return out


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def trace_visl_h264(
    command: Sequence[str],
    timeout_s: float,
    *,
    env: Mapping[str, str] | None = None,
    buffer_size_kb: int = 16384,
) -> tuple[subprocess.CompletedProcess, list[dict[str, Any]]]:
    """Run ``command`` with visl's H.264 events enabled; return its result and the records.

    Needs root and the test kernel (inside the VM). Mounts tracefs if needed, clears the ring
    buffer, and raises :class:`TraceError` if events were lost (buffer overrun) or the command
    times out.
    """
    if not (TRACEFS / "trace").exists():
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=True)
    events = TRACEFS / "events" / EVENT_SYSTEM
    if not events.is_dir():
        raise TraceError(f"{events} does not exist: this kernel has no visl H.264 trace events")
    _write(TRACEFS / "tracing_on", "0")
    _write(TRACEFS / "buffer_size_kb", str(buffer_size_kb))
    _write(TRACEFS / "trace", "")
    _write(events / "enable", "1")
    _write(TRACEFS / "tracing_on", "1")
    try:
        proc = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout_s,
                              env=None if env is None else {**os.environ, **env})
    except subprocess.TimeoutExpired as exc:
        raise TraceError(f"{command[0]} did not finish within {timeout_s} s") from exc
    finally:
        _write(TRACEFS / "tracing_on", "0")
        _write(events / "enable", "0")
    text = (TRACEFS / "trace").read_text()
    counts = re.search(r"entries-in-buffer/entries-written: (\d+)/(\d+)", text)
    if counts and counts.group(1) != counts.group(2):
        raise TraceError(f"trace buffer overrun: {counts.group(1)} of {counts.group(2)} events kept;"
                         f" raise buffer_size_kb (was {buffer_size_kb})")
    return proc, parse_trace(text)


def gst_registry() -> Path:
    """Where GStreamer's plugin registry is kept: the VM cache directory (built once)."""
    base = os.environ.get("PYV4L2REQ_VM_CACHE") or tempfile.gettempdir()
    return Path(base) / "gst-registry-vm.bin"


def gst_reference_controls(vector_path: str | os.PathLike[str], timeout_s: float) -> list[dict[str, Any]]:
    """GStreamer's controls for an Annex B H.264 file, as visl received them, one dict a request.

    Runs ``gst-launch-1.0 filesrc ! h264parse ! v4l2slh264dec ! fakesink`` inside the VM.
    Raises :class:`TraceError` when the pipeline fails (with its output) or produces no requests.
    """
    command = ["gst-launch-1.0", "-q", "filesrc", f"location={os.fspath(vector_path)}", "!",
               "h264parse", "!", "v4l2slh264dec", "!", "fakesink"]
    proc, records = trace_visl_h264(command, timeout_s, env={"GST_REGISTRY": str(gst_registry())})
    if proc.returncode != 0 or not records:
        raise TraceError(f"{' '.join(command)} exited with {proc.returncode} after {len(records)} "
                         f"requests:\n{proc.stdout}\n{proc.stderr}")
    return records
