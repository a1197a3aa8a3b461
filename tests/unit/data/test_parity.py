"""Train/serve parity: one record, a batch and a reloaded pipeline give the same bits.

For every encoding and option combination, the single-record path
(``transform_record``), the batch path (``transform`` on a table built from
the same records) and a pipeline reloaded from JSON must produce
bit-identical features; the fused ``linear_predictor`` must equal
``transform(X) @ coef.T + intercept``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glmops.data import FeatureSpec, PreprocessingDefaults, infer_schema, resolve_feature
from glmops.data.fitting import fit_preprocessor
from glmops.data.preprocessing import Preprocessor

FEATURES = ("num", "count", "flag", "city")
_CITIES = ["paris", "rome", "oslo", "lima", "kyiv", "baku", "doha"]
_CITY_P = [0.3, 0.25, 0.15, 0.12, 0.1, 0.05, 0.03]


def _training_table(n: int = 90, seed: int = 0) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Return (feature table, continuous target, class labels) with nulls in every column."""
    rng = np.random.default_rng(seed)
    num = rng.gamma(2.0, 3.0, n) - 0.5
    count = rng.integers(0, 20, n)
    flag = rng.random(n) < 0.4
    city = rng.choice(_CITIES, n, p=_CITY_P).astype(object)
    city[3] = "solo"
    table = pa.table(
        {
            "num": pa.array([None if i % 11 == 0 else float(v) for i, v in enumerate(num)]),
            "count": pa.array([None if i % 13 == 5 else int(v) for i, v in enumerate(count)]),
            "flag": pa.array([None if i % 17 == 2 else bool(v) for i, v in enumerate(flag)]),
            "city": pa.array([None if i % 9 == 4 else str(v) for i, v in enumerate(city)]),
        }
    )
    y = num + 2.0 * flag + rng.normal(0.0, 1.0, n)
    labels = np.array(["lo", "mid", "hi"], dtype=object)[np.digitize(y, [3.0, 7.0])]
    return table, y, labels


def _folds(n: int, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(1).permutation(n)
    parts = np.array_split(order, k)
    return [
        (np.sort(np.concatenate(parts[:i] + parts[i + 1 :])), np.sort(p))
        for i, p in enumerate(parts)
    ]


# Per combination: a FeatureSpec per feature and the fit_preprocessor keywords
# ("@name" stands for a value built in _fitted: weights, folds, targets).
COMBOS: dict[str, tuple[dict[str, FeatureSpec], dict[str, Any]]] = {
    "defaults": ({}, {}),
    "clip-log1p-indicator": (
        {
            "num": FeatureSpec(
                impute="mean", missing_indicator=True, clip=(0.05, 0.95), log1p=True
            ),
            "count": FeatureSpec(impute="most_frequent", clip=(0.1, 0.9)),
            "flag": FeatureSpec(missing_indicator=True),
            "city": FeatureSpec(min_frequency=2, max_categories=4, standardize=True),
        },
        {"sample_weight": "@weights"},
    ),
    "raw": (
        {
            "num": FeatureSpec(
                impute="constant", fill_value=-1.0, missing_indicator=False, standardize=False
            ),
            "count": FeatureSpec(impute="median", missing_indicator=False, standardize=False),
            "flag": FeatureSpec(missing_indicator=False, standardize=False),
            "city": FeatureSpec(min_frequency=1, standardize=False),
        },
        {},
    ),
    "log1p-no-clip-std": (
        {
            "num": FeatureSpec(log1p=True, standardize=True),
            "count": FeatureSpec(log1p=True, clip=(0.0, 0.5), standardize=False),
            "city": FeatureSpec(min_frequency=0.1, impute="most_frequent"),
        },
        {},
    ),
    "onehot-constant-fill": (
        {"city": FeatureSpec(impute="constant", fill_value="rome", min_frequency=1)},
        {},
    ),
    "target-regression-oof": (
        {"city": FeatureSpec(encoding="target", smoothing="auto", standardize=True)},
        {"y": "@y", "folds": "@folds"},
    ),
    "target-binary": (
        {"city": FeatureSpec(encoding="target", smoothing=2.0, standardize=False)},
        {"y": "@binary", "target_kind": "binary", "positive": True, "folds": "@folds"},
    ),
    "target-multinomial": (
        {"city": FeatureSpec(encoding="target", smoothing="auto", standardize=False)},
        {"y": "@labels", "target_kind": "multinomial", "classes": ["hi", "lo", "mid"]},
    ),
    "hash-standardized": (
        {
            "city": FeatureSpec(
                encoding="hash", n_buckets=8, standardize=True, impute="most_frequent"
            )
        },
        {"sample_weight": "@weights"},
    ),
    "hash-raw-constant": (
        {"city": FeatureSpec(encoding="hash", n_buckets=3, impute="constant", fill_value="zz")},
        {},
    ),
}


@functools.cache
def _fitted(combo: str) -> tuple[Preprocessor, Preprocessor, np.ndarray, pa.Table]:
    """Return (pipeline, pipeline reloaded from JSON, training matrix, training table)."""
    specs, kw_spec = COMBOS[combo]
    table, y, labels = _training_table()
    n = table.num_rows
    values = {
        "weights": np.random.default_rng(2).uniform(0.2, 3.0, n),
        "folds": _folds(n),
        "y": y,
        "binary": y > np.median(y),
        "labels": labels,
    }
    kwargs = {
        k: values[v[1:]] if isinstance(v, str) and v.startswith("@") else v
        for k, v in kw_spec.items()
    }
    schema = infer_schema(table)
    features = {
        c.name: resolve_feature(c.name, c.kind, specs.get(c.name), PreprocessingDefaults())
        for c in schema.columns
    }
    pre, X = fit_preprocessor(table, schema, features, **kwargs)
    reloaded = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict(), allow_nan=False)))
    return pre, reloaded, X, table


_numbers = st.one_of(
    st.none(),
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, -0.5, -0.999, 1e-300, 5e-324]),
)
_cities = st.one_of(
    st.none(),
    st.sampled_from([*_CITIES, "solo"]),
    st.text(max_size=6),
)
_records = st.fixed_dictionaries(
    {
        "num": _numbers,
        "count": st.one_of(st.none(), st.integers(-50, 10**6)),
        "flag": st.one_of(st.none(), st.booleans()),
        "city": _cities,
    }
)


def _batch(records: list[dict[str, Any]]) -> pa.Table:
    """Build a table from records, letting Arrow infer each column's type."""
    return pa.table({name: pa.array([r[name] for r in records]) for name in FEATURES})


@pytest.mark.parametrize("combo", list(COMBOS))
@settings(deadline=None, max_examples=50)
@given(records=st.lists(_records, min_size=1, max_size=6))
def test_record_batch_and_reload_are_bit_identical(
    combo: str, records: list[dict[str, Any]]
) -> None:
    pre, reloaded, _, _ = _fitted(combo)
    single = np.vstack([pre.transform_record(r)[0] for r in records])
    batch = pre.transform(_batch(records))
    assert batch.shape == (len(records), pre.n_features_out)
    assert np.array_equal(single, batch), np.argwhere(single != batch)
    assert np.array_equal(reloaded.transform(_batch(records)), batch)
    again = np.vstack([reloaded.transform_record(r)[0] for r in records])
    assert np.array_equal(again, single)


@pytest.mark.parametrize("combo", list(COMBOS))
def test_reload_keeps_names_and_state(combo: str) -> None:
    pre, reloaded, _, _ = _fitted(combo)
    assert reloaded.feature_names_out == pre.feature_names_out
    assert reloaded.schema == pre.schema
    assert json.dumps(reloaded.to_dict()) == json.dumps(pre.to_dict())


@pytest.mark.parametrize("combo", [c for c in COMBOS if "oof" not in c and "binary" not in c])
def test_training_matrix_equals_transform_of_training_rows(combo: str) -> None:
    # without out-of-fold target encoding, fit's matrix is what scoring the same rows gives
    pre, _, X, table = _fitted(combo)
    assert np.array_equal(pre.transform(table), X)


@pytest.mark.parametrize("combo", list(COMBOS))
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_linear_predictor_equals_matrix_product(combo: str, n_outputs: int) -> None:
    pre, _, _, table = _fitted(combo)
    rng = np.random.default_rng(n_outputs)
    coef = rng.normal(0.0, 2.0, (n_outputs, pre.n_features_out))
    coef[:, rng.random(pre.n_features_out) < 0.3] = 0.0  # some all-zero blocks are skipped
    intercept = rng.normal(0.0, 1.0, n_outputs)
    new, _, _ = _training_table(n=40, seed=5)
    for data in (table, new):
        X = pre.transform(data)
        expected = X @ coef.T + intercept
        got = pre.linear_predictor(data, coef, intercept)
        assert got.shape == (data.num_rows, n_outputs)
        bound = 1e-12 * (np.abs(X) @ np.abs(coef).T + np.abs(intercept))
        assert np.all(np.abs(got - expected) <= bound)


@settings(deadline=None, max_examples=50)
@given(records=st.lists(_records, min_size=1, max_size=6))
def test_linear_predictor_on_random_records(records: list[dict[str, Any]]) -> None:
    pre, _, _, _ = _fitted("clip-log1p-indicator")
    coef = np.linspace(-1.0, 1.0, pre.n_features_out)
    X = np.vstack([pre.transform_record(r)[0] for r in records])
    got = pre.linear_predictor(_batch(records), coef, np.array([0.5]))
    bound = 1e-12 * (np.abs(X) @ np.abs(coef) + 0.5)
    assert np.all(np.abs(got[:, 0] - (X @ coef + 0.5)) <= bound)


def test_boolean_given_as_zero_one_integers_matches_booleans() -> None:
    pre, _, _, _ = _fitted("defaults")
    as_bool = [{"num": 1.0, "count": 3, "flag": v, "city": "rome"} for v in (True, False)]
    as_int = [{"num": 1.0, "count": 3, "flag": v, "city": "rome"} for v in (1, 0)]
    rows_bool = np.vstack([pre.transform_record(r)[0] for r in as_bool])
    rows_int = np.vstack([pre.transform_record(r)[0] for r in as_int])
    assert np.array_equal(rows_bool, rows_int)
    assert np.array_equal(pre.transform(_batch(as_int)), rows_bool)


def test_unseen_category_is_reported_by_record_and_encoded_like_batch() -> None:
    pre, _, _, _ = _fitted("clip-log1p-indicator")
    record = {"num": 2.0, "count": 4, "flag": True, "city": "atlantis"}
    row, notes = pre.transform_record(record)
    assert [(v.column, v.kind, v.example) for v in notes] == [
        ("city", "unseen_category", "atlantis")
    ]
    assert np.array_equal(row, pre.transform(_batch([record]))[0])


@pytest.mark.parametrize("encoding", ["onehot", "hash"])
def test_empty_string_fill_value_is_applied_the_same_in_fit_and_transform(
    encoding: str,
) -> None:
    table = pa.table({"c": pa.array(["a", "b", None, "a", "", "b", None], pa.string())})
    schema = infer_schema(table)
    spec = FeatureSpec(
        impute="constant", fill_value="", min_frequency=1, encoding=encoding, n_buckets=16
    )
    features = {"c": resolve_feature("c", "categorical", spec, PreprocessingDefaults())}
    pre, X = fit_preprocessor(table, schema, features)
    assert np.array_equal(pre.transform(table), X)
    assert np.array_equal(pre.transform_record({"c": None})[0], X[2])


def test_large_integers_score_the_same_in_record_and_batch() -> None:
    pre, _, _, _ = _fitted("defaults")
    record = {"num": 2**53 + 1, "count": 2**62, "flag": True, "city": "rome"}
    row, _ = pre.transform_record(record)
    assert np.array_equal(pre.transform(_batch([record]))[0], row)
