"""The ``glmops`` command line: thin shells over module functions (only cli/ prints)."""

from __future__ import annotations

from glmops.cli.main import app, main

__all__ = ["app", "main"]
