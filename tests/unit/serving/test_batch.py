"""Batch scoring (``glmops.serving.batch.score_file`` and ``glmops score``).

A scored file must hold exactly what ``Model.predict`` / ``predict_proba``
answer for the same rows, in the input's order, whatever the chunking and
file formats; the output appears complete or not at all; unscorable rows
stop the run or, with ``on_error="skip"``, come out empty with a reason.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from tests.unit.registry.conftest import train_artifact
from typer.testing import CliRunner, Result

from glmops import load_model
from glmops.cli.main import app
from glmops.config import parse_config
from glmops.errors import InvalidInputError, SchemaValidationError
from glmops.model import Model
from glmops.registry import Registry
from glmops.serving.batch import score_file
from glmops.training.pipeline import train_model

# module fixtures train once: keep this file on one xdist worker
pytestmark = pytest.mark.xdist_group("scoring")

CITIES = ["paris", "lyon", "nice"]
N_ROWS = 100


# -- models --------------------------------------------------------------------------


def _train(root: Path, name: str, model: dict[str, Any], data: pa.Table) -> Path:
    """Train one small model from a config entry; return its artifact directory."""
    base = {"data": {"path": "unused.csv"}, "cv": {"n_folds": 3, "n_alphas": 5}, "seed": 0}
    spec = parse_config({"models": {name: {**base, **model}}}).models[name]
    result = train_model(
        name, spec, base_dir=root, output_dir=root / name, data=data, write_report=False
    )
    assert result.artifact_path is not None
    return result.artifact_path


@pytest.fixture(scope="module")
def binary_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``churn``: binary yes/no on x, z (numeric) and city (categorical)."""
    return train_artifact(tmp_path_factory.mktemp("binary"), seed=1)


@pytest.fixture(scope="module")
def binary(binary_artifact: Path) -> Model:
    return load_model(binary_artifact)


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> Model:
    """``price``: regression on x (numeric, NOT imputed: a null blocks) and g (categorical)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=200)
    data = pa.table({"x": x, "g": rng.choice(["a", "b"], 200), "y": 2 * x + rng.normal(size=200)})
    model = {
        "target": "y",
        "task": "regression",
        "features": {"x": {"impute": "none"}, "g": {}},
    }
    return load_model(_train(tmp_path_factory.mktemp("regression"), "price", model, data))


@pytest.fixture(scope="module")
def multinomial(tmp_path_factory: pytest.TempPathFactory) -> Model:
    """``kind``: three classes a/b/c on x, z and city."""
    rng = np.random.default_rng(7)
    n = 300
    x, z = rng.normal(size=n), rng.normal(size=n)
    city = rng.choice(CITIES, n)
    eta = np.column_stack([x, z, (city == "paris") - 0.5]) * 2.0
    u = rng.random(n)[:, None]
    p = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    y = np.array(["a", "b", "c"])[(u > np.cumsum(p, axis=1)).sum(axis=1)]
    data = pa.table({"x": x, "z": z, "city": city, "y": y})
    model = {"target": "y", "task": "multinomial"}
    return load_model(_train(tmp_path_factory.mktemp("multinomial"), "kind", model, data))


# -- data and expectations -----------------------------------------------------------


def _rows(model: Model, n: int = N_ROWS, seed: int = 0) -> pa.Table:
    """Clean input rows for ``model`` (in-range values, known categories), with an id."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {"id": np.arange(1000, 1000 + n)}
    for col in model.preprocessor.schema.columns:
        if col.kind == "categorical":
            assert col.categories is not None
            columns[col.name] = rng.choice(list(col.categories), n)
        else:
            assert col.minimum is not None and col.maximum is not None
            columns[col.name] = rng.uniform(col.minimum, col.maximum, n)
    columns["note"] = [f"row {i}" for i in range(n)]  # not a feature: ignored unless kept
    return pa.table(columns)


def _write(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)
    return path


def _read(path: Path) -> pa.Table:
    return pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)


def _expected(model: Model, table: pa.Table) -> dict[str, list[Any]]:
    """The prediction columns scoring must write, from the model's own API."""
    if model.task == "regression":
        return {"prediction": model.predict(table).tolist()}
    assert model.classes is not None
    proba = model.predict_proba(table)
    out: dict[str, list[Any]] = {"label": [str(v) for v in model.predict(table)]}
    if model.task == "binary":
        out[f"proba_{model.classes[1]}"] = proba[:, 1].tolist()
    else:
        for k, c in enumerate(model.classes):
            out[f"proba_{c}"] = proba[:, k].tolist()
    return out


def _assert_predictions(got: pa.Table, want: dict[str, list[Any]]) -> None:
    for name, values in want.items():
        column = got.column(name).to_pylist()
        if isinstance(values[0], str):
            assert column == values, name
        else:
            np.testing.assert_allclose(column, values, rtol=1e-12, atol=0, err_msg=name)


def _bad_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as text (so a column may mix numbers and junk)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# -- 1. parity with the model's own predictions ---------------------------------------


@pytest.mark.parametrize("chunk_rows", [7, 1000])
@pytest.mark.parametrize("in_suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("task", ["binary", "regression", "multinomial"])
def test_scores_equal_the_models_predictions(
    request: pytest.FixtureRequest, tmp_path: Path, task: str, in_suffix: str, chunk_rows: int
) -> None:
    """Every row scored as predict/predict_proba scores it, in input order, ids verbatim."""
    model: Model = request.getfixturevalue(task)
    table = _rows(model)
    source = _write(table, tmp_path / f"in{in_suffix}")
    target = tmp_path / "out.parquet"
    summary = score_file(model, source, target, keep=["id", "note"], chunk_rows=chunk_rows)
    assert summary.rows == N_ROWS
    assert summary.skipped == 0
    assert summary.violations == {}
    got = pq.read_table(target)
    assert got.num_rows == N_ROWS
    assert got.column("id").to_pylist() == table.column("id").to_pylist()
    assert got.column("note").to_pylist() == table.column("note").to_pylist()
    assert got.column_names[:2] == ["id", "note"]
    want = _expected(model, table)
    assert got.column_names[2:] == list(want)
    _assert_predictions(got, want)


def test_csv_output_equals_the_models_predictions(binary: Model, tmp_path: Path) -> None:
    """CSV out: same rows and values (printed exactly), plus the model_version column."""
    table = _rows(binary, seed=3)
    source = _write(table, tmp_path / "in.parquet")
    target = tmp_path / "out.csv"
    score_file(binary, source, target, keep=["id"], chunk_rows=13)
    got = pacsv.read_csv(target)
    assert got.column_names == ["id", "label", "proba_yes", "model_version"]
    assert got.column("id").to_pylist() == table.column("id").to_pylist()
    _assert_predictions(got, _expected(binary, table))


def test_keep_copies_typed_columns_verbatim(binary: Model, tmp_path: Path) -> None:
    """Kept Parquet columns keep their type and values (nulls, timestamps, features)."""
    table = _rows(binary, n=20)
    extra = pa.array([None if i % 3 == 0 else i * 1.5 for i in range(20)], pa.float32())
    stamps = pa.array(np.arange(20).astype("datetime64[s]"))
    table = table.append_column("score_hint", extra).append_column("ts", stamps)
    source = _write(table, tmp_path / "in.parquet")
    target = tmp_path / "out.parquet"
    keep = ["ts", "score_hint", "city"]
    score_file(binary, source, target, keep=keep, chunk_rows=6)
    got, given = pq.read_table(target), pq.read_table(source)  # (Parquet stores s as ms)
    for name in keep:
        assert got.column(name).type == given.column(name).type, name
        assert got.column(name).to_pylist() == given.column(name).to_pylist(), name


def test_a_kept_column_that_is_not_in_the_file_is_named(binary: Model, tmp_path: Path) -> None:
    source = _write(_rows(binary, n=5), tmp_path / "in.csv")
    with pytest.raises(InvalidInputError) as info:
        score_file(binary, source, tmp_path / "out.parquet", keep=["customer_id"])
    assert info.value.field == "customer_id"
    assert not (tmp_path / "out.parquet").exists()


def test_keeping_the_true_label_does_not_lose_it(binary: Model, tmp_path: Path) -> None:
    """Scoring a holdout file with ``keep=["label"]`` must keep the true labels (or refuse)."""
    table = _rows(binary, n=30)
    truth = ["yes" if i % 2 else "no" for i in range(30)]
    table = table.append_column("label", pa.array(truth))
    source = _write(table, tmp_path / "in.parquet")
    target = tmp_path / "out.parquet"
    try:
        score_file(binary, source, target, keep=["label"])
    except InvalidInputError:
        return  # refusing the clash is acceptable too
    got = pq.read_table(target)
    assert any(got.column(name).to_pylist() == truth for name in got.column_names)


# -- 2. output format and argument checks ----------------------------------------------


def test_parquet_output_records_the_model(binary: Model, tmp_path: Path) -> None:
    source = _write(_rows(binary, n=10), tmp_path / "in.csv")
    target = tmp_path / "sub" / "dir" / "out.parquet"  # parents are created
    summary = score_file(binary, source, target, model_ref="churn@champion", version=4)
    meta = pq.read_schema(target).metadata
    assert b"glmops" in meta
    recorded = json.loads(meta[b"glmops"])
    assert recorded == {"model": "churn@champion", "version": 4, "digest": binary.digest}
    assert len(recorded["digest"]) == 64
    assert (summary.model, summary.version, summary.digest) == ("churn@champion", 4, binary.digest)
    assert summary.to_dict()["rows"] == 10


def test_parquet_output_defaults_to_the_models_name(binary: Model, tmp_path: Path) -> None:
    source = _write(_rows(binary, n=10), tmp_path / "in.csv")
    score_file(binary, source, tmp_path / "out.parquet")
    recorded = json.loads(pq.read_schema(tmp_path / "out.parquet").metadata[b"glmops"])
    assert recorded == {"model": "churn", "version": None, "digest": binary.digest}


def test_csv_output_has_a_model_version_column(binary: Model, tmp_path: Path) -> None:
    source = _write(_rows(binary, n=25), tmp_path / "in.parquet")
    target = tmp_path / "out.csv"
    score_file(binary, source, target, model_ref="churn", version=3, chunk_rows=10)
    got = pacsv.read_csv(target)
    assert got.column_names[-1] == "model_version"
    assert got.column("model_version").to_pylist() == ["churn@3"] * 25


@pytest.mark.parametrize("name", ["out.json", "out", "out.parquet.tmp"])
def test_an_unknown_output_format_is_refused(binary: Model, tmp_path: Path, name: str) -> None:
    source = _write(_rows(binary, n=5), tmp_path / "in.csv")
    with pytest.raises(InvalidInputError) as info:
        score_file(binary, source, tmp_path / name)
    assert info.value.field == "output"
    assert ".parquet" in str(info.value) and ".csv" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("chunk_rows", [0, -5])
def test_chunk_rows_must_be_positive(binary: Model, tmp_path: Path, chunk_rows: int) -> None:
    source = _write(_rows(binary, n=5), tmp_path / "in.csv")
    with pytest.raises(InvalidInputError, match="chunk_rows") as info:
        score_file(binary, source, tmp_path / "out.parquet", chunk_rows=chunk_rows)
    assert info.value.field == "chunk_rows"
    assert not (tmp_path / "out.parquet").exists()


def test_on_error_must_be_fail_or_skip(binary: Model, tmp_path: Path) -> None:
    source = _write(_rows(binary, n=5), tmp_path / "in.csv")
    with pytest.raises(InvalidInputError, match="bogus") as info:
        score_file(binary, source, tmp_path / "out.parquet", on_error="bogus")  # type: ignore[arg-type]
    assert info.value.field == "on_error"
    assert not (tmp_path / "out.parquet").exists()


# -- 3. the output appears complete or not at all ------------------------------------


def _junk_late_csv(model: Model, path: Path, bad_row: int = 60) -> Path:
    """A CSV whose x is numeric text everywhere but one late row."""
    rows = _rows(model).to_pylist()
    rows[bad_row]["x"] = "twelve"
    return _bad_csv(path, rows)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if "partial" in p.name)


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv"])
def test_a_failure_midway_leaves_no_output(binary: Model, tmp_path: Path, out_name: str) -> None:
    """Chunks before the bad row were written to the temp file: all of it is removed."""
    source = _junk_late_csv(binary, tmp_path / "in.csv")
    done: list[int] = []
    with pytest.raises(SchemaValidationError) as info:
        score_file(
            binary,
            source,
            tmp_path / out_name,
            chunk_rows=7,
            progress=lambda n, _total: done.append(n),
        )
    assert done and done[-1] == 56  # eight chunks were written before the bad one
    message = str(info.value)
    assert "'x'" in message and "twelve" in message and "Rows 56-62" in message
    assert info.value.violations[0]["kind"] == "wrong_type"
    assert not (tmp_path / out_name).exists()
    assert _leftovers(tmp_path) == []


def test_a_failure_keeps_the_previous_output(binary: Model, tmp_path: Path) -> None:
    """A failed re-run does not touch the file an earlier run wrote."""
    target = tmp_path / "out.parquet"
    good = _write(_rows(binary), tmp_path / "good.csv")
    score_file(binary, good, target)
    before = target.read_bytes()
    with pytest.raises(SchemaValidationError):
        score_file(binary, _junk_late_csv(binary, tmp_path / "bad.csv"), target, chunk_rows=7)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_a_missing_column_is_named_and_writes_nothing(binary: Model, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n", encoding="utf-8")
    source = _write(_rows(binary).drop_columns(["z"]), tmp_path / "in.parquet")
    with pytest.raises(InvalidInputError) as info:
        score_file(binary, source, target, chunk_rows=7)
    assert info.value.field == "z"
    assert target.read_text(encoding="utf-8") == "old\n"
    assert _leftovers(tmp_path) == []


def test_a_missing_input_file_is_named(binary: Model, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(InvalidInputError, match=r"nope\.csv"):
        score_file(binary, missing, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    assert _leftovers(tmp_path) == []


# -- 4. on_error="skip" --------------------------------------------------------------


def test_skip_writes_bad_rows_empty_with_the_reason(binary: Model, tmp_path: Path) -> None:
    """Non-numeric text: that row's label and probability are null, the rest as predict."""
    table = _rows(binary, n=20)
    rows = table.to_pylist()
    bad = {3: "abc", 11: "1,5"}
    for i, text in bad.items():
        rows[i]["x"] = text
    source = _bad_csv(tmp_path / "in.csv", rows)
    target = tmp_path / "out.parquet"
    summary = score_file(binary, source, target, keep=["id"], on_error="skip")
    got = pq.read_table(target)
    assert got.column_names == ["id", "label", "proba_yes", "_error"]
    assert got.column("id").to_pylist() == table.column("id").to_pylist()
    errors = got.column("_error").to_pylist()
    assert [i for i, e in enumerate(errors) if e is not None] == sorted(bad)
    assert all("x" in errors[i] and "wrong type" in errors[i] for i in bad)
    for name in ("label", "proba_yes"):
        values = got.column(name).to_pylist()
        assert [i for i, v in enumerate(values) if v is None] == sorted(bad), name
    good = [i for i in range(20) if i not in bad]
    want = _expected(binary, table.take(good))
    _assert_predictions(got.take(good), want)
    assert summary.skipped == 2
    assert summary.rows == 20
    entry = summary.violations[("x", "wrong_type")]
    assert entry["rows"] == 2 and entry["example"] == "abc"


def test_skip_a_null_the_pipeline_does_not_impute(regression: Model, tmp_path: Path) -> None:
    """x has ``impute: none``: its nulls are skipped; a null g (imputed) is scored."""
    table = _rows(regression, n=15)
    rows = table.to_pylist()
    rows[0]["x"] = None
    rows[9]["x"] = None
    rows[5]["g"] = None  # categorical null: encoded, not blocking
    source = _bad_csv(tmp_path / "in.csv", rows)
    target = tmp_path / "out.csv"
    summary = score_file(regression, source, target, keep=["id"], on_error="skip")
    got = pacsv.read_csv(target)
    errors = got.column("_error").to_pylist()
    assert [i for i, e in enumerate(errors) if e] == [0, 9]
    assert errors[0] == "x: null"
    predictions = got.column("prediction").to_pylist()
    assert [i for i, v in enumerate(predictions) if v is None] == [0, 9]
    good = [i for i in range(15) if i not in (0, 9)]
    scored = pa.Table.from_pylist([rows[i] for i in good])
    np.testing.assert_allclose(
        [predictions[i] for i in good], regression.predict(scored), rtol=1e-12, atol=0
    )
    assert summary.skipped == 2
    assert summary.violations[("x", "null")]["rows"] == 2


def test_fail_names_a_null_the_pipeline_does_not_impute(regression: Model, tmp_path: Path) -> None:
    rows = _rows(regression, n=15).to_pylist()
    rows[4]["x"] = None
    source = _bad_csv(tmp_path / "in.csv", rows)
    with pytest.raises(SchemaValidationError, match="does not impute"):
        score_file(regression, source, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("huge", [1e308, -1e308])
def test_a_score_that_overflows_is_refused_never_written_as_inf(
    regression: Model, tmp_path: Path, huge: float
) -> None:
    """A finite value far outside the training range can overflow the linear score."""
    rows = _rows(regression, n=12).to_pylist()
    slope = dict(zip(regression.preprocessor.feature_names_out, regression.coef[0], strict=True))
    assert slope["x"] != 0.0
    rows[7]["x"] = huge
    source = _write(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    with pytest.raises(SchemaValidationError, match="first at row 7") as info:
        score_file(regression, source, tmp_path / "out.parquet")
    assert info.value.violations[0]["kind"] == "out_of_range"
    assert not (tmp_path / "out.parquet").exists()
    summary = score_file(regression, source, tmp_path / "out.parquet", on_error="skip")
    got = pq.read_table(tmp_path / "out.parquet")
    predictions = got.column("prediction").to_pylist()
    assert predictions[7] is None and all(
        np.isfinite(v) for i, v in enumerate(predictions) if i != 7
    )
    assert got.column("_error").to_pylist()[7].startswith("score: out of range")
    assert summary.skipped == 1


def test_skip_in_every_chunk_across_chunks(multinomial: Model, tmp_path: Path) -> None:
    """One bad row per chunk: each is skipped, the rest equal predict_proba."""
    table = _rows(multinomial, n=30)
    rows = table.to_pylist()
    bad = [2, 12, 29]
    for i in bad:
        rows[i]["z"] = "n/a!"
    source = _bad_csv(tmp_path / "in.csv", rows)
    target = tmp_path / "out.parquet"
    summary = score_file(multinomial, source, target, keep=["id"], chunk_rows=10, on_error="skip")
    got = pq.read_table(target)
    assert [i for i, e in enumerate(got.column("_error").to_pylist()) if e] == bad
    assert [i for i, v in enumerate(got.column("proba_a").to_pylist()) if v is None] == bad
    good = [i for i in range(30) if i not in bad]
    _assert_predictions(got.take(good), _expected(multinomial, table.take(good)))
    assert summary.skipped == 3
    assert summary.violations[("z", "wrong_type")]["rows"] == 3


@pytest.mark.parametrize("bad_row", [3, 60], ids=["first-chunk", "later-chunk"])
def test_skip_with_bad_rows_in_some_chunks_only(
    binary: Model, tmp_path: Path, bad_row: int
) -> None:
    table = _rows(binary)
    rows = table.to_pylist()
    rows[bad_row]["x"] = "oops"
    source = _bad_csv(tmp_path / "in.csv", rows)
    target = tmp_path / "out.parquet"
    summary = score_file(binary, source, target, chunk_rows=7, on_error="skip")
    got = pq.read_table(target)
    assert summary.skipped == 1
    assert [i for i, e in enumerate(got.column("_error").to_pylist()) if e] == [bad_row]
    good = [i for i in range(N_ROWS) if i != bad_row]
    _assert_predictions(got.take(good), _expected(binary, table.take(good)))


_CSV_SKIP_SCRIPT = textwrap.dedent(
    """
    import csv, sys
    import pyarrow.csv as pacsv
    from glmops import load_model
    from glmops.serving.batch import score_file

    model = load_model(sys.argv[1])
    source, bad_row = sys.argv[2], int(sys.argv[3])
    with open(source, newline="") as f:
        n = sum(1 for _ in f) - 1
    score_file(model, source, sys.argv[4], chunk_rows=7, on_error="skip")
    out = pacsv.read_csv(sys.argv[4])
    errors = out.column("_error").to_pylist()
    assert out.num_rows == n, out.num_rows
    assert [i for i, e in enumerate(errors) if e] == [bad_row], errors
    print("OK")
    """
)


def test_skip_to_csv_with_bad_rows_in_the_first_chunk_only(
    binary_artifact: Path, binary: Model, tmp_path: Path
) -> None:
    """Run in a child process: the bug kills the interpreter."""
    rows = _rows(binary).to_pylist()
    rows[3]["x"] = "oops"
    source = _bad_csv(tmp_path / "in.csv", rows)
    proc = subprocess.run(
        [sys.executable, "-c", _CSV_SKIP_SCRIPT, binary_artifact, source, "3", tmp_path / "o.csv"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "OK"


def test_skip_scores_an_imputed_nan_next_to_an_infinite_value(
    binary: Model, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "x": [0.1, float("nan"), float("inf"), 0.3],
            "z": [0.0, 0.5, 0.2, -0.1],
            "city": ["paris", "lyon", "nice", "paris"],
        }
    )
    source = _write(table, tmp_path / "in.parquet")
    summary = score_file(binary, source, tmp_path / "out.parquet", on_error="skip")
    got = pq.read_table(tmp_path / "out.parquet")
    assert got.column("_error").to_pylist()[1] is None  # the NaN is missing: imputed
    assert summary.skipped == 1
    _assert_predictions(got.take([0, 1, 3]), _expected(binary, table.take([0, 1, 3])))


# -- 5. counted (non-blocking) violations ----------------------------------------------


def test_unseen_categories_and_out_of_range_values_are_counted(
    binary: Model, tmp_path: Path
) -> None:
    """They do not stop the run; counts add up over chunks; scores still equal predict."""
    table = _rows(binary, n=40)
    x = table.column("x").to_numpy().copy()
    x[[1, 20, 35]] = binary.preprocessor.schema["x"].maximum + 100.0
    city = table.column("city").to_pylist()
    for i in (0, 8, 9, 30, 39):
        city[i] = "rome"
    table = table.set_column(table.schema.get_field_index("x"), "x", pa.array(x))
    table = table.set_column(table.schema.get_field_index("city"), "city", pa.array(city))
    source = _write(table, tmp_path / "in.parquet")
    target = tmp_path / "out.parquet"
    summary = score_file(binary, source, target, chunk_rows=7)
    assert summary.rows == 40 and summary.skipped == 0
    unseen = summary.violations[("city", "unseen_category")]
    assert unseen["rows"] == 5 and unseen["example"] == "rome"
    out_of_range = summary.violations[("x", "out_of_range")]
    assert out_of_range["rows"] == 3
    assert out_of_range["example"] == pytest.approx(x[1])
    assert set(summary.violations) == {("city", "unseen_category"), ("x", "out_of_range")}
    reported = {(v["column"], v["kind"]): v["rows"] for v in summary.to_dict()["violations"]}
    assert reported == {("city", "unseen_category"): 5, ("x", "out_of_range"): 3}
    got = pq.read_table(target)
    assert "_error" not in got.column_names
    _assert_predictions(got, _expected(binary, table))


# -- 6. empty input --------------------------------------------------------------------


@pytest.mark.parametrize("out_suffix", [".parquet", ".csv"])
@pytest.mark.parametrize("in_suffix", [".csv", ".parquet"])
def test_an_empty_input_gives_an_empty_output(
    binary: Model, tmp_path: Path, in_suffix: str, out_suffix: str
) -> None:
    source = tmp_path / f"in{in_suffix}"
    if in_suffix == ".csv":
        source.write_text("id,x,z,city\n", encoding="utf-8")
    else:
        pq.write_table(_rows(binary).slice(0, 0), source)
    target = tmp_path / f"out{out_suffix}"
    calls: list[int] = []
    summary = score_file(
        binary, source, target, keep=["id"], progress=lambda n, _t: calls.append(n)
    )
    assert summary.rows == 0 and summary.skipped == 0
    got = _read(target) if out_suffix == ".parquet" else None
    if got is None:  # a header-only CSV: read its header
        header = target.read_text(encoding="utf-8").splitlines()
        assert header == ['"id","label","proba_yes","model_version"']
    else:
        assert got.num_rows == 0
        assert got.column_names == ["id", "label", "proba_yes"]
        assert got.schema.field("proba_yes").type == pa.float64()
    assert _leftovers(tmp_path) == []


# -- 7. progress -----------------------------------------------------------------------


@pytest.mark.parametrize("in_suffix", [".parquet", ".csv"])
def test_progress_reports_increasing_row_counts(
    binary: Model, tmp_path: Path, in_suffix: str
) -> None:
    source = _write(_rows(binary), tmp_path / f"in{in_suffix}")
    calls: list[tuple[int, int | None]] = []
    score_file(
        binary,
        source,
        tmp_path / "out.parquet",
        chunk_rows=7,
        progress=lambda done, total: calls.append((done, total)),
    )
    done = [d for d, _ in calls]
    assert done == [*range(7, N_ROWS, 7), N_ROWS]
    expected_total = N_ROWS if in_suffix == ".parquet" else None
    assert {t for _, t in calls} == {expected_total}


# -- 8. the command line -----------------------------------------------------------------


def _invoke(*args: Any, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def _flat(text: str) -> str:
    """Return ``text`` without whitespace: rich wraps long lines at the console width."""
    return "".join(text.split())


def test_cli_score_prints_a_json_summary(
    binary_artifact: Path, binary: Model, tmp_path: Path
) -> None:
    table = _rows(binary)
    source = _write(table, tmp_path / "in.csv")
    target = tmp_path / "out.parquet"
    result = _invoke(
        "score", "-m", binary_artifact, "-i", source, "-o", target, "--keep", "id",
        "--chunk-rows", 9, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == N_ROWS
    assert summary["skipped"] == 0
    assert isinstance(summary["rows_per_s"], int) and summary["rows_per_s"] > 0
    assert summary["model"] == "churn" and summary["version"] is None
    assert summary["digest"] == binary.digest
    got = pq.read_table(target)
    assert got.column_names == ["id", "label", "proba_yes"]
    assert got.column("id").to_pylist() == table.column("id").to_pylist()
    _assert_predictions(got, _expected(binary, table))


def test_cli_score_without_json_prints_a_line_and_the_violations(
    binary_artifact: Path, binary: Model, tmp_path: Path
) -> None:
    rows = _rows(binary, n=12).to_pylist()
    rows[2]["city"] = "rome"
    rows[5]["x"] = "oops"
    source = _bad_csv(tmp_path / "in.csv", rows)
    result = _invoke(
        "score", "-m", binary_artifact, "-i", source, "-o", tmp_path / "o.csv",
        "--on-error", "skip",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    flat = _flat(result.stdout)
    assert "scored12rows" in flat
    assert "1rowscouldnotbescored" in flat
    assert "unseen_category" in flat and "rome" in flat


def test_cli_score_a_missing_input_exits_2(binary_artifact: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no_such_input.csv"
    result = _invoke("score", "-m", binary_artifact, "-i", missing, "-o", tmp_path / "o.parquet")
    assert result.exit_code == 2, result.output
    assert "error" in result.output
    assert _flat(str(missing)) in _flat(result.output)
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--on-error", "bogus"], "on_error"),
        (["--chunk-rows", "0"], "chunk_rows"),
    ],
)
def test_cli_score_bad_options_exit_2(
    binary_artifact: Path, binary: Model, tmp_path: Path, extra: list[str], fragment: str
) -> None:
    source = _write(_rows(binary, n=5), tmp_path / "in.csv")
    result = _invoke("score", "-m", binary_artifact, "-i", source, "-o", tmp_path / "o.csv", *extra)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert not (tmp_path / "o.csv").exists()


def test_cli_score_an_unscorable_row_exits_2(
    binary_artifact: Path, binary: Model, tmp_path: Path
) -> None:
    source = _junk_late_csv(binary, tmp_path / "in.csv")
    result = _invoke(
        "score", "-m", binary_artifact, "-i", source, "-o", tmp_path / "o.parquet",
        "--chunk-rows", 7,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "twelve" in result.output
    assert not (tmp_path / "o.parquet").exists()
    assert _leftovers(tmp_path) == []


@pytest.fixture
def registry_config(binary_artifact: Path, tmp_path: Path) -> Path:
    """A registry with churn@1 as champion, and a glmops.yaml that names it."""
    url, store = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "store"
    with Registry(url, store, actor="alice") as registry:
        registry.register("churn", binary_artifact)
        registry.promote("churn", 1, reason="first")
    config = tmp_path / "glmops.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            registry:
              url: {url}
              artifact_root: {store}
            models:
              churn:
                data: {{path: unused.csv}}
                target: label
                task: binary
            """
        ),
        encoding="utf-8",
    )
    return config


def test_cli_score_resolves_a_registry_alias(
    registry_config: Path, binary: Model, tmp_path: Path
) -> None:
    table = _rows(binary, n=30)
    source = _write(table, tmp_path / "in.parquet")
    target = tmp_path / "out.csv"
    result = _invoke(
        "score", "-m", "churn@champion", "--config", registry_config,
        "-i", source, "-o", target, "--keep", "id", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["model"], summary["version"], summary["digest"]) == ("churn", 1, binary.digest)
    got = pacsv.read_csv(target)
    assert got.column("model_version").to_pylist() == ["churn@1"] * 30
    _assert_predictions(got, _expected(binary, table))


def test_cli_score_an_unknown_alias_fails_cleanly(registry_config: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("x,z,city\n1,2,paris\n", encoding="utf-8")
    result = _invoke(
        "score", "-m", "churn@nonexistent", "--config", registry_config,
        "-i", source, "-o", tmp_path / "o.csv",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "nonexistent" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_console_script_scores_parquet_to_csv(
    binary_artifact: Path, binary: Model, tmp_path: Path
) -> None:
    """The installed ``glmops`` entry point, in a real process."""
    script = Path(sys.executable).with_name("glmops")
    assert script.is_file(), script
    table = _rows(binary, n=50)
    source = _write(table, tmp_path / "in.parquet")
    target = tmp_path / "out.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLMOPS_")}
    proc = subprocess.run(
        [script, "score", "-m", binary_artifact, "-i", source, "-o", target, "--keep", "id",
         "--chunk-rows", "8"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "scored 50 rows" in proc.stdout
    got = pacsv.read_csv(target)
    assert got.column("id").to_pylist() == table.column("id").to_pylist()
    assert got.column("model_version").to_pylist() == ["churn"] * 50
    _assert_predictions(got, _expected(binary, table))


def test_the_output_is_synced_before_it_is_renamed_into_place(
    binary: Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reported `glmops score` output survives a crash: file synced, renamed, dir synced."""
    import os

    import glmops._durable as durable

    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync " + os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(a: Any, b: Any) -> None:
        events.append("replace")
        real_replace(a, b)

    monkeypatch.setattr(durable.os, "fsync", fsync)
    monkeypatch.setattr(durable.os, "replace", replace)
    source = _write(_rows(binary, seed=4), tmp_path / "in.parquet")
    score_file(binary, source, tmp_path / "out.parquet")
    assert events[-2:] == ["replace", f"fsync {tmp_path.name}"]
    assert events[-3].startswith("fsync ") and events[-3] != f"fsync {tmp_path.name}"
