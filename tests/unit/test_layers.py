"""Imports point down the layer list (STYLE.md section 1)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "glmops"
# core/ is pure numerics. scipy is allowed for its sparse matrix type only.
CORE_ALLOWED = {"numpy", "numba", "scipy", "glmops.core", "glmops.errors", "glmops._typing"}
STDLIB_OK = {
    "__future__",
    "collections",
    "dataclasses",
    "typing",
    "functools",
    "concurrent",
    "math",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_only_numerics():
    offenders = []
    for path in sorted((SRC / "core").glob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in STDLIB_OK:
                continue
            bad_scipy = name.startswith("scipy") and name not in {"scipy.sparse", "scipy"}
            allowed = any(name == a or name.startswith(a + ".") for a in CORE_ALLOWED)
            if bad_scipy or not allowed:
                offenders.append(f"{path.name}: {name}")
    assert not offenders, f"core/ reaches outside numerics: {offenders}"


def test_errors_module_imports_nothing_from_glmops():
    assert not any(n.startswith("glmops") for n in _imports(SRC / "errors.py"))
