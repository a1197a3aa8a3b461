"""What every glmops estimator shares, apart from cross-validation (``_cv``).

Sparse input accepted everywhere (scikit-learn's tags), one predict-time
validation of X, one canonical CSC form for the kernels, and one
convergence warning worded from the duality gap each solver certifies.
"""

from __future__ import annotations

import warnings
from typing import Any, Protocol

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from glmops._typing import BoolArray, FloatArray
from glmops.errors import ConvergenceWarning

__all__ = ["SparseInputEstimator", "canonical_csc", "check_predict_input", "warn_if_not_converged"]


class SparseInputEstimator(BaseEstimator):  # type: ignore[misc]
    """A scikit-learn estimator that accepts sparse X (declared in its tags)."""

    def __sklearn_tags__(self) -> Any:
        """Return scikit-learn's tags, with sparse input declared supported."""
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def check_predict_input(estimator: BaseEstimator, X: Any) -> Any:
    """Return X validated against a fitted estimator (feature count and names kept).

    float32 stays float32; sparse input is accepted in any common format.
    """
    check_is_fitted(estimator)
    return validate_data(
        estimator,
        X,
        accept_sparse=["csr", "csc", "coo"],
        dtype=[np.float64, np.float32],
        reset=False,
    )


def canonical_csc(X: Any) -> Any:
    """Return sparse X as CSC with sorted, summed entries, copying rather than mutating.

    scipy allows duplicate (to be summed) and unsorted entries; the kernels
    need neither, and sorting in place would reorder the caller's arrays.
    """
    csc = X.tocsc()
    if csc.has_canonical_format:
        return csc
    csc = csc.copy() if csc is X else csc
    csc.sum_duplicates()
    return csc


class _CertifiedPath(Protocol):
    """What a solved path reports about its convergence (core's path results)."""

    @property
    def alphas(self) -> FloatArray: ...

    @property
    def dual_gaps(self) -> FloatArray: ...

    @property
    def converged(self) -> BoolArray: ...

    @property
    def gap_targets(self) -> FloatArray: ...


def warn_if_not_converged(
    result: _CertifiedPath, tol: float, where: str, *, scale: str, advice: str
) -> None:
    """Warn, naming the first alpha whose duality gap missed the tolerance.

    Parameters
    ----------
    result : PathResult or LogisticPathResult
        The solved path.
    tol : float
        The estimator's relative ``tol``.
    where : str
        Who ran the path, e.g. ``"ElasticNetCV fold 2"``.
    scale : str
        What ``tol`` multiplies, e.g. ``"the weighted variance of y"``.
    advice : str
        What to try, one sentence.
    """
    if np.all(result.converged):
        return
    k = int(np.flatnonzero(~result.converged)[0])
    warnings.warn(
        f"{where} did not converge at alpha={result.alphas[k]:.4g}: duality gap "
        f"{result.dual_gaps[k]:.3e} > tolerance {result.gap_targets[k]:.3e} "
        f"(tol={tol} times {scale}). {advice}",
        ConvergenceWarning,
        stacklevel=3,
    )
