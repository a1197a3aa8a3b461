"""Input checks and JSON helpers shared by the evaluation modules."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from glmops.errors import InvalidInputError

__all__ = [
    "as_float_vector",
    "class_indices",
    "json_label",
]

logger = logging.getLogger(__name__)


def as_float_vector(values: Any, field: str, n: int | None = None) -> npt.NDArray[np.float64]:
    """Return ``values`` as a finite float64 vector, of length ``n`` when given."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{field} must be numeric; got {type(values).__name__}.",
            field=field,
            expected="numeric 1-d array",
            got=type(values).__name__,
        ) from exc
    if arr.ndim != 1:
        raise InvalidInputError(
            f"{field} must be 1-dimensional; got an array of shape {arr.shape}.",
            field=field,
            expected="1-d array",
            got=arr.shape,
        )
    if n is not None and arr.shape[0] != n:
        raise InvalidInputError(
            f"{field} has {arr.shape[0]} values but y_true has {n}.",
            field=field,
            expected=f"{n} values",
            got=arr.shape[0],
        )
    if arr.shape[0] == 0:
        raise InvalidInputError(
            f"{field} is empty.", field=field, expected="at least one value", got=0
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(
            f"{field} must be finite; got NaN or inf.",
            field=field,
            expected="finite values",
            got="NaN/inf",
        )
    return arr


def class_indices(y_true: Any, classes: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Return the position of each label of ``y_true`` in ``classes``."""
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise InvalidInputError(
            f"y_true must be 1-dimensional; got an array of shape {y.shape}.",
            field="y_true",
            expected="1-d array",
            got=y.shape,
        )
    idx = np.full(y.shape[0], -1, dtype=np.intp)
    for k, label in enumerate(classes):
        idx[y == label] = k
    if np.any(idx < 0):
        unknown = sorted({str(v) for v in y[idx < 0]})[:5]
        raise InvalidInputError(
            f"y_true holds labels that are not in classes: {unknown}.",
            field="y_true",
            expected=f"labels in {[json_label(c) for c in classes]}",
            got=unknown,
        )
    return idx


def json_label(label: Any) -> str | int | float | bool:
    """Return a class label as a plain JSON value (numpy scalars unwrapped, else ``str``)."""
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, str | int | float | bool):
        return label
    return str(label)
