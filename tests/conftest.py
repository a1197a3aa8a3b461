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
hypothesis tests may use them. The logistic counterparts (binary and
multinomial log loss with the same penalty) are the ``logit`` fixture.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, logsumexp, softmax

LOCAL_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_PG_NOTE: list[str] = []


def _local_postgres_answers() -> str | None:
    """Return why the local PostgreSQL cannot be used, or None when it answers."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=2
        ):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL answers at 127.0.0.1:5432 ({type(exc).__name__})"


def _use_local_postgres() -> None:
    """Use the local PostgreSQL when GLMOPS_TEST_PG_URL is unset and one answers.

    Runs when this module is imported, before any other conftest reads the
    variable (they read it at import time).
    """
    if os.environ.get("GLMOPS_TEST_PG_URL"):
        return
    why = _local_postgres_answers()
    if why is None:
        os.environ["GLMOPS_TEST_PG_URL"] = LOCAL_PG_URL
    else:
        _PG_NOTE.append(f"PostgreSQL tests skipped: GLMOPS_TEST_PG_URL is unset and {why}")


_use_local_postgres()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for note in _PG_NOTE:
        terminalreporter.write_line(note)


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Any:
    """Give each test the root logger it found: a CLI test that runs ``glmops serve``
    installs JSON logging on a stream the CLI runner closes afterwards."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


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
    kept = wd > 0  # a zero-weight row counts for nothing, even with a huge residual
    loss = 0.5 * float(wd[kept] @ (r[kept] * r[kept])) / float(wd.sum())
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


# --------------------------------------------------------------------------
# Logistic regression: objective and optimality conditions
# --------------------------------------------------------------------------
#
#   P(b0, B) = 1/W sum_i w_i logloss_i(b0 + B x_i)
#              + alpha * sum_{k,j} (l1_ratio s_j |B_kj| + (1 - l1_ratio)/2 s_j^2 B_kj^2)
#
# with one coefficient row (binary: sigmoid of eta, labels 0/1) or K rows
# (K >= 3 classes: softmax over the K predictors), intercepts unpenalised.
# ``labels`` are class indices in [0, K).


def _logistic_eta(X: Any, b0: Any, B: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(X, B, eta)`` as float64 with ``eta = X B' + b0`` of shape (n, rows)."""
    Xd = as_dense64(X)
    Bd = np.atleast_2d(np.asarray(B, dtype=np.float64))
    b0d = np.atleast_1d(np.asarray(b0, dtype=np.float64))
    return Xd, Bd, Xd @ Bd.T + b0d  # eta: (n, rows)


def logistic_probabilities(X: Any, b0: Any, B: Any) -> np.ndarray:
    """Class probabilities (n, K) of the model: sigmoid for one row, softmax for K."""
    _, _, eta = _logistic_eta(X, b0, B)
    if eta.shape[1] == 1:
        p1 = expit(eta[:, 0])
        return np.column_stack([expit(-eta[:, 0]), p1])
    return np.asarray(softmax(eta, axis=1))


def logistic_loss(X: Any, labels: Any, w: Any, b0: Any, B: Any) -> float:
    """``1/W sum_i w_i logloss_i`` in float64, stable for saturated predictors."""
    _, _, eta = _logistic_eta(X, b0, B)
    lab = np.asarray(labels, dtype=np.intp)
    wd = _weights(w, eta.shape[0])
    if eta.shape[1] == 1:
        e = eta[:, 0]
        loss_i = np.where(lab == 1, np.logaddexp(0.0, -e), np.logaddexp(0.0, e))
    else:
        loss_i = logsumexp(eta, axis=1) - eta[np.arange(eta.shape[0]), lab]
    return float(wd @ loss_i) / float(wd.sum())


def logistic_penalty(B: Any, alpha: float, l1_ratio: float, scale: Any = None) -> float:
    """``alpha * sum_{k,j} (l1_ratio s_j |B_kj| + (1 - l1_ratio)/2 s_j^2 B_kj^2)``."""
    Bd = np.atleast_2d(np.asarray(B, dtype=np.float64))
    s = np.ones(Bd.shape[1]) if scale is None else np.asarray(scale, dtype=np.float64)
    l1 = float(np.sum(np.abs(Bd) * s))
    l2 = float(np.sum((Bd * s) ** 2))
    return alpha * (l1_ratio * l1 + 0.5 * (1.0 - l1_ratio) * l2)


def logistic_objective(
    X: Any,
    labels: Any,
    w: Any,
    b0: Any,
    B: Any,
    alpha: float,
    l1_ratio: float,
    scale: Any = None,
) -> float:
    """The logistic elastic-net objective ``P(b0, B)`` (see above)."""
    return logistic_loss(X, labels, w, b0, B) + logistic_penalty(B, alpha, l1_ratio, scale)


def _onehot(labels: Any, rows: int) -> np.ndarray:
    lab = np.asarray(labels, dtype=np.intp)
    if rows == 1:
        return (lab == 1).astype(np.float64)[:, None]
    Y = np.zeros((lab.shape[0], rows))
    Y[np.arange(lab.shape[0]), lab] = 1.0
    return Y


def logistic_gradient(
    X: Any, labels: Any, w: Any, b0: Any, B: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(G, g0)``, minus the loss gradient: ``G = (Y - P)' Wn X``, ``g0 = (Y - P)' wn``."""
    Xd, Bd, _ = _logistic_eta(X, b0, B)
    rows = Bd.shape[0]
    P = logistic_probabilities(Xd, b0, Bd)
    P = P[:, 1:] if rows == 1 else P
    R = _onehot(labels, rows) - P  # (n, rows)
    wn = _weights(w, Xd.shape[0])
    wn = wn / wn.sum()
    U = R * wn[:, None]
    return U.T @ Xd, U.sum(axis=0)


def logistic_kkt_residual(
    X: Any,
    labels: Any,
    w: Any,
    b0: Any,
    B: Any,
    alpha: float,
    l1_ratio: float,
    scale: Any = None,
    *,
    fit_intercept: bool = True,
) -> float:
    """Largest violation of the optimality conditions, in gradient units.

    Entry ``(k, j)`` with ``l1 = alpha l1_ratio s_j``, ``l2 = alpha (1 - l1_ratio) s_j^2``:
    ``|G_kj| <= l1`` when ``B_kj = 0``, ``G_kj - l2 B_kj = l1 sign(B_kj)`` otherwise; with
    an intercept also ``g0_k = 0``.
    """
    Bd = np.atleast_2d(np.asarray(B, dtype=np.float64))
    s = np.ones(Bd.shape[1]) if scale is None else np.asarray(scale, dtype=np.float64)
    G, g0 = logistic_gradient(X, labels, w, b0, Bd)
    l1 = alpha * l1_ratio * s[None, :]
    l2 = alpha * (1.0 - l1_ratio) * (s * s)[None, :]
    viol = np.where(
        Bd == 0,
        np.maximum(np.abs(G) - l1, 0.0),
        np.abs(G - l2 * Bd - l1 * np.sign(Bd)),
    )
    worst = float(np.max(viol, initial=0.0))
    if fit_intercept:
        worst = max(worst, float(np.max(np.abs(g0))))
    return worst


def logistic_kkt_bound(
    X: Any,
    w: Any,
    gap: float,
    primal: float,
    alpha: float,
    l1_ratio: float,
    n_classes: int,
    scale: Any = None,
) -> float:
    """The KKT residual a point certified by duality gap ``gap`` may have.

    As :func:`kkt_bound`, with the log loss's curvature bounded by ``1/4``
    (sigmoid) or ``1/2`` (softmax) times the weighted squared column norms
    (the intercept's column counts as ones): ``||b - b*||_H^2 <= 2*gap``
    bounds how far each gradient entry is from its value at the optimum.
    Exact for ridge and elastic net (strongly convex); for the lasso it is
    the same heuristic as the regression tests use.
    """
    Xd = as_dense64(X)
    wn = _weights(w, Xd.shape[0])
    wn = wn / wn.sum()
    s = np.ones(Xd.shape[1]) if scale is None else np.asarray(scale, dtype=np.float64)
    curvature = 0.25 if n_classes == 2 else 0.5
    norms = wn @ (Xd * Xd)
    h = curvature * max(1.0, float(np.max(norms, initial=0.0)))
    h += alpha * (1.0 - l1_ratio) * float(np.max(s * s, initial=0.0))
    gap_eff = max(gap, 0.0) + 1e-14 * abs(primal)
    return 2.0 * float(np.sqrt(2.0 * gap_eff * h))


def logistic_null_intercepts(labels: Any, w: Any, n_classes: int) -> np.ndarray:
    """Intercepts of the intercept-only model: logit (binary) or log of the class shares."""
    lab = np.asarray(labels, dtype=np.intp)
    prior = np.bincount(lab, weights=_weights(w, lab.shape[0]), minlength=n_classes)
    prior = prior / prior.sum()
    if n_classes == 2:
        return np.array([np.log(prior[1]) - np.log(prior[0])])
    return np.log(prior)


def logistic_grad_scale(X: Any, labels: Any, w: Any, n_classes: int) -> float:
    """``max |G|`` at the intercept-only model: the scale KKT residuals are judged on."""
    rows = 1 if n_classes == 2 else n_classes
    b0 = logistic_null_intercepts(labels, w, n_classes)
    G, _ = logistic_gradient(X, labels, w, b0, np.zeros((rows, as_dense64(X).shape[1])))
    return float(np.max(np.abs(G), initial=0.0))


def logistic_null_loss(labels: Any, w: Any, n_classes: int) -> float:
    """Log loss of the intercept-only model: the entropy of the weighted class shares."""
    lab = np.asarray(labels, dtype=np.intp)
    prior = np.bincount(lab, weights=_weights(w, lab.shape[0]), minlength=n_classes)
    prior = prior[prior > 0] / prior.sum()
    return float(-np.sum(prior * np.log(prior)))


def make_classification_problem(
    n: int,
    p: int,
    n_classes: int = 2,
    seed: int = 0,
    *,
    signal: float = 1.0,
    n_informative: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Standardised-ish random features and labels drawn from a true softmax model.

    Every class is present (labels are cycled in for any class the draw missed).
    """
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p))
    X = Z + 0.3 * Z[:, [0]]
    X = X * rng.uniform(0.5, 1.5, p) + rng.uniform(-0.5, 0.5, p)
    k = min(n_informative, p)
    rows = 1 if n_classes == 2 else n_classes
    coef = np.zeros((rows, p))
    coef[:, :k] = signal * rng.uniform(-1.5, 1.5, (rows, k))
    eta = X @ coef.T + rng.uniform(-0.3, 0.3, rows)
    if rows == 1:
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta[:, 0]))).astype(np.int64)
    else:
        P = np.exp(eta - eta.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).astype(np.int64)
        y = np.minimum(y, n_classes - 1)
    for c in range(n_classes):  # every class present
        if not np.any(y == c):
            y[c] = c
    return X, y


@pytest.fixture(scope="session")
def logit() -> SimpleNamespace:
    """The logistic helpers of this module (``logit.objective``, ``logit.kkt_residual``, ...)."""
    return SimpleNamespace(
        as_dense64=as_dense64,
        column_scale=column_scale,
        grad_scale=logistic_grad_scale,
        gradient=logistic_gradient,
        kkt_bound=logistic_kkt_bound,
        kkt_residual=logistic_kkt_residual,
        loss=logistic_loss,
        make_problem=make_classification_problem,
        null_intercepts=logistic_null_intercepts,
        null_loss=logistic_null_loss,
        objective=logistic_objective,
        penalty=logistic_penalty,
        probabilities=logistic_probabilities,
        random_weights=random_weights,
    )
