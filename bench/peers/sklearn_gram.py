"""scikit-learn coordinate descent on the Gram matrix, precompute=True.

Same mapping and intercept handling as :mod:`bench.peers.sklearn_cd` (dense
only: X and y are centred inside the timed region, then ``enet_path`` forms
the Gram matrix Xc'Xc and Xc'yc itself and runs CD on it; b0 = ybar - xbar'b).
scikit-learn's ElasticNetCV picks this branch itself for n > p
(precompute="auto"). Sparse X is not benchmarked with this peer.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import ElasticNet

from bench.peers import CVFit, FloatArray, PathFit
from bench.peers.sklearn_cd import MAX_ITER, _cv, _path
from bench.problems import Matrix

PRECOMPUTE = True


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    return _path(X, y, alphas=alphas, l1_ratio=l1_ratio, tol=tol, precompute=PRECOMPUTE)


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
