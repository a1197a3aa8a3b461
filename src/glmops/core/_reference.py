"""Slow, obviously correct NumPy versions of the kernels, for tests only.

Everything here forms the centred, weighted data explicitly and follows the
formulas of ``kernels.py`` line by line, so a kernel and its reference can be
compared on small random problems.
"""

from __future__ import annotations

import numpy as np

from glmops._typing import FloatArray

__all__ = [
    "cd_epoch_ref",
    "centered_problem_ref",
    "duality_gap_ref",
    "objective_ref",
    "soft_threshold_ref",
]


def soft_threshold_ref(z: float, t: float) -> float:
    """Return sign(z) * max(|z| - t, 0)."""
    return float(np.sign(z) * max(abs(z) - t, 0.0))


def centered_problem_ref(
    X: FloatArray, y: FloatArray, w: FloatArray | None, fit_intercept: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(Xc, yc, wn)``: explicitly centred data and normalised weights."""
    X64 = np.asarray(X, dtype=np.float64)
    n = X64.shape[0]
    wn = np.full(n, 1.0 / n) if w is None else np.asarray(w, dtype=np.float64) / np.sum(w)
    if fit_intercept:
        Xc = X64 - wn @ X64
        yc = y - wn @ y
    else:
        Xc, yc = X64.copy(), np.asarray(y, dtype=np.float64).copy()
    return Xc, yc, wn


def objective_ref(
    Xc: FloatArray, yc: FloatArray, wn: FloatArray, b: FloatArray, l1: FloatArray, l2: FloatArray
) -> float:
    """Return ``1/2 r'Wn r + sum l1|b| + sum l2/2 b^2`` with ``r = yc - Xc b``."""
    r = yc - Xc @ b
    return float(0.5 * wn @ (r * r) + l1 @ np.abs(b) + 0.5 * l2 @ (b * b))


def duality_gap_ref(
    Xc: FloatArray,
    yc: FloatArray,
    wn: FloatArray,
    b: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    positive: bool = False,
) -> float:
    """Return the duality gap of ``b``, the better of two feasible dual points.

    Rescaled residual: ``theta = s * rho`` in the augmented lasso
    ``[sqrt(Wn) Xc; sqrt(l2) I]``. Fenchel: ``yr - rr/2 - sum(|g| - l1)_+^2/(2 l2)``.
    """
    live = np.einsum("ij,i,ij->j", Xc, wn, Xc) > 0
    r = yc - Xc @ b
    rr = float(wn @ (r * r))
    yr = float(wn @ (yc * r))
    g = Xc.T @ (wn * r)
    primal = 0.5 * rr + float(l1 @ np.abs(b)) + 0.5 * float(l2 @ (b * b))
    u = (g - l2 * b)[live]
    au = u if positive else np.abs(u)
    over = au > l1[live]
    scale = min(1.0, float(np.min(l1[live][over] / au[over]))) if np.any(over) else 1.0
    l2_term = float(l2 @ (b * b))
    dual_rescaled = scale * yr - 0.5 * scale**2 * (rr + l2_term)
    v = g[live] if positive else np.abs(g[live])
    excess = np.maximum(v - l1[live], 0.0)
    if np.any((excess > 0) & (l2[live] <= 0)):
        dual_fenchel = -np.inf
    else:
        safe_l2 = np.where(l2[live] > 0, l2[live], 1.0)
        dual_fenchel = yr - 0.5 * rr - float(np.sum(excess**2 / (2 * safe_l2)))
    return primal - max(dual_rescaled, dual_fenchel)


def cd_epoch_ref(
    Xc: FloatArray,
    yc: FloatArray,
    wn: FloatArray,
    b: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    order: FloatArray,
    positive: bool = False,
) -> FloatArray:
    """Return ``b`` after one cyclic CD pass over ``order`` (input not modified)."""
    b = b.copy()
    for j in order:
        norm = float(wn @ (Xc[:, j] ** 2))
        if norm <= 0:
            continue
        r = yc - Xc @ b
        z = float(Xc[:, j] @ (wn * r)) + norm * b[j]
        if positive and z <= 0:
            b[j] = 0.0
        else:
            b[j] = soft_threshold_ref(z, l1[j]) / (norm + l2[j])
    return b
