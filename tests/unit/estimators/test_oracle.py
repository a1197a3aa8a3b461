"""Oracle tests: glmops against scikit-learn and closed forms, on the same objective.

Assertions are about the optimisation problem, never digits of one run: the
objective at glmops' solution may exceed the reference optimum by at most a
relative ``1e-8`` at ``tol=1e-12``, the KKT conditions must hold, and every
reported duality gap must bound the true suboptimality.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import Lasso as SkLasso

import glmops

TIGHT = 1e-12
# objective excess allowed at tol=1e-12; sklearn itself is certified to 1e-12*yy
REL_EXCESS = 1e-8

SHAPES = {"tall": (80, 20), "wide": (30, 50)}
FORMATS = {
    "dense": np.asarray,
    "csc": sp.csc_matrix,
    "csr": sp.csr_matrix,
}


def _sklearn_fit(X, y, w, *, alpha, l1_ratio, fit_intercept, positive):
    """scikit-learn's solution to the same problem, certified at tol=1e-12."""
    est_cls = SkLasso if l1_ratio == 1 else SkElasticNet
    kwargs = {} if l1_ratio == 1 else {"l1_ratio": l1_ratio}
    est = est_cls(
        alpha=alpha,
        fit_intercept=fit_intercept,
        positive=positive,
        tol=TIGHT,
        max_iter=100_000,
        **kwargs,
    )
    return est.fit(X, y, sample_weight=w)


def _rel_excess(p_ours: float, p_ref: float) -> float:
    return (p_ours - p_ref) / p_ref


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.1])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_matches_sklearn_objective_and_kkt(
    helpers, shape, fmt, weighted, positive, fit_intercept, l1_ratio, solver
):
    n, p = SHAPES[shape]
    X_dense, y = helpers.make_problem(n, p, seed=n + p)
    w = helpers.random_weights(n, seed=1) if weighted else None
    X = FORMATS[fmt](X_dense)
    alpha = 0.1 * helpers.alpha_max(X_dense, y, w, l1_ratio, fit_intercept)

    ours = glmops.ElasticNet(
        alpha,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        positive=positive,
        solver=solver,
        tol=TIGHT,
        max_iter=100_000,
    ).fit(X, y, sample_weight=w)
    ref = _sklearn_fit(
        X_dense,
        y,
        w,
        alpha=alpha,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        positive=positive,
    )

    p_ours = helpers.objective(X_dense, y, w, ours.intercept_, ours.coef_, alpha, l1_ratio)
    p_ref = helpers.objective(X_dense, y, w, ref.intercept_, ref.coef_, alpha, l1_ratio)
    assert _rel_excess(p_ours, p_ref) <= REL_EXCESS

    kkt = helpers.kkt_residual(
        X_dense,
        y,
        w,
        ours.intercept_,
        ours.coef_,
        alpha,
        l1_ratio,
        positive=positive,
        fit_intercept=fit_intercept,
    )
    bound = helpers.kkt_bound(
        X_dense, w, ours.dual_gap_, p_ours, alpha, l1_ratio, fit_intercept=fit_intercept
    )
    assert kkt <= bound
    assert bound <= 1e-5 * helpers.grad_scale(X_dense, y, w, fit_intercept)
    if fit_intercept:
        resid = helpers.intercept_residual(X_dense, y, w, ours.intercept_, ours.coef_)
        assert resid <= 1e-10 * np.std(y)
    else:
        assert ours.intercept_ == 0.0
    assert ours.coef_.dtype == np.float64
    assert np.any(ours.coef_ != 0)  # the comparison is not vacuous
    if positive:
        assert np.all(ours.coef_ >= 0)
    # the certificate: reported gap in objective units, within the target (a
    # gap is a difference of objective values: it may round to slightly < 0)
    assert -1e-14 * p_ours <= ours.dual_gap_
    assert ours.dual_gap_ <= TIGHT * helpers.weighted_yy(y, w, fit_intercept)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_lasso_matches_sklearn_lasso(helpers, fmt, weighted, fit_intercept):
    X_dense, y = helpers.make_problem(60, 15, seed=3)
    w = helpers.random_weights(60, seed=4) if weighted else None
    alpha = 0.05 * helpers.alpha_max(X_dense, y, w, 1.0, fit_intercept)
    ours = glmops.Lasso(alpha, fit_intercept=fit_intercept, tol=TIGHT).fit(
        FORMATS[fmt](X_dense), y, sample_weight=w
    )
    ref = SkLasso(alpha, fit_intercept=fit_intercept, tol=TIGHT, max_iter=100_000).fit(
        X_dense, y, sample_weight=w
    )
    p_ours = helpers.objective(X_dense, y, w, ours.intercept_, ours.coef_, alpha, 1.0)
    p_ref = helpers.objective(X_dense, y, w, ref.intercept_, ref.coef_, alpha, 1.0)
    assert _rel_excess(p_ours, p_ref) <= REL_EXCESS


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_float32_input(helpers, fmt, l1_ratio, solver):
    X64, y = helpers.make_problem(70, 12, seed=5)
    X32 = X64.astype(np.float32)
    X_ref = X32.astype(np.float64)  # the data glmops actually sees
    w = helpers.random_weights(70, seed=6)
    alpha = 0.1 * helpers.alpha_max(X_ref, y, w, l1_ratio, True)
    ours = glmops.ElasticNet(alpha, l1_ratio=l1_ratio, solver=solver, tol=TIGHT).fit(
        FORMATS[fmt](X32), y, sample_weight=w
    )
    assert ours.coef_.dtype == np.float32
    ref = _sklearn_fit(
        X_ref, y, w, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=True, positive=False
    )
    p_ours = helpers.objective(X_ref, y, w, ours.intercept_, ours.coef_, alpha, l1_ratio)
    p_ref = helpers.objective(X_ref, y, w, ref.intercept_, ref.coef_, alpha, l1_ratio)
    assert _rel_excess(p_ours, p_ref) <= 1e-5
    kkt = helpers.kkt_residual(X_ref, y, w, ours.intercept_, ours.coef_, alpha, l1_ratio)
    assert kkt <= 1e-5 * helpers.grad_scale(X_ref, y, w, True)
    pred = ours.predict(FORMATS[fmt](X32))
    assert pred.shape == (70,)
    assert np.all(np.isfinite(pred))


def _ridge_closed_form(X, y, w, alpha, fit_intercept):
    """Solve ``(Xc'Wn Xc + alpha I) b = Xc'Wn yc``; return ``(b0, b)``."""
    wn = np.ones(len(y)) if w is None else w
    wn = wn / wn.sum()
    if fit_intercept:
        mx, my = wn @ X, float(wn @ y)
    else:
        mx, my = np.zeros(X.shape[1]), 0.0
    Xc, yc = X - mx, y - my
    A = Xc.T @ (wn[:, None] * Xc) + alpha * np.eye(X.shape[1])
    b = np.linalg.solve(A, Xc.T @ (wn * yc))
    return my - mx @ b, b


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_ridge_matches_closed_form(helpers, shape, fmt, weighted, fit_intercept, solver):
    n, p = SHAPES[shape]
    X_dense, y = helpers.make_problem(n, p, seed=7)
    w = helpers.random_weights(n, seed=8) if weighted else None
    alpha = 0.3
    ours = glmops.ElasticNet(
        alpha, l1_ratio=0.0, fit_intercept=fit_intercept, solver=solver, tol=TIGHT
    ).fit(FORMATS[fmt](X_dense), y, sample_weight=w)
    b0, b = _ridge_closed_form(X_dense, y, w, alpha, fit_intercept)
    p_ours = helpers.objective(X_dense, y, w, ours.intercept_, ours.coef_, alpha, 0.0)
    p_ref = helpers.objective(X_dense, y, w, b0, b, alpha, 0.0)
    assert _rel_excess(p_ours, p_ref) <= REL_EXCESS
    # ridge is strongly convex: the certified gap pins the minimiser down,
    # ||b - b*||_H^2 <= 2 gap with H = Xc'Wn Xc + alpha I
    wn = np.ones(n) if w is None else w
    wn = wn / wn.sum()
    mx = wn @ X_dense if fit_intercept else np.zeros(p)
    Xc = X_dense - mx
    d = ours.coef_ - b
    dist2 = float(d @ (Xc.T @ (wn[:, None] * Xc)) @ d + alpha * d @ d)
    assert dist2 <= 2.0 * (max(ours.dual_gap_, 0.0) + 1e-14 * p_ref)
    if fit_intercept:
        resid = helpers.intercept_residual(X_dense, y, w, ours.intercept_, ours.coef_)
        assert resid <= 1e-10 * np.std(y)
    else:
        assert ours.intercept_ == b0 == 0.0


@pytest.mark.parametrize("solver", ["covariance", "naive"])
def test_positive_ridge_kkt(helpers, solver):
    X, y = helpers.make_problem(50, 10, seed=9)
    ours = glmops.ElasticNet(0.2, l1_ratio=0.0, positive=True, solver=solver, tol=TIGHT).fit(X, y)
    assert np.all(ours.coef_ >= 0)
    assert np.any(ours.coef_ == 0)  # some constraints are active
    kkt = helpers.kkt_residual(X, y, None, ours.intercept_, ours.coef_, 0.2, 0.0, positive=True)
    p_ours = helpers.objective(X, y, None, ours.intercept_, ours.coef_, 0.2, 0.0)
    assert kkt <= helpers.kkt_bound(X, None, ours.dual_gap_, p_ours, 0.2, 0.0)


def _scaled_columns(X_dense, seed):
    rng = np.random.default_rng(seed)
    return X_dense * 10.0 ** rng.uniform(-2, 2, X_dense.shape[1])


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
@pytest.mark.parametrize("solver", ["covariance", "naive"])
def test_standardize_equals_fit_on_standardised_columns(
    helpers, solver, fmt, weighted, fit_intercept, l1_ratio, positive
):
    X_raw, y = helpers.make_problem(60, 12, seed=10)
    X_dense = _scaled_columns(X_raw, seed=11)
    w = helpers.random_weights(60, seed=12) if weighted else None
    s = helpers.column_scale(X_dense, w, fit_intercept)
    alpha = 0.05 * helpers.alpha_max(X_dense / s, y, w, max(l1_ratio, 0.5), fit_intercept)
    kwargs = {
        "l1_ratio": l1_ratio,
        "fit_intercept": fit_intercept,
        "positive": positive,
        "solver": solver,
        "tol": TIGHT,
    }
    to_fmt = FORMATS[fmt]
    std = glmops.ElasticNet(alpha, standardize=True, **kwargs).fit(
        to_fmt(X_dense), y, sample_weight=w
    )
    plain = glmops.ElasticNet(alpha, standardize=False, **kwargs).fit(
        to_fmt(X_dense / s), y, sample_weight=w
    )
    b_plain = plain.coef_ / s

    p_std = helpers.objective(X_dense, y, w, std.intercept_, std.coef_, alpha, l1_ratio, s)
    p_plain = helpers.objective(X_dense, y, w, plain.intercept_, b_plain, alpha, l1_ratio, s)
    assert abs(p_std - p_plain) <= REL_EXCESS * p_plain
    kkt = helpers.kkt_residual(
        X_dense,
        y,
        w,
        std.intercept_,
        std.coef_,
        alpha,
        l1_ratio,
        s,
        positive=positive,
        fit_intercept=fit_intercept,
    )
    bound = helpers.kkt_bound(
        X_dense, w, std.dual_gap_, p_std, alpha, l1_ratio, s, fit_intercept=fit_intercept
    )
    assert kkt <= bound
    # standardisation changes the answer (the test would notice it being ignored)
    unstd = glmops.ElasticNet(alpha, standardize=False, **kwargs).fit(X_dense, y, sample_weight=w)
    assert not np.allclose(unstd.coef_, std.coef_, rtol=1e-3)


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
def test_standardize_constant_column_gets_zero(helpers, solver, fmt):
    X, y = helpers.make_problem(40, 6, seed=13)
    X[:, 2] = 7.5
    est = glmops.ElasticNet(0.01, standardize=True, solver=solver, tol=TIGHT).fit(
        FORMATS[fmt](X), y
    )
    assert est.coef_[2] == 0.0
    assert np.all(np.isfinite(est.coef_))
    s = helpers.column_scale(X, None, True)
    kkt = helpers.kkt_residual(X, y, None, est.intercept_, est.coef_, 0.01, 0.5, s)
    p_est = helpers.objective(X, y, None, est.intercept_, est.coef_, 0.01, 0.5, s)
    assert kkt <= helpers.kkt_bound(X, None, est.dual_gap_, p_est, 0.01, 0.5, s)


# --------------------------------------------------------------------------
# enet_path
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
def test_enet_path_each_alpha_matches_sklearn(
    helpers, fmt, weighted, fit_intercept, l1_ratio, positive, solver
):
    n, p = 60, 15
    X_dense, y = helpers.make_problem(n, p, seed=14)
    w = helpers.random_weights(n, seed=15) if weighted else None
    alphas, coefs, gaps, n_iters, intercepts = glmops.enet_path(
        FORMATS[fmt](X_dense),
        y,
        l1_ratio=l1_ratio,
        eps=1e-2,
        n_alphas=8,
        sample_weight=w,
        fit_intercept=fit_intercept,
        positive=positive,
        solver=solver,
        tol=TIGHT,
        max_iter=100_000,
        return_n_iter=True,
        return_intercept=True,
    )
    assert alphas.shape == (8,)
    assert coefs.shape == (p, 8)
    assert gaps.shape == n_iters.shape == intercepts.shape == (8,)
    yy = helpers.weighted_yy(y, w, fit_intercept)
    assert np.all(gaps <= TIGHT * yy)
    assert np.all(gaps >= -1e-14 * yy)
    if not fit_intercept:
        assert np.all(intercepts == 0)
    for k, alpha in enumerate(alphas):
        ref = _sklearn_fit(
            X_dense,
            y,
            w,
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            positive=positive,
        )
        p_ours = helpers.objective(X_dense, y, w, intercepts[k], coefs[:, k], alpha, l1_ratio)
        p_ref = helpers.objective(X_dense, y, w, ref.intercept_, ref.coef_, alpha, l1_ratio)
        assert _rel_excess(p_ours, p_ref) <= REL_EXCESS, f"alpha #{k}"


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
def test_enet_path_default_grid(helpers, l1_ratio, fit_intercept):
    X, y = helpers.make_problem(50, 10, seed=16)
    w = helpers.random_weights(50, seed=17)
    alphas, coefs, _ = glmops.enet_path(
        X,
        y,
        l1_ratio=l1_ratio,
        eps=1e-3,
        n_alphas=20,
        sample_weight=w,
        fit_intercept=fit_intercept,
    )
    a_max = helpers.alpha_max(X, y, w, l1_ratio, fit_intercept)
    assert alphas[0] == pytest.approx(a_max, rel=1e-10)
    assert alphas[-1] == pytest.approx(1e-3 * a_max, rel=1e-10)
    np.testing.assert_allclose(np.diff(np.log(alphas)), np.log(1e-3) / 19, rtol=1e-10)
    assert np.all(coefs[:, 0] == 0)  # alpha_max is the first all-zero point
    assert np.any(coefs[:, 1] != 0)


def test_enet_path_unsorted_alphas_are_returned_as_given(helpers):
    X, y = helpers.make_problem(50, 10, seed=18)
    given = np.array([0.05, 0.5, 0.01, 0.2])
    alphas, coefs, gaps = glmops.enet_path(X, y, alphas=given, tol=TIGHT)
    np.testing.assert_array_equal(alphas, given)
    _, coefs_sorted, _ = glmops.enet_path(X, y, alphas=np.sort(given)[::-1], tol=TIGHT)
    order = np.argsort(-given)
    for k_sorted, k_given in enumerate(order):
        p_given = helpers.objective(X, y, None, 0.0, coefs[:, k_given], given[k_given], 0.5)
        p_sorted = helpers.objective(
            X, y, None, 0.0, coefs_sorted[:, k_sorted], given[k_given], 0.5
        )
        assert abs(p_given - p_sorted) <= REL_EXCESS * p_sorted
    assert gaps.shape == (4,)


def test_enet_path_return_conventions(helpers):
    X, y = helpers.make_problem(30, 5, seed=19)
    assert len(glmops.enet_path(X, y, n_alphas=3)) == 3
    assert len(glmops.enet_path(X, y, n_alphas=3, return_n_iter=True)) == 4
    out = glmops.enet_path(X, y, n_alphas=3, return_n_iter=True, return_intercept=True)
    assert len(out) == 5
    n_iters, intercepts = out[3], out[4]
    assert np.issubdtype(n_iters.dtype, np.integer)
    assert np.all(intercepts == 0)  # fit_intercept=False is the default, as sklearn's
    with_icpt = glmops.enet_path(X, y, n_alphas=3, fit_intercept=True, return_intercept=True)
    assert len(with_icpt) == 4
    # at alpha_max all coefficients are zero and the intercept is the mean of y
    assert with_icpt[3][0] == pytest.approx(np.mean(y), rel=1e-12)


# --------------------------------------------------------------------------
# The certificate: every reported gap bounds the true suboptimality
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
@pytest.mark.parametrize(
    ("l1_ratio", "positive"), [(1.0, False), (0.5, False), (0.0, False), (0.7, True)]
)
@pytest.mark.parametrize("tol", [1e-2, 1e-4])
def test_dual_gap_bounds_suboptimality(helpers, tol, l1_ratio, positive, fmt, solver):
    X_dense, y = helpers.make_problem(60, 30, seed=20, n_informative=15)
    X_dense[:, 1] = X_dense[:, 0] + 0.01 * X_dense[:, 2]  # slow CD: collinear pair
    w = helpers.random_weights(60, seed=21)
    alpha = 0.01 * helpers.alpha_max(X_dense, y, w, max(l1_ratio, 0.5), True)
    ours = glmops.ElasticNet(
        alpha, l1_ratio=l1_ratio, positive=positive, solver=solver, tol=tol
    ).fit(FORMATS[fmt](X_dense), y, sample_weight=w)
    if l1_ratio == 0.0 and not positive:
        b0, b = _ridge_closed_form(X_dense, y, w, alpha, True)
    else:
        ref = _sklearn_fit(
            X_dense, y, w, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=True, positive=positive
        )
        b0, b = ref.intercept_, ref.coef_
    p_star = helpers.objective(X_dense, y, w, b0, b, alpha, l1_ratio)
    p_ours = helpers.objective(X_dense, y, w, ours.intercept_, ours.coef_, alpha, l1_ratio)
    assert p_ours - p_star <= ours.dual_gap_ + 1e-12 * p_star
    assert ours.dual_gap_ <= tol * helpers.weighted_yy(y, w, True)


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
def test_dual_gap_bounds_suboptimality_when_not_converged(helpers, solver, fmt):
    X_dense, y = helpers.make_problem(60, 30, seed=22, n_informative=15)
    X_dense[:, 1] = X_dense[:, 0] + 0.01 * X_dense[:, 2]
    alpha = 1e-3 * helpers.alpha_max(X_dense, y, None, 0.5, True)
    with pytest.warns(glmops.ConvergenceWarning, match="duality gap"):
        ours = glmops.ElasticNet(alpha, solver=solver, tol=1e-10, max_iter=2).fit(
            FORMATS[fmt](X_dense), y
        )
    ref = _sklearn_fit(
        X_dense, y, None, alpha=alpha, l1_ratio=0.5, fit_intercept=True, positive=False
    )
    p_star = helpers.objective(X_dense, y, None, ref.intercept_, ref.coef_, alpha, 0.5)
    p_ours = helpers.objective(X_dense, y, None, ours.intercept_, ours.coef_, alpha, 0.5)
    assert ours.dual_gap_ > 1e-10 * helpers.weighted_yy(y, None, True)  # honest: not converged
    assert p_ours - p_star <= ours.dual_gap_ * (1 + 1e-9)
    assert ours.n_iter_ <= 2


# --------------------------------------------------------------------------
# Numerically hard inputs
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_columns_with_large_means(helpers, fmt, solver, weighted):
    X_raw, y = helpers.make_problem(80, 10, seed=23)
    X_dense = X_raw + 1e6  # mean/spread ~ 1e6: centring must not cancel
    w = helpers.random_weights(80, seed=24) if weighted else None
    alpha = 0.05 * helpers.alpha_max(X_dense, y, w, 0.5, True)
    ours = glmops.ElasticNet(alpha, solver=solver, tol=1e-10, max_iter=5000).fit(
        FORMATS[fmt](X_dense), y, sample_weight=w
    )
    ref = _sklearn_fit(X_dense, y, w, alpha=alpha, l1_ratio=0.5, fit_intercept=True, positive=False)
    p_ours = helpers.objective(X_dense, y, w, ours.intercept_, ours.coef_, alpha, 0.5)
    p_ref = helpers.objective(X_dense, y, w, ref.intercept_, ref.coef_, alpha, 0.5)
    assert _rel_excess(p_ours, p_ref) <= REL_EXCESS


def test_sparse_naive_does_not_diverge_on_offset_columns(helpers):
    X_raw, y = helpers.make_problem(80, 10, seed=1)
    alpha = 0.05 * helpers.alpha_max(X_raw, y, None, 0.5, True)
    for offset in [1e7, 2e7, 3e7, 5e7, 1e8]:
        X_dense = X_raw + offset
        dense = glmops.ElasticNet(alpha, solver="naive").fit(X_dense, y)
        ours = glmops.ElasticNet(alpha, solver="naive").fit(sp.csc_matrix(X_dense), y)
        p_dense = helpers.objective(X_dense, y, None, dense.intercept_, dense.coef_, alpha, 0.5)
        p_ours = helpers.objective(X_dense, y, None, ours.intercept_, ours.coef_, alpha, 0.5)
        assert p_ours <= p_dense * (1 + 1e-3), f"offset {offset:g}"


def _csc_with_duplicates(X_dense, seed):
    """A valid non-canonical CSC matrix equal to ``X_dense``: entries split in two."""
    rng = np.random.default_rng(seed)
    coo = sp.coo_matrix(X_dense)
    split = rng.uniform(0.2, 0.8, coo.nnz)
    rows = np.r_[coo.row, coo.row]
    cols = np.r_[coo.col, coo.col]
    vals = np.r_[coo.data * split, coo.data * (1 - split)]
    order = np.lexsort((rows, cols))
    indptr = np.r_[0, np.cumsum(np.bincount(cols, minlength=X_dense.shape[1]))]
    X = sp.csc_matrix((vals[order], rows[order], indptr), shape=X_dense.shape)
    assert not X.has_canonical_format
    np.testing.assert_allclose(X.toarray(), X_dense, rtol=1e-14, atol=1e-14)
    return X


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize(
    ("fit_intercept", "standardize"),
    [
        (False, False),
        (True, False),
        (False, True),
        (True, True),
    ],
)
def test_csc_with_duplicate_entries_equals_dense(helpers, fit_intercept, standardize, solver):
    X_dense, y = helpers.make_problem(40, 6, seed=25)
    X = _csc_with_duplicates(X_dense, seed=26)
    kwargs = {
        "fit_intercept": fit_intercept,
        "standardize": standardize,
        "solver": solver,
        "tol": TIGHT,
    }
    ours = glmops.ElasticNet(0.05, **kwargs).fit(X, y)
    dense = glmops.ElasticNet(0.05, **kwargs).fit(X_dense, y)
    s = helpers.column_scale(X_dense, None, fit_intercept) if standardize else None
    p_ours = helpers.objective(X_dense, y, None, ours.intercept_, ours.coef_, 0.05, 0.5, s)
    p_dense = helpers.objective(X_dense, y, None, dense.intercept_, dense.coef_, 0.05, 0.5, s)
    assert abs(p_ours - p_dense) <= REL_EXCESS * p_dense
