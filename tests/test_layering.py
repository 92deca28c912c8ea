"""The layer rules of docs/architecture.md, checked on the AST of every module.

A module may import pyv4l2req modules only from the packages its layer allows, and the codec
layer (sans-IO) may not touch files or devices at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "pyv4l2req"

ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "uapi": {"errors", "uapi"},
    "kernel": {"errors", "uapi", "kernel"},
    "emulated": {"errors", "uapi", "kernel", "emulated"},
    "v4l2": {"errors", "uapi", "kernel", "v4l2"},
    "codec": {"errors", "uapi", "codec"},
    "pipeline": {"errors", "uapi", "kernel", "emulated", "v4l2", "codec", "pipeline"},
    "cli": {"errors", "uapi", "kernel", "emulated", "v4l2", "codec", "pipeline", "cli", "__init__"},
    "__init__": {"errors", "uapi", "kernel", "emulated", "v4l2", "codec", "pipeline", "__init__"},
    "__main__": {"cli"},
    "testing": None,  # test helpers may import anything
}
IO_MODULES = {"os", "io", "fcntl", "mmap", "select", "socket", "subprocess", "ctypes", "pathlib", "shutil", "tempfile"}


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py"))


def _package_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute dotted names of everything a module imports, with line numbers."""
    tree = ast.parse(path.read_text(), str(path))
    rel = path.relative_to(ROOT.parent).with_suffix("")
    pkg_parts = list(rel.parts[:-1])  # the package a relative import is resolved against
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
                out += [(n, node.lineno) for n in names]
            else:
                out.append((node.module or "", node.lineno))
    return out


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_respects_layers(path: Path) -> None:
    pkg = _package_of(path)
    assert pkg in ALLOWED, f"{path}: package {pkg!r} has no layer in docs/architecture.md"
    allowed = ALLOWED[pkg]
    if allowed is None:
        return
    bad = []
    for name, line in _imports(path):
        parts = name.split(".")
        if parts[0] != "pyv4l2req":
            continue
        target = parts[1] if len(parts) > 1 else "__init__"
        if target not in allowed:
            bad.append(f"line {line}: imports {name}")
    assert not bad, f"{path.relative_to(ROOT)} ({pkg}) breaks the layering: {bad}"


@pytest.mark.parametrize(
    "path", [p for p in _modules() if _package_of(p) == "codec"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_codec_layer_is_sans_io(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    bad = [f"line {n}: {name}" for name, n in _imports(path) if name.split(".")[0] in IO_MODULES]
    bad += [
        f"line {node.lineno}: open()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open"
    ]
    assert not bad, f"codec layer module does I/O: {bad}"


ADAPTERS = {"pyv4l2req_va"}
"""Separate distributions built on pyv4l2req (va/: the VA-API driver); the core never imports them."""


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_an_adapter(path: Path) -> None:
    bad = [f"line {n}: imports {name}" for name, n in _imports(path) if name.split(".")[0] in ADAPTERS]
    assert not bad, f"{path.relative_to(ROOT)}: the core package imports an adapter: {bad}"


def test_layering_check_catches_violations(tmp_path: Path) -> None:
    """The checker itself: a codec module importing the kernel layer is reported."""
    (tmp_path / "pyv4l2req" / "codec").mkdir(parents=True)
    bad = tmp_path / "pyv4l2req" / "codec" / "bad.py"
    bad.write_text("from ..kernel import backend\nimport os\n")
    global ROOT
    saved = ROOT
    ROOT = tmp_path / "pyv4l2req"
    try:
        with pytest.raises(AssertionError, match="breaks the layering"):
            test_module_respects_layers(bad)
        with pytest.raises(AssertionError, match="does I/O"):
            test_codec_layer_is_sans_io(bad)
        adapter_user = tmp_path / "pyv4l2req" / "pipeline" / "va.py"
        adapter_user.parent.mkdir()
        adapter_user.write_text("import pyv4l2req_va.driver\n")
        with pytest.raises(AssertionError, match="imports an adapter"):
            test_core_never_imports_an_adapter(adapter_user)
    finally:
        ROOT = saved
