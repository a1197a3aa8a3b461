"""glum: IRLS with coordinate descent, family="normal".

Mapping: glum minimizes 1/(2 sum(s)) * deviance + alpha * l1_ratio * |b|_1
+ alpha * (1 - l1_ratio)/2 * |b|_2^2; for the normal family the deviance is
sum s_i (y_i - mu_i)^2 and, without sample weights, s_i = 1 and sum(s) = n:
exactly the benchmark objective, same ``alpha`` and ``l1_ratio``. The
intercept is unpenalized (``fit_intercept=True``) and glum centres X
implicitly (tabmat's StandardizedMatrix), dense or sparse, so no copy is made
here. ``scale_predictors=False`` keeps the penalty on the original scale.

Path: ``alpha_search=True`` with ``alpha=`` our decreasing grid solves each
alpha warm-started from the previous one (``_solve_regularization_path``);
``coef_path_`` is (n_alphas, n_features). Tolerance: ``gradient_tol``, the
sum of minimum-norm subgradients of the CD sub-problem (absolute, not a
duality gap). CV: GeneralizedLinearRegressorCV with ``min_alpha_ratio=eps``
and ``n_alphas`` builds the same per-l1_ratio grid as scikit-learn (checked by
``bench.check_adapters``); after CV glum refits the WHOLE path for the chosen
l1_ratio on the full data (scikit-learn refits one point).
"""

from __future__ import annotations

import numpy as np
from glum import GeneralizedLinearRegressor, GeneralizedLinearRegressorCV

from bench.peers import CVFit, FloatArray, PathFit
from bench.problems import Matrix

# solver="irls-cd" is what solver="auto" picks with an L1 penalty; set explicitly
# because glum 3.4's "auto" branch evaluates ``alpha == 0`` and fails on an
# array of alphas.
_COMMON = {
    "family": "normal",
    "fit_intercept": True,
    "scale_predictors": False,
    "solver": "irls-cd",
}


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    model = GeneralizedLinearRegressor(
        alpha=np.asarray(alphas),
        alpha_search=True,
        l1_ratio=l1_ratio,
        gradient_tol=tol,
        **_COMMON,
    ).fit(X, y)
    return PathFit(np.asarray(model.coef_path_).T, np.asarray(model.intercept_path_))


def fit_single(X: Matrix, y: FloatArray, *, alpha: float, l1_ratio: float, tol: float) -> PathFit:
    model = GeneralizedLinearRegressor(
        alpha=alpha, l1_ratio=l1_ratio, gradient_tol=tol, **_COMMON
    ).fit(X, y)
    return PathFit(np.asarray(model.coef_)[:, None], np.array([model.intercept_]))


def fit_cv(
    X: Matrix,
    y: FloatArray,
    *,
    l1_ratios: tuple[float, ...],
    n_alphas: int,
    eps: float,
    cv: object,
    tol: float,
) -> CVFit:
    model = GeneralizedLinearRegressorCV(
        l1_ratio=list(l1_ratios),
        n_alphas=n_alphas,
        min_alpha_ratio=eps,
        cv=cv,
        gradient_tol=tol,
        n_jobs=1,
        **_COMMON,
    ).fit(X, y)
    # deviance_path_ is (n_folds, n_l1, n_alphas); for the normal family its fold
    # mean equals scikit-learn's mse_path_.mean(axis=-1) (checked in check_adapters).
    return CVFit(
        alpha=float(model.alpha_),
        l1_ratio=float(model.l1_ratio_),
        coef=np.asarray(model.coef_),
        intercept=float(model.intercept_),
        alphas=np.atleast_2d(model.alphas_),
        mse_mean=np.atleast_2d(np.asarray(model.deviance_path_).mean(axis=0)),
    )
