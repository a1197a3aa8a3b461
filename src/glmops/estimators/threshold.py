"""Decision thresholds for binary classifiers, picked by a named policy.

A threshold turns a probability into a decision; which one is right depends
on what errors cost. :func:`select_threshold` picks it from held-out
(out-of-fold) probabilities so the choice is not fitted on the rows it is
judged on; the classifiers store the result as ``threshold_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve

from glmops._typing import FloatArray
from glmops.errors import InvalidInputError

__all__ = ["THRESHOLD_POLICIES", "check_threshold_policy", "select_threshold"]

THRESHOLD_POLICIES = ("max_f1", "target_precision", "target_recall", "min_cost")


def check_threshold_policy(policy: str, target: float | None) -> float | None:
    """Refuse an unknown policy, or a target outside the policy's range.

    Parameters
    ----------
    policy : str
        One of :data:`THRESHOLD_POLICIES`.
    target : float or None
        Precision or recall in (0, 1], or the cost ratio in (0, inf).

    Returns
    -------
    float or None
        The target as a float; None for ``"max_f1"``, which takes none.
    """
    if policy not in THRESHOLD_POLICIES:
        raise InvalidInputError(
            f"threshold policy must be one of {THRESHOLD_POLICIES}; got {policy!r}.",
            field="threshold",
            expected=" | ".join(THRESHOLD_POLICIES),
            got=policy,
        )
    if policy == "max_f1":
        return None
    interval = "(0, inf)" if policy == "min_cost" else "(0, 1]"
    upper = np.inf if policy == "min_cost" else 1.0
    if target is None or not 0.0 < float(target) <= upper:
        raise InvalidInputError(
            f"threshold policy {policy!r} needs threshold_target in {interval}; got {target!r}.",
            field="threshold_target",
            expected=interval,
            got=target,
        )
    return float(target)


def select_threshold(
    y_true: Any,
    proba: Any,
    policy: str,
    *,
    target: float | None = None,
    sample_weight: Any = None,
) -> float:
    """Return the probability threshold that a policy picks.

    Predictions are positive when ``proba >= threshold``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels (1 = positive class).
    proba : array-like of shape (n,)
        Held-out probabilities of the positive class.
    policy : {"max_f1", "target_precision", "target_recall", "min_cost"}
        ``max_f1``: the threshold with the best F1. ``target_precision``: the
        lowest threshold whose precision is >= ``target`` (most recall at that
        precision). ``target_recall``: the highest threshold whose recall is
        >= ``target`` (most precision at that recall). ``min_cost``: the
        threshold minimising ``target * FP + FN``, ``target`` being the cost
        of a false positive relative to a false negative; its Bayes-optimal
        value for calibrated probabilities is ``target / (1 + target)``.
    target : float or None
        Precision or recall in (0, 1], or the cost ratio (> 0).
    sample_weight : array-like of shape (n,) or None

    Returns
    -------
    float
        The threshold, in [0, 1]; one ulp above the top score (possibly just
        above 1) when the policy predicts no positive at all.
    """
    goal = check_threshold_policy(policy, target)
    y = np.asarray(y_true).astype(np.int64)
    p = np.asarray(proba, dtype=np.float64)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    precision, recall, thresholds = precision_recall_curve(y, p, sample_weight=w)
    # the last (precision, recall) pair has no threshold (recall 0)
    precision, recall = precision[:-1], recall[:-1]
    if goal is None:  # max_f1
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
        return float(thresholds[int(np.argmax(f1))])
    if policy == "target_precision":
        ok = np.flatnonzero(precision >= goal)
        return float(thresholds[ok[0]]) if ok.size else 1.0
    if policy == "target_recall":
        ok = np.flatnonzero(recall >= goal)
        return float(thresholds[ok[-1]]) if ok.size else 0.0
    return _min_cost_threshold(y, p, w, goal)


def _min_cost_threshold(
    y: np.ndarray, p: FloatArray, w: FloatArray | None, cost_fp: float
) -> float:
    """Threshold minimising ``cost_fp * FP + FN`` over the observed scores."""
    weights = np.ones_like(p) if w is None else w
    order = np.argsort(-p, kind="stable")
    ps, ys, ws = p[order], y[order], weights[order]
    # predicting positive for the first j samples (threshold = ps[j-1])
    fp = np.cumsum(ws * (ys == 0))
    fn = np.sum(ws * (ys == 1)) - np.cumsum(ws * (ys == 1))
    cost = cost_fp * fp + fn
    # only cut between distinct scores
    last_of_run = np.append(ps[1:] != ps[:-1], True)
    cost = np.where(last_of_run, cost, np.inf)
    all_negative = float(np.sum(ws * (ys == 1)))
    j = int(np.argmin(cost))
    if all_negative <= cost[j]:
        # no sample positive: just above the top score (above 1 when it is 1)
        return float(np.nextafter(ps[0], np.inf))
    return float(ps[j])
