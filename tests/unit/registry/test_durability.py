"""The registry database is durable by default and never echoes its password."""

from __future__ import annotations

import pytest

from glmops.errors import RegistryError
from glmops.registry.db import make_engine


def test_sqlite_commits_are_synchronous_full(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://alice:hunter2@db:notaport/registry",
        "nosuchdialect://alice:hunter2@db/registry",
    ],
)
def test_a_bad_registry_url_is_reported_without_its_password(url):
    with pytest.raises(RegistryError) as info:
        make_engine(url)
    assert "hunter2" not in str(info.value)
    assert info.value.__cause__ is None or "hunter2" not in str(info.value.__cause__)
