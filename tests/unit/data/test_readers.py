"""Readers: files, frames and SQL into one Arrow table, columns matched by name."""

from __future__ import annotations

import gzip
import importlib.util
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from glmops.data import as_table, iter_batches, read_table
from glmops.data.readers import file_format
from glmops.errors import InvalidInputError

_CSV = "x,c,b\n1,a,true\n?,b,false\n3,NA,\nNA,?,true\n5,,false\n"


def _expected() -> pa.Table:
    return pa.table(
        {
            "x": pa.array([1, None, 3, None, 5], pa.int64()),
            "c": pa.array(["a", "b", None, None, None], pa.string()),
            "b": pa.array([True, False, None, True, False]),
        }
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------------
# files
# ----------------------------------------------------------------------------------


def test_csv_reads_question_mark_and_na_as_nulls(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path / "d.csv", _CSV))
    assert table.equals(_expected())


def test_gzipped_csv(tmp_path: Path) -> None:
    path = tmp_path / "d.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write(_CSV)
    assert read_table(path).equals(_expected())
    assert read_table(str(path), columns=["c"]).equals(_expected().select(["c"]))


def test_tsv(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path / "d.tsv", _CSV.replace(",", "\t")))
    assert table.equals(_expected())


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(_expected(), path)
    assert read_table(path).equals(_expected())
    assert read_table(str(path), columns=["b", "x"]).equals(_expected().select(["b", "x"]))


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_column_selection_keeps_the_requested_order(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d.{suffix}"
    if suffix == "csv":
        path.write_text(_CSV)
    else:
        pq.write_table(_expected(), path)
    assert read_table(path, columns=["c", "x"]).column_names == ["c", "x"]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_missing_selected_column_is_named(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d.{suffix}"
    if suffix == "csv":
        path.write_text(_CSV)
    else:
        pq.write_table(_expected(), path)
    with pytest.raises(InvalidInputError, match="'nope'") as info:
        read_table(path, columns=["x", "nope"])
    assert info.value.field == "nope"
    with pytest.raises(InvalidInputError, match="'nope'") as info:
        list(iter_batches(path, columns=["nope"]))
    assert info.value.field == "nope"


def test_column_types_for_csv(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "zip,v\n01234,1\n75001,2\n")
    table = read_table(path, column_types={"zip": pa.string()})
    assert table.column("zip").to_pylist() == ["01234", "75001"]
    assert table.schema.field("v").type == pa.int64()


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.csv", "")
    with pytest.raises(InvalidInputError, match="empty") as info:
        read_table(path)
    assert info.value.field == "path"


@pytest.mark.parametrize(
    "text", ["\n", "a,b\n1,2\n3,4,5\n"], ids=["blank-line", "ragged-row-in-first-block"]
)
def test_unparsable_csv_start_is_refused(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(InvalidInputError) as info:
        read_table(path)
    assert info.value.field == "path"


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "header.csv", "a,b\n")
    with pytest.raises(InvalidInputError, match="no rows") as info:
        read_table(path)
    assert info.value.field == "data"
    assert list(iter_batches(path)) == []


def test_header_only_parquet_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pq.write_table(_expected().slice(0, 0), path)
    with pytest.raises(InvalidInputError, match="no rows"):
        read_table(path)


@pytest.mark.parametrize("suffix", ["csv", "tsv"])
def test_duplicate_csv_header_is_named(tmp_path: Path, suffix: str) -> None:
    sep = "," if suffix == "csv" else "\t"
    path = _write(
        tmp_path / f"dup.{suffix}", sep.join(["a", "b", "a"]) + "\n1" + sep + "2" + sep + "3\n"
    )
    with pytest.raises(InvalidInputError, match="'a'") as info:
        read_table(path)
    assert info.value.field == "a"
    with pytest.raises(InvalidInputError, match="'a'"):
        list(iter_batches(path))


def test_duplicate_parquet_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["k", "k"]), path)
    with pytest.raises(InvalidInputError, match="'k'") as info:
        read_table(path)
    assert info.value.field == "k"


@pytest.mark.parametrize(
    ("header", "wanted"),
    [("id,007\n1,2\n", ["007"]), ("id,true\n1,0\n", ["true"]), ("1,01\n5,6\n", ["01"])],
    ids=["leading-zero", "boolean-name", "distinct-numeric-names"],
)
def test_header_names_are_read_verbatim(tmp_path: Path, header: str, wanted: list[str]) -> None:
    path = _write(tmp_path / "names.csv", header)
    assert read_table(path, columns=wanted).column_names == wanted


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    json_path = _write(tmp_path / "d.json", "{}")
    with pytest.raises(InvalidInputError, match="format") as info:
        read_table(json_path)
    assert info.value.field == "path"
    with pytest.raises(InvalidInputError, match="does not exist") as info:
        read_table(tmp_path / "absent.csv")
    assert info.value.field == "path"
    with pytest.raises(InvalidInputError, match="does not exist"):
        list(iter_batches(tmp_path / "absent.parquet"))
    with pytest.raises(InvalidInputError) as info:
        read_table(tmp_path)  # a directory is not a file
    assert info.value.field == "path"
    with pytest.raises(InvalidInputError):
        file_format("model.xlsx")
    assert file_format("A.CSV.GZ") == "csv"
    assert file_format("x.pq") == "parquet"


def test_malformed_csv_is_refused(tmp_path: Path) -> None:
    # the ragged row lies past the first 64 KiB block, which the header check reads
    path = _write(tmp_path / "bad.csv", "a,b\n" + "1,2\n" * 40_000 + "3,4,5\n")
    with pytest.raises(InvalidInputError, match="parse") as info:
        read_table(path)
    assert info.value.field == "path"


# ----------------------------------------------------------------------------------
# batches
# ----------------------------------------------------------------------------------


def _big_table(n: int = 1000) -> pa.Table:
    return pa.table(
        {
            "i": pa.array(range(n), pa.int64()),
            "f": pa.array([i / 7 if i % 10 else None for i in range(n)], pa.float64()),
            "s": pa.array([f"v{i % 13}" if i % 9 else None for i in range(n)], pa.string()),
        }
    )


@pytest.mark.parametrize("suffix", ["csv", "csv.gz", "parquet"])
@pytest.mark.parametrize("batch_rows", [1, 64, 333, 5000])
def test_iter_batches_yields_all_rows_in_bounded_batches(
    tmp_path: Path, suffix: str, batch_rows: int
) -> None:
    table = _big_table()
    path = tmp_path / f"big.{suffix}"
    if suffix == "parquet":
        pq.write_table(table, path, row_group_size=250)
    else:
        with (
            pa.CompressedOutputStream(path, "gzip")
            if suffix.endswith("gz")
            else pa.OSFile(str(path), "wb") as sink
        ):
            pacsv.write_csv(table, sink)
    batches = list(iter_batches(path, batch_rows=batch_rows))
    assert all(0 < b.num_rows <= batch_rows for b in batches)
    assert sum(b.num_rows for b in batches) == table.num_rows
    assert pa.Table.from_batches(batches).equals(table)
    assert read_table(path).equals(table)
    sub = list(iter_batches(path, batch_rows=batch_rows, columns=["s"]))
    assert pa.Table.from_batches(sub).equals(table.select(["s"]))


# ----------------------------------------------------------------------------------
# frames
# ----------------------------------------------------------------------------------


def test_pandas_frame() -> None:
    frame = pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", None, "b"], "b": [True, False, True]})
    table = read_table(frame)
    assert table.column_names == ["x", "c", "b"]
    assert table.column("x").to_pylist() == [1.0, None, 3.0]
    assert table.column("c").to_pylist() == ["a", None, "b"]
    assert read_table(frame, columns=["b"]).column_names == ["b"]


def test_pandas_duplicate_columns_are_named() -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "dup", "dup"])
    with pytest.raises(InvalidInputError, match="'dup'") as info:
        read_table(frame)
    assert info.value.field == "dup"


def test_pandas_index_is_not_a_column() -> None:
    frame = pd.DataFrame({"x": [1, 2]}, index=pd.Index([10, 20], name="row"))
    assert read_table(frame).column_names == ["x"]


def test_polars_frame() -> None:
    frame = pl.DataFrame({"x": [1, None, 3], "c": ["a", None, "b"], "b": [True, None, False]})
    table = read_table(frame)
    assert table.column_names == ["x", "c", "b"]
    assert table.column("x").to_pylist() == [1, None, 3]
    assert table.column("c").to_pylist() == ["a", None, "b"]
    assert read_table(frame, columns=["c"]).column_names == ["c"]


def test_arrow_table_and_record_batch() -> None:
    table = _expected()
    assert read_table(table).equals(table)
    batch = table.to_batches()[0]
    assert read_table(batch).equals(table)
    assert read_table(batch, columns=["x"]).equals(table.select(["x"]))


def test_arrow_table_with_duplicate_names_is_refused() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["z", "z"])
    with pytest.raises(InvalidInputError, match="'z'") as info:
        as_table(table)
    assert info.value.field == "z"


def test_mapping() -> None:
    table = read_table({"x": [1, 2], "c": ["a", None]})
    assert table.to_pydict() == {"x": [1, 2], "c": ["a", None]}
    with pytest.raises(InvalidInputError, match="'nope'") as info:
        read_table({"x": [1, 2]}, columns=["nope"])
    assert info.value.field == "nope"


def test_bad_mapping_and_unknown_object() -> None:
    with pytest.raises(InvalidInputError) as info:
        read_table({"x": [1, 2], "y": [1]})
    assert info.value.field == "data"
    with pytest.raises(InvalidInputError, match="int") as info:
        read_table(42)
    assert info.value.field == "data"
    with pytest.raises(InvalidInputError, match="no rows"):
        read_table({"x": []})


# ----------------------------------------------------------------------------------
# SQL
# ----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "x.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER, amount REAL, city TEXT, mixed)")
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            [(1, 2.5, "paris", 1), (2, None, None, "two"), (3, 4.0, "rome", 3)],
        )
    return f"sqlite:///{path}"


def test_sqlite_query(sqlite_url: str) -> None:
    table = read_table(sqlite_url, query="SELECT id, amount, city FROM t ORDER BY id")
    assert table.to_pydict() == {
        "id": [1, 2, 3],
        "amount": [2.5, None, 4.0],
        "city": ["paris", None, "rome"],
    }


def test_sql_without_query_bad_query_and_mixed_types(sqlite_url: str) -> None:
    with pytest.raises(InvalidInputError, match="'query'") as info:
        read_table(sqlite_url)
    assert info.value.field == "query"
    with pytest.raises(InvalidInputError, match="query") as info:
        read_table(sqlite_url, query="SELECT nope FROM missing_table")
    assert info.value.field == "query"
    with pytest.raises(InvalidInputError) as info:
        read_table(sqlite_url, query="SELECT mixed FROM t")
    assert info.value.field == "query"
    with pytest.raises(InvalidInputError, match="no rows"):
        read_table(sqlite_url, query="SELECT id FROM t WHERE id > 10")


def test_sql_duplicate_result_columns_are_named(sqlite_url: str) -> None:
    with pytest.raises(InvalidInputError, match="'id'") as info:
        read_table(sqlite_url, query="SELECT id, id FROM t")
    assert info.value.field == "id"


@pytest.fixture
def pg_url() -> Iterator[tuple[str, str]]:
    """A PostgreSQL URL with a uniquely named table, dropped afterwards."""
    url = os.environ.get("GLMOPS_TEST_PG_URL")
    if not url:
        pytest.skip("GLMOPS_TEST_PG_URL is not set (CI sets it to a PostgreSQL URL)")
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg (the PostgreSQL driver of GLMOPS_TEST_PG_URL) is not installed")
    import sqlalchemy as sa

    name = f"glmops_reader_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"CREATE TABLE {name} (id INTEGER, amount DOUBLE PRECISION, "
                    "city TEXT, member BOOLEAN)"
                )
            )
            conn.execute(
                sa.text(f"INSERT INTO {name} VALUES (:i, :a, :c, :m)"),
                [
                    {"i": 1, "a": 2.5, "c": "paris", "m": True},
                    {"i": 2, "a": None, "c": None, "m": None},
                    {"i": 3, "a": 4.0, "c": "rome", "m": False},
                ],
            )
        yield url, name
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


def test_postgres_query(pg_url: tuple[str, str]) -> None:
    url, name = pg_url
    table = read_table(url, query=f"SELECT id, amount, city, member FROM {name} ORDER BY id")
    assert table.to_pydict() == {
        "id": [1, 2, 3],
        "amount": [2.5, None, 4.0],
        "city": ["paris", None, "rome"],
        "member": [True, None, False],
    }
    with pytest.raises(InvalidInputError, match="query") as info:
        read_table(url, query=f"SELECT nope FROM {name}")
    assert info.value.field == "query"
