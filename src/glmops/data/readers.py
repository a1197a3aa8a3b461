"""Read tables from files, frames and SQL into Arrow, matching columns by name.

Everything downstream (schema, preprocessing, training, scoring) works on a
``pyarrow.Table``: one in-memory format with typed, nullable columns, whatever
the source. Files are read in chunks by pyarrow; frames are converted without
going through Python objects where the library allows it.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmops.errors import InvalidInputError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
else:
    from glmops._arrow import LazyModule, pa

    pacsv = LazyModule("pyarrow.csv")
    pq = LazyModule("pyarrow.parquet")

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "as_table",
    "file_format",
    "iter_batches",
    "read_sql",
    "read_table",
]

logger = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 65_536
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".tsv", ".tsv.gz", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
# Spellings of a missing value in CSV files (pyarrow's defaults plus "?").
_CSV_NULLS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "#N/A", "?"]


def file_format(path: str | Path) -> str:
    """Return ``"csv"`` or ``"parquet"`` from a file name; refuse anything else."""
    name = str(path).lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise InvalidInputError(
        f"Cannot tell the format of {str(path)!r}: expected a name ending in "
        f"{', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)}.",
        field="path",
        expected="a .csv or .parquet file",
        got=str(path),
    )


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise InvalidInputError(
            f"Data file {str(path)!r} does not exist or is not a file.",
            field="path",
            expected="an existing file",
            got=str(path),
        )
    if path.stat().st_size == 0:
        raise InvalidInputError(
            f"Data file {str(path)!r} is empty.",
            field="path",
            expected="a file with a header and at least one row",
            got="0 bytes",
        )


def _csv_options(
    columns: Sequence[str] | None, column_types: Mapping[str, pa.DataType] | None, path: Path
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    delimiter = "\t" if path.name.lower().split(".")[-1] == "tsv" or ".tsv." in path.name else ","
    read = pacsv.ReadOptions(block_size=8 << 20)
    parse = pacsv.ParseOptions(delimiter=delimiter)
    convert = pacsv.ConvertOptions(
        null_values=_CSV_NULLS,
        strings_can_be_null=True,
        include_columns=list(columns) if columns is not None else None,
        column_types=dict(column_types) if column_types else None,
    )
    return read, parse, convert


def _unparsable(path: Path, exc: Exception) -> InvalidInputError:
    return InvalidInputError(
        f"Cannot parse {str(path)!r}: {exc}",
        field="path",
        expected="a well-formed CSV file",
        got=str(exc),
    )


def _check_header(path: Path, names: Sequence[str]) -> None:
    dupes = sorted(name for name, count in Counter(names).items() if count > 1)
    if dupes:
        raise InvalidInputError(
            f"{str(path)!r} has duplicate column names: {dupes}; every column needs a "
            "unique name (columns are matched by name, never by position).",
            field=dupes[0],
            expected="unique column names",
            got=dupes,
        )


def _csv_header(path: Path) -> list[str]:
    """Return the header row verbatim (pyarrow would parse names like ``007`` as numbers)."""
    _read, parse, _ = _csv_options(None, None, path)
    try:
        with pa.input_stream(str(path), compression="detect") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            row = next(csv.reader(text, delimiter=parse.delimiter), [])
    except (OSError, UnicodeDecodeError, csv.Error, pa.ArrowInvalid) as exc:
        raise InvalidInputError(
            f"Cannot read the header of {str(path)!r}: {exc}",
            field="path",
            expected="a UTF-8 CSV file with a header row",
            got=str(exc),
        ) from exc
    if not row or all(not name.strip() for name in row):
        raise InvalidInputError(
            f"{str(path)!r} has no header row (the first line is empty).",
            field="path",
            expected="a CSV file whose first line names the columns",
            got="empty first line",
        )
    return row


def read_table(
    source: Any,
    *,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, pa.DataType] | None = None,
    query: str | None = None,
) -> pa.Table:
    """Return ``source`` as a ``pyarrow.Table``.

    One entry point for every source, so training and scoring read the same
    way: a path (CSV, TSV or Parquet, optionally compressed), a SQLAlchemy URL
    with ``query``, a pandas or polars DataFrame, an Arrow table or record
    batch, or a mapping of column name to values.

    Parameters
    ----------
    source : path, URL, DataFrame, pyarrow.Table or mapping
        Where the rows are.
    columns : sequence of str, optional
        Read only these columns (by name); a missing one is an error.
    column_types : mapping of str to pyarrow.DataType, optional
        Types to parse CSV columns as (ignored for typed sources).
    query : str, optional
        SQL to run when ``source`` is a database URL.

    Returns
    -------
    pyarrow.Table
    """
    if isinstance(source, str) and "://" in source and not Path(source).exists():
        if query is None:
            raise InvalidInputError(
                f"Reading from the database {source.split('://')[0]!r} needs a 'query'.",
                field="query",
                expected="a SQL query",
                got=None,
            )
        table = read_sql(source, query)
    elif isinstance(source, str | Path):
        path = Path(source)
        _check_exists(path)
        fmt = file_format(path)
        if fmt == "parquet":
            schema = pq.read_schema(path)
            _check_header(path, schema.names)
            _check_columns(path, schema.names, columns)
            table = pq.read_table(path, columns=list(columns) if columns is not None else None)
        else:
            header = _csv_header(path)
            _check_header(path, header)
            _check_columns(path, header, columns)
            read, parse, convert = _csv_options(columns, column_types, path)
            try:
                table = pacsv.read_csv(
                    path, read_options=read, parse_options=parse, convert_options=convert
                )
            except pa.ArrowInvalid as exc:
                raise _unparsable(path, exc) from exc
    else:
        table = as_table(source)
        if columns is not None:
            _check_columns(Path("<frame>"), table.column_names, columns)
            table = table.select(list(columns))
    if table.num_rows == 0:
        raise InvalidInputError(
            "The data has no rows.", field="data", expected="at least one row", got=0
        )
    return table


def _check_columns(path: Path, present: Sequence[str], wanted: Sequence[str] | None) -> None:
    if wanted is None:
        return
    missing = [c for c in wanted if c not in set(present)]
    if missing:
        raise InvalidInputError(
            f"{str(path)!r} has no column(s) {missing}; it has {list(present)}.",
            field=missing[0],
            expected="a column of that name",
            got=None,
        )


def as_table(frame: Any) -> pa.Table:
    """Convert a pandas/polars frame, record batch or mapping into an Arrow table."""
    if isinstance(frame, pa.Table):
        table = frame
    elif isinstance(frame, pa.RecordBatch):
        table = pa.Table.from_batches([frame])
    elif type(frame).__module__.startswith("polars"):
        table = frame.to_arrow()
    elif type(frame).__module__.startswith("pandas"):
        names = [str(c) for c in frame.columns]
        _check_header(Path("<DataFrame>"), names)
        table = pa.Table.from_pandas(frame, preserve_index=False)
    elif isinstance(frame, Mapping):
        try:
            table = pa.table({str(k): v for k, v in frame.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise InvalidInputError(
                f"Cannot build a table from the mapping: {exc}",
                field="data",
                expected="a mapping of column name to equally long value lists",
                got=type(frame).__name__,
            ) from exc
    else:
        raise InvalidInputError(
            f"Cannot read data from a {type(frame).__name__}.",
            field="data",
            expected="a path, pandas/polars DataFrame, pyarrow Table or mapping of columns",
            got=type(frame).__name__,
        )
    _check_header(Path("<table>"), table.column_names)
    return table


def read_sql(url: str, query: str) -> pa.Table:
    """Run ``query`` on the database at the SQLAlchemy ``url``; return the rows as Arrow."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise InvalidInputError(
            f"Cannot open database URL {url.split('@')[-1]!r}: {exc}",
            field="url",
            expected="a SQLAlchemy database URL",
            got=url.split("://")[0],
        ) from exc
    try:
        with engine.connect() as conn:
            result = conn.execute(sa.text(query))
            names = list(result.keys())
            rows = result.fetchall()
    except sa.exc.SQLAlchemyError as exc:
        raise InvalidInputError(
            f"The SQL query failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
            field="query",
            expected="a query that runs on the database",
            got=query,
        ) from exc
    finally:
        engine.dispose()
    _check_header(Path("<query>"), names)
    columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    try:
        return pa.table(columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInputError(
            f"The query's columns have mixed value types: {exc}",
            field="query",
            expected="columns of one type each",
            got=str(exc),
        ) from exc


def iter_batches(
    source: str | Path,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, pa.DataType] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield the rows of a CSV or Parquet file in batches of about ``batch_rows``.

    Memory stays bounded by one batch, so files larger than memory stream.
    """
    path = Path(source)
    _check_exists(path)
    if file_format(path) == "parquet":
        pf = pq.ParquetFile(path)
        _check_header(path, pf.schema_arrow.names)
        _check_columns(path, pf.schema_arrow.names, columns)
        yield from pf.iter_batches(
            batch_size=batch_rows, columns=list(columns) if columns is not None else None
        )
        return
    header = _csv_header(path)
    _check_header(path, header)
    _check_columns(path, header, columns)
    read, parse, convert = _csv_options(columns, column_types, path)
    reader = None
    try:
        reader = pacsv.open_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        )
        for batch in reader:
            for start in range(0, batch.num_rows, batch_rows):
                yield batch.slice(start, batch_rows)
    except pa.ArrowInvalid as exc:
        raise _unparsable(path, exc) from exc
    finally:
        if reader is not None:
            reader.close()
