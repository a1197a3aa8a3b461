"""What training records about a fit besides the model: metrics, stability, paths.

Holdout and training metrics through the model's own pipeline, coefficient
stability across CV folds (and bootstrap resamples when asked), the
regularization path and the CV grid summary for the report, and the
coefficients on the original feature scale.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from glmops._typing import FloatArray, IntArray
from glmops.config import ModelConfig
from glmops.data.preprocessing import Preprocessor
from glmops.data.schema import CoercedTable
from glmops.data.split import Split
from glmops.model import Model

__all__ = [
    "cv_summary",
    "evaluate_splits",
    "fold_coefficients",
    "n_jobs",
    "original_scale",
    "regularization_path",
    "stability",
    "training_scores",
]


def n_jobs(model: ModelConfig) -> int:
    """Return threads for independent fits: the config's ``n_jobs``, else every core."""
    return model.n_jobs or max(1, os.cpu_count() or 1)


def original_scale(pre: Preprocessor, coef: FloatArray, intercept: FloatArray) -> dict[str, Any]:
    """Return coefficients per unit of each step's input (undoing the standardization).

    Numeric columns: per unit of the (clipped, log1p-ed) value; one-hot
    columns: per indicator; target-encoded: per unit of the encoding.
    """
    from glmops.data.preprocessing import NumericStep

    raw = coef.copy()
    b0 = intercept.copy()
    j = 0
    for step in pre.steps:
        width = len(step.outputs)
        if isinstance(step, NumericStep):
            raw[:, j] = coef[:, j] / step.scale
            b0 -= coef[:, j] * step.center / step.scale
            if step.indicator:
                raw[:, j + 1] = coef[:, j + 1] / step.indicator_scale
                b0 -= coef[:, j + 1] * step.indicator_center / step.indicator_scale
        else:
            raw[:, j : j + width] = coef[:, j : j + width] / step.scale
            b0 -= (coef[:, j : j + width] * step.center / step.scale).sum(axis=1)
        j += width
    return {"coef": raw, "intercept": b0}


def fold_coefficients(
    X: FloatArray,
    y_fit: np.ndarray,
    w: FloatArray | None,
    folds: list[tuple[IntArray, IntArray]],
    model: ModelConfig,
    alpha: float,
    l1_ratio: float,
    class_weight: Any,
) -> FloatArray:
    """Refit at the chosen penalty on each CV training part (for coefficient stability)."""
    from glmops.estimators.elastic_net import ElasticNet
    from glmops.estimators.logistic import LogisticRegression

    def fit(rows: IntArray) -> FloatArray:
        sw = None if w is None else w[rows]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if model.task == "regression":
                est = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=model.cv.tol)
                est.fit(X[rows], y_fit[rows], sample_weight=sw)
                return np.atleast_2d(est.coef_)
            clf = LogisticRegression(
                alpha=alpha, l1_ratio=l1_ratio, tol=model.cv.tol, class_weight=class_weight
            )
            clf.fit(X[rows], y_fit[rows], sample_weight=sw)
            return np.atleast_2d(clf.coef_)

    from glmops.engines.local import parallel_map

    trains = [train for train, _ in folds]
    return np.stack(parallel_map(fit, trains, n_jobs(model)))


def training_scores(model: Model, data: CoercedTable) -> FloatArray:
    """Return the score the profile tracks: P(positive), max class probability, or ŷ."""
    decision = model.decision_function(data)
    if model.task == "regression":
        return decision
    proba = model.proba_from_decision(decision)
    return proba[:, 1] if model.task == "binary" else proba.max(axis=1)


def evaluate_splits(
    model: Model,
    train_data: CoercedTable,
    holdout_data: CoercedTable,
    y_train: np.ndarray,
    y_holdout: np.ndarray,
    w_all: FloatArray | None,
    split: Split,
) -> dict[str, Any]:
    from glmops.evaluation import classification_metrics, model_health, regression_metrics

    w_train = None if w_all is None else w_all[split.train]
    w_hold = None if w_all is None else w_all[split.holdout]
    out: dict[str, Any] = {"metrics": {}, "holdout": {}}
    for label, data, y, w in (
        ("train", train_data, y_train, w_train),
        ("holdout", holdout_data, y_holdout, w_hold),
    ):
        decision = model.decision_function(data)
        if model.task == "regression":
            out["metrics"][label] = regression_metrics(y, decision, sample_weight=w)
            if label == "holdout":
                out["holdout"] = {"y_true": y, "y_pred": decision, "sample_weight": w}
        else:
            proba = model.proba_from_decision(decision)
            assert model.classes is not None
            out["metrics"][label] = classification_metrics(
                y,
                proba,
                model.classes,
                threshold=model.threshold if model.threshold is not None else 0.5,
                positive_class=model.classes[1] if model.task == "binary" else None,
                sample_weight=w,
            )
            if label == "holdout":
                out["holdout"] = {"y_true": y, "proba": proba, "sample_weight": w}
    out["health"] = model_health(
        out["metrics"]["train"], out["metrics"]["holdout"], model.coef, task=model.task
    )
    return out


def stability(
    model: Model,
    fold_coefs: FloatArray,
    X: FloatArray,
    y_fit: np.ndarray,
    w: FloatArray | None,
    spec: ModelConfig,
    estimator: Any,
) -> dict[str, Any]:
    from glmops.evaluation import bootstrap_coefficients, coefficient_stability

    names = model.feature_names_out
    squeeze = model.task != "multinomial"
    ref = model.coef[0] if squeeze else model.coef
    stack = fold_coefs[:, 0, :] if squeeze else fold_coefs
    out: dict[str, Any] = {"cv_folds": coefficient_stability(stack, names, reference=ref)}
    if spec.bootstrap:
        from glmops.estimators.elastic_net import ElasticNet
        from glmops.estimators.logistic import LogisticRegression

        alpha, l1 = float(estimator.alpha_), float(estimator.l1_ratio_)

        def fit(Xb: Any, yb: Any, wb: Any) -> FloatArray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if spec.task == "regression":
                    est: Any = ElasticNet(alpha=alpha, l1_ratio=l1, tol=spec.cv.tol)
                else:
                    est = LogisticRegression(alpha=alpha, l1_ratio=l1, tol=spec.cv.tol)
                est.fit(Xb, yb, sample_weight=wb)
                coef = np.atleast_2d(est.coef_)
                return coef[0] if squeeze else coef

        boot = bootstrap_coefficients(
            fit, X, y_fit, w, n_resamples=spec.bootstrap, random_state=spec.seed
        )
        out["bootstrap"] = coefficient_stability(boot, names, reference=ref)
    return out


def regularization_path(
    model: Model,
    X: FloatArray,
    y_fit: np.ndarray,
    w: FloatArray | None,
    spec: ModelConfig,
    estimator: Any,
    class_weight: Any,
) -> dict[str, Any]:
    """Return the regularization path at the chosen l1_ratio (for the report)."""
    from glmops.estimators.elastic_net import enet_path
    from glmops.estimators.logistic import logistic_path

    l1 = float(estimator.l1_ratio_)
    grids = np.atleast_2d(estimator.alphas_)
    ratios = list(spec.cv.l1_ratio)
    alphas = grids[ratios.index(l1)] if len(grids) > 1 else grids[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spec.task == "regression":
            alphas_out, coefs, _ = enet_path(
                X,
                y_fit,
                l1_ratio=l1,
                alphas=alphas,
                sample_weight=w,
                tol=spec.cv.tol,
                fit_intercept=True,
            )
            coefs = np.asarray(coefs).T  # (n_alphas, p)
        else:
            alphas_out, raw, _, _ = logistic_path(
                X,
                y_fit,
                l1_ratio=l1,
                alphas=alphas,
                sample_weight=w,
                class_weight=class_weight,
                tol=spec.cv.tol,
            )
            coefs = np.transpose(np.asarray(raw), (2, 0, 1))  # (n_alphas, K, p)
            if model.task != "multinomial":
                coefs = coefs[:, 0, :]
    return {"alphas": np.asarray(alphas_out), "coefs": np.asarray(coefs)}


def cv_summary(estimator: Any, spec: ModelConfig) -> dict[str, Any]:
    """Return the CV grid's mean/standard error per (l1_ratio, alpha) and the choice."""
    grids = np.atleast_2d(estimator.alphas_)
    if spec.task == "regression":
        scores = np.asarray(estimator.mse_path_)
        scores = scores.reshape(grids.shape[0], grids.shape[1], -1)
        score_name, greater = "mse", False
    else:
        scores = np.asarray(estimator.scores_)
        score_name, greater = spec.cv.scoring or "neg_log_loss", True
    n_folds = scores.shape[2]
    mean = scores.mean(axis=2)
    se = scores.std(axis=2, ddof=1) / np.sqrt(n_folds) if n_folds > 1 else np.zeros_like(mean)
    i = list(spec.cv.l1_ratio).index(float(estimator.l1_ratio_))
    best = int(np.argmax(mean[i]) if greater else np.argmin(mean[i]))
    bar = mean[i, best] - se[i, best] if greater else mean[i, best] + se[i, best]
    within = np.flatnonzero(mean[i] >= bar) if greater else np.flatnonzero(mean[i] <= bar)
    alpha_1se = float(grids[i, within].max()) if within.size else None
    return {
        "score": score_name,
        "greater_is_better": greater,
        "l1_ratios": list(spec.cv.l1_ratio),
        "alphas": grids,
        "mean": mean,
        "std_error": se,
        "n_folds": n_folds,
        "alpha": float(estimator.alpha_),
        "l1_ratio": float(estimator.l1_ratio_),
        "alpha_1se": alpha_1se,
        "selection": spec.cv.selection,
    }
