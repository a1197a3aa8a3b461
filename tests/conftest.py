"""Shared test helpers: the elastic-net objective and its optimality conditions.

Everything here is plain float64 NumPy, written from the objective's definition
and independent of glmops' code, so the tests can judge any fit::

    P(b0, b) = 1/(2W) sum_i w_i (y_i - b0 - x_i.b)^2
               + alpha * (l1_ratio * sum_j s_j |b_j| + (1 - l1_ratio)/2 * sum_j s_j^2 b_j^2)

with ``s_j = 1`` for plain fits and ``s_j`` the weighted column standard
deviation (divisor W, centred when fitting an intercept) for
``standardize=True``.

The helpers are exposed as session-scoped fixtures (``objective``,
``kkt_residual``, ...) so test modules need no import path tricks and
hypothesis tests may use them.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp


def as_dense64(X: Any) -> np.ndarray:
    """Return ``X`` (dense or sparse, any float dtype) as a float64 ndarray."""
    if sp.issparse(X):
        return np.asarray(X.toarray(), dtype=np.float64)
    return np.asarray(X, dtype=np.float64)


def _weights(w: Any, n: int) -> np.ndarray:
    return np.ones(n) if w is None else np.asarray(w, dtype=np.float64)


def weighted_means(X: Any, y: Any, w: Any, fit_intercept: bool) -> tuple[np.ndarray, float]:
    """Weighted column means and mean of y (zeros when not fitting an intercept)."""
    Xd = as_dense64(X)
    wn = _weights(w, Xd.shape[0])
    wn = wn / wn.sum()
    if not fit_intercept:
        return np.zeros(Xd.shape[1]), 0.0
    return wn @ Xd, float(wn @ np.asarray(y, dtype=np.float64))


def column_scale(X: Any, w: Any = None, fit_intercept: bool = True) -> np.ndarray:
    """Weighted column standard deviation, divisor W (glmnet's standardisation).

    Centred when ``fit_intercept``; without an intercept it is the root of
    the weighted mean square.
    """
    Xd = as_dense64(X)
    wn = _weights(w, Xd.shape[0])
    wn = wn / wn.sum()
    mean, _ = weighted_means(Xd, np.zeros(Xd.shape[0]), wn, fit_intercept)
    Xc = Xd - mean
    return np.sqrt(wn @ (Xc * Xc))


def objective(
    X: Any,
    y: Any,
    w: Any,
    b0: float,
    b: Any,
    alpha: float,
    l1_ratio: float,
    scale: Any = None,
) -> float:
    """Elastic-net objective ``P(b0, b)`` in float64 (see the module docstring)."""
    Xd = as_dense64(X)
    yd = np.asarray(y, dtype=np.float64)
    wd = _weights(w, Xd.shape[0])
    bd = np.asarray(b, dtype=np.float64)
    s = np.ones(Xd.shape[1]) if scale is None else np.asarray(scale, dtype=np.float64)
    r = yd - float(b0) - Xd @ bd
    loss = 0.5 * float(wd @ (r * r)) / float(wd.sum())
    l1 = float(np.sum(s * np.abs(bd)))
    l2 = float(np.sum((s * bd) ** 2))
    return loss + alpha * (l1_ratio * l1 + 0.5 * (1.0 - l1_ratio) * l2)


def gradient(X: Any, y: Any, w: Any, b0: float, b: Any, fit_intercept: bool) -> np.ndarray:
    """``g = Xc' (w/W) r`` at ``(b0, b)``; ``Xc`` centred by the weighted means."""
    Xd = as_dense64(X)
    wn = _weights(w, Xd.shape[0])
    wn = wn / wn.sum()
    mean, _ = weighted_means(Xd, y, wn, fit_intercept)
    r = np.asarray(y, dtype=np.float64) - float(b0) - Xd @ np.asarray(b, dtype=np.float64)
    return np.asarray((Xd - mean).T @ (wn * r))


def grad_scale(X: Any, y: Any, w: Any, fit_intercept: bool) -> float:
    """``max_j |g_j|`` at ``b = 0`` (the best intercept): the scale KKT residuals are judged on."""
    _, mean_y = weighted_means(X, y, w, fit_intercept)
    g0 = gradient(X, y, w, mean_y, np.zeros(as_dense64(X).shape[1]), fit_intercept)
    return float(np.max(np.abs(g0), initial=0.0))


def kkt_residual(
    X: Any,
    y: Any,
    w: Any,
    b0: float,
    b: Any,
    alpha: float,
    l1_ratio: float,
    scale: Any = None,
    *,
    positive: bool = False,
    fit_intercept: bool = True,
) -> float:
    """Largest violation of the elastic-net optimality conditions, gradient units.

    With ``l1_j = alpha*l1_ratio*s_j`` and ``l2_j = alpha*(1-l1_ratio)*s_j^2``:
    a zero coefficient needs ``|g_j| <= l1_j`` (``g_j <= l1_j`` when positive);
    a nonzero one ``g_j - l2_j b_j = l1_j sign(b_j)`` (and ``b_j > 0`` when
    positive). The intercept's own condition is not part of it (``g`` uses
    centred columns, so it does not depend on ``b0``): check it with
    :func:`intercept_residual`.
    """
    bd = np.asarray(b, dtype=np.float64)
    s = np.ones(bd.shape[0]) if scale is None else np.asarray(scale, dtype=np.float64)
    g = gradient(X, y, w, b0, bd, fit_intercept)
    l1 = alpha * l1_ratio * s
    l2 = alpha * (1.0 - l1_ratio) * s * s
    zero = bd == 0
    viol = np.empty_like(bd)
    if positive:
        viol[zero] = np.maximum(g[zero] - l1[zero], 0.0)
        if np.any(bd < 0):
            return float("inf")
    else:
        viol[zero] = np.maximum(np.abs(g[zero]) - l1[zero], 0.0)
    nz = ~zero
    viol[nz] = np.abs(g[nz] - l2[nz] * bd[nz] - l1[nz] * np.sign(bd[nz]))
    return float(np.max(viol, initial=0.0))


def kkt_bound(
    X: Any,
    w: Any,
    gap: float,
    primal: float,
    alpha: float,
    l1_ratio: float,
    scale: Any = None,
    *,
    fit_intercept: bool = True,
) -> float:
    """The KKT residual a point certified by duality gap ``gap`` may have.

    With ``H = Xc'Wn Xc + diag(l2)``, strong convexity gives
    ``||b - b*||_H^2 <= 2*gap``, so each gradient entry is within
    ``sqrt(H_jj) * sqrt(2*gap)`` of its value at the optimum, where the KKT
    conditions hold exactly. A gap is only known to the rounding of the
    objective value ``primal`` it is a difference of, so it is floored at
    ``1e-14*primal``; a factor 2 covers the rest of the rounding.
    """
    Xd = as_dense64(X)
    s = np.ones(Xd.shape[1]) if scale is None else np.asarray(scale, dtype=np.float64)
    norms = column_scale(Xd, w, fit_intercept) ** 2
    h = float(np.max(norms + alpha * (1.0 - l1_ratio) * s * s, initial=0.0))
    gap_eff = max(gap, 0.0) + 1e-14 * abs(primal)
    return 2.0 * float(np.sqrt(2.0 * gap_eff * h))


def intercept_residual(X: Any, y: Any, w: Any, b0: float, b: Any) -> float:
    """``|sum_i w_i r_i| / W``: zero at the optimal intercept (units of y)."""
    Xd = as_dense64(X)
    wn = _weights(w, Xd.shape[0])
    wn = wn / wn.sum()
    r = np.asarray(y, dtype=np.float64) - float(b0) - Xd @ np.asarray(b, dtype=np.float64)
    return abs(float(wn @ r))


def weighted_yy(y: Any, w: Any, fit_intercept: bool) -> float:
    """``yc' Wn yc``: the weighted variance of y (about 0 without an intercept)."""
    yd = np.asarray(y, dtype=np.float64)
    wn = _weights(w, yd.shape[0])
    wn = wn / wn.sum()
    yc = yd - float(wn @ yd) if fit_intercept else yd
    return float(wn @ (yc * yc))


def alpha_max(X: Any, y: Any, w: Any, l1_ratio: float, fit_intercept: bool) -> float:
    """Smallest alpha with an all-zero lasso/elastic-net solution (l1_ratio > 0)."""
    return grad_scale(X, y, w, fit_intercept) / l1_ratio


def make_problem(
    n: int,
    p: int,
    seed: int = 0,
    *,
    n_informative: int = 5,
    noise: float = 1.0,
    intercept: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A well-posed random regression problem with correlated columns."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p))
    X = Z + 0.3 * Z[:, [0]]  # mild correlation with the first column
    X = X * rng.uniform(0.5, 2.0, p) + rng.uniform(-1.0, 1.0, p)
    coef = np.zeros(p)
    k = min(n_informative, p)
    coef[:k] = rng.choice([-1.0, 1.0], k) * rng.uniform(1.0, 3.0, k)
    y = intercept + X @ coef + noise * rng.standard_normal(n)
    return X, y


def random_weights(n: int, seed: int = 0, n_zeros: int = 3) -> np.ndarray:
    """Positive random weights with ``n_zeros`` exact zeros."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 3.0, n)
    w[rng.choice(n, size=min(n_zeros, n - 1), replace=False)] = 0.0
    return w


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    """All helpers of this module, as attributes of one namespace (``h.objective``)."""
    return SimpleNamespace(
        alpha_max=alpha_max,
        as_dense64=as_dense64,
        column_scale=column_scale,
        grad_scale=grad_scale,
        gradient=gradient,
        intercept_residual=intercept_residual,
        kkt_bound=kkt_bound,
        kkt_residual=kkt_residual,
        make_problem=make_problem,
        objective=objective,
        random_weights=random_weights,
        weighted_means=weighted_means,
        weighted_yy=weighted_yy,
    )


@pytest.fixture(scope="session", name="objective")
def objective_fixture() -> Any:
    """:func:`objective` as a fixture."""
    return objective


@pytest.fixture(scope="session", name="kkt_residual")
def kkt_residual_fixture() -> Any:
    """:func:`kkt_residual` as a fixture."""
    return kkt_residual
