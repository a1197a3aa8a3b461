"""Helpers shared by the adapters (centring done the way each library's own
estimators do it)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bench.peers import FloatArray
from bench.problems import Matrix


def column_means(X: Matrix) -> FloatArray:
    """Return the column means of X without densifying a sparse X."""
    if sp.issparse(X):
        return np.asarray(X.mean(axis=0)).ravel()
    return X.mean(axis=0)


def center_dense(X: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Return (X - xbar, y - ybar, xbar, ybar); the copy keeps X's Fortran order.

    This is what scikit-learn's and celer's estimators do internally
    (``_preprocess_data``) before calling their path functions.
    """
    x_mean = X.mean(axis=0)
    y_mean = float(y.mean())
    Xc = np.asfortranarray(X - x_mean)
    return Xc, y - y_mean, x_mean, y_mean


def intercepts_from_means(coefs: FloatArray, x_mean: FloatArray, y_mean: float) -> FloatArray:
    """Return b0 = ybar - xbar'b for each column of ``coefs`` (n_features, k)."""
    return y_mean - x_mean @ coefs


def center_columns(X: FloatArray, *, order: str = "F") -> tuple[FloatArray, FloatArray]:
    """Return (X - xbar, xbar), the copy in the given memory order.

    For a logistic model centring X changes nothing but the intercepts: the
    fit on X - xbar with intercept c gives b0 = c - xbar'b on X
    (:func:`uncenter_intercepts`).
    """
    x_mean = X.mean(axis=0)
    Xc = np.asarray(X - x_mean, order=order)  # type: ignore[call-overload]
    return Xc, x_mean


def uncenter_intercepts(
    coefs: FloatArray, intercepts: FloatArray, x_mean: FloatArray
) -> FloatArray:
    """Return b0 = c - xbar'b for ``coefs`` (p, m) / (K, p, m) and ``intercepts`` (m,) / (K, m)."""
    return intercepts - np.einsum("...pm,p->...m", coefs, x_mean)
