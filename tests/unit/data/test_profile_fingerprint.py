"""The reference profile for drift checks, and the content fingerprint of a table."""

from __future__ import annotations

import decimal
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from glmops.data import build_profile, coerce_table, infer_schema, read_table, score_profile
from glmops.data.fingerprint import table_fingerprint
from glmops.data.profile import OTHER, bin_shares

# ----------------------------------------------------------------------------------
# profile
# ----------------------------------------------------------------------------------


def _table(n: int = 120, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 2.0, n).round(2)
    cities = rng.choice(
        ["paris", "rome", "oslo", "lima", "kyiv", "baku"], n, p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05]
    )
    return pa.table(
        {
            "x": pa.array([None if i % 7 == 3 else float(v) for i, v in enumerate(x)]),
            "k": pa.array([int(v) % 4 for v in range(n)]),
            "flag": pa.array([None if i % 10 == 0 else bool(i % 3) for i in range(n)]),
            "city": pa.array([None if i % 11 == 5 else str(c) for i, c in enumerate(cities)]),
        }
    )


def _profile(table: pa.Table, **kwargs: Any) -> dict[str, Any]:
    schema = infer_schema(table)
    return build_profile(coerce_table(table, schema), schema, **kwargs)


@pytest.mark.parametrize("weighted", [False, True])
def test_shares_sum_to_one_per_feature(weighted: bool) -> None:
    table = _table()
    w = np.random.default_rng(1).uniform(0.1, 3.0, table.num_rows) if weighted else None
    profile = _profile(table, sample_weight=w, n_bins=5, max_categories=3)
    assert profile["n_rows"] == table.num_rows
    assert set(profile["features"]) == {"x", "k", "flag", "city"}
    for name, feature in profile["features"].items():
        assert sum(feature["shares"]) == pytest.approx(1.0, abs=1e-12), name
        assert all(s >= 0 for s in feature["shares"])
        if feature["kind"] != "categorical":
            assert len(feature["shares"]) == len(feature["edges"]) + 1
            assert feature["edges"] == sorted(set(feature["edges"]))


def test_numeric_bins_match_a_direct_count() -> None:
    table = _table()
    w = np.random.default_rng(2).uniform(0.1, 3.0, table.num_rows)
    feature = _profile(table, sample_weight=w, n_bins=4)["features"]["x"]
    x = np.array(table.column("x").to_pylist(), dtype=float)
    present = ~np.isnan(x)
    bounds = [-np.inf, *feature["edges"], np.inf]
    expected = [
        w[present & (x > lo) & (x <= hi)].sum() / w[present].sum()
        for lo, hi in itertools.pairwise(bounds)
    ]
    np.testing.assert_allclose(feature["shares"], expected, rtol=1e-12)
    levels = np.linspace(0, 1, 5)[1:-1]
    weighted_q = np.quantile(x[present], levels, weights=w[present], method="inverted_cdf")
    np.testing.assert_array_equal(feature["edges"], np.unique(weighted_q))
    assert feature["mean"] == pytest.approx(np.average(x[present], weights=w[present]), rel=1e-12)


def test_missing_rates_plain_and_weighted() -> None:
    table = _table()
    x_null = np.array([v is None for v in table.column("x").to_pylist()])
    c_null = np.array([v is None for v in table.column("city").to_pylist()])
    plain = _profile(table)["features"]
    assert plain["x"]["missing_rate"] == pytest.approx(x_null.mean(), abs=1e-15)
    assert plain["city"]["missing_rate"] == pytest.approx(c_null.mean(), abs=1e-15)
    assert plain["k"]["missing_rate"] == 0.0
    w = np.random.default_rng(3).uniform(0.1, 3.0, table.num_rows)
    weighted = _profile(table, sample_weight=w)["features"]
    assert weighted["x"]["missing_rate"] == pytest.approx(w[x_null].sum() / w.sum(), rel=1e-12)
    assert weighted["city"]["missing_rate"] == pytest.approx(w[c_null].sum() / w.sum(), rel=1e-12)


def test_weighted_category_shares() -> None:
    table = pa.table({"c": pa.array(["a", "b", "a", None, "c", "b"])})
    w = np.array([1.0, 2.0, 3.0, 10.0, 4.0, 0.5])
    feature = _profile(table, sample_weight=w)["features"]["c"]
    total = 1.0 + 2.0 + 3.0 + 4.0 + 0.5
    assert dict(zip(feature["categories"], feature["shares"], strict=True)) == pytest.approx(
        {"a": 4.0 / total, "c": 4.0 / total, "b": 2.5 / total}, rel=1e-12
    )
    assert feature["categories"] == ["a", "c", "b"]  # by weight, ties by name
    assert feature["missing_rate"] == pytest.approx(10.0 / 20.5, rel=1e-12)


def test_categories_beyond_max_categories_collapse_into_other() -> None:
    values = ["a"] * 5 + ["b"] * 4 + ["c"] * 4 + ["d"] * 2 + ["e"] + [None] * 3
    feature = _profile(pa.table({"c": pa.array(values)}), max_categories=2)["features"]["c"]
    assert feature["categories"] == ["a", "b", OTHER]  # b before c: ties go by name
    np.testing.assert_allclose(feature["shares"], [5 / 16, 4 / 16, 7 / 16], rtol=1e-15)
    full = _profile(pa.table({"c": pa.array(values)}), max_categories=50)["features"]["c"]
    assert OTHER not in full["categories"]
    assert full["categories"] == ["a", "b", "c", "d", "e"]


def test_integer_weights_equal_repeated_rows() -> None:
    table = _table(n=60, seed=4)
    reps = np.random.default_rng(5).integers(1, 4, table.num_rows)
    repeated = table.take(np.repeat(np.arange(table.num_rows), reps))
    weighted = _profile(table, sample_weight=reps.astype(float), n_bins=6, max_categories=3)
    plain = _profile(repeated, n_bins=6, max_categories=3)
    for name, feature in weighted["features"].items():
        other = plain["features"][name]
        assert feature.keys() == other.keys()
        for key, value in feature.items():
            if key == "std":
                continue  # see test_weighted_std_is_about_the_weighted_mean
            if isinstance(value, list) and value and isinstance(value[0], float):
                np.testing.assert_allclose(value, other[key], rtol=1e-12, err_msg=f"{name}.{key}")
            elif isinstance(value, float):
                assert value == pytest.approx(other[key], rel=1e-12), f"{name}.{key}"
            else:
                assert value == other[key], f"{name}.{key}"


def test_weighted_std_is_about_the_weighted_mean() -> None:
    table = pa.table({"x": [0.0, 1.0, 2.0, 10.0]})
    w = np.array([5.0, 1.0, 1.0, 1.0])
    feature = _profile(table, sample_weight=w)["features"]["x"]
    x = np.array([0.0, 1.0, 2.0, 10.0])
    mean = np.average(x, weights=w)
    assert feature["std"] == pytest.approx(np.sqrt(np.average((x - mean) ** 2, weights=w)))


def test_profile_is_plain_json() -> None:
    profile = _profile(_table(), n_bins=4)
    assert json.loads(json.dumps(profile, allow_nan=False)) == profile


def test_score_profile() -> None:
    scores = np.random.default_rng(6).beta(2.0, 5.0, 500)
    profile = score_profile(scores, n_bins=10)
    assert len(profile["edges"]) == 9
    assert sum(profile["shares"]) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(profile["shares"], 0.1, atol=0.01)
    assert profile["mean"] == pytest.approx(scores.mean(), rel=1e-12)
    w = np.random.default_rng(7).uniform(0.5, 2.0, 500)
    weighted = score_profile(scores, sample_weight=w, n_bins=10)
    np.testing.assert_allclose(
        weighted["shares"], bin_shares(scores, np.array(weighted["edges"]), w), rtol=0
    )
    assert weighted["mean"] == pytest.approx(np.average(scores, weights=w), rel=1e-12)


def test_bin_shares_edges_are_right_closed() -> None:
    values = np.array([1.0, 2.0, 2.0, 3.0, np.nan])
    np.testing.assert_array_equal(bin_shares(values, np.array([2.0])), [0.75, 0.25])
    np.testing.assert_array_equal(bin_shares(np.array([np.nan]), np.array([1.0])), [0.0, 0.0])


# ----------------------------------------------------------------------------------
# fingerprint
# ----------------------------------------------------------------------------------


def _fp_table() -> pa.Table:
    n = 50
    return pa.table(
        {
            "i": pa.array([None if k % 9 == 2 else k * 3 - 40 for k in range(n)], pa.int64()),
            "f": pa.array([None if k % 7 == 1 else k / 3 for k in range(n)], pa.float64()),
            "s": pa.array([None if k % 5 == 0 else f"v{k % 6}é" for k in range(n)], pa.string()),
            "b": pa.array([None if k % 8 == 4 else k % 3 == 0 for k in range(n)], pa.bool_()),
        }
    )


def test_csv_and_parquet_reads_of_the_same_rows_agree(tmp_path: Path) -> None:
    table = _fp_table()
    pacsv.write_csv(table, tmp_path / "d.csv")
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=7)
    from_csv = read_table(tmp_path / "d.csv")
    from_parquet = read_table(tmp_path / "d.parquet")
    assert from_csv.schema == table.schema == from_parquet.schema.remove_metadata()
    assert table_fingerprint(from_csv) == table_fingerprint(from_parquet)
    assert table_fingerprint(from_csv) == table_fingerprint(table)


@pytest.mark.parametrize("chunk", [1, 3, 7, 49, 50])
def test_fingerprint_ignores_chunking(chunk: int) -> None:
    table = _fp_table()
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=chunk))
    assert rechunked.column("s").num_chunks == -(-table.num_rows // chunk)
    assert table_fingerprint(rechunked) == table_fingerprint(table)


def test_fingerprint_ignores_slice_offsets() -> None:
    table = _fp_table()
    sliced = table.slice(5, 20)
    rebuilt = pa.table(
        {
            name: pa.array(sliced.column(name).to_pylist(), sliced.schema.field(name).type)
            for name in sliced.column_names
        }
    )
    assert table_fingerprint(sliced) == table_fingerprint(rebuilt)


def test_fingerprint_ignores_dictionary_chunks() -> None:
    values = ["a", "b", "b", "c", None]
    chunked = pa.chunked_array(
        [pa.array(values[:2]).dictionary_encode(), pa.array(values[2:]).dictionary_encode()]
    )
    whole = pa.array(values).dictionary_encode()
    assert table_fingerprint(pa.table({"s": chunked})) == table_fingerprint(pa.table({"s": whole}))


def _with(table: pa.Table, name: str, values: list[Any]) -> pa.Table:
    index = table.column_names.index(name)
    return table.set_column(index, name, pa.array(values, table.schema.field(name).type))


def test_fingerprint_changes_with_any_value_name_type_or_order() -> None:
    table = _fp_table()
    base = table_fingerprint(table)
    changed = []
    for name in table.column_names:
        values = table.column(name).to_pylist()
        k = 3
        values[k] = {"i": 1234, "f": 0.125, "s": "other", "b": not values[k]}[name]
        changed.append(_with(table, name, values))
        nulled = table.column(name).to_pylist()
        nulled[k] = None
        changed.append(_with(table, name, nulled))
    changed.append(table.rename_columns(["i", "f", "s", "renamed"]))
    changed.append(table.select(["f", "i", "s", "b"]))
    changed.append(table.set_column(0, "i", pa.compute.cast(table.column("i"), pa.float64())))
    changed.append(table.slice(0, table.num_rows - 1))
    s_values = table.column("s").to_pylist()
    s_values[1], s_values[2] = s_values[1] + s_values[2][:1], s_values[2][1:]  # move a boundary
    changed.append(_with(table, "s", s_values))
    prints = [table_fingerprint(t) for t in changed]
    assert base not in prints
    assert len(set(prints)) == len(prints)


def test_float_null_differs_from_zero_and_nan() -> None:
    prints = {
        table_fingerprint(pa.table({"f": pa.array(v, pa.float64())}))
        for v in ([1.0, None], [1.0, 0.0], [1.0, float("nan")])
    }
    assert len(prints) == 3


def _bitmap(bits: list[int]) -> pa.Buffer:
    return pa.py_buffer(np.packbits(np.array(bits, dtype=np.uint8), bitorder="little").tobytes())


def test_fingerprint_ignores_garbage_in_null_slots() -> None:
    valid = _bitmap([1, 0, 1, 1])
    ints_clean = pa.Array.from_buffers(
        pa.int64(), 4, [valid, pa.py_buffer(np.array([5, 0, 7, 8], np.int64).tobytes())]
    )
    ints_dirty = pa.Array.from_buffers(
        pa.int64(), 4, [valid, pa.py_buffer(np.array([5, 99999, 7, 8], np.int64).tobytes())]
    )
    offsets_clean = np.array([0, 1, 1, 2, 4], np.int32)
    offsets_dirty = np.array([0, 1, 6, 7, 9], np.int32)
    str_clean = pa.Array.from_buffers(
        pa.string(), 4, [valid, pa.py_buffer(offsets_clean.tobytes()), pa.py_buffer(b"abcd")]
    )
    str_dirty = pa.Array.from_buffers(
        pa.string(), 4, [valid, pa.py_buffer(offsets_dirty.tobytes()), pa.py_buffer(b"aGRBGEbcd")]
    )
    bool_clean = pa.Array.from_buffers(pa.bool_(), 4, [valid, _bitmap([1, 0, 0, 1])])
    bool_dirty = pa.Array.from_buffers(pa.bool_(), 4, [valid, _bitmap([1, 1, 0, 1])])
    assert str_clean.to_pylist() == str_dirty.to_pylist() == ["a", None, "b", "cd"]
    assert ints_clean.to_pylist() == ints_dirty.to_pylist()
    assert bool_clean.to_pylist() == bool_dirty.to_pylist()
    clean = pa.table({"i": ints_clean, "s": str_clean, "b": bool_clean})
    dirty = pa.table({"i": ints_dirty, "s": str_dirty, "b": bool_dirty})
    assert table_fingerprint(clean) == table_fingerprint(dirty)
    tidy = pa.table(
        {"i": ints_clean.to_pylist(), "s": str_clean.to_pylist(), "b": bool_clean.to_pylist()}
    )
    assert table_fingerprint(tidy) == table_fingerprint(dirty)


def test_decimal_values_that_differ_change_the_fingerprint() -> None:
    a = pa.array([decimal.Decimal("12345678901234567.01")], pa.decimal128(19, 2))
    b = pa.array([decimal.Decimal("12345678901234567.02")], pa.decimal128(19, 2))
    assert table_fingerprint(pa.table({"d": a})) != table_fingerprint(pa.table({"d": b}))
