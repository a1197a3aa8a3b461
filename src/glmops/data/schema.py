"""The feature manifest: what each input column is, and every way a frame breaks it.

A :class:`Schema` is inferred from training data (kinds, dtypes, categories,
ranges, quantiles), editable through the config, stored in the artifact, and
checked on every frame before scoring. :func:`coerce_table` turns a table into
canonical columns (float64 with NaN for numbers and booleans, strings for
categories) and collects ALL violations at once: missing and unexpected
columns, wrong types, nulls where none are allowed, unseen categories and
values outside the training range, each with its row count and an example.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from glmops._arrow import strings, to_float64
from glmops._typing import FloatArray
from glmops.errors import InvalidInputError, SchemaValidationError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    from glmops._arrow import pa, pc

__all__ = [
    "MAX_TEXT_CHARS",
    "QUANTILE_LEVELS",
    "VIOLATION_KINDS",
    "CoercedTable",
    "ColumnSchema",
    "FeatureKind",
    "Schema",
    "Violation",
    "coerce_table",
    "infer_column",
    "infer_schema",
    "kind_of_type",
    "text_problem",
    "text_violation",
]

FeatureKind = Literal["numeric", "categorical", "boolean"]
QUANTILE_LEVELS = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
VIOLATION_KINDS = (
    "missing_column",
    "unexpected_column",
    "wrong_type",
    "null",
    "unseen_category",
    "out_of_range",
)
MAX_TEXT_CHARS = 1024  # default cap on one text value (characters, not bytes)
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_NUMBER_RE = r"^\s*[-+]?((\d+\.?\d*)|(\.\d+))([eE][-+]?\d+)?\s*$|^\s*[-+]?(inf|nan)\s*$"


@dataclass(frozen=True)
class Violation:
    """One way a frame breaks the manifest, on one column.

    ``kind`` is one of :data:`VIOLATION_KINDS` (or ``too_long``, from
    :func:`text_violation`); ``n_rows`` counts the rows
    affected (0 for column-level problems) and ``example`` shows one value.
    """

    column: str
    kind: str
    expected: str
    n_rows: int = 0
    example: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Return the violation as a JSON-ready mapping."""
        return {
            "column": self.column,
            "kind": self.kind,
            "expected": self.expected,
            "n_rows": self.n_rows,
            "example": self.example,
        }

    def message(self) -> str:
        """Return one line that names the column, the problem and an example."""
        rows = f" in {self.n_rows} row(s)" if self.n_rows else ""
        example = f" (e.g. {self.example!r})" if self.example is not None else ""
        problem = self.kind.replace("_", " ")
        return f"{self.column!r}: {problem}{rows}{example}; expected {self.expected}"


@dataclass(frozen=True)
class ColumnSchema:
    """What one input column is: kind, dtype, and what training data showed.

    ``categories`` lists the allowed values of a categorical column;
    ``minimum``/``maximum`` bound the values seen in training (outside them a
    value is "out of range": accepted but counted); ``quantiles`` maps the
    levels in :data:`QUANTILE_LEVELS` to values.
    """

    name: str
    kind: FeatureKind
    dtype: str
    nullable: bool = True
    categories: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    quantiles: tuple[float, ...] | None = None
    missing_rate: float = 0.0

    @cached_property
    def category_array(self) -> pa.Array:
        """Return the allowed categories as an Arrow string array (built once)."""
        return strings(list(self.categories or ()))

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON values (no NaN)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "nullable": self.nullable,
            "categories": list(self.categories) if self.categories is not None else None,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "quantiles": list(self.quantiles) if self.quantiles is not None else None,
            "missing_rate": self.missing_rate,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSchema:
        """Rebuild from :meth:`to_dict` output."""
        cats = data.get("categories")
        quants = data.get("quantiles")
        return cls(
            name=str(data["name"]),
            kind=data["kind"],
            dtype=str(data["dtype"]),
            nullable=bool(data.get("nullable", True)),
            categories=tuple(str(c) for c in cats) if cats is not None else None,
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
            quantiles=tuple(float(q) for q in quants) if quants is not None else None,
            missing_rate=float(data.get("missing_rate", 0.0)),
        )


@dataclass(frozen=True)
class Schema:
    """The feature manifest: the input columns a model takes, in order."""

    columns: tuple[ColumnSchema, ...]
    target: str | None = None

    @property
    def names(self) -> list[str]:
        """Return the feature names in manifest order."""
        return list(self._by_name)

    @cached_property
    def _by_name(self) -> dict[str, ColumnSchema]:
        return {c.name: c for c in self.columns}

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> ColumnSchema:
        return self._by_name[name]

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON values."""
        return {"target": self.target, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            columns=tuple(ColumnSchema.from_dict(c) for c in data["columns"]),
            target=data.get("target"),
        )

    def validate(self, table: pa.Table, *, allow_extra: bool = False) -> list[Violation]:
        """Return every violation of ``table`` against this manifest (empty when clean)."""
        return coerce_table(table, self, allow_extra=allow_extra).violations


@dataclass
class CoercedTable:
    """A table in canonical column form, plus everything wrong with it.

    ``numeric`` holds float64 arrays (NaN = missing; booleans as 0/1),
    ``categorical`` holds Arrow string arrays (null = missing). Columns that
    are missing or unusable are absent from both.
    """

    n_rows: int
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    categorical: dict[str, pa.Array] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    # per categorical column, each value's index in the manifest's categories (null: unseen)
    category_index: dict[str, pa.Array] = field(default_factory=dict)
    # the numeric columns stacked (one row each, ``block_names`` order): ``numeric`` holds
    # views of its rows, so whole-block arithmetic sees the same values
    numeric_block: FloatArray | None = None
    block_names: tuple[str, ...] = ()

    def raise_for(self, kinds: Iterable[str]) -> None:
        """Raise :class:`SchemaValidationError` listing the violations of these kinds."""
        wanted = set(kinds)
        bad = [v for v in self.violations if v.kind in wanted]
        if bad:
            lines = "\n  ".join(v.message() for v in bad)
            raise SchemaValidationError(
                f"The data breaks the feature manifest in {len(bad)} way(s):\n  {lines}",
                violations=[v.to_dict() for v in bad],
            )


def text_problem(value: str, max_chars: int) -> tuple[str, str] | None:
    """Return (kind, expected) when one text value breaks the cap, else None.

    A value longer than ``max_chars`` characters, or holding NUL, is refused
    before validation, the prediction log or a metric ever sees it.
    """
    if len(value) > max_chars:
        return "too_long", f"text of at most {max_chars} characters"
    if "\x00" in value:
        return "wrong_type", "text without NUL characters"
    return None


def text_violation(name: str, values: pa.Array, max_chars: int) -> Violation | None:
    """Return the cap :func:`text_problem` states, checked over an Arrow text array.

    One look at the bytes behind the array (numpy, no copy) clears the usual
    column: no value can be longer than all its bytes together, and NUL is
    one scan. Only then are characters (bounded by bytes) or NULs counted.
    The example is a length, never the value.
    """
    data = _text_bytes(values)
    if len(data) > max_chars:
        chars = pc.utf8_length(values)
        n_long = int(pc.sum(pc.greater(chars, max_chars)).as_py() or 0)
        if n_long:
            example = f"text of {pc.max(chars).as_py()} characters"
            return Violation(
                name, "too_long", f"text of at most {max_chars} characters", n_long, example
            )
    if not data.all():  # a NUL somewhere in the bytes (perhaps behind a null slot)
        n_nul = int(pc.sum(pc.match_substring(values, "\x00")).as_py() or 0)
        if n_nul:
            expected = "text without NUL characters"
            return Violation(name, "wrong_type", expected, n_nul, "text with NUL")
    return None


def _text_bytes(values: pa.Array) -> np.ndarray:
    """Return the bytes behind a string array's slots as a numpy view (no copy)."""
    offsets, data = values.buffers()[1:3]
    if offsets is None or data is None or len(values) == 0:
        return np.ones(0, np.uint8)
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    first, last = np.frombuffer(offsets, dtype=width)[[values.offset, values.offset + len(values)]]
    return np.frombuffer(data, dtype=np.uint8)[first:last]


def kind_of_type(dtype: pa.DataType) -> FeatureKind | None:
    """Return the feature kind an Arrow type maps to, or None if unusable."""
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "categorical"
    if pa.types.is_dictionary(dtype):
        return kind_of_type(dtype.value_type)
    return None


def _example(values: pa.Array) -> Any:
    if len(values) == 0:
        return None
    value = values[0].as_py()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _as_plain(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        arr = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    else:
        arr = column
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _to_float(arr: pa.Array, name: str, kind: FeatureKind) -> tuple[FloatArray, Violation | None]:
    """Return a float64 view of ``arr`` (NaN for null) and a wrong-type violation, if any."""
    dtype = arr.type
    expected = "a number" if kind == "numeric" else "a boolean (true/false or 0/1)"
    if pa.types.is_null(dtype):
        return np.full(len(arr), np.nan), None
    if kind == "numeric" and (
        pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)
    ):
        return to_float64(arr, copy=False), None
    if kind == "boolean" and pa.types.is_boolean(dtype):
        return to_float64(arr, copy=False), None
    if kind == "boolean" and (pa.types.is_integer(dtype) or pa.types.is_floating(dtype)):
        values = to_float64(arr)
        bad = ~np.isnan(values) & (values != 0.0) & (values != 1.0)
        if bad.any():
            return _bad_rows(values, bad, name, expected, arr)
        return values, None
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        if kind == "numeric":
            ok = pc.match_substring_regex(arr, _NUMBER_RE, ignore_case=True)
        else:
            lowered = pc.utf8_trim_whitespace(pc.utf8_lower(arr))
            ok = pc.is_in(lowered, value_set=pa.array(sorted(_TRUE | _FALSE)))
        bad_mask = pc.and_(pc.is_valid(arr), pc.invert(pc.fill_null(ok, True)))
        n_bad = int(pc.sum(bad_mask).as_py() or 0)
        if n_bad:
            example = _example(pc.filter(arr, bad_mask))
            good = pc.if_else(bad_mask, pa.scalar(None, arr.type), arr)
            values = _string_to_float(good, kind)
            return values, Violation(name, "wrong_type", expected, n_bad, example)
        return _string_to_float(arr, kind), None
    n_valid = len(arr) - arr.null_count
    example = _example(pc.drop_null(arr)) if n_valid else None
    return np.full(len(arr), np.nan), Violation(
        name, "wrong_type", f"{expected}, not {dtype}", n_valid, example
    )


def _count_nan(arr: pa.Array) -> int:
    """Return how many valid entries of a floating column are NaN."""
    if not pa.types.is_floating(arr.type):
        return 0
    return int(pc.sum(pc.is_nan(pc.drop_null(arr))).as_py() or 0)


def _string_to_float(arr: pa.Array, kind: FeatureKind) -> FloatArray:
    if kind == "numeric":
        values = pc.cast(pc.utf8_trim_whitespace(arr), pa.float64())
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    lowered = pc.utf8_trim_whitespace(pc.utf8_lower(arr))
    truth = pc.is_in(lowered, value_set=pa.array(sorted(_TRUE)))
    out = np.array(pc.cast(truth, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    out[np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False))] = np.nan
    return out


def _bad_rows(
    values: FloatArray, bad: np.ndarray, name: str, expected: str, arr: pa.Array
) -> tuple[FloatArray, Violation]:
    example = arr[int(np.flatnonzero(bad)[0])].as_py()
    out = values.copy()
    out[bad] = np.nan
    return out, Violation(name, "wrong_type", expected, int(bad.sum()), example)


def _to_string(arr: pa.Array, name: str) -> tuple[pa.Array, Violation | None]:
    dtype = arr.type
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return pc.cast(arr, pa.string()), None
    if pa.types.is_null(dtype):
        return pa.nulls(len(arr), pa.string()), None
    if pa.types.is_integer(dtype) or pa.types.is_boolean(dtype):
        # Codes stored as integers (zip codes, ids): their decimal text is the category.
        return pc.cast(arr, pa.string()), None
    n_valid = len(arr) - arr.null_count
    return pa.nulls(len(arr), pa.string()), Violation(
        name, "wrong_type", f"a category (text), not {dtype}", n_valid, _example(pc.drop_null(arr))
    )


def coerce_table(table: pa.Table, schema: Schema, *, allow_extra: bool = True) -> CoercedTable:
    """Return ``table``'s columns in canonical form and all manifest violations.

    Parameters
    ----------
    table : pyarrow.Table
        Rows to check; columns are matched by name.
    schema : Schema
        The manifest.
    allow_extra : bool, default=True
        When False, a column the manifest does not name is a violation. The
        target column is never "unexpected".

    Returns
    -------
    CoercedTable
    """
    out = CoercedTable(n_rows=table.num_rows)
    present = set(table.column_names)
    if not allow_extra:
        known = set(schema.names) | ({schema.target} if schema.target else set())
        for name in table.column_names:
            if name not in known:
                out.violations.append(
                    Violation(name, "unexpected_column", "no such column (not in the manifest)")
                )
    found: dict[str, list[Violation]] = {}
    numeric: list[tuple[ColumnSchema, FloatArray, Violation | None]] = []
    for col in schema.columns:
        problems = found[col.name] = []
        if col.name not in present:
            problems.append(Violation(col.name, "missing_column", f"a {col.kind} column"))
            continue
        arr = _as_plain(table.column(col.name))
        if col.kind != "categorical":
            values, bad = _to_float(arr, col.name, col.kind)
            if bad is not None:
                problems.append(bad)
            numeric.append((col, values, bad))
            continue
        strings, bad = _to_string(arr, col.name)
        if bad is not None:
            problems.append(bad)
        out.categorical[col.name] = strings
        if col.categories is not None and bad is None:
            # one hash lookup; its result is kept for the preprocessing's codes
            index = pc.index_in(strings, value_set=_value_set(col))
            out.category_index[col.name] = index
            n_unseen = index.null_count - strings.null_count
            if n_unseen:
                unseen = pc.and_(pc.is_valid(strings), pc.is_null(index))
                problems.append(
                    Violation(
                        col.name,
                        "unseen_category",
                        f"one of {_short_list(col.categories)}",
                        n_unseen,
                        _example(pc.filter(strings, unseen)),
                    )
                )
        if strings.null_count and not col.nullable:
            problems.append(
                Violation(col.name, "null", "a value (not nullable)", strings.null_count)
            )
    if numeric:
        _check_numeric(numeric, out, found)
    for col in schema.columns:
        out.violations.extend(found[col.name])
    return out


def _check_numeric(
    numeric: list[tuple[ColumnSchema, FloatArray, Violation | None]],
    out: CoercedTable,
    found: dict[str, list[Violation]],
) -> None:
    """Stack the numeric columns into ``out.numeric_block`` and check them all at once.

    One reduction over the (columns x rows) block finds the columns that need
    a closer look (an infinity, a value outside the training range, a null
    where none is allowed); only those are examined one by one.
    """
    n = out.n_rows
    block = np.empty((len(numeric), n))
    for j, (col, values, _) in enumerate(numeric):
        block[j] = values
        out.numeric[col.name] = block[j]
    out.numeric_block = block
    out.block_names = tuple(col.name for col, _, _ in numeric)
    if n == 0:
        return
    lowest = np.fmin.reduce(block, axis=1)
    highest = np.fmax.reduce(block, axis=1)
    lo = np.array(
        [
            c.minimum if c.kind == "numeric" and c.minimum is not None else -np.inf
            for c, _, _ in numeric
        ]
    )
    hi = np.array(
        [
            c.maximum if c.kind == "numeric" and c.maximum is not None else np.inf
            for c, _, _ in numeric
        ]
    )
    all_missing = np.isnan(lowest)
    clean = all_missing | (np.isfinite(lowest) & np.isfinite(highest))
    outside = ~all_missing & ((lowest < lo) | (highest > hi))
    strict = np.array([not c.nullable for c, _, _ in numeric])
    for j in np.flatnonzero(~clean | outside | strict).tolist():
        col, _, bad = numeric[j]
        bounds = (float(lowest[j]), float(highest[j]), float(lo[j]), float(hi[j]))
        _check_column(col, block[j], bad, bounds, found[col.name])


def _check_column(
    col: ColumnSchema,
    values: FloatArray,
    bad: Violation | None,
    bounds: tuple[float, float, float, float],
    problems: list[Violation],
) -> None:
    """Report one numeric column's infinities, out-of-range values and disallowed nulls.

    ``bounds`` is (lowest value, highest value, training minimum, training maximum),
    the first two as the block's reduction found them (NaN ignored).
    """
    lowest, highest, lo, hi = bounds
    # NaN is missing, like null (the preprocessing imputes both)
    n_null = 0
    if not col.nullable:
        n_null = int(np.count_nonzero(np.isnan(values))) - (bad.n_rows if bad else 0)
    all_missing = lowest != lowest
    clean = all_missing or (math.isfinite(lowest) and math.isfinite(highest))
    if not clean:  # +-inf somewhere: a wrong type, never scored as a number
        infinite = np.isinf(values)
        first = int(np.argmax(infinite))
        problems.append(
            Violation(
                col.name,
                "wrong_type",
                "a finite number",
                int(np.count_nonzero(infinite)),
                str(values[first]),
            )
        )
    if not all_missing and (lowest < lo or highest > hi):
        # NaN compares False, infinities count as out of range too: drop those
        below = values < lo
        above = values > hi
        if not clean:
            below &= ~np.isinf(values)
            above &= ~np.isinf(values)
        outside = below | above
        n_out = int(np.count_nonzero(outside))
        if n_out:
            problems.append(
                Violation(
                    col.name,
                    "out_of_range",
                    f"a value in [{lo:g}, {hi:g}] (the training range)",
                    n_out,
                    float(values[int(np.argmax(outside))]),
                )
            )
    if n_null:
        problems.append(Violation(col.name, "null", "a value (not nullable)", n_null))


def _value_set(col: ColumnSchema) -> pa.Array:
    """Return the manifest's categories as an Arrow array (built once per column)."""
    return col.category_array


def _short_list(values: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return f"[{shown}{more}]"


def infer_column(
    name: str,
    column: pa.ChunkedArray | pa.Array,
    *,
    kind: FeatureKind | None = None,
    sample_weight: FloatArray | None = None,
) -> ColumnSchema:
    """Infer one column's manifest entry from training values.

    Raises :class:`InvalidInputError` for columns that cannot be features: all
    null, or of an unsupported type (dates, lists, binary).
    """
    arr = _as_plain(column)
    n = len(arr)
    if n == 0 or arr.null_count == n:
        raise InvalidInputError(
            f"Column {name!r} is entirely null; drop it from the features or fix the data.",
            field=name,
            expected="at least one non-null value",
            got="all null",
        )
    inferred = kind_of_type(arr.type)
    if kind is None:
        if inferred is None:
            raise InvalidInputError(
                f"Column {name!r} has type {arr.type}, which cannot be a feature; "
                "expected numbers, booleans or text.",
                field=name,
                expected="a numeric, boolean or text column",
                got=str(arr.type),
            )
        kind = inferred
    missing_rate = (arr.null_count + _count_nan(arr)) / n
    if kind == "categorical":
        strings, bad = _to_string(arr, name)
        if bad is not None:
            raise InvalidInputError(
                f"Column {name!r} cannot be categorical: {bad.message()}",
                field=name,
                expected=bad.expected,
                got=bad.example,
            )
        cats = pc.unique(pc.drop_null(strings)).to_pylist()
        return ColumnSchema(
            name=name,
            kind="categorical",
            dtype=str(arr.type),
            nullable=True,
            categories=tuple(sorted(str(c) for c in cats)),
            missing_rate=missing_rate,
        )
    values, bad = _to_float(arr, name, kind)
    if bad is not None:
        raise InvalidInputError(
            f"Column {name!r} cannot be {kind}: {bad.message()}",
            field=name,
            expected=bad.expected,
            got=bad.example,
        )
    finite_mask = np.isfinite(values)
    if (~np.isnan(values) & ~finite_mask).any():
        raise InvalidInputError(
            f"Column {name!r} holds infinite values; replace them or mark them missing.",
            field=name,
            expected="finite numbers",
            got="inf",
        )
    finite = values[finite_mask]
    if finite.size == 0:
        raise InvalidInputError(
            f"Column {name!r} has no finite values (only nulls and NaN).",
            field=name,
            expected="at least one finite value",
            got="all missing",
        )
    weights = sample_weight[finite_mask] if sample_weight is not None else None
    quantiles = _weighted_quantiles(finite, weights, QUANTILE_LEVELS)
    return ColumnSchema(
        name=name,
        kind=kind,
        dtype=str(arr.type),
        nullable=True,
        minimum=float(finite.min()),
        maximum=float(finite.max()),
        quantiles=tuple(float(q) for q in quantiles),
        missing_rate=missing_rate,
    )


def _weighted_quantiles(
    values: FloatArray, weights: FloatArray | None, levels: Sequence[float]
) -> FloatArray:
    """Return quantiles by the inverted empirical CDF (weighted when weights are given)."""
    if weights is None:
        return np.quantile(values, levels, method="inverted_cdf")
    return np.quantile(values, levels, weights=weights, method="inverted_cdf")


def infer_schema(
    table: pa.Table,
    *,
    target: str | None = None,
    features: Sequence[str] | None = None,
    kinds: Mapping[str, FeatureKind] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    sample_weight: FloatArray | None = None,
) -> Schema:
    """Infer the manifest of ``table``'s feature columns.

    Parameters
    ----------
    table : pyarrow.Table
        Training rows.
    target : str, optional
        The target column; never a feature.
    features : sequence of str, optional
        Feature columns in order; default all columns but the target.
    kinds : mapping, optional
        Kinds that override inference (a numeric code that is a category).
    overrides : mapping, optional
        Per column, manifest fields fixed by the user (``nullable``,
        ``categories``, ``minimum``, ``maximum``).
    sample_weight : ndarray, optional
        Row weights for the quantiles.

    Returns
    -------
    Schema
    """
    names = (
        list(features) if features is not None else [c for c in table.column_names if c != target]
    )
    if target is not None and target in names:
        raise InvalidInputError(
            f"The target {target!r} is also listed as a feature.",
            field=target,
            expected="the target not among the features",
            got=target,
        )
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise InvalidInputError(
            f"The data has no column(s) {missing}.",
            field=missing[0],
            expected="a column of that name",
            got=None,
        )
    columns = []
    for name in names:
        col = infer_column(
            name,
            table.column(name),
            kind=(kinds or {}).get(name),
            sample_weight=sample_weight,
        )
        fixed = dict((overrides or {}).get(name, {}))
        unknown = set(fixed) - {"nullable", "categories", "minimum", "maximum"}
        if unknown:
            raise InvalidInputError(
                f"Unknown manifest override(s) {sorted(unknown)} for column {name!r}.",
                field=name,
                expected="nullable, categories, minimum or maximum",
                got=sorted(unknown),
            )
        if "categories" in fixed and fixed["categories"] is not None:
            fixed["categories"] = tuple(str(c) for c in fixed["categories"])
        col = replace(col, **fixed)
        columns.append(col)
    if not columns:
        raise InvalidInputError(
            "There are no feature columns.", field="features", expected="at least one", got=0
        )
    return Schema(columns=tuple(columns), target=target)
