"""skglm: Anderson-accelerated working-set coordinate descent (numba).

Mapping: skglm's Quadratic datafit is ||y - Xw||^2 / (2n) and L1_plus_L2 is
alpha * (l1_ratio*|w|_1 + (1-l1_ratio)/2*|w|_2^2): the benchmark objective.
``fit_intercept=True`` appends an unpenalized intercept updated by its own
gradient step; X is never centred (dense or sparse), so no copy.

Path: ``ElasticNet.path`` -> ``AndersonCD.path`` warm-starts each alpha from
the previous solution; with ``fit_intercept`` its coefs are
(n_features + 1, n_alphas) with the intercept in the last row. Tolerance:
``tol`` bounds the largest distance of -gradient to the subdifferential
(absolute, not a duality gap). ``max_iter`` (outer working-set iterations,
default 50) is raised so tight tolerances are not cut short. skglm has no
ElasticNetCV.
"""

from __future__ import annotations

import numpy as np
from skglm import ElasticNet

from bench.peers import FloatArray, PathFit
from bench.problems import Matrix

MAX_ITER = 200


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    model = ElasticNet(l1_ratio=l1_ratio, tol=tol, max_iter=MAX_ITER, fit_intercept=True)
    _, coefs, _, _ = model.path(X, y, np.asarray(alphas))
    return PathFit(np.ascontiguousarray(coefs[:-1]), np.asarray(coefs[-1]))


def fit_single(X: Matrix, y: FloatArray, *, alpha: float, l1_ratio: float, tol: float) -> PathFit:
    model = ElasticNet(
        alpha=alpha, l1_ratio=l1_ratio, tol=tol, max_iter=MAX_ITER, fit_intercept=True
    ).fit(X, y)
    return PathFit(np.asarray(model.coef_)[:, None], np.array([model.intercept_]))
