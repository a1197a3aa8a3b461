"""Versions record their content URI and artifact size.

``artifact_uri`` is ``sha256:<digest>`` (root-independent: the store maps it
to a path or an fsspec URL); existing rows are backfilled from their digest.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(
            sa.Column("artifact_uri", sa.String(512), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("size_bytes", sa.BigInteger, nullable=False, server_default="0"))
    op.execute("UPDATE model_versions SET artifact_uri = 'sha256:' || artifact_digest")


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("size_bytes")
        batch.drop_column("artifact_uri")
