"""Registry of peer adapters.

Each Gaussian adapter module ``bench.peers.<name>`` exposes the same functions:

``fit_path(X, y, *, alphas, l1_ratio, tol) -> PathFit``
    The whole path on the given (decreasing) alpha grid, warm-started.
``fit_single(X, y, *, alpha, l1_ratio, tol) -> PathFit``
    One fit at one alpha, as a user of that library would write it.
``fit_cv(X, y, *, l1_ratios, n_alphas, eps, cv, tol) -> CVFit`` (optional)
    The library's cross-validated elastic net.

Logistic adapters (``family="logistic"``: binary and multinomial) have the
same ``fit_path`` and ``fit_single``; y holds the labels as floats (0/1 or
0..K-1) and multinomial fits return (K, n_features, n_alphas) coefficients.
Their CV takes the one shared grid instead of building its own:

``fit_cv(X, y, *, l1_ratios, alphas, cv, tol) -> CVFit`` (optional)

All map onto the objective in :mod:`bench.problems` (see each module's
docstring). The metadata below is plain data so that ``bench.run`` can plan
without importing any peer library; the library is imported in the worker
subprocess only, where an ImportError skips the peer with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass
class PathFit:
    """Coefficients (n_features, n_alphas) and intercepts (n_alphas,).

    Multinomial: coefficients (K, n_features, n_alphas), intercepts (K, n_alphas).
    """

    coefs: FloatArray
    intercepts: FloatArray


@dataclass
class CVFit:
    """The CV choice and the refit at it.

    ``alphas`` has shape (n_l1_ratios, n_alphas); ``mse_mean`` is the mean
    held-out loss over folds with the same shape (MSE for Gaussian, log loss
    per sample for logistic), or None when the peer does not expose it on that
    scale. ``coef`` is (n_features,) or, multinomial, (K, n_features) with
    ``intercept`` (K,).
    """

    alpha: float
    l1_ratio: float
    coef: FloatArray
    intercept: float | FloatArray
    alphas: FloatArray
    mse_mean: FloatArray | None


@dataclass(frozen=True)
class PeerInfo:
    """What ``bench.run`` needs to plan a peer's measurements."""

    name: str
    label: str  # library call, for the tables
    package: str  # distribution name for the version line
    tol_param: str  # the peer's own name for the stopping tolerance
    tols: tuple[float, ...]  # loose -> tight
    # the library's own default for that tolerance (what a new user gets): the
    # one rung run by ``bench.run --defaults``
    default_tol: float = 1e-4
    jit: bool = False  # numba: warm-up call first, reported as "1st call"
    dense: bool = True
    sparse: bool = True
    cv: bool = False
    family: str = "gaussian"  # "gaussian" or "logistic"
    multinomial: bool = False  # logistic: a softmax with K rows (no reference class)
    # why a peer with cv=False is left out of CV problems
    no_cv_reason: str = "no CV estimator"
    no_multinomial_reason: str = "no multinomial (softmax) model"

    @property
    def module(self) -> str:
        return f"bench.peers.{self.name}"


# glmops' default ``tol`` (ElasticNet, LogisticRegression and their paths/CV):
# tests/unit/estimators/test_estimators.py checks that the estimators agree
GLMOPS_DEFAULT_TOL = 1e-7

_SK_TOLS = (1e-4, 1e-6, 1e-8, 1e-10, 1e-12)
_TOLS = (1e-4, 1e-6, 1e-8, 1e-10)
# saga's tol bounds the largest relative change of the coefficients in one
# epoch, not an optimality measure: a finer ladder than the others.
_SAGA_TOLS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)

PEERS: dict[str, PeerInfo] = {
    p.name: p
    for p in (
        PeerInfo(
            "sklearn_cd",
            "sklearn enet_path (precompute=False)",
            "scikit-learn",
            "tol",
            _SK_TOLS,
            cv=True,
        ),
        PeerInfo(
            "sklearn_gram",
            "sklearn enet_path (precompute=True)",
            "scikit-learn",
            "tol",
            _SK_TOLS,
            sparse=False,
            cv=True,
        ),
        PeerInfo(
            "glum",
            "glum GeneralizedLinearRegressor",
            "glum",
            "gradient_tol",
            _TOLS,
            cv=True,
        ),
        PeerInfo("skglm", "skglm ElasticNet", "skglm", "tol", _TOLS, jit=True),
        PeerInfo("celer", "celer celer_path", "celer", "tol", _TOLS),
        PeerInfo(
            "glmops",
            "glmops enet_path",
            "glmops",
            "tol",
            _TOLS,
            default_tol=GLMOPS_DEFAULT_TOL,
            jit=True,
            cv=True,
        ),
        # --- logistic (binary and multinomial) ---
        PeerInfo(
            "sklearn_saga",
            "sklearn LogisticRegression(solver='saga')",
            "scikit-learn",
            "tol",
            _SAGA_TOLS,
            cv=True,
            family="logistic",
            multinomial=True,
        ),
        PeerInfo(
            "glum_logit",
            "glum GeneralizedLinearRegressor(family='binomial')",
            "glum",
            "gradient_tol",
            _TOLS,
            cv=True,
            family="logistic",
            no_multinomial_reason="glum has no multinomial family",
        ),
        PeerInfo(
            "skglm_logit",
            "skglm Logistic + L1_plus_L2, ProxNewton",
            "skglm",
            "tol",
            _TOLS,
            jit=True,
            family="logistic",
            no_cv_reason="skglm's GeneralizedLinearEstimatorCV scores by accuracy on "
            "its own shuffled StratifiedKFold (no cv= splitter, no log-loss scoring), so "
            "its choice is not comparable",
            no_multinomial_reason="skglm fits multiclass Logistic one-vs-rest, not a softmax",
        ),
        PeerInfo(
            "glmops_logit",
            "glmops logistic_path",
            "glmops",
            "tol",
            _TOLS,
            default_tol=GLMOPS_DEFAULT_TOL,
            jit=True,
            cv=True,
            family="logistic",
            multinomial=True,
        ),
    )
}

#: Our own adapters: their rows are compared against everyone else's.
OWN = frozenset({"glmops", "glmops_logit"})
