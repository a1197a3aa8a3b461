"""Alembic environment: runs on the connection glmops hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from glmops.registry.tables import Base

VERSION_TABLE = "glmops_schema_version"

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
