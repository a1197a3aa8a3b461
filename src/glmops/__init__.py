"""glmops: regularized linear models from data to production.

The numerical heart is a numba coordinate-descent engine whose every fit is
certified by its duality gap; the estimators are drop-in scikit-learn ones.
"""

from __future__ import annotations

from glmops.calibration import CalibrationMap
from glmops.errors import ConfigError, ConvergenceWarning, GlmopsError, InvalidInputError
from glmops.estimators import ElasticNet, ElasticNetCV, Lasso, LassoCV, enet_path
from glmops.logistic import LogisticRegression, LogisticRegressionCV, logistic_path
from glmops.threshold import select_threshold

__version__ = "0.1.0"

__all__ = [
    "CalibrationMap",
    "ConfigError",
    "ConvergenceWarning",
    "ElasticNet",
    "ElasticNetCV",
    "GlmopsError",
    "InvalidInputError",
    "Lasso",
    "LassoCV",
    "LogisticRegression",
    "LogisticRegressionCV",
    "__version__",
    "enet_path",
    "logistic_path",
    "select_threshold",
]
