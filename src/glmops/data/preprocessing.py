"""The fitted feature pipeline: ONE implementation for training, batch scoring and serving.

Each input column becomes one step:

- numeric / boolean: impute (median, mean, most frequent or a constant, with
  an optional missing indicator) -> winsorize at training quantiles -> log1p
  -> weighted standardization;
- categorical: a lookup table with one row per training category (plus a
  row for unseen values) whose columns are the step's outputs. One-hot,
  out-of-fold target encoding and feature hashing differ only in the table.
  Rare categories (below ``min_frequency`` or past ``max_categories``) share
  one ``__rare__`` column; an unseen value goes to the rare column when there
  is one, else to the unknown bucket, which encodes as zeros (one-hot), the
  training prior (target encoding) or its own hash (hashing).

The fitted state is plain numbers and strings (:meth:`Preprocessor.to_dict`),
never pickled objects. Batches run column by column on Arrow/numpy; a single
record runs through plain Python with the same floating-point operations in
the same order, so both paths give bit-identical features.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from glmops import _arrow
from glmops._typing import FloatArray, IntArray
from glmops.data.schema import (
    CoercedTable,
    ColumnSchema,
    Schema,
    Violation,
    coerce_table,
)

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    from glmops._arrow import pa, pc

__all__ = [
    "MISSING",
    "RARE",
    "CategoricalStep",
    "NumericStep",
    "Preprocessor",
    "hash_bucket",
    "weighted_quantile",
]

MISSING = "__missing__"
RARE = "__rare__"
TargetKind = Literal["regression", "binary", "multinomial"]


def _fill_token(fill_value: str | None) -> str:
    """Return what a null becomes: the fill value when imputing, else the MISSING category."""
    return MISSING if fill_value is None else fill_value


def weighted_quantile(values: FloatArray, q: Any, weights: FloatArray | None = None) -> FloatArray:
    """Return quantiles by the averaged inverted CDF, weighted when ``weights`` are given.

    Where the cumulative weight hits ``q * W`` exactly, the two neighbouring
    values are averaged: with unit weights this is numpy's
    ``method="averaged_inverted_cdf"`` (the median is ``np.median``), and
    integer weights give the same result as repeated rows.
    """
    order = np.argsort(values, kind="stable")
    v = values[order]
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=np.float64)[order]
    keep = w > 0
    v, w = v[keep], w[keep]
    cw = np.cumsum(w)
    total = cw[-1]
    levels = np.atleast_1d(np.asarray(q, dtype=np.float64))
    out = np.empty(levels.shape)
    for k, level in enumerate(levels):
        target = level * total
        i = min(int(np.searchsorted(cw, target, side="left")), v.size - 1)
        exact = i + 1 < v.size and abs(cw[i] - target) <= 1e-12 * total
        out[k] = 0.5 * (v[i] + v[i + 1]) if exact else v[i]
    return out


def hash_bucket(token: str, n_buckets: int) -> tuple[int, float]:
    """Return the bucket and sign of ``token`` exactly as scikit-learn's FeatureHasher.

    Signed 32-bit MurmurHash3 (seed 0) of the UTF-8 bytes; the bucket is
    ``|h| mod n_buckets`` and the sign is -1 when ``h < 0``.
    """
    from sklearn.utils import murmurhash3_32

    h = int(murmurhash3_32(token, seed=0, positive=False))
    index = (2147483647 - (n_buckets - 1)) % n_buckets if h == -2147483648 else abs(h) % n_buckets
    return index, (1.0 if h >= 0 else -1.0)


@dataclass(frozen=True)
class NumericStep:
    """A fitted numeric or boolean column: impute, clip, log1p, standardize.

    ``impute_value`` None means a null is an error. ``center``/``scale`` are
    0/1 when the column is not standardized.
    """

    name: str
    kind: Literal["numeric", "boolean"]
    impute_value: float | None
    indicator: bool
    clip_low: float | None
    clip_high: float | None
    log1p: bool
    log_floor: float
    center: float
    scale: float
    indicator_center: float = 0.0
    indicator_scale: float = 1.0

    @property
    def outputs(self) -> list[str]:
        """Return the names of the columns this step writes."""
        return [self.name, f"{self.name}__missing"] if self.indicator else [self.name]

    def apply(self, x: FloatArray) -> FloatArray:
        """Return the transformed values of ``x`` (NaN = missing; must be imputable)."""
        missing = np.isnan(x)
        if self.impute_value is not None:
            x = np.where(missing, self.impute_value, x)
        if self.clip_low is not None:
            x = np.maximum(x, self.clip_low)
        if self.clip_high is not None:
            x = np.minimum(x, self.clip_high)
        if self.log1p:
            x = np.log1p(np.maximum(x, self.log_floor))
        return (x - self.center) / self.scale

    def apply_raw(self, x: FloatArray) -> FloatArray:
        """Return impute -> clip -> log1p of ``x`` (no standardization), in a new array."""
        out = (
            np.where(np.isnan(x), self.impute_value, x)
            if self.impute_value is not None
            else x.copy()
        )
        if self.clip_low is not None:
            np.maximum(out, self.clip_low, out=out)
        if self.clip_high is not None:
            np.minimum(out, self.clip_high, out=out)
        if self.log1p:
            np.maximum(out, self.log_floor, out=out)
            np.log1p(out, out=out)
        return out

    def apply_one(self, x: float) -> float:
        """Return the transformed value of one ``x``: the same operations as :meth:`apply`."""
        if x != x and self.impute_value is not None:
            x = self.impute_value
        if self.clip_low is not None:
            x = max(x, self.clip_low)
        if self.clip_high is not None:
            x = min(x, self.clip_high)
        if self.log1p:
            x = float(np.log1p(np.float64(max(x, self.log_floor))))
        return (x - self.center) / self.scale

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON values."""
        return {
            "type": "numeric",
            "name": self.name,
            "kind": self.kind,
            "impute_value": self.impute_value,
            "indicator": self.indicator,
            "clip_low": self.clip_low,
            "clip_high": self.clip_high,
            "log1p": self.log1p,
            "log_floor": self.log_floor,
            "center": self.center,
            "scale": self.scale,
            "indicator_center": self.indicator_center,
            "indicator_scale": self.indicator_scale,
        }


@dataclass(frozen=True)
class CategoricalStep:
    """A fitted categorical column: category -> row of ``table``.

    ``categories`` are the training values (``MISSING`` stands for null when
    training had nulls). ``table`` has one row per category plus a last row
    for unseen values; its columns are the step's outputs (already
    standardized). Hashing has no table: rows are hashed per distinct value.
    """

    name: str
    encoding: Literal["onehot", "target", "hash"]
    categories: tuple[str, ...]
    table: FloatArray
    output_names: tuple[str, ...]
    fill_value: str | None = None
    rare: tuple[str, ...] = ()
    n_buckets: int = 0
    center: FloatArray = field(default_factory=lambda: np.zeros(0))
    scale: FloatArray = field(default_factory=lambda: np.ones(0))
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({c: i for i, c in enumerate(self.categories)})

    @cached_property
    def _category_array(self) -> pa.Array:
        """The categories as an Arrow array, built once."""
        return _arrow.strings(list(self.categories))

    @property
    def outputs(self) -> list[str]:
        """Return the names of the columns this step writes."""
        return list(self.output_names)

    @property
    def unknown_code(self) -> int:
        """Return the table row used for unseen values."""
        return len(self.categories)

    def _token(self, value: str | None) -> str:
        if value is None:
            return _fill_token(self.fill_value)
        return value

    def code_one(self, value: str | None) -> int:
        """Return the table row of one value (None = null)."""
        return self._index.get(self._token(value), self.unknown_code)

    def codes(self, strings: pa.Array) -> IntArray:
        """Return the table row of every value of an Arrow string array."""
        filled = (
            pc.coalesce(strings, _arrow.repeat_string(_fill_token(self.fill_value), len(strings)))
            if strings.null_count
            else strings
        )
        index = pc.index_in(filled, value_set=self._category_array)
        return _arrow.to_int(index, null=self.unknown_code)

    def hashed_row(self, value: str | None) -> FloatArray:
        """Return the standardized hashed outputs of one value."""
        row = np.zeros(self.n_buckets)
        bucket, sign = hash_bucket(f"{self.name}={self._token(value)}", self.n_buckets)
        row[bucket] = sign
        return (row - self.center) / self.scale

    def rows_for(self, strings: pa.Array) -> tuple[FloatArray, IntArray]:
        """Return (table, codes) for a batch; hashing builds its table per distinct value."""
        if self.encoding != "hash":
            return self.table, self.codes(strings)
        filled = (
            pc.fill_null(strings, _fill_token(self.fill_value)) if strings.null_count else strings
        )
        encoded = (
            pc.dictionary_encode(filled).combine_chunks()
            if isinstance(filled, pa.ChunkedArray)
            else pc.dictionary_encode(filled)
        )
        values = encoded.dictionary.to_pylist()
        table = np.empty((len(values), self.n_buckets))
        for i, value in enumerate(values):
            table[i] = self.hashed_row(value)
        codes = _arrow.to_int(encoded.indices)
        return table, codes

    def row_one(self, value: str | None) -> FloatArray:
        """Return the outputs of one value (a row of the table)."""
        if self.encoding == "hash":
            return self.hashed_row(value)
        row: FloatArray = self.table[self.code_one(value)]
        return row

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON values.

        One-hot tables are stored as the output column of each row (-1: none)
        and rebuilt on load with the same arithmetic, so they stay small and
        bit-identical; target-encoding tables are stored as nested lists.
        """
        encoded: dict[str, Any]
        if self.encoding == "onehot":
            raw = self.table * self.scale + self.center  # undo: rows are one-hot again
            hot = np.isclose(raw, 1.0)
            columns = np.where(hot.any(axis=1), hot.argmax(axis=1), -1)
            encoded = {"columns": columns.tolist()}
        else:
            encoded = {"table": self.table.tolist()}
        return {
            "type": "categorical",
            "name": self.name,
            "encoding": self.encoding,
            "categories": list(self.categories),
            **encoded,
            "output_names": list(self.output_names),
            "fill_value": self.fill_value,
            "rare": list(self.rare),
            "n_buckets": self.n_buckets,
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
        }


Step = NumericStep | CategoricalStep


def _step_from_dict(data: Mapping[str, Any]) -> Step:
    if data["type"] == "numeric":
        fields = {k: v for k, v in data.items() if k != "type"}
        return NumericStep(**fields)
    n_out = len(data["output_names"])
    center = np.asarray(data.get("center", []), dtype=np.float64)
    scale = np.asarray(data.get("scale", []), dtype=np.float64)
    if "columns" in data:
        table = _onehot_table(np.asarray(data["columns"], dtype=np.intp), n_out, center, scale)
    else:
        table = np.asarray(data["table"], dtype=np.float64).reshape(-1, n_out)
    return CategoricalStep(
        name=data["name"],
        encoding=data["encoding"],
        categories=tuple(data["categories"]),
        table=table,
        output_names=tuple(data["output_names"]),
        fill_value=data.get("fill_value"),
        rare=tuple(data.get("rare", ())),
        n_buckets=int(data.get("n_buckets", 0)),
        center=center,
        scale=scale,
    )


def _onehot_table(
    columns: np.ndarray, n_out: int, center: FloatArray, scale: FloatArray
) -> FloatArray:
    """Return the standardized one-hot table whose row i has a 1 in ``columns[i]``."""
    table = np.zeros((columns.shape[0], n_out))
    rows = np.flatnonzero(columns >= 0)
    table[rows, columns[rows]] = 1.0
    if center.size:
        table = (table - center) / scale
    return table


def _add_numeric(
    step: NumericStep,
    x: FloatArray,
    block: FloatArray,
    columns: FloatArray,
    offset: FloatArray,
    scratch: FloatArray,
) -> None:
    """Add one numeric step's share of the linear score, column by column."""
    if block[:, 0].any():
        raw = step.apply_raw(x)
        for k in range(block.shape[0]):
            b = block[k, 0] / step.scale
            offset[k] -= step.center * b
            np.multiply(raw, b, out=scratch)
            columns[k] += scratch
    if step.indicator and block[:, 1].any():
        missing = np.isnan(x)
        for k in range(block.shape[0]):
            b = block[k, 1] / step.indicator_scale
            offset[k] -= step.indicator_center * b
            np.multiply(missing, b, out=scratch)
            columns[k] += scratch


@dataclass(frozen=True)
class _BlockPlan:
    """Every numeric step at once, over the coerced (columns x rows) numeric block.

    The same operations as :meth:`NumericStep.apply_raw` (impute, clip,
    log1p), done on the block's active rows together, then one matrix
    product per class set instead of one pass per column.
    """

    rows: IntArray  # block row of each numeric step
    value_cols: IntArray  # its column in the design matrix
    impute: FloatArray  # NaN: not imputed
    clip_low: FloatArray  # -inf: not clipped
    clip_high: FloatArray  # +inf: not clipped
    log_rows: tuple[int, ...]  # positions (in the steps) that take log1p
    log_floor: FloatArray
    center: FloatArray
    scale: FloatArray
    ind_steps: IntArray  # positions of the steps with a missing indicator
    ind_cols: IntArray
    ind_center: FloatArray
    ind_scale: FloatArray

    @classmethod
    def build(cls, steps: Sequence[Step], block_names: tuple[str, ...]) -> _BlockPlan | None:
        where = {name: i for i, name in enumerate(block_names)}
        numeric: list[tuple[NumericStep, int]] = []
        j = 0
        for step in steps:
            if isinstance(step, NumericStep):
                if step.name not in where:
                    return None
                numeric.append((step, j))
            j += len(step.outputs)

        def floats(values: Iterable[float]) -> FloatArray:
            return np.array(list(values), dtype=np.float64)

        nan, inf = np.nan, np.inf
        return cls(
            rows=np.array([where[s.name] for s, _ in numeric], dtype=np.intp),
            value_cols=np.array([j for _, j in numeric], dtype=np.intp),
            impute=floats(nan if s.impute_value is None else s.impute_value for s, _ in numeric),
            clip_low=floats(-inf if s.clip_low is None else s.clip_low for s, _ in numeric),
            clip_high=floats(inf if s.clip_high is None else s.clip_high for s, _ in numeric),
            log_rows=tuple(i for i, (s, _) in enumerate(numeric) if s.log1p),
            log_floor=floats(s.log_floor for s, _ in numeric),
            center=floats(s.center for s, _ in numeric),
            scale=floats(s.scale for s, _ in numeric),
            ind_steps=np.array([i for i, (s, _) in enumerate(numeric) if s.indicator], np.intp),
            ind_cols=np.array([j + 1 for s, j in numeric if s.indicator], dtype=np.intp),
            ind_center=floats(s.indicator_center for s, _ in numeric if s.indicator),
            ind_scale=floats(s.indicator_scale for s, _ in numeric if s.indicator),
        )

    def add(
        self, block: FloatArray, coef: FloatArray, columns: FloatArray, offset: FloatArray
    ) -> None:
        """Add the numeric steps' share of the linear score to ``columns`` and ``offset``."""
        weights = coef[:, self.value_cols] / self.scale  # (K, m)
        active = np.flatnonzero(weights.any(axis=0))
        if active.size:
            X = block[self.rows[active]]  # a copy: the block keeps its NaN
            missing = np.isnan(X)
            impute = self.impute[active]
            if missing.any():
                np.copyto(X, impute[:, None], where=missing & ~np.isnan(impute)[:, None])
            low, high = self.clip_low[active], self.clip_high[active]
            if np.isfinite(low).any():
                np.maximum(X, low[:, None], out=X)
            if np.isfinite(high).any():
                np.minimum(X, high[:, None], out=X)
            for i in np.flatnonzero(np.isin(active, self.log_rows)).tolist():
                np.maximum(X[i], self.log_floor[active[i]], out=X[i])
                np.log1p(X[i], out=X[i])
            w = weights[:, active]
            columns += w @ X
            offset -= w @ self.center[active]
        if self.ind_steps.size:
            weights = coef[:, self.ind_cols] / self.ind_scale
            active = np.flatnonzero(weights.any(axis=0))
            if active.size:
                missing = np.isnan(block[self.rows[self.ind_steps[active]]]).astype(np.float64)
                w = weights[:, active]
                columns += w @ missing
                offset -= w @ self.ind_center[active]


@dataclass(frozen=True)
class Preprocessor:
    """The fitted feature pipeline of a model; see the module docstring."""

    schema: Schema
    steps: tuple[Step, ...]

    @cached_property
    def feature_names_out(self) -> list[str]:
        """Return the names of the design-matrix columns, in order."""
        return [name for step in self.steps for name in step.outputs]

    @cached_property
    def n_features_out(self) -> int:
        """Return the number of design-matrix columns."""
        return sum(len(step.outputs) for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """Return the fitted state as plain JSON values."""
        return {
            "schema": self.schema.to_dict(),
            "steps": [step.to_dict() for step in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessor:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            schema=Schema.from_dict(data["schema"]),
            steps=tuple(_step_from_dict(s) for s in data["steps"]),
        )

    # -- batches -------------------------------------------------------------------

    def coerce(self, table: pa.Table | CoercedTable, *, allow_extra: bool = True) -> CoercedTable:
        """Return ``table`` in canonical form with its violations (no transform)."""
        if isinstance(table, CoercedTable):
            return table
        return coerce_table(table, self.schema, allow_extra=allow_extra)

    def blocking_violations(self, data: CoercedTable) -> list[Violation]:
        """Return the violations that make ``data`` unscorable (all of them).

        Missing columns, wrong types, and nulls in a column that is not
        nullable or not imputed; unseen categories and out-of-range values do
        not block (they are encoded like in training).
        """
        blocking = [v for v in data.violations if v.kind in ("missing_column", "wrong_type")]
        not_imputed = {
            s.name for s in self.steps if isinstance(s, NumericStep) and s.impute_value is None
        } | {c.name for c in self.schema.columns if not c.nullable}
        flagged = set()
        for v in data.violations:
            if v.kind == "null" and v.column in not_imputed:
                blocking.append(v)
                flagged.add(v.column)
        for step in self.steps:
            if (
                isinstance(step, NumericStep)
                and step.impute_value is None
                and step.name not in flagged
                and step.name in data.numeric
            ):
                n = int(np.isnan(data.numeric[step.name]).sum())
                if n:
                    blocking.append(
                        Violation(step.name, "null", "a value (the pipeline does not impute it)", n)
                    )
        return blocking

    def _check_usable(self, data: CoercedTable) -> None:
        blocking = self.blocking_violations(data)
        if blocking:
            CoercedTable(data.n_rows, violations=blocking).raise_for({v.kind for v in blocking})

    def transform(self, table: pa.Table | CoercedTable) -> FloatArray:
        """Return the design matrix (Fortran order) of a batch.

        Raises :class:`~glmops.errors.SchemaValidationError` when a column is
        missing or of the wrong type, or a non-imputed column has nulls.
        Unseen categories and out-of-range values are encoded, not refused.
        """
        data = self.coerce(table)
        self._check_usable(data)
        X = np.empty((data.n_rows, self.n_features_out), order="F")
        j = 0
        for step in self.steps:
            if isinstance(step, NumericStep):
                x = data.numeric[step.name]
                X[:, j] = step.apply(x)
                if step.indicator:
                    X[:, j + 1] = (np.isnan(x) - step.indicator_center) / step.indicator_scale
            else:
                rows, codes = self._rows_and_codes(step, data)
                X[:, j : j + len(step.outputs)] = rows[codes]
            j += len(step.outputs)
        return X

    def _rows_and_codes(self, step: CategoricalStep, data: CoercedTable) -> tuple[Any, IntArray]:
        """Return (table, codes), reusing the manifest check's category lookup when it fits."""
        index = data.category_index.get(step.name)
        col = self.schema[step.name]
        cats = col.categories or ()
        if index is None or step.encoding == "hash" or step.categories[: len(cats)] != cats:
            return step.rows_for(data.categorical[step.name])
        codes = _arrow.to_int(index, null=step.unknown_code)
        values = data.categorical[step.name]
        if values.null_count:
            codes[_arrow.to_bool(pc.is_null(values))] = step.code_one(None)
        return step.table, codes

    def linear_predictor(
        self, table: pa.Table | CoercedTable, coef: FloatArray, intercept: FloatArray
    ) -> FloatArray:
        """Return ``X @ coef.T + intercept`` without building X.

        ``coef`` has shape (K, n_features_out). Categorical steps score their
        small table once and gather by code, so the cost is a few passes over
        the numeric columns plus one hash lookup per categorical value.
        """
        data = self.coerce(table)
        self._check_usable(data)
        coef = np.atleast_2d(coef)
        K = coef.shape[0]
        # standardization folds into the coefficients: (x - c) / s * b = x * (b / s) - c * b / s
        offset = np.array(intercept, dtype=np.float64, copy=True).reshape(K)
        columns = np.zeros((K, data.n_rows))  # one contiguous row per class
        plan = None
        if data.numeric_block is not None:
            plan = self._block_plan(data.block_names)
            if plan is not None:
                plan.add(data.numeric_block, coef, columns, offset)
        scratch = np.empty(data.n_rows)
        j = 0
        for step in self.steps:
            block = coef[:, j : j + len(step.outputs)]
            if isinstance(step, NumericStep):
                if plan is None:
                    _add_numeric(step, data.numeric[step.name], block, columns, offset, scratch)
            elif block.any():
                rows, codes = self._rows_and_codes(step, data)
                scores = rows @ block.T
                for k in range(K):
                    columns[k] += scores[:, k][codes]
            j += len(step.outputs)
        columns += offset[:, None]
        return np.ascontiguousarray(columns.T)

    def _block_plan(self, block_names: tuple[str, ...]) -> _BlockPlan | None:
        """Return the whole-block plan of the numeric steps (None if a step's column is not
        in the block), built once per block layout."""
        plans = self._block_plans
        if block_names not in plans:
            if len(plans) > 8:
                plans.clear()
            plans[block_names] = _BlockPlan.build(self.steps, block_names)
        return plans[block_names]

    @cached_property
    def _block_plans(self) -> dict[tuple[str, ...], _BlockPlan | None]:
        return {}

    # -- single records ------------------------------------------------------------

    @cached_property
    def _record_plan(self) -> list[tuple[Any, ...]]:
        """Per column, the constants the single-record path needs, looked up once."""
        plan: list[tuple[Any, ...]] = []
        j = 0
        for step, col in zip(self.steps, self.schema.columns, strict=True):
            width = len(step.outputs)
            bounded = col.kind == "numeric" and col.minimum is not None and col.maximum is not None
            if isinstance(step, NumericStep):
                # a step that only imputes and standardizes is applied inline (the same
                # operations as NumericStep.apply_one, without the call)
                plain = step.clip_low is None and step.clip_high is None and not step.log1p
                plan.append(
                    (
                        col.name,
                        j,
                        width,
                        step,
                        col,
                        bounded,
                        step.impute_value is None or not col.nullable,
                        col.kind == "numeric",
                        plain,
                    )
                )
            else:
                known = frozenset(col.categories) if col.categories is not None else None
                plan.append((col.name, j, width, step, col, known, not col.nullable, False, False))
            j += width
        return plan

    def transform_record(
        self,
        record: Mapping[str, Any],
        *,
        allow_extra: bool = True,
        nulls: list[str] | None = None,
    ) -> tuple[FloatArray, list[Violation]]:
        """Return the feature vector of one record and the violations found in it.

        Missing fields, wrong types and nulls that cannot be imputed raise
        :class:`~glmops.errors.SchemaValidationError` (all of them at once);
        unseen categories and out-of-range values are returned as violations
        and encoded like the batch path does. ``nulls``, when given, receives
        the name of each feature whose value is ``None`` (in manifest order).
        """
        out = np.empty(self.n_features_out)
        errors: list[Violation] = []
        notes: list[Violation] = []
        if not allow_extra:
            known_fields = set(self.schema.names) | {self.schema.target}
            errors.extend(
                Violation(str(k), "unexpected_column", "no such field (not in the manifest)", 1)
                for k in record
                if k not in known_fields
            )
        for name, j, width, step, col, extra, strict_null, is_number, plain in self._record_plan:
            if name not in record:
                errors.append(Violation(name, "missing_column", f"a {col.kind} field", 1))
                continue
            value = record[name]
            if value is None and nulls is not None:
                nulls.append(name)
            if isinstance(step, NumericStep):
                if value is None:
                    x = math.nan
                elif is_number and (type(value) is float or type(value) is int):
                    try:
                        x = float(value)
                    except OverflowError:
                        x = math.inf
                    if x - x != 0.0 and x == x:  # inf (NaN is missing, as in a frame)
                        errors.append(
                            Violation(name, "wrong_type", "a finite number", 1, str(value))
                        )
                        continue
                else:
                    number = _record_number(value, col, errors)
                    if number is None:
                        continue
                    x = number
                if x != x:
                    if strict_null:
                        errors.append(Violation(name, "null", "a value (not nullable)", 1))
                        continue
                elif extra and (x < col.minimum or x > col.maximum):
                    notes.append(
                        Violation(
                            name,
                            "out_of_range",
                            f"a value in [{col.minimum:g}, {col.maximum:g}]",
                            1,
                            x,
                        )
                    )
                if plain:
                    filled = step.impute_value if x != x and step.impute_value is not None else x
                    out[j] = (filled - step.center) / step.scale
                else:
                    out[j] = step.apply_one(x)
                if width == 2:
                    out[j + 1] = (float(x != x) - step.indicator_center) / step.indicator_scale
                continue
            text = value if value is None or type(value) is str else None
            if text is None and value is not None:
                text = _record_category(value, col, errors)
                if text is _BAD:
                    continue
            if text is None and strict_null:
                errors.append(Violation(name, "null", "a value (not nullable)", 1))
                continue
            if text is not None and extra is not None and text not in extra:
                notes.append(Violation(name, "unseen_category", "a training category", 1, text))
            if width == 1 or step.encoding == "hash":
                out[j : j + width] = step.row_one(text)
            else:
                out[j : j + width] = step.table[step.code_one(text)]
        if errors:
            CoercedTable(1, violations=errors).raise_for({v.kind for v in errors})
        return out, notes


_BAD = object()


def _record_number(value: Any, col: ColumnSchema, errors: list[Violation]) -> float | None:
    """Return a record's numeric/boolean value as float (NaN = null); None if unusable."""
    if value is None or (isinstance(value, float | np.floating) and value != value):
        return math.nan  # NaN is missing, as in a frame
    if col.kind == "boolean":
        if isinstance(value, bool | np.bool_):
            return 1.0 if value else 0.0
        if isinstance(value, int | np.integer) and value in (0, 1):
            return float(value)
        errors.append(Violation(col.name, "wrong_type", "a boolean (true/false)", 1, value))
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        errors.append(Violation(col.name, "wrong_type", "a number", 1, value))
        return None
    try:
        x = float(value)
    except OverflowError:
        errors.append(Violation(col.name, "wrong_type", "a finite number", 1, str(value)))
        return None
    if math.isinf(x):
        errors.append(Violation(col.name, "wrong_type", "a finite number", 1, str(value)))
        return None
    return x


def _record_category(value: Any, col: ColumnSchema, errors: list[Violation]) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    errors.append(Violation(col.name, "wrong_type", "a category (text)", 1, value))
    return _BAD
