"""What training records about a fit besides the model: stability, paths, scales.

Coefficient stability across CV folds (and bootstrap resamples when asked),
the score the reference profile tracks, the regularization path and the CV
grid summary for the report, and the coefficients on the original feature
scale. Metrics come from :func:`glmops.evaluation.evaluate.evaluate`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from glmops._typing import FloatArray, IntArray
from glmops.config import ModelConfig
from glmops.data.preprocessing import Preprocessor
from glmops.data.schema import CoercedTable
from glmops.model import Model
from glmops.training.estimator import FitData, estimator_for, fit_params, n_jobs

__all__ = [
    "cv_summary",
    "fold_coefficients",
    "original_scale",
    "regularization_path",
    "stability",
    "training_scores",
]


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


def fold_coefficients(fit: FitData, spec: ModelConfig, alpha: float, l1_ratio: float) -> FloatArray:
    """Refit at the chosen penalty on each CV training part (for coefficient stability).

    Returns
    -------
    ndarray of shape (n_folds, K, n_features_out)
    """

    def refit(rows: IntArray) -> FloatArray:
        sw = None if fit.sample_weight is None else fit.sample_weight[rows]
        est = estimator_for(spec, fit.classes, alpha=alpha, l1_ratio=l1_ratio)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(fit.X[rows], fit.y[rows], sample_weight=sw)
        return np.atleast_2d(est.coef_)

    from glmops.engines.local import parallel_map

    trains = [train for train, _ in fit.folds]
    return np.stack(parallel_map(refit, trains, n_jobs(spec)))


def training_scores(model: Model, data: CoercedTable) -> FloatArray:
    """Return the score the profile tracks: P(positive), max class probability, or ŷ."""
    decision = model.decision_function(data)
    if model.task == "regression":
        return decision
    proba = model.proba_from_decision(decision)
    return proba[:, 1] if model.task == "binary" else proba.max(axis=1)


def stability(
    model: Model, fold_coefs: FloatArray, fit: FitData, spec: ModelConfig, estimator: Any
) -> dict[str, Any]:
    """Return coefficient stability across the CV folds (and bootstrap resamples when asked).

    The bootstrap refits are :func:`estimator_for` point fits at the chosen
    penalty, so they solve the shipped model's problem.
    """
    from glmops.evaluation import bootstrap_coefficients, coefficient_stability

    names = model.feature_names_out
    squeeze = model.task != "multinomial"
    ref = model.coef[0] if squeeze else model.coef
    stack = fold_coefs[:, 0, :] if squeeze else fold_coefs
    out: dict[str, Any] = {"cv_folds": coefficient_stability(stack, names, reference=ref)}
    if spec.bootstrap:
        alpha, l1 = float(estimator.alpha_), float(estimator.l1_ratio_)

        def refit(Xb: Any, yb: Any, wb: Any) -> FloatArray:
            est = estimator_for(spec, fit.classes, alpha=alpha, l1_ratio=l1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(Xb, yb, sample_weight=wb)
            coef = np.atleast_2d(est.coef_)
            return coef[0] if squeeze else coef

        boot = bootstrap_coefficients(
            refit,
            fit.X,
            fit.y,
            fit.sample_weight,
            n_resamples=spec.bootstrap,
            random_state=spec.seed,
        )
        out["bootstrap"] = coefficient_stability(boot, names, reference=ref)
    return out


def regularization_path(
    model: Model, fit: FitData, spec: ModelConfig, estimator: Any
) -> dict[str, Any]:
    """Return the regularization path at the chosen l1_ratio (for the report)."""
    from glmops.estimators.elastic_net import enet_path
    from glmops.estimators.logistic import logistic_path

    l1 = float(estimator.l1_ratio_)
    grids = np.atleast_2d(estimator.alphas_)
    ratios = list(spec.cv.l1_ratio)
    alphas = grids[ratios.index(l1)] if len(grids) > 1 else grids[0]
    params = fit_params(spec, fit.classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spec.task == "regression":
            alphas_out, coefs, _ = enet_path(
                fit.X, fit.y, l1_ratio=l1, alphas=alphas, sample_weight=fit.sample_weight, **params
            )
            coefs = np.asarray(coefs).T  # (n_alphas, p)
        else:
            alphas_out, raw, _, _ = logistic_path(
                fit.X, fit.y, l1_ratio=l1, alphas=alphas, sample_weight=fit.sample_weight, **params
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
