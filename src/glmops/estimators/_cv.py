"""What the cross-validated estimators share: the grid, the choice, the report.

:class:`~glmops.estimators.elastic_net.ElasticNetCV` and
:class:`~glmops.estimators.logistic.LogisticRegressionCV` both search an
``(l1_ratio, alpha)`` grid. This module owns the parts that must not differ
between them: validating ``l1_ratio`` and ``alphas``, building the alpha
grids, picking the grid point (best mean score, or the one-standard-error
rule) and reporting ``cv_results_`` in scikit-learn's ``GridSearchCV``
naming. Scores are greater-is-better everywhere (ElasticNetCV reports the
negative mean squared error, as scikit-learn's ``neg_mean_squared_error``).
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral
from typing import Any

import numpy as np

from glmops._typing import FloatArray
from glmops.core.path import alpha_grid
from glmops.errors import InvalidInputError

__all__ = ["alpha_grids", "check_alphas", "check_l1_ratios", "cv_results", "select"]


def check_l1_ratios(l1_ratio: Any, owner: str) -> FloatArray:
    """Return ``l1_ratio`` (a number or a list) as a non-empty 1-d float array in [0, 1].

    Parameters
    ----------
    l1_ratio : float or list of float
        The estimator's ``l1_ratio`` parameter.
    owner : str
        The estimator's class name, for the message.

    Returns
    -------
    ndarray of shape (n_l1_ratio,)
    """
    try:
        ratios = np.atleast_1d(np.asarray(l1_ratio, dtype=np.float64))
        valid = ratios.ndim == 1 and ratios.size > 0 and bool(np.all((ratios >= 0) & (ratios <= 1)))
    except (TypeError, ValueError):  # ragged or non-numeric
        valid = False
    if not valid:
        raise InvalidInputError(
            f"The 'l1_ratio' parameter of {owner} must be a float in [0, 1] or a list "
            f"of them. Got {l1_ratio!r} instead.",
            field="l1_ratio",
            expected="a float in [0, 1] or a non-empty list of them",
            got=l1_ratio,
        )
    return ratios


def check_alphas(alphas: Any, *, positive: bool = False) -> FloatArray:
    """Return explicit ``alphas`` as a float array; refuse empty, non-finite or negative ones.

    ``positive=True`` also refuses 0 (logistic fits need a penalty).
    """
    arr = np.asarray(alphas, dtype=np.float64).ravel()
    bound = ">" if positive else ">="
    low = np.any(arr <= 0) if positive else np.any(arr < 0)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or low:
        raise InvalidInputError(
            f"alphas must be a non-empty array of finite values {bound} 0; got {alphas!r}.",
            field="alphas",
            expected=f"non-empty array of finite values {bound} 0",
            got=alphas,
        )
    return arr


def alpha_grids(
    alphas: Any,
    ratios: FloatArray,
    *,
    n_alphas: int,
    eps: float,
    alpha_max: Callable[[float], float],
    positive: bool = False,
) -> FloatArray:
    """Return the descending alpha grid of each l1_ratio, shape (n_l1_ratio, n_alphas).

    Parameters
    ----------
    alphas : array-like, int or None
        Explicit alphas shared by every l1_ratio, a grid length (int), or
        None for ``n_alphas`` points.
    ratios : ndarray of shape (n_l1_ratio,)
        Checked l1_ratios.
    n_alphas : int
        Grid length when ``alphas`` is None.
    eps : float
        ``alpha_min / alpha_max`` of each generated grid.
    alpha_max : callable
        ``alpha_max(l1_ratio)``: where that l1_ratio's path starts.
    positive : bool, default=False
        Refuse explicit alphas of 0 (see :func:`check_alphas`).

    Returns
    -------
    ndarray of shape (n_l1_ratio, n_alphas)
    """
    if alphas is not None and not isinstance(alphas, Integral):
        grid = np.sort(check_alphas(alphas, positive=positive))[::-1]
        return np.tile(grid, (len(ratios), 1))
    length = int(alphas) if isinstance(alphas, Integral) else int(n_alphas)
    return np.stack([alpha_grid(alpha_max(float(r)), length, eps) for r in ratios])


def select(scores: FloatArray, grids: FloatArray, selection: str) -> tuple[int, int]:
    """Return ``(l1_ratio index, alpha index)`` of the chosen grid point.

    ``"min"`` takes the best mean score (the first on ties). ``"1se"`` keeps
    that l1_ratio and takes the largest alpha whose mean score is within one
    standard error (fold scores' sample std / sqrt(n_folds)) of the best
    (Hastie, Tibshirani & Friedman, 2009, section 7.10).

    Parameters
    ----------
    scores : ndarray of shape (n_l1_ratio, n_alphas, n_folds)
        Held-out scores, greater is better.
    grids : ndarray of shape (n_l1_ratio, n_alphas)
        The alphas scored.
    selection : {"min", "1se"}
        The rule.

    Returns
    -------
    tuple of int
    """
    mean = scores.mean(axis=2)
    i_best, a_best = np.unravel_index(int(np.nanargmax(mean)), mean.shape)
    i, a = int(i_best), int(a_best)
    if selection != "1se":
        return i, a
    n_folds = scores.shape[2]
    se = scores[i, a].std(ddof=1) / np.sqrt(n_folds) if n_folds > 1 else 0.0
    within = np.flatnonzero(mean[i] >= mean[i, a] - se)
    return i, int(within[np.argmax(grids[i, within])])


def cv_results(scores: FloatArray, grids: FloatArray, ratios: FloatArray) -> dict[str, Any]:
    """Return ``cv_results_`` over the flattened grid, in ``GridSearchCV``'s naming.

    Parameters
    ----------
    scores : ndarray of shape (n_l1_ratio, n_alphas, n_folds)
        Held-out scores, greater is better.
    grids : ndarray of shape (n_l1_ratio, n_alphas)
        The alphas scored.
    ratios : ndarray of shape (n_l1_ratio,)
        The l1_ratios scored.

    Returns
    -------
    dict
        ``param_alpha``, ``param_l1_ratio``, ``params`` (a list of dicts),
        ``mean_test_score``, ``std_test_score``, ``rank_test_score`` (1 is
        best; ties ranked in grid order) and ``split{k}_test_score``; every
        entry has one value per grid point, l1_ratio-major.
    """
    n_l1, n_alphas, n_folds = scores.shape
    flat = scores.reshape(n_l1 * n_alphas, n_folds)
    mean = flat.mean(axis=1)
    param_alpha = grids.ravel().copy()
    param_l1_ratio = np.repeat(ratios, n_alphas)
    order = np.argsort(-mean, kind="stable")
    rank = np.empty(mean.shape[0], dtype=np.int64)
    rank[order] = np.arange(1, mean.shape[0] + 1)
    results: dict[str, Any] = {
        "param_alpha": param_alpha,
        "param_l1_ratio": param_l1_ratio,
        "params": [
            {"alpha": float(a), "l1_ratio": float(r)}
            for a, r in zip(param_alpha, param_l1_ratio, strict=True)
        ],
        "mean_test_score": mean,
        "std_test_score": flat.std(axis=1),
        "rank_test_score": rank,
    }
    for k in range(n_folds):
        results[f"split{k}_test_score"] = flat[:, k].copy()
    return results
