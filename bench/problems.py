"""Benchmark datasets and objectives, as data.

Every peer is mapped onto ONE objective per family, with scikit-learn's
ElasticNet parametrization of the penalty and an unpenalized intercept.
Gaussian (``family="gaussian"``)::

    P(b0, b) = 1/(2n) * ||y - b0 - X b||^2
               + alpha * (l1_ratio * ||b||_1 + (1 - l1_ratio)/2 * ||b||_2^2)

Logistic (``family="binomial"``: y in {0, 1}, one coefficient row, sigmoid;
``family="multinomial"``: y in {0, ..., K-1}, K rows, true softmax without a
reference class, the penalty over the whole (K, p) matrix)::

    P(b0, B) = 1/n * sum_i logloss_i(b0 + B x_i)
               + alpha * (l1_ratio * |B|_1 + (1 - l1_ratio)/2 * |B|_2^2)

with logloss_i(eta) = log(1 + exp(eta)) - y_i eta (binomial) or
logsumexp_k(eta_k) - eta_{y_i} (multinomial).

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
from scipy.special import expit, logsumexp

FloatArray = npt.NDArray[np.float64]
Matrix = FloatArray | sp.csc_matrix

Family = Literal["gaussian", "binomial", "multinomial"]

CACHE_DIR = Path(__file__).resolve().parent / ".cache"

#: A path/single/cv measurement "reaches equal precision" when the maximum
#: over the path of (P - P_best) / P_best is at most this.
GAP_THRESHOLD = 1e-6

# Smallest sizes --scale may shrink a dataset to (a smoke run stays meaningful).
_MIN_N = 50
_MIN_P = 20

# Logistic data: standard deviation of the true linear predictor (per class).
_LOGIT_SIGNAL_SD = 2.0
_LOGIT_INTERCEPT = -0.5


@dataclass(frozen=True)
class Dataset:
    """A synthetic dataset: shape, structure, response family and seed.

    Dense: AR(1) columns (Toeplitz correlation rho^|i-j|), shuffled by a random
    column permutation, then scaled by U(0.5, 2) and shifted by U(-2, 2) means.
    Sparse: CSC with i.i.d. positions, log-normal values (so non-zero column
    means). b* has ``n_informative`` non-zero entries of random sign and
    magnitude U(0.5, 2) (per class for multinomial, on one shared support).

    - gaussian: y = 1.5 + X b* + noise, noise sized for signal-to-noise 3;
    - binomial: eta = -0.5 + s (X b* - mean), s setting sd(eta) to 2,
      y ~ Bernoulli(sigmoid(eta)) in {0., 1.};
    - multinomial: eta_k = c_k + s_k (X b*_k - mean), sd 2 per class,
      c_k ~ U(-0.5, 0.5), y ~ softmax(eta) in {0., ..., K-1.} (Gumbel-max).

    X is generated first from the seed, so a logistic dataset with the same
    shape and seed as a Gaussian one has the same X.
    """

    name: str
    n_samples: int
    n_features: int
    kind: Literal["dense", "sparse", "spectra"] = "dense"
    density: float = 1.0
    n_informative: int = 20
    rho: float = 0.5
    seed: int = 0
    scale_features: bool = False  # --scale also shrinks n_features
    family: Family = "gaussian"
    n_classes: int = 2  # multinomial only

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
        key = f"{self.name}_n{n}_p{p}_d{density:.3g}_k{self.n_informative}_s{self.seed}"
        if self.family == "binomial":
            key += "_binomial"
        elif self.family == "multinomial":
            key += f"_multinomial{self.n_classes}"
        return key


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

    @property
    def family(self) -> Family:
        return self.dataset.family

    @property
    def grid_l1_ratio(self) -> float:
        """The l1_ratio whose alpha_max tops the grid.

        Path/single: the problem's l1_ratio. Logistic CV: ONE grid shared by
        every l1_ratio (scikit-learn's LogisticRegressionCV takes one list of
        Cs), from alpha_max at the smallest l1_ratio, the largest alpha_max.
        """
        if self.task == "cv" and self.family != "gaussian":
            return min(self.l1_ratios)
        return self.l1_ratio


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

SPECTRA = Dataset("spectra", 2_000, 500, kind="spectra", n_informative=5, seed=6)
LOGIT = Dataset("logit", 100_000, 100, n_informative=20, seed=3, family="binomial")
MULTI = Dataset("multi", 50_000, 100, n_informative=20, seed=4, family="multinomial", n_classes=5)
LOGIT_SPARSE = Dataset(
    "logit_sparse",
    100_000,
    50_000,
    kind="sparse",
    density=1e-3,
    n_informative=1_000,
    seed=5,
    scale_features=True,
    family="binomial",
)

_PATH_PEERS = ("sklearn_cd", "sklearn_gram", "glum", "skglm", "celer", "glmops")
_SPARSE_PEERS = ("sklearn_cd", "glum", "skglm", "celer", "glmops")
_CV_PEERS = ("sklearn_gram", "sklearn_cd", "glum", "glmops")
_LOGIT_PEERS = ("sklearn_saga", "glum_logit", "skglm_logit", "glmops_logit")

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
            "collinear_path",
            SPECTRA,
            "path",
            "Ill-conditioned dense n=2,000 x p=500, spectra-like (10 smooth bumps mixed per "
            "row plus 5e-5 noise: neighbouring columns almost equal, condition number of "
            "the centred design ~1e6), 100 alphas down to 1e-3*alpha_max, l1_ratio=0.5, "
            "intercept. Plain coordinate descent crawls here.",
            eps=1e-3,
            reference="sklearn_gram",
            peers=_PATH_PEERS,
        ),
        Problem(
            "collinear_single",
            SPECTRA,
            "single",
            "One fit on the collinear (spectra) data at alpha = alpha_max/100, l1_ratio=0.5, "
            "intercept.",
            alpha_divisor=100.0,
            reference="sklearn_gram",
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
        Problem(
            "logit_path",
            LOGIT,
            "path",
            "Binary logistic elastic net, dense n=100,000 x p=100 (the same X "
            "generator: correlated, non-zero means), 20 informative features, "
            "50 alphas log-spaced from alpha_max to 1e-3*alpha_max, l1_ratio=0.5, "
            "unpenalized intercept.",
            eps=1e-3,
            n_alphas=50,
            reference="glum_logit",
            peers=_LOGIT_PEERS,
        ),
        Problem(
            "logit_single",
            LOGIT,
            "single",
            "One binary logistic fit on the logit_path data at the smallest alpha of "
            "its grid, alpha = alpha_max/1000, l1_ratio=0.5, intercept.",
            alpha_divisor=1000.0,
            reference="glum_logit",
            peers=_LOGIT_PEERS,
        ),
        Problem(
            "logit_cv",
            LOGIT,
            "cv",
            "Cross-validated binary logistic elastic net on the logit_path data: "
            "KFold(5) without shuffling, l1_ratio in {0.5, 1.0} x 50 alphas, ONE grid "
            "for both l1_ratios and every peer (alpha_max at l1_ratio 0.5 down to "
            "1e-3*alpha_max: scikit-learn's LogisticRegressionCV takes a single list "
            "of Cs), chosen by the mean held-out log loss, then the refit at the "
            "chosen point.",
            eps=1e-3,
            n_alphas=50,
            l1_ratios=(0.5, 1.0),
            reference="glum_logit",
            peers=_LOGIT_PEERS,
        ),
        Problem(
            "multi_path",
            MULTI,
            "path",
            "Multinomial (softmax, K=5 coefficient rows, no reference class) elastic "
            "net, dense n=50,000 x p=100, 20 informative features (shared support), "
            "50 alphas down to 1e-2*alpha_max, l1_ratio=0.5, intercepts. eps=1e-2 (a "
            "choice, not a measurement): it keeps saga's tolerance ladder within the "
            "timeout. Rerun with --eps 1e-3 for the longer path.",
            eps=1e-2,
            n_alphas=50,
            reference="glmops_logit",
            peers=_LOGIT_PEERS,
        ),
        Problem(
            "multi_single",
            MULTI,
            "single",
            "One multinomial fit on the multi_path data at the smallest alpha of its "
            "grid, alpha = alpha_max/100, l1_ratio=0.5, intercepts.",
            alpha_divisor=100.0,
            reference="glmops_logit",
            peers=_LOGIT_PEERS,
        ),
        Problem(
            "logit_sparse",
            LOGIT_SPARSE,
            "path",
            "Binary logistic elastic net on sparse CSC n=100,000 x p=50,000, density "
            "1e-3, log-normal values (non-zero column means; X is never centred in "
            "memory), 1,000 informative features, 50 alphas down to 1e-2*alpha_max, "
            "l1_ratio=0.5, intercept. eps=1e-2 (a choice, as for sparse_path).",
            eps=1e-2,
            n_alphas=50,
            reference="skglm_logit",
            peers=_LOGIT_PEERS,
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


def _standardized_predictor(lin: FloatArray) -> FloatArray:
    """Return (lin - mean) scaled to sd _LOGIT_SIGNAL_SD (columnwise)."""
    sd = np.std(lin, axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return _LOGIT_SIGNAL_SD * (lin - lin.mean(axis=0)) / sd


def _make_labels(
    rng: np.random.Generator, X: Matrix, p: int, k: int, family: Family, n_classes: int
) -> FloatArray:
    """Return logistic labels (float64 0/1 or 0..K-1), see :class:`Dataset`."""
    n = X.shape[0]
    if family == "binomial":
        support, values = _true_coef(rng, p, k)
        lin = np.asarray(X[:, support] @ values).ravel()
        eta = _LOGIT_INTERCEPT + _standardized_predictor(lin)
        return (rng.random(n) < expit(eta)).astype(np.float64)
    support = np.sort(rng.choice(p, size=min(k, p), replace=False))
    values = rng.choice([-1.0, 1.0], size=(n_classes, support.size)) * rng.uniform(
        0.5, 2.0, (n_classes, support.size)
    )
    lin = np.asarray(X[:, support] @ values.T)
    eta = rng.uniform(-0.5, 0.5, n_classes)[None, :] + _standardized_predictor(lin)
    # Gumbel-max: argmax_k(eta_k + G_k) ~ softmax(eta)
    return np.argmax(eta + rng.gumbel(size=eta.shape), axis=1).astype(np.float64)


def _dense_design(rng: np.random.Generator, n: int, p: int, rho: float) -> FloatArray:
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
    return X


def _sparse_design(rng: np.random.Generator, n: int, p: int, density: float) -> sp.csc_matrix:
    nnz = max(1, round(n * p * density))
    rows = rng.integers(0, n, nnz)
    cols = rng.integers(0, p, nnz)
    vals = rng.lognormal(0.0, 0.5, nnz)
    X = sp.csc_matrix(sp.coo_matrix((vals, (rows, cols)), shape=(n, p)))
    X.sum_duplicates()
    X.indices = X.indices.astype(np.int32, copy=False)
    X.indptr = X.indptr.astype(np.int32, copy=False)
    return X


def make_dense(
    n: int,
    p: int,
    *,
    n_informative: int,
    rho: float,
    seed: int,
    family: Family = "gaussian",
    n_classes: int = 2,
) -> tuple[FloatArray, FloatArray]:
    """Return a Fortran-ordered X (n, p) and y (n,), see :class:`Dataset`."""
    rng = np.random.default_rng(seed)
    X = _dense_design(rng, n, p, rho)
    if family != "gaussian":
        return X, _make_labels(rng, X, p, n_informative, family, n_classes)
    support, values = _true_coef(rng, p, n_informative)
    y = _make_y(rng, X[:, support] @ values, n)
    return X, y


# spectra: smooth bumps mixed per row, plus this much white noise (it sets the
# condition number of the centred design: ~1e6 at n=2,000, p=500)
_SPECTRA_BUMPS = 10
_SPECTRA_NOISE = 5e-5


def make_spectra(n: int, p: int, *, n_informative: int, seed: int) -> tuple[FloatArray, FloatArray]:
    """Return an ill-conditioned Fortran-ordered X (n, p) and y (n,), like NIR spectra.

    Each row mixes ``_SPECTRA_BUMPS`` Gaussian bumps (random centres and
    widths 0.05-0.3 on a grid of p wavelengths) with N(0, 1) weights, plus a
    per-column baseline U(-1, 1) and N(0, _SPECTRA_NOISE^2) noise: neighbouring
    columns are almost equal and the centred design's condition number is
    ~1e6. y = X[:, support] b* + noise (signal-to-noise 3), b* as for dense.
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, p)
    centres = rng.uniform(0.0, 1.0, _SPECTRA_BUMPS)
    widths = rng.uniform(0.05, 0.3, _SPECTRA_BUMPS)
    bumps = np.exp(-(((t[None, :] - centres[:, None]) / widths[:, None]) ** 2))
    X = np.asfortranarray(
        rng.standard_normal((n, _SPECTRA_BUMPS)) @ bumps
        + rng.uniform(-1.0, 1.0, p)
        + _SPECTRA_NOISE * rng.standard_normal((n, p))
    )
    support, values = _true_coef(rng, p, n_informative)
    return X, _make_y(rng, X[:, support] @ values, n)


def make_sparse(
    n: int,
    p: int,
    *,
    density: float,
    n_informative: int,
    seed: int,
    family: Family = "gaussian",
    n_classes: int = 2,
) -> tuple[sp.csc_matrix, FloatArray]:
    """Return a CSC X (n, p) with int32 indices and y (n,), see :class:`Dataset`."""
    rng = np.random.default_rng(seed)
    X = _sparse_design(rng, n, p, density)
    if family != "gaussian":
        return X, _make_labels(rng, X, p, n_informative, family, n_classes)
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
    if dataset.kind == "spectra":
        X, y = make_spectra(n, p, n_informative=dataset.n_informative, seed=dataset.seed)
        np.save(d / "X.npy", X)
    elif dataset.kind == "dense":
        X, y = make_dense(
            n,
            p,
            n_informative=dataset.n_informative,
            rho=dataset.rho,
            seed=dataset.seed,
            family=dataset.family,
            n_classes=dataset.n_classes,
        )
        np.save(d / "X.npy", X)
    else:
        X, y = make_sparse(
            n,
            p,
            density=density,
            n_informative=dataset.n_informative,
            seed=dataset.seed,
            family=dataset.family,
            n_classes=dataset.n_classes,
        )
        np.save(d / "data.npy", X.data)
        np.save(d / "indices.npy", X.indices)
        np.save(d / "indptr.npy", X.indptr)
    np.save(d / "y.npy", y)
    (d / "meta.json").write_text(
        json.dumps(
            {
                "n_samples": n,
                "n_features": p,
                "density": density,
                "kind": dataset.kind,
                "family": dataset.family,
            }
        )
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
    if dataset.kind in ("dense", "spectra"):
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


def one_hot(y: FloatArray, n_classes: int | None = None) -> FloatArray:
    """Return the (n, K) indicator matrix of labels 0..K-1 stored as floats."""
    labels = np.asarray(y).astype(np.intp)
    k = int(labels.max()) + 1 if n_classes is None else n_classes
    out = np.zeros((labels.size, k))
    out[np.arange(labels.size), labels] = 1.0
    return out


def alpha_max(X: Matrix, y: FloatArray, l1_ratio: float, family: Family = "gaussian") -> float:
    """Return the smallest alpha at which every coefficient is zero.

    Gaussian and binomial: max_j |x_j'(y - ybar)| / (n * l1_ratio), scikit-learn's
    _alpha_grid (the gradient at the intercept-only fit; for binomial y in {0, 1}).
    Multinomial: max_{k,j} |x_j'(Y_k - Ybar_k)| / (n * l1_ratio) with Y the
    one-hot labels. Centring y is enough: sum(y - ybar) = 0, so
    X_c'(y - ybar) = X'(y - ybar).
    """
    if family == "multinomial":
        Y = one_hot(y)
        Yc = Y - Y.mean(axis=0)
        return float(np.max(np.abs(np.asarray(X.T @ Yc))) / (X.shape[0] * l1_ratio))
    yc = y - y.mean()
    return float(np.max(np.abs(X.T @ yc)) / (X.shape[0] * l1_ratio))


def alpha_grid(
    X: Matrix,
    y: FloatArray,
    *,
    l1_ratio: float,
    eps: float,
    n_alphas: int,
    family: Family = "gaussian",
) -> FloatArray:
    """Return scikit-learn's grid: geomspace(alpha_max, eps * alpha_max, n_alphas)."""
    amax = alpha_max(X, y, l1_ratio, family)
    return np.geomspace(amax, amax * eps, num=n_alphas)


def objective(
    X: Matrix,
    y: FloatArray,
    coef: FloatArray,
    intercept: float | FloatArray,
    alpha: float,
    l1_ratio: float,
    family: Family = "gaussian",
) -> float:
    """Return P of the module docstring at one point, in float64.

    ``coef`` is (n_features,) (gaussian, binomial) or (K, n_features)
    (multinomial, with ``intercept`` of shape (K,)).
    """
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    return float(
        path_objectives(
            X,
            y,
            coef[..., None],
            intercept[..., None],
            np.array([alpha]),
            l1_ratio,
            family=family,
        )[0]
    )


def path_objectives(
    X: Matrix,
    y: FloatArray,
    coefs: FloatArray,
    intercepts: FloatArray,
    alphas: FloatArray,
    l1_ratio: float,
    *,
    family: Family = "gaussian",
    chunk: int = 10,
) -> FloatArray:
    """Return P at each point of a path, in float64.

    ``coefs``: (n_features, n_alphas) with ``intercepts`` (n_alphas,) for gaussian
    and binomial; (K, n_features, n_alphas) with ``intercepts`` (K, n_alphas) for
    multinomial.
    """
    coefs = np.asarray(coefs, dtype=np.float64)
    alphas = np.asarray(alphas, dtype=np.float64)
    n = X.shape[0]
    out = np.empty(coefs.shape[-1])
    if family == "multinomial":
        intercepts = np.asarray(intercepts, dtype=np.float64)
        labels = np.asarray(y).astype(np.intp)
        rows = np.arange(n)
        for a in range(coefs.shape[-1]):
            B = coefs[:, :, a]  # (K, p)
            eta = np.asarray(X @ B.T) + intercepts[None, :, a]  # (n, K)
            loss = float(np.mean(logsumexp(eta, axis=1) - eta[rows, labels]))
            pen = l1_ratio * np.abs(B).sum() + 0.5 * (1.0 - l1_ratio) * float(np.sum(B * B))
            out[a] = loss + alphas[a] * pen
        return out
    intercepts = np.asarray(intercepts, dtype=np.float64).ravel()
    for start in range(0, coefs.shape[1], chunk):
        sl = slice(start, start + chunk)
        eta = intercepts[None, sl] + np.asarray(X @ coefs[:, sl])
        if family == "binomial":
            loss = np.mean(np.logaddexp(0.0, eta) - y[:, None] * eta, axis=0)
        else:
            resid = y[:, None] - eta
            loss = 0.5 * np.einsum("ij,ij->j", resid, resid) / n
        b = coefs[:, sl]
        pen = l1_ratio * np.abs(b).sum(axis=0) + 0.5 * (1.0 - l1_ratio) * np.einsum(
            "ij,ij->j", b, b
        )
        out[sl] = loss + alphas[sl] * pen
    return out


def relative_gaps(values: FloatArray, best: FloatArray) -> FloatArray:
    """Return (P - P_best) / P_best elementwise (P_best > 0 for alpha > 0)."""
    return (np.asarray(values) - np.asarray(best)) / np.asarray(best)
