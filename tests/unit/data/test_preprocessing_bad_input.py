"""Bad input to fitting and scoring: every error names the offending field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError

from glmops.data import FeatureSpec, PreprocessingDefaults, infer_schema, resolve_feature
from glmops.data.fitting import fit_preprocessor
from glmops.data.preprocessing import MISSING, Preprocessor
from glmops.errors import InvalidInputError, SchemaValidationError


def _fit(
    table: pa.Table, specs: Mapping[str, FeatureSpec] | None = None, **kwargs: Any
) -> Preprocessor:
    schema = infer_schema(table, overrides=kwargs.pop("overrides", None))
    features = {
        c.name: resolve_feature(c.name, c.kind, (specs or {}).get(c.name), PreprocessingDefaults())
        for c in schema.columns
    }
    pre, _ = fit_preprocessor(table, schema, features, **kwargs)
    return pre


# ----------------------------------------------------------------------------------
# fitting
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("low", [-1.0, -1.5, -100.0])
def test_log1p_on_values_at_or_below_minus_one(low: float) -> None:
    table = pa.table({"x": [low, 0.0, 2.0, 5.0]})
    with pytest.raises(InvalidInputError, match="'x'") as info:
        _fit(table, {"x": FeatureSpec(log1p=True)})
    assert info.value.field == "features.x.log1p"
    assert info.value.got == low


def test_log1p_after_clipping_above_minus_one_is_fine() -> None:
    table = pa.table({"x": [-5.0] + [float(i) for i in range(30)]})
    pre = _fit(table, {"x": FeatureSpec(log1p=True, clip=(0.1, 0.9))})
    assert np.isfinite(pre.transform(pa.table({"x": [-50.0, 1e9]}))).all()


def test_log1p_on_imputed_value_at_minus_one() -> None:
    # the constant fill is below -1, so the imputed rows cannot be logged
    table = pa.table({"x": [0.5, None, 2.0]})
    spec = FeatureSpec(log1p=True, impute="constant", fill_value=-3.0)
    with pytest.raises(InvalidInputError, match="'x'") as info:
        _fit(table, {"x": spec})
    assert info.value.field == "features.x.log1p"


def test_impute_none_with_nulls_in_training() -> None:
    table = pa.table({"x": [1.0, None, 3.0], "c": ["a", "b", "a"]})
    with pytest.raises(InvalidInputError, match="'x'") as info:
        _fit(table, {"x": FeatureSpec(impute="none")})
    assert info.value.field == "x"
    assert info.value.got == 1


def test_nullable_false_with_nulls_in_training() -> None:
    table = pa.table({"x": [1.0, None, 3.0]})
    with pytest.raises(InvalidInputError, match="'x'") as info:
        _fit(table, {"x": FeatureSpec(nullable=False)})
    assert info.value.field == "x"


def test_impute_none_refuses_nulls_at_scoring() -> None:
    pre = _fit(pa.table({"x": [1.0, 2.0, 3.0]}), {"x": FeatureSpec(impute="none")})
    with pytest.raises(InvalidInputError, match="'x'") as info:
        pre.transform(pa.table({"x": [1.0, None]}))
    assert info.value.field == "x"
    with pytest.raises(SchemaValidationError) as record_info:
        pre.transform_record({"x": None})
    assert [(v["column"], v["kind"]) for v in record_info.value.violations] == [("x", "null")]


@pytest.mark.parametrize("fill_value", ["abc", "1,5"])
def test_constant_fill_value_that_is_not_a_number(fill_value: str) -> None:
    table = pa.table({"x": [1.0, None, 3.0]})
    spec = FeatureSpec(impute="constant", fill_value=fill_value)
    with pytest.raises(InvalidInputError, match="'x'") as info:
        _fit(table, {"x": spec})
    assert info.value.field == "features.x.fill_value"
    assert info.value.got == fill_value


def test_constant_without_fill_value_is_a_spec_error() -> None:
    with pytest.raises(ValidationError, match="fill_value"):
        FeatureSpec(impute="constant")


def test_target_encoding_without_y() -> None:
    table = pa.table({"c": ["a", "b", "a", "c"]})
    with pytest.raises(InvalidInputError, match="'c'") as info:
        _fit(table, {"c": FeatureSpec(encoding="target")})
    assert info.value.field == "features.c.encoding"


def test_multinomial_target_encoding_without_classes() -> None:
    table = pa.table({"c": ["a", "b", "a", "c"]})
    with pytest.raises(InvalidInputError, match="class") as info:
        _fit(
            table,
            {"c": FeatureSpec(encoding="target")},
            y=np.array(["u", "v", "w", "u"]),
            target_kind="multinomial",
        )
    assert info.value.field == "classes"


@pytest.mark.parametrize("encoding", ["onehot", "target", "hash"])
def test_reserved_missing_value_in_training(encoding: str) -> None:
    table = pa.table({"c": ["a", MISSING, "b", None, "a"]})
    with pytest.raises(InvalidInputError, match=MISSING) as info:
        _fit(table, {"c": FeatureSpec(encoding=encoding)}, y=np.arange(5.0))
    assert info.value.field == "c"


def test_reserved_missing_value_without_nulls_in_training() -> None:
    table = pa.table({"c": ["a", MISSING, "b", "a"]})
    with pytest.raises(InvalidInputError, match=MISSING) as info:
        _fit(table, {"c": FeatureSpec(min_frequency=1)})
    assert info.value.field == "c"


def test_wrong_type_column_in_training() -> None:
    schema = infer_schema(pa.table({"x": [1.0, 2.0]}))
    features = {"x": resolve_feature("x", "numeric", None, PreprocessingDefaults())}
    with pytest.raises(SchemaValidationError, match="'x'") as info:
        fit_preprocessor(pa.table({"x": ["1", "oops"]}), schema, features)
    assert [(v["column"], v["kind"], v["example"]) for v in info.value.violations] == [
        ("x", "wrong_type", "oops")
    ]


def test_all_null_feature_in_training() -> None:
    schema = infer_schema(pa.table({"x": [1.0, 2.0]}))
    features = {"x": resolve_feature("x", "numeric", None, PreprocessingDefaults())}
    with pytest.raises(InvalidInputError, match="'x'") as info:
        fit_preprocessor(pa.table({"x": pa.array([None, None], pa.float64())}), schema, features)
    assert info.value.field == "x"


# ----------------------------------------------------------------------------------
# scoring one record
# ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pre() -> Preprocessor:
    table = pa.table(
        {
            "x": [1.0, 2.0, None, 4.0, 5.0, 6.0],
            "c": ["a", "b", "a", "b", "a", None],
            "f": [True, False, True, False, True, True],
        }
    )
    return _fit(table, {"c": FeatureSpec(min_frequency=1)}, overrides={"f": {"nullable": False}})


_GOOD = {"x": 1.5, "c": "a", "f": True}


def _violations(pre: Preprocessor, record: Mapping[str, Any], **kw: Any) -> list[tuple[str, str]]:
    with pytest.raises(SchemaValidationError) as info:
        pre.transform_record(record, **kw)
    err = info.value
    assert isinstance(err, InvalidInputError)
    assert err.field == err.violations[0]["column"]
    for v in err.violations:
        assert repr(v["column"]) in str(err)
    return [(v["column"], v["kind"]) for v in err.violations]


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("x", "1.5", "wrong_type"),
        ("x", "abc", "wrong_type"),
        ("x", {"a": 1}, "wrong_type"),
        ("x", [1.0], "wrong_type"),
        ("x", math.inf, "wrong_type"),
        ("x", -math.inf, "wrong_type"),
        ("x", True, "wrong_type"),
        ("x", False, "wrong_type"),
        ("c", {"a": 1}, "wrong_type"),
        ("c", 1.5, "wrong_type"),
        ("c", ["a"], "wrong_type"),
        ("f", "yes", "wrong_type"),
        ("f", 2, "wrong_type"),
        pytest.param(
            "f",
            0.5,
            "wrong_type",
        ),
        ("f", "true", "wrong_type"),
        ("f", None, "null"),
    ],
    ids=repr,
)
def test_bad_field_value_is_named(pre: Preprocessor, field: str, value: Any, kind: str) -> None:
    assert _violations(pre, {**_GOOD, field: value}) == [(field, kind)]


def test_integer_too_large_for_a_float_is_named(pre: Preprocessor) -> None:
    assert _violations(pre, {**_GOOD, "x": 10**400}) == [("x", "wrong_type")]


def test_nan_in_a_record_is_missing_like_none(pre: Preprocessor) -> None:
    # a frame imputes NaN; a record must do the same (not refuse it)
    for nan in (math.nan, np.nan, np.float32("nan")):
        row_nan, _ = pre.transform_record({**_GOOD, "x": nan})
        row_none, _ = pre.transform_record({**_GOOD, "x": None})
        assert np.array_equal(row_nan, row_none)


def test_inf_example_is_json_safe_text(pre: Preprocessor) -> None:
    for value, text in ((math.inf, "inf"), (-math.inf, "-inf")):
        with pytest.raises(SchemaValidationError) as info:
            pre.transform_record({**_GOOD, "x": value})
        assert info.value.violations[0]["example"] == text


def test_missing_field_is_named(pre: Preprocessor) -> None:
    record = {k: v for k, v in _GOOD.items() if k != "c"}
    assert _violations(pre, record) == [("c", "missing_column")]


def test_unexpected_field_only_when_extra_is_not_allowed(pre: Preprocessor) -> None:
    record = {**_GOOD, "zzz": 1}
    row, notes = pre.transform_record(record)
    assert notes == []
    assert np.array_equal(row, pre.transform_record(_GOOD)[0])
    assert _violations(pre, record, allow_extra=False) == [("zzz", "unexpected_column")]


def test_all_bad_fields_are_reported_at_once(pre: Preprocessor) -> None:
    record = {"x": "abc", "f": None, "extra": 0}
    assert sorted(_violations(pre, record, allow_extra=False)) == [
        ("c", "missing_column"),
        ("extra", "unexpected_column"),
        ("f", "null"),
        ("x", "wrong_type"),
    ]


def test_nulls_are_imputed_not_refused(pre: Preprocessor) -> None:
    row, notes = pre.transform_record({"x": None, "c": None, "f": True})
    assert np.isfinite(row).all()
    assert notes == []


# ----------------------------------------------------------------------------------
# scoring a batch
# ----------------------------------------------------------------------------------


def test_batch_missing_and_wrong_type_columns_are_all_named(pre: Preprocessor) -> None:
    table = pa.table({"x": ["1", "no"], "f": [True, False]})
    with pytest.raises(SchemaValidationError) as info:
        pre.transform(table)
    assert sorted((v["column"], v["kind"]) for v in info.value.violations) == [
        ("c", "missing_column"),
        ("x", "wrong_type"),
    ]
    with pytest.raises(SchemaValidationError):
        pre.linear_predictor(table, np.ones(pre.n_features_out), np.zeros(1))


def test_batch_null_in_non_nullable_column_is_named(pre: Preprocessor) -> None:
    table = pa.table({"x": [1.0, 2.0], "c": ["a", "b"], "f": pa.array([None, True], pa.bool_())})
    with pytest.raises(SchemaValidationError, match="'f'") as info:
        pre.transform(table)
    assert info.value.violations == [
        {
            "column": "f",
            "kind": "null",
            "expected": "a value (not nullable)",
            "n_rows": 1,
            "example": None,
        }
    ]
    assert info.value.field == "f"


def test_batch_unseen_and_out_of_range_are_encoded_not_refused(pre: Preprocessor) -> None:
    table = pa.table({"x": [1e6, -5.0], "c": ["zz", None], "f": [True, False]})
    X = pre.transform(table)
    assert np.isfinite(X).all()
    kinds = {v.kind for v in pre.coerce(table).violations}
    assert kinds == {"unseen_category", "out_of_range"}
