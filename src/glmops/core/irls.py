"""Proximal Newton (IRLS) for the binomial and multinomial elastic net.

Solves, for weights ``wn`` normalised to sum 1,

    min_{b0, B}  sum_i wn_i * logloss_i(b0 + B x_i)
                 + sum_{k,j} (l1_j |B_kj| + l2_j/2 * B_kj^2)

with one coefficient row (binomial, sigmoid link) or K rows (multinomial,
true softmax, no reference class). Intercepts are never penalised.

Each Newton step takes the quadratic model of the log loss at the current
iterate (Hessian weights ``h = wn * p(1-p)``, floored so the model stays
well posed) restricted to the working set, eliminates the intercept by
centring under ``h``, and hands the resulting weighted elastic net to the
coordinate-descent kernels of the regression engine (Gram/covariance for
tall dense data, residual updates for wide dense and sparse data). A
backtracking (Armijo) line search on the true objective makes every step
decrease it. Multinomial fits cycle the classes, one Newton step per class
(glmnet's partial Newton).

Certificate: the duality gap of the logistic problem. With ``u = wn(Y - P)``
centred so its columns sum to zero (the intercept's constraint), the dual
point ``s*u`` gives ``D = sum_i wn_i H(q_i) - sum_{k,j} h*_j(s * x_j'u_k)``
with ``q = Y + s(P - Y)``, ``H`` the (multi-class) entropy and ``h*`` the
conjugate of the penalty; ``s`` is 1 (Fenchel, when ridge makes it finite)
or the largest value keeping ``|s x_j'u_k| <= l1_j`` (the lasso rescaling),
whichever gives the larger bound. A fit stops when ``primal - D <= tol *
primal`` (floored at rounding level): the gap bounds how far the objective is
above its minimum, so ``tol`` is the certified relative precision.

Working sets: strong-rule set (and the current support) first; after its
restricted gap is met, the full gradient is computed, KKT violators join
and the loop repeats (Tibshirani et al. 2012). On tall dense data a working
set holding half the features takes all of them (X is used in place, and
one pass gives both the step's gradient and the full certificate).

Inner solves: a Gram model (covariance kernel, block multinomial) costs k^2
per CD epoch, nothing next to a pass over the rows, so it is solved to 1e-3
of the gap target and each step is an exact proximal Newton step; residual
CD (a pass over the working set per epoch) is solved to 1e-3 of the latest
decrease or gap instead (inexact Newton, tightened when a step stalls).

References
----------
Friedman, Hastie & Tibshirani (2010). Regularization paths for generalized
linear models via coordinate descent. J. Stat. Softw. 33(1).
Lee, Sun & Saunders (2014). Proximal Newton-type methods for minimizing
composite functions. SIAM J. Optim. 24(3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit

from glmops._typing import BoolArray, FloatArray, IntArray
from glmops.core import kernels
from glmops.core.path import RIDGE_GRID_L1_RATIO, row_runs
from glmops.core.stats import column_moments

__all__ = [
    "LogisticPathResult",
    "LogisticProblem",
    "logistic_alpha_max",
    "logistic_gap_floor",
    "make_logistic_problem",
    "solve_logistic_path",
]

# floor of p(1-p) relative to |y - p| in the Hessian weights: bounds the
# Newton residual (y - p)/p(1-p) of a saturated, misclassified sample by
# 1e10, while a saturated, correctly classified one (|y - p| ~ p(1-p)) keeps
# its true, tiny curvature (a floor there would stall separable fits). The
# model's gradient stays exact (h * e = wn * (y - p)), the line search and
# the certificate use the exact loss: the floor never biases the solution.
_VAR_FLOOR = 1e-10
_VAR_TINY = 1e-300
# smallest curvature of a working-set column in the Newton model, relative
# to the largest (see _residual_inner)
_MODEL_NORM_FLOOR = 1e-12


def _model_var(var: FloatArray, res: FloatArray) -> FloatArray:
    """Curvature used by the Newton model (see ``_VAR_FLOOR``)."""
    return np.maximum(np.maximum(var, _VAR_FLOOR * np.abs(res)), _VAR_TINY)


# relative rounding noise of the objective (sums of n terms in float64)
_ROUNDING = 1e-14
# Armijo sufficient-decrease constant and backtracking limit
_ARMIJO = 1e-4
_MAX_BACKTRACK = 40
# inner (quadratic model) tolerance as a share of the current outer gap: a
# tight inner solve keeps Newton's fast local convergence, and costs little
# next to forming the model (one weighted pass over the working set)
_INNER_SHARE = 1e-3
# CD epochs allowed per inner solve
_INNER_MAX_EPOCHS = 10_000
# intercept refinement stops once the intercept gradient is below this
_INTERCEPT_GRAD_TOL = 1e-13
# intercept used for a class with no weight (its probability is ~1e-16)
_ABSENT_CLASS_LOGIT = float(np.log(1e-16))


# --------------------------------------------------------------------------
# Loss, probabilities and the dual's entropy term (numba)
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, fastmath=False)
def _softplus(a: float) -> float:
    """Return log(1 + exp(a)) without overflow or cancellation."""
    if a > 0.0:
        return float(a + np.log1p(np.exp(-a)))
    return float(np.log1p(np.exp(a)))


@njit(cache=True, nogil=True, fastmath=False)
def binomial_state(
    eta: np.ndarray, y: np.ndarray, wn: np.ndarray, res: np.ndarray, var: np.ndarray
) -> float:
    """Fill ``res = y - p`` and ``var = p(1-p)``; return ``sum wn * logloss``.

    ``eta`` (n,) is the linear predictor and ``y`` (n,) holds 0/1 labels.
    Both ``y - p`` and ``p(1-p)`` are formed from ``exp(-|eta|)`` so they
    keep full relative precision for saturated samples.
    """
    loss = 0.0
    for i in range(eta.shape[0]):
        z = eta[i]
        t = np.exp(-abs(z))
        one_t = 1.0 + t
        log_one_t = np.log1p(t)
        if z > 0.0:
            p = 1.0 / one_t
            q = t / one_t
        else:
            p = t / one_t
            q = 1.0 / one_t
        var[i] = t / (one_t * one_t)
        # softplus(-z) = log1p(t) + max(-z, 0); softplus(z) = log1p(t) + max(z, 0)
        if y[i] > 0.5:
            res[i] = q
            loss += wn[i] * (log_one_t + max(-z, 0.0))
        else:
            res[i] = -p
            loss += wn[i] * (log_one_t + max(z, 0.0))
    return loss


@njit(cache=True, nogil=True, fastmath=False)
def binomial_loss(eta: np.ndarray, y: np.ndarray, wn: np.ndarray) -> float:
    """Return ``sum wn * logloss`` for 0/1 labels ``y`` at predictor ``eta``."""
    loss = 0.0
    for i in range(eta.shape[0]):
        if y[i] > 0.5:
            loss += wn[i] * _softplus(-eta[i])
        else:
            loss += wn[i] * _softplus(eta[i])
    return loss


@njit(cache=True, nogil=True, fastmath=False)
def multinomial_state(
    eta: np.ndarray, labels: np.ndarray, wn: np.ndarray, res: np.ndarray, var: np.ndarray
) -> float:
    """Fill ``res = Y - P`` and ``var = P(1-P)`` (both (K, n)); return the loss.

    ``eta`` (K, n) holds one linear predictor per class and ``labels`` (n,)
    the class index of each sample. ``1 - P`` of the true class is the sum
    of the other classes' probabilities (no cancellation).
    """
    K, n = eta.shape
    loss = 0.0
    for i in range(n):
        top = eta[0, i]
        for k in range(1, K):
            top = max(top, eta[k, i])
        total = 0.0
        for k in range(K):
            e = np.exp(eta[k, i] - top)
            res[k, i] = e
            total += e
        lse = top + np.log(total)
        yi = labels[i]
        others = 0.0
        for k in range(K):
            pk = res[k, i] / total
            var[k, i] = pk
            if k != yi:
                others += pk
        for k in range(K):
            pk = var[k, i]
            if k == yi:
                res[k, i] = others
                var[k, i] = pk * others
            else:
                res[k, i] = -pk
                var[k, i] = pk * (1.0 - pk)
        loss += wn[i] * (lse - eta[yi, i])
    return loss


@njit(cache=True, nogil=True, fastmath=False)
def multinomial_loss(eta: np.ndarray, labels: np.ndarray, wn: np.ndarray) -> float:
    """Return ``sum wn * (logsumexp(eta_i) - eta_{y_i, i})``."""
    K, n = eta.shape
    loss = 0.0
    for i in range(n):
        top = eta[0, i]
        for k in range(1, K):
            top = max(top, eta[k, i])
        total = 0.0
        for k in range(K):
            total += np.exp(eta[k, i] - top)
        loss += wn[i] * (top + np.log(total) - eta[labels[i], i])
    return loss


@njit(cache=True, nogil=True, fastmath=False)
def _xlogx(q: float) -> float:
    return q * np.log(q) if q > 0.0 else 0.0


@njit(cache=True, nogil=True, fastmath=False)
def dual_entropy(
    res: np.ndarray, labels: np.ndarray, wn: np.ndarray, corr: np.ndarray, s: float
) -> tuple[float, int]:
    """Return ``(sum_i wn_i H(q_i), n_clipped)`` for ``q = Y - s (Y - P - corr)``.

    ``res`` (K, n) is ``Y - P`` (K = 1: binomial, with ``labels`` the 0/1
    labels); ``corr`` (K, 1) or (K, n) moves the dual point so that it meets
    the intercept's constraint (zeros without an intercept). The entry
    closest to 0 or 1 is formed directly, keeping its precision. Entries
    outside [0, 1] are clipped and counted: the bound is exact only when
    none are (see :func:`_certify`).
    """
    K, n = res.shape
    per_sample = corr.shape[1] == n
    total = 0.0
    clipped = 0
    if K == 1:
        for i in range(n):
            c = corr[0, i] if per_sample else corr[0, 0]
            d = s * (res[0, i] - c)  # y - q
            # a = 1 - q for a positive sample, q for a negative one
            a = d if labels[i] > 0.5 else -d
            if a < 0.0 or a > 1.0:
                clipped += 1
                a = min(max(a, 0.0), 1.0)
            total -= wn[i] * (_xlogx(a) + _xlogx(1.0 - a))
        return total, clipped
    for i in range(n):
        yi = labels[i]
        acc = 0.0
        for k in range(K):
            c = corr[k, i] if per_sample else corr[k, 0]
            d = s * (res[k, i] - c)
            q = 1.0 - d if k == yi else -d
            if q < 0.0 or q > 1.0:
                clipped += 1
                q = min(max(q, 0.0), 1.0)
            acc += _xlogx(q)
        total -= wn[i] * acc
    return total, clipped


# --------------------------------------------------------------------------
# Problem and state
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LogisticProblem:
    """Fixed inputs of a logistic fit (see :func:`make_logistic_problem`).

    Attributes
    ----------
    X : ndarray (n, p) or CSC matrix
        Design (float64/float32).
    labels : ndarray of int, shape (n,)
        Class index of each sample (binomial: 0/1).
    n_classes : int
        2 for binomial (one coefficient row), K >= 3 for multinomial.
    wn : ndarray of shape (n,)
        Sample weights normalised to sum 1.
    fit_intercept : bool
    solver : {"covariance", "naive"}
        Inner kernel: Gram of the working set (dense tall data) or residual
        updates (wide dense or sparse data).
    mean_w : ndarray of shape (p,)
        Weighted column means (zeros without an intercept).
    norms_w : ndarray of shape (p,)
        Weighted centred squared norms; 0 marks a constant (dead) column.
    prior : ndarray of shape (K,)
        Weighted class shares.
    """

    X: FloatArray | sp.csc_matrix
    labels: IntArray
    n_classes: int
    wn: FloatArray
    fit_intercept: bool
    solver: str
    mean_w: FloatArray
    norms_w: FloatArray
    prior: FloatArray
    y01: FloatArray = field(repr=False)

    @property
    def n_rows(self) -> int:
        """Coefficient rows: 1 for binomial, K for multinomial."""
        return 1 if self.n_classes == 2 else self.n_classes

    @property
    def live(self) -> BoolArray:
        return np.asarray(self.norms_w > 0)

    def state(self, eta: FloatArray, res: FloatArray, var: FloatArray) -> float:
        """Fill ``res``/``var`` at predictor ``eta`` (n_rows, n); return the loss."""
        if self.n_rows == 1:
            return float(binomial_state(eta[0], self.y01, self.wn, res[0], var[0]))
        return float(multinomial_state(eta, self.labels, self.wn, res, var))

    def loss(self, eta: FloatArray) -> float:
        if self.n_rows == 1:
            return float(binomial_loss(eta[0], self.y01, self.wn))
        return float(multinomial_loss(eta, self.labels, self.wn))

    def x_dot(self, XA: FloatArray | sp.csc_matrix, u: FloatArray) -> FloatArray:
        """Return ``u @ XA`` for u of shape (rows, n)."""
        if sp.issparse(XA):
            return np.asarray((XA.T @ u.T).T)
        return np.asarray(u @ XA)

    def null_intercepts(self) -> FloatArray:
        """Intercepts of the intercept-only model (zeros without an intercept)."""
        if not self.fit_intercept:
            return np.zeros(self.n_rows)
        with np.errstate(divide="ignore"):
            logp = np.where(self.prior > 0, np.log(np.maximum(self.prior, 1e-300)), -np.inf)
        logp = np.maximum(logp, _ABSENT_CLASS_LOGIT)
        if self.n_rows == 1:
            return np.array([logp[1] - logp[0]])
        return np.asarray(logp - logp.mean())

    @property
    def null_loss(self) -> float:
        """Loss of the intercept-only model (the scale of the gap's rounding floor)."""
        eta = np.repeat(self.null_intercepts()[:, None], self.X.shape[0], axis=1)
        return max(self.loss(eta), float(np.finfo(float).tiny))


def make_logistic_problem(
    X: FloatArray | sp.spmatrix,
    labels: IntArray,
    n_classes: int,
    sample_weight: FloatArray | None,
    *,
    fit_intercept: bool,
    solver: str,
) -> LogisticProblem:
    """Build the fixed inputs of a fit: normalised weights, column moments, priors.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
    labels : ndarray of int, shape (n,)
        Class indices in ``[0, n_classes)``.
    n_classes : int
        At least 2; 2 gives the binomial model.
    sample_weight : ndarray of shape (n,) or None
    fit_intercept : bool
    solver : {"covariance", "naive"}
    """
    n = X.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    wn = w / w.sum()
    # working-set columns are gathered many times along a path: contiguous
    # columns make that O(n) per column instead of a pass over all of X
    X = sp.csc_matrix(X) if sp.issparse(X) else np.asfortranarray(X)
    mean_w, norms_w, _ = column_moments(X, wn, np.zeros(n), fit_intercept)
    labels = np.asarray(labels, dtype=np.intp)
    prior = np.bincount(labels, weights=wn, minlength=n_classes).astype(np.float64)
    return LogisticProblem(
        X=X,
        labels=labels,
        n_classes=n_classes,
        wn=wn,
        fit_intercept=fit_intercept,
        solver=solver,
        mean_w=mean_w,
        norms_w=norms_w,
        prior=prior,
        y01=(labels == 1).astype(np.float64),
    )


@dataclass
class _State:
    """Iteration state: coefficients, intercepts, predictor, residual, variance."""

    coef: FloatArray  # (rows, p)
    intercept: FloatArray  # (rows,)
    eta: FloatArray  # (rows, n)
    res: FloatArray  # (rows, n): Y - P
    var: FloatArray  # (rows, n): P(1 - P)
    loss: float
    res_try: FloatArray = field(init=False, repr=False)
    var_try: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.res_try = np.empty_like(self.res)
        self.var_try = np.empty_like(self.var)

    def refresh(self, problem: LogisticProblem) -> None:
        self.loss = problem.state(self.eta, self.res, self.var)

    def trial_loss(self, problem: LogisticProblem) -> float:
        """Evaluate ``eta`` into the trial buffers (see :meth:`accept_trial`)."""
        return problem.state(self.eta, self.res_try, self.var_try)

    def accept_trial(self, loss: float) -> None:
        self.res, self.res_try = self.res_try, self.res
        self.var, self.var_try = self.var_try, self.var
        self.loss = loss


def _null_state(problem: LogisticProblem) -> _State:
    rows, n = problem.n_rows, problem.X.shape[0]
    b0 = problem.null_intercepts()
    eta = np.repeat(b0[:, None], n, axis=1)
    state = _State(
        np.zeros((rows, problem.X.shape[1])), b0, eta, np.empty((rows, n)), np.empty((rows, n)), 0.0
    )
    state.refresh(problem)
    _refine_intercepts(problem, state)
    return state


def _refine_intercepts(problem: LogisticProblem, state: _State) -> None:
    """Newton steps on the intercepts alone until their gradient vanishes.

    The dual certificate needs ``sum_i wn_i (Y - P)_ik = 0``; a few O(n)
    steps after each Newton iteration make it hold to rounding.
    """
    if not problem.fit_intercept:
        return
    wn = problem.wn
    present = problem.prior > 0
    if problem.n_rows == 1:
        present = np.array([bool(present[0] and present[1])])
    for _ in range(8):
        grad = state.res @ wn
        grad[~present] = 0.0
        if np.max(np.abs(grad)) <= _INTERCEPT_GRAD_TOL:
            return
        curv = np.maximum(state.var @ wn, _VAR_TINY)
        step = grad / curv
        old = (
            state.intercept.copy(),
            state.eta.copy(),
            state.res.copy(),
            state.var.copy(),
            state.loss,
        )
        state.intercept += step
        state.eta += step[:, None]
        state.refresh(problem)
        new_grad = state.res @ wn
        new_grad[~present] = 0.0
        # near the optimum the loss is flat to rounding: judge by the gradient
        if not (state.loss < old[4] or np.max(np.abs(new_grad)) < np.max(np.abs(grad))):
            state.intercept, state.eta, state.res, state.var, state.loss = old
            return


# --------------------------------------------------------------------------
# Certificate
# --------------------------------------------------------------------------


def _penalty(coef: FloatArray, l1: FloatArray, l2: FloatArray) -> float:
    """``sum_k,j l1_j |B_kj| + l2_j/2 B_kj^2`` for coef (rows, m) and penalties (m,)."""
    return float(np.sum(np.abs(coef) @ l1) + 0.5 * np.sum((coef * coef) @ l2))


def _conjugate(g: FloatArray, l1: FloatArray, l2: FloatArray, s: float) -> float:
    """``sum h*_j(s g_kj)`` for the elastic-net penalty (inf when infeasible)."""
    excess = np.maximum(s * np.abs(g) - l1, 0.0)
    if not np.any(excess > 0):
        return 0.0
    if np.any((excess > 0) & (l2[None, :] <= 0)):
        return float(np.inf)
    safe = np.where(l2 > 0, l2, 1.0)
    # (excess / l2) first: excess^2 underflows for tiny column scales
    return float(np.sum(0.5 * excess * (excess / safe)))


def _dual_gap(
    problem: LogisticProblem,
    state: _State,
    g: FloatArray,
    ubar: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    pen: float,
) -> tuple[float, bool]:
    """Return ``(gap, clipped)`` given the dual's gradient ``g = X_F' (u - wn corr)``.

    ``ubar`` is the correction ``corr``: (rows,) for a uniform shift of the
    dual point, or (rows, n) per sample. ``l1``/``l2`` are the penalties of
    the same m features; ``pen`` the penalty of the current coefficients.
    See the module docstring.
    """
    primal = state.loss + pen
    labels = problem.y01 if problem.n_rows == 1 else problem.labels
    ag = np.abs(g)
    big = ag > 0
    if np.any(big):
        with np.errstate(divide="ignore"):
            ratios = np.where(big, l1[None, :] / np.where(big, ag, 1.0), np.inf)
        # one ulp below the bound, so s*|g| never exceeds l1 by rounding
        s_feas = float(min(1.0, np.min(ratios) * (1.0 - 1e-14)))
    else:
        s_feas = 1.0
    # the Fenchel point (s = 1) is exact at the optimum whenever it is
    # finite (ridge part present); the rescaled one serves the lasso
    s = 1.0
    conj = _conjugate(g, l1, l2, s)
    if not np.isfinite(conj):
        s = s_feas
        conj = _conjugate(g, l1, l2, s)
    corr = ubar[:, None] if ubar.ndim == 1 else ubar
    ent, n_clipped = dual_entropy(state.res, labels, problem.wn, corr, s)
    best = float(ent) - conj
    return float(max(primal - best, 0.0)), int(n_clipped) > 0


def _certify(
    problem: LogisticProblem,
    state: _State,
    XA: FloatArray | sp.csc_matrix,
    features: IntArray,
    l1: FloatArray,
    l2: FloatArray,
) -> tuple[float, FloatArray, FloatArray]:
    """Return ``(gap, g, ubar)`` over ``features`` (columns ``XA`` of X).

    The dual point must meet the intercepts' constraint ``sum_i wn_i (Y - Q)_ik
    = 0``. A uniform shift by the intercept gradient ``ubar`` does it when
    that keeps ``Q`` in the simplex; when it does not (saturated samples next
    to an intercept gradient larger than their probabilities), the shift is
    spread in proportion to each sample's curvature (binomial) or through
    the softmax Jacobian (multinomial), which keeps ``Q`` a distribution:
    the gap stays a rigorous bound either way.
    """
    full = XA is problem.X
    if full:
        g_all, ubar = _centred_gradient(problem, state, XA, np.arange(XA.shape[1]))
        g = g_all[:, features]
    else:
        g, ubar = _centred_gradient(problem, state, XA, features)
    pen = _penalty(state.coef[:, features], l1, l2)
    gap, clipped = _dual_gap(problem, state, g, ubar, l1, l2, pen)
    if not clipped or not problem.fit_intercept:
        return gap, g, ubar
    corr = _curvature_correction(problem, state, ubar)
    u = (state.res - corr) * problem.wn[None, :]
    g_corr = problem.x_dot(XA, u)
    if full:
        g_corr = g_corr[:, features]
    gap, _ = _dual_gap(problem, state, g_corr, corr, l1, l2, pen)
    return gap, g, ubar


def _curvature_correction(problem: LogisticProblem, state: _State, ubar: FloatArray) -> FloatArray:
    """Per-sample dual shift ``c`` (rows, n) with ``sum_i wn_i c_ik = ubar_k``.

    Binomial: ``c = ubar * p(1-p) / sum(wn p(1-p))`` (stays in [0, 1] for
    ``|ubar| <= sum(wn p(1-p))``). Multinomial: ``c_i = J_i d``, the softmax
    Jacobian ``diag(P_i) - P_i P_i'`` applied to ``d`` solving ``H00 d = ubar``
    (rows of ``P + c`` keep summing to one).
    """
    wn = problem.wn
    if problem.n_rows == 1:
        curv = float(state.var[0] @ wn)
        return np.asarray(ubar[0] * state.var / max(curv, _VAR_TINY))
    labels = problem.labels
    P = -state.res.copy()
    P[labels, np.arange(labels.shape[0])] += 1.0
    H00 = np.diag(P @ wn) - (P * wn[None, :]) @ P.T
    d = np.linalg.lstsq(H00, ubar, rcond=None)[0]
    return np.asarray(P * (d[:, None] - (d @ P)[None, :]))


def _centred_gradient(
    problem: LogisticProblem, state: _State, XA: FloatArray | sp.csc_matrix, features: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Return ``(g, ubar)``: ``g = XA' (u - wn ubar)`` with ``u = wn (Y - P)``."""
    u = state.res * problem.wn[None, :]
    ubar = u.sum(axis=1) if problem.fit_intercept else np.zeros(problem.n_rows)
    g = problem.x_dot(XA, u)
    if problem.fit_intercept:
        g = g - ubar[:, None] * problem.mean_w[features][None, :]
    return g, ubar


# --------------------------------------------------------------------------
# Newton step on one coefficient row
# --------------------------------------------------------------------------


class _WorkingSet:
    """Columns of every feature that has entered a working set, copied once.

    Dense columns live in a Fortran buffer in order of entry, so a growing
    working set copies only its new columns; sparse ones are a CSC slice.
    Features never leave (glmnet's "ever active" set): a warm-started path
    re-solves them cheaply.
    """

    def __init__(self, problem: LogisticProblem) -> None:
        self.problem = problem
        self.features = np.empty(0, dtype=np.intp)
        self._buffer: FloatArray | None = None
        self._sparse: sp.csc_matrix | None = None
        self.z_cache: FloatArray | None = None
        # times the features were renumbered (models over the old order are stale)
        self.reorders = 0

    @property
    def in_place(self) -> bool:
        """Whether X itself can serve as the buffer (dense, float64, Fortran)."""
        X = self.problem.X
        return not sp.issparse(X) and X.dtype == np.float64 and bool(X.flags.f_contiguous)

    @property
    def size(self) -> int:
        return int(self.features.shape[0])

    @property
    def XA(self) -> FloatArray | sp.csc_matrix:  # noqa: N802 (math name, as in the kernels)
        if self._sparse is not None:
            return self._sparse
        assert self._buffer is not None
        return self._buffer[:, : self.size]

    def add(self, wanted: BoolArray) -> bool:
        """Add the flagged features not yet present; return whether any were."""
        present = np.zeros(wanted.shape[0], dtype=np.bool_)
        present[self.features] = True
        new = np.flatnonzero(wanted & ~present)
        if new.size == 0:
            return False
        X = self.problem.X
        k = self.size
        if k + new.size == X.shape[1] and self.in_place:
            # every column: X itself, in its own order (no copy)
            if k:
                self.reorders += 1
                self.z_cache = None
            self.features = np.arange(X.shape[1])
            self._buffer = X
            return True
        self.features = np.concatenate([self.features, new])
        if sp.issparse(X):
            self._sparse = sp.csc_matrix(X[:, self.features])
            self._sparse.sort_indices()
            return True
        if self._buffer is X or self._buffer is None or self._buffer.shape[1] < self.size:
            capacity = X.shape[1]  # pages are mapped only when written
            buffer = np.empty((X.shape[0], capacity), dtype=np.float64, order="F")
            if k:
                buffer[:, :k] = self._buffer[:, :k]  # type: ignore[index]
            self._buffer = buffer
        for i, j in enumerate(new):  # column by column: no n x |new| temporary
            self._buffer[:, k + i] = X[:, j]
        return True

    def dot(self, v: FloatArray) -> FloatArray:
        """Return ``XA @ v``."""
        XA = self.XA
        if sp.issparse(XA):
            return np.asarray(XA @ v).ravel()
        return np.asarray(XA @ v)


# rows x columns of one chunk of the weighted Gram (about 1 MB: in cache)
_GRAM_CHUNK_ENTRIES = 131_072


@njit(cache=True, nogil=True)
def _scaled_rows(
    X: np.ndarray, start: int, stop: int, c: np.ndarray, root: np.ndarray, out: np.ndarray
) -> None:
    """Fill ``out[i - start, j] = (X[i, j] - c[j]) * root[i]`` for rows ``start:stop``.

    ``X`` (n, k) and ``out`` (stop - start, k) are Fortran-ordered (read and
    written a column at a time); ``c`` (k,) and ``root`` (n,) are read only.
    """
    r = root[start:stop]
    for j in range(X.shape[1]):
        cj = c[j]
        x = X[start:stop, j]
        o = out[:, j]
        for i in range(stop - start):  # contiguous 1-D slices: vectorised
            o[i] = (x[i] - cj) * r[i]


@dataclass
class _Hessian:
    """Centred Hessian of one coefficient row's Newton model, kept between steps.

    ``H = (XA - m)' diag(h) (XA - m)`` for the weights ``h`` it was formed
    with (``V = sum h``, ``m`` the h-weighted means). Reusing it for later
    steps (a chord/quasi-Newton model) costs one gradient instead of one
    weighted Gram; the line search keeps every step a descent, and the
    caller refreshes it when convergence slows.
    """

    H: FloatArray
    m: FloatArray
    V: float
    h: FloatArray
    var: FloatArray

    @classmethod
    def fresh(
        cls, XA: FloatArray, h: FloatArray, var: FloatArray, shift: FloatArray | None
    ) -> _Hessian:
        """Form the model at weights ``h``; ``shift`` (columns' means) centres it, or None.

        Rows are taken in chunks that stay in cache: one pass over ``XA`` and
        no n x k temporary. Each chunk is centred at ``shift`` (the data's
        weighted means, close to the h-weighted ones ``m``), and the
        difference is removed exactly by a rank-one term at the end:
        ``(X - m)'H(X - m) = (X - c)'H(X - c) - V (m - c)(m - c)'``, with no
        cancellation since ``m - c`` is of the order of the column spread.
        """
        V = float(h.sum())
        n, k = XA.shape
        c = np.zeros(k) if shift is None else np.ascontiguousarray(shift, dtype=np.float64)
        H = np.zeros((k, k))
        hd = np.zeros(k)
        root = np.sqrt(h)
        step = min(max(_GRAM_CHUNK_ENTRIES // max(k, 1), 64), n)
        buffer = np.empty((step, k), order="F")
        for start in range(0, n, step):
            stop = min(start + step, n)
            C = buffer[: stop - start]
            _scaled_rows(XA, start, stop, c, root, C)
            H += C.T @ C
            hd += root[start:stop] @ C
        if shift is None:
            return cls(H, np.zeros(k), V, h, var)
        d = hd / V
        H -= V * np.outer(d, d)
        return cls(H, c + d, V, h, var)

    def extend(self, XA: FloatArray, fit_intercept: bool) -> None:
        """Add the rows/columns of the buffer's new features (same weights)."""
        k_old = self.H.shape[0]
        k = XA.shape[1]
        if k == k_old:
            return
        Xn = XA[:, k_old:]
        m_new = (self.h @ Xn) / self.V if fit_intercept else np.zeros(k - k_old)
        T = (Xn - m_new[None, :]) * self.h[:, None]
        # (XA - m)' T = XA' T since the columns of T sum to zero (or m = 0)
        block = XA.T @ T
        H = np.empty((k, k))
        H[:k_old, :k_old] = self.H
        H[:, k_old:] = block
        H[k_old:, :k_old] = block[:k_old].T
        self.H = H
        self.m = np.concatenate([self.m, m_new])


def _gram_inner(
    model: _Hessian,
    res: FloatArray,
    g_row: FloatArray,
    g0: float,
    bt: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    tol: float,
) -> tuple[FloatArray, float]:
    """Solve the Newton model on a kept Hessian; return ``(b, delta0)``.

    The model's gradient is the current one (``g_row``, ``g0``); its
    curvature is ``model``'s. Everything is divided by ``V`` into the
    kernel's normalised units (``l1``, ``l2``, ``tol`` arrive so divided).
    """
    V = model.V
    G = model.H / V
    norms = np.diag(G).copy()
    norms[norms < 0] = 0.0
    grad = (g_row - model.m * g0) / V
    c = G @ bt + grad
    # constant of the model: residual sum of squares of the working response
    hn = model.h / V
    e = res / model.var
    e_bar = g0 / V
    rr = max(float(hn @ (e * e)) - e_bar * e_bar, 0.0)
    yy = rr + float(bt @ c) + float(bt @ grad)
    b = bt.copy()
    flags = np.ones(bt.shape[0], dtype=np.bool_)
    kernels.solve_gram(
        G, c, yy, norms, b, grad, flags, flags, l1, l2, False, 0.0, tol, _INNER_MAX_EPOCHS
    )
    return b, e_bar - float(model.m @ (b - bt))


def _residual_inner(
    problem: LogisticProblem,
    ws: _WorkingSet,
    hn: FloatArray,
    e: FloatArray,
    bt: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    tol: float,
) -> tuple[FloatArray, float]:
    """Solve the Newton model by residual CD (wide dense or sparse columns).

    ``hn`` are the Hessian weights normalised to sum 1 and ``e`` the Newton
    residual ``(y - p)/p(1-p)``; returns ``(b, delta0)``.
    """
    XA = ws.XA
    k = ws.size
    fit_intercept = problem.fit_intercept
    e_bar = float(hn @ e) if fit_intercept else 0.0
    r = e - e_bar
    b = bt.copy()
    in_ws = np.ones(k, dtype=np.bool_)
    xb = ws.dot(bt)
    m, norms, _ = column_moments(XA, hn, r, fit_intercept)
    # a live feature whose rows all carry ~0 Hessian weight (saturated
    # samples) would count as dead here and never move: give it a tiny
    # curvature instead (a larger curvature only shortens its CD steps)
    norms = np.maximum(norms, _MODEL_NORM_FLOOR * max(float(norms.max(initial=0.0)), _VAR_TINY))
    yc = r + xb - float(m @ bt)
    grad = np.empty(k)
    if sp.issparse(XA):
        csc: Any = XA
        exact = np.asarray(m * m > 1e4 * norms)
        z = r.copy()
        offset = np.zeros(1)
        kernels.sparse_full_gradient(csc.data, csc.indices, csc.indptr, m, hn, z, 0.0, exact, grad)
        kernels.solve_sparse(
            csc.data,
            csc.indices,
            csc.indptr,
            m,
            hn,
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
            0.0,
            tol,
            _INNER_MAX_EPOCHS,
            exact,
        )
    else:
        r_work = r.copy()
        kernels.dense_full_gradient(XA, m, hn, r_work, grad)
        kernels.solve_dense(
            XA, m, hn, yc, norms, r_work, b, grad, in_ws, l1, l2, False, 0.0, tol, _INNER_MAX_EPOCHS
        )
    return b, e_bar - float(m @ (b - bt))


def _newton_row(
    problem: LogisticProblem,
    state: _State,
    row: int,
    ws: _WorkingSet,
    hessians: list[_Hessian | None],
    refresh: bool,
    g_row: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    inner_tol: float,
) -> float:
    """Take one line-searched proximal Newton step on coefficient row ``row``.

    ``g_row`` is the uncentred gradient ``XA' wn (y - p)`` of the row on the
    working set. The covariance solver keeps the row's Hessian in
    ``hessians[row]`` and reuses it unless ``refresh``. Returns the model's
    predicted decrease of the full step (>= 0), or -1 when no decrease was
    possible (optimal to rounding).
    """
    wn = problem.wn
    res = state.res[row]
    g0 = float(res @ wn) if problem.fit_intercept else 0.0
    bt = state.coef[row, ws.features]
    use_gram = problem.solver == "covariance" and not sp.issparse(ws.XA)
    if use_gram:
        model = hessians[row]
        if refresh or model is None:
            var = _model_var(state.var[row], res)
            h = wn * var
            if not h.sum() > 0:
                return -1.0
            shift = problem.mean_w[ws.features] if problem.fit_intercept else None
            model = _Hessian.fresh(ws.XA, h, var, shift)
            hessians[row] = model
        else:
            model.extend(ws.XA, problem.fit_intercept)
        V = model.V
        b, delta0 = _gram_inner(model, res, g_row, g0, bt, l1 / V, l2 / V, inner_tol / V)
    else:
        var = _model_var(state.var[row], res)
        h = wn * var
        V = float(h.sum())
        if not V > 0:
            return -1.0
        b, delta0 = _residual_inner(
            problem, ws, h / V, res / var, bt, l1 / V, l2 / V, inner_tol / V
        )
    if not problem.fit_intercept:
        delta0 = 0.0
    delta = b - bt
    if not np.any(delta) and delta0 == 0.0:
        return -1.0
    pen_now = _penalty(bt[None, :], l1, l2)
    pen_new = _penalty(b[None, :], l1, l2)
    decrease = -(float(g_row @ delta) + g0 * delta0) + pen_new - pen_now
    if not decrease < 0:
        return -1.0
    d_eta = ws.dot(delta) + delta0
    f0 = state.loss + pen_now
    eta_row = state.eta[row].copy()
    t = 1.0
    for _ in range(_MAX_BACKTRACK):
        state.eta[row] = eta_row + t * d_eta
        loss = state.trial_loss(problem)
        b_try = bt + t * delta
        # rounding noise of the objective is tolerated: near the optimum the
        # gradient still improves where the objective cannot show it
        noise = _ROUNDING * (abs(f0) + 1.0)
        if loss + _penalty(b_try[None, :], l1, l2) <= f0 + _ARMIJO * t * decrease + noise:
            state.coef[row, ws.features] = b_try
            state.intercept[row] += t * delta0
            state.accept_trial(loss)
            return -decrease
        t *= 0.5
    state.eta[row] = eta_row
    return -1.0


def _shift_null_direction(state: _State, ws: _WorkingSet, l1: FloatArray, l2: FloatArray) -> None:
    """Move each multinomial coefficient column along the softmax's null direction.

    Adding ``c_j`` to every class's coefficient ``j`` leaves the probabilities
    unchanged, so the best ``c_j`` minimises the penalty alone (glmnet's
    ``elc``): a free step along the direction that partial Newton sweeps
    resolve slowly. Candidates are the kinks ``B_kj`` and the stationary
    point of each quadratic piece; the best one is taken.
    """
    features = ws.features
    B = state.coef[:, features]  # (K, k)
    K = B.shape[0]
    v = np.sort(B, axis=0)
    total = v.sum(axis=0)
    ratio = np.where(l2 > 0, l1 / np.where(l2 > 0, l2, 1.0), 0.0)
    candidates = [v]
    if np.any(l2 > 0):
        m = np.arange(K + 1)[:, None]
        # stationary point with m columns below c: l1*(m - (K-m)) + l2*(K c - sum) = 0
        c_m = (total[None, :] - ratio[None, :] * (2 * m - K)) / K
        lo = np.vstack([np.full((1, v.shape[1]), -np.inf), v])
        hi = np.vstack([v, np.full((1, v.shape[1]), np.inf)])
        candidates.append(np.clip(c_m, lo, hi))
    cand = np.vstack(candidates)  # (n_cand, k)
    diff = B[None, :, :] - cand[:, None, :]
    cost = l1[None, :] * np.abs(diff).sum(axis=1) + 0.5 * l2[None, :] * (diff * diff).sum(axis=1)
    best = cand[np.argmin(cost, axis=0), np.arange(cand.shape[1])]
    current = l1 * np.abs(B).sum(axis=0) + 0.5 * l2 * (B * B).sum(axis=0)
    gain = current - cost.min(axis=0)
    best = np.where(gain > 1e-15 * (current + 1e-300), best, 0.0)
    if not np.any(best):
        return
    state.coef[:, features] -= best[None, :]
    state.eta -= ws.dot(best)[None, :]


@dataclass
class _BlockHessian:
    """Full multinomial Hessian over ``(intercept, coefficients)`` of every class.

    ``H[(k,a),(l,b)] = sum_i wn_i (P_ik d_kl - P_ik P_il) z_ia z_ib`` with
    ``z = (1, x_A - mean_w)`` (no 1 without an intercept), for the
    probabilities ``P`` it was formed at; kept between steps like
    :class:`_Hessian`, and extended by the columns of entering features.
    """

    H: FloatArray
    n_features: int
    P: FloatArray
    off: int

    @staticmethod
    def _weights(wn: FloatArray, P: FloatArray, ka: int, kb: int) -> FloatArray:
        return np.asarray(wn * (P[ka] * (float(ka == kb) - P[kb])))

    @classmethod
    def fresh(cls, z: FloatArray, P: FloatArray, wn: FloatArray, off: int) -> _BlockHessian:
        K = P.shape[0]
        k1 = z.shape[1]
        H = np.empty((K * k1, K * k1))
        blocks = _class_pairs(K, lambda ka, kb: z.T @ (z * cls._weights(wn, P, ka, kb)[:, None]))
        for (ka, kb), block in blocks.items():
            H[ka * k1 : (ka + 1) * k1, kb * k1 : (kb + 1) * k1] = block
            H[kb * k1 : (kb + 1) * k1, ka * k1 : (ka + 1) * k1] = block.T
        return cls(H, k1 - off, P.copy(), off)

    def extend(self, z: FloatArray, wn: FloatArray) -> None:
        """Add the entering features' rows and columns (same probabilities)."""
        K = self.P.shape[0]
        k1 = z.shape[1]
        k1_old = self.n_features + self.off
        if k1 == k1_old:
            return
        H = np.empty((K * k1, K * k1))
        for ka in range(K):
            for kb in range(K):
                H[ka * k1 : ka * k1 + k1_old, kb * k1 : kb * k1 + k1_old] = self.H[
                    ka * k1_old : (ka + 1) * k1_old, kb * k1_old : (kb + 1) * k1_old
                ]
        z_new = z[:, k1_old:]
        crosses = _class_pairs(
            K, lambda ka, kb: z.T @ (z_new * self._weights(wn, self.P, ka, kb)[:, None])
        )
        for (ka, kb), cross in crosses.items():
            H[ka * k1 : (ka + 1) * k1, kb * k1 + k1_old : (kb + 1) * k1] = cross
            H[kb * k1 + k1_old : (kb + 1) * k1, ka * k1 : (ka + 1) * k1] = cross.T
            if ka != kb:
                H[kb * k1 : (kb + 1) * k1, ka * k1 + k1_old : (ka + 1) * k1] = cross
                H[ka * k1 + k1_old : (ka + 1) * k1, kb * k1 : (kb + 1) * k1] = cross.T
        self.H = H
        self.n_features = k1 - self.off


def _class_pairs(
    K: int, compute: Callable[[int, int], FloatArray]
) -> dict[tuple[int, int], FloatArray]:
    """Return the blocks of every class pair ``ka <= kb``, computing only ``kb < K-1``.

    The softmax Hessian weights of a sample sum to zero over the second
    class (``sum_b P_a (d_ab - P_b) = 0``), so the last class's blocks are
    minus the sums of the others: (K-1)K/2 products instead of K(K+1)/2.
    """
    blocks: dict[tuple[int, int], FloatArray] = {}
    last = K - 1
    for ka in range(last):
        for kb in range(ka, last):
            blocks[(ka, kb)] = compute(ka, kb)
    for ka in range(last):
        total = np.zeros_like(blocks[(0, 0)])
        for kb in range(last):
            total += blocks[(min(ka, kb), max(ka, kb))]
        blocks[(ka, last)] = -total
    total = np.zeros_like(blocks[(0, 0)])
    for ka in range(last):
        total += blocks[(ka, last)]
    blocks[(last, last)] = -total
    return blocks


def _design_z(problem: LogisticProblem, ws: _WorkingSet) -> FloatArray:
    """Return ``z = (1, XA - mean_w)`` (or ``XA`` without an intercept), dense.

    Kept on the working set until it grows.
    """
    cached = ws.z_cache
    if cached is not None and cached.shape[1] == ws.size + int(problem.fit_intercept):
        return cached
    XA: Any = ws.XA
    dense = np.asarray(XA.toarray() if sp.issparse(XA) else XA, dtype=np.float64)
    if not problem.fit_intercept:
        ws.z_cache = dense
        return dense
    z = np.empty((dense.shape[0], dense.shape[1] + 1), order="F")
    z[:, 0] = 1.0
    z[:, 1:] = dense - problem.mean_w[ws.features][None, :]
    ws.z_cache = z
    return z


def _block_newton(
    problem: LogisticProblem,
    state: _State,
    ws: _WorkingSet,
    cache: list[_BlockHessian | None],
    fresh: bool,
    g: FloatArray,
    ubar: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    inner_tol: float,
) -> float:
    """Take one line-searched proximal Newton step on all classes at once.

    The model couples the classes through the softmax Hessian (partial
    Newton, one class at a time, converges linearly when probability mass is
    shared between classes). It is solved by the Gram kernel over the
    ``K * (k + 1)`` coordinates, intercepts unpenalised. ``g`` is the centred
    gradient (K, k) and ``ubar`` the intercept gradient (K,). Returns the
    predicted decrease, or -1 when no decrease was possible.
    """
    K = problem.n_rows
    k = ws.size
    wn = problem.wn
    z = _design_z(problem, ws)
    k1 = z.shape[1]
    off = k1 - k  # 1 with an intercept
    labels = problem.labels
    onehot = np.zeros_like(state.res)
    onehot[labels, np.arange(labels.shape[0])] = 1.0
    P = onehot - state.res
    model = cache[0]
    if fresh or model is None or model.off != off:
        model = _BlockHessian.fresh(z, P, wn, off)
        cache[0] = model
    else:
        model.extend(z, wn)
    G = model.H
    feats = ws.features
    B_t = state.coef[:, feats]
    beta_t = np.empty((K, k1))
    grad = np.empty((K, k1))
    if off:
        beta_t[:, 0] = state.intercept + B_t @ problem.mean_w[feats]
        grad[:, 0] = ubar
    beta_t[:, off:] = B_t
    grad[:, off:] = g
    bt = beta_t.ravel()
    gv = grad.ravel()
    # model constant: Pearson statistic sum_i wn_i sum_k (Y - P)^2 / P (the
    # working residual's squared norm; floored like the binomial curvature)
    P_f = np.maximum(np.maximum(P, _VAR_FLOOR * np.abs(state.res)), _VAR_TINY)
    rr = float(np.sum(wn[None, :] * state.res * state.res / P_f))
    coef_idx = np.concatenate([a * k1 + np.arange(off, k1) for a in range(K)])
    G = model.H[np.ix_(coef_idx, coef_idx)]
    g_b = gv[coef_idx]
    if off:
        # eliminate the intercepts exactly (the centring of the binomial
        # case): the last class's is held fixed, softmax intercepts being
        # defined up to a common shift
        free = np.arange(K - 1) * k1
        H00 = model.H[np.ix_(free, free)]
        H00 = H00 + 1e-12 * max(float(np.max(np.diag(H00))), _VAR_TINY) * np.eye(K - 1)
        Hb0 = model.H[np.ix_(coef_idx, free)]
        solve_00 = np.linalg.solve(H00, np.column_stack([gv[free], Hb0.T]))
        g0_term = solve_00[:, 0]
        G = G - Hb0 @ solve_00[:, 1:]
        g_b = g_b - Hb0 @ g0_term
        rr = max(rr - float(gv[free] @ g0_term), 0.0)
    b_t = bt[coef_idx]
    c = G @ b_t + g_b
    yy = rr + float(b_t @ c) + float(b_t @ g_b)
    norms = np.diag(G).copy()
    norms[norms < 0] = 0.0
    b_new = b_t.copy()
    flags = np.ones(b_t.shape[0], dtype=np.bool_)
    kernels.solve_gram(
        np.ascontiguousarray(G),
        c,
        yy,
        norms,
        b_new,
        g_b.copy(),
        flags,
        flags,
        np.tile(l1, K),
        np.tile(l2, K),
        False,
        0.0,
        inner_tol,
        _INNER_MAX_EPOCHS,
    )
    b = bt.copy()
    b[coef_idx] = b_new
    if off:
        d_coef = b_new - b_t
        b[free] = bt[free] + g0_term - solve_00[:, 1:] @ d_coef
    delta = (b - bt).reshape(K, k1)
    if not np.any(delta):
        return -1.0
    dB = delta[:, off:]
    d0 = delta[:, 0] - dB @ problem.mean_w[feats] if off else np.zeros(K)
    pen_now = _penalty(B_t, l1, l2)
    decrease = -float(gv @ (b - bt)) + _penalty(B_t + dB, l1, l2) - pen_now
    if not decrease < 0:
        return -1.0
    XA = ws.XA
    d_eta = np.asarray((XA @ dB.T).T) + d0[:, None]
    f0 = state.loss + pen_now
    eta0 = state.eta.copy()
    t = 1.0
    noise = _ROUNDING * (abs(f0) + 1.0)
    for _ in range(_MAX_BACKTRACK):
        state.eta = eta0 + t * d_eta
        loss = state.trial_loss(problem)
        B_try = B_t + t * dB
        if loss + _penalty(B_try, l1, l2) <= f0 + _ARMIJO * t * decrease + noise:
            state.coef[:, feats] = B_try
            state.intercept += t * d0
            state.accept_trial(loss)
            return -decrease
        t *= 0.5
    state.eta = eta0
    return -1.0


# --------------------------------------------------------------------------
# One penalty level and the path
# --------------------------------------------------------------------------

# a kept Hessian is refreshed once a step's predicted decrease is more than
# this share of the previous one (linear convergence that is too slow)
_REFRESH_RATIO = 0.1
# certify once a step's predicted decrease is below this multiple of the gap target:
# the remaining suboptimality is then a small fraction of it
_CERTIFY_FACTOR = 100.0
# consecutive steps predicting a decrease below rounding before a fit stalls
_STALL_CHECKS = 3
# multinomial: "block" (one Newton model over all classes) or "partial"
# (glmnet's cycle over classes); see bench/RESULTS.md. The block model holds
# the working-set columns densely: up to this many entries (160 MB)
_MULTINOMIAL_SCHEME = "block"
_BLOCK_DENSE_BUDGET = 20_000_000
# working sets holding this share of the live features are certified on all
_FULL_CHECK_SHARE = 0.5
# tall dense data: working sets holding this share of the features take all
_TAKE_ALL_SHARE = 0.5
# loss scale for the first inner tolerance of an alpha, before any step has
# predicted a decrease (1% of log 2)
_FIRST_STEP_SCALE = 0.01 * float(np.log(2.0))
# working sets up to this size always get a fresh Hessian (n*k^2 is cheap)
_ALWAYS_FRESH_FEATURES = 32


def _solve_alpha(
    problem: LogisticProblem,
    state: _State,
    ws: _WorkingSet,
    hessians: list[_Hessian | None],
    block_cache: list[_BlockHessian | None],
    live: BoolArray,
    in_ws: BoolArray,
    l1: FloatArray,
    l2: FloatArray,
    tol: float,
    gap_floor: float,
    max_iter: int,
    known: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[int, float, float, bool, FloatArray, tuple[FloatArray, FloatArray]]:
    """Solve one penalty level from ``state`` (changed in place).

    Certified when ``gap <= max(tol * primal, gap_floor)`` (see
    :func:`solve_logistic_path`). Only ``live`` features (non-constant,
    penalty scale > 0) may move. ``known`` is the centred gradient of the
    loss at ``state`` over the live features and the intercepts' one, when
    the caller has it (the previous alpha's certificate): the first step
    then needs no pass over X.

    Returns ``(n_newton, primal, gap, converged, grad_abs, known)`` with
    ``grad_abs`` the largest |centred gradient| of each feature over the
    rows (for the next strong rule) and ``known`` the gradients at the
    returned state. ``ws``, ``hessians`` and ``block_cache`` carry over
    between alphas.
    """
    p = problem.X.shape[1]
    all_features = np.flatnonzero(live)
    l1F, l2F = l1[all_features], l2[all_features]
    n_newton = 0
    refresh = False
    # the latest certified gap: it bounds how accurate an inner solve must be
    gap_known = np.inf

    def primal() -> float:
        return state.loss + _penalty(state.coef[:, all_features], l1F, l2F)

    def target() -> float:
        return max(tol * primal(), gap_floor)

    def full_certificate() -> tuple[float, FloatArray, FloatArray, FloatArray]:
        """Gap over every live feature, its gradient, the intercepts' and max |g|."""
        gap, g_all, ubar = _certify(problem, state, problem.X, all_features, l1F, l2F)
        grad_abs = np.zeros(p)
        grad_abs[all_features] = np.max(np.abs(g_all), axis=0)
        return gap, g_all, ubar, grad_abs

    # tall dense data: a working set of most features takes them all, so the
    # Gram model covers X itself (no column copies, no Hessian extensions,
    # and one pass gives the step's gradient and the full certificate)
    take_all = problem.solver == "covariance" and ws.in_place and bool(np.all(live))
    while True:
        if take_all:
            union = in_ws.copy()
            union[ws.features] = True
            if np.count_nonzero(union) >= _TAKE_ALL_SHARE * p:
                in_ws = live.copy()
        reorders = ws.reorders
        ws.add(in_ws & live)
        if ws.reorders != reorders:  # models over the old numbering are stale
            hessians[:] = [None] * len(hessians)
            block_cache[0] = None
        features = ws.features
        l1A, l2A = l1[features], l2[features]
        # multinomial: one Newton model over all classes while the dense
        # working-set columns fit the budget, else a cycle over classes
        use_block = (
            _MULTINOMIAL_SCHEME == "block"
            and problem.n_rows > 1
            and problem.X.shape[0] * (features.size + 1) <= _BLOCK_DENSE_BUDGET
        )
        gram_model = use_block or (problem.solver == "covariance" and not sp.issparse(problem.X))
        # the warm start is not optimal for a new alpha or new features: step
        # first, and certify once a step predicts a decrease below the target
        certify = False
        decrease_prev = np.inf
        negligible = 0
        tighten = 1.0  # shrinks when an inner solve stops before moving
        gap_at_stall = np.inf
        # a working set holding most features: certify on all of them at once
        # (one pass over X instead of two)
        check_all = features.size >= _FULL_CHECK_SHARE * all_features.size
        positions = np.searchsorted(all_features, features)
        # the full certificate of the current state, while it is current
        full: tuple[float, FloatArray, FloatArray, FloatArray] | None = None
        while features.size:
            goal = target()
            if certify and check_all:
                full = full_certificate()
                known = (full[1], full[2])
                gap_known = full[0]
                if gap_known <= goal:
                    return n_newton, primal(), gap_known, True, full[3], known
                outside = np.ones(all_features.size, dtype=np.bool_)
                outside[positions] = False
                if np.any(outside & np.any(np.abs(full[1]) > l1F[None, :], axis=0)):
                    break  # violators: the outer loop adds them
                g, ubar = full[1][:, positions], full[2]
            elif certify:
                gap_ws, g, ubar = _certify(problem, state, ws.XA, features, l1A, l2A)
                gap_known = gap_ws
                if gap_ws <= goal:
                    break
            elif known is not None:  # the state has not moved since
                g, ubar = known[0][:, positions], known[1]
            else:
                g, ubar = _centred_gradient(problem, state, ws.XA, features)
            if n_newton >= max_iter:
                break
            # small working sets: a fresh Hessian costs less than a slow step
            fresh = refresh or features.size <= _ALWAYS_FRESH_FEATURES
            scale_now = min(decrease_prev, gap_known, _FIRST_STEP_SCALE)
            if gram_model:
                scale_now = goal
            inner_tol = _INNER_SHARE * max(goal, tighten * scale_now)
            total = 0.0
            progressed = False
            if use_block:
                predicted = _block_newton(
                    problem, state, ws, block_cache, fresh, g, ubar, l1A, l2A, inner_tol
                )
                progressed = predicted >= 0.0
                total = max(predicted, 0.0)
            for row in range(0 if use_block else problem.n_rows):
                if row == 0:  # the uncentred gradient of row 0 is at hand
                    g_row = g[0] + ubar[0] * problem.mean_w[features]
                else:
                    u_row = (state.res[row] * problem.wn)[None, :]
                    g_row = problem.x_dot(ws.XA, u_row)[0]
                predicted = _newton_row(
                    problem, state, row, ws, hessians, fresh, g_row, l1A, l2A, inner_tol
                )
                if predicted >= 0.0:
                    progressed = True
                    total += predicted
            n_newton += 1
            full = known = None
            if problem.n_rows > 1 and not use_block:
                _shift_null_direction(state, ws, l1A, l2A)
            if not progressed:
                if not fresh:
                    refresh = True  # a kept Hessian failed: retry with a fresh one
                elif tighten * scale_now > goal:
                    tighten *= _INNER_SHARE  # the inner solve stopped too early
                else:
                    break
                certify = True
                continue
            tighten = 1.0
            # a kept Hessian converges linearly: refresh it when that is slow
            refresh = total > _REFRESH_RATIO * decrease_prev
            decrease_prev = total
            # steps that predict less than rounding: precision is exhausted
            # (unless the certified gap still halves: partial Newton sweeps
            # keep sharpening the gradient where the objective is flat)
            negligible = negligible + 1 if total <= _ROUNDING * (state.loss + 1.0) else 0
            if negligible >= _STALL_CHECKS:
                if not gap_known < 0.5 * gap_at_stall:
                    break
                negligible = 0
                gap_at_stall = gap_known
            certify = total <= _CERTIFY_FACTOR * target()
        # the last full certificate still describes the state when the loop
        # broke on its violators
        gap, g_all, ubar_all, grad_abs = full if full is not None else full_certificate()
        known = (g_all, ubar_all)
        gap_known = gap
        if gap <= target():
            return n_newton, primal(), gap, True, grad_abs, known
        violators = np.zeros_like(in_ws)
        violators[all_features] = np.any(np.abs(g_all) > l1F[None, :], axis=0)
        present = np.zeros_like(in_ws)
        present[ws.features] = True
        violators &= ~present
        # without violators the full gap equals the working set's: the
        # Newton loop stopped on max_iter or on a step that could not descend
        if n_newton >= max_iter or not np.any(violators):
            return n_newton, primal(), gap, False, grad_abs, known
        in_ws |= violators


@dataclass(frozen=True)
class LogisticPathResult:
    """Solutions along a logistic path; arrays are indexed by alpha first.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    coefs : ndarray of shape (n_alphas, n_rows, n_features)
    intercepts : ndarray of shape (n_alphas, n_rows)
    dual_gaps : ndarray of shape (n_alphas,)
        Certified duality gap of each solution (objective units).
    n_iters : ndarray of int, shape (n_alphas,)
        Newton iterations (class sweeps for multinomial) at each alpha.
    converged : ndarray of bool, shape (n_alphas,)
    objectives : ndarray of shape (n_alphas,)
        Objective of each solution (weights normalised to sum 1).
    gap_targets : ndarray of shape (n_alphas,)
        Gap each solution had to reach: ``tol`` times its objective, floored
        at rounding level (see :func:`logistic_gap_floor`).
    saturated_share : ndarray of shape (n_alphas,)
        Weighted share of samples whose probability is within ~1e-13 of 0
        or 1 (see :func:`_separation`).
    separated : ndarray of bool, shape (n_alphas,)
        Whether the fit classifies every training sample correctly.
    """

    alphas: FloatArray
    coefs: FloatArray
    intercepts: FloatArray
    dual_gaps: FloatArray
    n_iters: np.ndarray
    converged: np.ndarray
    objectives: FloatArray
    gap_targets: FloatArray
    saturated_share: FloatArray
    separated: np.ndarray


# the gap is a difference of sums of loss-sized terms: below a few ulps of the
# intercept-only loss it is rounding noise
_GAP_FLOOR_ULPS = 16.0


def logistic_gap_floor(problem: LogisticProblem) -> float:
    """Return the smallest duality gap worth asking for: the objective's rounding level.

    ``tol * objective`` is the target; a fit whose objective is nearly zero
    (separable data, a tiny penalty) is certified at a few ulps of the
    intercept-only log loss instead, the precision the gap is computed to.
    """
    return _GAP_FLOOR_ULPS * float(np.finfo(np.float64).eps) * problem.null_loss


def logistic_alpha_max(
    problem: LogisticProblem, penalty_scale: FloatArray, l1_ratio: float
) -> float:
    """Return the smallest alpha whose solution has all coefficients zero.

    ``max_{k,j} |x_j' wn (Y_k - prior_k)| / (s_j * l1_ratio)`` at the
    intercept-only model; ridge uses glmnet's ``l1_ratio = 1e-3``.
    """
    state = _null_state(problem)
    live = problem.live & (penalty_scale > 0)
    if not np.any(live):
        return 0.0
    features = np.flatnonzero(live)
    g, _ = _centred_gradient(problem, state, problem.X, np.arange(problem.X.shape[1]))
    ratio = max(l1_ratio, RIDGE_GRID_L1_RATIO)
    return float(np.max(np.abs(g[:, features]) / penalty_scale[features][None, :]) / ratio)


# single fits on at least this many rows (and rows per feature) start from a
# fit on a ~5% row subsample: a few Newton steps on all rows instead of many
_SUBSAMPLE_MIN_ROWS = 20_000
_SUBSAMPLE_ROWS_PER_FEATURE = 50
_SUBSAMPLE_SHARE = 0.05
_SUBSAMPLE_TOL = 1e-3


def _subsample_start(
    problem: LogisticProblem,
    alpha: float,
    *,
    l1_ratio: float,
    penalty_scale: FloatArray,
    live: BoolArray,
) -> tuple[FloatArray | None, FloatArray | None]:
    """Return a starting point for a single fit: the fit on a row subsample.

    Far from its solution, a single fit spends most Newton steps (each a pass
    over all rows) getting close; on ~5% of the rows (evenly spaced runs of
    consecutive rows, contiguous in either layout) they cost ~5% each. None
    when the data are too small for that to pay.
    """
    n, p = problem.X.shape
    m = max(_SUBSAMPLE_ROWS_PER_FEATURE * p, int(_SUBSAMPLE_SHARE * n))
    if n < _SUBSAMPLE_MIN_ROWS or n < 4 * m:
        return None, None
    rows = row_runs(n, m)
    w_sub = problem.wn[rows]
    labels = problem.labels[rows]
    if not w_sub.sum() > 0 or np.unique(labels[w_sub > 0]).size < 2:
        return None, None
    sub = make_logistic_problem(
        problem.X[rows],
        labels,
        problem.n_classes,
        w_sub,
        fit_intercept=problem.fit_intercept,
        solver=problem.solver,
    )
    scale = np.where(live & sub.live, penalty_scale, 0.0)
    result = solve_logistic_path(
        sub,
        np.array([alpha]),
        l1_ratio=l1_ratio,
        penalty_scale=scale,
        tol=_SUBSAMPLE_TOL,
        max_iter=50,
        coef_init=np.zeros((problem.n_rows, p)),
        diagnostics=False,
    )
    intercept = result.intercepts[0]
    return result.coefs[0], intercept


def _linear_predictor(
    X: FloatArray | sp.csc_matrix, coef: FloatArray, intercept: FloatArray
) -> FloatArray:
    """Return ``coef @ X.T + intercept[:, None]`` of shape (rows, n)."""
    eta = np.asarray((X @ coef.T).T) if sp.issparse(X) else np.asarray(coef @ X.T)
    return np.ascontiguousarray(eta + intercept[:, None])


# margin above which a sample's probability is within ~1e-13 of 0 or 1
SATURATED_MARGIN = 30.0


def _separation(problem: LogisticProblem, state: _State) -> tuple[float, bool]:
    """Return ``(saturated_share, separated)`` of the samples with weight.

    The margin of a sample is its true class's predictor minus the best
    other one. ``saturated_share`` is the weighted share of samples whose
    margin exceeds :data:`SATURATED_MARGIN`; ``separated`` says every
    sample has a positive margin (the training data are perfectly separated).
    """
    keep = problem.wn > 0
    if problem.n_rows == 1:
        margin = np.where(problem.y01 > 0.5, state.eta[0], -state.eta[0])
    else:
        eta = state.eta
        cols = np.arange(eta.shape[1])
        true = eta[problem.labels, cols]
        other = eta.copy()
        other[problem.labels, cols] = -np.inf
        margin = true - other.max(axis=0)
    wn = problem.wn[keep]
    margin = margin[keep]
    if not margin.size:
        return 0.0, False
    share = float(wn @ (margin > SATURATED_MARGIN)) / float(wn.sum())
    return share, bool(np.all(margin > 0))


def solve_logistic_path(
    problem: LogisticProblem,
    alphas: FloatArray,
    *,
    l1_ratio: float,
    penalty_scale: FloatArray,
    tol: float,
    max_iter: int,
    alpha_start: float | None = None,
    coef_init: FloatArray | None = None,
    intercept_init: FloatArray | None = None,
    diagnostics: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> LogisticPathResult:
    """Solve the logistic elastic net at each alpha (descending), warm-starting each.

    Parameters
    ----------
    problem : LogisticProblem
    alphas : ndarray of shape (n_alphas,)
        Penalty levels (> 0), any order (solved descending, returned as given).
    l1_ratio : float
    penalty_scale : ndarray of shape (n_features,)
        ``l1_j = alpha*l1_ratio*s_j``, ``l2_j = alpha*(1-l1_ratio)*s_j**2``;
        0 marks a dead feature (kept at zero).
    tol : float
        Relative precision: a solution is certified when its duality gap, a
        proven bound on how far its objective is above the minimum, is at
        most ``tol`` times its objective (floored at rounding level, see
        :func:`logistic_gap_floor`).
    max_iter : int
        Maximum Newton iterations per alpha.
    alpha_start : float or None
        Alpha whose solution is all-zero (first strong rule); defaults to
        :func:`logistic_alpha_max`.
    coef_init, intercept_init : ndarray of shape (n_rows, n_features) / (n_rows,), or None
        Start from this point instead of the intercept-only model (e.g. the
        mean of the CV folds' solutions); its support seeds the first
        working set, KKT checks add what it missed.
    diagnostics : bool
        Compute the separation diagnostics (one pass per alpha).
    progress : callable or None
        Called as ``progress(done, total)`` after each alpha.
    """
    p = problem.X.shape[1]
    rows = problem.n_rows
    alphas = np.asarray(alphas, dtype=np.float64)
    order = np.argsort(-alphas, kind="stable")
    n_alphas = alphas.shape[0]
    coefs = np.zeros((n_alphas, rows, p))
    intercepts = np.zeros((n_alphas, rows))
    gaps = np.zeros(n_alphas)
    n_iters = np.zeros(n_alphas, dtype=np.int64)
    converged = np.zeros(n_alphas, dtype=bool)
    saturated = np.zeros(n_alphas)
    separated = np.zeros(n_alphas, dtype=bool)
    objectives = np.zeros(n_alphas)
    gap_floor = logistic_gap_floor(problem)
    live = problem.live
    scale = np.where(live, penalty_scale, 0.0)
    live = live & (scale > 0)
    if alpha_start is None:
        alpha_start = logistic_alpha_max(problem, scale, l1_ratio)
    if coef_init is None and n_alphas == 1:
        coef_init, intercept_init = _subsample_start(
            problem, float(alphas[0]), l1_ratio=l1_ratio, penalty_scale=scale, live=live
        )
    state = _null_state(problem)
    warm = coef_init is not None
    if coef_init is not None:
        state.coef = np.where(live[None, :], np.asarray(coef_init, dtype=np.float64), 0.0)
        if intercept_init is not None and problem.fit_intercept:
            state.intercept = np.asarray(intercept_init, dtype=np.float64).copy()
        state.eta = _linear_predictor(problem.X, state.coef, state.intercept)
        state.refresh(problem)
    ws = _WorkingSet(problem)
    hessians: list[_Hessian | None] = [None] * rows
    block_cache: list[_BlockHessian | None] = [None]
    l1_prev = alpha_start * l1_ratio * scale
    g, ubar = _centred_gradient(problem, state, problem.X, np.arange(p))
    grad_abs = np.max(np.abs(g), axis=0)
    # the loss gradient at the state, carried from one alpha to the next
    known = (g[:, live], ubar)
    for done, k in enumerate(order):
        alpha = float(alphas[k])
        l1 = alpha * l1_ratio * scale
        l2 = alpha * (1.0 - l1_ratio) * scale * scale
        support = np.any(state.coef != 0, axis=0)
        if warm and done == 0:
            in_ws = live & support
            # a start holding most features takes them all: every column of a
            # dense X is then used in place (no copy into a working set)
            if np.count_nonzero(in_ws) >= _FULL_CHECK_SHARE * np.count_nonzero(live):
                in_ws = live.copy()
        else:
            in_ws = live & (support | (grad_abs >= 2.0 * l1 - l1_prev))
        n_newton, primal, gap, ok, grad_abs, known = _solve_alpha(
            problem,
            state,
            ws,
            hessians,
            block_cache,
            live,
            in_ws,
            l1,
            l2,
            tol,
            gap_floor,
            max_iter,
            known,
        )
        b0 = state.intercept.copy()
        if rows > 1:  # softmax intercepts are defined up to a constant
            b0 -= b0.mean()
        coefs[k] = state.coef
        intercepts[k] = b0
        gaps[k] = gap
        objectives[k] = primal
        n_iters[k] = n_newton
        converged[k] = ok
        if diagnostics:
            saturated[k], separated[k] = _separation(problem, state)
        l1_prev = l1
        if progress is not None:
            progress(done + 1, n_alphas)
    targets = np.maximum(tol * objectives, gap_floor)
    return LogisticPathResult(
        alphas,
        coefs,
        intercepts,
        gaps,
        n_iters,
        converged,
        objectives,
        targets,
        saturated,
        separated,
    )
