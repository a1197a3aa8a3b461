"""Input checks shared by the estimators and the metrics: one place, one message format.

Messages follow scikit-learn's: name the field, what is expected and what was
received, e.g. ``"sample_weight must be non-negative; got -1.0 at index 3."``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from glmops._typing import FloatArray
from glmops.errors import InvalidInputError

__all__ = ["check_sample_weight", "check_target"]

# |v| above this has a square that overflows float64 (sqrt of the max double)
_SQUARE_OVERFLOW = 1e154


def check_target(y: Any, n_samples: int) -> FloatArray:
    """Return ``y`` as a float64 vector of length ``n_samples`` whose squares are finite.

    NaN/inf in y were already refused by scikit-learn's ``check_X_y``.
    """
    y_arr = np.asarray(y, dtype=np.float64)
    if y_arr.ndim != 1:
        raise InvalidInputError(
            f"y must be 1-dimensional; got an array of shape {y_arr.shape}.",
            field="y",
            expected="1-d array",
            got=y_arr.shape,
        )
    if y_arr.shape[0] != n_samples:
        raise InvalidInputError(
            f"y has {y_arr.shape[0]} samples but X has {n_samples}.",
            field="y",
            expected=f"{n_samples} samples",
            got=y_arr.shape[0],
        )
    if y_arr.size and not np.max(np.abs(y_arr)) < _SQUARE_OVERFLOW:
        raise InvalidInputError(
            "y has values so large that their squares overflow float64; rescale the target.",
            field="y",
            expected=f"finite values with |y| < {_SQUARE_OVERFLOW:g}",
            got=float(np.max(np.abs(y_arr))),
        )
    return y_arr


def check_sample_weight(
    sample_weight: Any, n_samples: int, *, equal_as_none: bool = False
) -> npt.NDArray[np.float64] | None:
    """Validate ``sample_weight``; return it as a float64 vector, or None.

    The one owner of this check: the estimators and the metrics accept and
    refuse the same weights with the same messages. Weights must be finite
    and non-negative with a positive sum; zeros are allowed (those rows do
    not count). A scalar is broadcast to every row, as scikit-learn does.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), scalar or None
        The weights to check.
    n_samples : int
        Rows the weights must cover.
    equal_as_none : bool, default=False
        Return None for equal weights too, so a solver takes its
        unit-weight path (the objective is the same).

    Returns
    -------
    ndarray of shape (n_samples,) or None
        None when ``sample_weight`` is None (or equal, with ``equal_as_none``).
    """
    if sample_weight is None:
        return None
    if sp.issparse(sample_weight):
        raise InvalidInputError(
            "sample_weight must be a dense 1-d array; got a sparse matrix.",
            field="sample_weight",
            expected="dense 1-d array",
            got="sparse matrix",
        )
    if np.isscalar(sample_weight):
        sw = np.full(n_samples, sample_weight, dtype=np.float64)
    else:
        try:
            sw = np.asarray(sample_weight, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"sample_weight must be numeric; got {exc}.",
                field="sample_weight",
                expected="numeric 1-d array",
                got=type(sample_weight).__name__,
            ) from exc
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise InvalidInputError(
            f"sample_weight.shape == {sw.shape}, expected ({n_samples},)!",
            field="sample_weight",
            expected=f"shape ({n_samples},)",
            got=sw.shape,
        )
    if not np.all(np.isfinite(sw)):
        bad = int(np.flatnonzero(~np.isfinite(sw))[0])
        raise InvalidInputError(
            f"sample_weight must be finite; got {sw[bad]} at index {bad}.",
            field="sample_weight",
            expected="finite values",
            got=float(sw[bad]),
        )
    if np.any(sw < 0):
        bad = int(np.flatnonzero(sw < 0)[0])
        raise InvalidInputError(
            f"sample_weight must be non-negative; got {sw[bad]} at index {bad}.",
            field="sample_weight",
            expected="values >= 0",
            got=float(sw[bad]),
        )
    if not sw.sum() > 0:
        raise InvalidInputError(
            "sample_weight must have a positive sum; all weights are zero.",
            field="sample_weight",
            expected="at least one positive weight",
            got=0.0,
        )
    if equal_as_none and np.all(sw == sw[0]):
        return None
    return sw
