"""The model registry: versions, aliases, promotion, rollback and an audit log.

SQLite by default (``sqlite:///./glmops.db``), PostgreSQL in production, the
same code for both; artifacts stored content-addressed and verified on load.
Names are imported on first use, so ``glmops.registry.gates`` (used by the
config) does not pull in SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glmops.registry.registry import Registry, VersionInfo, default_actor, parse_ref

__all__ = ["Registry", "VersionInfo", "default_actor", "parse_ref"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from glmops.registry import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'glmops.registry' has no attribute {name!r}")
