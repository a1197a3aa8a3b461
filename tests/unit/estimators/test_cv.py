"""ElasticNetCV / LassoCV: held-out errors, selection and the CV plumbing.

The reference for every held-out error is an explicit refit: ``enet_path`` on
the training rows at the same alphas (``tol=1e-12``), scored on the test rows.
The one-pass statistics CV, the per-fold refits, sparse input, threads and
every kind of ``cv`` must all reproduce it.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNetCV as SkElasticNetCV
from sklearn.model_selection import KFold, ShuffleSplit

import glmops

TIGHT = 1e-12


def explicit_mse(
    X,
    y,
    w,
    splits,
    alphas,
    l1_ratio,
    *,
    fit_intercept=True,
    standardize=False,
    positive=False,
    solver="auto",
):
    """Held-out (weighted) MSE of explicit per-fold refits, shape (n_alphas, n_folds)."""
    out = np.empty((len(alphas), len(splits)))
    for k, (train, test) in enumerate(splits):
        _, coefs, _, intercepts = glmops.enet_path(
            X[train],
            y[train],
            l1_ratio=l1_ratio,
            alphas=alphas,
            sample_weight=None if w is None else w[train],
            fit_intercept=fit_intercept,
            standardize=standardize,
            positive=positive,
            solver=solver,
            tol=TIGHT,
            max_iter=100_000,
            return_intercept=True,
        )
        pred = np.asarray(X[test] @ coefs) + intercepts
        resid2 = (y[test][:, None] - pred) ** 2
        out[:, k] = np.average(resid2, axis=0, weights=None if w is None else w[test])
    return out


def certified_slack(
    X, w, splits, alphas, l1_ratio, mse, *, y, tol=TIGHT, fit_intercept=True, standardize=False
):
    """How far apart two held-out MSEs may be when both fits are certified at ``tol``.

    Two different solvers stop at different points. Each is within
    ``||b - b*||_H <= sqrt(2*gap)`` of the fold's optimum (``H`` the Hessian of
    the smooth part, ``gap <= tol*yy``), so a test row's prediction differs
    by at most ``kappa_i * 2*sqrt(2*gap)`` with ``kappa_i^2 = z_i' H^-1 z_i``
    (``z_i`` the row centred by the training means), and the MSE by at most
    ``2*sqrt(mse)*D + D^2`` with ``D`` the weighted RMS of those bounds.
    Returned with the shape of ``mse`` (n_alphas, n_folds).
    """
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    slack = np.empty_like(mse)
    for k, (train, test) in enumerate(splits):
        wtr = np.ones(len(train)) if w is None else w[train]
        wtr = wtr / wtr.sum()
        wte = np.ones(len(test)) if w is None else w[test]
        mean = wtr @ X[train] if fit_intercept else np.zeros(X.shape[1])
        Xc = X[train] - mean
        G = Xc.T @ (wtr[:, None] * Xc)
        ytr = y[train] - (wtr @ y[train] if fit_intercept else 0.0)
        gap = (tol + 1e-14) * float(wtr @ (ytr * ytr))  # + rounding of the gap itself
        scale2 = np.diag(G) if standardize else np.ones(X.shape[1])
        Z = X[test] - mean
        for j, alpha in enumerate(alphas):
            H = G + alpha * (1.0 - l1_ratio) * np.diag(scale2)
            kappa2 = np.einsum("ij,ji->i", Z, np.linalg.solve(H, Z.T))
            D = 2.0 * np.sqrt(2.0 * gap) * np.sqrt(np.average(kappa2, weights=wte))
            slack[j, k] = 2.0 * np.sqrt(mse[j, k]) * D + D * D
    return slack


def _assert_within(actual, expected, slack):
    excess = np.abs(actual - expected) - slack
    assert np.all(excess <= 1e-12 * np.max(expected)), f"worst excess {excess.max():.3e}"


def _cv(**kwargs):
    params = {"tol": TIGHT, "max_iter": 100_000, "n_alphas": 12, "eps": 1e-2}
    params.update(kwargs)
    return glmops.ElasticNetCV(**params)


def _assert_mse_close(actual, expected, rtol):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.max(expected))


@pytest.mark.parametrize("solver", ["covariance", "naive"])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_mse_path_equals_explicit_refits(
    helpers, weighted, fit_intercept, standardize, positive, solver
):
    X, y = helpers.make_problem(100, 8, seed=30)
    X[:, 3] *= 30.0  # uneven scales make standardize matter
    w = helpers.random_weights(100, seed=31) if weighted else None
    splits = list(KFold(5).split(X))
    cv = _cv(
        l1_ratio=0.5,
        fit_intercept=fit_intercept,
        standardize=standardize,
        positive=positive,
        solver=solver,
        cv=KFold(5),
    ).fit(X, y, sample_weight=w)
    assert cv.mse_path_.shape == (12, 5)
    assert cv.alphas_.shape == (12,)
    expected = explicit_mse(
        X,
        y,
        w,
        splits,
        cv.alphas_,
        0.5,
        fit_intercept=fit_intercept,
        standardize=standardize,
        positive=positive,
        solver=solver,
    )
    # both sides are certified at TIGHT, not bit-identical: the one-pass fold
    # statistics and the explicit refit stop at different certified points
    slack = certified_slack(
        X,
        w,
        splits,
        cv.alphas_,
        0.5,
        expected,
        y=y,
        fit_intercept=fit_intercept,
        standardize=standardize,
    )
    _assert_within(cv.mse_path_, expected, slack)


@pytest.mark.parametrize("solver", ["covariance", "naive"])
def test_mse_path_with_l1_ratio_list(helpers, solver):
    X, y = helpers.make_problem(90, 7, seed=32)
    ratios = [0.2, 0.6, 1.0]
    cv = _cv(l1_ratio=ratios, solver=solver, cv=KFold(4)).fit(X, y)
    assert cv.mse_path_.shape == (3, 12, 4)
    assert cv.alphas_.shape == (3, 12)
    splits = list(KFold(4).split(X))
    for i, r in enumerate(ratios):
        expected = explicit_mse(X, y, None, splits, cv.alphas_[i], r, solver=solver)
        _assert_mse_close(cv.mse_path_[i], expected, rtol=1e-10)
        # each l1_ratio has its own grid, starting at its own alpha_max
        assert cv.alphas_[i, 0] == pytest.approx(helpers.alpha_max(X, y, None, r, True), rel=1e-10)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("l1_ratio", [0.5, [0.1, 0.5, 0.9, 1.0]])
def test_same_choice_as_sklearn(helpers, l1_ratio, weighted):
    X, y = helpers.make_problem(120, 10, seed=33, noise=3.0)
    w = helpers.random_weights(120, seed=34) if weighted else None
    a_max = helpers.alpha_max(X, y, w, 0.1, True)
    alphas = np.geomspace(a_max, a_max * 1e-4, 25)
    ours = glmops.ElasticNetCV(
        l1_ratio=l1_ratio, alphas=alphas, cv=KFold(5), tol=TIGHT, max_iter=100_000
    ).fit(X, y, sample_weight=w)
    ref = SkElasticNetCV(
        l1_ratio=l1_ratio, alphas=alphas, cv=KFold(5), tol=TIGHT, max_iter=100_000
    ).fit(X, y, sample_weight=w)
    # scikit-learn keeps explicit alphas 1-d for a list of l1_ratios; glmops
    # reports one row per l1_ratio (documented shape): compare row by row
    for row in np.atleast_2d(ours.alphas_):
        np.testing.assert_allclose(row, ref.alphas_, rtol=1e-14)
    splits = list(KFold(5).split(X))
    ratios = np.atleast_1d(l1_ratio)
    ours_mse = np.reshape(ours.mse_path_, (len(ratios), 25, 5))
    ref_mse = np.reshape(ref.mse_path_, (len(ratios), 25, 5))
    for i, r in enumerate(ratios):
        # both certified at tol=1e-12 (scikit-learn's tol means the same)
        slack = certified_slack(X, w, splits, alphas, r, ref_mse[i], y=y)
        _assert_within(ours_mse[i], ref_mse[i], 2.0 * slack)
    assert ours.alpha_ == ref.alpha_
    assert ours.l1_ratio_ == ref.l1_ratio_
    # the refit at the chosen point solves the full-data problem
    p_ours = helpers.objective(X, y, w, ours.intercept_, ours.coef_, ours.alpha_, ours.l1_ratio_)
    p_ref = helpers.objective(X, y, w, ref.intercept_, ref.coef_, ref.alpha_, ref.l1_ratio_)
    assert (p_ours - p_ref) / p_ref <= 1e-8


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("l1_ratio", [0.5, [0.3, 1.0]])
def test_naive_equals_covariance(helpers, l1_ratio, weighted):
    X, y = helpers.make_problem(80, 9, seed=35)
    w = helpers.random_weights(80, seed=36) if weighted else None
    cov = _cv(l1_ratio=l1_ratio, solver="covariance", cv=5).fit(X, y, sample_weight=w)
    naive = _cv(l1_ratio=l1_ratio, solver="naive", cv=5).fit(X, y, sample_weight=w)
    # the two routes compute the grid from different sums: equal to rounding
    np.testing.assert_allclose(naive.alphas_, cov.alphas_, rtol=1e-13)
    splits = list(KFold(5).split(X))
    ratios = np.atleast_1d(l1_ratio)
    cov_mse = np.reshape(cov.mse_path_, (len(ratios), 12, 5))
    naive_mse = np.reshape(naive.mse_path_, (len(ratios), 12, 5))
    alphas = np.reshape(cov.alphas_, (len(ratios), 12))
    for i, r in enumerate(ratios):
        slack = certified_slack(X, w, splits, alphas[i], r, cov_mse[i], y=y)
        _assert_within(naive_mse[i], cov_mse[i], slack)
    assert naive.alpha_ == pytest.approx(cov.alpha_, rel=1e-13)
    assert naive.l1_ratio_ == cov.l1_ratio_


@pytest.mark.parametrize("solver", ["auto", "covariance", "naive"])
@pytest.mark.parametrize("fmt", [sp.csc_matrix, sp.csr_matrix], ids=["csc", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_sparse_input(helpers, fmt, solver, weighted):
    X_dense, y = helpers.make_problem(80, 9, seed=37)
    X_dense[np.abs(X_dense) < 0.8] = 0.0  # genuinely sparse
    X_dense[:, 4] = 0.0  # an all-zero column
    w = helpers.random_weights(80, seed=38) if weighted else None
    sparse = _cv(solver=solver, cv=KFold(4)).fit(fmt(X_dense), y, sample_weight=w)
    dense = _cv(solver="covariance", cv=KFold(4)).fit(X_dense, y, sample_weight=w)
    np.testing.assert_allclose(sparse.alphas_, dense.alphas_, rtol=1e-12)
    splits = list(KFold(4).split(X_dense))
    slack = certified_slack(X_dense, w, splits, dense.alphas_, 0.5, dense.mse_path_, y=y)
    _assert_within(sparse.mse_path_, dense.mse_path_, slack)
    assert sparse.alpha_ == pytest.approx(dense.alpha_, rel=1e-13)
    assert sparse.coef_[4] == 0.0
    # against refits of the same sparse input and solver: the same iterates
    expected = explicit_mse(fmt(X_dense).tocsr(), y, w, splits, sparse.alphas_, 0.5, solver=solver)
    _assert_mse_close(sparse.mse_path_, expected, rtol=1e-10)


@pytest.mark.parametrize("l1_ratio", [0.5, [0.2, 0.8]])
def test_one_standard_error_rule(helpers, l1_ratio):
    X, y = helpers.make_problem(100, 12, seed=39, noise=4.0)
    kwargs = {"l1_ratio": l1_ratio, "cv": KFold(5), "n_alphas": 30}
    best = _cv(selection="min", **kwargs).fit(X, y)
    one_se = _cv(selection="1se", **kwargs).fit(X, y)
    assert one_se.l1_ratio_ == best.l1_ratio_
    mse = best.mse_path_ if np.ndim(l1_ratio) else best.mse_path_[None]
    alphas = best.alphas_ if np.ndim(l1_ratio) else best.alphas_[None]
    i = int(np.flatnonzero(np.atleast_1d(l1_ratio) == best.l1_ratio_)[0])
    mean = mse[i].mean(axis=1)
    j_min = int(np.argmin(mean))
    assert best.alpha_ == alphas[i, j_min]
    se = mse[i, j_min].std(ddof=1) / np.sqrt(mse.shape[2])
    j_1se = int(np.flatnonzero(alphas[i] == one_se.alpha_)[0])
    assert one_se.alpha_ >= best.alpha_
    assert mean[j_1se] <= mean[j_min] + se
    # ... and it is the largest alpha within one standard error
    assert np.all(mean[alphas[i] > one_se.alpha_] > mean[j_min] + se)
    assert one_se.alpha_ > best.alpha_  # the data make the rule bite
    refit = glmops.ElasticNet(
        one_se.alpha_, l1_ratio=one_se.l1_ratio_, tol=TIGHT, max_iter=100_000
    ).fit(X, y)
    p_cv = helpers.objective(
        X, y, None, one_se.intercept_, one_se.coef_, one_se.alpha_, one_se.l1_ratio_
    )
    p_refit = helpers.objective(
        X, y, None, refit.intercept_, refit.coef_, one_se.alpha_, one_se.l1_ratio_
    )
    assert abs(p_cv - p_refit) <= 1e-8 * p_refit


def _custom_splits(n):
    rng = np.random.default_rng(0)
    perm = rng.permutation(n)
    folds = np.array_split(perm, 3)
    return [
        (np.sort(np.concatenate([f for m, f in enumerate(folds) if m != k])), folds[k])
        for k in range(3)
    ]


def _bootstrap_like_splits(n):
    """Test folds partition the rows and ``len(train) + len(test) == n``, yet each
    train set repeats some rows instead of being the test fold's complement."""
    splits = []
    for train, test in _custom_splits(n):
        train = train.copy()
        train[:5] = train[5]  # rows train[0:5] dropped, train[5] counted 6 times
        splits.append((train, test))
    return splits


CV_KINDS = {
    "int": (lambda n: 4, lambda n: list(KFold(4).split(np.zeros(n)))),
    "kfold-shuffled": (
        lambda n: KFold(5, shuffle=True, random_state=1),
        lambda n: list(KFold(5, shuffle=True, random_state=1).split(np.zeros(n))),
    ),
    "list-of-splits": (_custom_splits, _custom_splits),
    "shufflesplit": (
        lambda n: ShuffleSplit(n_splits=4, test_size=0.3, random_state=2),
        lambda n: list(ShuffleSplit(n_splits=4, test_size=0.3, random_state=2).split(np.zeros(n))),
    ),
    "train-with-repeats": (_bootstrap_like_splits, _bootstrap_like_splits),
    "overlapping-tests": (
        # test folds of sizes summing to n, each train its complement, but the
        # tests overlap: not a partition, so fold statistics must not be differenced
        lambda n: [
            (np.arange(n // 2, n), np.arange(n // 2)),
            (np.arange(n // 4, n), np.arange(n // 4)),
            (np.arange(n // 4), np.arange(n // 4, n)),
        ],
        lambda n: [
            (np.arange(n // 2, n), np.arange(n // 2)),
            (np.arange(n // 4, n), np.arange(n // 4)),
            (np.arange(n // 4), np.arange(n // 4, n)),
        ],
    ),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    ("kind", "solver"),
    [(k, solver) for k in CV_KINDS for solver in ("covariance", "naive")],
)
def test_cv_kinds_match_explicit_refits(helpers, kind, weighted, solver):
    n = 96
    X, y = helpers.make_problem(n, 8, seed=40)
    w = helpers.random_weights(n, seed=41) if weighted else None
    make_cv, make_splits = CV_KINDS[kind]
    splits = make_splits(n)
    cv = _cv(cv=make_cv(n), solver=solver).fit(X, y, sample_weight=w)
    assert cv.mse_path_.shape == (12, len(splits))
    expected = explicit_mse(X, y, w, splits, cv.alphas_, 0.5, solver=solver)
    _assert_mse_close(cv.mse_path_, expected, rtol=1e-10)


def test_cv_generator_is_consumed_once(helpers):
    X, y = helpers.make_problem(60, 5, seed=42)
    splits = list(KFold(3).split(X))
    cv = _cv(cv=(s for s in splits)).fit(X, y)
    expected = explicit_mse(X, y, None, splits, cv.alphas_, 0.5)
    _assert_mse_close(cv.mse_path_, expected, rtol=1e-10)


@pytest.mark.parametrize("solver", ["covariance", "naive"])
def test_n_jobs_gives_identical_results(helpers, solver):
    X, y = helpers.make_problem(90, 10, seed=43)
    w = helpers.random_weights(90, seed=44)
    kwargs = {"l1_ratio": [0.3, 0.7, 1.0], "solver": solver, "cv": 5, "tol": 1e-8}
    one = glmops.ElasticNetCV(n_jobs=1, n_alphas=15, **kwargs).fit(X, y, sample_weight=w)
    two = glmops.ElasticNetCV(n_jobs=2, n_alphas=15, **kwargs).fit(X, y, sample_weight=w)
    every = glmops.ElasticNetCV(n_jobs=-1, n_alphas=15, **kwargs).fit(X, y, sample_weight=w)
    for other in (two, every):
        np.testing.assert_array_equal(other.mse_path_, one.mse_path_)
        np.testing.assert_array_equal(other.alphas_, one.alphas_)
        np.testing.assert_array_equal(other.coef_, one.coef_)
        assert other.alpha_ == one.alpha_
        assert other.l1_ratio_ == one.l1_ratio_
        assert other.intercept_ == one.intercept_


@pytest.mark.parametrize("l1_ratio", [0.5, [0.25, 0.5, 1.0]])
def test_cv_results(helpers, l1_ratio):
    X, y = helpers.make_problem(60, 6, seed=45)
    cv = _cv(l1_ratio=l1_ratio, cv=4, n_alphas=7).fit(X, y)
    n_l1 = len(np.atleast_1d(l1_ratio))
    res = cv.cv_results_
    expected_keys = {
        "param_alpha",
        "param_l1_ratio",
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        *(f"split{k}_test_score" for k in range(4)),
    }
    assert set(res) == expected_keys | {"params"}
    for key in expected_keys:
        assert res[key].shape == (n_l1 * 7,), key
    # greater is better: the score is the negative held-out MSE
    mse = np.reshape(cv.mse_path_, (n_l1 * 7, 4))
    np.testing.assert_array_equal(res["mean_test_score"], -mse.mean(axis=1))
    np.testing.assert_array_equal(res["std_test_score"], mse.std(axis=1))
    for k in range(4):
        np.testing.assert_array_equal(res[f"split{k}_test_score"], -mse[:, k])
    np.testing.assert_array_equal(res["param_alpha"], np.ravel(cv.alphas_))
    np.testing.assert_array_equal(res["param_l1_ratio"], np.repeat(np.atleast_1d(l1_ratio), 7))
    assert res["params"] == [
        {"alpha": a, "l1_ratio": r}
        for a, r in zip(res["param_alpha"], res["param_l1_ratio"], strict=True)
    ]
    assert sorted(res["rank_test_score"]) == list(range(1, n_l1 * 7 + 1))
    best = int(np.flatnonzero(res["rank_test_score"] == 1)[0])
    assert best == int(np.argmax(res["mean_test_score"]))
    assert res["param_alpha"][best] == cv.alpha_
    assert res["param_l1_ratio"][best] == cv.l1_ratio_


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_lasso_cv_equals_enet_cv_l1_ratio_one(helpers, weighted):
    X, y = helpers.make_problem(70, 8, seed=46)
    w = helpers.random_weights(70, seed=47) if weighted else None
    lasso = glmops.LassoCV(cv=4, n_alphas=10, tol=1e-8).fit(X, y, sample_weight=w)
    enet = glmops.ElasticNetCV(l1_ratio=1.0, cv=4, n_alphas=10, tol=1e-8).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(lasso.alphas_, enet.alphas_)
    np.testing.assert_array_equal(lasso.mse_path_, enet.mse_path_)
    np.testing.assert_array_equal(lasso.coef_, enet.coef_)
    assert lasso.alpha_ == enet.alpha_
    assert lasso.l1_ratio_ == enet.l1_ratio_ == 1.0
    assert "l1_ratio" not in lasso.get_params()


def test_alphas_int_is_grid_length(helpers):
    X, y = helpers.make_problem(50, 5, seed=48)
    cv = glmops.ElasticNetCV(alphas=6, cv=3).fit(X, y)
    assert cv.alphas_.shape == (6,)
    assert cv.mse_path_.shape == (6, 3)


def test_explicit_alphas_are_sorted_descending(helpers):
    X, y = helpers.make_problem(50, 5, seed=49)
    cv = glmops.ElasticNetCV(alphas=[0.01, 1.0, 0.1], cv=3).fit(X, y)
    np.testing.assert_array_equal(cv.alphas_, [1.0, 0.1, 0.01])
    assert cv.alpha_ in cv.alphas_


@pytest.mark.parametrize("solver", ["covariance", "naive"])
def test_float32_cv(helpers, solver):
    X, y = helpers.make_problem(80, 6, seed=50)
    X32 = X.astype(np.float32)
    cv = _cv(cv=4, solver=solver).fit(X32, y)
    assert cv.coef_.dtype == np.float32
    expected = explicit_mse(X32, y, None, list(KFold(4).split(X)), cv.alphas_, 0.5, solver=solver)
    _assert_mse_close(cv.mse_path_, expected, rtol=1e-10)
