"""``estimator_for``: every fit of one model solves it with the same settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from glmops.config import ModelConfig
from glmops.errors import ConfigError, InvalidInputError
from glmops.estimators.elastic_net import ElasticNet, ElasticNetCV
from glmops.estimators.logistic import LogisticRegression, LogisticRegressionCV
from glmops.training.estimator import (
    MAX_ITER,
    estimator_for,
    fit_class_weight,
    fit_params,
)
from glmops.training.pipeline import train_model

pytestmark = pytest.mark.xdist_group("training")

# what every fit of one model must share (alpha and l1_ratio differ by design)
SHARED = ("tol", "max_iter", "class_weight", "fit_intercept", "standardize", "solver")
N_FOLDS, N_BOOT = 3, 2


def _spec(task: str, **extra: Any) -> ModelConfig:
    return ModelConfig.model_validate(
        {
            "data": {"path": "unused.csv"},
            "target": "y",
            "task": task,
            "cv": {"n_folds": N_FOLDS, "n_alphas": 5, "l1_ratio": [0.5, 1.0], "tol": 1e-5},
            "bootstrap": N_BOOT,
            "n_jobs": 1,
            **extra,
        }
    )


def _table(task: str, n: int = 90) -> pa.Table:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 3))
    eta = x @ np.array([1.0, -0.5, 0.0])
    if task == "regression":
        y: Any = eta + rng.normal(0.0, 0.3, n)
    elif task == "binary":
        y = np.where(eta + rng.normal(0.0, 0.5, n) > 0.3, "yes", "no")
    else:
        z = eta + rng.normal(0.0, 0.7, n)
        y = np.array(["a", "b", "c"])[np.digitize(z, np.quantile(z, [1 / 3, 2 / 3]))]
    return pa.table({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "y": y})


def _record_fits(monkeypatch: pytest.MonkeyPatch, classes: tuple[type, ...]) -> list[tuple]:
    """Record (class, get_params()) of every fit of ``classes``, then fit as usual."""
    seen: list[tuple[str, dict[str, Any]]] = []
    for cls in classes:
        original = cls.fit

        def fit(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            seen.append((type(self).__name__, self.get_params()))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "fit", fit)
    return seen


CASES = {
    "regression": ({}, (ElasticNet, ElasticNetCV)),
    "binary": (
        {"class_weight": {"yes": 3.0, "no": 1.0}},
        (LogisticRegression, LogisticRegressionCV),
    ),
    "multinomial": ({"class_weight": "balanced"}, (LogisticRegression, LogisticRegressionCV)),
}


@pytest.mark.parametrize("task", list(CASES))
def test_cv_refit_folds_bootstrap_and_path_share_the_solver_settings(
    task: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    extra, classes = CASES[task]
    seen = _record_fits(monkeypatch, classes)
    spec = _spec(task, **extra)
    train_model("m", spec, base_dir=tmp_path, output_dir=tmp_path / "out", data=_table(task))
    cv_fits = [p for name, p in seen if name.endswith("CV")]
    point_fits = [p for name, p in seen if not name.endswith("CV")]
    assert len(cv_fits) == 1
    assert len(point_fits) >= N_FOLDS + N_BOOT  # fold refits, bootstrap refits
    shared = [k for k in SHARED if task != "regression" or k != "class_weight"]
    reference = {k: cv_fits[0][k] for k in shared}
    assert reference["max_iter"] == MAX_ITER[task]
    if task != "regression":
        assert reference["class_weight"] is not None  # the config's weights reach the CV
    for params in point_fits:
        assert {k: params[k] for k in shared} == reference


def test_estimator_for_builds_the_cv_grid_and_the_point_fit_alike() -> None:
    spec = _spec("binary", class_weight={"yes": 2.0, "no": 1.0})
    classes = ["no", "yes"]
    folds = [(np.arange(5), np.arange(5, 10))]
    cv = estimator_for(spec, classes, cv=folds).get_params()
    point = estimator_for(spec, classes, alpha=0.1, l1_ratio=0.5).get_params()
    assert {k: cv[k] for k in SHARED} == {k: point[k] for k in SHARED}
    assert cv["class_weight"] == {1: 2.0, 0: 1.0}  # keyed like the 0/1 fit labels
    assert (point["alpha"], point["l1_ratio"]) == (0.1, 0.5)
    assert cv["n_alphas"] == 5 and cv["l1_ratio"] == [0.5, 1.0] and cv["cv"] is folds
    assert fit_params(spec, classes).items() <= cv.items()


def test_a_point_fit_needs_its_penalty() -> None:
    with pytest.raises(InvalidInputError, match="alpha and l1_ratio"):
        estimator_for(_spec("regression"), None, alpha=0.1)


def test_class_weight_must_name_known_classes() -> None:
    spec = _spec("multinomial", class_weight={"a": 2.0, "zzz": 1.0})
    with pytest.raises(ConfigError, match="zzz"):
        fit_class_weight(spec, ["a", "b", "c"])
    assert fit_class_weight(_spec("multinomial", class_weight={"b": 2.0}), ["a", "b", "c"]) == {
        "b": 2.0
    }
