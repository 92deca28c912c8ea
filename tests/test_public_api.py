"""The top-level namespace of ``pyv4l2req``: what ``dir()`` shows, and the PEP 561 marker."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pyv4l2req

REPO = Path(__file__).resolve().parents[1]


def _dir_in_a_fresh_interpreter(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", f"import pyv4l2req\n{code}\nprint(*dir(pyv4l2req))"],
                         check=True, capture_output=True, text=True, cwd=REPO).stdout
    return out.split()


def test_dir_shows_the_api_and_no_private_or_helper_name():
    for code in ("", "pyv4l2req.Decoder, pyv4l2req.discover"):  # before and after the lazy imports
        names = _dir_in_a_fresh_interpreter(code)
        assert set(pyv4l2req.__all__) <= set(names)
        private = [n for n in names if n.startswith("_") and not (n.startswith("__") and n.endswith("__"))]
        assert not private, private
        assert not {"Any", "TYPE_CHECKING", "annotations", "ModuleType", "importlib"} & set(names)
        assert "errors" in names  # the documented errors module


def test_py_typed_is_shipped():
    assert (REPO / "pyv4l2req" / "py.typed").is_file()
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["pyv4l2req"]
