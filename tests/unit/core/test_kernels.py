"""Kernels against the NumPy reference (core/_reference.py) on small problems."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from glmops.core import kernels
from glmops.core._reference import (
    cd_epoch_ref,
    centered_problem_ref,
    duality_gap_ref,
    objective_ref,
    soft_threshold_ref,
)


def _problem(seed: int, n: int = 40, p: int = 12, weighted: bool = True, sparse: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3, p) + rng.uniform(-2, 2, p)
    if sparse:
        X[rng.random((n, p)) < 0.6] = 0.0
    y = X[:, :3] @ np.array([1.5, -2.0, 0.5]) + rng.standard_normal(n)
    w = rng.uniform(0, 2, n) if weighted else None
    if weighted:
        w[:3] = 0.0
    return X, y, w


@pytest.mark.parametrize("z", [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
@pytest.mark.parametrize("t", [0.0, 0.7, 1.0])
def test_soft_threshold_matches_reference(z, t):
    assert kernels.soft_threshold(z, t) == pytest.approx(soft_threshold_ref(z, t), abs=0)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
def test_duality_gap_matches_reference(positive, l1_ratio):
    X, y, w = _problem(1)
    Xc, yc, wn = centered_problem_ref(X, y, w, True)
    p = X.shape[1]
    rng = np.random.default_rng(2)
    b = rng.standard_normal(p) * (rng.random(p) < 0.5)
    if positive:
        b = np.abs(b)
    alpha = 0.3
    l1 = np.full(p, alpha * l1_ratio)
    l2 = np.full(p, alpha * (1 - l1_ratio))
    r = yc - Xc @ b
    grad = Xc.T @ (wn * r)
    norms = np.einsum("ij,i,ij->j", Xc, wn, Xc)
    primal, gap = kernels.duality_gap(
        b, grad, float(wn @ (r * r)), float(wn @ (yc * r)), l1, l2, norms, positive, np.arange(p), p
    )
    assert primal == pytest.approx(objective_ref(Xc, yc, wn, b, l1, l2), rel=1e-12)
    expected = duality_gap_ref(Xc, yc, wn, b, l1, l2, positive)
    if np.isfinite(expected):
        assert gap == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert gap >= -1e-12  # weak duality


def test_gap_is_zero_at_optimum_and_bounds_suboptimality():
    X, y, w = _problem(3)
    Xc, yc, wn = centered_problem_ref(X, y, w, True)
    p = X.shape[1]
    l1, l2 = np.full(p, 0.05), np.full(p, 0.02)
    b = np.zeros(p)
    order = np.arange(p)
    for _ in range(3000):
        b = cd_epoch_ref(Xc, yc, wn, b, l1, l2, order)
    p_star = objective_ref(Xc, yc, wn, b, l1, l2)
    assert duality_gap_ref(Xc, yc, wn, b, l1, l2) < 1e-12
    b_bad = b + 0.01
    gap = duality_gap_ref(Xc, yc, wn, b_bad, l1, l2)
    assert gap >= objective_ref(Xc, yc, wn, b_bad, l1, l2) - p_star - 1e-14


@pytest.mark.parametrize("positive", [False, True])
def test_gram_epoch_matches_reference(positive):
    X, y, w = _problem(4)
    Xc, yc, wn = centered_problem_ref(X, y, w, True)
    p = X.shape[1]
    G = np.ascontiguousarray(Xc.T @ (wn[:, None] * Xc))
    c = Xc.T @ (wn * yc)
    l1, l2 = np.full(p, 0.1), np.full(p, 0.05)
    b = np.zeros(p)
    grad = c.copy()
    ws = np.arange(p)
    expected = b.copy()
    for _ in range(3):
        kernels._gram_epoch(G, np.diag(G).copy(), grad, b, ws, p, l1, l2, positive)
        expected = cd_epoch_ref(Xc, yc, wn, expected, l1, l2, ws, positive)
    np.testing.assert_allclose(b, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, c - G @ b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_epoch_matches_reference(dtype):
    X, y, w = _problem(5)
    X = X.astype(dtype)
    Xc, yc, wn = centered_problem_ref(X.astype(np.float64), y, w, True)
    p = X.shape[1]
    mean = wn @ X.astype(np.float64)
    norms = np.einsum("ij,i,ij->j", Xc, wn, Xc)
    l1, l2 = np.full(p, 0.1), np.full(p, 0.05)
    b = np.zeros(p)
    r = yc.copy()
    ws = np.arange(p)[::-1].copy()
    expected = b.copy()
    Xf = np.asfortranarray(X)
    for _ in range(3):
        kernels._dense_epoch(Xf, mean, wn, norms, r, b, ws, p, l1, l2, False)
        expected = cd_epoch_ref(Xc, yc, wn, expected, l1, l2, ws)
    np.testing.assert_allclose(b, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r, yc - Xc @ b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("exact", [False, True], ids=["offset-centring", "exact-centring"])
def test_sparse_epoch_and_gradient_match_reference(exact):
    X, y, w = _problem(6, sparse=True)
    Xc, yc, wn = centered_problem_ref(X, y, w, True)
    p = X.shape[1]
    A = sp.csc_matrix(X)
    mean = wn @ X
    norms = np.einsum("ij,i,ij->j", Xc, wn, Xc)
    flags = np.full(p, exact)
    l1, l2 = np.full(p, 0.05), np.full(p, 0.05)
    b = np.zeros(p)
    z = yc.copy()
    offset = np.zeros(1)
    ws = np.arange(p)
    expected = b.copy()
    for _ in range(3):
        kernels._sparse_epoch(
            A.data,
            A.indices,
            A.indptr,
            mean,
            wn,
            norms,
            z,
            offset,
            b,
            ws,
            p,
            l1,
            l2,
            False,
            0.0,
            flags,
        )
        expected = cd_epoch_ref(Xc, yc, wn, expected, l1, l2, ws)
    np.testing.assert_allclose(b, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(z + offset[0], yc - Xc @ b, rtol=1e-9, atol=1e-12)
    grad = np.empty(p)
    kernels.sparse_full_gradient(A.data, A.indices, A.indptr, mean, wn, z, offset[0], flags, grad)
    np.testing.assert_allclose(grad, Xc.T @ (wn * (yc - Xc @ b)), rtol=1e-9, atol=1e-12)


def test_dense_full_gradient_matches_reference():
    X, y, w = _problem(7)
    Xc, _yc, wn = centered_problem_ref(X, y, w, True)
    r = np.random.default_rng(0).standard_normal(X.shape[0])
    out = np.empty(X.shape[1])
    kernels.dense_full_gradient(np.asfortranarray(X), wn @ X, wn, r, out)
    np.testing.assert_allclose(out, Xc.T @ (wn * r), rtol=1e-10)


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
@pytest.mark.parametrize("backend", ["gram", "dense", "sparse"])
def test_solvers_certify_their_gap(backend, relative):
    """Each solver returns a point whose reference gap is within the target.

    Absolute: ``gap <= tol_abs``; relative: ``gap <= tol_rel * primal``, and
    the returned primal is the objective at the returned point.
    """
    X, y, w = _problem(8, n=60, p=25, sparse=backend == "sparse")
    Xc, yc, wn = centered_problem_ref(X, y, w, True)
    p = X.shape[1]
    l1, l2 = np.full(p, 0.02), np.full(p, 0.01)
    norms = np.einsum("ij,i,ij->j", Xc, wn, Xc)
    mean = wn @ X
    c = Xc.T @ (wn * yc)
    yy = float(wn @ (yc * yc))
    tol_rel, tol_abs = (1e-10, 0.0) if relative else (0.0, 1e-10 * yy)
    b = np.zeros(p)
    grad = c.copy()
    in_ws = np.zeros(p, dtype=bool)
    if backend == "gram":
        G = np.ascontiguousarray(Xc.T @ (wn[:, None] * Xc))
        _, primal, gap, status = kernels.solve_gram(
            G,
            c,
            yy,
            norms,
            b,
            grad,
            in_ws,
            np.ones(p, dtype=bool),
            l1,
            l2,
            False,
            tol_rel,
            tol_abs,
            10_000,
        )
    elif backend == "dense":
        r = yc.copy()
        _, primal, gap, status = kernels.solve_dense(
            np.asfortranarray(X),
            mean,
            wn,
            yc,
            norms,
            r,
            b,
            grad,
            in_ws,
            l1,
            l2,
            False,
            tol_rel,
            tol_abs,
            10_000,
        )
    else:
        A = sp.csc_matrix(X)
        z, offset = yc.copy(), np.zeros(1)
        _, primal, gap, status = kernels.solve_sparse(
            A.data,
            A.indices,
            A.indptr,
            mean,
            wn,
            yc,
            norms,
            z,
            offset,
            b,
            grad,
            in_ws,
            l1,
            l2,
            False,
            tol_rel,
            tol_abs,
            10_000,
            np.zeros(p, dtype=bool),
        )
    r = yc - Xc @ b
    objective = 0.5 * (wn @ (r * r)) + l1 @ np.abs(b) + 0.5 * (l2 @ (b * b))
    assert primal == pytest.approx(objective, rel=1e-10)
    target = max(tol_rel * primal, tol_abs)
    assert status == kernels.STATUS_CONVERGED
    assert gap <= target
    assert duality_gap_ref(Xc, yc, wn, b, l1, l2) <= target * (1 + 1e-6) + 1e-15
    np.testing.assert_allclose(grad, Xc.T @ (wn * (yc - Xc @ b)), rtol=1e-8, atol=1e-12)
