"""The scikit-learn estimators: elastic net and logistic regression, with CV.

Drop-in replacements that solve scikit-learn's objectives with glmops's
certified coordinate-descent engine (:mod:`glmops.core`). Among the lifecycle
folders only :mod:`glmops.training` (and :mod:`glmops.engines`) import them;
serving and monitoring load fitted :class:`~glmops.model.Model` objects.
"""

from __future__ import annotations

from glmops.estimators.elastic_net import ElasticNet, ElasticNetCV, Lasso, LassoCV, enet_path
from glmops.estimators.logistic import LogisticRegression, LogisticRegressionCV, logistic_path
from glmops.estimators.threshold import select_threshold

__all__ = [
    "ElasticNet",
    "ElasticNetCV",
    "Lasso",
    "LassoCV",
    "LogisticRegression",
    "LogisticRegressionCV",
    "enet_path",
    "logistic_path",
    "select_threshold",
]
