"""glmops: regularized linear models from data to production.

The numerical heart is a numba coordinate-descent engine whose every fit is
certified by its duality gap; the estimators are drop-in scikit-learn ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glmops.errors import ConfigError, GlmopsError, InvalidInputError

if TYPE_CHECKING:
    from glmops.calibration import CalibrationMap
    from glmops.config import load_config
    from glmops.errors import ConvergenceWarning
    from glmops.estimators import (
        ElasticNet,
        ElasticNetCV,
        Lasso,
        LassoCV,
        LogisticRegression,
        LogisticRegressionCV,
        enet_path,
        logistic_path,
        select_threshold,
    )
    from glmops.model import Model, load_model
    from glmops.training import train

__version__ = "0.1.0"

# Every name is imported on first use: the estimators pull in scikit-learn and
# numba, the lifecycle layer pyarrow and pydantic. ``import glmops`` stays
# light, so a serving process that only loads a model never pays for training.
_LAZY = {
    "CalibrationMap": "glmops.calibration",
    "ConvergenceWarning": "glmops.errors",
    "ElasticNet": "glmops.estimators",
    "ElasticNetCV": "glmops.estimators",
    "Lasso": "glmops.estimators",
    "LassoCV": "glmops.estimators",
    "enet_path": "glmops.estimators",
    "LogisticRegression": "glmops.estimators",
    "LogisticRegressionCV": "glmops.estimators",
    "logistic_path": "glmops.estimators",
    "select_threshold": "glmops.estimators",
    "Model": "glmops.model",
    "load_model": "glmops.model",
    "train": "glmops.training",
    "load_config": "glmops.config",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'glmops' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


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
    "Model",
    "__version__",
    "enet_path",
    "load_config",
    "load_model",
    "logistic_path",
    "select_threshold",
    "train",
]
