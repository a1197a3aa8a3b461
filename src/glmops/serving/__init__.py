"""Serving: the FastAPI app (``create_app``), routing, validation, metrics, prediction log.

Imported lazily: ``import glmops.serving`` costs nothing until a name is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "hash_token"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from glmops._extras import require

        require("serve", "the glmops HTTP service")
        from glmops.serving.app import create_app

        return create_app
    if name == "hash_token":
        from glmops.serving.auth import hash_token

        return hash_token
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
