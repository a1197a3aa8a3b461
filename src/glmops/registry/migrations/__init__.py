"""Alembic migrations of the registry schema.

Applied on first use and by ``glmops registry upgrade``.
"""
