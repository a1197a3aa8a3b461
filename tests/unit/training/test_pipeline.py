"""``glmops train`` end to end on small synthetic tables: artifacts, determinism,
lineage, splits, encodings, bad input, progress and the HTML report."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml

from glmops.config import config_hash, load_config, parse_config
from glmops.data.split import make_split
from glmops.errors import ArtifactError, ConfigError, DataLeakageWarning, InvalidInputError
from glmops.model import load_model
from glmops.training.pipeline import TrainResult, train, train_model

# module fixtures train once: keep this file on one xdist worker (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("training")

CV = {"n_folds": 3, "n_alphas": 10, "l1_ratio": [0.5, 1.0]}
STAGES = ("read", "validate", "preprocess", "cv", "evaluate", "stability", "save")
CITY_EFFECT = {"paris": 1.2, "lyon": 0.0, "nice": -0.8, "lille": 0.4}


# -- synthetic data -----------------------------------------------------------------------


def _with_nulls(values: np.ndarray, rng: np.random.Generator, share: float) -> list[Any]:
    out: list[Any] = values.tolist()
    for i in np.flatnonzero(rng.random(len(out)) < share):
        out[i] = None
    return out


def _frame(task: str, n: int = 300, seed: int = 0) -> pa.Table:
    """Numeric and categorical features with missing values and a learnable target."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40.0, 10.0, n)
    income = rng.lognormal(3.0, 0.8, n)
    city = rng.choice(list(CITY_EFFECT), n)
    eta = (
        0.1 * (age - 40.0)
        + 0.8 * (np.log1p(income) - 3.0)
        + np.array([CITY_EFFECT[c] for c in city])
    )
    columns: dict[str, Any] = {
        "age": pa.array(_with_nulls(age, rng, 0.1), pa.float64()),
        "income": pa.array(income),
        "city": pa.array(_with_nulls(city, rng, 0.05), pa.string()),
        "noise": pa.array(rng.normal(size=n)),
    }
    if task == "binary":
        p = 1.0 / (1.0 + np.exp(-(2.0 * eta - 1.0)))
        columns["label"] = np.where(rng.random(n) < p, "churned", "stayed")
    elif task == "regression":
        y = 3.0 * eta + rng.normal(0.0, 0.7, n)
        columns["label"] = pa.array(_with_nulls(y, rng, 0.03), pa.float64())
        columns["w"] = rng.uniform(0.5, 2.0, n)
    else:
        z = eta + rng.normal(0.0, 0.5, n)
        lo, hi = np.quantile(z, [1 / 3, 2 / 3])
        columns["label"] = np.where(z < lo, "low", np.where(z < hi, "mid", "high"))
        columns["zip"] = [f"z{i}" for i in rng.integers(0, 60, n)]
    return pa.table(columns)


def _project(root: Path, table: pa.Table | str, **model: Any) -> Path:
    """Write ``data.csv`` and ``glmops.yaml`` (one model 'm', relative data path)."""
    root.mkdir(parents=True, exist_ok=True)
    if isinstance(table, str):
        (root / "data.csv").write_text(table, encoding="utf-8")
    else:
        pacsv.write_csv(table, root / "data.csv")
    spec: dict[str, Any] = {"data": {"path": "data.csv"}, "cv": dict(CV)}
    spec.update(model)
    cfg = {"version": 1, "output_dir": "artifacts", "models": {"m": spec}}
    path = root / "glmops.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def _records(table: pa.Table, drop: tuple[str, ...] = ("label", "w")) -> list[dict[str, Any]]:
    keep = [c for c in table.column_names if c not in drop]
    return table.select(keep).slice(0, 8).to_pylist()


def _artifact(run: _Run) -> Path:
    path = run.result.artifact_path
    assert path is not None
    return path


def _nothing_written(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


class _Run:
    def __init__(self, root: Path, table: pa.Table, config: Path, result: TrainResult) -> None:
        self.root, self.table, self.config, self.result = root, table, config, result
        self.progress: list[tuple[str, int, int]] = []


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory: pytest.TempPathFactory) -> _Run:
    root = tmp_path_factory.mktemp("binary")
    table = _frame("binary")
    config = _project(root, table, target="label", task="binary", positive_class="churned")
    calls: list[tuple[str, int, int]] = []
    result = train(
        config, output_dir=root / "out", progress=lambda s, d, t: calls.append((s, d, t))
    )
    run = _Run(root, table, config, result)
    run.progress = calls
    return run


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> _Run:
    root = tmp_path_factory.mktemp("regression")
    table = _frame("regression")
    config = _project(
        root, table, target="label", task="regression", data={"path": "data.csv", "weight": "w"}
    )
    return _Run(root, table, config, train(config, output_dir=root / "out"))


@pytest.fixture(scope="module")
def multinomial_run(tmp_path_factory: pytest.TempPathFactory) -> _Run:
    root = tmp_path_factory.mktemp("multinomial")
    table = _frame("multinomial")
    features = {
        "age": {"clip": [0.05, 0.95]},
        "income": {"clip": [0.01, 0.99], "log1p": True},
        "city": {"encoding": "target"},
        "zip": {"encoding": "hash", "n_buckets": 8},
        "noise": None,
    }
    config = _project(root, table, target="label", task="multinomial", features=features)
    return _Run(root, table, config, train(config, output_dir=root / "out", write_report=False))


# -- end to end ---------------------------------------------------------------------------


def _check_artifact(run: _Run, report: bool) -> None:
    result = run.result
    out = run.root / "out"
    assert result.artifact_path == out / "m"
    assert sorted(p.name for p in out.iterdir()) == ["m"]  # no temporary leftovers
    names = {p.name for p in (out / "m").iterdir()}
    assert {"MANIFEST.json", "model.json", "arrays.npz", "run.json"} <= names
    assert ({"report.html", "MODEL_CARD.md"} <= names) is report
    assert result.artifact is not None
    assert load_model(out / "m").digest == result.artifact.digest == result.model.digest
    assert set(result.metrics) == {"train", "holdout"}
    assert result.timings.keys() >= set(STAGES)


def test_binary_end_to_end(binary_run: _Run) -> None:
    _check_artifact(binary_run, report=True)
    model = binary_run.result.model
    # 'churned' sorts first: the positive class is NOT the sorted-second one
    assert model.classes == ["stayed", "churned"]
    assert model.metadata["positive_class"] == "churned"
    holdout = binary_run.result.metrics["holdout"]
    assert holdout["positive_class"] == "churned"
    assert holdout["roc_auc"] > 0.75
    assert holdout["n_samples"] == 60
    records = _records(binary_run.table)
    assert any(r["age"] is None for r in records) or any(r["city"] is None for r in records)
    labels = model.predict(records)
    assert set(labels.tolist()) <= {"stayed", "churned"}
    proba = model.predict_proba(records)
    assert proba.shape == (len(records), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # the positive class is the one whose probability is high where churn is likely
    y = np.asarray(binary_run.table.column("label").to_pylist())
    p_all = model.predict_proba(binary_run.table.drop_columns(["label"]))[:, 1]
    assert p_all[y == "churned"].mean() > p_all[y == "stayed"].mean() + 0.1
    reloaded = load_model(_artifact(binary_run))
    assert reloaded.predict(records).tolist() == labels.tolist()


def test_regression_end_to_end_with_weights_and_missing_targets(regression_run: _Run) -> None:
    _check_artifact(regression_run, report=True)
    result = regression_run.result
    n_missing = regression_run.table.column("label").null_count
    assert n_missing > 0
    rows = result.model.metadata["lineage"]["n_rows"]
    assert rows["read"] == 300
    assert rows["dropped_no_target"] == n_missing
    assert rows["used"] == rows["train"] + rows["holdout"] == 300 - n_missing
    assert any("without a target" in note for note in result.warnings)
    assert result.metrics["holdout"]["r2"] > 0.6
    assert "w" not in result.model.feature_names  # the weight column is not a feature
    pred = result.model.predict(_records(regression_run.table))
    assert pred.shape == (8,) and np.isfinite(pred).all()


def test_multinomial_end_to_end_with_encodings(multinomial_run: _Run) -> None:
    _check_artifact(multinomial_run, report=False)
    model = multinomial_run.result.model
    assert model.classes == ["high", "low", "mid"]
    assert model.coef.shape[0] == 3
    holdout = multinomial_run.result.metrics["holdout"]
    assert holdout["roc_auc_macro"] > 0.7
    assert holdout["accuracy"] > 0.45
    labels = model.predict(_records(multinomial_run.table))
    assert set(labels.tolist()) <= {"high", "low", "mid"}
    assert model.predict_proba(_records(multinomial_run.table)).shape == (8, 3)


def test_feature_options_reach_the_pipeline(multinomial_run: _Run) -> None:
    model = multinomial_run.result.model
    names = model.feature_names_out
    # target encoding: one column per class; hashing: n_buckets columns
    assert [n for n in names if n.startswith("city")] == [
        "city__te[high]",
        "city__te[low]",
        "city__te[mid]",
    ]
    assert [n for n in names if n.startswith("zip")] == [f"zip#{i}" for i in range(8)]
    steps = {s["name"]: s for s in model.preprocessor.to_dict()["steps"]}
    income = multinomial_run.table.column("income").to_numpy()
    assert steps["income"]["log1p"] is True
    assert np.quantile(income, 0.0) < steps["income"]["clip_low"] < np.quantile(income, 0.05)
    assert np.quantile(income, 0.95) < steps["income"]["clip_high"] < income.max()
    assert steps["age"]["clip_low"] is not None and steps["age"]["log1p"] is False
    assert steps["noise"]["clip_low"] is None
    # unseen category and unseen zip code are scored, not refused
    record = {"age": 500.0, "income": 1e9, "city": "tokyo", "zip": "z9999", "noise": 0.0}
    proba = model.predict_proba(record)
    assert proba.shape == (1, 3) and np.isfinite(proba).all()
    # clipping: an extreme income scores like the clip bound
    at_bound = dict(record, income=steps["income"]["clip_high"])
    np.testing.assert_allclose(model.decision_function(record), model.decision_function(at_bound))


def test_retraining_replaces_the_artifact_atomically(binary_run: _Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(_artifact(binary_run), out / "m")
    (out / "m" / "run.json").write_text("{}", encoding="utf-8")  # stale and now invalid
    result = train(binary_run.config, output_dir=out, write_report=False)
    assert sorted(p.name for p in out.iterdir()) == ["m"]
    assert not (out / "m" / "report.html").exists()
    assert load_model(out / "m").digest == result.model.digest


def test_refuses_to_replace_a_directory_that_is_not_an_artifact(
    binary_run: _Run, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "m").mkdir(parents=True)
    (out / "m" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ArtifactError, match="not a glmops artifact"):
        train(binary_run.config, output_dir=out, write_report=False)
    assert sorted(p.name for p in out.iterdir()) == ["m"]  # no temporary leftovers
    assert [p.name for p in (out / "m").iterdir()] == ["notes.txt"]


# -- determinism --------------------------------------------------------------------------


def _bytes(artifact: Path, name: str) -> bytes:
    return (artifact / name).read_bytes()


def test_same_config_and_data_give_identical_artifacts(binary_run: _Run, tmp_path: Path) -> None:
    again = train(binary_run.config, output_dir=tmp_path / "again", write_report=False)
    first = binary_run.result
    assert first.artifact is not None and again.artifact is not None
    assert again.artifact.digest == first.artifact.digest
    a, b = first.artifact_path, again.artifact_path
    assert a is not None and b is not None
    for name in ("model.json", "arrays.npz"):
        assert _bytes(a, name) == _bytes(b, name), name
    assert not (b / "report.html").exists()  # the report is outside the digest
    run_a, run_b = json.loads(_bytes(a, "run.json")), json.loads(_bytes(b, "run.json"))
    timing_keys = {"started_at", "finished_at", "timings_s"}
    assert run_a.keys() == run_b.keys()
    assert {k: v for k, v in run_a.items() if k not in timing_keys} == {
        k: v for k, v in run_b.items() if k not in timing_keys
    }
    manifest = json.loads(_bytes(a, "MANIFEST.json"))
    assert manifest["digest_files"] == ["arrays.npz", "model.json"]
    assert {"run.json", "report.html", "MODEL_CARD.md"} <= manifest["files"].keys()


def test_changing_one_value_changes_fingerprint_and_digest(
    binary_run: _Run, tmp_path: Path
) -> None:
    income = binary_run.table.column("income").to_numpy().copy()
    income[17] += 1.0
    table = binary_run.table.set_column(1, "income", pa.array(income))
    config = _project(tmp_path, table, target="label", task="binary", positive_class="churned")
    changed = train(config, output_dir=tmp_path / "out", write_report=False)
    before, after = binary_run.result.model.metadata, changed.model.metadata
    assert after["lineage"]["data_fingerprint"] != before["lineage"]["data_fingerprint"]
    assert after["lineage"]["config_hash"] == before["lineage"]["config_hash"]
    assert changed.artifact is not None and binary_run.result.artifact is not None
    assert changed.artifact.digest != binary_run.result.artifact.digest


def test_changing_a_weight_changes_the_fingerprint(regression_run: _Run, tmp_path: Path) -> None:
    w = regression_run.table.column("w").to_numpy().copy()
    w[3] *= 10.0
    table = regression_run.table.set_column(
        regression_run.table.column_names.index("w"), "w", pa.array(w)
    )
    config = _project(
        tmp_path, table, target="label", task="regression", data={"path": "data.csv", "weight": "w"}
    )
    changed = train(config, output_dir=tmp_path / "out", write_report=False)
    assert changed.artifact is not None and regression_run.result.artifact is not None
    assert changed.artifact.digest != regression_run.result.artifact.digest  # model changed
    before = regression_run.result.model.metadata["lineage"]["data_fingerprint"]
    assert changed.model.metadata["lineage"]["data_fingerprint"] != before


# -- lineage ------------------------------------------------------------------------------


def test_lineage(binary_run: _Run) -> None:
    lineage = binary_run.result.model.metadata["lineage"]
    assert re.fullmatch(r"[0-9a-f]{64}", lineage["data_fingerprint"])
    spec = load_config(binary_run.config, environ={}).models["m"]
    assert lineage["config"] == json.loads(json.dumps(spec.model_dump(mode="json")))
    assert lineage["config_hash"] == config_hash(spec)
    assert lineage["config"]["positive_class"] == "churned"
    packages = lineage["packages"]
    for name in ("numpy", "scipy", "scikit-learn", "pyarrow", "pydantic"):
        assert packages[name] == version(name)
    assert "python" in packages and "glmops" in packages
    git = lineage["git"]
    assert git is None or (set(git) == {"revision", "dirty"} and len(git["revision"]) == 40)
    assert lineage["seed"] == 0
    assert lineage["n_rows"] == {
        "read": 300,
        "used": 300,
        "train": 240,
        "holdout": 60,
        "dropped_no_target": 0,
    }
    assert lineage["data_source"] == "data.csv"
    # what is stored is what training returned
    stored = load_model(_artifact(binary_run))
    assert stored.metadata["lineage"] == lineage


def test_database_password_is_not_stored_in_the_artifact(tmp_path: Path) -> None:
    url = "postgresql://scott:tiger-s3cret@db.example:5432/prod"
    spec = parse_config(
        {
            "models": {
                "m": {
                    "data": {"url": url, "query": "SELECT * FROM churn"},
                    "target": "label",
                    "task": "binary",
                    "cv": CV,
                }
            }
        }
    ).models["m"]
    table = _frame("binary", n=200, seed=8)
    result = train_model(
        "m", spec, base_dir=tmp_path, output_dir=tmp_path / "out", data=table, write_report=False
    )
    source = result.model.metadata["lineage"]["data_source"]
    assert "db.example:5432/prod" in source and "tiger-s3cret" not in source
    assert result.artifact_path is not None
    for path in result.artifact_path.iterdir():
        assert b"tiger-s3cret" not in path.read_bytes(), path.name


# -- splits -------------------------------------------------------------------------------


def test_stratified_split_preserves_class_shares(binary_run: _Run) -> None:
    # classification defaults to a stratified split
    labels = np.asarray(binary_run.table.column("label").to_pylist())
    overall = float(np.mean(labels == "churned"))
    assert 0.2 < overall < 0.8
    metrics = binary_run.result.metrics
    for part, n in (("holdout", 60), ("train", 240)):
        assert metrics[part]["n_samples"] == n
        assert abs(metrics[part]["prevalence"] - overall) <= 1.0 / n + 1e-12


def _time_table(n: int = 240, seed: int = 5) -> pa.Table:
    rng = np.random.default_rng(seed)
    days = rng.permutation(n)  # the file is NOT in time order
    x = rng.normal(size=n)
    return pa.table(
        {
            "when": pa.array(
                [dt.datetime(2021, 1, 1) + dt.timedelta(days=int(d)) for d in days],
                pa.timestamp("s"),
            ),
            "day": days.astype(np.float64),
            "x": x,
            "store": [f"s{i}" for i in rng.integers(0, 24, n)],
            "label": np.where(x + rng.normal(size=n) > 0, "yes", "no"),
        }
    )


def test_time_split_holds_out_the_latest_rows(tmp_path: Path) -> None:
    table = _time_table()
    config = _project(
        tmp_path,
        table,
        target="label",
        task="binary",
        split={"method": "time", "time_column": "when"},
        exclude=["store"],
    )
    result = train(config, output_dir=tmp_path / "out", write_report=False)
    model = result.model
    assert "when" not in model.feature_names  # the time column is not a feature
    rows = model.metadata["lineage"]["n_rows"]
    # 'day' is a feature: its manifest range is the range of the training rows
    latest_train_day = model.preprocessor.schema["day"].maximum
    days = table.column("day").to_numpy()
    assert int((days <= latest_train_day).sum()) == rows["train"] == 192
    assert int((days > latest_train_day).sum()) == rows["holdout"] == 48


def test_time_split_cv_folds_are_in_time_order(tmp_path: Path) -> None:
    table = _time_table()
    config = _project(
        tmp_path,
        table,
        target="label",
        task="binary",
        split={"method": "time", "time_column": "when"},
    )
    spec = load_config(config, environ={}).models["m"]
    y = np.asarray(table.column("label").to_pylist(), dtype=object)
    split = make_split(
        table,
        y,
        task=spec.task,
        method=spec.split.method,
        test_size=spec.split.test_size,
        n_folds=spec.cv.n_folds,
        seed=spec.seed,
        time_column=spec.split.time_column,
    )
    days = table.column("day").to_numpy()
    assert days[split.holdout].min() > days[split.train].max()
    for fit_rows, test_rows in split.folds:
        assert days[split.train][fit_rows].max() < days[split.train][test_rows].min()


def test_group_split_keeps_each_group_on_one_side(tmp_path: Path) -> None:
    table = _time_table().append_column("store_copy", _time_table().column("store"))
    config = _project(
        tmp_path,
        table,
        target="label",
        task="binary",
        split={"method": "group", "group_column": "store"},
        exclude=["when"],
    )
    result = train(config, output_dir=tmp_path / "out", write_report=False)
    model = result.model
    assert "store" not in model.feature_names
    rows = model.metadata["lineage"]["n_rows"]
    # 'store_copy' is a feature: its manifest categories are the training groups
    train_groups = set(model.preprocessor.schema["store_copy"].categories or ())
    stores = table.column("store").to_pylist()
    assert 0 < len(train_groups) < len(set(stores))
    assert sum(s in train_groups for s in stores) == rows["train"]
    assert sum(s not in train_groups for s in stores) == rows["holdout"] > 0


# -- bad input ----------------------------------------------------------------------------


def _labels(n: int) -> list[str]:
    return ["a" if i % 3 else "b" for i in range(n)]


def _csv(header: str, rows: Iterator[str]) -> str:
    return header + "\n" + "".join(r + "\n" for r in rows)


N = 60
_X = np.random.default_rng(9).normal(size=N)
BAD_INPUTS: dict[str, tuple[Callable[[], pa.Table | str], dict[str, Any], type, str, str]] = {
    # name: (data, model config, error type, field, message fragment)
    "missing_target": (
        lambda: pa.table({"x": _X, "y": _labels(N)}),
        {"target": "label", "task": "binary"},
        InvalidInputError,
        "target",
        "'label'",
    ),
    "empty_file": (
        lambda: "",
        {"target": "y", "task": "binary"},
        InvalidInputError,
        "path",
        "empty",
    ),
    "header_only": (
        lambda: "x,c,y\n",
        {"target": "y", "task": "binary"},
        InvalidInputError,
        "data",
        "no rows",
    ),
    "all_null_feature": (
        lambda: _csv("x,blank,y", (f"{v},,{c}" for v, c in zip(_X, _labels(N), strict=True))),
        {"target": "y", "task": "binary"},
        InvalidInputError,
        "blank",
        "'blank' is entirely null",
    ),
    "constant_target": (
        lambda: pa.table({"x": _X, "y": np.full(N, 2.5)}),
        {"target": "y", "task": "regression"},
        InvalidInputError,
        "target",
        "'y' is constant",
    ),
    "one_class": (
        lambda: pa.table({"x": _X, "y": ["a"] * N}),
        {"target": "y", "task": "binary"},
        InvalidInputError,
        "target",
        "one class only",
    ),
    "three_classes_binary": (
        lambda: pa.table({"x": _X, "y": [("a", "b", "c")[i % 3] for i in range(N)]}),
        {"target": "y", "task": "binary"},
        InvalidInputError,
        "task",
        "3 classes",
    ),
    "two_classes_multinomial": (
        lambda: pa.table({"x": _X, "y": _labels(N)}),
        {"target": "y", "task": "multinomial"},
        InvalidInputError,
        "task",
        "two classes",
    ),
    "string_target_regression": (
        lambda: pa.table({"x": _X, "y": _labels(N)}),
        {"target": "y", "task": "regression"},
        InvalidInputError,
        "target",
        "'y'",
    ),
    "duplicate_columns": (
        lambda: _csv("x,x,y", (f"{v},{v},{c}" for v, c in zip(_X, _labels(N), strict=True))),
        {"target": "y", "task": "binary"},
        InvalidInputError,
        "x",
        "duplicate column names: ['x']",
    ),
    "unknown_feature": (
        lambda: pa.table({"x": _X, "y": _labels(N)}),
        {"target": "y", "task": "binary", "features": {"x": None, "nope": None}},
        InvalidInputError,
        "features.nope",
        "['nope']",
    ),
    "negative_weight": (
        lambda: pa.table({"x": _X, "w": np.where(np.arange(N) == 7, -1.0, 1.0), "y": _labels(N)}),
        {"target": "y", "task": "binary", "data": {"path": "data.csv", "weight": "w"}},
        InvalidInputError,
        "data.weight",
        "'w'",
    ),
    "missing_weight_column": (
        lambda: pa.table({"x": _X, "y": _labels(N)}),
        {"target": "y", "task": "binary", "data": {"path": "data.csv", "weight": "w"}},
        InvalidInputError,
        "data.weight",
        "'w'",
    ),
    "unknown_positive_class": (
        lambda: pa.table({"x": _X, "y": _labels(N)}),
        {"target": "y", "task": "binary", "positive_class": "c"},
        InvalidInputError,
        "positive_class",
        "'c'",
    ),
    "unknown_class_weight": (
        lambda: pa.table({"x": _X, "y": _labels(N)}),
        {"target": "y", "task": "binary", "class_weight": {"zz": 2.0}},
        ConfigError,
        "class_weight",
        "'zz'",
    ),
    "missing_time_column": (
        lambda: pa.table({"x": _X, "y": _labels(N)}),
        {"target": "y", "task": "binary", "split": {"method": "time", "time_column": "ts"}},
        InvalidInputError,
        "split.time_column",
        "'ts'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_and_nothing_is_written(case: str, tmp_path: Path) -> None:
    data, model, error, field, fragment = BAD_INPUTS[case]
    config = _project(tmp_path / "proj", data(), **model)
    out = tmp_path / "out"
    with pytest.raises(error) as info:
        train(config, output_dir=out)
    err = info.value
    assert (err.field if isinstance(err, InvalidInputError) else err.path) == field
    assert fragment in str(err)
    assert _nothing_written(out)


def test_missing_data_file(tmp_path: Path) -> None:
    config = _project(tmp_path, "x,y\n1,a\n", target="y", task="binary")
    (tmp_path / "data.csv").unlink()
    with pytest.raises(InvalidInputError, match=r"data\.csv") as info:
        train(config, output_dir=tmp_path / "out")
    assert info.value.field == "path"
    assert _nothing_written(tmp_path / "out")


def test_string_copy_of_the_label_warns_about_leakage(tmp_path: Path) -> None:
    table = _frame("binary", n=200, seed=3)
    table = table.append_column("label_copy", table.column("label"))
    config = _project(tmp_path, table, target="label", task="binary")
    with pytest.warns(DataLeakageWarning, match="'label_copy'"):
        result = train(config, output_dir=tmp_path / "out", write_report=False)
    assert any("'label_copy'" in w for w in result.warnings)
    assert result.model.metadata["notes"] == result.warnings
    assert result.artifact_path is not None and (result.artifact_path / "model.json").is_file()


def test_numeric_copy_of_the_target_warns_about_leakage(tmp_path: Path) -> None:
    table = _frame("regression", n=200, seed=4).drop_columns(["w"])
    table = table.append_column("y_copy", table.column("label"))
    config = _project(tmp_path, table, target="label", task="regression")
    with pytest.warns(DataLeakageWarning, match="'y_copy'"):
        result = train(config, output_dir=tmp_path / "out", write_report=False)
    assert any("'y_copy'" in w for w in result.warnings)
    assert result.artifact_path is not None and (result.artifact_path / "model.json").is_file()


# -- progress -----------------------------------------------------------------------------


def test_progress_reports_every_stage(binary_run: _Run) -> None:
    calls = binary_run.progress
    seen = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert seen == list(STAGES)
    for stage in STAGES:
        mine = [(d, t) for s, d, t in calls if s == stage]
        done = [d for d, _ in mine]
        assert done == sorted(done), stage
        assert mine[-1][0] == mine[-1][1] >= 1, stage  # every stage completes
    cv = [(d, t) for s, d, t in calls if s == "cv"]
    total = cv[-1][1]
    assert total == len(CV["l1_ratio"]) * CV["n_folds"]
    assert all(t == total for _, t in cv)


# -- report -------------------------------------------------------------------------------


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: dict[str, str] = {}
        self.tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        if tag == "img":
            a = dict(attrs)
            self.images[str(a.get("id"))] = str(a.get("src"))


def _report_images(run: _Run) -> dict[str, str]:
    path = run.result.report_path
    assert path == _artifact(run) / "report.html"
    text = path.read_text(encoding="utf-8")
    assert "http:" not in text and "https:" not in text
    assert "<script" not in text.lower()
    parser = _Images()
    parser.feed(text)
    parser.close()
    assert parser.tags > 20
    for fig_id, src in parser.images.items():
        assert src.startswith("data:image/png;base64,"), fig_id
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), fig_id
        # no software tag, no timestamp, no link inside the images either
        assert b"http" not in png and b"tEXt" not in png and b"tIME" not in png, fig_id
    card = (_artifact(run) / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert run.result.model.name in card
    return parser.images


def test_binary_report_is_self_contained_with_all_figures(binary_run: _Run) -> None:
    images = _report_images(binary_run)
    want = {"fig-path", "fig-cv", "fig-coefficients", "fig-calibration", "fig-roc", "fig-pr"}
    assert want <= images.keys()
    assert "fig-residuals" not in images


def test_regression_report_is_self_contained_with_all_figures(regression_run: _Run) -> None:
    images = _report_images(regression_run)
    assert {"fig-path", "fig-cv", "fig-coefficients", "fig-residuals"} <= images.keys()
    assert not {"fig-roc", "fig-pr", "fig-calibration"} & images.keys()


def _sql_rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_train_from_a_sql_query(tmp_path: Path, backend: str) -> None:
    """data: {url, query} reads through SQLAlchemy and trains like a file source."""
    import os

    import sqlalchemy as sa

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'rows.db'}"
    else:
        url = os.environ.get("GLMOPS_TEST_PG_URL", "")
        if not url:
            pytest.skip("GLMOPS_TEST_PG_URL is not set (CI sets it to a PostgreSQL URL)")
    name = f"glmops_train_{os.getpid()}_{backend}"
    table = _frame("binary", n=240, seed=11)
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    types = {"string": sa.String(32), "double": sa.Float(), "int64": sa.Integer()}
    columns = [sa.Column(f.name, types.get(str(f.type), sa.String(32))) for f in table.schema]
    sql_table = sa.Table(name, meta, *columns)
    try:
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sql_table.insert(), _sql_rows(table))
        spec = parse_config(
            {
                "models": {
                    "m": {
                        "data": {"url": url, "query": f"SELECT * FROM {name}"},
                        "target": "label",
                        "task": "binary",
                        "cv": CV,
                    }
                }
            }
        ).models["m"]
        result = train_model(
            "m", spec, base_dir=tmp_path, output_dir=tmp_path / "out", write_report=False
        )
        from_file = train_model(
            "m", spec, base_dir=tmp_path, output_dir=None, write_report=False, data=table
        )
    finally:
        meta.drop_all(engine)
        engine.dispose()
    assert result.model.metadata["lineage"]["n_rows"]["used"] == 240
    # the same rows through SQL and through Arrow give the same model
    np.testing.assert_allclose(result.model.coef, from_file.model.coef, rtol=1e-9, atol=1e-12)
