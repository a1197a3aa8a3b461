"""The layout rules of docs/architecture.md, enforced on every import.

Imports are read with ``ast`` from every statement in a module, including
those inside functions and under ``TYPE_CHECKING``: a lazy import is still a
dependency. Each rule names the folder it guards and what it may not reach.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "glmops"

# The package root is the table of contents: shared vocabulary only. A new
# lifecycle stage gets a folder, never another top-level module.
ROOT_MODULES = {
    "__init__",
    "_arrow",
    "_durable",
    "_extras",
    "_redact",
    "_signing",
    "_typing",
    "_validation",
    "artifact",
    "calibration",
    "config",
    "errors",
    "model",
}
STAGE_FOLDERS = {
    "core",
    "data",
    "engines",
    "estimators",
    "training",
    "evaluation",
    "registry",
    "serving",
    "monitoring",
    "cli",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """Return the absolute module named by a (possibly relative) ``from`` import."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


@cache
def imports_of(path: Path) -> frozenset[str]:
    """Every module a file imports, anywhere in it (``from a import b`` counts a and a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module_name(path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return frozenset(names)


def _files(folder: str) -> list[Path]:
    return sorted((SRC / folder).rglob("*.py"))


def _reaches(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _offenders(folders: list[str], forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(SRC)}: {name}"
        for folder in folders
        for path in _files(folder)
        for name in sorted(imports_of(path))
        if _reaches(name, forbidden)
    ]


STDLIB = set(sys.stdlib_module_names)

# folder -> what it may never import (glmops modules and third-party packages)
ABOVE_DATA = {
    "glmops.model",
    "glmops.config",
    "glmops.artifact",
    "glmops.calibration",
    "glmops.engines",
    "glmops.estimators",
    "glmops.training",
    "glmops.evaluation",
    "glmops.registry",
    "glmops.serving",
    "glmops.monitoring",
    "glmops.cli",
}
NEVER_IMPORTS = {
    "data": ABOVE_DATA,
    "engines": {
        "glmops.estimators",
        "glmops.training",
        "glmops.evaluation",
        "glmops.registry",
        "glmops.serving",
        "glmops.monitoring",
        "glmops.cli",
    },
    "estimators": {
        "glmops.training",
        "glmops.evaluation",
        "glmops.registry",
        "glmops.serving",
        "glmops.monitoring",
        "glmops.cli",
        "glmops.model",
        "glmops.artifact",
        "glmops.config",
    },
    "training": {
        "glmops.registry",
        "glmops.serving",
        "glmops.monitoring",
        "glmops.cli",
        "fastapi",
        "starlette",
    },
    "evaluation": {
        "glmops.estimators",
        "glmops.training",
        "glmops.registry",
        "glmops.serving",
        "glmops.monitoring",
        "glmops.cli",
    },
    "registry": {
        "glmops.serving",
        "glmops.training",
        "glmops.estimators",
        "glmops.monitoring",
        "glmops.cli",
        "glmops.evaluation.report",
        "glmops.evaluation.model_report",
        "glmops.evaluation.model_card",
        "fastapi",
        "starlette",
        "uvicorn",
        "matplotlib",
    },
    "serving": {"glmops.training", "glmops.estimators", "glmops.cli"},
    "monitoring": {
        "glmops.serving",
        "glmops.training",
        "glmops.estimators",
        "glmops.cli",
        "fastapi",
        "starlette",
    },
}


def test_root_holds_only_the_shared_vocabulary():
    modules = {p.stem for p in SRC.glob("*.py")}
    folders = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert modules - ROOT_MODULES == set(), "a new stage gets a folder, not a root module"
    assert folders - STAGE_FOLDERS == set(), "a new folder must be added to the layout doc"


def test_core_imports_only_numerics():
    allowed = {"numpy", "numba", "scipy", "scipy.sparse", "scipy.linalg", "glmops.core"}
    allowed |= {"glmops.errors", "glmops._typing"}
    offenders = [
        f"{path.relative_to(SRC)}: {name}"
        for path in _files("core")
        for name in sorted(imports_of(path))
        if (name.split(".")[0] not in STDLIB and not _reaches(name, allowed))
        # `from scipy.sparse import csc_matrix` names scipy.sparse.csc_matrix
        or (name.startswith("scipy.") and not name.startswith(("scipy.sparse", "scipy.linalg")))
    ]
    assert not offenders, f"core/ reaches outside numpy/numba/scipy.sparse/linalg: {offenders}"


@pytest.mark.parametrize("folder", sorted(NEVER_IMPORTS))
def test_folder_never_imports_what_sits_above_it(folder):
    offenders = _offenders([folder], NEVER_IMPORTS[folder])
    assert not offenders, f"{folder}/ breaks the layering: {offenders}"


def test_only_training_and_engines_build_estimators():
    lifecycle = ["data", "evaluation", "registry", "serving", "monitoring", "cli"]
    offenders = _offenders(lifecycle, {"glmops.estimators", "sklearn.linear_model"})
    roots = [SRC / f"{m}.py" for m in ("model", "artifact", "config", "calibration")]
    offenders += [
        f"{p.name}: {n}" for p in roots for n in imports_of(p) if _reaches(n, {"glmops.estimators"})
    ]
    assert not offenders, f"only training/ and engines/ may import the estimators: {offenders}"


def test_errors_module_imports_nothing_from_glmops():
    assert not any(n.startswith("glmops") for n in imports_of(SRC / "errors.py"))


def _module_level_graph() -> dict[str, set[str]]:
    """Module -> glmops modules it imports at import time (top level, not TYPE_CHECKING)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in tree.body:  # module level only: function bodies run later
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, path.name == "__init__.py", node)
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
            edges.update(t for t in targets if t in modules and t != module)
        graph[module] = edges
    return graph


def test_no_import_cycles_between_modules():
    graph = _module_level_graph()
    # a package's __init__ re-exporting its own modules is not a cycle of concepts
    for module in graph:
        graph[module] = {t for t in graph[module] if not module.startswith(t + ".")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_rules_can_fail(tmp_path):
    """The collector sees a function-level import of a forbidden module."""
    bad = tmp_path / "glmops" / "registry" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    from glmops.serving import app\n    import fastapi\n")
    global SRC
    saved, SRC = SRC, tmp_path / "glmops"
    try:
        imports_of.cache_clear()
        assert _offenders(["registry"], NEVER_IMPORTS["registry"]) == [
            "registry/bad.py: fastapi",
            "registry/bad.py: glmops.serving",
            "registry/bad.py: glmops.serving.app",
        ]
    finally:
        SRC = saved
        imports_of.cache_clear()
