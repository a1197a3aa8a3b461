"""``Model``: persistence (round trips, tampering, hostile payloads, encryption),
``explain``, inputs of every shape, record errors, ``validate`` and the threshold."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml

from glmops.artifact import KEY_ENV_VAR, read_artifact, write_artifact
from glmops.errors import (
    ArtifactError,
    ChecksumMismatch,
    DecryptionError,
    InvalidInputError,
    ScoreOverflowError,
    UnsupportedFormatVersion,
)
from glmops.model import MODEL_FORMAT_VERSION, Model, load_model
from glmops.training.pipeline import train

# module fixtures train once: keep this file on one xdist worker (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("model")

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))

CV = {"n_folds": 3, "n_alphas": 10, "l1_ratio": [0.5, 1.0]}

RECORDS = [
    {"x1": 1.0, "x2": 0.0, "city": "paris"},
    {"x1": None, "x2": -1.0, "city": None},
    {"x1": -0.5, "x2": 1.5, "city": "nice"},
    {"x1": 0.2, "x2": 0.3, "city": "lyon"},
]


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)


def _table(task: str, n: int = 300, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    city = rng.choice(["paris", "lyon", "nice"], size=n)
    eta = 1.2 * x1 - 0.8 * x2 + np.where(city == "paris", 1.0, 0.0)
    x1_missing: list[Any] = x1.tolist()
    for i in np.flatnonzero(rng.random(n) < 0.1):
        x1_missing[i] = None
    city_missing: list[Any] = city.tolist()
    for i in np.flatnonzero(rng.random(n) < 0.05):
        city_missing[i] = None
    if task == "binary":
        y: Any = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "churned", "stayed")
    elif task == "regression":
        y = 2.0 * eta + rng.normal(0.0, 0.5, n)
    else:
        z = eta + rng.normal(0.0, 0.5, n)
        y = np.where(z < -0.5, "low", np.where(z < 0.8, "mid", "high"))
    return pa.table(
        {
            "x1": pa.array(x1_missing, pa.float64()),
            "x2": x2,
            "city": pa.array(city_missing, pa.string()),
            "y": y,
        }
    )


def _train(root: Path, task: str, **extra: Any) -> Model:
    root.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(_table(task), root / "data.csv")
    spec = {"data": {"path": "data.csv"}, "target": "y", "task": task, "cv": CV, **extra}
    config = root / "glmops.yaml"
    config.write_text(yaml.safe_dump({"models": {task: spec}}), encoding="utf-8")
    return train(config, output_dir=root / "out", write_report=False).model


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Model:
    return _train(
        tmp_path_factory.mktemp("binary"), "binary", positive_class="churned", calibration="platt"
    )


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> Model:
    return _train(tmp_path_factory.mktemp("regression"), "regression")


@pytest.fixture(scope="module")
def multinomial(tmp_path_factory: pytest.TempPathFactory) -> Model:
    return _train(tmp_path_factory.mktemp("multinomial"), "multinomial")


@pytest.fixture(params=["binary", "regression", "multinomial"])
def any_model(request: pytest.FixtureRequest) -> Model:
    model: Model = request.getfixturevalue(request.param)
    return model


def _outputs(model: Model, data: Any) -> np.ndarray:
    return model.decision_function(data)


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["artifact", "artifact.zip"])
def test_save_load_round_trip(any_model: Model, tmp_path: Path, where: str) -> None:
    info = any_model.save(tmp_path / where)
    loaded = load_model(tmp_path / where)
    assert loaded.digest == info.digest
    assert loaded.name == any_model.name
    assert loaded.task == any_model.task
    assert loaded.classes == any_model.classes
    assert loaded.threshold == any_model.threshold
    assert loaded.feature_names_out == any_model.feature_names_out
    np.testing.assert_array_equal(loaded.coef, any_model.coef)
    np.testing.assert_array_equal(loaded.intercept, any_model.intercept)
    np.testing.assert_array_equal(loaded.decision_function(RECORDS), _outputs(any_model, RECORDS))
    assert loaded.predict(RECORDS).tolist() == any_model.predict(RECORDS).tolist()
    if any_model.task != "regression":
        np.testing.assert_array_equal(
            loaded.predict_proba(RECORDS), any_model.predict_proba(RECORDS)
        )
    assert loaded.metadata["lineage"] == any_model.metadata["lineage"]


def test_directory_and_zip_have_the_same_digest(binary: Model, tmp_path: Path) -> None:
    a = binary.save(tmp_path / "dir")
    b = binary.save(tmp_path / "model.zip")
    c = binary.save(tmp_path / "enc", encrypt=True, key=KEY)
    assert a.digest == b.digest == c.digest
    assert binary.calibration is not None
    loaded = load_model(tmp_path / "model.zip")
    assert loaded.calibration is not None
    assert loaded.calibration.method == "platt"


def test_save_refuses_to_overwrite(binary: Model, tmp_path: Path) -> None:
    binary.save(tmp_path / "m")
    with pytest.raises(ArtifactError, match="exists"):
        binary.save(tmp_path / "m")
    binary.save(tmp_path / "m", overwrite=True)


# -- tampering ----------------------------------------------------------------------------


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["model.json", "arrays.npz", "run.json"])
def test_tampered_file_is_refused_naming_it(binary: Model, tmp_path: Path, name: str) -> None:
    artifact = tmp_path / "m"
    binary.save(artifact, extra_files={"run.json": b'{"seconds": 1}'})
    _flip(artifact / name, 25)
    with pytest.raises(ChecksumMismatch, match=re.escape(name)) as info:
        load_model(artifact)
    assert info.value.path == str(artifact / name)


def test_truncated_file_is_refused(binary: Model, tmp_path: Path) -> None:
    artifact = tmp_path / "m"
    binary.save(artifact)
    data = (artifact / "arrays.npz").read_bytes()
    (artifact / "arrays.npz").write_bytes(data[:-10])
    with pytest.raises(ChecksumMismatch, match=r"arrays\.npz"):
        load_model(artifact)


def _reseal(artifact: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``artifact`` and recompute MANIFEST.json as an attacker would."""
    manifest = json.loads((artifact / "MANIFEST.json").read_text(encoding="utf-8"))
    for name, data in files.items():
        (artifact / name).write_bytes(data)
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    digest = hashlib.sha256()
    for name in sorted(manifest["digest_files"]):
        digest.update(f"{name}\0{manifest['files'][name]['sha256']}\n".encode())
    manifest["digest"] = digest.hexdigest()
    (artifact / "MANIFEST.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_reseal_helper_produces_a_loadable_artifact(binary: Model, tmp_path: Path) -> None:
    # the forgery below is only meaningful if an honest re-seal is accepted
    artifact = tmp_path / "m"
    binary.save(artifact)
    model = json.loads((artifact / "model.json").read_text(encoding="utf-8"))
    model["name"] = "renamed"
    _reseal(artifact, {"model.json": json.dumps(model).encode()})
    assert load_model(artifact).name == "renamed"


def test_unknown_model_format_version_is_refused(binary: Model, tmp_path: Path) -> None:
    artifact = tmp_path / "m"
    binary.save(artifact)
    model = json.loads((artifact / "model.json").read_text(encoding="utf-8"))
    model["format_version"] = MODEL_FORMAT_VERSION + 1
    _reseal(artifact, {"model.json": json.dumps(model).encode()})
    with pytest.raises(UnsupportedFormatVersion, match="format version") as info:
        load_model(artifact)
    assert info.value.path == "model.json"


def test_unknown_model_format_version_through_the_public_writer(
    binary: Model, tmp_path: Path
) -> None:
    binary.save(tmp_path / "m")
    loaded = read_artifact(tmp_path / "m")
    forged = dict(loaded.model, format_version=99)
    write_artifact(tmp_path / "forged", forged, loaded.arrays)
    with pytest.raises(UnsupportedFormatVersion, match="99"):
        load_model(tmp_path / "forged")


def test_unknown_artifact_format_version_is_refused(binary: Model, tmp_path: Path) -> None:
    artifact = tmp_path / "m"
    binary.save(artifact)
    manifest = json.loads((artifact / "MANIFEST.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 99
    (artifact / "MANIFEST.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(UnsupportedFormatVersion, match="99") as info:
        load_model(artifact)
    assert info.value.path.endswith("MANIFEST.json")


class _Payload:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _pickled_npy(marker: Path) -> bytes:
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = _Payload(marker), 1.0
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    return buf.getvalue()


def test_the_pickle_payload_is_live(tmp_path: Path) -> None:
    # control: the payload really runs when something unpickles it
    marker = tmp_path / "ran"
    np.lib.format.read_array(io.BytesIO(_pickled_npy(marker)), allow_pickle=True)
    assert marker.exists()


def test_pickle_payload_in_arrays_is_never_executed(binary: Model, tmp_path: Path) -> None:
    artifact = tmp_path / "m"
    binary.save(artifact)
    marker = tmp_path / "pwned"
    original = (artifact / "arrays.npz").read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            if info.filename == "coef.npy":
                dst.writestr("coef.npy", _pickled_npy(marker))
            else:
                dst.writestr(info, src.read(info))
    _reseal(artifact, {"arrays.npz": buf.getvalue()})
    with pytest.raises(ArtifactError, match=r"arrays\.npz") as info:
        load_model(artifact)
    assert info.value.path.endswith("arrays.npz")
    assert not marker.exists()


# -- encryption ---------------------------------------------------------------------------


def test_encrypted_artifact_needs_the_right_key(
    binary: Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact = tmp_path / "enc"
    binary.save(artifact, encrypt=True, key=KEY)
    assert b"churned" not in (artifact / "model.json").read_bytes()
    loaded = load_model(artifact, key=KEY)
    np.testing.assert_array_equal(loaded.predict_proba(RECORDS), binary.predict_proba(RECORDS))
    with pytest.raises(DecryptionError, match=KEY_ENV_VAR):
        load_model(artifact)
    with pytest.raises(DecryptionError, match="wrong key"):
        load_model(artifact, key=OTHER_KEY)
    with pytest.raises(DecryptionError, match="32 bytes"):
        load_model(artifact, key="short")
    monkeypatch.setenv(KEY_ENV_VAR, KEY.hex())
    assert load_model(artifact).digest == loaded.digest
    monkeypatch.setenv(KEY_ENV_VAR, OTHER_KEY.hex())
    with pytest.raises(DecryptionError, match="wrong key"):
        load_model(artifact)


def test_encrypted_save_without_key_is_refused(binary: Model, tmp_path: Path) -> None:
    with pytest.raises(DecryptionError):
        binary.save(tmp_path / "enc", encrypt=True)
    assert not (tmp_path / "enc").exists()


# -- explain ------------------------------------------------------------------------------


def test_explain_adds_up_to_the_decision(any_model: Model) -> None:
    frame = pd.DataFrame(RECORDS)
    for data in (RECORDS, frame):
        out = any_model.explain(data)
        decision = any_model.decision_function(data)
        assert out["features"] == ["x1", "x2", "city"]
        contrib, base = out["contributions"], out["base"]
        if any_model.task == "multinomial":
            assert contrib.shape == (len(RECORDS), 3, 3)
            total = contrib.sum(axis=2) + base
        else:
            assert contrib.shape == (len(RECORDS), 3)
            assert base.shape == (1,)
            total = contrib.sum(axis=1) + base[0]
        np.testing.assert_allclose(total, decision, rtol=0, atol=1e-10)
        np.testing.assert_allclose(out["decision"], decision, rtol=0, atol=1e-10)


# -- inputs -------------------------------------------------------------------------------


def test_every_input_shape_gives_the_same_predictions(any_model: Model) -> None:
    columns = {k: [r[k] for r in RECORDS] for k in RECORDS[0]}
    table = pa.table(
        {
            "x1": pa.array(columns["x1"], pa.float64()),
            "x2": pa.array(columns["x2"], pa.float64()),
            "city": pa.array(columns["city"], pa.string()),
        }
    )
    expected = any_model.decision_function(RECORDS)
    features = any_model.transform(RECORDS)
    for data in (pd.DataFrame(RECORDS), pl.DataFrame(RECORDS), table, columns):
        # the record and batch paths build bit-identical features ...
        np.testing.assert_array_equal(any_model.transform(data), features)
        # ... and sum the linear score in a different order
        np.testing.assert_allclose(any_model.decision_function(data), expected, rtol=0, atol=1e-12)
        if any_model.task == "regression":
            np.testing.assert_allclose(any_model.predict(data), expected, rtol=0, atol=1e-12)
        else:
            assert any_model.predict(data).tolist() == any_model.predict(RECORDS).tolist()
    single = any_model.predict(RECORDS[0])
    assert len(single) == 1
    assert single.tolist() == any_model.predict(RECORDS[:1]).tolist()


def test_extra_fields_in_records_are_ignored(binary: Model) -> None:
    noisy = [dict(r, unused="x") for r in RECORDS]
    np.testing.assert_array_equal(
        binary.decision_function(noisy), binary.decision_function(RECORDS)
    )


@pytest.mark.parametrize(
    ("bad", "field", "problem"),
    [
        ({"x1": 1.0, "city": "paris"}, "x2", "missing"),
        ({"x1": "abc", "x2": 1.0, "city": "paris"}, "x1", "wrong type"),
        ({"x1": float("inf"), "x2": 1.0, "city": "paris"}, "x1", "finite"),
    ],
    ids=["missing", "text", "inf"],
)
def test_bad_record_names_field_and_index(
    binary: Model, bad: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        binary.predict([RECORDS[0], RECORDS[2], bad])
    err = info.value
    assert err.field == f"[2].{field}"
    assert "Record 2" in str(err)
    assert repr(field) in str(err)
    assert problem in str(err)


def test_bad_single_record_names_the_field(binary: Model) -> None:
    with pytest.raises(InvalidInputError) as info:
        binary.predict({"x1": 1.0, "city": "paris"})
    assert info.value.field.endswith("x2")
    assert "'x2'" in str(info.value)


def test_records_from_a_dataframe_score_like_the_dataframe(binary: Model) -> None:
    frame = pd.DataFrame(RECORDS)
    as_records = [{k: (None if v is None or v != v else v) for k, v in r.items()} for r in
                  frame.to_dict("records")]  # fmt: skip
    np.testing.assert_allclose(
        binary.decision_function(as_records), binary.decision_function(frame), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize(
    ("value", "same_as"),
    [(np.int64(1), 1.0), (np.float32(0.5), 0.5), (np.float64(0.25), 0.25), (2, 2.0)],
    ids=["int64", "float32", "float64", "int"],
)
def test_record_numbers_of_any_numeric_type(binary: Model, value: Any, same_as: Any) -> None:
    record = {"x1": value, "x2": 0.0, "city": "paris"}
    expected = binary.decision_function({"x1": same_as, "x2": 0.0, "city": "paris"})
    np.testing.assert_allclose(binary.decision_function(pd.DataFrame([record])), expected)
    np.testing.assert_array_equal(binary.decision_function(record), expected)


def test_nan_in_a_record_is_missing_like_in_a_frame(binary: Model) -> None:
    record = {"x1": float("nan"), "x2": 0.0, "city": "paris"}
    expected = binary.decision_function({"x1": None, "x2": 0.0, "city": "paris"})
    np.testing.assert_allclose(binary.decision_function(pd.DataFrame([record])), expected)
    np.testing.assert_allclose(binary.decision_function(record), expected)


def test_predict_proba_is_for_classifiers(regression: Model) -> None:
    with pytest.raises(InvalidInputError, match="regression") as info:
        regression.predict_proba(RECORDS)
    assert info.value.field == "task"


# -- validate -----------------------------------------------------------------------------


def _clean_records(model: Model) -> list[dict[str, Any]]:
    schema = model.preprocessor.schema
    mid = {c.name: c.quantiles[3] for c in schema.columns if c.quantiles is not None}
    cats = schema["city"].categories or ()
    return [{"x1": mid["x1"], "x2": mid["x2"], "city": c} for c in cats] + [
        {"x1": None, "x2": mid["x2"], "city": None}
    ]


def test_validate_clean_data_has_no_violations(binary: Model) -> None:
    clean = _clean_records(binary)
    assert binary.validate(clean) == []
    assert binary.validate(pd.DataFrame(clean)) == []


def test_validate_lists_unseen_category_and_out_of_range(binary: Model) -> None:
    schema = binary.preprocessor.schema
    clean = _clean_records(binary)
    bad = [*clean, dict(clean[0], city="tokyo"), dict(clean[0], x2=schema["x2"].maximum + 100)]
    violations = {(v.column, v.kind): v for v in binary.validate(bad)}
    assert set(violations) == {("city", "unseen_category"), ("x2", "out_of_range")}
    assert violations["city", "unseen_category"].example == "tokyo"
    assert violations["city", "unseen_category"].n_rows == 1
    assert violations["x2", "out_of_range"].example == schema["x2"].maximum + 100


def test_validate_lists_missing_and_unexpected_columns(binary: Model) -> None:
    frame = pd.DataFrame(_clean_records(binary)).drop(columns=["x2"]).assign(extra=1)
    kinds = {(v.column, v.kind) for v in binary.validate(frame)}
    assert kinds == {("x2", "missing_column"), ("extra", "unexpected_column")}
    assert binary.validate(frame, allow_extra=True)[0].kind == "missing_column"


# -- threshold ----------------------------------------------------------------------------


def test_binary_predict_uses_the_threshold_strictly(binary: Model) -> None:
    assert binary.classes is not None
    negative, positive = binary.classes
    assert positive == "churned"
    p = binary.predict_proba(RECORDS)[:, 1]
    at = dataclasses.replace(binary, threshold=float(p[0]))
    below = dataclasses.replace(binary, threshold=float(np.nextafter(p[0], -np.inf)))
    assert at.predict(RECORDS[0]).tolist() == [negative]  # p == threshold: not above
    assert below.predict(RECORDS[0]).tolist() == [positive]
    cut = dataclasses.replace(binary, threshold=0.5).labels_from_proba(
        np.array([[0.5, 0.5], [0.4999, 0.5001], [0.9, 0.1]])
    )
    assert cut.tolist() == [negative, positive, negative]


def test_label_indices_are_the_one_threshold_rule(binary: Model, multinomial: Model) -> None:
    proba = np.array([[0.5, 0.5], [0.4999, 0.5001], [0.9, 0.1]])
    cut = dataclasses.replace(binary, threshold=0.5)
    assert cut.label_indices(proba).tolist() == [0, 1, 0]
    assert dataclasses.replace(binary, threshold=0.05).label_indices(proba).tolist() == [1, 1, 1]
    assert dataclasses.replace(binary, threshold=None).label_indices(proba).tolist() == [0, 1, 0]
    three = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    assert multinomial.label_indices(three).tolist() == [1, 0]
    assert multinomial.classes is not None
    assert multinomial.labels_from_proba(three).tolist() == [
        multinomial.classes[1],
        multinomial.classes[0],
    ]


def test_proba_from_decision_takes_the_serving_paths_n_by_1_scores(binary: Model) -> None:
    decision = binary.decision_function(RECORDS)
    np.testing.assert_array_equal(
        binary.proba_from_decision(decision[:, None]), binary.proba_from_decision(decision)
    )
    np.testing.assert_array_equal(
        binary.proba_from_decision(decision[:1, None]), binary.predict_proba(RECORDS[0])
    )


def test_binary_predict_matches_proba_and_threshold(binary: Model) -> None:
    assert binary.threshold is not None and 0.0 < binary.threshold < 1.0
    table = _table("binary", n=200, seed=11).drop_columns(["y"])
    p = binary.predict_proba(table)[:, 1]
    labels = binary.predict(table)
    assert labels.tolist() == np.where(p > binary.threshold, "churned", "stayed").tolist()


def test_content_digest_is_the_saved_digest(any_model: Model, tmp_path: Path) -> None:
    """The report and card quote the digest before the artifact exists: it must match."""
    info = any_model.save(tmp_path / "m", extra_files={"report.html": b"<html></html>"})
    assert any_model.content_digest() == info.digest == load_model(tmp_path / "m").digest


# -- score_table and check_scores ------------------------------------------------------


def test_score_table_scores_what_decision_function_scores(any_model: Model) -> None:
    table = _table(any_model.task, n=50, seed=3).drop_columns(["y"])
    scored = any_model.score_table(table)
    assert scored.blocking == [] and scored.decision is not None
    expected = any_model.decision_function(table)
    np.testing.assert_allclose(scored.decision.reshape(expected.shape), expected, rtol=1e-12)


def test_score_table_blocks_on_the_pipelines_rule_and_on_refused_kinds(binary: Model) -> None:
    table = _table("binary", n=20, seed=4).drop_columns(["y"])
    missing = binary.score_table(table.drop_columns(["x2"]))
    assert missing.decision is None
    assert [v.kind for v in missing.blocking] == ["missing_column"]
    extra = table.append_column("extra", pa.array(range(20)))
    counted = binary.score_table(extra)
    assert counted.decision is not None and counted.blocking == []
    refused = binary.score_table(extra, refuse=("unexpected_column",))
    assert refused.decision is None
    assert [(v.column, v.kind) for v in refused.blocking] == [("extra", "unexpected_column")]
    schema = binary.preprocessor.schema
    assert schema["x2"].maximum is not None
    far = table.set_column(1, "x2", pa.array([schema["x2"].maximum + 100.0] * 20))
    assert [v.kind for v in binary.score_table(far).counted] == ["out_of_range"]
    blocked = binary.score_table(far, refuse=("out_of_range",))
    assert blocked.decision is None and blocked.counted == []


def test_check_scores_refuses_rows_whose_score_overflows() -> None:
    Model.check_scores(np.array([[1.0], [-2.0]]))
    decision = np.array([[1.0, 2.0], [np.inf, 0.0], [3.0, np.nan], [np.nan, np.nan]])
    with pytest.raises(ScoreOverflowError, match=r"3 row\(s\) of f.csv .* first at row 11") as info:
        Model.check_scores(decision, first_row=10, source="f.csv")
    assert info.value.rows == [11, 12, 13]
    assert info.value.violations[0]["kind"] == "out_of_range"
    assert isinstance(info.value, InvalidInputError)
    with pytest.raises(ScoreOverflowError) as info:
        Model.check_scores(decision, scored=np.array([True, True, False, False]))
    assert info.value.rows == [1]
    Model.check_scores(decision, scored=np.array([True, False, False, False]))
