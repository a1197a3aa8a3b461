"""skglm: Logistic datafit + L1_plus_L2 penalty, ProxNewton solver (numba; binary only).

Mapping: skglm's ``Logistic`` datafit is 1/n sum_i log(1 + exp(-y_i (Xw)_i))
with labels y_i in {-1, 1}, i.e. the mean log loss of our {0, 1} labels
(y_pm = 2y - 1); ``L1_plus_L2(alpha, l1_ratio)`` is alpha * (l1_ratio*|w|_1 +
(1-l1_ratio)/2*|w|_2^2): the benchmark objective with the same ``alpha`` and
``l1_ratio``. ``GeneralizedLinearEstimator`` does the {-1, 1} encoding itself.

Solver: ``ProxNewton(fit_intercept=True)``, skglm's solver for the logistic
datafit: working sets, proximal Newton steps whose CD inner solves include
the unpenalized intercept as an extra coordinate (AndersonCD, the other
option, moves the Logistic intercept by plain gradient steps). ``tol`` bounds
the largest distance of -gradient to the subdifferential, and the intercept's
gradient (absolute). ``max_iter`` (outer working-set iterations, default 20)
is raised so tight tolerances are not cut short.

Intercept: skglm never centres X. Dense X is centred inside the timed region
(one copy of X) and b0 = c - xbar'w, as the Gaussian skglm adapter does: on
logit_path's generator (columns with non-zero means) the path on centred X
was 14x faster at the same precision (5,000 x 100, 20 alphas, tol=1e-6:
0.26 s vs 3.7 s), so we time the faster, equivalent formulation. Sparse X
cannot be centred without densifying it: skglm's native intercept on the
uncentred X is the only option there.

Path: skglm has no logistic path function; ``fit_path`` calls
``solver.solve`` alpha by alpha from the previous (w, Xw), the warm start
skglm's own ``path`` methods use. ``fit_single`` is the plain estimator.

No CV: skglm's ``GeneralizedLinearEstimatorCV`` scores by accuracy on its own
shuffled StratifiedKFold (no ``cv=`` splitter, no log-loss scoring), so its
choice is not comparable. No multinomial: multiclass Logistic is fitted
one-vs-rest (``OneVsRestClassifier``), not a softmax.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from skglm import GeneralizedLinearEstimator
from skglm.datafits import Logistic
from skglm.penalties import L1_plus_L2
from skglm.solvers import ProxNewton

from bench.peers import FloatArray, PathFit
from bench.peers._common import center_columns, uncenter_intercepts
from bench.problems import Matrix

MAX_ITER = 200


def _solver(tol: float) -> ProxNewton:
    return ProxNewton(tol=tol, max_iter=MAX_ITER, fit_intercept=True)


def _path(X: Matrix, y_pm: FloatArray, alphas: FloatArray, l1_ratio: float, tol: float) -> PathFit:
    n, p = X.shape
    solver = _solver(tol)
    datafit = Logistic()
    w = np.zeros(p + 1)
    Xw = np.zeros(n)
    coefs = np.empty((p, alphas.size))
    intercepts = np.empty(alphas.size)
    for k, alpha in enumerate(alphas):
        w, _, _ = solver.solve(X, y_pm, datafit, L1_plus_L2(alpha, l1_ratio), w.copy(), Xw)
        Xw = np.asarray(X @ w[:p]) + w[p]
        coefs[:, k] = w[:p]
        intercepts[k] = w[p]
    return PathFit(coefs, intercepts)


def fit_path(
    X: Matrix, y: FloatArray, *, alphas: FloatArray, l1_ratio: float, tol: float
) -> PathFit:
    y_pm = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
    alphas = np.asarray(alphas)
    if sp.issparse(X):
        return _path(sp.csc_matrix(X), y_pm, alphas, l1_ratio, tol)
    Xc, x_mean = center_columns(X)
    fit = _path(Xc, y_pm, alphas, l1_ratio, tol)
    return PathFit(fit.coefs, uncenter_intercepts(fit.coefs, fit.intercepts, x_mean))


def fit_single(X: Matrix, y: FloatArray, *, alpha: float, l1_ratio: float, tol: float) -> PathFit:
    x_mean = None
    if not sp.issparse(X):
        X, x_mean = center_columns(X)
    model = GeneralizedLinearEstimator(
        datafit=Logistic(), penalty=L1_plus_L2(alpha, l1_ratio), solver=_solver(tol)
    ).fit(X, y)
    coefs = np.asarray(model.coef_).reshape(-1, 1)
    intercepts = np.array([float(model.intercept_)])
    if x_mean is not None:
        intercepts = uncenter_intercepts(coefs, intercepts, x_mean)
    return PathFit(coefs, intercepts)
