"""Engines: where the statistics of a fit are computed.

One contract, :class:`~glmops.engines.base.Engine`: per-fold sufficient
statistics for squared loss, one pass per Newton step for logistic loss.
:class:`~glmops.engines.local.LocalEngine` is the in-memory implementation.
Engines import :mod:`glmops.core` and the root vocabulary, never the
estimators; the estimators import an engine.
"""

from __future__ import annotations

from glmops.engines.base import Engine, FoldStatistics, Split
from glmops.engines.local import LocalEngine

__all__ = ["Engine", "FoldStatistics", "LocalEngine", "Split"]
