"""Benchmark datasets and objectives, as data.

Every peer is mapped onto ONE objective, scikit-learn's ElasticNet
parametrization with an unpenalized intercept::

    P(b0, b) = 1/(2n) * ||y - b0 - X b||^2
               + alpha * (l1_ratio * ||b||_1 + (1 - l1_ratio)/2 * ||b||_2^2)

The harness evaluates P itself, in float64, from the coefficients and
intercepts each adapter returns (:func:`objective`, :func:`path_objectives`);
no peer's own reported objective or duality gap is trusted.

Datasets are generated deterministically from numpy seeds and cached under
``bench/.cache/`` (git-ignored) so that worker processes load them from disk
before their timer starts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float64]
Matrix = FloatArray | sp.csc_matrix

CACHE_DIR = Path(__file__).resolve().parent / ".cache"

#: A path/single/cv measurement "reaches equal precision" when the maximum
#: over the path of (P - P_best) / P_best is at most this.
GAP_THRESHOLD = 1e-6

# Smallest sizes --scale may shrink a dataset to (a smoke run stays meaningful).
_MIN_N = 50
_MIN_P = 20


@dataclass(frozen=True)
class Dataset:
    """A synthetic regression dataset: shape, structure and seed.

    Dense: AR(1) columns (Toeplitz correlation rho^|i-j|), shuffled by a random
    column permutation, then scaled by U(0.5, 2) and shifted by U(-2, 2) means.
    Sparse: CSC with i.i.d. positions, log-normal values (so non-zero column
    means). y = 1.5 + X b* + noise with ``n_informative`` non-zero b*_j of
    random sign and magnitude U(0.5, 2); noise sized for signal-to-noise 3.
    """

    name: str
    n_samples: int
    n_features: int
    kind: Literal["dense", "sparse"] = "dense"
    density: float = 1.0
    n_informative: int = 20
    rho: float = 0.5
    seed: int = 0
    scale_features: bool = False  # --scale also shrinks n_features

    def sized(self, scale: float) -> tuple[int, int, float]:
        """Return (n_samples, n_features, density) at ``--scale``.

        At small scales the sparse density is raised so each column keeps about
        10 non-zeros (documented in the problem header).
        """
        n = max(_MIN_N, round(self.n_samples * scale))
        p = self.n_features
        if self.scale_features:
            p = max(_MIN_P, round(p * scale))
        density = self.density
        if self.kind == "sparse":
            density = min(1.0, max(density, 10.0 / n))
        return n, p, density

    def cache_key(self, scale: float) -> str:
        n, p, density = self.sized(scale)
        return f"{self.name}_n{n}_p{p}_d{density:.3g}_k{self.n_informative}_s{self.seed}"


@dataclass(frozen=True)
class Problem:
    """One benchmark problem: a dataset and what is solved on it."""

    name: str
    dataset: Dataset
    task: Literal["path", "single", "cv", "floor"]
    description: str
    l1_ratio: float = 0.5
    eps: float = 1e-3
    n_alphas: int = 100
    # task "single": alpha = alpha_max / alpha_divisor
    alpha_divisor: float = 20.0
    # task "cv"
    l1_ratios: tuple[float, ...] = ()
    n_folds: int = 5
    # The peer that runs its whole tolerance ladder first, to the tightest
    # setting, so that the best objective is known before the others run.
    reference: str = "sklearn_gram"
    # tall problems also report the time of one X'X product
    report_floor: bool = False
    peers: tuple[str, ...] = field(default_factory=tuple)


TALL = Dataset("tall", 100_000, 200, n_informative=20, seed=0)
WIDE = Dataset("wide", 500, 20_000, n_informative=20, seed=1, scale_features=True)
SPARSE = Dataset(
    "sparse",
    100_000,
    50_000,
    kind="sparse",
    density=1e-3,
    n_informative=1_000,
    seed=2,
    scale_features=True,
)

_PATH_PEERS = ("sklearn_cd", "sklearn_gram", "glum", "skglm", "celer", "glmops")
_SPARSE_PEERS = ("sklearn_cd", "glum", "skglm", "celer", "glmops")
_CV_PEERS = ("sklearn_gram", "sklearn_cd", "glum", "glmops")

PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in (
        Problem(
            "tall_path",
            TALL,
            "path",
            "Dense n=100,000 x p=200 (correlated, non-zero means), 100 alphas "
            "log-spaced from alpha_max to 1e-3*alpha_max, l1_ratio=0.5, intercept.",
            eps=1e-3,
            reference="sklearn_gram",
            report_floor=True,
            peers=_PATH_PEERS,
        ),
        Problem(
            "wide_path",
            WIDE,
            "path",
            "Dense n=500 x p=20,000 (same generator), 100 alphas down to "
            "1e-2*alpha_max, l1_ratio=0.5, intercept. eps=1e-2 (glum's default for "
            "n < p, a choice, not a measurement): further down the fit approaches "
            "interpolation (p >> n), where coordinate descent slows down sharply. "
            "Rerun with --eps 1e-3 for the longer path.",
            eps=1e-2,
            reference="celer",
            peers=_PATH_PEERS,
        ),
        Problem(
            "sparse_path",
            SPARSE,
            "path",
            "Sparse CSC n=100,000 x p=50,000, density 1e-3, log-normal values "
            "(non-zero column means; X is never centred in memory), 100 alphas down "
            "to 1e-2*alpha_max, l1_ratio=0.5, intercept. eps=1e-2 (a choice, not a "
            "measurement): it keeps the slower peers' tolerance ladders within the "
            "timeout on 50,000 features. Rerun with --eps 1e-3 for the longer path.",
            eps=1e-2,
            reference="celer",
            peers=_SPARSE_PEERS,
        ),
        Problem(
            "tall_cv",
            TALL,
            "cv",
            "ElasticNetCV on the tall data: KFold(5) without shuffling, "
            "l1_ratio in {0.1, 0.5, 0.9, 1.0} x 100 alphas each (each peer's own "
            "grid, eps=1e-3; all follow scikit-learn's alpha_max convention), then "
            "the refit at the chosen point.",
            eps=1e-3,
            l1_ratios=(0.1, 0.5, 0.9, 1.0),
            reference="sklearn_gram",
            report_floor=True,
            peers=_CV_PEERS,
        ),
        Problem(
            "tall_single",
            TALL,
            "single",
            "One fit on the tall data at alpha = alpha_max/20, l1_ratio=0.5, intercept.",
            alpha_divisor=20.0,
            reference="sklearn_gram",
            report_floor=True,
            peers=_PATH_PEERS,
        ),
        Problem(
            "floor",
            TALL,
            "floor",
            "The floor on the tall data: one X'X (p x p) and one X'y product "
            "with numpy, same thread settings.",
            peers=(),
        ),
    )
}


# ----------------------------------------------------------------------------
# generation and cache
# ----------------------------------------------------------------------------


def _make_y(rng: np.random.Generator, Xb: FloatArray, n_samples: int) -> FloatArray:
    sigma = float(np.std(Xb)) / math.sqrt(3.0) or 1.0
    return 1.5 + Xb + sigma * rng.standard_normal(n_samples)


def _true_coef(
    rng: np.random.Generator, p: int, k: int
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    support = np.sort(rng.choice(p, size=min(k, p), replace=False))
    values = rng.choice([-1.0, 1.0], size=support.size) * rng.uniform(0.5, 2.0, support.size)
    return support, values


def make_dense(
    n: int, p: int, *, n_informative: int, rho: float, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Return a Fortran-ordered X (n, p) and y (n,), see :class:`Dataset`."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, p), order="F")
    perm = rng.permutation(p)
    scales = rng.uniform(0.5, 2.0, p)
    means = rng.uniform(-2.0, 2.0, p)
    innovation = math.sqrt(1.0 - rho * rho)
    prev = rng.standard_normal(n)
    for j in range(p):
        if j > 0:
            prev = rho * prev + innovation * rng.standard_normal(n)
        col = perm[j]
        X[:, col] = scales[col] * prev + means[col]
    support, values = _true_coef(rng, p, n_informative)
    y = _make_y(rng, X[:, support] @ values, n)
    return X, y


def make_sparse(
    n: int, p: int, *, density: float, n_informative: int, seed: int
) -> tuple[sp.csc_matrix, FloatArray]:
    """Return a CSC X (n, p) with int32 indices and y (n,), see :class:`Dataset`."""
    rng = np.random.default_rng(seed)
    nnz = max(1, round(n * p * density))
    rows = rng.integers(0, n, nnz)
    cols = rng.integers(0, p, nnz)
    vals = rng.lognormal(0.0, 0.5, nnz)
    X = sp.csc_matrix(sp.coo_matrix((vals, (rows, cols)), shape=(n, p)))
    X.sum_duplicates()
    X.indices = X.indices.astype(np.int32, copy=False)
    X.indptr = X.indptr.astype(np.int32, copy=False)
    support, values = _true_coef(rng, p, n_informative)
    y = _make_y(rng, np.asarray(X[:, support] @ values).ravel(), n)
    return X, y


def _cache_dir(dataset: Dataset, scale: float) -> Path:
    return CACHE_DIR / dataset.cache_key(scale)


def ensure_cached(dataset: Dataset, scale: float) -> Path:
    """Generate the dataset into bench/.cache/ unless it is already there."""
    d = _cache_dir(dataset, scale)
    if (d / "done").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    n, p, density = dataset.sized(scale)
    if dataset.kind == "dense":
        X, y = make_dense(
            n, p, n_informative=dataset.n_informative, rho=dataset.rho, seed=dataset.seed
        )
        np.save(d / "X.npy", X)
    else:
        X, y = make_sparse(
            n, p, density=density, n_informative=dataset.n_informative, seed=dataset.seed
        )
        np.save(d / "data.npy", X.data)
        np.save(d / "indices.npy", X.indices)
        np.save(d / "indptr.npy", X.indptr)
    np.save(d / "y.npy", y)
    (d / "meta.json").write_text(
        json.dumps({"n_samples": n, "n_features": p, "density": density, "kind": dataset.kind})
    )
    (d / "done").touch()
    return d


def load(dataset: Dataset, scale: float) -> tuple[Matrix, FloatArray]:
    """Load (X, y) from the cache, generating it first if needed.

    Dense X comes back Fortran-ordered (as glum, scikit-learn and skglm want
    it); sparse X as CSC with int32 indices, without copies.
    """
    d = ensure_cached(dataset, scale)
    y = np.load(d / "y.npy")
    if dataset.kind == "dense":
        return np.load(d / "X.npy"), y
    meta = json.loads((d / "meta.json").read_text())
    X = sp.csc_matrix(
        (np.load(d / "data.npy"), np.load(d / "indices.npy"), np.load(d / "indptr.npy")),
        shape=(meta["n_samples"], meta["n_features"]),
        copy=False,
    )
    return X, y


def nbytes(X: Matrix) -> int:
    """Return the memory held by X's arrays."""
    if sp.issparse(X):
        return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
    return int(X.nbytes)


# ----------------------------------------------------------------------------
# objective and alpha grid
# ----------------------------------------------------------------------------


def alpha_max(X: Matrix, y: FloatArray, l1_ratio: float) -> float:
    """Return max_j |x_j'(y - ybar)| / (n * l1_ratio), scikit-learn's _alpha_grid.

    Centring y is enough: sum(y - ybar) = 0, so X_c'(y - ybar) = X'(y - ybar).
    """
    yc = y - y.mean()
    return float(np.max(np.abs(X.T @ yc)) / (X.shape[0] * l1_ratio))


def alpha_grid(
    X: Matrix, y: FloatArray, *, l1_ratio: float, eps: float, n_alphas: int
) -> FloatArray:
    """Return scikit-learn's grid: geomspace(alpha_max, eps * alpha_max, n_alphas)."""
    amax = alpha_max(X, y, l1_ratio)
    return np.geomspace(amax, amax * eps, num=n_alphas)


def objective(
    X: Matrix,
    y: FloatArray,
    coef: FloatArray,
    intercept: float,
    alpha: float,
    l1_ratio: float,
) -> float:
    """Return P(b0, b) of the module docstring, in float64."""
    return float(
        path_objectives(X, y, coef[:, None], np.array([intercept]), np.array([alpha]), l1_ratio)[0]
    )


def path_objectives(
    X: Matrix,
    y: FloatArray,
    coefs: FloatArray,
    intercepts: FloatArray,
    alphas: FloatArray,
    l1_ratio: float,
    *,
    chunk: int = 10,
) -> FloatArray:
    """Return P at each column of ``coefs`` (n_features, n_alphas), in float64."""
    coefs = np.asarray(coefs, dtype=np.float64)
    intercepts = np.asarray(intercepts, dtype=np.float64).ravel()
    n = X.shape[0]
    out = np.empty(coefs.shape[1])
    for start in range(0, coefs.shape[1], chunk):
        sl = slice(start, start + chunk)
        resid = y[:, None] - intercepts[None, sl] - np.asarray(X @ coefs[:, sl])
        loss = 0.5 * np.einsum("ij,ij->j", resid, resid) / n
        b = coefs[:, sl]
        pen = l1_ratio * np.abs(b).sum(axis=0) + 0.5 * (1.0 - l1_ratio) * np.einsum(
            "ij,ij->j", b, b
        )
        out[sl] = loss + np.asarray(alphas, dtype=np.float64)[sl] * pen
    return out


def relative_gaps(values: FloatArray, best: FloatArray) -> FloatArray:
    """Return (P - P_best) / P_best elementwise (P_best > 0 for alpha > 0)."""
    return (np.asarray(values) - np.asarray(best)) / np.asarray(best)
