"""scikit-learn coordinate descent, precompute=False.

Mapping: scikit-learn's ElasticNet objective IS the benchmark objective
(1/(2n) loss, alpha * (l1_ratio*|b|_1 + (1-l1_ratio)/2*|b|_2^2)); ``tol`` is
scikit-learn's duality-gap tolerance (scaled by ||y||^2 inside cd_fast).

Intercept: ``enet_path`` fits none, so we do what scikit-learn's own
ElasticNet/ElasticNetCV do before calling it (``_preprocess_data``), inside
the timed region:
- dense: centre X and y (one copy of X), run the path, b0 = ybar - xbar'b;
- sparse: X is never centred; centre y and pass the column means as
  ``X_offset`` (with ``X_scale=1``), which ``sparse_enet_coordinate_descent``
  applies implicitly. This is the exact call ElasticNet.fit and
  ElasticNetCV make for CSC input.
The path is warm-started alpha to alpha inside ``enet_path``.
``fit_single`` is the plain estimator a user writes.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet, ElasticNetCV, enet_path

from bench.peers import CVFit, FloatArray, PathFit
from bench.peers._common import center_dense, column_means, intercepts_from_means
from bench.problems import Matrix

PRECOMPUTE = False
MAX_ITER = 10_000  # CD epochs per alpha (default 1000 stops tight tolerances early)


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    return _path(X, y, alphas=alphas, l1_ratio=l1_ratio, tol=tol, precompute=PRECOMPUTE)


def _path(
    X: Matrix,
    y: FloatArray,
    *,
    alphas: FloatArray,
    l1_ratio: float,
    tol: float,
    precompute: bool,
) -> PathFit:
    if sp.issparse(X):
        x_mean = column_means(X)
        y_mean = float(y.mean())
        _, coefs, _ = enet_path(
            X,
            y - y_mean,
            l1_ratio=l1_ratio,
            alphas=alphas,
            precompute=False,
            copy_X=False,
            tol=tol,
            max_iter=MAX_ITER,
            X_offset=x_mean,
            X_scale=np.ones_like(x_mean),
        )
    else:
        Xc, yc, x_mean, y_mean = center_dense(X, y)
        _, coefs, _ = enet_path(
            Xc,
            yc,
            l1_ratio=l1_ratio,
            alphas=alphas,
            precompute=precompute,
            copy_X=False,
            tol=tol,
            max_iter=MAX_ITER,
        )
    return PathFit(coefs, intercepts_from_means(coefs, x_mean, y_mean))


def fit_single(X: Matrix, y: FloatArray, *, alpha: float, l1_ratio: float, tol: float) -> PathFit:
    model = ElasticNet(
        alpha=alpha, l1_ratio=l1_ratio, precompute=PRECOMPUTE, tol=tol, max_iter=MAX_ITER
    ).fit(X, y)
    return PathFit(model.coef_[:, None], np.array([model.intercept_]))


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
    return _cv(
        X, y, l1_ratios=l1_ratios, n_alphas=n_alphas, eps=eps, cv=cv, tol=tol, precompute=PRECOMPUTE
    )


def _cv(
    X: Matrix,
    y: FloatArray,
    *,
    l1_ratios: tuple[float, ...],
    n_alphas: int,
    eps: float,
    cv: object,
    tol: float,
    precompute: bool,
) -> CVFit:
    model = ElasticNetCV(
        l1_ratio=list(l1_ratios),
        alphas=n_alphas,
        eps=eps,
        cv=cv,
        precompute=precompute,
        tol=tol,
        max_iter=MAX_ITER,
        n_jobs=1,
    ).fit(X, y)
    return CVFit(
        alpha=float(model.alpha_),
        l1_ratio=float(model.l1_ratio_),
        coef=model.coef_,
        intercept=float(model.intercept_),
        alphas=np.atleast_2d(model.alphas_),
        mse_mean=np.atleast_2d(model.mse_path_.mean(axis=-1)),
    )
