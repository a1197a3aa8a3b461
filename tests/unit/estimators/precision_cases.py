"""Data sets for the precision-at-defaults suites: real public data and hard synthetics.

Real data ship with scikit-learn (no download). Synthetic cases are the ones
that defeat a loose stopping rule or plain coordinate descent: collinear
(condition number ~1e6), badly scaled columns, p >> n, n >> p, duplicate and
constant columns, uneven sample weights; for classifiers also separable
data and a rare class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import datasets

__all__ = ["CLASSIFICATION_CASES", "REGRESSION_CASES", "Case", "collinear_design"]


@dataclass(frozen=True)
class Case:
    """One data set: ``build()`` returns ``(X, y, sample_weight or None)``."""

    name: str
    build: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray | None]]


def collinear_design(n: int = 200, p: int = 100, seed: int = 0) -> np.ndarray:
    """Spectra-like rows: 5 smooth Gaussian bumps mixed per row plus 1e-5 noise.

    Neighbouring columns are almost equal, so the centred design has a
    condition number of about 1e6 (the shape of NIR spectra).
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, p)
    bumps = np.stack([np.exp(-(((t - c) / 0.15) ** 2)) for c in rng.uniform(0.0, 1.0, 5)])
    return np.asarray(rng.normal(size=(n, 5)) @ bumps + 1e-5 * rng.normal(size=(n, p)))


def _diabetes() -> tuple[np.ndarray, np.ndarray, None]:
    X, y = datasets.load_diabetes(return_X_y=True)
    return X, y, None


def _wine_alcohol() -> tuple[np.ndarray, np.ndarray, None]:
    data = datasets.load_wine().data
    return data[:, 1:], data[:, 0], None


def _cancer_radius() -> tuple[np.ndarray, np.ndarray, None]:
    # badly scaled real columns (areas in the thousands, ratios ~0.01)
    data = datasets.load_breast_cancer().data
    return data[:, 1:], data[:, 0], None


def _digits_regression() -> tuple[np.ndarray, np.ndarray, None]:
    # many constant (all-zero) pixel columns
    X, y = datasets.load_digits(return_X_y=True)
    return X, y.astype(np.float64), None


def _collinear() -> tuple[np.ndarray, np.ndarray, None]:
    X = collinear_design()
    rng = np.random.default_rng(1)
    b = np.zeros(X.shape[1])
    b[[10, 50, 80]] = [1.0, -2.0, 1.5]
    return X, X @ b + 0.1 * rng.normal(size=X.shape[0]), None


def _badly_scaled() -> tuple[np.ndarray, np.ndarray, None]:
    rng = np.random.default_rng(2)
    scales = np.logspace(-3, 3, 40)
    X = rng.normal(size=(500, 40)) * scales
    return X, X[:, :5] @ (1.0 / scales[:5]) + rng.normal(size=500), None


def _wide() -> tuple[np.ndarray, np.ndarray, None]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 1000))
    return X, X[:, :10].sum(axis=1) + rng.normal(size=100), None


def _tall() -> tuple[np.ndarray, np.ndarray, None]:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(20_000, 20)) + rng.uniform(-2, 2, 20)
    return X, X @ rng.normal(size=20) + rng.normal(size=20_000), None


def _duplicates_constant_weights() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    Z = rng.normal(size=(300, 12))
    X = np.column_stack([Z, Z[:, :3], np.full(300, 7.0)])  # 3 duplicates, 1 constant
    w = rng.uniform(0.1, 5.0, 300)
    w[:10] = 0.0
    return X, Z[:, :4] @ np.array([2.0, -1.0, 0.5, 1.0]) + rng.normal(size=300), w


REGRESSION_CASES = [
    Case("diabetes", _diabetes),
    Case("wine-alcohol", _wine_alcohol),
    Case("cancer-radius", _cancer_radius),
    Case("digits", _digits_regression),
    Case("collinear", _collinear),
    Case("badly-scaled", _badly_scaled),
    Case("p>>n", _wide),
    Case("n>>p", _tall),
    Case("duplicates-constant-weights", _duplicates_constant_weights),
]


def _cancer() -> tuple[np.ndarray, np.ndarray, None]:
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return X, y.astype(np.float64), None


def _digits_binary() -> tuple[np.ndarray, np.ndarray, None]:
    X, y = datasets.load_digits(return_X_y=True)
    return X, (y == 3).astype(np.float64), None


def _wine_multiclass() -> tuple[np.ndarray, np.ndarray, None]:
    X, y = datasets.load_wine(return_X_y=True)
    return X, y.astype(np.float64), None


def _iris() -> tuple[np.ndarray, np.ndarray, None]:
    X, y = datasets.load_iris(return_X_y=True)
    return X, y.astype(np.float64), None


def _separable() -> tuple[np.ndarray, np.ndarray, None]:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 10))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.float64), None


def _rare_class() -> tuple[np.ndarray, np.ndarray, None]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5000, 20))
    eta = -5.0 + X[:, :3] @ np.array([1.0, -1.0, 0.5])
    return X, (rng.uniform(size=5000) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64), None


def _collinear_binary() -> tuple[np.ndarray, np.ndarray, None]:
    X = collinear_design(seed=8)
    rng = np.random.default_rng(9)
    eta = X[:, 20] - X[:, 70]
    eta = 2.0 * (eta - eta.mean()) / eta.std()
    return X, (rng.uniform(size=X.shape[0]) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64), None


CLASSIFICATION_CASES = [
    Case("cancer", _cancer),
    Case("digits-3-vs-rest", _digits_binary),
    Case("wine-3-classes", _wine_multiclass),
    Case("iris-3-classes", _iris),
    Case("separable", _separable),
    Case("rare-class", _rare_class),
    Case("collinear", _collinear_binary),
]
