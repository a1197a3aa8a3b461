"""Probability calibration maps fitted by scikit-learn, stored as plain arrays.

Platt scaling and isotonic regression are fitted by scikit-learn
(``CalibratedClassifierCV``); what the model keeps is the map itself, as
numbers: ``(a, b)`` of each sigmoid or the breakpoints of each isotonic step
function, so it can be saved without pickle and applied anywhere.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from glmops._typing import FloatArray

__all__ = ["CALIBRATION_METHODS", "CalibrationMap", "fit_calibration"]

CALIBRATION_METHODS = ("platt", "isotonic")
_SKLEARN_METHOD = {"platt": "sigmoid", "isotonic": "isotonic"}


@dataclass(frozen=True)
class CalibrationMap:
    """A fitted calibration map from decision values to probabilities.

    Parameters
    ----------
    method : {"platt", "isotonic"}
    params : tuple of ndarray
        Platt: one array of shape (n_maps, 2) holding ``(a, b)`` with
        ``p = 1 / (1 + exp(a*s + b))`` (scikit-learn's convention). Isotonic:
        ``2 * n_maps`` arrays, the x and y breakpoints of each map (values
        outside the breakpoints are clipped to the ends).
    n_classes : int
        2: one map on the decision value of the positive class. K >= 3: one
        map per class (one-vs-rest), renormalised to sum to one.
    """

    method: str
    params: tuple[FloatArray, ...]
    n_classes: int

    def predict_proba(self, decision: FloatArray) -> FloatArray:
        """Map decision values (n,) for binary or (n, K) to probabilities (n, K).

        Parameters
        ----------
        decision : ndarray of shape (n,) or (n, K)
            Decision values of the uncalibrated model.

        Returns
        -------
        ndarray of shape (n, K)
        """
        if self.n_classes == 2 and decision.size == 1:
            return self._one_binary(float(decision.reshape(-1)[0]))
        scores = decision.reshape(-1, 1) if decision.ndim == 1 else decision
        n_maps = scores.shape[1]
        mapped = np.empty_like(scores, dtype=np.float64)
        for k in range(n_maps):
            if self.method == "platt":
                a, b = self.params[0][k]
                with np.errstate(over="ignore"):  # scipy's expit, without importing scipy
                    mapped[:, k] = 1.0 / (1.0 + np.exp(a * scores[:, k] + b))
            else:
                xs, ys = self.params[2 * k], self.params[2 * k + 1]
                mapped[:, k] = np.interp(scores[:, k], xs, ys)
        if self.n_classes == 2:
            p1 = np.clip(mapped[:, 0], 0.0, 1.0)
            return np.column_stack([1.0 - p1, p1])
        total = mapped.sum(axis=1, keepdims=True)
        uniform = np.full_like(mapped, 1.0 / self.n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            proba = np.where(total > 0, mapped / np.where(total > 0, total, 1.0), uniform)
        return np.asarray(proba)

    def _one_binary(self, score: float) -> FloatArray:
        """The same map for one binary score, in plain floats (the serving hot path)."""
        if self.method == "platt":
            a, b = self.params[0][0]
            z = float(a) * score + float(b)
            p1 = 0.0 if z > 709.0 else 1.0 / (1.0 + math.exp(z))
        else:
            p1 = float(np.interp(score, self.params[0], self.params[1]))
        p1 = min(max(p1, 0.0), 1.0)
        return np.array([[1.0 - p1, p1]])


def _scores_class() -> Any:
    """Return the scikit-learn classifier that replays given decision values.

    Defined on first use so that loading a model (which only applies maps)
    never imports scikit-learn.
    """
    from sklearn.base import BaseEstimator, ClassifierMixin

    class _Scores(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
        """An already-"fitted" classifier whose decision values are its input.

        Lets scikit-learn's calibration code fit maps on out-of-fold decision
        values that were computed elsewhere (by the CV paths).
        """

        def __init__(self, classes: Any = None) -> None:
            self.classes = classes

        def fit(self, X: Any, y: Any) -> _Scores:
            self.classes_ = np.asarray(self.classes)
            return self

        def decision_function(self, X: Any) -> FloatArray:
            scores = np.asarray(X, dtype=np.float64)
            return np.asarray(scores[:, 0] if scores.shape[1] == 1 else scores)

        def predict(self, X: Any) -> np.ndarray:
            scores = self.decision_function(X)
            if scores.ndim == 1:
                return np.asarray(self.classes_[(scores > 0).astype(np.intp)])
            return np.asarray(self.classes_[np.argmax(scores, axis=1)])

    return _Scores


def fit_calibration(
    decision: FloatArray,
    labels: Any,
    classes: Any,
    method: str,
    sample_weight: FloatArray | None = None,
) -> CalibrationMap:
    """Fit a calibration map on (out-of-fold) decision values.

    Parameters
    ----------
    decision : ndarray of shape (n,) for binary or (n, K)
        Decision values never fitted on their own rows (out of fold).
    labels : array-like of shape (n,)
        True class labels.
    classes : array-like of shape (K,)
        All classes, in the model's order.
    method : {"platt", "isotonic"}
    sample_weight : ndarray of shape (n,) or None
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    scores = decision.reshape(-1, 1) if decision.ndim == 1 else decision
    base = _scores_class()(classes=np.asarray(classes)).fit(scores, labels)
    with warnings.catch_warnings():
        # the base estimator is frozen (nothing to fit): the sample weights
        # reach the calibrators, which is what this warning doubts
        warnings.filterwarnings("ignore", message=".*does not appear to accept sample_weight")
        calibrated = CalibratedClassifierCV(
            FrozenEstimator(base), method=_SKLEARN_METHOD[method]
        ).fit(scores, labels, sample_weight=sample_weight)
    calibrators = calibrated.calibrated_classifiers_[0].calibrators
    n_classes = len(classes)
    if method == "platt":
        ab = np.array([[float(c.a_), float(c.b_)] for c in calibrators])
        return CalibrationMap("platt", (ab,), n_classes)
    arrays: list[FloatArray] = []
    for c in calibrators:
        arrays.append(np.asarray(c.X_thresholds_, dtype=np.float64))
        arrays.append(np.asarray(c.y_thresholds_, dtype=np.float64))
    return CalibrationMap("isotonic", tuple(arrays), n_classes)
