"""Array aliases shared across glmops."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["BoolArray", "FloatArray", "IntArray"]

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
