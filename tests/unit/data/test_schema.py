"""The feature manifest: inference from Arrow types and every violation of a frame."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from glmops.data import read_table
from glmops.data.schema import (
    QUANTILE_LEVELS,
    VIOLATION_KINDS,
    ColumnSchema,
    Schema,
    Violation,
    coerce_table,
    infer_column,
    infer_schema,
    kind_of_type,
)
from glmops.errors import InvalidInputError, SchemaValidationError

# ----------------------------------------------------------------------------------
# inference
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "kind"),
    [
        (pa.array([1, 2, None], pa.int8()), "numeric"),
        (pa.array([1, 2, 3], pa.uint64()), "numeric"),
        (pa.array([1.5, None, 2.5], pa.float32()), "numeric"),
        (pa.array([1.5, 2.5], pa.float64()), "numeric"),
        (pa.array([decimal.Decimal("1.10"), decimal.Decimal("2.25")]), "numeric"),
        (pa.array([True, None, False]), "boolean"),
        (pa.array(["x", "y", None]), "categorical"),
        (pa.array(["x", "y"], pa.large_string()), "categorical"),
        (pa.array(["u", "v", "u"]).dictionary_encode(), "categorical"),
        (pa.array([1, 2, 1]).dictionary_encode(), "numeric"),
    ],
    ids=lambda v: str(v.type) if isinstance(v, pa.Array) else v,
)
def test_kind_is_inferred_from_the_arrow_type(array: pa.Array, kind: str) -> None:
    assert kind_of_type(array.type) == kind
    assert infer_schema(pa.table({"col": array}))["col"].kind == kind


def test_numeric_inference_records_range_quantiles_and_missing_rate() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 2.0, 200)
    raw: list[float | None] = [float(v) for v in values]
    for i in range(0, 200, 8):
        raw[i] = None
    col = infer_schema(pa.table({"x": pa.array(raw)}))["x"]
    present = np.array([v for v in raw if v is not None])
    assert col.kind == "numeric"
    assert col.dtype == "double"
    assert col.nullable is True
    assert col.categories is None
    assert col.minimum == present.min()
    assert col.maximum == present.max()
    assert col.missing_rate == 25 / 200
    expected = np.quantile(present, QUANTILE_LEVELS, method="inverted_cdf")
    np.testing.assert_array_equal(np.array(col.quantiles), expected)
    assert list(col.quantiles) == sorted(col.quantiles)


def test_weighted_quantiles_with_integer_weights_equal_repeated_rows() -> None:
    values = np.arange(1.0, 21.0)
    reps = np.random.default_rng(1).integers(1, 5, values.size)
    weighted = infer_column("x", pa.array(values), sample_weight=reps.astype(float))
    repeated = infer_column("x", pa.array(np.repeat(values, reps)))
    assert weighted.quantiles == repeated.quantiles


def test_categorical_inference_sorts_categories_and_counts_nulls() -> None:
    table = pa.table({"c": pa.array(["b", "a", None, "c", "a", None, "b", "a"])})
    col = infer_schema(table)["c"]
    assert col.kind == "categorical"
    assert col.categories == ("a", "b", "c")
    assert col.missing_rate == 2 / 8
    assert col.minimum is None and col.maximum is None and col.quantiles is None


def test_boolean_inference() -> None:
    col = infer_schema(pa.table({"b": pa.array([True, False, None, True])}))["b"]
    assert (col.kind, col.minimum, col.maximum, col.missing_rate) == ("boolean", 0.0, 1.0, 0.25)


def test_kind_override_turns_integer_codes_into_categories() -> None:
    table = pa.table({"zip": pa.array([75001, 10115, 75001, None]), "y": [1.0, 2.0, 3.0, 4.0]})
    schema = infer_schema(table, target="y", kinds={"zip": "categorical"})
    assert schema.names == ["zip"]
    assert schema.target == "y"
    assert schema["zip"].kind == "categorical"
    assert schema["zip"].categories == ("10115", "75001")


def test_features_order_and_overrides() -> None:
    table = pa.table({"a": [1.0, 2.0], "b": ["x", "y"], "c": [True, False]})
    schema = infer_schema(
        table,
        features=["c", "a"],
        overrides={"a": {"nullable": False, "minimum": 0.0, "maximum": 10.0}},
    )
    assert schema.names == ["c", "a"]
    assert schema["a"].nullable is False
    assert (schema["a"].minimum, schema["a"].maximum) == (0.0, 10.0)
    with pytest.raises(KeyError):
        schema["b"]


@pytest.mark.parametrize(
    "array",
    [
        pa.array([None, None, None]),
        pa.array([None, None], pa.float64()),
        pa.array([None, None], pa.string()),
        pa.array([None, None], pa.bool_()),
    ],
    ids=["null-type", "all-null-double", "all-null-string", "all-null-bool"],
)
def test_all_null_column_is_refused_by_name(array: pa.Array) -> None:
    table = pa.table({"ok": pa.array([1.0] * len(array)), "dead": array})
    with pytest.raises(InvalidInputError, match="'dead'") as info:
        infer_schema(table)
    assert info.value.field == "dead"


def test_all_nan_column_is_refused_by_name() -> None:
    table = pa.table({"dead": pa.array([float("nan")] * 3)})
    with pytest.raises(InvalidInputError, match="'dead'") as info:
        infer_schema(table)
    assert info.value.field == "dead"


@pytest.mark.parametrize(
    "array",
    [
        pa.array([dt.datetime(2020, 1, 1), dt.datetime(2021, 5, 2)]),
        pa.array([dt.date(2020, 1, 1), dt.date(2021, 5, 2)]),
        pa.array([dt.timedelta(seconds=3), dt.timedelta(seconds=4)]),
        pa.array([[1], [2]]),
        pa.array([b"a", b"b"]),
        pa.array([{"k": 1}, {"k": 2}]),
    ],
    ids=lambda a: str(a.type),
)
def test_unsupported_types_are_refused_by_name(array: pa.Array) -> None:
    with pytest.raises(InvalidInputError, match="'when'") as info:
        infer_schema(pa.table({"x": [1.0, 2.0], "when": array}))
    assert info.value.field == "when"
    assert str(array.type) in str(info.value)


def test_infinite_values_are_refused_at_inference() -> None:
    with pytest.raises(InvalidInputError, match="'x'") as info:
        infer_schema(pa.table({"x": [1.0, float("inf"), 2.0]}))
    assert info.value.field == "x"


def test_target_listed_as_feature_and_missing_feature_are_refused() -> None:
    table = pa.table({"a": [1.0, 2.0], "y": [0.0, 1.0]})
    with pytest.raises(InvalidInputError, match="'y'") as info:
        infer_schema(table, target="y", features=["a", "y"])
    assert info.value.field == "y"
    with pytest.raises(InvalidInputError, match="'nope'") as info:
        infer_schema(table, features=["a", "nope"])
    assert info.value.field == "nope"


# ----------------------------------------------------------------------------------
# coerce_table: every violation at once
# ----------------------------------------------------------------------------------


def _manifest() -> Schema:
    train = pa.table(
        {
            "amount": pa.array([0.0, 12.5, 100.0, 40.0]),
            "age": pa.array([20, 35, 61, 44]),
            "city": pa.array(["paris", "rome", "paris", "rome"]),
            "member": pa.array([True, False, True, True]),
            "income": pa.array([1.0, 2.0, 3.0, 4.0]),
            "target": pa.array([0.0, 1.0, 0.0, 1.0]),
        }
    )
    return infer_schema(train, target="target", overrides={"age": {"nullable": False}})


_BROKEN_CSV = """amount,age,city,member,extra,target
5,30,paris,true,1,0
abc,,oslo,false,2,1
500,41,rome,true,3,0
7.5,,oslo,,4,1
abc,28,lima,false,5,0
-3,50,paris,true,6,1
"""


def test_coerce_reports_every_violation_of_a_broken_csv(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(_BROKEN_CSV)
    table = read_table(path)
    assert table.schema.field("amount").type == pa.string()  # "abc" makes it text
    data = coerce_table(table, _manifest(), allow_extra=False)
    found = {(v.column, v.kind): v for v in data.violations}
    assert set(found) == {
        ("extra", "unexpected_column"),
        ("income", "missing_column"),
        ("amount", "wrong_type"),
        ("amount", "out_of_range"),
        ("age", "null"),
        ("city", "unseen_category"),
    }
    assert {v.kind for v in data.violations} == set(VIOLATION_KINDS)
    assert (found["amount", "wrong_type"].n_rows, found["amount", "wrong_type"].example) == (
        2,
        "abc",
    )
    assert (found["amount", "out_of_range"].n_rows, found["amount", "out_of_range"].example) == (
        2,
        500.0,
    )
    assert found["age", "null"].n_rows == 2
    assert (found["city", "unseen_category"].n_rows, found["city", "unseen_category"].example) == (
        3,
        "oslo",
    )
    assert found["extra", "unexpected_column"].n_rows == 0
    assert found["income", "missing_column"].n_rows == 0
    # the usable values are still converted; the bad ones become NaN
    np.testing.assert_array_equal(data.numeric["amount"], [5.0, np.nan, 500.0, 7.5, np.nan, -3.0])
    np.testing.assert_array_equal(data.numeric["member"], [1.0, 0.0, 1.0, np.nan, 0.0, 1.0])
    assert data.categorical["city"].to_pylist() == [
        "paris",
        "oslo",
        "rome",
        "oslo",
        "lima",
        "paris",
    ]
    assert "income" not in data.numeric
    assert data.n_rows == 6


def test_target_and_extra_columns_are_allowed_by_default(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(_BROKEN_CSV)
    kinds = {v.kind for v in coerce_table(read_table(path), _manifest()).violations}
    assert "unexpected_column" not in kinds
    strict = coerce_table(read_table(path), _manifest(), allow_extra=False).violations
    assert "target" not in {v.column for v in strict}


def test_raise_for_lists_the_selected_violations(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(_BROKEN_CSV)
    data = coerce_table(read_table(path), _manifest(), allow_extra=False)
    with pytest.raises(SchemaValidationError) as info:
        data.raise_for(VIOLATION_KINDS)
    err = info.value
    assert isinstance(err, InvalidInputError) and isinstance(err, ValueError)
    assert err.violations == [v.to_dict() for v in data.violations]
    assert len(err.violations) == 6
    for v in data.violations:
        assert repr(v.column) in str(err)
    assert err.field == err.violations[0]["column"]
    with pytest.raises(SchemaValidationError) as info:
        data.raise_for(["null"])
    assert info.value.violations == [
        {
            "column": "age",
            "kind": "null",
            "expected": "a value (not nullable)",
            "n_rows": 2,
            "example": None,
        }
    ]
    data.raise_for([])  # nothing selected: no error
    json.dumps(err.violations)


def test_clean_frame_has_no_violations() -> None:
    schema = _manifest()
    table = pa.table(
        {
            "amount": [1.0, 99.0],
            "age": [30, 31],
            "city": ["rome", "paris"],
            "member": [False, True],
            "income": [2.0, 3.0],
        }
    )
    assert schema.validate(table, allow_extra=False) == []


def test_wrong_types_by_column_kind() -> None:
    schema = _manifest()
    table = pa.table(
        {
            "amount": pa.array([True, False, None]),
            "age": pa.array([1, 2, 3]),
            "city": pa.array([1.5, None, 2.5]),
            "member": pa.array([0, 1, 2]),
            "income": pa.array(["1.5", " 2 ", "x"]),
        }
    )
    found = {v.column: v for v in coerce_table(table, schema).violations if v.kind == "wrong_type"}
    assert (found["amount"].n_rows, found["amount"].example) == (2, True)
    assert (found["city"].n_rows, found["city"].example) == (2, 1.5)
    assert (found["member"].n_rows, found["member"].example) == (1, 2)
    assert (found["income"].n_rows, found["income"].example) == (1, "x")
    assert "age" not in found


def test_integer_codes_for_a_categorical_column_are_their_decimal_text() -> None:
    schema = infer_schema(pa.table({"c": ["1", "2"]}))
    data = coerce_table(pa.table({"c": pa.array([1, 2, 3])}), schema)
    assert data.categorical["c"].to_pylist() == ["1", "2", "3"]
    assert [(v.kind, v.n_rows, v.example) for v in data.violations] == [("unseen_category", 1, "3")]


def test_infinite_values_are_a_wrong_type() -> None:
    schema = infer_schema(pa.table({"x": [1.0, 2.0, 3.0]}))
    data = coerce_table(pa.table({"x": [1.5, float("inf"), -float("inf"), 2.0]}), schema)
    bad = [v for v in data.violations if v.kind == "wrong_type"]
    assert [(v.column, v.n_rows) for v in bad] == [("x", 2)]


def test_infinite_value_violation_shows_an_infinite_example() -> None:
    schema = infer_schema(pa.table({"x": [1.0, 2.0, 3.0]}))
    data = coerce_table(pa.table({"x": [1.5, float("inf"), 2.0]}), schema)
    bad = [v for v in data.violations if v.kind == "wrong_type"]
    assert bad[0].example in ("inf", float("inf"))


def test_text_booleans_are_coerced() -> None:
    schema = infer_schema(pa.table({"b": [True, False]}))
    data = coerce_table(pa.table({"b": pa.array(["yes", "no", None, "TRUE", " 0 "])}), schema)
    assert data.violations == []
    np.testing.assert_array_equal(data.numeric["b"], [1.0, 0.0, np.nan, 1.0, 0.0])


def test_nan_counts_as_missing_like_null() -> None:
    schema = infer_schema(pa.table({"x": [1.0, 2.0]}), overrides={"x": {"nullable": False}})
    data = coerce_table(pa.table({"x": pa.array([1.0, float("nan")])}), schema)
    assert [(v.kind, v.n_rows) for v in data.violations] == [("null", 1)]
    col = infer_schema(pa.table({"x": pa.array([1.0, float("nan"), None, 2.0])}))["x"]
    assert col.missing_rate == 0.5


def test_large_integers_are_converted() -> None:
    table = pa.table({"id": pa.array([1, 2**53 + 1, 3])})
    col = infer_schema(table)["id"]
    assert col.maximum == float(2**53 + 1)


# ----------------------------------------------------------------------------------
# serialization
# ----------------------------------------------------------------------------------


def test_schema_round_trips_through_json() -> None:
    schema = _manifest()
    data = json.loads(json.dumps(schema.to_dict(), allow_nan=False))
    again = Schema.from_dict(data)
    assert again == schema
    assert again.to_dict() == schema.to_dict()


def test_column_schema_from_minimal_dict_uses_defaults() -> None:
    col = ColumnSchema.from_dict({"name": "c", "kind": "categorical", "dtype": "string"})
    assert col == ColumnSchema(name="c", kind="categorical", dtype="string")


def test_violation_message_names_column_problem_and_example() -> None:
    v = Violation("city", "unseen_category", "one of ['a']", 3, "oslo")
    assert v.message() == "'city': unseen category in 3 row(s) (e.g. 'oslo'); expected one of ['a']"
    assert Violation("x", "missing_column", "a numeric column").message() == (
        "'x': missing column; expected a numeric column"
    )
