"""The one place that turns a model config into an estimator.

Every fit of one model -- the cross-validated grid and its refit, the
per-fold refits and bootstrap refits that measure coefficient stability, and
the regularization path drawn in the report -- must solve the same problem
with the same solver settings. Otherwise stability is measured on a model
other than the one shipped (the first release's fold refits ran with a
different ``max_iter`` and its bootstrap refits dropped ``class_weight``).
So they all take their settings from :func:`fit_params`, and their
estimators from :func:`estimator_for`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from glmops._typing import FloatArray, IntArray
from glmops.config import ModelConfig
from glmops.errors import ConfigError, InvalidInputError

__all__ = [
    "MAX_ITER",
    "FitData",
    "estimator_for",
    "fit_class_weight",
    "fit_labels",
    "fit_params",
    "n_jobs",
]

#: Solver iterations per task: coordinate-descent epochs (regression) or
#: proximal-Newton steps (classifiers, which need more than the estimator
#: default of 100 on the CV grid's smallest alphas).
MAX_ITER = {"regression": 1000, "binary": 200, "multinomial": 200}

Folds = list[tuple[IntArray, IntArray]]


@dataclass(frozen=True)
class FitData:
    """The training rows as every fit of one model takes them.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features_out)
        The preprocessed design matrix.
    y : ndarray of shape (n_rows,)
        The target as :func:`fit_labels` encodes it.
    sample_weight : ndarray of shape (n_rows,) or None
        Row weights.
    folds : list of (train, test) index arrays
        The CV folds (also the parts the fold-stability refits use).
    classes : list or None
        The classes (binary: ``[negative, positive]``); None for regression.
    """

    X: FloatArray
    y: np.ndarray
    sample_weight: FloatArray | None
    folds: Folds
    classes: list[Any] | None


def n_jobs(spec: ModelConfig) -> int:
    """Return threads for independent fits: the config's ``n_jobs``, else every core."""
    return spec.n_jobs or max(1, os.cpu_count() or 1)


def fit_labels(y: np.ndarray, spec: ModelConfig, positive: Any) -> np.ndarray:
    """Return the target as the estimators see it: 0/1 (binary, 1 = ``positive``) or as is."""
    if spec.task == "binary":
        return np.asarray(y == positive, dtype=np.int64)
    return y


def fit_class_weight(spec: ModelConfig, classes: list[Any] | None) -> Any:
    """Return the config's ``class_weight`` keyed like :func:`fit_labels`'s output.

    Parameters
    ----------
    spec : ModelConfig
        The model config.
    classes : list, optional
        The classes (binary: ``[negative, positive]``); None for regression.

    Returns
    -------
    None, "balanced" or dict
        Binary keys are 0/1, multinomial keys the class labels.
    """
    cw = spec.class_weight
    if cw is None or cw == "balanced":
        return cw
    if classes is None:
        raise ConfigError("class_weight needs a classification task.", path="class_weight")
    mapping = {str(c): c for c in classes}
    unknown = [k for k in cw if k not in mapping]
    if unknown:
        raise ConfigError(
            f"class_weight names unknown class(es) {unknown}; classes: {classes}.",
            path="class_weight",
        )
    if spec.task == "binary":
        return {int(mapping[k] == classes[1]): float(v) for k, v in cw.items()}
    return {mapping[k]: float(v) for k, v in cw.items()}


def fit_params(spec: ModelConfig, classes: list[Any] | None) -> dict[str, Any]:
    """Return the solver settings every fit of one model shares.

    Parameters
    ----------
    spec : ModelConfig
        The model config.
    classes : list, optional
        The classes (binary: ``[negative, positive]``); None for regression.

    Returns
    -------
    dict
        ``tol`` (only when the config sets it), ``max_iter``,
        ``fit_intercept``, ``standardize`` (False: the pipeline standardizes
        in preprocessing) and, for classifiers,
        ``class_weight``; keyword arguments of the estimators and of
        ``enet_path`` / ``logistic_path``.
    """
    params: dict[str, Any] = {
        "max_iter": MAX_ITER[spec.task],
        "fit_intercept": True,
        "standardize": False,
    }
    if spec.cv.tol is not None:
        params["tol"] = spec.cv.tol
    if spec.task != "regression":
        params["class_weight"] = fit_class_weight(spec, classes)
    return params


def estimator_for(
    spec: ModelConfig,
    classes: list[Any] | None,
    *,
    cv: Folds | None = None,
    alpha: float | None = None,
    l1_ratio: float | None = None,
) -> Any:
    """Return the estimator of one fit of ``spec``: the CV grid, or one penalty.

    Parameters
    ----------
    spec : ModelConfig
        The model config.
    classes : list, optional
        The classes (binary: ``[negative, positive]``); None for regression.
    cv : list of (train, test) index arrays, optional
        The CV folds: returns ``ElasticNetCV`` / ``LogisticRegressionCV``
        over the config's grid, which also refits at the chosen point.
    alpha, l1_ratio : float, optional
        The penalty of a point fit (both required without ``cv``): returns
        ``ElasticNet`` / ``LogisticRegression``. Point fits estimate
        coefficients only; the threshold and calibration, chosen after the
        coefficients and not changing them, stay with the CV estimator.

    Returns
    -------
    estimator
        Unfitted, with :func:`fit_params`' settings.
    """
    from glmops.estimators.elastic_net import ElasticNet, ElasticNetCV
    from glmops.estimators.logistic import LogisticRegression, LogisticRegressionCV

    params = fit_params(spec, classes)
    if cv is None:
        if alpha is None or l1_ratio is None:
            raise InvalidInputError(
                "A point fit needs both alpha and l1_ratio (or pass cv=folds).",
                field="alpha" if alpha is None else "l1_ratio",
                expected="a float",
                got=None,
            )
        point = ElasticNet if spec.task == "regression" else LogisticRegression
        return point(alpha=alpha, l1_ratio=l1_ratio, **params)
    grid: dict[str, Any] = {
        "alphas": spec.cv.alphas,
        "n_alphas": spec.cv.n_alphas,
        "eps": spec.cv.eps,
        "l1_ratio": list(spec.cv.l1_ratio),
        "cv": cv,
        "selection": spec.cv.selection,
        "n_jobs": n_jobs(spec),
    }
    if spec.task == "regression":
        return ElasticNetCV(**grid, **params)
    return LogisticRegressionCV(
        **grid,
        **params,
        scoring=spec.cv.scoring or "neg_log_loss",
        calibration=spec.calibration,
        **_threshold(spec),
    )


def _threshold(spec: ModelConfig) -> dict[str, Any]:
    """Return ``threshold`` and ``threshold_target`` from the config (binary only)."""
    if spec.task != "binary":
        return {"threshold": 0.5, "threshold_target": None}
    policy = spec.threshold.policy
    value: Any = spec.threshold.value if policy == "fixed" else policy
    return {"threshold": value, "threshold_target": spec.threshold.target}
