"""Alembic migrations: an old schema with data in it upgrades in place; ORM == head."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from glmops.errors import RegistryError
from glmops.registry import Registry
from glmops.registry.db import SCHEMA_HEAD, current_revision, make_engine, upgrade


def _seed_first_release(db_url, tmp_path, artifacts) -> str:
    """A registry written by the first release (schema 0001): a model, a version, an alias."""
    from glmops.registry.artifacts import ArtifactStore

    digest, _ = ArtifactStore(tmp_path / "store").put(artifacts[0])
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO models (name, task, created_at, created_by, description) "
                "VALUES ('churn', 'binary', :t, 'seed', '')"
            ),
            {"t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO model_versions (model_id, version, artifact_digest, task, "
                "metrics, params, features, data_fingerprint, created_by, created_at, status) "
                "SELECT id, 1, :d, 'binary', '{}', '{}', '{}', '', 'seed', :t, 'registered' "
                "FROM models WHERE name = 'churn'"
            ),
            {"d": digest, "t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO aliases (model_id, name, version_id, weight, updated_at, updated_by) "
                "SELECT model_id, 'champion', id, NULL, :t, 'seed' FROM model_versions"
            ),
            {"t": now},
        )
    engine.dispose()
    return digest


def test_an_old_schema_is_refused_until_migrated_explicitly(db_url, tmp_path, artifacts):
    digest = _seed_first_release(db_url, tmp_path, artifacts)
    with pytest.raises(RegistryError, match="glmops registry migrate"):
        Registry(db_url, tmp_path / "store", actor="alice")
    engine = make_engine(db_url)
    assert current_revision(engine) == "0001"  # refused, and nothing was touched
    engine.dispose()
    # an explicit migration upgrades in place and keeps every row
    with Registry(db_url, tmp_path / "store", actor="alice", migrate=True) as reg:
        assert current_revision(reg.engine) == SCHEMA_HEAD
        champion = reg.resolve("churn@champion")
        assert champion.version == 1 and champion.digest == digest
        with reg.engine.connect() as conn:
            uri = conn.execute(sa.text("SELECT artifact_uri FROM model_versions")).scalar()
        assert uri == f"sha256:{digest}"
        assert reg.load("churn@champion").digest == digest
        assert reg.register("churn", artifacts[1]).version == 2


def test_orm_tables_match_the_migrated_schema(db_url, tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from glmops.registry.tables import Base

    with Registry(db_url, tmp_path / "store") as reg, reg.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [
            d
            for d in compare_metadata(context, Base.metadata)
            if not (d[0] == "remove_table" and d[1].name == "glmops_schema_version")
        ]
    assert diff == []


def test_a_schema_newer_than_the_code_is_refused(db_url, tmp_path):
    with Registry(db_url, tmp_path / "store"):
        pass
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE glmops_schema_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(RegistryError, match="newer than this glmops"):
        Registry(db_url, tmp_path / "store", migrate=True)


def test_an_empty_database_is_initialised_without_asking(db_url, tmp_path):
    with Registry(db_url, tmp_path / "store") as reg:
        assert current_revision(reg.engine) == SCHEMA_HEAD
