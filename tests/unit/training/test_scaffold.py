"""``glmops init``: the starter config is valid YAML that loads, trains and says why."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml

from glmops.config import load_config
from glmops.errors import InvalidInputError
from glmops.training.pipeline import train
from glmops.training.scaffold import infer_task, starter_config

CREDIT = Path(__file__).resolve().parents[3] / "data" / "credit_data.csv"
SMALL_CV = {
    "GLMOPS_MODELS__CREDIT__CV__N_FOLDS": "3",
    "GLMOPS_MODELS__CREDIT__CV__N_ALPHAS": "10",
    "GLMOPS_MODELS__CREDIT__CV__L1_RATIO": "[0.5, 1.0]",
}


def _csv(path: Path, columns: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pa.table(columns), path)
    return path


def _model_section(text: str, name: str = "model") -> dict[str, Any]:
    raw = yaml.safe_load(text)
    section: dict[str, Any] = raw["models"][name]
    return section


def _line(text: str, startswith: str) -> str:
    hits = [ln for ln in text.splitlines() if ln.strip().startswith(startswith)]
    assert len(hits) == 1, (startswith, hits)
    return hits[0]


def test_credit_starter_config_loads_and_trains(tmp_path: Path) -> None:
    text = starter_config(CREDIT, "Status", name="credit", config_dir=tmp_path)
    path = tmp_path / "glmops.yaml"
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path, environ=SMALL_CV)
    spec = cfg.models["credit"]
    assert spec.task == "binary"
    assert spec.target == "Status"
    assert spec.positive_class == "bad"  # the less frequent class
    assert spec.features is not None
    assert list(spec.features) == [
        "Seniority", "Home", "Time", "Age", "Marital", "Records", "Job",
        "Expenses", "Income", "Assets", "Debt", "Amount", "Price",
    ]  # fmt: skip
    assert cfg.resolve(spec.data.path or "") == CREDIT
    # every column is described: kind and missing share
    assert "8.6% missing" in _line(text, "Income:")
    assert "categorical, 6 categories" in _line(text, "Home:")
    result = train(cfg, output_dir=tmp_path / "out", write_report=False)
    assert result.model.classes == ["good", "bad"]
    assert result.metrics["holdout"]["roc_auc"] > 0.75
    assert result.model.metadata["lineage"]["n_rows"]["read"] == 4454


def test_data_path_is_written_relative_to_the_config(tmp_path: Path) -> None:
    data = _csv(tmp_path / "data" / "t.csv", {"x": np.arange(40.0), "y": ["a", "b"] * 20})
    text = starter_config(data, "y", config_dir=tmp_path / "conf")
    assert _model_section(text)["data"] == {"path": "../data/t.csv"}
    as_given = starter_config(data, "y")
    assert _model_section(as_given)["data"] == {"path": str(data)}


def _targets(n: int = 120) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "x": rng.normal(size=n),
        "two_strings": rng.choice(["yes", "no"], n),
        "two_ints": rng.integers(0, 2, n),
        "booleans": rng.random(n) < 0.3,
        "three_strings": rng.choice(["a", "b", "c"], n),
        "three_ints": rng.integers(0, 3, n),
        "floats": rng.normal(size=n),
        "many_ints": rng.integers(0, 1000, n),
    }


@pytest.mark.parametrize(
    ("target", "task"),
    [
        ("two_strings", "binary"),
        ("two_ints", "binary"),
        ("booleans", "binary"),
        ("three_strings", "multinomial"),
        ("three_ints", "multinomial"),
        ("floats", "regression"),
        ("many_ints", "regression"),
    ],
)
def test_task_is_inferred_from_the_target(tmp_path: Path, target: str, task: str) -> None:
    columns = _targets()
    assert infer_task(pa.array(columns[target])) == task
    data = _csv(tmp_path / "d.csv", columns)
    text = starter_config(data, target, config_dir=tmp_path)
    section = _model_section(text)
    assert section["task"] == task
    assert target not in section["features"]
    assert ("positive_class" in section) is (task == "binary")
    (tmp_path / "glmops.yaml").write_text(text, encoding="utf-8")
    assert load_config(tmp_path / "glmops.yaml", environ={}).models["model"].task == task


def test_binary_positive_class_defaults_to_the_rarer_class(tmp_path: Path) -> None:
    data = _csv(tmp_path / "d.csv", {"x": np.arange(50.0), "y": ["no"] * 35 + ["yes"] * 15})
    text = starter_config(data, "y", config_dir=tmp_path)
    assert _model_section(text)["positive_class"] == "yes"  # quoted: not YAML true
    chosen = starter_config(data, "y", positive_class="no", config_dir=tmp_path)
    assert _model_section(chosen)["positive_class"] == "no"


def test_explicit_task_wins(tmp_path: Path) -> None:
    data = _csv(tmp_path / "d.csv", _targets())
    text = starter_config(data, "three_ints", task="regression", config_dir=tmp_path)
    assert _model_section(text)["task"] == "regression"


def test_identifier_columns_are_excluded_with_a_reason(tmp_path: Path) -> None:
    n = 200
    rng = np.random.default_rng(1)
    columns = {
        "customer_id": np.arange(n),
        "uuid": [f"u-{i:06d}" for i in rng.permutation(n)],
        "amount": rng.permutation(n) * 10,  # unique integers, but not named like an id
        "city": rng.choice(["a", "b", "c"], n),
        "y": rng.choice(["good", "bad"], n),
    }
    data = _csv(tmp_path / "d.csv", columns)
    text = starter_config(data, "y", config_dir=tmp_path)
    section = _model_section(text)
    assert section["exclude"] == ["customer_id", "uuid"]
    assert list(section["features"]) == ["amount", "city"]
    for col in ("customer_id", "uuid"):
        assert "looks like an identifier" in _line(text, f"- {col}")


def test_unusable_columns_are_excluded_with_a_reason(tmp_path: Path) -> None:
    n = 60
    data = _csv(
        tmp_path / "d.csv",
        {
            "x": np.arange(n, dtype=float),
            "when": pa.array(
                [dt.datetime(2020, 1, 1) + dt.timedelta(days=i) for i in range(n)],
                pa.timestamp("s"),
            ),
            "blank": pa.nulls(n, pa.float64()),
            "y": ["a", "b", "c"] * 20,
        },
    )
    text = starter_config(data, "y", config_dir=tmp_path)
    section = _model_section(text)
    assert list(section["features"]) == ["x"]
    assert section["exclude"] == ["when", "blank"]
    assert "cannot be a feature" in _line(text, "- when")
    assert "null" in _line(text, "- blank")  # "type null cannot be a feature"


def test_high_cardinality_categorical_gets_hashing(tmp_path: Path) -> None:
    n = 600
    data = _csv(
        tmp_path / "d.csv",
        {"shop": [f"s{i % 300}" for i in range(n)], "y": np.arange(n) * 0.5},
    )
    text = starter_config(data, "y", config_dir=tmp_path)
    assert _model_section(text)["features"]["shop"] == {"encoding": "hash", "n_buckets": 64}
    assert "300 categories" in _line(text, "shop:")


def test_awkward_column_names_survive_the_yaml(tmp_path: Path) -> None:
    n = 40
    names = ["monthly income", "1st_payment", "rate%", "yes", "Null", "a:b", 'say "hi"', "âge"]
    columns: dict[str, Any] = {
        name: np.arange(n, dtype=float) * (i + 1) for i, name in enumerate(names)
    }
    columns["target"] = ["p", "q"] * (n // 2)
    data = _csv(tmp_path / "d.csv", columns)
    text = starter_config(data, "target", config_dir=tmp_path)
    (tmp_path / "glmops.yaml").write_text(text, encoding="utf-8")
    spec = load_config(tmp_path / "glmops.yaml", environ={}).models["model"]
    assert spec.features is not None and list(spec.features) == names


@pytest.mark.parametrize("name", ["off", "On"])
def test_yaml_boolean_words_as_column_names(tmp_path: Path, name: str) -> None:
    data = _csv(tmp_path / "d.csv", {name: np.arange(40.0), "y": ["p", "q"] * 20})
    text = starter_config(data, "y", config_dir=tmp_path)
    (tmp_path / "glmops.yaml").write_text(text, encoding="utf-8")
    spec = load_config(tmp_path / "glmops.yaml", environ={}).models["model"]
    assert spec.features is not None and list(spec.features) == [name]


def test_target_that_is_not_a_column(tmp_path: Path) -> None:
    data = _csv(tmp_path / "d.csv", {"x": np.arange(30.0), "y": ["a", "b", "c"] * 10})
    with pytest.raises(InvalidInputError, match="'Y'") as info:
        starter_config(data, "Y")
    assert info.value.field == "target"
    assert "['x', 'y']" in str(info.value)


def test_constant_target_is_refused(tmp_path: Path) -> None:
    data = _csv(tmp_path / "d.csv", {"x": np.arange(30.0), "y": ["a"] * 30})
    with pytest.raises(InvalidInputError, match="nothing to learn") as info:
        starter_config(data, "y")
    assert info.value.field == "target"


def test_missing_data_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        starter_config(tmp_path / "nope.csv", "y")
