"""Precision at the defaults: a drop-in must reach the optimum without any parameter set.

Every fit below uses the estimators' default ``tol`` and ``max_iter``. The
stopping rule ("the duality gap is at most ``tol`` times the objective",
default ``tol=1e-7``) certifies the objective to within 1e-7 (relative) of the
optimum; these tests check that against an independent tight reference on
real public data and on generated hard cases (collinear with condition
number ~1e6, badly scaled, p >> n, n >> p, duplicate and constant columns,
uneven weights).

The reference is the best of scikit-learn at ``tol=1e-12`` and glmops' two
solvers at the rounding floor, and must itself pass the KKT conditions, so a
loose reference cannot make a test pass by accident.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.model_selection import KFold

import glmops

from .precision_cases import REGRESSION_CASES, Case

DEFAULT_PRECISION = 1e-7
# the reference must satisfy the KKT conditions to this share of max|g(0)|
REFERENCE_KKT = 1e-6


def _data(case: Case):
    X, y, w = case.build()
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64), w


def _reference(helpers, X, y, w, alpha, l1_ratio):
    """Return the lowest objective of three tight solves, checked by KKT."""
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        warnings.simplefilter("ignore", glmops.ConvergenceWarning)
        sk = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000)
        sk.fit(X, y, sample_weight=w)
        fits.append((sk.intercept_, sk.coef_))
        for solver in ("covariance", "naive"):
            ours = glmops.ElasticNet(
                alpha, l1_ratio=l1_ratio, solver=solver, tol=0.0, max_iter=100_000
            ).fit(X, y, sample_weight=w)
            fits.append((ours.intercept_, ours.coef_))
    values = [helpers.objective(X, y, w, b0, b, alpha, l1_ratio) for b0, b in fits]
    b0, b = fits[int(np.argmin(values))]
    kkt = helpers.kkt_residual(X, y, w, b0, b, alpha, l1_ratio)
    assert kkt <= REFERENCE_KKT * helpers.grad_scale(X, y, w, True), "reference not optimal"
    return min(values)


def _alpha(helpers, X, y, w, l1_ratio, share):
    return share * helpers.alpha_max(X, y, w, max(l1_ratio, 1e-3), True)


@pytest.mark.parametrize("share", [0.1, 0.01])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
@pytest.mark.parametrize("case", REGRESSION_CASES, ids=lambda c: c.name)
def test_single_fit_at_defaults_is_within_1e7_of_the_optimum(helpers, case, l1_ratio, share):
    X, y, w = _data(case)
    alpha = _alpha(helpers, X, y, w, l1_ratio, share)
    model = glmops.ElasticNet(alpha, l1_ratio=l1_ratio).fit(X, y, sample_weight=w)
    p_ref = _reference(helpers, X, y, w, alpha, l1_ratio)
    p_ours = helpers.objective(X, y, w, model.intercept_, model.coef_, alpha, l1_ratio)
    assert p_ours - p_ref <= DEFAULT_PRECISION * p_ref
    # the certificate is honest and within the documented rule
    assert p_ours - p_ref <= model.dual_gap_ + 1e-13 * p_ref
    assert model.dual_gap_ <= DEFAULT_PRECISION * p_ours * (1 + 1e-9)


@pytest.mark.parametrize("case", REGRESSION_CASES, ids=lambda c: c.name)
def test_path_at_defaults_is_within_1e7_of_the_optimum(helpers, case):
    X, y, w = _data(case)
    alphas, coefs, _, intercepts = glmops.enet_path(
        X, y, l1_ratio=0.5, n_alphas=8, sample_weight=w, fit_intercept=True, return_intercept=True
    )
    for k, alpha in enumerate(alphas):
        p_ref = _reference(helpers, X, y, w, alpha, 0.5)
        p_ours = helpers.objective(X, y, w, intercepts[k], coefs[:, k], alpha, 0.5)
        assert p_ours - p_ref <= DEFAULT_PRECISION * p_ref, f"alpha index {k}"


CV_CASES = [c for c in REGRESSION_CASES if c.name in {"diabetes", "collinear", "p>>n"}]


@pytest.mark.parametrize("case", CV_CASES, ids=lambda c: c.name)
def test_cv_at_defaults_refits_at_the_optimum_and_scores_exactly(helpers, case):
    X, y, _ = _data(case)
    cv = glmops.ElasticNetCV(l1_ratio=[0.5, 1.0], n_alphas=10, cv=KFold(3)).fit(X, y)
    p_ref = _reference(helpers, X, y, None, cv.alpha_, cv.l1_ratio_)
    p_ours = helpers.objective(X, y, None, cv.intercept_, cv.coef_, cv.alpha_, cv.l1_ratio_)
    assert p_ours - p_ref <= DEFAULT_PRECISION * p_ref
    # mse_path_ equals the held-out MSE of exact per-fold fits to 0.1%
    i = [0.5, 1.0].index(cv.l1_ratio_)
    for k, (train, test) in enumerate(KFold(3).split(X)):
        for j, alpha in enumerate(cv.alphas_[i]):
            exact = glmops.ElasticNet(alpha, l1_ratio=cv.l1_ratio_, tol=0.0, max_iter=100_000).fit(
                X[train], y[train]
            )
            mse = float(np.mean((y[test] - exact.predict(X[test])) ** 2))
            assert cv.mse_path_[i, j, k] == pytest.approx(mse, rel=1e-3), (j, k)
