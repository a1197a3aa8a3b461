"""celer: working sets with dual extrapolation (Cython).

Mapping: celer's ElasticNet objective is ||y - Xw||^2/(2n) + alpha *
(l1_ratio*|w|_1 + (1-l1_ratio)/2*|w|_2^2) (checked against scikit-learn in
``bench.check_adapters``); ``tol`` is a duality-gap tolerance relative to
||y||^2/n, like scikit-learn's.

Intercept: ``celer_path`` fits none. We do what celer's ElasticNet.fit does
(it inherits scikit-learn's ``_preprocess_data``), inside the timed region:
- dense: centre X and y (one copy of X), b0 = ybar - xbar'b;
- sparse: centre y only and pass the column means as ``X_offset`` (with
  ``X_scale=1``); celer applies the centring implicitly in its sparse kernels.
The path warm-starts alpha to alpha. ``prune=True`` as in celer's estimators;
``max_iter`` (outer working-set iterations) raised from 100 to 200.

No CV: celer 0.7.4's ElasticNetCV passes ``n_alphas`` to scikit-learn's
LinearModelCV, which scikit-learn 1.9 no longer accepts (TypeError at
construction), so celer is left out of tall_cv.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from celer import ElasticNet, celer_path

from bench.peers import FloatArray, PathFit
from bench.peers._common import center_dense, column_means, intercepts_from_means
from bench.problems import Matrix

MAX_ITER = 200


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    common = {
        "alphas": np.asarray(alphas),
        "l1_ratio": l1_ratio,
        "tol": tol,
        "prune": True,
        "max_iter": MAX_ITER,
    }
    if sp.issparse(X):
        x_mean = column_means(X)
        y_mean = float(y.mean())
        _, coefs, _ = celer_path(
            X, y - y_mean, "lasso", X_offset=x_mean, X_scale=np.ones_like(x_mean), **common
        )
    else:
        Xc, yc, x_mean, y_mean = center_dense(X, y)
        _, coefs, _ = celer_path(Xc, yc, "lasso", **common)
    return PathFit(coefs, intercepts_from_means(coefs, x_mean, y_mean))


def fit_single(X: Matrix, y: FloatArray, *, alpha: float, l1_ratio: float, tol: float) -> PathFit:
    model = ElasticNet(
        alpha=alpha, l1_ratio=l1_ratio, tol=tol, max_iter=MAX_ITER, fit_intercept=True
    ).fit(X, y)
    return PathFit(np.asarray(model.coef_)[:, None], np.array([model.intercept_]))
