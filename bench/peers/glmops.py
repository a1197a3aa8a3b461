"""glmops: the project's own solver (numba).

Mapping: glmops solves scikit-learn's objective by default
(``standardize=False``), so the benchmark objective with the same ``alpha``
and ``l1_ratio``; ``fit_intercept=True`` leaves the intercept unpenalized and
centres implicitly (dense and sparse). ``tol`` has scikit-learn's
duality-gap semantics.

Contract used (DESIGN section 4):
``enet_path(X, y, *, l1_ratio, alphas, fit_intercept, tol, max_iter,
return_intercept=True) -> (alphas, coefs (n_features, n_alphas), dual_gaps,
intercepts)``, ``ElasticNet(alpha, l1_ratio=..., tol=..., max_iter=...)``,
``ElasticNetCV(l1_ratio=[...], n_alphas, eps, cv, tol, n_jobs)`` with
``alpha_``, ``l1_ratio_``, ``alphas_``, ``mse_path_`` like scikit-learn.
"""

from __future__ import annotations

import numpy as np

import glmops
from bench.peers import CVFit, FloatArray, PathFit
from bench.problems import Matrix

MAX_ITER = 10_000


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    _, coefs, _, intercepts = glmops.enet_path(
        X,
        y,
        l1_ratio=l1_ratio,
        alphas=np.asarray(alphas),
        fit_intercept=True,
        tol=tol,
        max_iter=MAX_ITER,
        return_intercept=True,
    )
    return PathFit(np.asarray(coefs), np.asarray(intercepts))


def fit_single(X: Matrix, y: FloatArray, *, alpha: float, l1_ratio: float, tol: float) -> PathFit:
    model = glmops.ElasticNet(
        alpha=alpha, l1_ratio=l1_ratio, fit_intercept=True, tol=tol, max_iter=MAX_ITER
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
    # n_jobs=1: every peer runs its CV on one core (same thread settings).
    model = glmops.ElasticNetCV(
        l1_ratio=list(l1_ratios), n_alphas=n_alphas, eps=eps, cv=cv, tol=tol, n_jobs=1
    ).fit(X, y)
    mse = np.asarray(model.mse_path_)
    return CVFit(
        alpha=float(model.alpha_),
        l1_ratio=float(model.l1_ratio_),
        coef=np.asarray(model.coef_),
        intercept=float(model.intercept_),
        alphas=np.atleast_2d(model.alphas_),
        mse_mean=np.atleast_2d(mse.mean(axis=-1)),
    )
