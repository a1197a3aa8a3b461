"""``evaluate``: one way to judge a model on labelled rows, with weights honoured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from glmops.config import ModelConfig
from glmops.errors import InvalidInputError
from glmops.evaluation.evaluate import Evaluation, evaluate, model_weight_column
from glmops.evaluation.metrics import classification_metrics, regression_metrics
from glmops.model import Model
from glmops.training.pipeline import train_model

pytestmark = pytest.mark.xdist_group("training")


def _table(task: str, n: int = 160, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    city = rng.choice(["paris", "lyon", "nice"], n)
    eta = x @ np.array([1.0, -0.7]) + (city == "paris") * 0.5
    y: Any
    if task == "regression":
        y = eta + rng.normal(0.0, 0.5 + np.abs(x[:, 0]), n)  # weights will matter
    else:
        y = np.where(eta + rng.normal(0.0, 1.0, n) > 0.2, "yes", "no")
    w = rng.uniform(0.1, 3.0, n)
    return pa.table({"x0": x[:, 0], "x1": x[:, 1], "city": city, "y": y, "w": w})


def _train(task: str, root: Path) -> Model:
    spec = ModelConfig.model_validate(
        {
            "data": {"path": "unused.csv", "weight": "w"},
            "target": "y",
            "task": task,
            "cv": {"n_folds": 3, "n_alphas": 5, "l1_ratio": [0.5]},
            "n_jobs": 1,
        }
    )
    return train_model("m", spec, base_dir=root, output_dir=None, data=_table(task)).model


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Model]:
    root = tmp_path_factory.mktemp("evaluate")
    return {task: _train(task, root) for task in ("regression", "binary")}


def test_weights_change_the_metrics_as_the_metric_functions_do(models: dict[str, Model]) -> None:
    data = _table("regression", seed=1)
    model = models["regression"]
    weighted = evaluate(model, data, weight="w")
    plain = evaluate(model, data, weight=None)
    w = data.column("w").to_numpy()
    y = data.column("y").to_numpy()
    assert weighted.weight_column == "w" and plain.weight_column is None
    np.testing.assert_array_equal(weighted.sample_weight, w)
    assert weighted.metrics["rmse"] != pytest.approx(plain.metrics["rmse"], rel=1e-3)
    assert weighted.metrics == regression_metrics(y, weighted.y_pred, sample_weight=w)
    assert plain.metrics == regression_metrics(y, plain.y_pred)


def test_a_classifier_is_scored_with_weights_at_its_threshold(models: dict[str, Model]) -> None:
    data = _table("binary", seed=2)
    model = models["binary"]
    result = evaluate(model, data, weight="w")
    assert result.proba is not None and result.y_pred is None
    assert model.classes is not None and model.threshold is not None
    expected = classification_metrics(
        result.y_true,
        model.predict_proba(data),
        model.classes,
        threshold=model.threshold,
        positive_class=model.classes[1],
        sample_weight=data.column("w").to_numpy(),
    )
    assert result.metrics == expected
    assert result.metrics != evaluate(model, data, weight=None).metrics


def test_the_default_weight_is_the_training_weight_column(
    models: dict[str, Model], tmp_path: Path
) -> None:
    model = models["regression"]
    assert model_weight_column(model) == "w"
    path = tmp_path / "labelled.csv"
    data = _table("regression", seed=3)
    pacsv.write_csv(data, path)
    from_file = evaluate(model, path)
    assert from_file.weight_column == "w"
    assert from_file.metrics == evaluate(model, data, weight="w").metrics
    # the weight column is not a stray column of the manifest
    assert all(v.column != "w" for v in from_file.violations)
    # a window without the weight column (e.g. a prediction log) is scored unweighted
    unweighted = evaluate(model, data.drop_columns(["w"]))
    assert unweighted.weight_column is None
    assert unweighted.metrics == evaluate(model, data, weight=None).metrics


def test_rows_without_a_target_are_left_out_and_violations_listed(
    models: dict[str, Model],
) -> None:
    data = _table("binary", seed=4)
    labels = data.column("y").to_pylist()
    labels[:3] = [None, None, None]
    cities = data.column("city").to_pylist()
    cities[5] = "lille"  # not seen in training
    data = data.set_column(3, "y", pa.array(labels)).set_column(2, "city", pa.array(cities))
    result = evaluate(models["binary"], data.append_column("id", pa.array(range(160))))
    assert isinstance(result, Evaluation)
    assert result.n_dropped == 3 and len(result.y_true) == result.metrics["n_samples"] == 157
    kinds = {(v.column, v.kind) for v in result.violations}
    assert {("city", "unseen_category"), ("id", "unexpected_column")} <= kinds
    assert not any(v.column == "y" for v in result.violations)  # the target is no stray


def test_other_target_column_and_refusals(models: dict[str, Model]) -> None:
    model = models["binary"]
    data = _table("binary", seed=5)
    renamed = data.rename_columns(["x0", "x1", "city", "label", "w"])
    assert evaluate(model, renamed, target="label").metrics == evaluate(model, data).metrics
    with pytest.raises(InvalidInputError, match="no target column 'y'"):
        evaluate(model, renamed)
    with pytest.raises(InvalidInputError, match="no weight column 'weights'"):
        evaluate(model, data, weight="weights")
    unknown = data.set_column(3, "y", pa.array(["maybe"] * data.num_rows))
    with pytest.raises(InvalidInputError, match="maybe"):
        evaluate(model, unknown)


def test_importing_evaluate_leaves_the_report_and_matplotlib_out() -> None:
    code = (
        "import sys, glmops.evaluation.evaluate; "
        "assert 'matplotlib' not in sys.modules; "
        "assert 'glmops.evaluation.report' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
