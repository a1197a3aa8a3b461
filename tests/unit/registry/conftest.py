"""Registry fixtures: every test runs on SQLite and, when GLMOPS_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from glmops.config import parse_config
from glmops.registry import Registry
from glmops.training.pipeline import train_model

PG_URL = os.environ.get("GLMOPS_TEST_PG_URL", "")


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty registry database URL (a new PostgreSQL schema per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    if not PG_URL:
        pytest.skip("GLMOPS_TEST_PG_URL is not set (CI sets it to a PostgreSQL URL)")
    import sqlalchemy as sa

    schema = f"glmops_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def registry(db_url: str, tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(db_url, tmp_path / "store", actor="alice")
    try:
        yield reg
    finally:
        reg.close()


def _table(seed: int, n: int = 240) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    city = rng.choice(["paris", "lyon", "nice"], n)
    eta = 1.5 * x - 0.5 * z + (city == "paris")
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    return pa.table({"x": x, "z": z, "city": city, "label": y})


def train_artifact(root: Path, seed: int, name: str = "churn") -> Path:
    """Train a small binary model on seeded data; return its artifact directory."""
    spec = parse_config(
        {
            "models": {
                name: {
                    "data": {"path": "unused.csv"},
                    "target": "label",
                    "task": "binary",
                    "cv": {"n_folds": 3, "n_alphas": 8, "l1_ratio": [1.0]},
                    "seed": seed,
                }
            }
        }
    ).models[name]
    result = train_model(
        name,
        spec,
        base_dir=root,
        output_dir=root / f"out{seed}",
        data=_table(seed),
        write_report=False,
    )
    assert result.artifact_path is not None
    return result.artifact_path


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three artifacts of the same model trained on different data (three digests)."""
    root = tmp_path_factory.mktemp("artifacts")
    return [train_artifact(root, seed) for seed in (1, 2, 3)]
