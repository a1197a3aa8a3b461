"""The prediction log: a bounded queue drained by one writer thread into Parquet files.

The request path appends one entry per answered request to a deque (no
I/O, no lock wait, no copy: the entry holds the request's parsed rows and
its decision values). The writer thread turns queued entries into Arrow
tables a few times a second, so the backlog of Python objects stays small,
and writes each model version's buffered rows as one file every
``flush_interval_s`` (or at ``rows_per_file``) through
:class:`glmops.logstore.LogFiles`. When the queue is full a request's rows
are dropped and counted; a file that still fails after retries is dropped
and counted too: never silent, never blocking a prediction.

PII: ``hash_fields`` are replaced by a keyed hash (HMAC-SHA256 with
``GLMOPS_LOG_HASH_KEY``; joinable across restarts only with that key set)
and ``drop_fields`` are never stored. Both happen in the writer thread.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from glmops import _arrow
from glmops.config import PredictionLogConfig
from glmops.logstore import INPUT_PREFIX, PROBA_PREFIX, LogFiles
from glmops.serving.metrics import ServingMetrics
from glmops.serving.routing import Slot
from glmops.serving.worker import BackgroundWorker

__all__ = ["Entry", "PredictionLog"]

logger = logging.getLogger(__name__)

_RETRIES = 3
# queued rows that wake the writer, and the most it converts while holding the GIL
# (~0.7 ms for 256 single-row requests of 30 features): a request waits at most that long
_CONVERT_ROWS = 256
_ARROW_TYPE = {"numeric": pa.float64(), "boolean": pa.bool_(), "categorical": pa.string()}
_TIME = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Entry:
    """One answered (or shadow-scored) request, as the request path left it."""

    request_id: str
    time: float  # unix seconds
    slot: Slot
    entity_key: str | None  # the request's (header or first row's field)
    rows: Any  # glmops.serving.inference.Rows
    table: pa.Table | None  # the validated feature table (batch path), or None
    decision: np.ndarray  # (n, K) decision values as answered
    latency_ms: float


@dataclass(frozen=True)
class _Queued:
    """What the queue keeps of an entry: a batch keeps its validated Arrow table (and its
    rows' entity keys), never the parsed JSON, so a backlog stays small."""

    request_id: str
    time: float
    slot: Slot
    entity_key: str | None
    n: int
    values: list[tuple[Any, ...]] | None  # record-path rows: the kept features, in order
    table: pa.Table | None
    entities: pa.Array | None  # each row's entity key (batches whose rows carry one)
    decision: np.ndarray
    latency_ms: float


class PredictionLog(BackgroundWorker[_Queued]):
    """Queue answered requests and write them as Parquet files, off the request path.

    Parameters
    ----------
    config : PredictionLogConfig
        Queue bound, file cadence, PII fields; ``config.path`` is the log's root.
    metrics : ServingMetrics
        Written, dropped and queued rows are counted there.
    entity_fields : mapping, optional
        Model name -> the field holding each row's entity key (logged per row).
    """

    def __init__(
        self,
        config: PredictionLogConfig,
        metrics: ServingMetrics,
        entity_fields: Mapping[str, str | None] | None = None,
    ) -> None:
        super().__init__("glmops-predlog", min(0.5, config.flush_interval_s))
        self.config = config
        self.metrics = metrics
        self.files = LogFiles(config.path, config.storage_options)
        self.entity_fields = dict(entity_fields or {})
        self._hash_fields = frozenset(config.hash_fields)
        self._drop_fields = frozenset(config.drop_fields)
        key = os.environ.get("GLMOPS_LOG_HASH_KEY")
        if self._hash_fields and not key:
            logger.warning(
                "prediction_log.hash_fields is set but GLMOPS_LOG_HASH_KEY is not: hashes use a "
                "random key and will not match across restarts"
            )
        self._key = (key or secrets.token_hex(32)).encode()
        self._count = threading.Lock()
        self._queued = 0  # rows in the deque
        self._buffered = 0  # rows converted, waiting for their file
        # (model, version) -> (tables, rows, monotonic time of the oldest row)
        self._buffers: dict[tuple[str, int], tuple[list[pa.Table], int, float]] = {}
        # id(model) -> (model, kept columns, their names): the model is kept so that its
        # id cannot be reused by another while cached
        self._layouts: dict[int, tuple[Any, tuple[Any, ...], tuple[str, ...]]] = {}
        self._flush_asked = 0
        self._flush_done = 0
        self.written = 0
        self.dropped = 0

    # -- request path ----------------------------------------------------------------

    def append(self, entry: Entry) -> None:
        """Queue one answered request; dropped and counted when the log is full."""
        n = entry.rows.n
        with self._count:
            full = self._queued + self._buffered + n > self.config.queue_size
            if not full:
                self._queued += n
        if full:
            self.dropped += n
            self.metrics.child(self.metrics.log_dropped, "queue_full").inc(n)
            return
        field = self.entity_fields.get(entry.slot.name)
        batch = entry.table is not None
        self._put(
            _Queued(
                entry.request_id,
                entry.time,
                entry.slot,
                entry.entity_key,
                n,
                None if batch else self._row_values(entry),
                entry.table,
                _raw_column(entry.rows, field) if field is not None and n > 1 else None,
                entry.decision,
                entry.latency_ms,
            ),
            wake=self._queued >= _CONVERT_ROWS,
        )

    @property
    def pending(self) -> int:
        """Rows not yet in a file (queued or buffered)."""
        return self._queued + self._buffered

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Write every queued and buffered row to files; return whether it finished in time."""
        with self._count:
            self._flush_asked += 1
            asked = self._flush_asked
        deadline = time.monotonic() + timeout_s
        while self._flush_done < asked:
            self._idle.clear()
            self._wake.set()
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            time.sleep(0.002)
        return True

    # -- writer thread ---------------------------------------------------------------

    def _has_work(self) -> bool:
        return bool(self._buffers) or self._flush_done < self._flush_asked

    def drain(self) -> None:
        """Convert queued entries to Arrow, then write the buffers that are due."""
        asked = self._flush_asked
        while self._queue:
            self._convert(self._take(_CONVERT_ROWS))
            time.sleep(0)  # hand the GIL to a waiting request between two conversions
        now = time.monotonic()
        forced = self._flush_done < asked
        for key, (_tables, rows, oldest) in list(self._buffers.items()):
            due = rows >= self.config.rows_per_file or now - oldest >= self.config.flush_interval_s
            if forced or due:
                self._write(key)
        self.metrics.log_queue.set(self.pending)
        self._flush_done = max(self._flush_done, asked)

    def _take(self, n: int) -> list[_Queued]:
        out: list[_Queued] = []
        rows = 0
        queue = self._queue
        while queue and rows < n:
            entry = queue.popleft()
            out.append(entry)
            rows += entry.n
        return out

    def _convert(self, entries: list[_Queued]) -> None:
        """Turn entries into one Arrow table per model version, buffered for its file."""
        groups: dict[tuple[str, int, int], list[_Queued]] = {}
        for entry in entries:
            slot = entry.slot
            groups.setdefault((slot.name, slot.version, id(slot.model)), []).append(entry)
        now = time.monotonic()
        for (name, version, _), group in groups.items():
            n = sum(e.n for e in group)
            try:
                table = self._table(group)
            except Exception as exc:  # an entry that cannot be logged is counted, not raised
                logger.error(
                    "prediction log: cannot log %d rows of %s@%s: %s", n, name, version, exc
                )
                self.dropped += n
                self.metrics.child(self.metrics.log_dropped, "unloggable").inc(n)
                with self._count:
                    self._queued -= n
                continue
            tables, rows, oldest = self._buffers.get((name, version), ([], 0, now))
            tables.append(table)
            self._buffers[(name, version)] = (tables, rows + n, oldest)
            with self._count:
                self._queued -= n
                self._buffered += n

    def _write(self, key: tuple[str, int]) -> None:
        tables, rows, _ = self._buffers.pop(key)
        table = pa.concat_tables(tables, promote_options="permissive")
        for attempt in range(_RETRIES):
            try:
                self.files.write(key[0], key[1], table)
            except Exception as exc:  # the store's own failure: retry, then count
                if attempt == _RETRIES - 1:
                    logger.error("prediction log: dropped %d rows: %s", rows, exc)
                    self.dropped += rows
                    self.metrics.child(self.metrics.log_dropped, "write_failed").inc(rows)
                    break
                time.sleep(0.05 * 2**attempt)
            else:
                self.written += rows
                self.metrics.log_written.inc(rows)
                break
        with self._count:
            self._buffered -= rows

    # -- entries -> one table ----------------------------------------------------------

    def _kept(self, model: Any) -> tuple[Any, ...]:
        """The manifest columns a model's log keeps (all but ``drop_fields``), cached."""
        found = self._layouts.get(id(model))
        if found is None or found[0] is not model:
            if len(self._layouts) > 64:
                self._layouts.clear()
            columns = model.preprocessor.schema.columns
            kept = tuple(c for c in columns if c.name not in self._drop_fields)
            found = self._layouts[id(model)] = (model, kept, tuple(c.name for c in kept))
        return found[1]

    def _row_values(self, entry: Entry) -> list[tuple[Any, ...]]:
        """The record-path rows as tuples of the kept features (C-level lookups: ~1 us a
        row on the request path, so the writer never walks dicts holding the GIL)."""
        self._kept(entry.slot.model)
        names = self._layouts[id(entry.slot.model)][2]
        return [tuple(map(record.get, names)) for record in entry.rows.as_records()]

    def _table(self, entries: Sequence[_Queued]) -> pa.Table:
        """Return the log table of entries of one model version (see glmops.logstore)."""
        slot = entries[0].slot
        model = slot.model
        counts = np.fromiter((e.n for e in entries), dtype=np.int64, count=len(entries))
        total = int(counts.sum())
        per_row = np.repeat(np.arange(len(entries)), counts)

        take = None if total == len(entries) else _arrow.indices(per_row)

        def spread(array: pa.Array) -> pa.Array:
            return array if take is None else array.take(take)

        starts = np.cumsum(counts) - counts
        times = np.fromiter((e.time for e in entries), dtype=np.float64, count=len(entries))
        columns: dict[str, pa.Array | pa.ChunkedArray] = {
            "request_id": spread(_arrow.strings([e.request_id for e in entries])),
            "row": _arrow.int32s(np.arange(total) - np.repeat(starts, counts)),
            "time": _arrow.timestamps_us(np.repeat(times * 1e6, counts)),
            "model": _arrow.repeat_string(slot.name, total),
            "version": _arrow.int32s(np.full(total, slot.version)),
            "route": spread(_arrow.strings([e.slot.route for e in entries])),
            "entity_key": self._entity_keys(entries, spread),
            "latency_ms": spread(_arrow.floats([e.latency_ms for e in entries])),
        }
        kept = self._kept(model)
        chunks: dict[str, list[pa.Array]] = {c.name: [] for c in kept}
        values: list[tuple[Any, ...]] = []  # consecutive record-path rows, built at once

        def add_values() -> None:
            for col, array in zip(kept, _columns_of(values, kept), strict=True):
                chunks[col.name].append(array)
            values.clear()

        for entry in entries:
            if entry.table is None:
                assert entry.values is not None
                values.extend(entry.values)
                continue
            if values:
                add_values()
            for col in kept:
                chunks[col.name].append(_column(entry.table, col.name, _ARROW_TYPE[col.kind]))
        if values:
            add_values()
        for col in kept:
            column = pa.chunked_array(chunks[col.name], type=_ARROW_TYPE[col.kind])
            if col.name in self._hash_fields:
                column = _arrow.strings(self._hashes(column.to_pylist()))
            columns[INPUT_PREFIX + col.name] = column
        decision = np.concatenate([e.decision for e in entries])
        if model.task == "regression":
            columns["prediction"] = _arrow.floats(decision[:, 0])
        else:
            proba = model.proba_from_decision(
                decision[:, 0] if model.task == "binary" else decision
            )
            labels = model.labels_from_proba(proba)
            columns["label"] = _arrow.strings(labels.tolist())
            for k, label in enumerate(model.classes):
                columns[f"{PROBA_PREFIX}{label}"] = _arrow.floats(proba[:, k])
        return pa.table(columns)

    def _entity_keys(self, entries: Sequence[_Queued], spread: Any) -> pa.Array:
        """Each row's entity key: its own field's value when the route names one, else the
        request's (header or first row)."""
        field = self.entity_fields.get(entries[0].slot.name)
        if field is None or all(e.n == 1 for e in entries):
            keys = [None if e.entity_key is None else str(e.entity_key)[:128] for e in entries]
            return self._scrub_keys(field, spread(_arrow.strings(keys)))
        chunks = []
        for e in entries:
            key = None if e.entity_key is None else str(e.entity_key)[:128]
            values = e.entities
            if values is None:
                chunks.append(_arrow.repeat_string(key, e.n))
                continue
            values = pc.utf8_slice_codeunits(pc.cast(values, pa.string()), 0, 128)
            fill = _arrow.repeat_string(key, e.n)
            chunks.append(values if key is None else pc.coalesce(values, fill))
        return self._scrub_keys(field, pa.concat_arrays(chunks))

    def _scrub_keys(self, field: str | None, keys: pa.Array) -> pa.Array:
        if field is not None and field in self._drop_fields:
            return pa.nulls(len(keys), pa.string())
        if field is not None and field in self._hash_fields:
            return _arrow.strings(self._hashes(keys.to_pylist()))
        return keys

    def _hashes(self, values: list[Any]) -> list[str | None]:
        key = self._key
        return [
            None
            if v is None
            else "hmac:" + hmac.new(key, str(v).encode(), hashlib.sha256).hexdigest()[:32]
            for v in values
        ]


def _raw_column(rows: Any, field: str) -> pa.Array | None:
    """Return the values of ``field`` in every row of a request, or None if no row has it."""
    if rows.table is not None:
        if field not in rows.table.column_names:
            return None
        column = rows.table.column(field)
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if rows.columns is not None:
        values = rows.columns.get(field)
        if values is None or all(v is None for v in values):
            return None
        return _arrow.strings(values)
    return _values_of(rows.records, field)


def _values_of(records: Sequence[Mapping[str, Any]], field: str) -> pa.Array | None:
    values = [r.get(field) for r in records]
    if all(v is None for v in values):
        return None
    return _arrow.strings(values)


def _column(table: pa.Table, name: str, dtype: pa.DataType) -> pa.Array:
    """Return a validated table's column in the log's type (nulls if the table lacks it)."""
    if name not in table.column_names:
        return pa.nulls(table.num_rows, dtype)
    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = pc.dictionary_decode(column)
    if column.type != dtype:
        column = pc.cast(column, dtype, safe=False)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _columns_of(rows: list[tuple[Any, ...]], kept: Sequence[Any]) -> list[pa.Array]:
    """Return the columns of record-path rows (tuples in ``kept`` order) as Arrow arrays.

    A model of numeric features only is one numpy conversion of the whole
    list (None becomes NaN, logged as null); otherwise one object array,
    sliced per column.
    """
    if all(col.kind == "numeric" for col in kept):
        block = np.array(rows, dtype=np.float64).reshape(len(rows), len(kept))
        return [_arrow.floats(block[:, j]) for j in range(len(kept))]
    table = np.array(rows, dtype=object).reshape(len(rows), len(kept))
    out = []
    for j, col in enumerate(kept):
        values = table[:, j].tolist()
        if col.kind == "numeric":
            out.append(_arrow.floats(values))
        elif col.kind == "boolean":
            out.append(_arrow.bools(values))
        else:
            out.append(_arrow.strings(values))
    return out
