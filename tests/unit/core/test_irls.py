"""The logistic engine (core/irls.py) against plain NumPy on small problems.

The numba kernels are checked entry by entry against SciPy's stable
formulas, saturated predictors included. The solver is judged on the
optimisation problem: its duality gap must bound the true suboptimality
(measured against a much tighter solve), the KKT conditions computed here
in NumPy must hold, ``logistic_alpha_max`` must be the exact threshold of
the all-zero solution, and warm starts, solvers and storage formats must
not change the answer.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, logsumexp, softmax

from glmops.core import irls
from glmops.core.irls import (
    binomial_state,
    dual_entropy,
    logistic_alpha_max,
    logistic_gap_floor,
    make_logistic_problem,
    multinomial_state,
    solve_logistic_path,
)

# relative gap targets: the lasso certificate floors near 1e-9 (rescaled dual);
# tighter targets are exercised by the BUG tests at the end of this module
TIGHT = {1.0: 1e-8, 0.5: 1e-10, 0.0: 1e-10}


def _rows(n_classes: int) -> int:
    return 1 if n_classes == 2 else n_classes


def _problem(logit, n_classes, *, n=60, p=8, seed=0, weighted=False, fit_intercept=True):
    X, y = logit.make_problem(n, p, n_classes, seed=seed)
    w = logit.random_weights(n, seed=seed + 1) if weighted else None
    return X, y, w


def _solve(X, y, w, n_classes, alphas, *, l1_ratio, tol, max_iter=1000, **kwargs):
    fit_intercept = kwargs.pop("fit_intercept", True)
    solver = kwargs.pop("solver", "covariance")
    scale = kwargs.pop("penalty_scale", None)
    problem = make_logistic_problem(X, y, n_classes, w, fit_intercept=fit_intercept, solver=solver)
    scale = np.ones(X.shape[1]) if scale is None else scale
    result = solve_logistic_path(
        problem,
        np.atleast_1d(np.asarray(alphas, dtype=np.float64)),
        l1_ratio=l1_ratio,
        penalty_scale=scale,
        tol=tol,
        max_iter=max_iter,
        **kwargs,
    )
    return problem, result


def _objective(logit, X, y, w, result, k, alpha, l1_ratio, scale=None):
    return logit.objective(X, y, w, result.intercepts[k], result.coefs[k], alpha, l1_ratio, scale)


# --------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------

SATURATED = np.array([-50.0, -36.0, -20.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 20.0, 36.0, 50.0, 700.0])


def _binomial_ref(eta, y, wn):
    """``(loss, res, var)`` from SciPy's stable pieces: p and 1-p both from expit."""
    p, q = expit(eta), expit(-eta)
    res = np.where(y == 1, q, -p)
    var = p * q
    loss_i = np.where(y == 1, np.logaddexp(0.0, -eta), np.logaddexp(0.0, eta))
    return float(wn @ loss_i), res, var


@pytest.mark.parametrize("seed", [0, 1])
def test_binomial_state_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    eta = np.concatenate([SATURATED, SATURATED, rng.normal(0, 5, 20)])
    y = np.concatenate([np.zeros(SATURATED.size), np.ones(SATURATED.size), rng.integers(0, 2, 20)])
    wn = rng.uniform(0.1, 1.0, eta.size)
    wn /= wn.sum()
    res, var = np.empty_like(eta), np.empty_like(eta)
    loss = binomial_state(eta, y.astype(np.float64), wn, res, var)
    loss_ref, res_ref, var_ref = _binomial_ref(eta, y, wn)
    assert loss == pytest.approx(loss_ref, rel=1e-14)
    # full relative precision in the saturated tails: 1 - p at eta=50 is ~2e-22
    np.testing.assert_allclose(res, res_ref, rtol=1e-14, atol=0)
    np.testing.assert_allclose(var, var_ref, rtol=1e-14, atol=0)
    assert np.all(var > 0)
    # a saturated, misclassified sample costs |eta| (not inf, not rounded away)
    one = np.ones(1)
    assert binomial_state(np.array([-50.0]), one, one, np.empty(1), np.empty(1)) == pytest.approx(
        50.0, rel=1e-15
    )
    assert binomial_state(np.array([50.0]), one, one, np.empty(1), np.empty(1)) == pytest.approx(
        np.log1p(np.exp(-50.0)), rel=1e-14
    )


def _multinomial_ref(eta, labels, wn):
    """``(loss, res, var)``; ``1 - P`` summed over the other classes (no cancellation)."""
    K, n = eta.shape
    E = np.exp(eta - eta.max(axis=0))
    P = E / E.sum(axis=0)
    Y = np.zeros((K, n), dtype=bool)
    Y[labels, np.arange(n)] = True
    # 1 - P_k = sum_{j != k} P_j, each term exact to rounding
    one_minus = np.array([np.delete(P, k, axis=0).sum(axis=0) for k in range(K)])
    res = np.where(Y, one_minus, -P)
    var = P * one_minus
    loss_i = logsumexp(eta, axis=0) - eta[labels, np.arange(n)]
    return float(wn @ loss_i), res, var


@pytest.mark.parametrize("K", [3, 5])
def test_multinomial_state_matches_numpy(K):
    rng = np.random.default_rng(K)
    n = 40
    eta = rng.normal(0, 3, (K, n))
    eta[:, :10] *= 20  # saturated: |eta| up to ~200, probabilities of 1e-40
    eta[0, 10], eta[1:, 10] = 50.0, 0.0  # one class certain
    labels = rng.integers(0, K, n).astype(np.intp)
    labels[10] = 0
    labels[11] = 1
    eta[0, 11], eta[1:, 11] = 50.0, 0.0  # certain and wrong
    wn = rng.uniform(0.1, 1.0, n)
    wn /= wn.sum()
    res, var = np.empty((K, n)), np.empty((K, n))
    loss = multinomial_state(eta, labels, wn, res, var)
    loss_ref, res_ref, var_ref = _multinomial_ref(eta, labels, wn)
    assert loss == pytest.approx(loss_ref, rel=1e-13)
    # Y - P to full relative precision, the true class's 1 - P included
    np.testing.assert_allclose(res, res_ref, rtol=1e-13, atol=0)
    # P(1-P) of a wrong class with P ~ 1 is formed as P*(1-P): absolute precision
    np.testing.assert_allclose(var, var_ref, rtol=1e-13, atol=4e-16)
    np.testing.assert_allclose(res.sum(axis=0), 0.0, atol=1e-15)
    # a certain, correct prediction has a tiny positive 1 - P, not 0
    assert res[0, 10] == pytest.approx(2 * np.exp(-50.0), rel=1e-13)


@pytest.mark.parametrize("s", [1.0, 0.6])
def test_dual_entropy_matches_numpy_binomial(s):
    rng = np.random.default_rng(3)
    n = 30
    eta = np.concatenate([rng.normal(0, 2, n - 4), [-50.0, 50.0, -50.0, 50.0]])
    y = np.concatenate([rng.integers(0, 2, n - 4), [0, 1, 1, 0]]).astype(np.float64)
    wn = rng.uniform(0.1, 1.0, n)
    wn /= wn.sum()
    res, var = np.empty(n), np.empty(n)
    binomial_state(eta, y, wn, res, var)
    ubar = np.array([1e-3])  # an intercept slightly off its optimum
    total, clipped = dual_entropy(res[None, :], y, wn, ubar[:, None], s)
    q = y - s * (res - ubar[0])
    qc = np.clip(q, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        H = -(
            np.where(qc > 0, qc * np.log(qc), 0.0) + np.where(qc < 1, (1 - qc) * np.log1p(-qc), 0)
        )
    assert total == pytest.approx(float(wn @ H), rel=1e-12)
    assert clipped == int(np.sum((q < 0) | (q > 1)))


def test_dual_entropy_matches_numpy_multinomial():
    rng = np.random.default_rng(4)
    K, n = 4, 25
    eta = rng.normal(0, 2, (K, n))
    labels = rng.integers(0, K, n).astype(np.intp)
    wn = rng.uniform(0.1, 1.0, n)
    wn /= wn.sum()
    res, var = np.empty((K, n)), np.empty((K, n))
    multinomial_state(eta, labels, wn, res, var)
    ubar = res @ wn
    total, clipped = dual_entropy(res, labels, wn, ubar[:, None], 0.8)
    Y = np.zeros((K, n))
    Y[labels, np.arange(n)] = 1.0
    Q = Y - 0.8 * (res - ubar[:, None])
    assert clipped == int(np.sum((Q < 0) | (Q > 1)))
    Qc = np.clip(Q, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        H = -np.sum(np.where(Qc > 0, Qc * np.log(Qc), 0.0), axis=0)
    assert total == pytest.approx(float(wn @ H), rel=1e-12)


def test_dual_entropy_of_a_certain_sample_is_precise():
    # q = 1 - 2e-22: the entropy is ~2e-22 * 51, kept (not rounded to 0)
    y = np.ones(1)
    res, var = np.empty(1), np.empty(1)
    binomial_state(np.array([50.0]), y, np.ones(1), res, var)
    total, clipped = dual_entropy(res[None, :], y, np.ones(1), np.zeros((1, 1)), 1.0)
    a = np.exp(-50.0) / (1 + np.exp(-50.0))
    assert clipped == 0
    assert total == pytest.approx(-(a * np.log(a) + (1 - a) * np.log1p(-a)), rel=1e-12)


@pytest.mark.parametrize("centred", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_newton_hessian_matches_numpy(centred, dtype, monkeypatch):
    # chunks of 70 rows (not a divisor of n): the last chunk is a short one
    monkeypatch.setattr(irls, "_GRAM_CHUNK_ENTRIES", 70 * 5)
    rng = np.random.default_rng(11)
    n, k = 1000, 5
    X = np.asfortranarray(rng.normal(size=(n, k)) * [1, 10, 1e-3, 1, 1] + [1e3, -5, 0, 2, 0])
    X = X.astype(dtype)
    h = rng.uniform(0.0, 0.25, n) / n
    h[:10] = 0.0  # saturated samples
    shift = np.asarray(X.mean(axis=0), dtype=np.float64) if centred else None
    model = irls._Hessian.fresh(X, h, h, shift)
    Xd = X.astype(np.float64)
    m = (h @ Xd) / h.sum() if centred else np.zeros(k)
    S = (Xd - m) * np.sqrt(h)[:, None]
    np.testing.assert_allclose(model.m, m, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.H, S.T @ S, rtol=1e-10, atol=1e-12 * np.max(S.T @ S))
    np.testing.assert_allclose(model.V, h.sum(), rtol=1e-14)


# --------------------------------------------------------------------------
# Problem set-up and alpha_max
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_gap_target_is_tol_times_the_objective(logit, n_classes, weighted):
    X, y, w = _problem(logit, n_classes, weighted=weighted)
    alphas = [0.1, 0.01]
    problem, result = _solve(X, y, w, n_classes, alphas, l1_ratio=0.5, tol=1e-6)
    null = logit.null_loss(y, w, n_classes)
    assert problem.null_loss == pytest.approx(null, rel=1e-12)
    np.testing.assert_allclose(problem.wn.sum(), 1.0, rtol=1e-15)
    for k, alpha in enumerate(alphas):
        objective = _objective(logit, X, y, w, result, k, alpha, 0.5)
        assert result.objectives[k] == pytest.approx(objective, rel=1e-12)
        assert result.gap_targets[k] == pytest.approx(1e-6 * objective, rel=1e-12)
        assert result.converged[k]
        assert 0.0 <= result.dual_gaps[k] <= result.gap_targets[k]
    # the smaller penalty fits better: a smaller objective, a smaller target
    assert result.gap_targets[1] < result.gap_targets[0]
    # a nearly perfect fit is certified at the rounding level of the loss
    eps = np.finfo(np.float64).eps
    assert logistic_gap_floor(problem) == pytest.approx(16 * eps * null, rel=1e-12)


def _alpha_max_ref(X, y, w, n_classes, scale, l1_ratio, fit_intercept):
    """``max_kj |x_j' wn (Y_k - P0_k)| / (s_j l1_ratio)`` at the intercept-only model."""
    n = X.shape[0]
    rows = _rows(n_classes)
    wn = np.ones(n) if w is None else w
    wn = wn / wn.sum()
    Y = np.zeros((n, n_classes))
    Y[np.arange(n), y] = 1.0
    # the intercept-only model predicts the class shares, or 1/K without intercepts
    P0 = wn @ Y if fit_intercept else np.full(n_classes, 1.0 / n_classes)
    R = (Y - P0)[:, 1:] if rows == 1 else Y - P0
    G = (R * wn[:, None]).T @ X
    live = scale > 0
    return float(np.max(np.abs(G[:, live]) / scale[live])) / l1_ratio


@pytest.mark.parametrize("fmt", [np.asarray, sp.csc_matrix], ids=["dense", "csc"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_alpha_max_is_the_exact_zero_threshold(logit, n_classes, l1_ratio, fit_intercept, fmt):
    X, y, w = _problem(logit, n_classes, weighted=True, seed=5)
    scale = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[1])
    solver = "covariance" if fmt is np.asarray else "naive"
    problem = make_logistic_problem(
        fmt(X), y, n_classes, w, fit_intercept=fit_intercept, solver=solver
    )
    a_max = logistic_alpha_max(problem, scale, l1_ratio)
    ref = _alpha_max_ref(X, y, w, n_classes, scale, l1_ratio, fit_intercept)
    assert a_max == pytest.approx(ref, rel=1e-12)
    kwargs = {"l1_ratio": l1_ratio, "penalty_scale": scale, "tol": 1e-8, "max_iter": 1000}
    at = solve_logistic_path(problem, np.array([a_max, 1.0001 * a_max, 3 * a_max]), **kwargs)
    np.testing.assert_array_equal(at.coefs, 0.0)
    assert np.all(at.converged)
    # (0.99 * alpha_max: see test_fit_just_below_alpha_max_converges)
    below = solve_logistic_path(problem, np.array([0.9 * a_max]), **kwargs)
    assert below.converged[0]
    assert np.count_nonzero(below.coefs[0]) >= 1
    if fit_intercept:  # the all-zero solution has the intercept-only model's intercepts
        b0 = logit.null_intercepts(y, w, n_classes)
        if n_classes > 2:
            b0 = b0 - b0.mean()
        np.testing.assert_allclose(at.intercepts[0], b0, rtol=1e-9, atol=1e-12)
    else:
        np.testing.assert_array_equal(at.intercepts, 0.0)


# --------------------------------------------------------------------------
# Certificate and optimality
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_duality_gap_bounds_suboptimality_and_vanishes(logit, n_classes, l1_ratio, solver):
    X, y, w = _problem(logit, n_classes, weighted=True, seed=7)
    alpha = 0.02
    _, ref = _solve(X, y, w, n_classes, [alpha], l1_ratio=l1_ratio, tol=TIGHT[l1_ratio] / 10)
    p_ref = _objective(logit, X, y, w, ref, 0, alpha, l1_ratio)
    gaps = []
    # non-converged iterates (max_iter) and loosely certified ones (tol)
    for tol, max_iter in [(1e-12, 1), (1e-12, 2), (1e-1, 100), (1e-3, 100), (1e-6, 100)]:
        _, got = _solve(
            X, y, w, n_classes, [alpha], l1_ratio=l1_ratio, tol=tol, max_iter=max_iter,
            solver=solver,
        )  # fmt: skip
        p_got = _objective(logit, X, y, w, got, 0, alpha, l1_ratio)
        gap = float(got.dual_gaps[0])
        assert gap >= 0.0
        # P(got) - P* <= P(got) - P(ref) + (P(ref) - P*) and P(ref) >= P*
        assert p_got - p_ref <= gap + 1e-13 * abs(p_ref)
        if got.converged[0]:
            assert gap <= got.gap_targets[0]
            assert got.gap_targets[0] == pytest.approx(tol * p_got, rel=1e-9)
        gaps.append(gap)
    assert gaps[0] > 0.0  # one Newton step does not land on the optimum
    assert gaps[-1] <= 1e-6 * p_got  # the last one ran at tol=1e-6
    assert gaps[-1] < gaps[0]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_kkt_holds_at_the_solution(logit, n_classes, l1_ratio, fit_intercept):
    X, y, w = _problem(logit, n_classes, weighted=True, seed=11)
    alpha = 0.1 * logit.grad_scale(X, y, w, n_classes) / max(l1_ratio, 0.5)
    _, got = _solve(
        X, y, w, n_classes, [alpha], l1_ratio=l1_ratio, tol=TIGHT[l1_ratio],
        fit_intercept=fit_intercept,
    )  # fmt: skip
    assert got.converged[0]
    B, b0 = got.coefs[0], got.intercepts[0]
    assert B.shape == (_rows(n_classes), X.shape[1])
    assert np.count_nonzero(B) >= 1
    if l1_ratio > 0:
        assert np.count_nonzero(B == 0) >= 1  # the L1 part is doing something
    kkt = logit.kkt_residual(X, y, w, b0, B, alpha, l1_ratio, fit_intercept=fit_intercept)
    p_got = logit.objective(X, y, w, b0, B, alpha, l1_ratio)
    bound = logit.kkt_bound(X, w, got.dual_gaps[0], p_got, alpha, l1_ratio, n_classes)
    assert kkt <= bound
    # the certificate is tight enough to mean something (bound ~ sqrt(tol))
    assert bound <= 1e-3 * logit.grad_scale(X, y, w, n_classes)
    if not fit_intercept:
        np.testing.assert_array_equal(b0, 0.0)
    elif n_classes > 2:
        assert abs(b0.sum()) <= 1e-12 * np.abs(b0).max()  # softmax intercepts centred


# --------------------------------------------------------------------------
# Paths, solvers and storage formats
# --------------------------------------------------------------------------


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_warm_started_path_equals_single_fits(logit, n_classes, l1_ratio):
    X, y, w = _problem(logit, n_classes, seed=13, weighted=True)
    problem = make_logistic_problem(X, y, n_classes, w, fit_intercept=True, solver="covariance")
    scale = np.ones(X.shape[1])
    a_max = logistic_alpha_max(problem, scale, l1_ratio)
    alphas = a_max * np.array([0.02, 0.5, 0.1, 1.0, 0.005])  # unsorted: returned as given
    tol = TIGHT[l1_ratio]
    kwargs = {"l1_ratio": l1_ratio, "penalty_scale": scale, "tol": tol, "max_iter": 1000}
    path = solve_logistic_path(problem, alphas, **kwargs)
    np.testing.assert_array_equal(path.alphas, alphas)
    assert np.all(path.converged)
    np.testing.assert_array_equal(path.coefs[3], 0.0)
    nnz = [np.count_nonzero(path.coefs[k]) for k in (3, 1, 2, 0, 4)]
    assert nnz == sorted(nnz)  # support grows as alpha falls (here)
    for k, alpha in enumerate(alphas):
        single = solve_logistic_path(problem, alphas[k : k + 1], **kwargs)
        p_path = _objective(logit, X, y, w, path, k, alpha, l1_ratio)
        p_single = _objective(logit, X, y, w, single, 0, alpha, l1_ratio)
        allowed = path.dual_gaps[k] + single.dual_gaps[0] + 1e-14 * abs(p_single)
        assert abs(p_path - p_single) <= allowed
        if l1_ratio < 1:
            # mu-strongly convex in B (mu = the ridge part): P - P* >= mu/2 ||B - B*||^2
            mu = alpha * (1.0 - l1_ratio)
            radius = sum(
                np.sqrt(2 * (g + 1e-14 * abs(p_single)) / mu)
                for g in (path.dual_gaps[k], single.dual_gaps[0])
            )
            assert np.linalg.norm(path.coefs[k] - single.coefs[0]) <= radius


def _agree_params():
    out = []
    for n_classes in (2, 3):
        for l1_ratio in (1.0, 0.5, 0.0):
            for fit_intercept in (True, False):
                for weighted in (False, True):
                    marks: list = []
                    out.append(
                        pytest.param(
                            n_classes,
                            l1_ratio,
                            fit_intercept,
                            weighted,
                            marks=marks,
                            id=f"K{n_classes}-l1_{l1_ratio}-icpt{int(fit_intercept)}-w{int(weighted)}",
                        )
                    )
    return out


@pytest.mark.parametrize(("n_classes", "l1_ratio", "fit_intercept", "weighted"), _agree_params())
def test_solvers_and_formats_agree(logit, n_classes, l1_ratio, fit_intercept, weighted):
    X, y, w = _problem(logit, n_classes, seed=17, weighted=weighted)
    X[np.abs(X) < 0.5] = 0.0  # a sparse-ish design, same numbers in every format
    alpha = 0.03
    tol = TIGHT[l1_ratio]
    objectives, gaps = [], []
    for data, solver in [(X, "covariance"), (X, "naive"), (sp.csc_matrix(X), "naive")]:
        _, got = _solve(
            data, y, w, n_classes, [alpha], l1_ratio=l1_ratio, tol=tol, solver=solver,
            fit_intercept=fit_intercept,
        )  # fmt: skip
        assert got.converged[0], solver
        objectives.append(_objective(logit, X, y, w, got, 0, alpha, l1_ratio))
        gaps.append(got.dual_gaps[0])
    spread = max(objectives) - min(objectives)
    assert spread <= 2 * max(gaps) + 1e-13 * abs(objectives[0])


def _margins(X, y, coef, intercept):
    """True class's predictor minus the best other one (binary: signed log-odds)."""
    eta = X @ coef.T + intercept
    if eta.shape[1] == 1:
        return np.where(y == 1, eta[:, 0], -eta[:, 0])
    rows = np.arange(len(y))
    other = eta.copy()
    other[rows, y] = -np.inf
    return eta[rows, y] - other.max(axis=1)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_separation_diagnostics_match_the_margins(logit, n_classes):
    X, y_noisy, _ = _problem(logit, n_classes, seed=19)
    y_separable = np.argmax(
        X @ np.random.default_rng(0).standard_normal((X.shape[1], n_classes)), axis=1
    )
    assert np.unique(y_separable).size == n_classes
    for y, alpha, separable in [(y_noisy, 0.05, False), (y_separable, 1e-5, True)]:
        _, got = _solve(X, y, None, n_classes, [alpha], l1_ratio=0.5, tol=1e-6)
        margin = _margins(X, y, got.coefs[0], got.intercepts[0])
        share = float(np.mean(margin > 30.0))
        assert got.saturated_share[0] == pytest.approx(share, abs=1e-12)
        assert bool(got.separated[0]) == bool(np.all(margin > 0)) == separable
        assert (share > 0) == separable  # a tiny penalty lets separable margins grow past 30


def test_softmax_probabilities_match_the_fitted_objective(logit):
    # the result's (coefs, intercepts) are a point of the softmax model: the
    # loss from SciPy's softmax equals the kernel's at that point
    X, y, w = _problem(logit, 4, seed=23)
    problem, got = _solve(X, y, w, 4, [0.01], l1_ratio=0.5, tol=1e-10)
    eta = (X @ got.coefs[0].T + got.intercepts[0]).T.copy()
    res, var = np.empty_like(eta), np.empty_like(eta)
    kernel_loss = multinomial_state(eta, problem.labels, problem.wn, res, var)
    P = softmax(eta, axis=0)
    assert kernel_loss == pytest.approx(logit.loss(X, y, w, got.intercepts[0], got.coefs[0]))
    np.testing.assert_allclose(-res[y, np.arange(len(y))] + 1.0, P[y, np.arange(len(y))])


# --------------------------------------------------------------------------
# Regressions: bugs found by these tests and fixed (the reason is in each test)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["covariance", "naive"])
def test_fit_just_below_alpha_max_converges(logit, solver):
    X, y, w = _problem(logit, 2, weighted=True, seed=5)
    scale = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[1])
    problem = make_logistic_problem(X, y, 2, w, fit_intercept=False, solver=solver)
    a_max = logistic_alpha_max(problem, scale, 0.3)
    got = solve_logistic_path(
        problem,
        np.array([0.99 * a_max]),
        l1_ratio=0.3,
        penalty_scale=scale,
        tol=1e-8,
        max_iter=1000,
    )
    assert got.converged[0]
    assert np.count_nonzero(got.coefs[0]) >= 1


def test_ridge_without_intercept_reaches_a_tight_tolerance(logit):
    X, y, w = _problem(logit, 2, weighted=True, seed=11)
    alpha = 0.2 * logit.grad_scale(X, y, w, 2)
    _, got = _solve(X, y, w, 2, [alpha], l1_ratio=0.0, tol=1e-12, fit_intercept=False)
    assert got.converged[0]


@pytest.mark.parametrize("fmt", [np.asarray, sp.csc_matrix], ids=["dense", "csc"])
def test_multinomial_lasso_naive_converges(logit, fmt):
    X, y, w = _problem(logit, 3, seed=17, weighted=True)
    X[np.abs(X) < 0.5] = 0.0
    _, got = _solve(fmt(X), y, w, 3, [0.03], l1_ratio=1.0, tol=1e-6, solver="naive")
    assert got.converged[0]


def test_zero_penalty_scale_keeps_a_feature_at_zero(logit):
    X, y, w = _problem(logit, 2, seed=2)
    scale = np.ones(X.shape[1])
    scale[0] = 0.0  # an informative feature, marked dead
    _, result = _solve(X, y, w, 2, [0.01], l1_ratio=0.5, tol=1e-10, penalty_scale=scale)
    assert result.coefs[0, 0, 0] == 0.0
    assert np.count_nonzero(result.coefs[0, 0, 1:]) >= 1
