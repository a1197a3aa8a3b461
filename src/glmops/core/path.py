"""Regularisation paths: alpha grid, backends and the warm-started driver.

The driver walks alphas from large to small. At each alpha it seeds the
working set with the sequential strong rule (Tibshirani et al. 2012),
``|g_j| >= 2*l1_j(new) - l1_j(old)`` plus the features already active, and
hands it to a backend kernel that certifies the fit by its duality gap
(``gap <= tol * objective``: the gap bounds the distance to the optimum).
Every backend runs CD epochs in rounds of ``_EPOCHS_BEFORE_NEWTON`` and, when
a round ends uncertified, jumps to the active-set Newton solution of the
current support (:func:`active_set_newton`), so collinear designs, on which
CD alone crawls, converge in a few rounds.

References
----------
Friedman, Hastie & Tibshirani (2010). Regularization paths for generalized
linear models via coordinate descent. J. Stat. Softw. 33(1).
Tibshirani et al. (2012). Strong rules for discarding predictors in
lasso-type problems. JRSS-B 74(2).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve

from glmops._typing import BoolArray, FloatArray
from glmops.core import kernels
from glmops.core.stats import CenteredProblem, column_moments, compute_stats, gram_columns

__all__ = [
    "DenseBackend",
    "GramBackend",
    "PathResult",
    "SparseBackend",
    "alpha_grid",
    "compute_alpha_max",
    "make_backend",
    "predict_support",
    "row_runs",
    "solve_path",
]

# glmnet's convention for the grid of ridge (l1_ratio = 0): use 1e-3 instead
RIDGE_GRID_L1_RATIO = 1e-3
# lazily filled Gram: compute the whole matrix (one syrk) once this share of
# columns is requested; thin gemms cost ~1.1 ms a column where the syrk costs
# ~75 ms at n=100k, p=200, so the break-even is ~35% of the columns
_FULL_GRAM_SHARE = 0.3
# sparse columns with mean^2 above this multiple of their variance are centred exactly
_EXACT_CENTRING_RATIO = 1e4
# CD epochs per round at one alpha; an uncertified round ends in an active-set
# Newton step (fewer rounds: a cold start at a small alpha first thins its support)
_EPOCHS_BEFORE_NEWTON = 50
# zero crossings followed by one active-set Newton step; each costs a k x k
# solve, so a support far from the final one (a cold start at a small alpha)
# is thinned by CD epochs between steps rather than one feature per solve here
_NEWTON_MAX_SEGMENTS = 10
# a Newton block whose Cholesky pivot^2 falls below this share of its largest
# diagonal entry is treated as singular (condition number ~1e10 and above)
_PIVOT_FLOOR = 1e-10
# a null-space part of the Newton right-hand side above this share (squared
# norms; 1e-10 in norm, well above rounding) is a real descent ray
_RAY_FLOOR = 1e-20
# largest support an active-set Newton step factorises (k^3/3 flops: ~0.1 s at 1,000)
_NEWTON_MAX_SUPPORT = 1000
# largest singular (or near-singular) block followed by an eigendecomposition
# (~9 k^3 flops); a larger one is left to CD
_EIGEN_MAX_SUPPORT = 300
# largest n*k block an active-set Newton step of a residual backend builds
_NEWTON_MAX_CELLS = 20_000_000


def compute_alpha_max(c: FloatArray, penalty_scale: FloatArray, l1_ratio: float) -> float:
    """Return the smallest alpha at which all coefficients are zero.

    ``max_j |x_j'Wn(y - ybar)| / (s_j * l1_ratio)`` (Friedman, Hastie &
    Tibshirani 2010) with ``s_j`` the per-feature penalty scale; ridge uses
    glmnet's ``l1_ratio = 1e-3`` for the grid.

    Parameters
    ----------
    c : ndarray of shape (n_features,)
        Weighted, centred ``Xc' Wn yc`` (weights normalised to sum 1).
    penalty_scale : ndarray of shape (n_features,)
        1 for plain fits, the column standard deviation when standardising;
        0 marks a dead feature, which is ignored.
    l1_ratio : float
        L1 share of the penalty, in [0, 1].

    Returns
    -------
    float
        The first alpha of the path (0 when y is constant or X has no live column).
    """
    ratio = max(l1_ratio, RIDGE_GRID_L1_RATIO)
    live = penalty_scale > 0
    if not np.any(live):
        return 0.0
    return float(np.max(np.abs(c[live]) / penalty_scale[live]) / ratio)


def alpha_grid(alpha_max: float, n_alphas: int, eps: float) -> FloatArray:
    """Return ``n_alphas`` values log-spaced from ``alpha_max`` down to ``eps*alpha_max``.

    A degenerate ``alpha_max`` (constant y) gives scikit-learn's grid of
    ``finfo(float).resolution`` values, on which every fit is zero.
    """
    resolution = float(np.finfo(np.float64).resolution)
    if alpha_max <= resolution:
        return np.full(n_alphas, resolution)
    if n_alphas == 1:
        return np.array([alpha_max])
    return np.geomspace(alpha_max, alpha_max * eps, num=n_alphas)


class Backend(Protocol):
    """A data representation that a CD kernel can solve on."""

    @property
    def n_features(self) -> int:
        """Number of columns."""

    @property
    def mean_x(self) -> FloatArray:
        """Column centres (zeros without an intercept)."""

    @property
    def mean_y(self) -> float:
        """Target centre."""

    @property
    def yy(self) -> float:
        """``yc' Wn yc``: the scale of the relative tolerance."""

    @property
    def norms(self) -> FloatArray:
        """``Xc_j' Wn Xc_j``; 0 marks a dead (constant) column."""

    @property
    def c(self) -> FloatArray:
        """``Xc' Wn yc``: the gradient at zero."""

    def reset(self) -> None:
        """Set the coefficients and the solver state back to zero."""

    @property
    def coef(self) -> FloatArray:
        """Current coefficients (owned by the backend, changed by solve)."""

    @property
    def grad(self) -> FloatArray:
        """Gradient ``Xc' Wn r`` at the current coefficients, all features."""

    def solve(
        self,
        in_ws: BoolArray,
        l1: FloatArray,
        l2: FloatArray,
        positive: bool,
        tol_rel: float,
        tol_abs: float,
        max_iter: int,
    ) -> tuple[int, float, float, int]:
        """Run the kernel at one penalty; return ``(n_epochs, primal, gap, status)``."""


class _NewtonRounds(ABC):
    """The shared control of every backend: CD rounds, active-set Newton between them.

    ``solve`` runs ``_epochs`` (the kernel) for at most ``_EPOCHS_BEFORE_NEWTON``
    epochs at a time; a round that ends uncertified is followed by
    ``_newton_step``, which counts as one pass towards ``max_iter``.
    """

    def solve(
        self,
        in_ws: BoolArray,
        l1: FloatArray,
        l2: FloatArray,
        positive: bool,
        tol_rel: float,
        tol_abs: float,
        max_iter: int,
    ) -> tuple[int, float, float, int]:
        """Run the kernel at one penalty; return ``(n_epochs, primal, gap, status)``."""
        total_epochs = 0
        while True:
            budget = min(max_iter - total_epochs, _EPOCHS_BEFORE_NEWTON)
            n_epochs, primal, gap, status = self._epochs(
                in_ws, l1, l2, positive, tol_rel, tol_abs, budget
            )
            total_epochs += n_epochs
            if status == kernels.STATUS_CONVERGED or total_epochs >= max_iter:
                return total_epochs, primal, gap, status
            self._newton_step(l1, l2, positive)
            total_epochs += 1  # a Newton step counts as one pass towards max_iter

    @abstractmethod
    def _epochs(
        self,
        in_ws: BoolArray,
        l1: FloatArray,
        l2: FloatArray,
        positive: bool,
        tol_rel: float,
        tol_abs: float,
        max_iter: int,
    ) -> tuple[int, float, float, int]:
        """Run at most ``max_iter`` CD epochs of the backend's kernel."""

    @abstractmethod
    def _newton_step(self, l1: FloatArray, l2: FloatArray, positive: bool) -> None:
        """Replace the support's coefficients by their active-set Newton solution."""


class GramBackend(_NewtonRounds):
    """Covariance updates on ``G = Xc' Wn Xc``, full or filled lazily by column."""

    def __init__(
        self,
        problem: CenteredProblem,
        *,
        column_source: Callable[[np.ndarray], FloatArray] | None = None,
    ) -> None:
        self.n_features = problem.c.shape[0]
        self.mean_x = problem.mean_x
        self.mean_y = problem.mean_y
        self.yy = problem.yy
        self.norms = problem.norms
        self.c = problem.c
        self.G = problem.G
        self._column_source = column_source
        self.has_column = np.full(self.n_features, column_source is None)
        self._b = np.zeros(self.n_features)
        self._grad = self.c.copy()

    @classmethod
    def lazy(
        cls,
        X: FloatArray | sp.spmatrix,
        sample_weight: FloatArray | None,
        wn: FloatArray,
        yc: FloatArray,
        mean_x: FloatArray,
        mean_y: float,
        norms: FloatArray,
        c: FloatArray,
        fit_intercept: bool,
    ) -> GramBackend:
        """Build a backend whose Gram columns are computed on first use.

        Columns cost ``n*p`` each (gemm); once more than ``_FULL_GRAM_SHARE``
        of them are wanted the whole matrix is computed by syrk instead.
        """
        p = X.shape[1]
        problem = CenteredProblem(np.zeros((p, p)), c, float(wn @ (yc * yc)), mean_x, mean_y, norms)

        def columns(J: np.ndarray) -> FloatArray:
            if J.size > _FULL_GRAM_SHARE * p:
                shift = mean_x if fit_intercept else np.zeros(p)
                stats = compute_stats(X, yc, sample_weight, shift, 0.0)
                return stats.centered(fit_intercept).G[:, J]
            return gram_columns(X, wn, mean_x, norms, J)

        return cls(problem, column_source=columns)

    def reset(self) -> None:
        self._b[:] = 0.0
        self._grad[:] = self.c

    @property
    def coef(self) -> FloatArray:
        return self._b

    @property
    def grad(self) -> FloatArray:
        return self._grad

    def _fill_columns(self, wanted: BoolArray) -> None:
        if self._column_source is None:  # a full Gram matrix: nothing to fetch
            return
        missing = np.flatnonzero(wanted & ~self.has_column)
        if missing.size == 0:
            return
        if (self.has_column.sum() + missing.size) > _FULL_GRAM_SHARE * self.n_features:
            missing = np.flatnonzero(~self.has_column)  # the source switches to syrk
        block = self._column_source(missing)
        self.G[:, missing] = block
        self.G[missing, :] = block.T
        self.has_column[missing] = True

    def _epochs(
        self,
        in_ws: BoolArray,
        l1: FloatArray,
        l2: FloatArray,
        positive: bool,
        tol_rel: float,
        tol_abs: float,
        max_iter: int,
    ) -> tuple[int, float, float, int]:
        total_epochs = 0
        while True:
            self._fill_columns(in_ws)
            n_epochs, primal, gap, status = kernels.solve_gram(
                self.G,
                self.c,
                self.yy,
                self.norms,
                self._b,
                self._grad,
                in_ws,
                self.has_column,
                l1,
                l2,
                positive,
                tol_rel,
                tol_abs,
                max_iter - total_epochs,
            )
            total_epochs += n_epochs
            if status != kernels.STATUS_NEED_COLUMNS:
                return total_epochs, primal, gap, status

    def _newton_step(self, l1: FloatArray, l2: FloatArray, positive: bool) -> None:
        """Replace the current support's coefficients by their active-set Newton solution."""
        active = np.flatnonzero(self._b)
        if active.size == 0 or active.size > _NEWTON_MAX_SUPPORT:
            return
        H = self.G[np.ix_(active, active)] + np.diag(l2[active])
        new = active_set_newton(H, self.c[active], l1[active], self._b[active], positive)
        if new is None:
            return
        self._b[active] = new
        self._grad[:] = self.c - self.G[:, active] @ new


def active_set_newton(
    H: FloatArray, c: FloatArray, l1: FloatArray, b: FloatArray, positive: bool
) -> FloatArray | None:
    """Return the minimiser of the problem restricted to ``b``'s support, or None.

    CD converges linearly, and crawls on collinear columns. Once it has found
    the support, ``H b = c - l1*sign(b)`` (``H = G_AA + diag(l2_A)``) is the
    exact solution. When a coefficient would change sign the step stops at the
    first zero crossing, that feature leaves the support and the system is
    solved again (a primal active-set method: each segment lowers the
    objective, which is the quadratic of the sign pattern there), for at most
    ``_NEWTON_MAX_SEGMENTS`` segments. A singular
    block (exactly collinear columns, no ridge) is followed along its null
    space, where the objective falls linearly, to the first crossing. Returns
    None when the result does not lower ``1/2 b'Hb - c'b + l1'|b|``.

    Parameters
    ----------
    H : ndarray of shape (k, k)
        ``G_AA + diag(l2_A)`` of the support (positive semi-definite).
    c, l1, b : ndarray of shape (k,)
        ``Xc_A' Wn yc``, the L1 penalties and the current (non-zero) coefficients.
    positive : bool
        Whether coefficients are constrained to be non-negative.
    """
    sign = np.sign(b)
    x = b.copy()
    free = np.flatnonzero(x)
    for _ in range(min(b.shape[0], _NEWTON_MAX_SEGMENTS)):
        target, is_ray = _newton_target(
            H[np.ix_(free, free)], c[free] - l1[free] * sign[free], x[free]
        )
        if target is None:
            return None
        step = target if is_ray else target - x[free]
        crossing = (x[free] * step < 0) if is_ray else (np.sign(target) != sign[free])
        if not np.any(crossing):
            if is_ray:
                return None
            x[free] = target
            break
        ratios = -x[free][crossing] / step[crossing]
        first = int(np.argmin(ratios))
        x[free] += float(ratios[first]) * step
        x[free[np.flatnonzero(crossing)[first]]] = 0.0
        x[free[np.sign(x[free]) != sign[free]]] = 0.0  # ties at the same crossing
        free = np.flatnonzero(x)
        if free.size == 0:
            break
    if positive:
        x = np.maximum(x, 0.0)

    def objective(v: FloatArray) -> float:
        return float(0.5 * (v @ (H @ v)) - c @ v + l1 @ np.abs(v))

    if not objective(x) < objective(b):
        return None
    return x


def _newton_target(H: FloatArray, g: FloatArray, x: FloatArray) -> tuple[FloatArray | None, bool]:
    """Return ``(t, False)`` with ``H t = g``, or ``(d, True)`` for a descent ray.

    A well-conditioned ``H`` (Cholesky pivots above ``_PIVOT_FLOOR`` of its
    diagonal) is solved directly. Otherwise its eigenvectors split it: when
    ``g`` has a component ``d`` in the null space, the quadratic
    ``1/2 t'Ht - g't`` decreases without bound along ``d`` (returned as a
    ray); else the solution closest to the current point ``x`` (``x``'s
    null-space part kept) is a minimiser, and the step ``t - x`` never moves
    along the null space, where rounding leaves the quadratic slightly tilted.
    """
    try:
        factor = cho_factor(H, check_finite=False)
        pivots = np.diag(factor[0])
        if pivots.min() ** 2 > _PIVOT_FLOOR * float(np.max(np.diag(H))):
            t = cho_solve(factor, g, check_finite=False)
            return (t, False) if np.all(np.isfinite(t)) else (None, False)
    except np.linalg.LinAlgError:
        pass
    if H.shape[0] > _EIGEN_MAX_SUPPORT:
        return None, False
    lam, V = np.linalg.eigh(H)
    if not np.all(np.isfinite(lam)) or lam[-1] <= 0.0:
        return None, False
    null = lam <= _PIVOT_FLOOR * lam[-1]
    coords = V.T @ g
    d = V[:, null] @ coords[null]
    if float(d @ d) > _RAY_FLOOR * float(g @ g):
        return d, True
    keep = ~null
    return V[:, keep] @ (coords[keep] / lam[keep]) + V[:, null] @ (V[:, null].T @ x), False


class _ResidualBackend(_NewtonRounds):
    """State shared by the residual kernels: coefficients, gradient, residual.

    The residual is ``r = yc - Xc b`` (the sparse kernel keeps it as
    ``z + offset``); ``reset`` returns everything to ``b = 0``.
    """

    def __init__(
        self,
        n_features: int,
        wn: FloatArray,
        yc: FloatArray,
        mean_x: FloatArray,
        mean_y: float,
        norms: FloatArray,
        c: FloatArray,
    ) -> None:
        self.wn = wn
        self.yc = yc
        self.n_features = n_features
        self.mean_x = mean_x
        self.mean_y = mean_y
        self.norms = norms
        self.yy = float(wn @ (yc * yc))
        self.c = c
        self._b = np.zeros(n_features)
        self._grad = c.copy()
        self._r = yc.copy()
        self._offset = np.zeros(1)

    def reset(self) -> None:
        self._b[:] = 0.0
        self._grad[:] = self.c
        self._r[:] = self.yc
        self._offset[0] = 0.0

    @property
    def coef(self) -> FloatArray:
        return self._b

    @property
    def grad(self) -> FloatArray:
        return self._grad

    @abstractmethod
    def _centred_columns(self, active: np.ndarray) -> FloatArray:
        """Return ``Xc[:, active]`` as a dense float64 block."""

    @abstractmethod
    def _set_residual(self, r: FloatArray) -> None:
        """Make ``r`` the residual and refresh the full gradient."""

    def _newton_step(self, l1: FloatArray, l2: FloatArray, positive: bool) -> None:
        """Jump to the active-set Newton solution of the current support.

        Costs ``n k^2`` for a support of ``k`` (the block's Gram matrix) plus
        one full gradient; skipped when the block would not fit
        ``_NEWTON_MAX_CELLS``.
        """
        active = np.flatnonzero(self._b)
        n = self.wn.shape[0]
        if active.size == 0 or active.size > _NEWTON_MAX_SUPPORT:
            return
        # a support wider than the rows is singular without a ridge (only the
        # eigen route could follow it, at k^3 cost): CD thins it first
        if active.size > n and not np.all(l2[active] > 0.0):
            return
        if active.size * n > _NEWTON_MAX_CELLS:
            return
        XA = self._centred_columns(active)
        WXA = XA * self.wn[:, None]
        H = XA.T @ WXA + np.diag(l2[active])
        new = active_set_newton(H, WXA.T @ self.yc, l1[active], self._b[active], positive)
        if new is None:
            return
        self._b[active] = new
        self._set_residual(self.yc - XA @ new)


class DenseBackend(_ResidualBackend):
    """Residual updates on Fortran-ordered dense columns, implicit centring."""

    def __init__(
        self,
        X: FloatArray,
        wn: FloatArray,
        yc: FloatArray,
        mean_x: FloatArray,
        mean_y: float,
        norms: FloatArray,
        c: FloatArray,
    ) -> None:
        super().__init__(X.shape[1], wn, yc, mean_x, mean_y, norms, c)
        self.X = np.asfortranarray(X)

    def _centred_columns(self, active: np.ndarray) -> FloatArray:
        block: FloatArray = np.asarray(self.X[:, active], dtype=np.float64) - self.mean_x[active]
        return block

    def _set_residual(self, r: FloatArray) -> None:
        self._r[:] = r
        kernels.dense_full_gradient(self.X, self.mean_x, self.wn, self._r, self._grad)

    def _epochs(
        self,
        in_ws: BoolArray,
        l1: FloatArray,
        l2: FloatArray,
        positive: bool,
        tol_rel: float,
        tol_abs: float,
        max_iter: int,
    ) -> tuple[int, float, float, int]:
        return kernels.solve_dense(
            self.X,
            self.mean_x,
            self.wn,
            self.yc,
            self.norms,
            self._r,
            self._b,
            self._grad,
            in_ws,
            l1,
            l2,
            positive,
            tol_rel,
            tol_abs,
            max_iter,
        )


class SparseBackend(_ResidualBackend):
    """Residual updates on CSC columns; centring is a scalar offset, never dense."""

    def __init__(
        self,
        X: sp.csc_matrix,
        wn: FloatArray,
        yc: FloatArray,
        mean_x: FloatArray,
        mean_y: float,
        norms: FloatArray,
        c: FloatArray,
    ) -> None:
        super().__init__(X.shape[1], wn, yc, mean_x, mean_y, norms, c)
        self.X = X
        # columns whose mean dwarfs their spread: the scalar-offset centring
        # would cancel, so the kernel centres them row by row
        self._exact = np.asarray(mean_x * mean_x > _EXACT_CENTRING_RATIO * norms)

    def _centred_columns(self, active: np.ndarray) -> FloatArray:
        block: FloatArray = np.asarray(self.X[:, active].toarray(), dtype=np.float64)
        block -= self.mean_x[active]
        return block

    def _set_residual(self, r: FloatArray) -> None:
        self._r[:] = r  # the sparse kernel's z, with no offset
        self._offset[0] = 0.0
        X = self.X
        kernels.sparse_full_gradient(
            X.data, X.indices, X.indptr, self.mean_x, self.wn, self._r, 0.0, self._exact, self._grad
        )

    def _epochs(
        self,
        in_ws: BoolArray,
        l1: FloatArray,
        l2: FloatArray,
        positive: bool,
        tol_rel: float,
        tol_abs: float,
        max_iter: int,
    ) -> tuple[int, float, float, int]:
        return kernels.solve_sparse(
            self.X.data,
            self.X.indices,
            self.X.indptr,
            self.mean_x,
            self.wn,
            self.yc,
            self.norms,
            self._r,
            self._offset,
            self._b,
            self._grad,
            in_ws,
            l1,
            l2,
            positive,
            tol_rel,
            tol_abs,
            max_iter,
            self._exact,
        )


SOLVERS = ("auto", "covariance", "naive")
# p at or below which the covariance method is picked when n >= p
_GRAM_MAX_FEATURES = 3000


def choose_solver(n_samples: int, n_features: int, solver: str) -> str:
    """Resolve ``solver="auto"``: covariance for tall data, residual updates for wide."""
    if solver != "auto":
        return solver
    if n_samples >= n_features and n_features <= _GRAM_MAX_FEATURES:
        return "covariance"
    return "naive"


def make_backend(
    X: FloatArray | sp.spmatrix,
    y: FloatArray,
    sample_weight: FloatArray | None,
    *,
    fit_intercept: bool,
    solver: str,
    lazy_gram: bool,
) -> Backend:
    """Build the backend for in-memory data (dense or sparse).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
        Validated design (float64 or float32); not modified or copied when
        its layout already suits the kernel.
    y : ndarray of shape (n,), float64
    sample_weight : ndarray of shape (n,) or None
    fit_intercept : bool
    solver : {"covariance", "naive"}
        Resolved solver (see :func:`choose_solver`).
    lazy_gram : bool
        Fill the Gram matrix by column as features enter (single fits) rather
        than computing it whole first (paths).
    """
    n = X.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    wn = w / w.sum()
    mean_y = float(wn @ y) if fit_intercept else 0.0
    yc = y - mean_y
    if solver == "covariance" and not lazy_gram:
        # one syrk pass gives the means, the norms and the whole Gram matrix
        shift = None if fit_intercept else np.zeros(X.shape[1])
        stats = compute_stats(X, y, sample_weight, shift, mean_y)
        return GramBackend(stats.centered(fit_intercept))
    mean_x, norms, c = column_moments(X, wn, yc, fit_intercept)
    if solver == "covariance":
        return GramBackend.lazy(X, sample_weight, wn, yc, mean_x, mean_y, norms, c, fit_intercept)
    if sp.issparse(X):
        Xcsc = sp.csc_matrix(X)
        if not Xcsc.has_canonical_format:  # never reorder the caller's arrays
            Xcsc = Xcsc.copy()
            Xcsc.sum_duplicates()
        return SparseBackend(Xcsc, wn, yc, mean_x, mean_y, norms, c)
    return DenseBackend(np.asarray(X), wn, yc, mean_x, mean_y, norms, c)


@dataclass(frozen=True)
class PathResult:
    """Solutions along a path; arrays are indexed by alpha first.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    coefs : ndarray of shape (n_alphas, n_features)
    intercepts : ndarray of shape (n_alphas,)
    dual_gaps : ndarray of shape (n_alphas,)
        Certified duality gap of each solution (objective units).
    n_iters : ndarray of int, shape (n_alphas,)
        CD epochs spent at each alpha.
    converged : ndarray of bool, shape (n_alphas,)
    objectives : ndarray of shape (n_alphas,)
        Objective of each solution (the centred problem, weights summing to 1).
    gap_targets : ndarray of shape (n_alphas,)
        Gap each solution had to reach: ``tol`` times its objective, floored
        at rounding level.
    """

    alphas: FloatArray
    coefs: FloatArray
    intercepts: FloatArray
    dual_gaps: FloatArray
    n_iters: np.ndarray
    converged: np.ndarray
    objectives: FloatArray
    gap_targets: FloatArray


def solve_path(
    backend: Backend,
    alphas: FloatArray,
    *,
    l1_ratio: float,
    penalty_scale: FloatArray,
    positive: bool,
    tol: float,
    max_iter: int,
    alpha_start: float | None = None,
    initial_working_set: BoolArray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PathResult:
    """Solve the elastic net at each alpha (descending), warm-starting each.

    Parameters
    ----------
    backend : Backend
        Data representation; its state is reset first.
    alphas : ndarray of shape (n_alphas,)
        Penalty levels, any order (solved descending, returned in given order).
    l1_ratio : float
    penalty_scale : ndarray of shape (n_features,)
        Per-feature penalty scale ``s_j`` (``l1_j = alpha*l1_ratio*s_j``,
        ``l2_j = alpha*(1-l1_ratio)*s_j**2``); 0 marks a dead feature.
    positive : bool
    tol : float
        Relative gap target: certified when ``gap <= tol * objective`` (the
        gap bounds the objective's distance to the optimum).
    max_iter : int
        Maximum CD epochs per alpha.
    alpha_start : float or None
        Alpha whose solution is all-zero (for the first strong rule); defaults
        to the alpha_max of the data.
    initial_working_set : ndarray of bool or None
        Replaces the strong rule at the first alpha (see
        :func:`predict_support`); KKT checks still add any feature it missed.
    progress : callable or None
        Called as ``progress(done, total)`` after each alpha.
    """
    backend.reset()
    p = backend.n_features
    alphas = np.asarray(alphas, dtype=np.float64)
    order = np.argsort(-alphas, kind="stable")
    n_alphas = alphas.shape[0]
    coefs = np.zeros((n_alphas, p))
    gaps = np.zeros(n_alphas)
    n_iters = np.zeros(n_alphas, dtype=np.int64)
    converged = np.zeros(n_alphas, dtype=bool)
    objectives = np.zeros(n_alphas)
    tol_abs = gap_floor(backend.yy, backend.mean_y)
    live = backend.norms > 0
    scale = np.where(live, penalty_scale, 0.0)
    if alpha_start is None:
        alpha_start = compute_alpha_max(backend.c, np.where(live, scale, 0.0), l1_ratio)
    l1_prev = alpha_start * l1_ratio * scale
    for done, k in enumerate(order):
        alpha = float(alphas[k])
        l1 = alpha * l1_ratio * scale
        l2 = alpha * (1.0 - l1_ratio) * scale * scale
        grad = backend.grad
        b = backend.coef
        signed = grad if positive else np.abs(grad)
        if done == 0 and initial_working_set is not None:
            in_ws = live & initial_working_set
        else:
            in_ws = live & ((b != 0) | (signed >= 2.0 * l1 - l1_prev))
        n_epochs, primal, gap, status = backend.solve(
            in_ws, l1, l2, positive, tol, tol_abs, max_iter
        )
        coefs[k] = backend.coef
        objectives[k] = primal
        gaps[k] = max(gap, 0.0)  # rounding can leave -1e-15; weak duality says >= 0
        n_iters[k] = n_epochs
        converged[k] = status == kernels.STATUS_CONVERGED
        l1_prev = l1
        if progress is not None:
            progress(done + 1, n_alphas)
    intercepts = backend.mean_y - coefs @ backend.mean_x
    targets = np.maximum(tol * objectives, tol_abs)
    return PathResult(alphas, coefs, intercepts, gaps, n_iters, converged, objectives, targets)


# residuals of a constant fit are exact only to a few ulps of the mean of y
_ROUNDING_ULPS = 16.0


def gap_floor(yy: float, mean_y: float) -> float:
    """Smallest duality gap worth asking for: the rounding level of the objective.

    The gap is a difference of objective-sized terms computed from ``yy``,
    so it is only known to a few ulps of ``yy``; a near-perfect fit (objective
    close to 0) is certified at that level. When y is (nearly) constant ``yy``
    is zero or underflows while the residuals still carry a few ulps of y: the
    floor then is the squared rounding error of y's scale (``yy + mean_y**2``),
    and never below the smallest subnormal (an exact zero).
    """
    eps = float(np.finfo(np.float64).eps)
    constant_y = (_ROUNDING_ULPS * eps) ** 2 * (yy + mean_y * mean_y)
    return max(
        _ROUNDING_ULPS * eps * yy, constant_y, float(np.finfo(np.float64).smallest_subnormal)
    )


# support prediction: subsample size (rows) relative to p and n, and the share
# of the l1 threshold a gradient must reach to be fetched with the support
_SUPPORT_ROWS_PER_FEATURE = 20
_SUPPORT_ROW_SHARE = 0.05
_SUPPORT_MARGIN = 0.9
_WARMUP_ALPHAS_PER_DECADE = 5


def row_runs(n: int, m: int, n_runs: int = 16) -> np.ndarray:
    """Return about ``m`` row indices in ``n_runs`` evenly spaced runs of consecutive rows.

    A subsample that reads contiguously in either layout (a random row
    gather from a Fortran array touches all of X).
    """
    run = m // n_runs
    starts = np.linspace(0, n - run, n_runs).astype(np.intp)
    return np.asarray((starts[:, None] + np.arange(run)[None, :]).ravel())


def predict_support(
    X: FloatArray | sp.spmatrix,
    y: FloatArray,
    sample_weight: FloatArray | None,
    alpha: float,
    *,
    l1_ratio: float,
    penalty_scale: FloatArray,
    positive: bool,
    fit_intercept: bool,
) -> BoolArray | None:
    """Guess the support at ``alpha`` by solving on a row subsample.

    A single fit at a small alpha defeats the sequential strong rule (one step
    from alpha_max admits every feature), so a lazily filled Gram matrix
    would be computed whole. Solving the same problem on ~5% of the rows
    costs ~5% of one ``X'X`` and predicts the support; its Gram columns are
    then fetched in one batch, and KKT checks on the full data add anything
    missed. Returns None when the data are too small for this to pay.
    """
    n, p = X.shape
    m = max(_SUPPORT_ROWS_PER_FEATURE * p, int(_SUPPORT_ROW_SHARE * n))
    if n < 4 * m or l1_ratio == 0.0:
        return None
    rows = row_runs(n, m)
    w_sub = None if sample_weight is None else sample_weight[rows]
    if w_sub is not None and not w_sub.sum() > 0:
        return None
    sub = make_backend(
        X[rows], y[rows], w_sub, fit_intercept=fit_intercept, solver="covariance", lazy_gram=False
    )
    scale = np.where(sub.norms > 0, penalty_scale, 0.0)
    alpha_max = compute_alpha_max(sub.c, scale, l1_ratio)
    if alpha >= alpha_max:
        return np.zeros(p, dtype=bool)
    n_steps = max(2, int(np.ceil(_WARMUP_ALPHAS_PER_DECADE * np.log10(alpha_max / alpha))) + 1)
    solve_path(
        sub,
        np.geomspace(alpha_max, alpha, n_steps),
        l1_ratio=l1_ratio,
        penalty_scale=scale,
        positive=positive,
        tol=1e-4,
        max_iter=1000,
        alpha_start=alpha_max,
    )
    l1 = alpha * l1_ratio * penalty_scale
    signed = sub.grad if positive else np.abs(sub.grad)
    return np.asarray((sub.coef != 0) | (signed >= _SUPPORT_MARGIN * l1))
