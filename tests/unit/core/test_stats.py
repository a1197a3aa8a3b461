"""Sufficient statistics: exact, additive, and immune to large means."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from glmops.core.stats import column_moments, compute_stats, gram_columns


def _data(seed: int, n: int = 200, p: int = 8, offset: float = 0.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + offset
    y = X[:, 0] - 2 * X[:, 1] + rng.standard_normal(n) + offset
    w = rng.uniform(0.1, 2.0, n)
    return X, y, w


def _explicit(X, y, w, xs, ys):
    Xs, ys_ = X - xs, y - ys
    return (
        w.sum(),
        Xs.T @ w,
        float(w @ ys_),
        Xs.T @ (w[:, None] * Xs),
        Xs.T @ (w * ys_),
        float(w @ ys_**2),
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["dense", "float32", "fortran", "sparse"])
def test_compute_stats_matches_explicit(weighted, kind):
    X, y, w = _data(0)
    if kind == "sparse":
        X[np.abs(X) < 0.8] = 0
    Xin = {
        "dense": X,
        "float32": X.astype(np.float32),
        "fortran": np.asfortranarray(X),
        "sparse": sp.csr_matrix(X),
    }[kind]
    Xref = X.astype(np.float32).astype(np.float64) if kind == "float32" else X
    xs, ys = Xref.mean(0), float(y.mean())
    s = compute_stats(Xin, y, w if weighted else None, xs, ys)
    W, sx, sy, sxx, sxy, syy = _explicit(Xref, y, w if weighted else np.ones(len(y)), xs, ys)
    assert s.w_sum == pytest.approx(W)
    np.testing.assert_allclose(s.sx, sx, atol=1e-9 * W)
    np.testing.assert_allclose(s.sxx, sxx, rtol=1e-10, atol=1e-9 * W)
    np.testing.assert_allclose(s.sxy, sxy, rtol=1e-10, atol=1e-9 * W)
    assert s.syy == pytest.approx(syy, rel=1e-12)
    assert s.sy == pytest.approx(sy, abs=1e-9 * W)


def test_stats_are_additive_and_subtractive():
    X, y, w = _data(1)
    xs, ys = X.mean(0), float(y.mean())
    rows_a, rows_b = np.arange(0, 70), np.arange(70, 200)
    a = compute_stats(X, y, w, xs, ys, rows=rows_a)
    b = compute_stats(X, y, w, xs, ys, rows=rows_b)
    total = compute_stats(X, y, w, xs, ys)
    both = a + b
    np.testing.assert_allclose(both.sxx, total.sxx, rtol=1e-12, atol=1e-10)
    rest = total - a
    np.testing.assert_allclose(rest.sxx, b.sxx, rtol=1e-10, atol=1e-10)
    assert rest.n_samples == 130
    with pytest.raises(ValueError, match="different shifts"):
        _ = a + compute_stats(X, y, w, xs + 1, ys)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_centered_problem_and_held_out_error(fit_intercept):
    X, y, w = _data(2)
    shift = X.mean(0) if fit_intercept else np.zeros(X.shape[1])
    s = compute_stats(X, y, w, shift, float(y.mean()) if fit_intercept else 0.0)
    prob = s.centered(fit_intercept)
    wn = w / w.sum()
    if fit_intercept:
        Xc = X - wn @ X
        yc = y - wn @ y
    else:
        Xc, yc = X, y
    np.testing.assert_allclose(prob.G, Xc.T @ (wn[:, None] * Xc), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(prob.c, Xc.T @ (wn * yc), rtol=1e-10, atol=1e-12)
    assert prob.yy == pytest.approx(float(wn @ yc**2), rel=1e-12)
    coef = np.linspace(-1, 1, X.shape[1])
    b0 = 0.3
    sse = float(w @ (y - b0 - X @ coef) ** 2)
    assert s.weighted_sse(b0, coef) == pytest.approx(sse, rel=1e-10)
    path = s.weighted_sse_path(np.array([b0, 0.0]), np.stack([coef, np.zeros_like(coef)]))
    assert path[0] == pytest.approx(sse, rel=1e-10)
    assert path[1] == pytest.approx(float(w @ y**2), rel=1e-10)


@pytest.mark.parametrize("offset", [0.0, 1e6, 1e9])
def test_large_means_do_not_cancel(offset):
    """Raw moments of columns with mean 1e9 and unit spread lose every digit."""
    X, y, w = _data(3, offset=offset)
    s = compute_stats(X, y, w, X.mean(0), float(y.mean()))
    prob = s.centered(True)
    wn = w / w.sum()
    Xc = X - wn @ X
    np.testing.assert_allclose(np.diag(prob.G), np.einsum("ij,i,ij->j", Xc, wn, Xc), rtol=1e-9)
    mean, norms, c = column_moments(X, wn, y - wn @ y, True)
    np.testing.assert_allclose(norms, np.einsum("ij,i,ij->j", Xc, wn, Xc), rtol=1e-9)
    np.testing.assert_allclose(c, Xc.T @ (wn * (y - wn @ y)), rtol=1e-7)
    cols = gram_columns(X, wn, mean, norms, np.array([1, 3]))
    np.testing.assert_allclose(cols, (Xc.T @ (wn[:, None] * Xc))[:, [1, 3]], rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_constant_columns_are_dead(kind):
    X, y, w = _data(4)
    X[:, 2] = 0.1
    X[:, 5] = 0.0
    Xin = sp.csc_matrix(X) if kind == "sparse" else X
    wn = w / w.sum()
    _, norms, _ = column_moments(Xin, wn, y - wn @ y, True)
    assert norms[2] == 0.0 and norms[5] == 0.0
    assert np.all(norms[[0, 1, 3, 4, 6, 7]] > 0)
    prob = compute_stats(Xin, y, w, None, float(wn @ y)).centered(True)
    assert prob.norms[2] == 0.0 and prob.norms[5] == 0.0
