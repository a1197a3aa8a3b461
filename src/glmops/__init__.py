"""glmops: regularized linear models from data to production.

The numerical heart is a numba coordinate-descent engine whose every fit is
certified by its duality gap; the estimators are drop-in scikit-learn ones.
"""

from __future__ import annotations

from glmops.errors import ConfigError, ConvergenceWarning, GlmopsError, InvalidInputError
from glmops.estimators import ElasticNet, ElasticNetCV, Lasso, LassoCV, enet_path

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConvergenceWarning",
    "ElasticNet",
    "ElasticNetCV",
    "GlmopsError",
    "InvalidInputError",
    "Lasso",
    "LassoCV",
    "__version__",
    "enet_path",
]
