"""glum: IRLS with coordinate descent, family="binomial" (binary only).

Mapping: glum minimises 1/(2 sum(s)) * deviance + alpha * l1_ratio * |b|_1
+ alpha * (1 - l1_ratio)/2 * |b|_2^2. The binomial deviance is
2 * sum_i s_i logloss_i and, without sample weights, s_i = 1 and sum(s) = n,
so the objective is 1/n sum_i logloss_i + the penalty: the benchmark
objective with the same ``alpha`` and ``l1_ratio`` (checked in
``bench.check_adapters``). y in {0, 1}. The intercept is unpenalized
(``fit_intercept=True``) and glum centres X implicitly (tabmat), dense or
sparse, without a copy; ``scale_predictors=False`` keeps the penalty on the
original scale. ``solver="irls-cd"`` is set explicitly (glum 3.4's
``"auto"`` fails on an array of alphas). ``gradient_tol`` is absolute.

Path: ``alpha_search=True`` with ``alpha=`` our decreasing grid, warm-started
alpha to alpha; ``coef_path_`` is (n_alphas, n_features). CV:
GeneralizedLinearRegressorCV with ``alphas=`` the shared grid (one for all
l1_ratios), chosen by the mean over folds of the held-out deviance
(``deviance_path_``, per fold a weighted mean, i.e. 2 x the mean log loss);
after CV glum refits the WHOLE path of the chosen l1_ratio on the full data
(scikit-learn and glmops stop at the chosen alpha).

No multinomial: glum has no multinomial family.
"""

from __future__ import annotations

import numpy as np
from glum import GeneralizedLinearRegressor, GeneralizedLinearRegressorCV

from bench.peers import CVFit, FloatArray, PathFit
from bench.problems import Matrix

_COMMON = {
    "family": "binomial",
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
    alphas: FloatArray,
    cv: object,
    tol: float,
) -> CVFit:
    model = GeneralizedLinearRegressorCV(
        l1_ratio=list(l1_ratios),
        alphas=np.asarray(alphas),
        cv=cv,
        gradient_tol=tol,
        n_jobs=1,
        **_COMMON,
    ).fit(X, y)
    # deviance_path_ is (n_folds, n_l1, n_alphas): per fold 2 x the mean log loss
    return CVFit(
        alpha=float(model.alpha_),
        l1_ratio=float(model.l1_ratio_),
        coef=np.asarray(model.coef_),
        intercept=float(model.intercept_),
        alphas=np.atleast_2d(model.alphas_),
        mse_mean=np.atleast_2d(0.5 * np.asarray(model.deviance_path_).mean(axis=0)),
    )
