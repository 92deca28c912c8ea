"""No run-time import cycles between the modules of ``pyv4l2req``, checked on the AST.

The graph has one node per module (a package is its ``__init__``) and an edge A -> B for every
``import`` / ``from ... import`` in A that names module B of the package:

- ``from P import x`` is an edge to ``P.x`` when that is a module, else to ``P`` (x is an
  attribute of P); ``import P.Q`` is an edge to ``P.Q``. The parent packages that Python runs
  on the way are not edges: a package ``__init__`` re-exporting its submodules would otherwise
  be a cycle with every one of them, and it is not one.
- Imports inside an ``if TYPE_CHECKING:`` block do not count: they never run.
- Imports inside functions (deferred imports) *do* count. A deferred import does not make two
  modules independent, it only moves the moment they meet: the first call from A needs B
  loaded, and B needs A. Deferring is the usual way to make an import cycle stop raising
  ImportError, and this test is here to say that the cycle is still there. (A cycle that is
  really needed must be argued in this docstring, with its modules, not hidden in a function.)
- ``importlib.import_module(name)`` with a computed name (the lazy attributes of
  ``pyv4l2req/__init__.py``) is not seen; the layer test (tests/test_layering.py) already
  keeps ``__init__`` above everything it can load.

Each package of the top level gets its own test that lists every cycle through one of its
modules, so a cycle in one layer does not hide the state of another.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "pyv4l2req"

Edge = tuple[str, str, int]  # (importer, imported, line)


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the package at *root*."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _run_time_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of *tree* except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            todo += node.orelse  # the else branch of ``if TYPE_CHECKING:`` runs
            continue
        todo += ast.iter_child_nodes(node)
    return found


def import_edges(root: Path) -> list[Edge]:
    """The run-time import edges between the modules of the package at *root*."""
    modules = module_names(root)
    edges: list[Edge] = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _run_time_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source
                           for a in node.names]
            for target in targets:
                while target and target not in modules:  # import P.Q.attr: the module P.Q
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.append((name, target, node.lineno))
    return edges


def cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for a, b, _line in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def describe(component: list[str], edges: list[Edge]) -> str:
    """One cycle through the component's first module (shortest, by BFS) and every import
    between its modules with its line, for the failure message."""
    inside = set(component)
    succ: dict[str, list[str]] = {}
    for a, b, _line in edges:
        if a in inside and b in inside and b not in succ.setdefault(a, []):
            succ[a].append(b)
    start = component[0]
    parent: dict[str, str] = {}
    todo = deque([start])
    while todo:
        v = todo.popleft()
        if start in succ.get(v, ()):
            path = [start]
            while v != start:
                path.append(v)
                v = parent[v]
            path.append(start)
            break
        for w in succ.get(v, ()):
            if w not in parent and w != start:
                parent[w] = v
                todo.append(w)
    cycle = " -> ".join(reversed(path))
    lines = sorted({f"    {a} (line {line}) imports {b}" for a, b, line in edges if a in inside and b in inside})
    return "\n".join([f"  cycle: {cycle}", *lines])


def _top_packages() -> list[str]:
    return sorted({p.relative_to(ROOT).parts[0].removesuffix(".py") for p in ROOT.glob("*") if
                   p.suffix == ".py" or (p / "__init__.py").exists()})


@pytest.mark.parametrize("package", _top_packages())
def test_no_run_time_import_cycle(package: str) -> None:
    edges = import_edges(ROOT)
    if package == "__init__":  # the top-level module only, not everything below it
        prefix = "pyv4l2req"
        mine = [c for c in cycles(edges) if prefix in c]
    else:
        prefix = f"pyv4l2req.{package}"
        mine = [c for c in cycles(edges) if any(m == prefix or m.startswith(prefix + ".") for m in c)]
    assert not mine, f"run-time import cycles through {prefix}:\n" + "\n".join(describe(c, edges) for c in mine)


def test_the_check_finds_a_cycle_and_ignores_type_checking_imports(tmp_path: Path) -> None:
    """The checker itself, on a synthetic package: a <-> b (b imports a inside a function) is
    reported with its lines; c -> a under ``if TYPE_CHECKING:`` (with a -> c) is not a cycle."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")
    (pkg / "a.py").write_text("from .sub.b import thing\nfrom . import c\n")
    (pkg / "sub" / "b.py").write_text("thing = 1\n\ndef later():\n    from ..a import thing\n    return thing\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import thing\nelse:\n    import json\n")
    edges = import_edges(pkg)
    assert ("pkg.sub.b", "pkg.a", 4) in edges  # the deferred import is an edge
    assert not any(a == "pkg.c" for a, _b, _line in edges)  # the TYPE_CHECKING one is not
    assert ("pkg.sub", "pkg.sub.b", 1) in edges  # a package re-exporting its module: no cycle
    assert cycles(edges) == [["pkg.a", "pkg.sub.b"]]
    message = describe(["pkg.a", "pkg.sub.b"], edges)
    assert "cycle: pkg.a -> pkg.sub.b -> pkg.a" in message
    assert "pkg.sub.b (line 4) imports pkg.a" in message and "pkg.a (line 1) imports pkg.sub.b" in message
