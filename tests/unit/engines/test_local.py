"""The in-memory engine keeps the contract of glmops.engines.base.Engine."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import KFold, ShuffleSplit

from glmops.core.irls import make_logistic_problem
from glmops.core.stats import compute_stats
from glmops.engines import Engine, LocalEngine
from glmops.engines.local import check_fold_weights, n_threads, parallel_map
from glmops.errors import InvalidInputError


def _data(n: int = 90, p: int = 5, seed: int = 0, sparse: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + 3.0
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    return (sp.csc_matrix(X) if sparse else X), y, w


def _explicit_sse(X, y, w, b0, b):
    Xd = X.toarray() if sp.issparse(X) else X
    return float(w @ (y - b0 - Xd @ b) ** 2)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize(
    "splitter",
    [KFold(4, shuffle=True, random_state=1), ShuffleSplit(3, test_size=0.3, random_state=2)],
    ids=["partition", "overlapping"],
)
def test_fold_statistics_equal_per_fold_computation(fit_intercept, sparse, splitter):
    """Training on S_total - S_k and scoring on S_k equal the fold's own statistics."""
    X, y, w = _data(sparse=sparse)
    splits = list(splitter.split(X))
    folds = LocalEngine(X, y, w).fold_statistics(splits, fit_intercept=fit_intercept)
    rng = np.random.default_rng(3)
    b0, b = 0.7, rng.normal(size=X.shape[1])
    for k, (train, test) in enumerate(splits):
        direct = compute_stats(X[train], y[train], w[train], None, 0.0).centered(fit_intercept)
        got = folds.train[k].centered(fit_intercept)
        np.testing.assert_allclose(got.G, direct.G, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(got.c, direct.c, rtol=1e-10, atol=1e-10)
        assert got.yy == pytest.approx(direct.yy, rel=1e-10)
        expected = _explicit_sse(X[test], y[test], w[test], b0, b)
        assert folds.test[k].weighted_sse(b0, b) == pytest.approx(expected, rel=1e-10)
        assert folds.test[k].w_sum == pytest.approx(w[test].sum(), rel=1e-12)
    full = compute_stats(X, y, w, None, 0.0).centered(fit_intercept)
    np.testing.assert_allclose(folds.full.G, full.G, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(folds.full.c, full.c, rtol=1e-10, atol=1e-10)


def test_fold_statistics_check_sees_each_held_out_block_first():
    X, y, w = _data()
    splits = list(KFold(3).split(X))
    seen = []
    LocalEngine(X, y, w).fold_statistics(splits, fit_intercept=True, check=seen.append)
    assert [s.n_samples for s in seen] == [len(te) for _, te in splits]

    def refuse(stats):
        raise InvalidInputError("bad block", field="X", expected="finite", got="nan")

    with pytest.raises(InvalidInputError, match="bad block"):
        LocalEngine(X, y, w).fold_statistics(splits, fit_intercept=True, check=refuse)


@pytest.mark.parametrize("weighted", [False, True])
def test_logistic_problem_is_the_problem_on_the_rows(weighted):
    X, y, w = _data()
    labels = (y > np.median(y)).astype(np.intp)
    weights = w if weighted else None
    rows = np.arange(10, 70)
    got = LocalEngine(X, labels, weights).logistic_problem(
        rows, 2, fit_intercept=True, solver="covariance"
    )
    want = make_logistic_problem(
        X[rows],
        labels[rows],
        2,
        None if weights is None else weights[rows],
        fit_intercept=True,
        solver="covariance",
    )
    np.testing.assert_array_equal(got.X, want.X)
    np.testing.assert_array_equal(got.labels, want.labels)
    np.testing.assert_array_equal(got.wn, want.wn)
    np.testing.assert_array_equal(got.norms_w, want.norms_w)


@pytest.mark.parametrize("n_jobs", [None, 1, 2, -1])
def test_map_keeps_order_and_reports_progress_once_per_task(n_jobs):
    X, y, w = _data()
    engine: Engine = LocalEngine(X, y, w, n_jobs=n_jobs)
    calls = []
    lock = threading.Lock()

    def progress(done, total):
        with lock:
            calls.append((done, total))

    assert engine.map(lambda k: k * k, range(7), progress) == [k * k for k in range(7)]
    assert calls == [(k, 7) for k in range(1, 8)]


def test_parallel_map_without_progress():
    assert parallel_map(str, [1, 2, 3], threads=2) == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("n_jobs", "n_tasks", "expected"),
    [(None, 5, 1), (1, 5, 1), (3, 5, 3), (8, 5, 5), (4, 0, 1)],
)
def test_n_threads(n_jobs, n_tasks, expected):
    assert n_threads(n_jobs, n_tasks) == expected


def test_n_threads_negative_counts_from_the_cores(monkeypatch):
    monkeypatch.setattr("glmops.engines.local.os.cpu_count", lambda: 4)
    assert n_threads(-1, 10) == 4
    assert n_threads(-2, 10) == 3
    assert n_threads(-10, 10) == 1


@pytest.mark.parametrize("part", ["training", "held-out"])
def test_check_fold_weights_refuses_a_weightless_set(part):
    w = np.ones(6)
    train, test = np.arange(3), np.arange(3, 6)
    w[train if part == "training" else test] = 0.0
    with pytest.raises(InvalidInputError, match=f"zero on every {part} row of CV split 0") as info:
        check_fold_weights(w, [(train, test)])
    assert info.value.field == "sample_weight"
    check_fold_weights(None, [(train, test)])
    check_fold_weights(np.ones(6), [(train, test)])
