"""The engine contract: what a fit asks of the place where its data live.

An engine owns the passes over the training data; the solvers of
:mod:`glmops.core` only consume what it hands back. Cross-validated fits ask
three things of it:

- **squared loss**: per-fold :class:`~glmops.core.stats.SufficientStats`
  from one pass over the rows. Fold k is trained on ``S_total - S_k`` and
  scored on ``S_k`` exactly, so K-fold CV costs one pass, not K.
- **logistic loss**: per fold a :class:`~glmops.core.irls.LogisticProblem`;
  :func:`~glmops.core.irls.solve_logistic_path` makes one pass over its rows
  per Newton step (the IRLS weights change at every step, so no statistic
  can be accumulated once).
- **map**: run the independent fold fits, reporting progress.

:class:`~glmops.engines.local.LocalEngine` implements it on in-memory
arrays; the stream and dask engines (a later issue) implement the same
contract chunk by chunk and partition by partition, and must give the same
statistics (to about 1e-10).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from glmops._typing import IntArray
from glmops.core.irls import LogisticProblem
from glmops.core.stats import CenteredProblem, SufficientStats

__all__ = ["Engine", "FoldStatistics", "Progress", "Split", "StatsCheck"]

_T = TypeVar("_T")
_R = TypeVar("_R")

Split = tuple[IntArray, IntArray]
"""One CV split: ``(training rows, held-out rows)``, as scikit-learn's splitters yield."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called after each finished task."""

StatsCheck = Callable[[SufficientStats], None]
"""Called on each block's statistics before they are combined; raises on bad data."""


@dataclass(frozen=True)
class FoldStatistics:
    """Per-fold sufficient statistics of a squared-loss CV, from one pass.

    Attributes
    ----------
    test : list of SufficientStats
        ``test[k]``: fold k's held-out rows (it is scored on them).
    train : list of SufficientStats
        ``train[k]``: fold k's training rows (``total - test[k]`` when the
        held-out sets partition the rows).
    full : CenteredProblem
        The centred problem on all rows (alpha grid and final refit).
    """

    test: list[SufficientStats]
    train: list[SufficientStats]
    full: CenteredProblem


class Engine(Protocol):
    """Where a fit's statistics are computed (see the module docstring)."""

    def map(
        self,
        fn: Callable[[_T], _R],
        items: Sequence[_T],
        progress: Progress | None = None,
    ) -> list[_R]:
        """Return ``[fn(x) for x in items]``, running independent tasks in parallel.

        Parameters
        ----------
        fn : callable
            One fold (or fold x l1_ratio) fit.
        items : sequence
            The tasks, results come back in this order.
        progress : callable, default=None
            Called as ``progress(done, len(items))`` after each task.

        Returns
        -------
        list
            The results, in the order of ``items``.
        """
        ...

    def fold_statistics(
        self,
        splits: Sequence[Split],
        *,
        fit_intercept: bool,
        check: StatsCheck | None = None,
    ) -> FoldStatistics:
        """Return per-fold squared-loss statistics of the engine's ``(X, y, w)``.

        Parameters
        ----------
        splits : sequence of (train, test) row arrays
            The CV folds.
        fit_intercept : bool
            Centre about the weighted means (else moments about zero).
        check : callable, default=None
            Called on each block's statistics as soon as they exist, before
            any are added or subtracted (NaN/inf in X shows there first).

        Returns
        -------
        FoldStatistics
        """
        ...

    def logistic_problem(
        self, rows: IntArray, n_classes: int, *, fit_intercept: bool, solver: str
    ) -> LogisticProblem:
        """Return the logistic problem on ``rows`` of the engine's ``(X, labels, w)``.

        Parameters
        ----------
        rows : ndarray of int
            The fold's training rows.
        n_classes : int
            Number of classes (2: one binomial coefficient row).
        fit_intercept : bool
            Fit unpenalised intercepts.
        solver : {"covariance", "naive"}
            Resolved inner kernel.

        Returns
        -------
        LogisticProblem
            What each Newton step of the solver passes over once.
        """
        ...
