"""Path driver: alpha grid, strong rules, support prediction, lazy Gram."""

from __future__ import annotations

import numpy as np
import pytest

from glmops.core._reference import centered_problem_ref, duality_gap_ref
from glmops.core.path import (
    GramBackend,
    alpha_grid,
    compute_alpha_max,
    make_backend,
    predict_support,
    solve_path,
)


def _tall(seed=0, n=4000, p=30):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p))
    X = Z + 0.6 * np.roll(Z, 1, axis=1) + rng.uniform(-2, 2, p)
    beta = np.zeros(p)
    beta[:5] = [2.0, -1.5, 1.0, 0.8, -0.5]
    y = X @ beta + rng.standard_normal(n)
    return X, y


def test_alpha_grid_conventions():
    grid = alpha_grid(10.0, 5, 1e-2)
    np.testing.assert_allclose(grid, [10, 10 / 10**0.5, 1, 10**-0.5, 0.1])
    assert np.all(alpha_grid(0.0, 4, 1e-3) == np.finfo(float).resolution)
    c = np.array([0.5, -2.0, 0.0])
    assert compute_alpha_max(c, np.ones(3), 0.5) == pytest.approx(4.0)
    assert compute_alpha_max(c, np.ones(3), 0.0) == pytest.approx(2000.0)  # glmnet's ridge grid
    assert compute_alpha_max(c, np.array([1.0, 0.0, 1.0]), 1.0) == pytest.approx(0.5)


@pytest.mark.parametrize("alpha_share", [0.5, 0.05, 0.005])
def test_predicted_support_gives_the_certified_solution(alpha_share):
    X, y = _tall()
    p = X.shape[1]
    full = make_backend(X, y, None, fit_intercept=True, solver="covariance", lazy_gram=False)
    alpha = alpha_share * compute_alpha_max(full.c, np.ones(p), 0.5)
    support = predict_support(
        X,
        y,
        None,
        alpha,
        l1_ratio=0.5,
        penalty_scale=np.ones(p),
        positive=False,
        fit_intercept=True,
    )
    assert support is not None
    lazy = make_backend(X, y, None, fit_intercept=True, solver="covariance", lazy_gram=True)
    got = solve_path(
        lazy,
        np.array([alpha]),
        l1_ratio=0.5,
        penalty_scale=np.ones(p),
        positive=False,
        tol=1e-12,
        max_iter=10_000,
        initial_working_set=support,
    )
    Xc, yc, wn = centered_problem_ref(X, y, None, True)
    gap = duality_gap_ref(
        Xc, yc, wn, got.coefs[0], np.full(p, alpha * 0.5), np.full(p, alpha * 0.5)
    )
    assert got.converged[0] and gap <= 1e-12 * float(wn @ yc**2) * (1 + 1e-6)
    active = got.coefs[0] != 0
    # the prediction may miss a borderline feature (KKT checks add it); it
    # must find most of the support, and a sparse fit must fetch few columns
    assert support[active].mean() >= 0.8
    if active.sum() < 0.2 * p:
        assert isinstance(lazy, GramBackend) and lazy.has_column.sum() < 0.5 * p


def test_a_wrong_initial_working_set_is_repaired_by_kkt_checks():
    X, y = _tall(1)
    p = X.shape[1]
    ref = make_backend(X, y, None, fit_intercept=True, solver="covariance", lazy_gram=False)
    alpha = 0.02 * compute_alpha_max(ref.c, np.ones(p), 1.0)
    want = solve_path(
        ref,
        np.array([alpha]),
        l1_ratio=1.0,
        penalty_scale=np.ones(p),
        positive=False,
        tol=1e-12,
        max_iter=10_000,
    )
    wrong = np.zeros(p, dtype=bool)
    wrong[-3:] = True  # none of the true features
    for solver, lazy in [("covariance", True), ("naive", False)]:
        backend = make_backend(X, y, None, fit_intercept=True, solver=solver, lazy_gram=lazy)
        got = solve_path(
            backend,
            np.array([alpha]),
            l1_ratio=1.0,
            penalty_scale=np.ones(p),
            positive=False,
            tol=1e-12,
            max_iter=10_000,
            initial_working_set=wrong,
        )
        np.testing.assert_allclose(got.coefs[0], want.coefs[0], rtol=1e-6, atol=1e-8)


def test_small_data_skips_prediction():
    X, y = _tall(n=200, p=30)
    assert (
        predict_support(
            X,
            y,
            None,
            0.1,
            l1_ratio=0.5,
            penalty_scale=np.ones(30),
            positive=False,
            fit_intercept=True,
        )
        is None
    )


# --------------------------------------------------------------------------
# Active-set Newton step
# --------------------------------------------------------------------------


def _lasso_objective(H, c, l1, b):
    return 0.5 * b @ H @ b - c @ b + l1 @ np.abs(b)


def test_active_set_newton_solves_the_support_exactly():
    from glmops.core.path import active_set_newton

    rng = np.random.default_rng(0)
    A = rng.normal(size=(50, 6))
    H, c = A.T @ A / 50, A.T @ (A @ np.array([3.0, -2.0, 1.0, 0.5, -0.5, 2.0])) / 50
    l1 = np.full(6, 0.01)
    start = np.full(6, 0.1) * np.sign(c)  # right signs, wrong values
    x = active_set_newton(H, c, l1, start, positive=False)
    assert x is not None
    # stationary on what stays in the support: (H x)_A = c_A - l1_A sign(x_A)
    keep = x != 0
    assert keep.sum() >= 5
    np.testing.assert_allclose((H @ x)[keep], (c - l1 * np.sign(x))[keep], atol=1e-12)
    assert _lasso_objective(H, c, l1, x) < _lasso_objective(H, c, l1, start)


def test_active_set_newton_drops_a_feature_at_its_zero_crossing():
    from glmops.core.path import active_set_newton

    H = np.array([[1.0, 0.9], [0.9, 1.0]])
    c = np.array([1.0, 0.5])  # the unpenalised optimum has b_2 < 0
    l1 = np.array([0.2, 0.2])
    b = np.array([0.5, 0.3])  # both positive: b_2 must cross zero
    x = active_set_newton(H, c, l1, b, positive=False)
    assert x is not None and x[1] == 0.0
    assert _lasso_objective(H, c, l1, x) < _lasso_objective(H, c, l1, b)
    assert x[0] == pytest.approx(c[0] - l1[0])  # the 1-D solution on what is left


def test_active_set_newton_follows_a_singular_block_along_its_null_space():
    from glmops.core.path import active_set_newton

    # two identical columns: H is singular; the lasso splits weight between
    # them freely only if the signs agree, so opposite signs must collapse
    H = np.ones((2, 2))
    c = np.array([1.0, 1.0])
    l1 = np.array([0.1, 0.1])
    b = np.array([1.5, -0.5])
    x = active_set_newton(H, c, l1, b, positive=False)
    assert x is not None
    assert np.count_nonzero(x) == 1
    assert _lasso_objective(H, c, l1, x) == pytest.approx(-0.5 * 0.9**2, rel=1e-12)


def test_active_set_newton_returns_none_when_it_cannot_improve():
    from glmops.core.path import active_set_newton

    H = np.array([[2.0]])
    c = np.array([1.0])
    l1 = np.array([0.0])
    assert active_set_newton(H, c, l1, np.array([0.5]), positive=False) is None  # already optimal
