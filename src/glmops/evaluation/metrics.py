"""Hold-out metrics for regression and classification, as JSON-ready dicts.

Every number comes from :mod:`sklearn.metrics` where a function exists; this
module adds the input checks, the equal-mass calibration bins, weighted
residual quantiles and precision/recall at the top k, and turns the results
into plain python values. A metric that is undefined on the data (AUC with a
single class, precision with no predicted positive) is ``float("nan")``,
never an exception or a warning.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_recall_fscore_support,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from glmops._validation import check_sample_weight
from glmops.errors import InvalidInputError
from glmops.evaluation._checks import (
    as_float_vector,
    class_indices,
    json_label,
)

__all__ = [
    "RESIDUAL_QUANTILES",
    "calibration_table",
    "classification_metrics",
    "expected_calibration_error",
    "regression_metrics",
    "score_distribution",
    "weighted_quantile",
]

logger = logging.getLogger(__name__)

#: Quantiles of the residuals reported by :func:`regression_metrics`.
RESIDUAL_QUANTILES = (0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99)

# rows of a probability matrix may miss 1 by this much; they are renormalised
_PROBA_SUM_TOL = 1e-6

Float64Array = npt.NDArray[np.float64]


# --------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------


def weighted_quantile(
    values: npt.ArrayLike, q: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
) -> Float64Array:
    """Return the inverted-CDF quantiles of ``values``, weighted.

    The q-quantile is the smallest value ``v`` with ``F(v) >= q``, where
    ``F(v) = sum(w_i for x_i <= v) / sum(w)`` (Hyndman & Fan's definition 1,
    NumPy's ``method="inverted_cdf"``). Unit weights give NumPy's unweighted
    inverted-CDF quantiles; rows of zero weight never are a quantile.

    Parameters
    ----------
    values : array-like of shape (n,)
        Finite values.
    q : array-like of shape (m,)
        Probabilities in [0, 1].
    sample_weight : array-like of shape (n,) or None, default=None
        Non-negative weights with a positive sum; None means unit weights.

    Returns
    -------
    ndarray of shape (m,)
        The quantiles, float64.

    References
    ----------
    Hyndman, R. J. & Fan, Y. (1996). Sample quantiles in statistical packages.
    The American Statistician, 50(4), 361-365.
    """
    x = as_float_vector(values, "values")
    w = check_sample_weight(sample_weight, x.shape[0])
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if np.any((qs < 0) | (qs > 1)) or not np.all(np.isfinite(qs)):
        raise InvalidInputError(
            f"q must lie in [0, 1]; got {qs.tolist()}.", field="q", expected="[0, 1]", got=qs
        )
    if w is None:
        w = np.ones_like(x)
    keep = w > 0
    x, w = x[keep], w[keep]
    order = np.argsort(x, kind="stable")
    xs = x[order]
    cum = np.cumsum(w[order])
    idx = np.searchsorted(cum, qs * cum[-1], side="left")
    return np.asarray(xs[np.clip(idx, 0, xs.shape[0] - 1)], dtype=np.float64)


def regression_metrics(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
) -> dict[str, Any]:
    """Return RMSE, MAE, R² and a summary of the residuals ``y_true - y_pred``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Observed targets.
    y_pred : array-like of shape (n,)
        Predictions.
    sample_weight : array-like of shape (n,) or None, default=None
        Row weights; every statistic is weighted.

    Returns
    -------
    dict
        ``rmse``, ``mae``, ``r2`` (NaN with fewer than two rows), ``n_samples``
        and ``residuals``: ``mean``, ``std`` (weighted, divisor ``sum(w)``),
        ``min``, ``max`` (over rows of positive weight) and ``q01`` ... ``q99``
        (inverted-CDF quantiles, see :func:`weighted_quantile`).
    """
    y = as_float_vector(y_true, "y_true")
    p = as_float_vector(y_pred, "y_pred", y.shape[0])
    w = check_sample_weight(sample_weight, y.shape[0])
    n = y.shape[0]
    resid = y - p
    unit = np.ones(n) if w is None else w
    mean = float(np.average(resid, weights=unit))
    std = math.sqrt(float(np.average((resid - mean) ** 2, weights=unit)))
    quantiles = weighted_quantile(resid, RESIDUAL_QUANTILES, w)
    positive = resid[unit > 0]
    residuals: dict[str, float] = {
        "mean": mean,
        "std": std,
        "min": float(positive.min()),
        "max": float(positive.max()),
    }
    for q, value in zip(RESIDUAL_QUANTILES, quantiles, strict=True):
        residuals[f"q{round(q * 100):02d}"] = float(value)
    r2 = float(r2_score(y, p, sample_weight=w)) if n >= 2 else float("nan")
    return {
        "rmse": float(root_mean_squared_error(y, p, sample_weight=w)),
        "mae": float(mean_absolute_error(y, p, sample_weight=w)),
        "r2": r2,
        "n_samples": int(n),
        "residuals": residuals,
    }


# --------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------


def _binary_inputs(
    y_true: npt.ArrayLike, proba: npt.ArrayLike, sample_weight: npt.ArrayLike | None
) -> tuple[Float64Array, Float64Array, Float64Array]:
    """Check 0/1 labels, probabilities in [0, 1] and weights; return them (weights filled)."""
    y = as_float_vector(y_true, "y_true")
    if not np.all((y == 0) | (y == 1)):
        raise InvalidInputError(
            "y_true must hold 0/1 labels (1 = positive class).",
            field="y_true",
            expected="values in {0, 1}",
            got=sorted(set(np.unique(y).tolist()))[:5],
        )
    p = as_float_vector(proba, "proba", y.shape[0])
    if np.any((p < 0) | (p > 1)):
        raise InvalidInputError(
            "proba must lie in [0, 1].",
            field="proba",
            expected="probabilities in [0, 1]",
            got=[float(p.min()), float(p.max())],
        )
    w = check_sample_weight(sample_weight, y.shape[0])
    return y, p, np.ones_like(y) if w is None else w


def _check_n_bins(n_bins: int) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise InvalidInputError(
            f"n_bins must be a positive integer; got {n_bins!r}.",
            field="n_bins",
            expected="int >= 1",
            got=n_bins,
        )
    return int(n_bins)


def _equal_mass_bins(p: Float64Array, w: Float64Array, n_bins: int) -> npt.NDArray[np.intp]:
    """Return each row's bin index in [0, n_bins), bins holding about equal weight.

    Rows are sorted by ``p``; rows with equal ``p`` form a group that stays in
    one bin. A group whose weight runs from cumulative weight ``a`` to ``b``
    goes to bin ``floor(n_bins * (a + b) / 2 / W)``: the bin holding the
    group's weight midpoint.
    """
    n = p.shape[0]
    order = np.argsort(p, kind="stable")
    ps = p[order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    group_w = np.add.reduceat(w[order], starts)
    midpoint = np.cumsum(group_w) - 0.5 * group_w
    group_bin = np.minimum(
        np.floor(n_bins * midpoint / float(group_w.sum())).astype(np.intp), n_bins - 1
    )
    sizes = np.diff(np.r_[starts, n])
    bins = np.empty(n, dtype=np.intp)
    bins[order] = np.repeat(group_bin, sizes)
    return bins


def calibration_table(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    n_bins: int = 10,
    sample_weight: npt.ArrayLike | None = None,
) -> dict[str, list[float]]:
    """Return the equal-mass reliability table of binary probabilities.

    Rows are sorted by ``proba`` and cut into ``n_bins`` bins of about equal
    total weight (their edges are weighted quantiles of ``proba``). Rows with
    the same probability always share a bin: a run of ties goes to the bin
    holding the midpoint of its cumulative weight. Bins left empty (ties,
    zero weights, fewer rows than bins) are dropped, so the lists may be
    shorter than ``n_bins``. Unweighted and without ties, bin sizes differ by
    at most one row.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 for the positive class.
    proba : array-like of shape (n,)
        Predicted probability of the positive class, in [0, 1].
    n_bins : int, default=10
        Number of bins.
    sample_weight : array-like of shape (n,) or None, default=None
        Row weights.

    Returns
    -------
    dict
        Lists over the non-empty bins, in increasing order of probability:
        ``mean_predicted`` (weighted mean of ``proba``), ``fraction_positive``
        (weighted share of ``y_true == 1``), ``weight`` (total weight, the
        row count when unweighted), ``count`` (rows), ``lower`` and ``upper``
        (smallest and largest ``proba`` in the bin).
    """
    y, p, w = _binary_inputs(y_true, proba, sample_weight)
    bins_n = _check_n_bins(n_bins)
    bins = _equal_mass_bins(p, w, bins_n)
    weight = np.bincount(bins, weights=w, minlength=bins_n)
    count = np.bincount(bins, minlength=bins_n)
    sum_p = np.bincount(bins, weights=w * p, minlength=bins_n)
    sum_y = np.bincount(bins, weights=w * y, minlength=bins_n)
    lower = np.full(bins_n, np.inf)
    upper = np.full(bins_n, -np.inf)
    np.minimum.at(lower, bins, p)
    np.maximum.at(upper, bins, p)
    keep = weight > 0
    return {
        "mean_predicted": (sum_p[keep] / weight[keep]).tolist(),
        "fraction_positive": (sum_y[keep] / weight[keep]).tolist(),
        "weight": weight[keep].tolist(),
        "count": [int(c) for c in count[keep]],
        "lower": lower[keep].tolist(),
        "upper": upper[keep].tolist(),
    }


def expected_calibration_error(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    n_bins: int = 10,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Return the expected calibration error of binary probabilities, equal-mass bins.

    ``ECE = sum_b (W_b / W) * |ybar_b - pbar_b|`` where bin ``b`` holds total
    weight ``W_b`` out of ``W``, ``ybar_b`` is its weighted share of positives
    and ``pbar_b`` its weighted mean probability. The bins are those of
    :func:`calibration_table`: equal mass (each holds about ``W / n_bins``),
    ties kept together. ECE lies in [0, 1]; 0 is perfect calibration at this
    resolution.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels, 1 for the positive class.
    proba : array-like of shape (n,)
        Predicted probability of the positive class, in [0, 1].
    n_bins : int, default=10
        Number of bins.
    sample_weight : array-like of shape (n,) or None, default=None
        Row weights.

    Returns
    -------
    float
        The ECE.

    References
    ----------
    Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well
    calibrated probabilities using Bayesian binning. AAAI, 2901-2907.
    """
    table = calibration_table(y_true, proba, n_bins=n_bins, sample_weight=sample_weight)
    weight = np.asarray(table["weight"])
    gap = np.abs(np.asarray(table["fraction_positive"]) - np.asarray(table["mean_predicted"]))
    return float(np.sum(weight * gap) / np.sum(weight))


# --------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------


def _check_proba(proba: npt.ArrayLike, n: int, n_classes: int) -> Float64Array:
    """Return ``proba`` as float64 (n, K) with rows renormalised to sum to 1."""
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or P.shape != (n, n_classes):
        raise InvalidInputError(
            f"proba must have shape ({n}, {n_classes}); got {P.shape}.",
            field="proba",
            expected=f"array of shape ({n}, {n_classes})",
            got=P.shape,
        )
    if not np.all(np.isfinite(P)) or np.any((P < 0) | (P > 1)):
        raise InvalidInputError(
            "proba must hold finite probabilities in [0, 1].",
            field="proba",
            expected="probabilities in [0, 1]",
            got="values outside [0, 1]",
        )
    sums = P.sum(axis=1)
    worst = float(np.max(np.abs(sums - 1.0)))
    if worst > _PROBA_SUM_TOL:
        raise InvalidInputError(
            f"proba rows must sum to 1; one is off by {worst:.3g}.",
            field="proba",
            expected="rows summing to 1",
            got=worst,
        )
    return np.asarray(P / sums[:, None], dtype=np.float64)


def _check_classes(classes: Sequence[Any] | npt.NDArray[Any]) -> list[Any]:
    labels = list(classes)
    if len(labels) < 2:
        raise InvalidInputError(
            f"classes must hold at least 2 labels; got {len(labels)}.",
            field="classes",
            expected="at least 2 labels",
            got=len(labels),
        )
    if len({str(json_label(c)) for c in labels}) != len(labels):
        raise InvalidInputError(
            "classes must hold distinct labels.",
            field="classes",
            expected="distinct labels",
            got=[json_label(c) for c in labels],
        )
    return labels


def _weighted_total(mask: npt.NDArray[np.bool_], w: Float64Array | None) -> float:
    return float(mask.sum()) if w is None else float(w[mask].sum())


def _binary_auc(
    y: npt.NDArray[np.int64], score: Float64Array, w: Float64Array | None
) -> tuple[float, float]:
    """Return (ROC AUC, average precision); NaN where a class has no weight."""
    n_pos = _weighted_total(y == 1, w)
    n_neg = _weighted_total(y == 0, w)
    roc = float(roc_auc_score(y, score, sample_weight=w)) if n_pos > 0 and n_neg > 0 else math.nan
    ap = float(average_precision_score(y, score, sample_weight=w)) if n_pos > 0 else math.nan
    return roc, ap


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def _k_key(k: float) -> str:
    return format(float(k), "g")


def _top_k(
    y: npt.NDArray[np.int64], score: Float64Array, w: Float64Array | None, ks: Sequence[float]
) -> tuple[dict[str, float], dict[str, float]]:
    """Return precision and recall among the ``ceil(k * n)`` highest scores."""
    n = y.shape[0]
    unit = np.ones(n) if w is None else w
    order = np.argsort(-score, kind="stable")  # ties: earlier rows first
    hits = np.cumsum((unit * y)[order])
    taken = np.cumsum(unit[order])
    positives = float(hits[-1])
    precision: dict[str, float] = {}
    recall: dict[str, float] = {}
    for k in ks:
        if not 0 < float(k) <= 1:
            raise InvalidInputError(
                f"k must hold fractions in (0, 1]; got {k!r}.",
                field="k",
                expected="fractions in (0, 1]",
                got=k,
            )
        m = max(1, math.ceil(round(float(k) * n, 9)))
        precision[_k_key(k)] = _ratio(float(hits[m - 1]), float(taken[m - 1]))
        recall[_k_key(k)] = _ratio(float(hits[m - 1]), positives)
    return precision, recall


def _confusion(
    y_idx: npt.NDArray[np.intp], pred: npt.NDArray[np.intp], n_classes: int, w: Float64Array | None
) -> list[list[float]] | list[list[int]]:
    cm = confusion_matrix(y_idx, pred, labels=np.arange(n_classes), sample_weight=w)
    if w is None:
        return [[int(v) for v in row] for row in cm]
    return [[float(v) for v in row] for row in cm]


def classification_metrics(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    classes: Sequence[Any] | npt.NDArray[Any],
    *,
    threshold: float = 0.5,
    positive_class: Any = None,
    sample_weight: npt.ArrayLike | None = None,
    k: Sequence[float] = (0.01, 0.05, 0.10),
    n_bins: int = 10,
) -> dict[str, Any]:
    """Return the hold-out metrics of a binary or multinomial classifier.

    Binary (two classes): the positive class is ``positive_class``, else
    ``classes[1]``; a row is predicted positive when its probability is
    STRICTLY greater than ``threshold``. Multinomial (three or more): the
    prediction is the argmax of ``proba`` (the first class on ties).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, each one of ``classes``.
    proba : array-like of shape (n, K)
        Predicted class probabilities, columns in the order of ``classes``;
        rows must sum to 1 (within 1e-6; they are renormalised).
    classes : sequence of length K >= 2
        The class labels, any type.
    threshold : float, default=0.5
        Binary decision threshold on the positive class's probability.
    positive_class : label or None, default=None
        Binary only: the positive label; ``classes[1]`` when None.
    sample_weight : array-like of shape (n,) or None, default=None
        Row weights; every metric and count is weighted.
    k : sequence of float, default=(0.01, 0.05, 0.10)
        Binary only: the fractions for precision and recall at the top k.
    n_bins : int, default=10
        Number of equal-mass bins of the ECE.

    Returns
    -------
    dict
        Binary: ``log_loss``, ``roc_auc``, ``pr_auc`` (average precision),
        ``brier``, ``ece``, ``accuracy``, ``threshold``, ``precision``,
        ``recall``, ``fpr``, ``fnr``, ``f1``, ``confusion_matrix``
        (``{"labels": [neg, pos], "matrix": [[tn, fp], [fn, tp]]}``),
        ``precision_at_k`` and ``recall_at_k`` (keyed by ``format(k, "g")``,
        e.g. ``"0.01"``: the top ``ceil(k * n)`` rows by probability, ties
        broken by row order), ``prevalence``, ``positive_class``,
        ``n_samples``. Multinomial: ``log_loss``, ``accuracy``, ``brier``
        (mean over rows of ``sum_k (p_k - 1[y = k])^2``, in [0, 2]),
        ``roc_auc_macro`` and ``pr_auc_macro`` (one-vs-rest, NaN when a class
        is absent), ``ece_macro`` (mean one-vs-rest ECE), ``per_class``
        (``str(label) -> {precision, recall, f1, roc_auc, pr_auc, support}``),
        ``macro`` (``{precision, recall, f1}``), ``confusion_matrix``,
        ``n_samples``. Undefined values are NaN.
    """
    labels = _check_classes(classes)
    y_idx = class_indices(y_true, labels)
    n = y_idx.shape[0]
    if n == 0:
        raise InvalidInputError("y_true is empty.", field="y_true", expected="rows", got=0)
    P = _check_proba(proba, n, len(labels))
    w = check_sample_weight(sample_weight, n)
    if len(labels) == 2:
        return _binary_metrics(y_idx, P, labels, threshold, positive_class, w, k, n_bins)
    return _multinomial_metrics(y_idx, P, labels, w, n_bins)


def _positive_index(labels: Sequence[Any], positive_class: Any) -> int:
    """Return the column of the positive class: ``positive_class``'s, else 1."""
    if positive_class is None:
        return 1
    for i, label in enumerate(labels):
        if label == positive_class:
            return i
    raise InvalidInputError(
        f"positive_class {positive_class!r} is not one of the classes.",
        field="positive_class",
        expected=f"one of {[json_label(c) for c in labels]}",
        got=json_label(positive_class),
    )


def _binary_metrics(
    y_idx: npt.NDArray[np.intp],
    P: Float64Array,
    labels: list[Any],
    threshold: float,
    positive_class: Any,
    w: Float64Array | None,
    ks: Sequence[float],
    n_bins: int,
) -> dict[str, Any]:
    pos = _positive_index(labels, positive_class)
    neg = 1 - pos
    y = (y_idx == pos).astype(np.int64)
    score = P[:, pos]
    pred = (score > float(threshold)).astype(np.int64)
    roc, ap = _binary_auc(y, score, w)
    matrix = _confusion(y.astype(np.intp), pred.astype(np.intp), 2, w)
    tn, fp = float(matrix[0][0]), float(matrix[0][1])
    fn, tp = float(matrix[1][0]), float(matrix[1][1])
    precision_k, recall_k = _top_k(y, score, w, ks)
    return {
        "log_loss": float(log_loss(y, score, labels=[0, 1], sample_weight=w)),
        "roc_auc": roc,
        "pr_auc": ap,
        "brier": float(brier_score_loss(y, score, sample_weight=w, pos_label=1)),
        "ece": expected_calibration_error(y, score, n_bins=n_bins, sample_weight=w),
        "accuracy": float(accuracy_score(y, pred, sample_weight=w)),
        "threshold": float(threshold),
        "precision": float(precision_score(y, pred, sample_weight=w, zero_division=np.nan)),
        "recall": float(recall_score(y, pred, sample_weight=w, zero_division=np.nan)),
        "fpr": _ratio(fp, fp + tn),
        "fnr": _ratio(fn, fn + tp),
        "f1": float(f1_score(y, pred, sample_weight=w, zero_division=np.nan)),
        "confusion_matrix": {
            "labels": [json_label(labels[neg]), json_label(labels[pos])],
            "matrix": matrix,
        },
        "precision_at_k": precision_k,
        "recall_at_k": recall_k,
        "prevalence": _ratio(tp + fn, tn + fp + fn + tp),
        "positive_class": json_label(labels[pos]),
        "n_samples": int(y.shape[0]),
    }


def _multinomial_metrics(
    y_idx: npt.NDArray[np.intp],
    P: Float64Array,
    labels: list[Any],
    w: Float64Array | None,
    n_bins: int,
) -> dict[str, Any]:
    n_classes = len(labels)
    class_ids = np.arange(n_classes)
    pred = np.argmax(P, axis=1).astype(np.intp)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_idx, pred, labels=class_ids, sample_weight=w, zero_division=np.nan
    )
    macro = precision_recall_fscore_support(
        y_idx, pred, labels=class_ids, sample_weight=w, zero_division=np.nan, average="macro"
    )
    per_class: dict[str, dict[str, float | int]] = {}
    rocs: list[float] = []
    aps: list[float] = []
    eces: list[float] = []
    for c in range(n_classes):
        y_c = (y_idx == c).astype(np.int64)
        roc, ap = _binary_auc(y_c, P[:, c], w)
        rocs.append(roc)
        aps.append(ap)
        eces.append(expected_calibration_error(y_c, P[:, c], n_bins=n_bins, sample_weight=w))
        per_class[str(json_label(labels[c]))] = {
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "f1": float(f1[c]),
            "roc_auc": roc,
            "pr_auc": ap,
            "support": int(support[c]) if w is None else float(support[c]),
        }
    brier = brier_score_loss(y_idx, P, labels=class_ids, sample_weight=w, scale_by_half=False)
    return {
        "log_loss": float(log_loss(y_idx, P, labels=class_ids, sample_weight=w)),
        "accuracy": float(accuracy_score(y_idx, pred, sample_weight=w)),
        "brier": float(brier),
        "roc_auc_macro": float(np.mean(rocs)),
        "pr_auc_macro": float(np.mean(aps)),
        "ece_macro": float(np.mean(eces)),
        "per_class": per_class,
        "macro": {
            "precision": float(macro[0]),
            "recall": float(macro[1]),
            "f1": float(macro[2]),
        },
        "confusion_matrix": {
            "labels": [json_label(c) for c in labels],
            "matrix": _confusion(y_idx, pred, n_classes, w),
        },
        "n_samples": int(y_idx.shape[0]),
    }


# --------------------------------------------------------------------------
# Score distribution
# --------------------------------------------------------------------------


def score_distribution(
    y_true: npt.ArrayLike,
    scores: npt.ArrayLike,
    classes: Sequence[Any] | npt.NDArray[Any],
    n_bins: int = 30,
    *,
    sample_weight: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """Return the histogram of ``scores`` for each true class, on shared bins.

    The bins split [0, 1] evenly when every score lies in it (probabilities),
    else the range of the scores.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, each one of ``classes``.
    scores : array-like of shape (n,)
        One score per row, e.g. the positive class's probability.
    classes : sequence
        The class labels; one histogram each, in this order.
    n_bins : int, default=30
        Number of bins.
    sample_weight : array-like of shape (n,) or None, default=None
        Row weights; counts are weighted sums.

    Returns
    -------
    dict
        ``edges`` (``n_bins + 1`` floats), ``classes`` (labels), ``counts``
        (one list of ``n_bins`` per class: rows or weight per bin) and
        ``shares`` (counts divided by the class total; NaN for an absent class).
    """
    labels = list(classes)
    y_idx = class_indices(y_true, labels)
    s = as_float_vector(scores, "scores", y_idx.shape[0])
    w = check_sample_weight(sample_weight, y_idx.shape[0])
    bins_n = _check_n_bins(n_bins)
    lo, hi = float(s.min()), float(s.max())
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    elif lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins_n + 1)
    counts: list[list[float]] = []
    shares: list[list[float]] = []
    for c in range(len(labels)):
        mask = y_idx == c
        hist, _ = np.histogram(s[mask], bins=edges, weights=None if w is None else w[mask])
        total = float(hist.sum())
        counts.append([float(v) for v in hist])
        shares.append([float(v) / total if total > 0 else math.nan for v in hist])
    return {
        "edges": edges.tolist(),
        "classes": [json_label(c) for c in labels],
        "counts": counts,
        "shares": shares,
    }
