"""skglm: Anderson-accelerated working-set coordinate descent (numba).

Mapping: skglm's Quadratic datafit is ||y - Xw||^2 / (2n) and L1_plus_L2 is
alpha * (l1_ratio*|w|_1 + (1-l1_ratio)/2*|w|_2^2): the benchmark objective.

Intercept:
- dense: X and y are centred inside the timed region (one copy of X, as
  scikit-learn's and celer's estimators do), the path runs with
  ``fit_intercept=False`` and b0 = ybar - xbar'b. skglm's own
  ``fit_intercept=True`` never centres: it updates the intercept by a
  gradient step, which converges very slowly when columns have non-zero
  means (40x slower on a 50 x 400 slice of wide_path at tol=1e-6). We time
  the faster, equivalent formulation: the strongest version of the peer.
- sparse: X cannot be centred without densifying it, so skglm's native
  ``fit_intercept=True`` is used (the slow intercept updates above apply).

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
import scipy.sparse as sp
from skglm import ElasticNet

from bench.peers import FloatArray, PathFit
from bench.peers._common import center_dense, intercepts_from_means
from bench.problems import Matrix

MAX_ITER = 200


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    alphas = np.asarray(alphas)
    if sp.issparse(X):
        model = ElasticNet(l1_ratio=l1_ratio, tol=tol, max_iter=MAX_ITER, fit_intercept=True)
        _, coefs, _, _ = model.path(X, y, alphas)
        return PathFit(np.ascontiguousarray(coefs[:-1]), np.asarray(coefs[-1]))
    Xc, yc, x_mean, y_mean = center_dense(X, y)
    model = ElasticNet(l1_ratio=l1_ratio, tol=tol, max_iter=MAX_ITER, fit_intercept=False)
    _, coefs, _, _ = model.path(Xc, yc, alphas)
    return PathFit(coefs, intercepts_from_means(coefs, x_mean, y_mean))


def fit_single(X: Matrix, y: FloatArray, *, alpha: float, l1_ratio: float, tol: float) -> PathFit:
    if sp.issparse(X):
        model = ElasticNet(
            alpha=alpha, l1_ratio=l1_ratio, tol=tol, max_iter=MAX_ITER, fit_intercept=True
        ).fit(X, y)
        return PathFit(np.asarray(model.coef_)[:, None], np.array([model.intercept_]))
    Xc, yc, x_mean, y_mean = center_dense(X, y)
    model = ElasticNet(
        alpha=alpha, l1_ratio=l1_ratio, tol=tol, max_iter=MAX_ITER, fit_intercept=False
    ).fit(Xc, yc)
    coefs = np.asarray(model.coef_)[:, None]
    return PathFit(coefs, intercepts_from_means(coefs, x_mean, y_mean))
