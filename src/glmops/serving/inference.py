"""Request payload -> validated rows -> predictions, through the model's own pipeline.

Two paths give the same numbers (tests hold them to each other):

- the record path (a few instances): :meth:`Preprocessor.transform_record`
  per row, strict about types, every problem reported with its row;
- the batch path (columnar payloads and large instance lists): one Arrow
  table through the manifest check and the fused linear predictor. A column
  whose JSON values are not all of the expected type falls back to the
  record path, so a bad value is reported exactly as for one record.

Nothing here knows about HTTP: problems are raised as :class:`Refusal`
(status + one entry per offending field), which the app turns into JSON.
"""

from __future__ import annotations

import functools
import itertools
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from glmops import _arrow
from glmops._redact import summarize
from glmops.data.schema import MAX_TEXT_CHARS, Schema, Violation, text_problem, text_violation
from glmops.errors import SchemaValidationError, ScoreOverflowError

if TYPE_CHECKING:
    import pyarrow as pa

    from glmops.data.preprocessing import Preprocessor
    from glmops.model import Model
else:
    from glmops._arrow import pa

__all__ = [
    "ARROW_TYPES",
    "Policy",
    "Refusal",
    "Scored",
    "answer",
    "parse_arrow",
    "parse_payload",
    "score_rows",
]

RECORD_PATH_MAX_ROWS = 16
MAX_IPC_MESSAGES = 1024  # schema + dictionaries + record batches of one Arrow body
_GOT_CHARS = 80  # a refusal echoes at most this much of a received value
_REJECTED_ALWAYS = frozenset({"missing_column", "wrong_type", "null"})
_NOTED = frozenset({"unseen_category", "out_of_range", "unexpected_column"})  # counted
_NUMBER_TYPES = frozenset({float, int})
# built from buffers: pa.array would import pandas where it is installed (glmops._arrow)
_BUILD = {"numeric": _arrow.floats, "boolean": _arrow.bools, "categorical": _arrow.strings}
_ALLOWED_TYPES = {
    "numeric": frozenset({float, int, type(None)}),
    "boolean": frozenset({bool, type(None)}),
    "categorical": frozenset({str, type(None)}),
}


class Refusal(Exception):  # noqa: N818 (a result, not a fault of ours)
    """The request cannot be scored: an HTTP status and one entry per problem.

    ``reason`` is the error metric's label (``too_large`` for 413, else
    ``invalid``, unless the refusing step names another: ``unauthenticated``,
    ``not_found`` ...).
    """

    def __init__(
        self, status: int, message: str, errors: list[dict[str, Any]], *, reason: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors
        self.reason = reason or ("too_large" if status == 413 else "invalid")


@dataclass(frozen=True)
class Policy:
    """How strict validation is (from the serving config)."""

    max_rows: int = 10_000
    max_string_chars: int = MAX_TEXT_CHARS  # per text value (and field name), characters
    reject_unexpected: bool = True
    reject_out_of_range: bool = False
    passthrough: frozenset[str] = frozenset()  # fields that are not features (entity keys)

    @functools.cached_property
    def refused(self) -> frozenset[str]:
        """The violation kinds this policy refuses besides the pipeline's own."""
        return frozenset(
            kind
            for kind, refused in (
                ("unexpected_column", self.reject_unexpected),
                ("out_of_range", self.reject_out_of_range),
            )
            if refused
        )


@dataclass
class Rows:
    """A parsed payload: records, columnar rows (``names`` + ``data``), or an Arrow table."""

    n: int
    records: list[Mapping[str, Any]] | None = None
    names: list[str] | None = None
    data: list[list[Any]] | None = None
    table: pa.Table | None = None
    _columns: dict[str, list[Any]] | None = None

    @property
    def is_columnar(self) -> bool:
        """Whether the payload came as ``columns`` + ``data``."""
        return self.data is not None

    def column_lists(self) -> dict[str, list[Any]]:
        """Return a columnar payload's values by column (transposed once, on demand)."""
        if self._columns is None:
            assert self.names is not None and self.data is not None
            transposed = zip(*self.data, strict=True)
            self._columns = {c: list(v) for c, v in zip(self.names, transposed, strict=True)}
        return self._columns

    def record(self, i: int) -> Mapping[str, Any]:
        """Return row ``i`` as a mapping (columnar and Arrow payloads build it)."""
        if self.records is not None:
            return self.records[i]
        if self.table is not None:  # off the request path (log, shadow, errors): built once
            self.records = self.table.to_pylist()
            return self.records[i]
        assert self.names is not None and self.data is not None
        return dict(zip(self.names, self.data[i], strict=True))

    def as_records(self) -> list[Mapping[str, Any]]:
        """Return every row as a mapping."""
        if self.records is not None:
            return self.records
        return [self.record(i) for i in range(self.n)]


@dataclass
class Scored:
    """The decision values of a request and what validation counted on the way."""

    decision: np.ndarray  # (n, K)
    notes: list[Violation] = field(default_factory=list)  # counted, not refused
    missing: dict[str, int] = field(default_factory=dict)  # feature -> imputed nulls
    table: pa.Table | None = None  # the validated feature table (batch path), for the log


def _problem(
    field_: str, kind: str, expected: str, got: Any = None, rows: int = 1
) -> dict[str, Any]:
    out: dict[str, Any] = {"field": field_, "kind": kind, "expected": expected}
    if got is not None:
        out["got"] = got if isinstance(got, int | float | bool) else _short(got)
    if rows != 1:
        out["rows"] = rows
    return out


def _short(value: Any) -> str:
    """Return ``value`` as text of at most ``_GOT_CHARS`` characters (a refusal stays small)."""
    if isinstance(value, str) and len(value) <= _GOT_CHARS:
        return value
    return summarize(value, _GOT_CHARS)


def _text_problems(
    pairs: Iterable[tuple[str, Any]], max_chars: int, prefix: str
) -> list[dict[str, Any]]:
    """Return one problem per field name or text value that breaks the per-value cap."""
    problems = []
    for key, value in pairs:
        for text, what in ((key, "name"), (value, "value")):
            if type(text) is str and (len(text) > max_chars or "\x00" in text):
                kind, expected = text_problem(text, max_chars) or ("", "")
                where = f"{prefix}.{_short(key)}" if prefix else _short(key)
                got = f"a {what} of {len(text)} characters"
                problems.append(_problem(where, kind, f"a {what}: {expected}", got))
    return problems


def parse_payload(payload: Any, policy: Policy) -> Rows:
    """Return the rows of a decoded JSON body, or raise :class:`Refusal` (422/413)."""
    if not isinstance(payload, dict):
        raise Refusal(
            422,
            "The body must be a JSON object with 'instances' or 'columns' and 'data'.",
            [_problem("body", "wrong_type", "an object", type(payload).__name__)],
        )
    allowed = {"instances", "columns", "data", "explain"}
    unknown = [k for k in payload if k not in allowed]
    if unknown:
        raise Refusal(
            422,
            f"Unknown key(s) in the body: {', '.join(map(repr, unknown))}.",
            [
                _problem(k, "unexpected_column", "instances | columns + data | explain")
                for k in unknown
            ],
        )
    if "instances" in payload:
        if "columns" in payload or "data" in payload:
            raise Refusal(
                422,
                "Send either 'instances' or 'columns' + 'data', not both.",
                [_problem("body", "wrong_type", "one payload form")],
            )
        instances = payload["instances"]
        if not isinstance(instances, list) or not instances:
            raise Refusal(
                422,
                "'instances' must be a non-empty list of objects.",
                [_problem("instances", "wrong_type", "a non-empty list of objects")],
            )
        _check_rows(len(instances), policy)
        bad = [i for i, r in enumerate(instances) if not isinstance(r, dict)]
        if bad:
            raise Refusal(
                422,
                f"{len(bad)} instance(s) are not objects.",
                [_problem(f"instances[{i}]", "wrong_type", "an object") for i in bad[:20]],
            )
        return Rows(len(instances), records=instances)
    columns, data = payload.get("columns"), payload.get("data")
    if columns is None or data is None:
        raise Refusal(
            422,
            "The body needs 'instances', or 'columns' and 'data'.",
            [_problem("instances" if columns is None else "data", "missing_column", "a list")],
        )
    if (
        not isinstance(columns, list)
        or not columns
        or not all(isinstance(c, str) for c in columns)
        or len(set(columns)) != len(columns)
    ):
        raise Refusal(
            422,
            "'columns' must be a non-empty list of distinct names.",
            [_problem("columns", "wrong_type", "a list of distinct strings")],
        )
    too_long = _text_problems(((c, None) for c in columns), policy.max_string_chars, "")
    if too_long:
        raise Refusal(422, _summary(too_long), too_long)
    if not isinstance(data, list) or not data:
        raise Refusal(
            422,
            "'data' must be a non-empty list of rows.",
            [_problem("data", "wrong_type", "a non-empty list of lists")],
        )
    _check_rows(len(data), policy)
    width = len(columns)
    bad = [i for i, row in enumerate(data) if not isinstance(row, list) or len(row) != width]
    if bad:
        raise Refusal(
            422,
            f"{len(bad)} row(s) of 'data' do not have {width} values.",
            [_problem(f"data[{i}]", "wrong_type", f"a list of {width} values") for i in bad[:20]],
        )
    return Rows(len(data), names=columns, data=data)


ARROW_TYPES = ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file")


def parse_arrow(body: bytes, policy: Policy) -> Rows:
    """Return the rows of an Arrow IPC body (stream or file format), or raise Refusal.

    Every message's metadata is read before any data is decoded: a compressed
    body is refused (415: decompressing it could turn a few KB into GBs),
    more than ``max_rows`` rows or :data:`MAX_IPC_MESSAGES` messages is a 413.
    The file format is read as the stream it embeds. The decoded table is then
    fully validated (offsets, UTF-8), its buffers bounded by the body, and its
    columns held to flat types and the per-value text cap.
    """
    import pyarrow.ipc as ipc

    stream = _ipc_stream(body)
    try:
        _check_ipc_messages(stream, policy)
        table = ipc.open_stream(stream).read_all()
        table.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError) as exc:
        raise Refusal(
            400,
            f"The body is not an Arrow IPC stream or file: {_short(str(exc))}",
            [_problem("body", "wrong_type", "an Arrow IPC stream")],
        ) from exc
    if table.get_total_buffer_size() > len(body):  # uncompressed: never more than was sent
        raise Refusal(
            413,
            "The Arrow table decodes to more bytes than its body holds.",
            [_problem("body", "too_large", f"at most {len(body)} bytes decoded")],
        )
    names = table.column_names
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise Refusal(
            422,
            f"Duplicate column names: {[_short(d) for d in dupes]}.",
            [_problem(_short(d), "wrong_type", "distinct column names") for d in dupes],
        )
    if table.num_rows == 0:
        raise Refusal(422, "The table has no rows.", [_problem("rows", "wrong_type", ">= 1 row")])
    _check_rows(table.num_rows, policy)
    problems = _arrow_column_problems(table, policy.max_string_chars)
    if problems:
        raise Refusal(422, _summary(problems), problems)
    return Rows(table.num_rows, table=table)


def _ipc_stream(body: bytes) -> pa.Buffer:
    """Return the IPC stream of a body: itself, or the stream a file-format body embeds
    (between its 8-byte header and its footer), without copying."""
    buffer = pa.py_buffer(body)
    if body[:6] != b"ARROW1" or body[-6:] != b"ARROW1" or len(body) < 18:
        return buffer
    footer = int.from_bytes(body[-10:-6], "little", signed=True)
    end = len(body) - 10 - footer
    return buffer.slice(8, end - 8) if footer >= 0 and end >= 8 else buffer


def _check_ipc_messages(stream: pa.Buffer, policy: Policy) -> None:
    """Refuse compression, too many rows or messages from the messages' metadata alone."""
    rows = 0
    for i, message in enumerate(pa.ipc.MessageReader.open_stream(stream)):
        if i >= MAX_IPC_MESSAGES:
            raise Refusal(
                413,
                f"The Arrow body holds more than {MAX_IPC_MESSAGES} messages.",
                [_problem("body", "too_large", f"at most {MAX_IPC_MESSAGES} IPC messages")],
            )
        if message.type == "schema":  # no body, nothing to decompress
            continue
        length, compressed = _batch_header(message.metadata.to_pybytes())
        if compressed:
            raise Refusal(
                415,
                "Compressed Arrow IPC bodies are refused (decompression could exhaust "
                "memory): write the stream without compression "
                "(pyarrow: IpcWriteOptions(compression=None)).",
                [_problem("body", "wrong_type", "an uncompressed Arrow IPC stream", "compressed")],
            )
        if message.type == "record batch":
            rows += length
            _check_rows(rows, policy)


def _batch_header(meta: bytes) -> tuple[int, bool]:
    """Return (rows, compressed) of a record or dictionary batch message; (0, False) for
    others.

    Reads the message's flatbuffer (Arrow's Message.fbs): Message.header_type
    (slot 1) and header (slot 2); DictionaryBatch.data (slot 1) is a
    RecordBatch, whose length is slot 0 and compression slot 3. Every offset
    is bounds-checked: a malformed buffer is ``ArrowInvalid``.
    """
    try:
        root = _unpack(_U32, meta, 0)
        header_type, header = _field(meta, root, 1), _field(meta, root, 2)
        if header_type is None or header is None or meta[header_type] not in (2, 3):
            return 0, False
        batch = header + _unpack(_U32, meta, header)
        if meta[header_type] == 2:  # DictionaryBatch: its data is a RecordBatch
            data = _field(meta, batch, 1)
            if data is None:
                return 0, False
            batch = data + _unpack(_U32, meta, data)
        length = _field(meta, batch, 0)
        rows = _unpack(_I64, meta, length) if length is not None else 0
        return rows, _field(meta, batch, 3) is not None
    except (struct.error, IndexError) as exc:
        raise pa.ArrowInvalid(f"malformed IPC message metadata ({exc})") from exc


_U16, _U32, _I32, _I64 = (struct.Struct(f) for f in ("<H", "<I", "<i", "<q"))


def _unpack(fmt: struct.Struct, data: bytes, pos: int) -> int:
    """Read one little-endian integer at ``pos``, refusing positions outside ``data``."""
    if not 0 <= pos <= len(data) - fmt.size:
        raise IndexError(f"offset {pos} outside {len(data)} bytes")
    return int(fmt.unpack_from(data, pos)[0])


def _field(data: bytes, table: int, slot: int) -> int | None:
    """Return the position of field ``slot`` of the flatbuffer table at ``table``."""
    vtable = table - _unpack(_I32, data, table)
    if 4 + 2 * slot + 2 > _unpack(_U16, data, vtable):
        return None
    offset = _unpack(_U16, data, vtable + 4 + 2 * slot)
    return table + offset if offset else None


@functools.cache
def _type_ids() -> tuple[frozenset[int], frozenset[int], int]:
    """Return the ids of the flat types, of the text types and of a dictionary type.

    Flat types decode to no more than their buffers (parameters aside: one id
    per kind). Built at the first Arrow body, so that importing this module
    does not import pyarrow.
    """
    flat = frozenset(
        t.id
        for t in (
            pa.null(),
            pa.bool_(),
            *(pa.int8(), pa.int16(), pa.int32(), pa.int64()),
            *(pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()),
            *(pa.float16(), pa.float32(), pa.float64(), pa.decimal128(1), pa.decimal256(1)),
            *(pa.date32(), pa.date64(), pa.timestamp("s"), pa.time32("s"), pa.time64("us")),
            *(pa.duration("s"), pa.month_day_nano_interval()),
            *(pa.string(), pa.large_string()),
        )
    )
    text = frozenset({pa.string().id, pa.large_string().id})
    return flat, text, pa.dictionary(pa.int32(), pa.string()).id


def _flat_type(dtype: pa.DataType) -> bool:
    """Whether a column type decodes to no more than its buffers: numbers, booleans,
    dates and times, text, or text behind an integer dictionary (capped per value)."""
    flat, text, dictionary = _type_ids()
    if dtype.id == dictionary:
        return bool(pa.types.is_integer(dtype.index_type)) and dtype.value_type.id in text
    return dtype.id in flat


def _arrow_column_problems(table: pa.Table, max_chars: int) -> list[dict[str, Any]]:
    """Return one problem per column of another type than :func:`_flat_type`'s, or whose
    name or text values break the per-value cap (a dictionary's values are checked)."""
    problems = _text_problems(((n, None) for n in table.column_names), max_chars, "")
    if problems:
        return problems
    _, text, dictionary = _type_ids()
    for name, column in zip(table.column_names, table.columns, strict=True):
        dtype = column.type
        if not _flat_type(dtype):
            expected = "numbers, booleans, dates or text (no nested, view or encoded types)"
            problems.append(_problem(name, "wrong_type", expected, str(dtype)))
        elif dtype.id == dictionary:
            dictionaries = [chunk.dictionary for chunk in column.chunks]
            problems.extend(_chunks_text_problems(name, dictionaries, max_chars))
        elif dtype.id in text:
            problems.extend(_chunks_text_problems(name, column.chunks, max_chars))
    return problems


def _chunks_text_problems(
    name: str, chunks: Iterable[pa.Array], max_chars: int
) -> list[dict[str, Any]]:
    """Return the first chunk's problem with the per-value text cap, if any."""
    for chunk in chunks:
        found = _arrow_text_problems(name, chunk, max_chars)
        if found:
            return found
    return []


def _arrow_kind_ok(kind: str, dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if pa.types.is_null(dtype):
        return True
    if kind == "numeric":
        return bool(
            pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)
        )
    if kind == "boolean":
        return bool(pa.types.is_boolean(dtype))
    return bool(pa.types.is_string(dtype) or pa.types.is_large_string(dtype))


def _arrow_table(model: Model, rows: Rows, passthrough: frozenset[str]) -> pa.Table:
    """Check an Arrow table's column types against the manifest (strictly: no text for
    numbers); drop pass-through columns."""
    assert rows.table is not None
    table = rows.table
    schema = model.preprocessor.schema
    problems = []
    for name, dtype in zip(table.column_names, table.schema.types, strict=True):
        if name in schema and not _arrow_kind_ok(schema[name].kind, dtype):
            problems.append(
                _problem(name, "wrong_type", f"a {schema[name].kind} Arrow column", str(dtype))
            )
    if problems:
        raise Refusal(422, _summary(problems), problems)
    drop = [n for n in table.column_names if n in passthrough]
    return table.drop_columns(drop) if drop else table


def _check_rows(n: int, policy: Policy) -> None:
    if n > policy.max_rows:
        raise Refusal(
            413,
            f"{n} rows in one request; the limit is {policy.max_rows}.",
            [_problem("rows", "too_large", f"at most {policy.max_rows} rows", n)],
        )


def score_rows(model: Model, rows: Rows, policy: Policy) -> Scored:
    """Validate and score ``rows`` with ``model``; raise :class:`Refusal` (422) on bad input.

    A finite input far outside the training range can still overflow the
    linear score (1e308 times a coefficient): such rows are refused by row
    (:meth:`Model.check_scores`), never answered with inf/NaN and never a
    server error.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        scored = _score_rows(model, rows, policy)
    try:
        model.check_scores(scored.decision)
    except ScoreOverflowError as exc:
        prefix = (
            "rows" if rows.table is not None else "data" if rows.records is None else "instances"
        )
        expected = exc.expected
        problems = [_problem(f"{prefix}[{i}]", "out_of_range", expected) for i in exc.rows[:20]]
        raise Refusal(422, _summary(problems), problems) from exc
    return scored


def _score_rows(model: Model, rows: Rows, policy: Policy) -> Scored:
    if rows.table is not None:
        return _score_batch(model, _arrow_table(model, rows, policy.passthrough), rows, policy)
    if rows.n > RECORD_PATH_MAX_ROWS or rows.is_columnar:
        table = _batch_table(model, rows, policy)
        if table is not None:
            return _score_batch(model, table, rows, policy)
    return _score_records(model, rows, policy)


def _score_records(model: Model, rows: Rows, policy: Policy) -> Scored:
    pre = model.preprocessor
    fields = _record_fields(pre, policy.passthrough, policy.max_string_chars)
    known = fields.known
    X = np.empty((rows.n, pre.n_features_out))
    problems: list[dict[str, Any]] = []
    notes: list[Violation] = []
    missing: dict[str, int] = {}
    prefix = "instances" if rows.records is not None else "data"
    cap = policy.max_string_chars
    nulls: list[str] = []
    for i in range(rows.n):
        record = rows.record(i)
        # a record of numeric and boolean features only (short names) holds text only
        # where the pipeline refuses it: the text cap is checked when that happens
        plain = fields.plain.issuperset(record)
        if not plain:
            too_long = _text_problems(record.items(), cap, f"{prefix}[{i}]")
            if too_long:  # neither validated nor echoed: the problem names the field only
                problems.extend(too_long)
                continue
        unexpected = [] if known.issuperset(record) else [k for k in record if k not in known]
        if unexpected and policy.reject_unexpected:
            problems.extend(
                _problem(f"{prefix}[{i}].{k}", "unexpected_column", "no such field (not a feature)")
                for k in unexpected
            )
        nulls.clear()
        try:
            X[i], found = pre.transform_record(record, nulls=nulls)
        except SchemaValidationError as exc:
            too_long = _text_problems(record.items(), cap, f"{prefix}[{i}]") if plain else []
            if too_long:
                problems.extend(too_long)
                continue
            for v in exc.violations:
                problems.append(
                    _problem(f"{prefix}[{i}].{v['column']}", v["kind"], v["expected"], v["example"])
                )
            continue
        notes.extend(found)
        for name in nulls:
            missing[name] = missing.get(name, 0) + 1
        if unexpected and not policy.reject_unexpected:
            notes.extend(
                Violation(str(k), "unexpected_column", "a manifest field", 1) for k in unexpected
            )
    if policy.reject_out_of_range:
        problems.extend(
            _problem(v.column, v.kind, v.expected, v.example)
            for v in notes
            if v.kind == "out_of_range"
        )
    if problems:
        raise Refusal(422, _summary(problems), problems)
    decision = X @ model.coef.T + model.intercept
    return Scored(decision, notes, missing)


@dataclass(frozen=True)
class _Fields:
    """The field names the record path checks a record against (one model, one policy)."""

    known: frozenset[str]  # what a record may carry: features, the target, pass-through
    plain: frozenset[str]  # numeric and boolean features named within the text cap


# (id of the preprocessor, pass-through, text cap) -> (the preprocessor itself, its
# fields): the object is kept so that its id cannot be reused by another while cached
_FIELDS: dict[tuple[int, frozenset[str], int], tuple[Preprocessor, _Fields]] = {}


def _record_fields(pre: Preprocessor, passthrough: frozenset[str], max_chars: int) -> _Fields:
    """Return the fields a record is checked against, cached per preprocessor and policy."""
    key = (id(pre), passthrough, max_chars)
    found = _FIELDS.get(key)
    if found is None or found[0] is not pre:
        if len(_FIELDS) > 256:
            _FIELDS.clear()
        names = pre.schema.names
        extra = {pre.schema.target} if pre.schema.target else set()
        known = frozenset(names) | passthrough | extra
        plain = frozenset(
            c.name
            for c in pre.schema.columns
            if c.kind in ("numeric", "boolean")
            and c.name not in passthrough
            and len(c.name) <= max_chars
            and "\x00" not in c.name
        )
        fields = _Fields(known, plain)
        found = _FIELDS[key] = (pre, fields)
    return found[1]


def _batch_table(model: Model, rows: Rows, policy: Policy) -> pa.Table | None:
    """Return the rows as an Arrow table of the manifest's types, or None to take the
    record path (a value of another JSON type somewhere: reported per row there).

    Text values are held to the per-value cap here, column by column: a
    categorical column on its Arrow array, pass-through and unexpected
    columns (kept for the log) value by value.
    """
    schema = model.preprocessor.schema
    if rows.is_columnar:
        fast = _numeric_matrix_table(rows, schema, policy.passthrough)
        if fast is not None:
            return fast
    columns = rows.column_lists() if rows.is_columnar else None
    if columns is None:
        assert rows.records is not None
        first = rows.records[0].keys()
        if any(r.keys() != first for r in rows.records):
            return None  # ragged records: a field is missing somewhere
        columns = {name: [r[name] for r in rows.records] for name in first}
    arrays: dict[str, pa.Array] = {}
    cap = policy.max_string_chars
    problems = _text_problems(((name, None) for name in columns), cap, "")
    if problems:
        raise Refusal(422, _summary(problems), problems)
    for name, values in columns.items():
        col = schema[name] if name in schema and name not in policy.passthrough else None
        if col is None:  # pass-through or unexpected: not a feature, but logged
            problems.extend(_loose_text_problems(name, values, cap))
            if name not in policy.passthrough:
                arrays[name] = pa.nulls(rows.n)  # unexpected: named by the manifest check
            continue
        if not set(map(type, values)) <= _ALLOWED_TYPES[col.kind]:
            return None
        try:
            arrays[name] = _BUILD[col.kind](values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            return None
        if col.kind == "categorical":
            problems.extend(_arrow_text_problems(name, arrays[name], cap))
    if problems:
        raise Refusal(422, _summary(problems), problems)
    return pa.table(arrays)


def _arrow_text_problems(name: str, values: pa.Array, max_chars: int) -> list[dict[str, Any]]:
    """Return the problem of an Arrow text column that breaks the per-value cap, if any."""
    found = text_violation(name, values, max_chars)
    if found is None:
        return []
    return [_problem(name, found.kind, found.expected, found.example, found.n_rows)]


def _loose_text_problems(name: str, values: list[Any], max_chars: int) -> list[dict[str, Any]]:
    """Return the cap's problem in a column that is not a feature (any JSON values): on
    an Arrow array when it holds text only, else value by value."""
    kinds = set(map(type, values))
    if str not in kinds:
        return []
    if kinds <= _ALLOWED_TYPES["categorical"]:
        return _arrow_text_problems(name, _arrow.strings(values), max_chars)
    return _text_problems(((name, v) for v in values if type(v) is str), max_chars, "")[:1]


def _numeric_matrix_table(
    rows: Rows, schema: Schema, passthrough: frozenset[str]
) -> pa.Table | None:
    """Return a columnar payload of numeric features only as a table, converted in one
    pass over all values (one type check, one numpy conversion); None to take the
    per-column path (another kind of column, or a value of another JSON type)."""
    assert rows.names is not None and rows.data is not None
    names = rows.names
    if any(c not in schema or schema[c].kind != "numeric" or c in passthrough for c in names):
        return None
    matrix = _number_matrix(rows)
    if matrix is None:
        flat = list(itertools.chain.from_iterable(rows.data))
        if not set(map(type, flat)) <= _ALLOWED_TYPES["numeric"]:
            return None
        try:
            matrix = np.array(flat, dtype=np.float64).reshape(rows.n, len(names))
        except (OverflowError, TypeError, ValueError):
            return None
    columns = matrix.T.copy()  # one transpose, then each column is contiguous (no copy)
    return pa.table({c: _arrow.floats(columns[j]) for j, c in enumerate(names)})


def _number_matrix(rows: Rows) -> np.ndarray | None:
    """Return a columnar payload's values as a float64 matrix when they are all JSON
    numbers (one numpy conversion, no per-value type check), else None.

    Any JSON value but a number or a bool (null, text, a list, an object, an integer
    beyond int64) gives numpy another dtype or shape. A bool would pass as 1.0 or
    0.0, so the cells that hold 0 or 1 are looked at one by one; None (a bool among
    them) sends the caller to its value-by-value check.
    """
    assert rows.names is not None and rows.data is not None
    try:
        found = np.array(rows.data)
    except (OverflowError, TypeError, ValueError):
        return None
    if found.dtype.kind not in "fi" or found.shape != (rows.n, len(rows.names)):
        return None
    data = rows.data
    for i, j in zip(*np.nonzero((found == 0) | (found == 1)), strict=True):
        if type(data[i][j]) is bool:
            return None
    return found.astype(np.float64, copy=False)


def _score_batch(model: Model, table: pa.Table, rows: Rows, policy: Policy) -> Scored:
    scored = model.score_table(table, refuse=policy.refused)
    if scored.decision is None:
        if any(v.kind in _REJECTED_ALWAYS for v in scored.blocking) and rows.n <= 1_000:
            # name the rows: the record path reports each offending value
            return _score_records(model, rows, policy)
        problems = [
            _problem(v.column, v.kind, v.expected, v.example, rows=v.n_rows or 1)
            for v in scored.blocking
        ]
        raise Refusal(422, _summary(problems), problems)
    data = scored.data
    notes = [v for v in data.violations if v.kind in _NOTED]
    missing = {name: int(values.null_count) for name, values in data.categorical.items()}
    if data.numeric_block is not None and data.numeric_block.size:
        counts = np.count_nonzero(np.isnan(data.numeric_block), axis=1).tolist()
        missing |= dict(zip(data.block_names, counts, strict=True))
    return Scored(scored.decision, notes, {k: v for k, v in missing.items() if v}, table)


def _summary(problems: Sequence[Mapping[str, Any]]) -> str:
    head = "; ".join(f"{p['field']}: {p['kind'].replace('_', ' ')}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"The input breaks the model's feature manifest: {head}{more}."


def answer(model: Model, decision: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Return the response's predictions and the value each row adds to the histogram.

    Regression: the values. Classification: label + class probabilities per
    row; the histogram gets the positive (binary) or top (multinomial) class.
    """
    if model.task == "regression":
        values = decision[:, 0]
        return values.tolist(), values
    proba = model.proba_from_decision(decision)
    labels = model.labels_from_proba(proba).tolist()
    names = _class_names(model)
    predictions = [
        {"label": label, "probabilities": dict(zip(names, row, strict=True))}
        for label, row in zip(labels, proba.tolist(), strict=True)
    ]
    return predictions, proba[:, 1] if model.task == "binary" else proba.max(axis=1)


# id -> (the model itself, its class names as strings): the model is kept so that its
# id cannot be reused by another while cached
_NAMES: dict[int, tuple[Model, list[str]]] = {}


def _class_names(model: Model) -> list[str]:
    found = _NAMES.get(id(model))
    if found is None or found[0] is not model:
        if len(_NAMES) > 256:
            _NAMES.clear()
        found = _NAMES[id(model)] = (model, [str(c) for c in model.classes or ()])
    return found[1]
