"""docs/architecture.md names every module of the package, and only modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "pyv4l2req"


def _table_rows() -> dict[str, str]:
    """package (or file) of each row of the layer table -> the row's text."""
    rows = {}
    for line in (REPO / "docs" / "architecture.md").read_text().splitlines():
        m = re.match(r"\| [-0-9] \| `([a-z_./0-9]+)` \|(.*)", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def _modules() -> set[str]:
    """Every module file, relative to pyv4l2req/ (package __init__ files aside)."""
    return {str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if p.name != "__init__.py"}


def _named(rows: dict[str, str]) -> set[str]:
    named = set()
    for pkg, text in rows.items():
        if pkg.endswith(".py"):
            named.add(str(Path(pkg).relative_to("pyv4l2req")))
            continue
        base = Path(*pkg.split(".")[1:])
        sub = ""
        for part in re.split(r"(`[a-z_0-9/.]+`)", text):
            m = re.fullmatch(r"`([a-z_0-9/]+)(\.py)?`", part)
            if not m:
                continue
            if m.group(1).endswith("/") and not m.group(2):
                sub = m.group(1)  # "h264/": the files named after it are in that subpackage
                continue
            if m.group(2):
                name = m.group(1) + ".py"
                if name.startswith("pyv4l2req/"):
                    named.add(name[len("pyv4l2req/"):])
                else:
                    named.add(str(base / sub / name))
    return {n for n in named if not n.endswith("__init__.py")}


def test_every_named_file_exists():
    missing = sorted(n for n in _named(_table_rows()) if not (PKG / n).is_file())
    assert missing == [], f"docs/architecture.md names files that do not exist: {missing}"


def test_every_module_is_named():
    unnamed = sorted(_modules() - _named(_table_rows()))
    assert unnamed == [], f"modules missing from docs/architecture.md's table: {unnamed}"
