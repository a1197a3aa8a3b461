"""Coordinate-descent kernels for the weighted elastic net (numba, nogil).

Every kernel solves, for one penalty level, the centred problem

    min_b  1/2 * sum_i wn_i * r_i^2 + sum_j (l1_j*|b_j| + l2_j/2 * b_j^2),
    r = yc - Xc b,  wn = w / sum(w)  (weights normalised to sum 1),

with per-feature penalties ``l1_j = alpha*l1_ratio*s_j`` and
``l2_j = alpha*(1-l1_ratio)*s_j**2`` (``s_j = 1`` plain; ``s_j`` = the weighted
standard deviation for glmnet-style standardisation). Centring is implicit:
``Xc = X - mean``, never formed.

Three data backends share one control flow (``_solve_*``):

* Gram (covariance updates): ``G = Xc' Wn Xc``, ``c = Xc' Wn yc``; the gradient
  ``c - G b`` is kept for every feature, so the duality gap costs O(p).
* dense residual ("naive"): Fortran-ordered ``X`` and the residual ``r``.
* sparse residual: CSC ``data, indices, indptr``; centring by a scalar offset
  (columns whose mean dwarfs their spread are centred row by row instead).

The residual kernels extrapolate their working-set iterates by Anderson
acceleration every ``ANDERSON_K`` epochs, keeping the result only when the
objective drops (Bertrand & Massias 2021).

Control flow per call (Tibshirani et al. 2012; Bertrand & Massias 2021): the
caller's working set (strong-rule set, or a predicted support) is solved
first, by CD epochs until its restricted duality gap meets the target; then
the full gradient and gap are computed, KKT violators outside the set join it
and the loop repeats. The returned gap is the certificate of the returned
point.

Status codes returned by the solvers: ``STATUS_CONVERGED``, ``STATUS_MAX_ITER``,
``STATUS_NEED_COLUMNS`` (Gram only: a violator has no Gram column yet; its flag
is set in ``in_ws`` and the caller must provide the column and call again).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "STATUS_CONVERGED",
    "STATUS_MAX_ITER",
    "STATUS_NEED_COLUMNS",
    "dense_full_gradient",
    "duality_gap",
    "soft_threshold",
    "solve_dense",
    "solve_gram",
    "solve_sparse",
    "sparse_full_gradient",
]

STATUS_CONVERGED = 0
STATUS_MAX_ITER = 1
STATUS_NEED_COLUMNS = 2


@njit(cache=True, nogil=True, fastmath=False)
def soft_threshold(z: float, t: float) -> float:
    """Return sign(z) * max(|z| - t, 0)."""
    if z > t:
        return z - t
    if z < -t:
        return z + t
    return 0.0


@njit(cache=True, nogil=True, fastmath=False)
def _coordinate_update(z: float, norm: float, l1: float, l2: float, positive: bool) -> float:
    """Return the minimiser of ``norm/2*b^2 - z*b + l1*|b| + l2/2*b^2``."""
    if positive and z <= 0.0:
        return 0.0
    return soft_threshold(z, l1) / (norm + l2)


@njit(cache=True, nogil=True, fastmath=False)
def _violates(g: float, l1: float, norm: float, positive: bool) -> bool:
    """Whether a zero coefficient with gradient ``g`` breaks the KKT conditions."""
    if norm <= 0.0:
        return False
    if positive:
        return g > l1
    return abs(g) > l1


@njit(cache=True, nogil=True, fastmath=False)
def duality_gap(
    b: np.ndarray,
    grad: np.ndarray,
    rr: float,
    yr: float,
    l1: np.ndarray,
    l2: np.ndarray,
    norms: np.ndarray,
    positive: bool,
    features: np.ndarray,
    n_features: int,
) -> tuple[float, float]:
    """Return ``(primal, gap)`` of the elastic net at ``b``.

    The dual point is the better of two feasible ones: the rescaled residual
    (lasso dual of the augmented problem, as scikit-learn) and the Fenchel
    dual ``yr - rr/2 - sum (|g_j| - l1_j)_+^2 / (2 l2_j)``, which stays
    informative for ridge. Any feasible dual bounds ``P(b) - P*``.

    Parameters
    ----------
    b, grad, l1, l2, norms : ndarray of shape (p,), float64
        Coefficients, gradient ``Xc' Wn r``, per-feature penalties and squared
        column norms ``Xc_j' Wn Xc_j``. Not modified.
    rr, yr : float
        ``r' Wn r`` and ``yc' Wn r``.
    positive : bool
        Whether coefficients are constrained to be non-negative.
    features : ndarray of int, shape (>= n_features,)
        Indices over which the gap is taken (the first ``n_features``); the
        restricted gap of a working set uses the set, the certificate all.
    n_features : int
        How many entries of ``features`` to use.
    """
    l1_term = 0.0
    l2_term = 0.0
    scale = 1.0
    fenchel = 0.0
    for k in range(n_features):
        j = features[k]
        if norms[j] <= 0.0:
            continue
        bj = b[j]
        if bj != 0.0:
            l1_term += l1[j] * abs(bj)
            l2_term += l2[j] * bj * bj
        u = grad[j] - l2[j] * bj
        au = u if positive else abs(u)
        if au > l1[j]:
            scale = min(scale, l1[j] / au)
        v = grad[j] if positive else abs(grad[j])
        excess = v - l1[j]
        if excess > 0.0:
            if l2[j] > 0.0:
                # (excess / l2) first: excess^2 underflows for tiny column scales
                fenchel += 0.5 * excess * (excess / l2[j])
            else:
                fenchel = np.inf
    primal = 0.5 * rr + l1_term + 0.5 * l2_term
    dual_rescaled = scale * yr - 0.5 * scale * scale * (rr + l2_term)
    dual_fenchel = yr - 0.5 * rr - fenchel
    return primal, primal - max(dual_rescaled, dual_fenchel)


# --------------------------------------------------------------------------
# Gram (covariance) backend
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, fastmath=False)
def _gram_epoch(
    G: np.ndarray,
    norms: np.ndarray,
    grad: np.ndarray,
    b: np.ndarray,
    ws: np.ndarray,
    n_ws: int,
    l1: np.ndarray,
    l2: np.ndarray,
    positive: bool,
) -> float:
    """Run one CD pass over ``ws[:n_ws]``; return the largest |db_j|*sqrt(G_jj)."""
    p = G.shape[0]
    max_change = 0.0
    for k in range(n_ws):
        j = ws[k]
        gjj = norms[j]
        if gjj <= 0.0:
            continue
        bj = b[j]
        new = _coordinate_update(grad[j] + gjj * bj, gjj, l1[j], l2[j], positive)
        if new != bj:
            delta = new - bj
            b[j] = new
            for m in range(p):
                grad[m] -= delta * G[j, m]
            change = abs(delta) * np.sqrt(gjj)
            if change > max_change:
                max_change = change
    return max_change


@njit(cache=True, nogil=True, fastmath=False)
def _gram_rr_yr(c: np.ndarray, yy: float, b: np.ndarray, grad: np.ndarray) -> tuple[float, float]:
    """Return ``(r'Wn r, yc'Wn r)`` from ``c``, ``yc'Wn yc`` and ``grad = c - G b``."""
    bc = 0.0
    bg = 0.0
    for j in range(b.shape[0]):
        if b[j] != 0.0:
            bc += b[j] * c[j]
            bg += b[j] * grad[j]
    yr = yy - bc
    rr = yy - bc - bg
    return max(rr, 0.0), yr


@njit(cache=True, nogil=True, fastmath=False)
def solve_gram(
    G: np.ndarray,
    c: np.ndarray,
    yy: float,
    norms: np.ndarray,
    b: np.ndarray,
    grad: np.ndarray,
    in_ws: np.ndarray,
    has_column: np.ndarray,
    l1: np.ndarray,
    l2: np.ndarray,
    positive: bool,
    tol_rel: float,
    tol_abs: float,
    max_iter: int,
) -> tuple[int, float, float, int]:
    """Solve one penalty level by covariance updates.

    Parameters
    ----------
    G : ndarray of shape (p, p), float64, C-contiguous
        ``Xc' Wn Xc``; only rows flagged in ``has_column`` need be filled.
    c : ndarray of shape (p,), float64
        ``Xc' Wn yc``.
    yy : float
        ``yc' Wn yc``.
    norms : ndarray of shape (p,), float64
        ``diag(G)`` for every feature (known before any column is); 0 marks
        a constant (dead) feature, which is never updated.
    b : ndarray of shape (p,), float64, changed in place
        Warm start in, solution out.
    grad : ndarray of shape (p,), float64, changed in place
        ``c - G b`` for the incoming ``b``; kept exact for the outgoing one.
    in_ws : ndarray of shape (p,), bool, changed in place
        Working-set flags (strong-rule set in, grown set out).
    has_column : ndarray of shape (p,), bool
        Which rows of ``G`` are available (all True for a full Gram).
    l1, l2 : ndarray of shape (p,), float64
        Per-feature penalties.
    positive : bool
        Constrain coefficients to be non-negative.
    tol_rel, tol_abs : float
        Certified when ``gap <= max(tol_rel * primal, tol_abs)``: the gap
        bounds the objective's distance to the optimum, so ``tol_rel`` is
        that distance relative to the objective; ``tol_abs`` is a floor
        (rounding level) or, with ``tol_rel = 0``, an absolute target.
    max_iter : int
        Maximum number of CD epochs.

    Returns
    -------
    (n_epochs, primal, gap, status)
    """
    p = G.shape[0]
    ws = np.empty(p, dtype=np.intp)
    all_features = np.arange(p)
    n_epochs = 0
    rounds = 0
    gap = np.inf
    while True:
        rr, yr = _gram_rr_yr(c, yy, b, grad)
        primal, gap = duality_gap(b, grad, rr, yr, l1, l2, norms, positive, all_features, p)
        target = max(tol_rel * primal, tol_abs)
        if gap <= target:
            return n_epochs, primal, gap, STATUS_CONVERGED
        # the caller's working set is solved before any violator joins it
        # (strong-rule order); later rounds add every KKT violator
        missing = False
        for j in range(p):
            if rounds > 0 and not in_ws[j] and _violates(grad[j], l1[j], norms[j], positive):
                in_ws[j] = True
                if not has_column[j]:
                    missing = True
        rounds += 1
        if missing:
            return n_epochs, primal, gap, STATUS_NEED_COLUMNS
        if n_epochs >= max_iter:
            return n_epochs, primal, gap, STATUS_MAX_ITER
        n_ws = 0
        for j in range(p):
            if in_ws[j]:
                ws[n_ws] = j
                n_ws += 1
        # epochs on the working set until its own gap meets the target
        while n_epochs < max_iter:
            max_change = _gram_epoch(G, norms, grad, b, ws, n_ws, l1, l2, positive)
            n_epochs += 1
            if max_change * max_change <= target or n_epochs % 10 == 0:
                rr, yr = _gram_rr_yr(c, yy, b, grad)
                ws_primal, ws_gap = duality_gap(b, grad, rr, yr, l1, l2, norms, positive, ws, n_ws)
                if ws_gap <= max(tol_rel * ws_primal, tol_abs):
                    break


# --------------------------------------------------------------------------
# Anderson acceleration (residual backends)
# --------------------------------------------------------------------------

ANDERSON_K = 5


@njit(cache=True, nogil=True, fastmath=False)
def _anderson_weights(hist: np.ndarray, out: np.ndarray) -> bool:
    """Fill ``out`` (K) with the Anderson weights of K+1 stored iterates.

    ``c = (U U')^-1 1 / (1' (U U')^-1 1)`` with ``U`` the K successive
    differences (rows of ``hist`` are iterates); returns False when ``U U'``
    is numerically singular (then no extrapolation is made).
    """
    K = out.shape[0]
    m = hist.shape[1]
    M = np.zeros((K, K + 1))
    for a in range(K):
        for b in range(a, K):
            acc = 0.0
            for j in range(m):
                acc += (hist[a + 1, j] - hist[a, j]) * (hist[b + 1, j] - hist[b, j])
            M[a, b] = acc
            M[b, a] = acc
        M[a, K] = 1.0
    scale = 0.0
    for a in range(K):
        scale = max(scale, M[a, a])
    if scale <= 0.0:
        return False
    # Gaussian elimination with partial pivoting on [M | 1]
    for col in range(K):
        piv = col
        for r in range(col + 1, K):
            if abs(M[r, col]) > abs(M[piv, col]):
                piv = r
        if abs(M[piv, col]) <= 1e-14 * scale:
            return False
        if piv != col:
            for k in range(K + 1):
                tmp = M[col, k]
                M[col, k] = M[piv, k]
                M[piv, k] = tmp
        for r in range(col + 1, K):
            f = M[r, col] / M[col, col]
            for k in range(col, K + 1):
                M[r, k] -= f * M[col, k]
    total = 0.0
    for a in range(K - 1, -1, -1):
        acc = M[a, K]
        for k in range(a + 1, K):
            acc -= M[a, k] * out[k]
        out[a] = acc / M[a, a]
        total += out[a]
    if total == 0.0 or not np.isfinite(total):
        return False
    for a in range(K):
        out[a] /= total
    return True


@njit(cache=True, nogil=True, fastmath=False)
def _anderson_step(
    hist_b: np.ndarray,
    hist_r: np.ndarray,
    weights: np.ndarray,
    b: np.ndarray,
    r: np.ndarray,
    ws: np.ndarray,
    n_ws: int,
    wn: np.ndarray,
    l1: np.ndarray,
    l2: np.ndarray,
    positive: bool,
) -> bool:
    """Try the Anderson extrapolation of the stored iterates; keep it if better.

    ``hist_b`` (K+1, n_ws) and ``hist_r`` (K+1, n) hold the last K+1
    working-set coefficients and residuals (Bertrand & Massias 2021). The
    residual is affine in the coefficients, so it is extrapolated with the
    same weights, at O(K n) and no product with X. The current point (the
    last stored one, which ``b``/``r`` hold) is replaced only if the
    objective decreases, so acceleration can never hurt.
    """
    if not _anderson_weights(hist_b, weights):
        return False
    K = weights.shape[0]
    n = r.shape[0]
    b_acc = np.zeros(n_ws)
    pen_now = 0.0
    pen_acc = 0.0
    for k in range(n_ws):
        acc = 0.0
        for a in range(K):
            acc += weights[a] * hist_b[a + 1, k]
        if positive and acc < 0.0:
            return False
        b_acc[k] = acc
        j = ws[k]
        pen_now += l1[j] * abs(b[j]) + 0.5 * l2[j] * b[j] * b[j]
        pen_acc += l1[j] * abs(acc) + 0.5 * l2[j] * acc * acc
    r_acc = np.zeros(n)
    for a in range(K):
        wa = weights[a]
        for i in range(n):
            r_acc[i] += wa * hist_r[a + 1, i]
    rr_now = 0.0
    rr_acc = 0.0
    for i in range(n):
        rr_now += wn[i] * r[i] * r[i]
        rr_acc += wn[i] * r_acc[i] * r_acc[i]
    if not 0.5 * rr_acc + pen_acc < 0.5 * rr_now + pen_now:
        return False
    for k in range(n_ws):
        b[ws[k]] = b_acc[k]
    r[:] = r_acc
    return True


# --------------------------------------------------------------------------
# Dense residual ("naive") backend
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, fastmath=False)
def _dense_column_gradient(
    X: np.ndarray, j: int, mean_j: float, wn: np.ndarray, r: np.ndarray
) -> float:
    """Return ``(x_j - mean_j)' Wn r``."""
    acc = 0.0
    for i in range(X.shape[0]):
        acc += wn[i] * (X[i, j] - mean_j) * r[i]
    return acc


@njit(cache=True, nogil=True, fastmath=False)
def dense_full_gradient(
    X: np.ndarray, mean: np.ndarray, wn: np.ndarray, r: np.ndarray, out: np.ndarray
) -> None:
    """Fill ``out`` with ``Xc' Wn r`` for every feature (X Fortran-ordered)."""
    n, p = X.shape
    wr = np.empty(n)
    s = 0.0
    for i in range(n):
        wr[i] = wn[i] * r[i]
        s += wr[i]
    for j in range(p):
        acc = 0.0
        for i in range(n):
            acc += X[i, j] * wr[i]
        out[j] = acc - mean[j] * s


@njit(cache=True, nogil=True, fastmath=False)
def _dense_epoch(
    X: np.ndarray,
    mean: np.ndarray,
    wn: np.ndarray,
    norms: np.ndarray,
    r: np.ndarray,
    b: np.ndarray,
    ws: np.ndarray,
    n_ws: int,
    l1: np.ndarray,
    l2: np.ndarray,
    positive: bool,
) -> float:
    """Run one CD pass over ``ws[:n_ws]`` updating ``r``; return max |db|*sqrt(norm)."""
    n = X.shape[0]
    max_change = 0.0
    for k in range(n_ws):
        j = ws[k]
        nj = norms[j]
        if nj <= 0.0:
            continue
        mj = mean[j]
        bj = b[j]
        g = _dense_column_gradient(X, j, mj, wn, r)
        new = _coordinate_update(g + nj * bj, nj, l1[j], l2[j], positive)
        if new != bj:
            delta = new - bj
            b[j] = new
            for i in range(n):
                r[i] -= delta * (X[i, j] - mj)
            change = abs(delta) * np.sqrt(nj)
            if change > max_change:
                max_change = change
    return max_change


@njit(cache=True, nogil=True, fastmath=False)
def _weighted_rr_yr(
    wn: np.ndarray, r: np.ndarray, yc: np.ndarray, offset: float
) -> tuple[float, float]:
    """Return ``((r+o)' Wn (r+o), yc' Wn (r+o))`` for a residual offset ``o``."""
    rr = 0.0
    yr = 0.0
    for i in range(r.shape[0]):
        ri = r[i] + offset
        rr += wn[i] * ri * ri
        yr += wn[i] * yc[i] * ri
    return rr, yr


@njit(cache=True, nogil=True, fastmath=False)
def solve_dense(
    X: np.ndarray,
    mean: np.ndarray,
    wn: np.ndarray,
    yc: np.ndarray,
    norms: np.ndarray,
    r: np.ndarray,
    b: np.ndarray,
    grad: np.ndarray,
    in_ws: np.ndarray,
    l1: np.ndarray,
    l2: np.ndarray,
    positive: bool,
    tol_rel: float,
    tol_abs: float,
    max_iter: int,
) -> tuple[int, float, float, int]:
    """Solve one penalty level by residual updates on dense columns.

    Parameters
    ----------
    X : ndarray of shape (n, p), float64 or float32, Fortran-ordered
        Raw (uncentred) design; not modified.
    mean : ndarray of shape (p,), float64
        Weighted column means used for implicit centring (zeros: no centring).
    wn : ndarray of shape (n,), float64
        Sample weights normalised to sum 1.
    yc : ndarray of shape (n,), float64
        Centred target.
    norms : ndarray of shape (p,), float64
        ``Xc_j' Wn Xc_j``.
    r : ndarray of shape (n,), float64, changed in place
        ``yc - Xc b`` for the incoming ``b``; kept exact for the outgoing one.
    b : ndarray of shape (p,), float64, changed in place
        Warm start in, solution out.
    grad : ndarray of shape (p,), float64, changed in place
        Full gradient ``Xc' Wn r``: must be current for the incoming ``b``;
        current for the returned ``b`` (it feeds the next strong rule).
    in_ws : ndarray of shape (p,), bool, changed in place
        Working-set flags.
    l1, l2, positive, tol_rel, tol_abs, max_iter
        As in :func:`solve_gram`.

    Returns
    -------
    (n_epochs, primal, gap, status)
    """
    n, p = X.shape
    ws = np.empty(p, dtype=np.intp)
    all_features = np.arange(p)
    hist_b = np.empty((ANDERSON_K + 1, p))
    hist_r = np.empty((ANDERSON_K + 1, n))
    weights = np.empty(ANDERSON_K)
    n_epochs = 0
    rounds = 0
    # ``grad`` arrives current (the previous call, or reset, left it so): the
    # first full gradient is free; later ones follow each working-set solve.
    first = True
    while True:
        if not first:
            dense_full_gradient(X, mean, wn, r, grad)
        first = False
        rr, yr = _weighted_rr_yr(wn, r, yc, 0.0)
        primal, gap = duality_gap(b, grad, rr, yr, l1, l2, norms, positive, all_features, p)
        target = max(tol_rel * primal, tol_abs)
        if gap <= target:
            return n_epochs, primal, gap, STATUS_CONVERGED
        if n_epochs >= max_iter:
            return n_epochs, primal, gap, STATUS_MAX_ITER
        for j in range(p):
            if rounds > 0 and not in_ws[j] and _violates(grad[j], l1[j], norms[j], positive):
                in_ws[j] = True
        rounds += 1
        n_ws = 0
        for j in range(p):
            if in_ws[j]:
                ws[n_ws] = j
                n_ws += 1
        n_hist = 0
        while n_epochs < max_iter:
            max_change = _dense_epoch(X, mean, wn, norms, r, b, ws, n_ws, l1, l2, positive)
            n_epochs += 1
            for k in range(n_ws):
                hist_b[n_hist, k] = b[ws[k]]
            hist_r[n_hist] = r
            n_hist += 1
            if n_hist == ANDERSON_K + 1:
                _anderson_step(
                    hist_b[:, :n_ws], hist_r, weights, b, r, ws, n_ws, wn, l1, l2, positive
                )
                n_hist = 0
            if max_change * max_change <= target or n_epochs % 10 == 0:
                for k in range(n_ws):
                    j = ws[k]
                    grad[j] = _dense_column_gradient(X, j, mean[j], wn, r)
                rr, yr = _weighted_rr_yr(wn, r, yc, 0.0)
                ws_primal, ws_gap = duality_gap(b, grad, rr, yr, l1, l2, norms, positive, ws, n_ws)
                if ws_gap <= max(tol_rel * ws_primal, tol_abs):
                    break


# --------------------------------------------------------------------------
# Sparse (CSC) residual backend
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, fastmath=False)
def _sparse_column_gradient(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    j: int,
    mean_j: float,
    wn: np.ndarray,
    z: np.ndarray,
    offset: float,
    sum_r: float,
) -> float:
    """Return ``(x_j - mean_j)' Wn r`` with ``r = z + offset`` and ``sum_r = 1' Wn r``."""
    acc = 0.0
    for k in range(indptr[j], indptr[j + 1]):
        i = indices[k]
        acc += wn[i] * data[k] * (z[i] + offset)
    return acc - mean_j * sum_r


@njit(cache=True, nogil=True, fastmath=False)
def _sparse_exact_gradient(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    j: int,
    mean_j: float,
    wn: np.ndarray,
    z: np.ndarray,
    offset: float,
) -> float:
    """Return ``(x_j - mean_j)' Wn r`` centring every row first (sorted indices).

    For columns whose mean dwarfs their spread, where the scalar-offset
    formula cancels; O(n) instead of O(nnz_j).
    """
    acc = 0.0
    k = indptr[j]
    end = indptr[j + 1]
    for i in range(z.shape[0]):
        xv = 0.0
        if k < end and indices[k] == i:
            xv = data[k]
            k += 1
        acc += wn[i] * (xv - mean_j) * (z[i] + offset)
    return acc


@njit(cache=True, nogil=True, fastmath=False)
def sparse_full_gradient(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    mean: np.ndarray,
    wn: np.ndarray,
    z: np.ndarray,
    offset: float,
    exact: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out`` with ``Xc' Wn r`` for every feature, ``r = z + offset``.

    Columns flagged in ``exact`` are centred row by row (see
    :func:`_sparse_exact_gradient`).
    """
    n = z.shape[0]
    wr = np.empty(n)
    s = 0.0
    for i in range(n):
        wr[i] = wn[i] * (z[i] + offset)
        s += wr[i]
    for j in range(indptr.shape[0] - 1):
        if exact[j]:
            out[j] = _sparse_exact_gradient(data, indices, indptr, j, mean[j], wn, z, offset)
            continue
        acc = 0.0
        for k in range(indptr[j], indptr[j + 1]):
            acc += data[k] * wr[indices[k]]
        out[j] = acc - mean[j] * s


@njit(cache=True, nogil=True, fastmath=False)
def _sparse_sum_r(wn: np.ndarray, z: np.ndarray, offset: float) -> float:
    s = 0.0
    for i in range(z.shape[0]):
        s += wn[i] * (z[i] + offset)
    return s


@njit(cache=True, nogil=True, fastmath=False)
def _sparse_epoch(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    mean: np.ndarray,
    wn: np.ndarray,
    norms: np.ndarray,
    z: np.ndarray,
    offset: np.ndarray,
    b: np.ndarray,
    ws: np.ndarray,
    n_ws: int,
    l1: np.ndarray,
    l2: np.ndarray,
    positive: bool,
    sum_r: float,
    exact: np.ndarray,
) -> float:
    """Run one CD pass over ``ws[:n_ws]``; ``offset[0]`` is updated in place.

    Columns flagged in ``exact`` update every row of ``z`` by the centred
    column (the offset is untouched), keeping ``z`` small.
    """
    max_change = 0.0
    for k in range(n_ws):
        j = ws[k]
        nj = norms[j]
        if nj <= 0.0:
            continue
        mj = mean[j]
        bj = b[j]
        if exact[j]:
            g = _sparse_exact_gradient(data, indices, indptr, j, mj, wn, z, offset[0])
        else:
            g = _sparse_column_gradient(data, indices, indptr, j, mj, wn, z, offset[0], sum_r)
        new = _coordinate_update(g + nj * bj, nj, l1[j], l2[j], positive)
        if new != bj:
            delta = new - bj
            b[j] = new
            if exact[j]:
                kk = indptr[j]
                end = indptr[j + 1]
                for i in range(z.shape[0]):
                    xv = 0.0
                    if kk < end and indices[kk] == i:
                        xv = data[kk]
                        kk += 1
                    z[i] -= delta * (xv - mj)
            else:
                for kk in range(indptr[j], indptr[j + 1]):
                    z[indices[kk]] -= delta * data[kk]
                # r = z + offset with r -= delta*(x_j - m_j): the constant part
                offset[0] += delta * mj
            change = abs(delta) * np.sqrt(nj)
            if change > max_change:
                max_change = change
    return max_change


@njit(cache=True, nogil=True, fastmath=False)
def solve_sparse(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    mean: np.ndarray,
    wn: np.ndarray,
    yc: np.ndarray,
    norms: np.ndarray,
    z: np.ndarray,
    offset: np.ndarray,
    b: np.ndarray,
    grad: np.ndarray,
    in_ws: np.ndarray,
    l1: np.ndarray,
    l2: np.ndarray,
    positive: bool,
    tol_rel: float,
    tol_abs: float,
    max_iter: int,
    exact: np.ndarray,
) -> tuple[int, float, float, int]:
    """Solve one penalty level by residual updates on sparse CSC columns.

    The centred residual is ``r = z + offset[0]``: column updates touch only
    the stored entries of ``z``; the centring shift goes into the scalar.

    Parameters
    ----------
    data, indices, indptr : ndarray
        CSC arrays of the raw design (float64/float32 data, int32/int64 indices).
    z : ndarray of shape (n,), float64, changed in place
    offset : ndarray of shape (1,), float64, changed in place
    exact : ndarray of shape (p,), bool
        Columns to centre row by row (mean >> spread; needs sorted indices).
    Others : as in :func:`solve_dense`.

    Returns
    -------
    (n_epochs, primal, gap, status)
    """
    p = indptr.shape[0] - 1
    n = z.shape[0]
    ws = np.empty(p, dtype=np.intp)
    all_features = np.arange(p)
    hist_b = np.empty((ANDERSON_K + 1, p))
    hist_r = np.empty((ANDERSON_K + 1, n))
    weights = np.empty(ANDERSON_K)
    n_epochs = 0
    rounds = 0
    first = True  # ``grad`` arrives current, as in solve_dense
    while True:
        if not first:
            sparse_full_gradient(data, indices, indptr, mean, wn, z, offset[0], exact, grad)
        first = False
        rr, yr = _weighted_rr_yr(wn, z, yc, offset[0])
        primal, gap = duality_gap(b, grad, rr, yr, l1, l2, norms, positive, all_features, p)
        target = max(tol_rel * primal, tol_abs)
        if gap <= target:
            return n_epochs, primal, gap, STATUS_CONVERGED
        if n_epochs >= max_iter:
            return n_epochs, primal, gap, STATUS_MAX_ITER
        for j in range(p):
            if rounds > 0 and not in_ws[j] and _violates(grad[j], l1[j], norms[j], positive):
                in_ws[j] = True
        rounds += 1
        n_ws = 0
        for j in range(p):
            if in_ws[j]:
                ws[n_ws] = j
                n_ws += 1
        sum_r = _sparse_sum_r(wn, z, offset[0])
        n_hist = 0
        while n_epochs < max_iter:
            max_change = _sparse_epoch(
                data,
                indices,
                indptr,
                mean,
                wn,
                norms,
                z,
                offset,
                b,
                ws,
                n_ws,
                l1,
                l2,
                positive,
                sum_r,
                exact,
            )
            n_epochs += 1
            # the residual z + offset is affine in b: store it with the offset folded in
            for k in range(n_ws):
                hist_b[n_hist, k] = b[ws[k]]
            for i in range(n):
                hist_r[n_hist, i] = z[i] + offset[0]
            n_hist += 1
            if n_hist == ANDERSON_K + 1:
                for i in range(n):
                    z[i] += offset[0]
                offset[0] = 0.0
                _anderson_step(
                    hist_b[:, :n_ws], hist_r, weights, b, z, ws, n_ws, wn, l1, l2, positive
                )
                n_hist = 0
            if max_change * max_change <= target or n_epochs % 10 == 0:
                sum_r = _sparse_sum_r(wn, z, offset[0])
                for k in range(n_ws):
                    j = ws[k]
                    if exact[j]:
                        grad[j] = _sparse_exact_gradient(
                            data, indices, indptr, j, mean[j], wn, z, offset[0]
                        )
                    else:
                        grad[j] = _sparse_column_gradient(
                            data, indices, indptr, j, mean[j], wn, z, offset[0], sum_r
                        )
                rr, yr = _weighted_rr_yr(wn, z, yc, offset[0])
                ws_primal, ws_gap = duality_gap(b, grad, rr, yr, l1, l2, norms, positive, ws, n_ws)
                if ws_gap <= max(tol_rel * ws_primal, tol_abs):
                    break
