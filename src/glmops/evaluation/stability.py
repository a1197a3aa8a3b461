"""Coefficient stability under resampling, and train-versus-holdout health.

A sparse model is only as trustworthy as its selected set is stable: a
feature picked in half of the bootstrap fits, or whose sign flips, should not
be read as a finding. :func:`bootstrap_coefficients` refits on resampled rows;
:func:`coefficient_stability` summarises the stack; :func:`model_health`
compares train and holdout metrics. All return plain python values.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from glmops.errors import InvalidInputError

__all__ = [
    "UNSTABLE_SELECTION",
    "bootstrap_coefficients",
    "coefficient_stability",
    "model_health",
]

logger = logging.getLogger(__name__)

#: A feature selected in a share of resamples inside this closed range is unstable.
UNSTABLE_SELECTION = (0.2, 0.8)

Float64Array = npt.NDArray[np.float64]


def _nan_list(values: Float64Array) -> list[Any]:
    out: list[Any] = values.tolist()
    return out


def coefficient_stability(
    coefs: npt.ArrayLike,
    feature_names: Sequence[str],
    *,
    reference: npt.ArrayLike | None = None,
    tol: float = 0.0,
) -> dict[str, Any]:
    """Return per-feature selection frequency, sign flips and spread over resamples.

    A coefficient is selected in a resample when ``|coef| > tol``. Its sign
    flips there when it is selected with the sign opposite to the reference
    sign: the sign of ``reference`` (the full-data fit) where that is
    selected, else the majority sign of the selected resamples (``+`` on a
    tie). A feature is *unstable* when, for some class, it is selected in
    between 20% and 80% of the resamples (inclusive) or its sign flips in any
    resample.

    Parameters
    ----------
    coefs : array-like of shape (n_resamples, n_features) or (n_resamples, K, n_features)
        One coefficient vector (or one row per class) per resample.
    feature_names : sequence of str of length n_features
        Feature names.
    reference : array-like of shape (n_features,) or (K, n_features), or None
        The full-data fit; None uses the majority sign.
    tol : float, default=0.0
        Coefficients with ``|coef| <= tol`` count as not selected.

    Returns
    -------
    dict
        ``features`` (names), ``selection_frequency``, ``sign_flips`` (share
        of all resamples), ``mean``, ``std`` (divisor ``n_resamples``) and
        ``cv`` (``std / |mean|``, NaN when the mean is 0): lists of
        ``n_features`` floats, or one such list per class for 3-d input;
        ``n_resamples``; ``summary``: ``mean_selection_frequency``,
        ``n_unstable`` and ``unstable_features``.
    """
    C = np.asarray(coefs, dtype=np.float64)
    if C.ndim not in (2, 3) or C.shape[0] == 0:
        raise InvalidInputError(
            f"coefs must have shape (n_resamples, [K,] n_features); got {C.shape}.",
            field="coefs",
            expected="2-d or 3-d array with at least one resample",
            got=C.shape,
        )
    if not np.all(np.isfinite(C)):
        raise InvalidInputError(
            "coefs must be finite.", field="coefs", expected="finite values", got="NaN/inf"
        )
    names = [str(f) for f in feature_names]
    if len(names) != C.shape[-1]:
        raise InvalidInputError(
            f"feature_names has {len(names)} names but coefs has {C.shape[-1]} features.",
            field="feature_names",
            expected=f"{C.shape[-1]} names",
            got=len(names),
        )
    if not tol >= 0:
        raise InvalidInputError(
            f"tol must be non-negative; got {tol!r}.", field="tol", expected=">= 0", got=tol
        )
    selected = np.abs(C) > tol
    signs = np.sign(C) * selected
    majority = np.where(signs.sum(axis=0) >= 0, 1.0, -1.0)
    if reference is None:
        ref_sign = majority
    else:
        ref = np.asarray(reference, dtype=np.float64)
        if ref.shape != C.shape[1:]:
            raise InvalidInputError(
                f"reference must have shape {C.shape[1:]}; got {ref.shape}.",
                field="reference",
                expected=f"shape {C.shape[1:]}",
                got=ref.shape,
            )
        ref_sign = np.where(np.abs(ref) > tol, np.sign(ref), majority)
    flips = np.mean(selected & (signs != ref_sign), axis=0)
    freq = np.mean(selected, axis=0)
    mean = C.mean(axis=0)
    std = C.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(mean != 0, std / np.abs(mean), np.nan)
    lo, hi = UNSTABLE_SELECTION
    unstable = ((freq >= lo) & (freq <= hi)) | (flips > 0)
    if unstable.ndim == 2:
        unstable = unstable.any(axis=0)
    return {
        "features": names,
        "n_resamples": int(C.shape[0]),
        "selection_frequency": _nan_list(freq),
        "sign_flips": _nan_list(flips),
        "mean": _nan_list(mean),
        "std": _nan_list(std),
        "cv": _nan_list(cv),
        "summary": {
            "mean_selection_frequency": float(freq.mean()),
            "n_unstable": int(unstable.sum()),
            "unstable_features": [names[j] for j in np.flatnonzero(unstable)],
        },
    }


def _take_rows(X: Any, rows: npt.NDArray[np.intp]) -> Any:
    if sp.issparse(X):
        return X[rows]
    return np.asarray(X)[rows]


def bootstrap_coefficients(
    fit: Callable[[Any, Any, Any], npt.ArrayLike],
    X: Any,
    y: npt.ArrayLike,
    sample_weight: npt.ArrayLike | None = None,
    *,
    n_resamples: int = 20,
    random_state: int | np.random.Generator | None = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Float64Array:
    """Refit on bootstrap resamples of the rows and stack the coefficients.

    Each resample draws ``n`` rows with replacement from a
    :func:`numpy.random.default_rng` seeded by ``random_state``, so the same
    seed gives the same stack.

    Parameters
    ----------
    fit : callable
        ``fit(X, y, sample_weight) -> coef``: fits on the given rows and
        returns the coefficients (any fixed shape); ``sample_weight`` is None
        when none were given.
    X : ndarray or scipy sparse matrix of shape (n, n_features)
        Features; sparse matrices are indexed by row (CSR is used).
    y : array-like of shape (n,)
        Targets.
    sample_weight : array-like of shape (n,) or None, default=None
        Row weights, resampled with the rows.
    n_resamples : int, default=20
        Number of resamples.
    random_state : int, Generator or None, default=0
        Seed of the row draws.
    progress : callable or None, default=None
        Called as ``progress(done, n_resamples)`` after each resample.

    Returns
    -------
    ndarray of shape (n_resamples, *coef.shape)
        The coefficients, float64.
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise InvalidInputError(
            f"n_resamples must be a positive integer; got {n_resamples!r}.",
            field="n_resamples",
            expected="int >= 1",
            got=n_resamples,
        )
    Xr = X.tocsr() if sp.issparse(X) else np.asarray(X)
    n = Xr.shape[0]
    y_arr = np.asarray(y)
    w_arr = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    for name, arr in (("y", y_arr), ("sample_weight", w_arr)):
        if arr is not None and arr.shape[0] != n:
            raise InvalidInputError(
                f"{name} has {arr.shape[0]} rows but X has {n}.",
                field=name,
                expected=f"{n} rows",
                got=arr.shape[0],
            )
    rng = np.random.default_rng(random_state)
    stack: list[Float64Array] = []
    for r in range(n_resamples):
        rows = rng.integers(0, n, size=n).astype(np.intp)
        coef = np.asarray(
            fit(_take_rows(Xr, rows), y_arr[rows], None if w_arr is None else w_arr[rows]),
            dtype=np.float64,
        )
        if stack and coef.shape != stack[0].shape:
            raise InvalidInputError(
                f"fit returned coefficients of shape {coef.shape} after {stack[0].shape}.",
                field="fit",
                expected=f"shape {stack[0].shape}",
                got=coef.shape,
            )
        stack.append(coef)
        logger.debug("bootstrap resample %d/%d done", r + 1, n_resamples)
        if progress is not None:
            progress(r + 1, n_resamples)
    return np.stack(stack)


_HEALTH_METRICS = {
    "regression": ("rmse", "r2"),
    "binary": ("log_loss", "roc_auc"),
    "multinomial": ("log_loss", "roc_auc_macro"),
}


def _gap(train: Any, holdout: Any) -> dict[str, float]:
    a = float(train) if train is not None else math.nan
    b = float(holdout) if holdout is not None else math.nan
    diff = b - a
    return {
        "train": a,
        "holdout": b,
        "difference": diff,
        "relative_difference": diff / abs(a) if a != 0 else math.nan,
    }


def model_health(
    train_metrics: dict[str, Any],
    holdout_metrics: dict[str, Any],
    coef: npt.ArrayLike,
    *,
    task: str,
) -> dict[str, Any]:
    """Return the train-versus-holdout gap of the main metrics and the model's sparsity.

    Parameters
    ----------
    train_metrics : dict
        Metrics on the training rows, from :func:`regression_metrics` or
        :func:`classification_metrics`.
    holdout_metrics : dict
        The same metrics on the holdout rows.
    coef : array-like of shape (n_features,) or (K, n_features)
        Fitted coefficients.
    task : {"regression", "binary", "multinomial", "classification"}
        Picks the metrics: ``rmse`` and ``r2`` for regression, ``log_loss``
        and ``roc_auc`` (``roc_auc_macro`` for multinomial) otherwise;
        "classification" takes whichever AUC key the metrics hold.

    Returns
    -------
    dict
        ``task``; ``gaps``: per metric ``train``, ``holdout``, ``difference``
        (holdout minus train) and ``relative_difference`` (difference over
        ``|train|``, NaN when train is 0; a missing metric is NaN);
        ``n_features``, ``n_nonzero`` (features with a nonzero coefficient
        for some class) and ``share_nonzero``.
    """
    if task == "classification":
        auc = "roc_auc" if "roc_auc" in holdout_metrics else "roc_auc_macro"
        keys: tuple[str, ...] = ("log_loss", auc)
    elif task in _HEALTH_METRICS:
        keys = _HEALTH_METRICS[task]
    else:
        expected = [*_HEALTH_METRICS, "classification"]
        raise InvalidInputError(
            f"task must be one of {expected}; got {task!r}.",
            field="task",
            expected=" | ".join(expected),
            got=task,
        )
    B = np.asarray(coef, dtype=np.float64)
    if B.ndim not in (1, 2):
        raise InvalidInputError(
            f"coef must have shape (n_features,) or (K, n_features); got {B.shape}.",
            field="coef",
            expected="1-d or 2-d array",
            got=B.shape,
        )
    nonzero = B != 0 if B.ndim == 1 else np.any(B != 0, axis=0)
    n_features = int(nonzero.shape[0])
    n_nonzero = int(nonzero.sum())
    return {
        "task": task,
        "gaps": {key: _gap(train_metrics.get(key), holdout_metrics.get(key)) for key in keys},
        "n_features": n_features,
        "n_nonzero": n_nonzero,
        "share_nonzero": n_nonzero / n_features if n_features else math.nan,
    }
