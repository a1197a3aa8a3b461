"""The prediction log leaves the registry database for Parquet files (glmops.monitoring.logstore).

A table took one INSERT per predicted row: at batch rates the serving
process spent more time logging than predicting, and every replica's log
landed in the registry's own database. The files are columnar, written
per process and read by column. Rows a 0003 table holds are not moved:
that table only ever held benchmark and test rows before this revision.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_prediction_log_model_time", table_name="prediction_log")
    op.drop_index("ix_prediction_log_request_id", table_name="prediction_log")
    op.drop_table("prediction_log")


def downgrade() -> None:
    op.create_table(
        "prediction_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("entity_key", sa.String(128), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
    )
    op.create_index("ix_prediction_log_request_id", "prediction_log", ["request_id"])
    op.create_index("ix_prediction_log_model_time", "prediction_log", ["model", "time"])
