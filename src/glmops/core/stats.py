"""Sufficient statistics of weighted least squares, and the Gram matrix.

For the squared loss, ``(X'WX, X'Wy, y'Wy, W, means)`` is all the solver
needs. :class:`SufficientStats` keeps them *about a fixed shift* (normally the
global means), so statistics of disjoint row blocks add up exactly, a fold is
``total - block`` and centring never suffers catastrophic cancellation.

Raw moments are computed with one BLAS pass (``X'X`` by syrk) and shifted
afterwards; when a column's mean dwarfs its spread (shifting would lose more
than four digits) the block is recomputed by centring row chunks first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp
from numba import njit

from glmops._typing import FloatArray, IntArray

__all__ = [
    "CenteredProblem",
    "SufficientStats",
    "column_moments",
    "compute_stats",
    "dead_feature_mask",
    "gram_columns",
]

# shifting raw moments may lose at most this relative precision before the
# chunked, centre-first computation is used instead (1e-4 keeps >= 12 digits)
_CANCELLATION_RATIO = 1e-4
# a column whose weighted variance is below this fraction of its raw second
# moment is constant at double precision
_DEAD_RATIO = 1e-26
_CHUNK_ELEMENTS = 1 << 20
_F = TypeVar("_F", bound=Callable[..., Any])
# row blocks of ~2 MiB: a block is still in cache for its second product
_CACHE_BLOCK_ELEMENTS = 1 << 18


def _ignore_fp_errors(func: _F) -> _F:
    """Run ``func`` with numpy floating-point warnings off.

    Statistics of data holding NaN/inf are non-finite; callers check the
    results and raise a message that names the input, instead of a warning.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class CenteredProblem:
    """The centred, weight-normalised quadratic the Gram solver minimises.

    ``G = Xc' Wn Xc``, ``c = Xc' Wn yc``, ``yy = yc' Wn yc`` with ``Wn = W/sum(W)``;
    ``mean_x``/``mean_y`` are the centres (zeros without an intercept).
    """

    G: FloatArray
    c: FloatArray
    yy: float
    mean_x: FloatArray
    mean_y: float
    norms: FloatArray


@dataclass(frozen=True)
class SufficientStats:
    """Weighted moments of ``(x - x_shift, y - y_shift)`` over a set of rows.

    Attributes
    ----------
    x_shift : ndarray of shape (p,)
    y_shift : float
    w_sum : float
        Sum of weights.
    n_samples : int
    sx : ndarray of shape (p,)
        ``sum w (x - x_shift)``.
    sy : float
        ``sum w (y - y_shift)``.
    sxx : ndarray of shape (p, p)
        ``sum w (x - x_shift)(x - x_shift)'``.
    sxy : ndarray of shape (p,)
        ``sum w (x - x_shift)(y - y_shift)``.
    syy : float
        ``sum w (y - y_shift)^2``.
    """

    x_shift: FloatArray
    y_shift: float
    w_sum: float
    n_samples: int
    sx: FloatArray
    sy: float
    sxx: FloatArray
    sxy: FloatArray
    syy: float

    def _check_compatible(self, other: SufficientStats) -> None:
        if self.y_shift != other.y_shift or not np.array_equal(self.x_shift, other.x_shift):
            raise ValueError("SufficientStats with different shifts cannot be combined.")

    def __add__(self, other: SufficientStats) -> SufficientStats:
        self._check_compatible(other)
        return SufficientStats(
            self.x_shift,
            self.y_shift,
            self.w_sum + other.w_sum,
            self.n_samples + other.n_samples,
            self.sx + other.sx,
            self.sy + other.sy,
            self.sxx + other.sxx,
            self.sxy + other.sxy,
            self.syy + other.syy,
        )

    def __sub__(self, other: SufficientStats) -> SufficientStats:
        self._check_compatible(other)
        return SufficientStats(
            self.x_shift,
            self.y_shift,
            self.w_sum - other.w_sum,
            self.n_samples - other.n_samples,
            self.sx - other.sx,
            self.sy - other.sy,
            self.sxx - other.sxx,
            self.sxy - other.sxy,
            self.syy - other.syy,
        )

    @property
    def mean_x(self) -> FloatArray:
        """Weighted column means."""
        return self.x_shift + self.sx / self.w_sum

    @property
    def mean_y(self) -> float:
        """Weighted mean of y."""
        return float(self.y_shift + self.sy / self.w_sum)

    @_ignore_fp_errors
    def centered(self, fit_intercept: bool) -> CenteredProblem:
        """Return the weight-normalised problem, centred when ``fit_intercept``."""
        w = self.w_sum
        if fit_intercept:
            G = (self.sxx - np.outer(self.sx, self.sx) / w) / w
            c = (self.sxy - self.sx * (self.sy / w)) / w
            yy = (self.syy - self.sy * self.sy / w) / w
            mean_x, mean_y = self.mean_x, self.mean_y
        else:  # moments about zero
            xs, ys = self.x_shift, self.y_shift
            G = (
                self.sxx + np.outer(xs, self.sx) + np.outer(self.sx, xs) + w * np.outer(xs, xs)
            ) / w
            c = (self.sxy + xs * self.sy + self.sx * ys + w * xs * ys) / w
            yy = (self.syy + 2 * ys * self.sy + w * ys * ys) / w
            mean_x, mean_y = np.zeros_like(xs), 0.0
        G = 0.5 * (G + G.T)
        norms = np.diag(G).copy()
        norms[dead_feature_mask(norms, mean_x if fit_intercept else np.zeros_like(norms))] = 0.0
        return CenteredProblem(
            np.ascontiguousarray(G), c, max(float(yy), 0.0), mean_x, mean_y, norms
        )

    def weighted_sse(self, intercept: float, coef: FloatArray) -> float:
        """Return ``sum w (y - intercept - x.coef)^2`` over these rows, exactly.

        Expands the square in the shifted moments, so a held-out fold is
        scored from its statistics alone.
        """
        c0 = intercept + float(self.x_shift @ coef) - self.y_shift
        sse = (
            self.syy
            - 2.0 * float(coef @ self.sxy)
            + float(coef @ self.sxx @ coef)
            - 2.0 * c0 * (self.sy - float(self.sx @ coef))
            + c0 * c0 * self.w_sum
        )
        return max(sse, 0.0)

    def weighted_sse_path(self, intercepts: FloatArray, coefs: FloatArray) -> FloatArray:
        """Vectorised :meth:`weighted_sse` for ``coefs`` of shape (n_alphas, p)."""
        c0 = intercepts + coefs @ self.x_shift - self.y_shift
        # one gemm, then a row-wise dot (einsum's three-operand form does not use BLAS)
        quad = np.einsum("ij,ij->i", coefs @ self.sxx, coefs)
        sse = (
            self.syy
            - 2.0 * coefs @ self.sxy
            + quad
            - 2.0 * c0 * (self.sy - coefs @ self.sx)
            + c0 * c0 * self.w_sum
        )
        return np.asarray(np.maximum(sse, 0.0), dtype=np.float64)


@_ignore_fp_errors
def dead_feature_mask(norms: FloatArray, mean: FloatArray) -> np.ndarray:
    """Flag columns that are constant at double precision (variance ~ rounding).

    Non-finite statistics are never "dead": they must reach the finite check.
    """
    finite = np.isfinite(norms) & np.isfinite(mean)
    return np.asarray(finite & (norms <= _DEAD_RATIO * (np.abs(norms) + mean * mean)))


@njit(cache=True, nogil=True, fastmath=False)
def _moments_c(
    X: np.ndarray, wn: np.ndarray, yc: np.ndarray, s1: np.ndarray, s2: np.ndarray, sy: np.ndarray
) -> None:
    """One row-major pass: ``s1 = X'wn``, ``s2 = (X*X)'wn``, ``sy = X'(wn*yc)``."""
    n, p = X.shape
    s1[:] = 0.0
    s2[:] = 0.0
    sy[:] = 0.0
    for i in range(n):
        wi = wn[i]
        wy = wi * yc[i]
        for j in range(p):
            x = X[i, j]
            s1[j] += wi * x
            s2[j] += wi * x * x
            sy[j] += wy * x


@njit(cache=True, nogil=True, fastmath=False)
def _moments_f(
    X: np.ndarray, wn: np.ndarray, yc: np.ndarray, s1: np.ndarray, s2: np.ndarray, sy: np.ndarray
) -> None:
    """One column-major pass: ``s1 = X'wn``, ``s2 = (X*X)'wn``, ``sy = X'(wn*yc)``."""
    n, p = X.shape
    for j in range(p):
        a1 = 0.0
        a2 = 0.0
        ay = 0.0
        for i in range(n):
            x = X[i, j]
            wx = wn[i] * x
            a1 += wx
            a2 += wx * x
            ay += wx * yc[i]
        s1[j] = a1
        s2[j] = a2
        sy[j] = ay


@njit(cache=True, nogil=True, fastmath=False)
def _centered_moments_of(
    X: np.ndarray,
    wn: np.ndarray,
    yc: np.ndarray,
    mean: np.ndarray,
    columns: np.ndarray,
    norms: np.ndarray,
    c: np.ndarray,
) -> None:
    """Exact centred ``norms[j]`` and ``c[j]`` for the listed columns only."""
    for k in range(columns.shape[0]):
        j = columns[k]
        acc = 0.0
        acc_y = 0.0
        for i in range(X.shape[0]):
            d = X[i, j] - mean[j]
            acc += wn[i] * d * d
            acc_y += wn[i] * d * yc[i]
        norms[j] = acc
        c[j] = acc_y


@_ignore_fp_errors
def column_moments(
    X: FloatArray | sp.spmatrix, wn: FloatArray, yc: FloatArray, fit_intercept: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(mean, norms, c)`` from one pass over X.

    ``mean`` are the weighted column means (zeros without an intercept),
    ``norms`` the squared weighted norms ``Xc_j' Wn Xc_j`` and ``c = Xc' Wn yc``.
    Norms come from ``E[x^2] - m^2``; the few columns where that would
    cancel (mean >> spread) are recomputed exactly in a second pass over
    those columns only. Constant columns get norm 0.
    """
    p = X.shape[1]
    if sp.issparse(X):
        Xc = sp.csc_matrix(X)
        s1 = np.asarray(Xc.T @ wn, dtype=np.float64).ravel()
        sq = Xc.copy()
        sq.data = sq.data.astype(np.float64) ** 2
        s2 = np.asarray(sq.T @ wn, dtype=np.float64).ravel()
        sy = np.asarray(Xc.T @ (wn * yc), dtype=np.float64).ravel()
    else:
        s1, s2, sy = np.empty(p), np.empty(p), np.empty(p)
        f_order = X.flags.f_contiguous and not X.flags.c_contiguous
        (_moments_f if f_order else _moments_c)(X, wn, yc, s1, s2, sy)
    if not fit_intercept:
        return np.zeros(p), _finish_norms(s2, np.zeros(p)), sy
    mean = s1
    norms = s2 - s1 * s1
    c = sy - mean * float(wn @ yc)
    risky = np.flatnonzero(norms < _CANCELLATION_RATIO * s2)
    if risky.size:
        if sp.issparse(X):
            _sparse_centered_moments(sp.csc_matrix(X), wn, yc, mean, risky, norms, c)
        else:
            _centered_moments_of(X, wn, yc, mean, risky, norms, c)
    return mean, _finish_norms(norms, mean), c


def _finish_norms(norms: FloatArray, mean: FloatArray) -> FloatArray:
    """Clip rounding below zero and zero the norms of constant columns."""
    norms = np.maximum(norms, 0.0)
    norms[dead_feature_mask(norms, mean)] = 0.0
    return norms


def _sparse_centered_moments(
    X: sp.csc_matrix,
    wn: FloatArray,
    yc: FloatArray,
    mean: FloatArray,
    risky: np.ndarray,
    norms: FloatArray,
    c: FloatArray,
) -> None:
    """Recompute exact centred ``norms`` and ``c`` in place for risky sparse columns.

    From the stored entries and the implicit zeros (which contribute
    ``(0 - m)``): never densifies.
    """
    sum_wy = float(wn @ yc)
    for j in risky:
        lo, hi = X.indptr[j], X.indptr[j + 1]
        rows = X.indices[lo:hi]
        w_rows = wn[rows]
        d = X.data[lo:hi].astype(np.float64) - mean[j]
        # weight of the implicit zeros: exactly 0 for a fully stored column
        # (1 - sum(w_rows) would leave a rounding residue that is not "constant")
        rest = 0.0 if hi - lo == X.shape[0] else 1.0 - float(w_rows.sum())
        norms[j] = float(w_rows @ (d * d)) + mean[j] ** 2 * rest
        stored_wy = float(w_rows @ yc[rows])
        c[j] = float(w_rows @ (d * yc[rows])) - mean[j] * (sum_wy - stored_wy)


def _row_blocks(n: int, p: int, elements: int = _CHUNK_ELEMENTS) -> list[slice]:
    """Split ``range(n)`` into blocks of about ``elements`` matrix entries."""
    step = max(256, elements // max(p, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _block(X: FloatArray | sp.spmatrix, rows: slice) -> FloatArray:
    B = X[rows]
    if sp.issparse(B):
        return np.asarray(B.toarray(), dtype=np.float64)  # type: ignore[union-attr]
    return np.asarray(B, dtype=np.float64)


@_ignore_fp_errors
def compute_stats(
    X: FloatArray | sp.spmatrix,
    y: FloatArray,
    sample_weight: FloatArray | None,
    x_shift: FloatArray | None,
    y_shift: float,
    rows: IntArray | None = None,
) -> SufficientStats:
    """Accumulate :class:`SufficientStats` of ``rows`` (all rows when None).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
        Design; float32 is accumulated in float64.
    y : ndarray of shape (n,)
    sample_weight : ndarray of shape (n,) or None
        None means unit weights (the fast syrk path).
    x_shift, y_shift
        The common shift (global means with an intercept, zeros without);
        ``x_shift=None`` takes the weighted column means found in this pass.
    rows : ndarray of int or None
        Row subset (a fold). Dense float64 rows are read block by block (a
        run of consecutive rows is a view); other inputs gather the subset.
    """
    dense64 = not sp.issparse(X) and X.dtype == np.float64
    selection: np.ndarray | slice | None = None
    if rows is not None:
        selection = _as_slice_if_contiguous(np.asarray(rows))
        y = y[selection]
        sample_weight = None if sample_weight is None else sample_weight[selection]
        if not dense64:
            X = X[selection]
    n = y.shape[0]
    y64 = np.asarray(y, dtype=np.float64) - y_shift
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    w_sum = float(w.sum())
    sy = float(w @ y64)
    syy = float(w @ (y64 * y64))
    if dense64:
        raw = _raw_moments_dense(X, w, y64, sample_weight is None, selection)
    else:
        raw = _raw_moments_generic(X, w, y64, sample_weight is None)
    G, s, xy = raw
    if x_shift is None:
        x_shift = s / w_sum
    sx = s - w_sum * x_shift
    sxx = G - np.outer(x_shift, s) - np.outer(s, x_shift) + w_sum * np.outer(x_shift, x_shift)
    sxy = xy - x_shift * sy
    diag_raw = np.diag(G)
    diag_shifted = np.diag(sxx)
    if np.any(diag_shifted < _CANCELLATION_RATIO * diag_raw):
        X_rows = X[selection] if dense64 and selection is not None else X
        sx, sxx, sxy = _centered_moments_chunked(X_rows, w, y64, x_shift)
    sxx = 0.5 * (sxx + sxx.T)
    return SufficientStats(
        np.asarray(x_shift, dtype=np.float64), float(y_shift), w_sum, n, sx, sy, sxx, sxy, syy
    )


def _as_slice_if_contiguous(rows: np.ndarray) -> np.ndarray | slice:
    """Return ``rows`` as a slice when it is a run of consecutive indices (a view, no copy)."""
    consecutive = (
        rows.dtype != bool
        and rows.size > 0
        and rows[-1] - rows[0] == rows.size - 1
        and bool(np.all(np.diff(rows) == 1))
    )
    return slice(int(rows[0]), int(rows[-1]) + 1) if consecutive else rows


def _raw_moments_dense(
    X: FloatArray,
    w: FloatArray,
    y64: FloatArray,
    unit_weights: bool,
    rows: np.ndarray | slice | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(X'WX, X'w, X'W y)`` over ``rows`` in ONE pass over X.

    Row blocks small enough to stay in cache get a syrk (``Xb'Xb``) and a
    two-column gemm (``Xb'[w*y, w]``) back to back, so X is read from memory
    once: 1.13x one bare ``X'X`` at n=100k, p=200, against 1.3x for two
    passes. A fold's scattered rows are gathered block by block, never as a
    whole copy. ``w`` and ``y64`` are already restricted to ``rows``.
    """
    p = X.shape[1]
    n = w.shape[0]
    rhs = np.empty((n, 2))
    rhs[:, 0] = w * y64
    rhs[:, 1] = w
    G = np.zeros((p, p))
    B = np.zeros((p, 2))
    sw = None if unit_weights else np.sqrt(w)
    offset = rows.start if isinstance(rows, slice) else 0
    for block in _row_blocks(n, p, _CACHE_BLOCK_ELEMENTS):
        if rows is None or isinstance(rows, slice):
            Xb = X[block.start + offset : block.stop + offset]
        else:
            Xb = X[rows[block]]
        B += Xb.T @ rhs[block]
        if sw is not None:
            Xb = Xb * sw[block, None]
        G += Xb.T @ Xb  # numpy dispatches A.T @ A to syrk
    return G, B[:, 1].copy(), B[:, 0].copy()


def _raw_moments_generic(
    X: FloatArray | sp.spmatrix, w: FloatArray, y64: FloatArray, unit_weights: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Raw moments for sparse or float32 input, accumulated in float64."""
    if sp.issparse(X):
        Xc = sp.csc_matrix(X, dtype=np.float64)
        WX = Xc if unit_weights else sp.diags(w) @ Xc
        G = np.asarray((Xc.T @ WX).toarray())
        s = np.asarray(Xc.T @ w).ravel()
        xy = np.asarray(Xc.T @ (w * y64)).ravel()
        return G, s, xy
    p = X.shape[1]
    G = np.zeros((p, p))
    s = np.zeros(p)
    xy = np.zeros(p)
    sw = np.sqrt(w)
    for rows in _row_blocks(X.shape[0], p):
        Xb = np.asarray(X[rows], dtype=np.float64)
        s += Xb.T @ w[rows]
        xy += Xb.T @ (w[rows] * y64[rows])
        Xb *= sw[rows, None]
        G += Xb.T @ Xb
    return G, s, xy


def _centered_moments_chunked(
    X: FloatArray | sp.spmatrix, w: FloatArray, y64: FloatArray, x_shift: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Shifted moments by centring row chunks first (exact for huge means)."""
    p = X.shape[1]
    sxx = np.zeros((p, p))
    sx = np.zeros(p)
    sxy = np.zeros(p)
    sw = np.sqrt(w)
    for rows in _row_blocks(X.shape[0], p):
        Xb = _block(X, rows) - x_shift
        sx += Xb.T @ w[rows]
        sxy += Xb.T @ (w[rows] * y64[rows])
        Xb *= sw[rows, None]
        sxx += Xb.T @ Xb
    return sx, sxx, sxy


def gram_columns(
    X: FloatArray | sp.spmatrix,
    wn: FloatArray,
    mean: FloatArray,
    norms: FloatArray,
    columns: IntArray,
) -> FloatArray:
    """Return ``Xc' Wn Xc[:, columns]`` of shape (p, len(columns)).

    Used to fill the Gram matrix lazily, for the features that enter the
    working set only. ``norms`` (exact column variances) detect cancellation;
    affected blocks are recomputed from centred row chunks.
    """
    if sp.issparse(X):
        Xs = sp.csc_matrix(X)
        XJ = Xs[:, columns]
        raw = np.asarray((Xs.T @ (sp.diags(wn) @ XJ)).toarray(), dtype=np.float64)
    else:
        XJ = np.asarray(X[:, columns], dtype=np.float64)
        if wn[0] == wn[-1] and np.all(wn == wn[0]):  # unit weights: no n x k temporary
            raw = np.asarray(X.T @ XJ, dtype=np.float64) * wn[0]
        else:
            raw = np.asarray(X.T @ (XJ * wn[:, None]), dtype=np.float64)
    block = raw - np.outer(mean, mean[columns])
    raw_diag = raw[columns, np.arange(len(columns))]
    if np.any(norms[columns] < _CANCELLATION_RATIO * raw_diag):
        block = np.zeros((X.shape[1], len(columns)))
        for rows in _row_blocks(X.shape[0], X.shape[1]):
            Xb = _block(X, rows) - mean
            block += Xb.T @ (Xb[:, columns] * wn[rows, None])
    return block
