"""glmops, logistic: proximal Newton (IRLS) over the coordinate-descent kernels (numba).

Mapping: glmops' logistic estimators minimise 1/W sum_i w_i logloss_i +
alpha*(l1_ratio*|B|_1 + (1-l1_ratio)/2*|B|_2^2) with unit weights (W = n),
one coefficient row for binary and K rows (true softmax, no reference class)
for K >= 3: the benchmark objective with the same ``alpha`` and
``l1_ratio``. ``fit_intercept=True`` leaves the intercepts unpenalized;
``standardize=False`` (the default) keeps the penalty on the original scale.
``tol`` is the certified relative precision: a fit stops when its duality
gap (a bound on its distance to the optimum) is at most ``tol`` times its
objective (default ``1e-7``). ``max_iter`` (Newton iterations, default 100)
is raised so tight tolerances are not cut short.

Path: ``logistic_path(X, y, alphas=..., l1_ratio=...)`` warm-starts alpha to
alpha and returns coefs (n_rows, n_features, n_alphas) and intercepts
(n_rows, n_alphas). Single: ``LogisticRegression(alpha=, l1_ratio=, tol=)``.
CV: ``LogisticRegressionCV(alphas=grid, l1_ratio=[...], cv=splitter,
n_jobs=1)``, scored by its default ``neg_log_loss`` (mean held-out log loss
per fold, averaged over folds), refitted along the grid down to the chosen
alpha.
"""

from __future__ import annotations

import numpy as np

import glmops
from bench.peers import CVFit, FloatArray, PathFit
from bench.problems import Matrix

MAX_ITER = 1_000


def _squeeze(coefs: FloatArray, intercepts: FloatArray) -> PathFit:
    """(n_rows, p, m) -> (p, m) for binary; multinomial stays (K, p, m)."""
    coefs, intercepts = np.asarray(coefs), np.asarray(intercepts)
    if coefs.shape[0] == 1:
        return PathFit(coefs[0], intercepts[0])
    return PathFit(coefs, intercepts)


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    _, coefs, intercepts, _ = glmops.logistic_path(
        X,
        y,
        l1_ratio=l1_ratio,
        alphas=np.asarray(alphas),
        fit_intercept=True,
        tol=tol,
        max_iter=MAX_ITER,
    )
    return _squeeze(coefs, intercepts)


def fit_single(X: Matrix, y: FloatArray, *, alpha: float, l1_ratio: float, tol: float) -> PathFit:
    model = glmops.LogisticRegression(
        alpha=alpha, l1_ratio=l1_ratio, fit_intercept=True, tol=tol, max_iter=MAX_ITER
    ).fit(X, y)
    return _squeeze(np.asarray(model.coef_)[:, :, None], np.asarray(model.intercept_)[:, None])


def fit_cv(
    X: Matrix,
    y: FloatArray,
    *,
    l1_ratios: tuple[float, ...],
    alphas: FloatArray,
    cv: object,
    tol: float,
) -> CVFit:
    # n_jobs=1: every peer runs its CV on one core (same thread settings).
    model = glmops.LogisticRegressionCV(
        alphas=np.asarray(alphas),
        l1_ratio=list(l1_ratios),
        cv=cv,
        tol=tol,
        max_iter=MAX_ITER,
        n_jobs=1,
    ).fit(X, y)
    coef, intercept = np.asarray(model.coef_), np.asarray(model.intercept_)
    return CVFit(
        alpha=float(model.alpha_),
        l1_ratio=float(model.l1_ratio_),
        coef=coef[0] if coef.shape[0] == 1 else coef,
        intercept=float(intercept[0]) if intercept.shape[0] == 1 else intercept,
        alphas=np.atleast_2d(model.alphas_),
        # scores_ is (n_l1, n_alphas, n_folds) of neg_log_loss
        mse_mean=-np.asarray(model.scores_).mean(axis=2),
    )
