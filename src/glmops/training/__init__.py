"""Training: from a ``glmops.yaml`` model spec to a saved, evaluated artifact.

``pipeline`` runs the stages (read, validate, split, preprocess, CV, refit,
evaluate, stability, save); ``estimator`` builds every estimator of a model
(``estimator_for``), so all its fits share one set of solver settings;
``diagnostics`` holds what a fit records besides the model; ``scaffold``
writes a starter config from a table. This is the one lifecycle folder that
builds estimators.
"""

from __future__ import annotations

from glmops.training.pipeline import TrainResult, train, train_model

__all__ = ["TrainResult", "train", "train_model"]
