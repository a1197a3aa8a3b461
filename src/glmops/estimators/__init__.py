"""The scikit-learn estimators: elastic net and logistic regression, with CV.

Drop-in replacements that solve scikit-learn's objectives with glmops's
certified coordinate-descent solvers (:mod:`glmops.core`), with their data
passes done by an engine (:mod:`glmops.engines`, which never imports them).
Among the lifecycle folders only :mod:`glmops.training` imports them; serving
and monitoring load fitted :class:`~glmops.model.Model` objects.

``_cv`` owns what the CV estimators share (grid, selection, ``cv_results_``),
``_base`` what every estimator shares (sparse tags, predict-time checks, the
convergence warning).
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
