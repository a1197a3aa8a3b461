"""The wheel installs lean: ``pip install glmops`` without extras fits, and names a missing extra.

The slow test builds the wheel, installs it into a fresh virtual environment
without extras (pip's cache and the local wheelhouse make that quick and
offline when they hold the dependencies; otherwise pip downloads them), then
runs ``glmops --version``, an ``ElasticNet`` fit and ``glmops serve`` from it.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from glmops import __version__
from glmops._extras import EXTRAS

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# import name -> the distribution that provides it, where the two differ
# pyproject's [build-system] needs setuptools>=77 (the SPDX license string)
BUILD_SETUPTOOLS = 77
DISTRIBUTION = {"prometheus_client": "prometheus-client", "starlette": "fastapi"}

FIT = """
import numpy as np
from glmops import ElasticNet
rng = np.random.default_rng(0)
X = rng.standard_normal((200, 5))
y = X @ np.array([3.0, -2.0, 0.0, 0.0, 1.0]) + 0.01 * rng.standard_normal(200)
model = ElasticNet(alpha=1e-4, l1_ratio=0.5).fit(X, y)
assert model.dual_gap_ <= 1e-4 * (y @ y) / len(y), model.dual_gap_
print(" ".join(f"{c:.2f}" for c in model.coef_))
"""


def _names(requirements: list[str]) -> set[str]:
    """Return the distribution names of requirement strings (no extras, versions, markers)."""
    return {re.split(r"[\s\[<>=!;~]", r, maxsplit=1)[0].lower() for r in requirements}


def test_every_extra_of_the_code_is_declared_in_pyproject() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    core = _names(PYPROJECT["project"]["dependencies"])
    for extra, modules in EXTRAS.items():
        declared = _names(extras[extra])
        for module in modules:
            dist = DISTRIBUTION.get(module, module)
            assert dist in declared, f"{module} ({dist}) missing from [{extra}]"
            assert dist not in core, f"{dist} is in the core install and in [{extra}]"
    assert extras["all"] == [f"glmops[{','.join(EXTRAS)}]"]
    assert "glmops[all]" in extras["dev"]


def _run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["NUMBA_CACHE_DIR"] = str(cwd / "numba-cache")
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _setuptools_major() -> int:
    try:
        return int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return 0


def _source_copy(dest: Path) -> Path:
    """Copy what the wheel is built from: setuptools writes build/ and *.egg-info in-tree."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.nbi", "*.nbc")
    shutil.copytree(ROOT / "src", dest / "src", ignore=skip)
    return dest


def _build_wheel(out: Path) -> Path:
    """Build glmops' wheel into ``out`` (no build isolation when setuptools is recent)."""
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out)]
    if _setuptools_major() >= BUILD_SETUPTOOLS:
        cmd.append("--no-build-isolation")
    done = _run([*cmd, str(_source_copy(out / "source"))], cwd=out)
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("glmops-*.whl")
    return wheel


@pytest.mark.slow
def test_the_wheel_without_extras_fits_and_names_the_serve_extra(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = str(bin_dir / "python")
    done = _run([python, "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    version = _run([str(bin_dir / "glmops"), "--version"], cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"glmops {__version__}"

    fit = _run([python, "-c", FIT], cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    coef = [float(v) for v in fit.stdout.split()]
    assert coef == pytest.approx([3.0, -2.0, 0.0, 0.0, 1.0], abs=0.01)

    # the registry on SQLite (its migrations ship in the wheel) and batch scoring
    registry = _run([str(bin_dir / "glmops"), "registry", "list", "--json"], cwd=tmp_path)
    assert registry.returncode == 0, registry.stderr
    assert registry.stdout.strip() == "[]" and (tmp_path / "glmops.db").is_file()
    batch = _run([python, "-c", "import glmops.serving.batch"], cwd=tmp_path)
    assert batch.returncode == 0, batch.stderr

    lean = _run([python, "-c", "import fastapi"], cwd=tmp_path)
    assert lean.returncode != 0, "fastapi came with the core install"
    serve = _run([str(bin_dir / "glmops"), "serve"], cwd=tmp_path)
    assert serve.returncode == 2, serve.stdout + serve.stderr
    assert "glmops serve needs the 'serve' extra" in serve.stderr
    assert "pip install 'glmops[serve]'" in serve.stderr
