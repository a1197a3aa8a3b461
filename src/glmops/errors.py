"""The glmops exception tree.

Every error glmops raises on purpose is a :class:`GlmopsError`; the ones about
bad input also subclass the builtin, so ``except ValueError`` keeps working::

    GlmopsError
      InvalidInputError(ValueError)   data / schema / payload: .field .expected .got
      ConfigError(ValueError)         .path like models[0].cv.n_folds
    ConvergenceWarning(sklearn.exceptions.ConvergenceWarning)

Later layers (artifact, registry, serving) extend this tree here, in one place.
"""

from __future__ import annotations

from typing import Any

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

__all__ = ["ConfigError", "ConvergenceWarning", "GlmopsError", "InvalidInputError"]


class GlmopsError(Exception):
    """Base class of every error raised by glmops on purpose."""


class InvalidInputError(GlmopsError, ValueError):
    """Input data or parameters are not what the function accepts.

    Carries the offending ``field``, what was ``expected`` and what it ``got``,
    so services can turn it into one structured entry per field.
    """

    def __init__(self, message: str, *, field: str, expected: str, got: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.expected = expected
        self.got = got


class ConfigError(GlmopsError, ValueError):
    """A configuration value is invalid; ``path`` locates it (``models[0].cv``)."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class ConvergenceWarning(_SklearnConvergenceWarning):  # type: ignore[misc]
    """A solver stopped before its certificate (duality gap) reached ``tol``."""
