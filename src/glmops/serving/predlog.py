"""The prediction log: a bounded queue drained by one writer thread into Parquet files.

The request path never does I/O for the log. A record-path request's rows
go column-wise into a float block per model version (a tuple of its
features and one row assignment, ~3 us); a batch queues its validated
Arrow table. The writer thread (nice 19) turns full or aged blocks and
queued batches into Arrow tables, at most 256 rows per GIL hold, and writes
each model version's buffered rows as one file every ``flush_interval_s``
(or at ``rows_per_file``) through :class:`glmops.monitoring.logstore.LogFiles`.

The queue is bounded in rows (``queue_size``) and in bytes (``queue_bytes``,
an estimate of what an entry holds until its file is written). When it is
full, ``policy`` decides: ``block`` (default) makes the request wait up to
``max_wait_s`` for room (:meth:`PredictionLog.admit`, before the answer is
sent), then refuses it with :class:`LogFull` (503, ``Retry-After``): every
answered prediction is in the log. ``drop`` answers anyway and counts the
rows. ``sample`` keeps the requests a keyed hash of their id picks at
``sample_rate`` (recorded in each row's ``sample_rate``), counts the others,
and backpressures the kept ones like ``block``. A file that still fails
after retries is dropped and counted too: never silent.

PII: ``hash_fields`` are replaced by a keyed hash (HMAC-SHA256 with
``GLMOPS_LOG_HASH_KEY``; joinable across restarts only with that key set)
and ``drop_fields`` are never stored. Both happen in the writer thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from glmops import _arrow
from glmops.config import PredictionLogConfig
from glmops.monitoring.logstore import INPUT_PREFIX, PROBA_PREFIX, LogFiles
from glmops.serving.inference import Refusal
from glmops.serving.metrics import ServingMetrics
from glmops.serving.routing import Slot
from glmops.serving.worker import BackgroundWorker

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

    from glmops.data.schema import ColumnSchema
    from glmops.model import Model
    from glmops.serving.inference import Rows
else:
    from glmops._arrow import pa, pc

__all__ = ["ENTITY_PSEUDO_FIELD", "Entry", "LogFull", "PiiPolicy", "PredictionLog"]

# the name under which hash_fields / drop_fields cover an entity key sent in a header
ENTITY_PSEUDO_FIELD = "entity_key"

logger = logging.getLogger(__name__)

_RETRIES = 3
# queued rows that wake the writer, and the most it converts while holding the GIL
# (~0.7 ms for 256 single-row requests of 30 features): a request waits at most that long
_CONVERT_ROWS = 256
_BLOCK_ROWS = 1024  # record-path rows per accumulated block
_COLLECT_S = 0.5  # a block younger than this waits for more rows
# estimated bytes a logged row holds besides its inputs and outputs (ids, time, route,
# list slots, the log's own columns); a string value holds its length plus this
_ROW_BYTES = 160
_STR_BYTES = 64
_WAIT_POLL_S = 0.05  # a waiting request re-checks for room at least this often


@dataclass(frozen=True)
class Entry:
    """One answered (or shadow-scored) request, as the request path left it."""

    request_id: str
    time: float  # unix seconds
    slot: Slot
    entity_key: str | None  # the request's (header or first row's field)
    rows: Rows
    table: pa.Table | None  # the validated feature table (batch path), or None
    decision: np.ndarray  # (n, K) decision values as answered
    latency_ms: float


@dataclass(frozen=True)
class _Queued:
    """What the queue keeps of a batch: its validated Arrow table (and its rows' entity
    keys), never the parsed JSON, so a backlog stays small."""

    request_id: str
    time: float
    slot: Slot
    entity_key: str | None
    n: int
    table: pa.Table
    entities: pa.Array | None  # each row's entity key (batches whose rows carry one)
    decision: np.ndarray
    latency_ms: float
    nbytes: int  # estimated bytes held until written


class LogFull(Refusal):
    """The log cannot take an answered request's rows: the request is refused, not answered.

    503 with ``retry_after_s`` when no room came within ``max_wait_s``; 413
    (``retry_after_s`` None) when the request alone exceeds the log's bounds.
    """

    def __init__(self, status: int, message: str, expected: str, retry_after_s: int | None) -> None:
        errors: list[dict[str, Any]] = [
            {"field": "prediction_log", "kind": "log_full", "expected": expected}
        ]
        super().__init__(status, message, errors, reason="log_full")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class _Layout:
    """What the log keeps of one model's inputs: the manifest columns but ``drop_fields``."""

    model: Model  # kept so that the cache key's id cannot be reused by another model
    kept: tuple[ColumnSchema, ...]
    names: tuple[str, ...]  # of kept, in manifest order
    text: tuple[str, ...]  # the categorical ones


@dataclass(frozen=True)
class _Ready:
    """An entry measured for the queue: its rows, estimated bytes, and the batch item."""

    entry: Entry
    n: int
    nbytes: int
    item: _Queued | None  # None: record-path rows, added to an accumulator


class _Accumulated:
    """Record-path rows of one model version, stored column-wise by the request path.

    A single-row request costs a tuple of its features and a row assignment
    into a float block (~3 us, 8 bytes a value), so a backlog is compact and
    the writer only wraps full blocks as Arrow arrays.
    """

    def __init__(self, slot: Slot, kept: tuple[ColumnSchema, ...], capacity: int) -> None:
        self.slot = slot
        self.kept = kept
        self.numeric = [j for j, c in enumerate(kept) if c.kind == "numeric"]
        self.all_numeric = len(self.numeric) == len(kept)
        self.other = [j for j, c in enumerate(kept) if c.kind != "numeric"]
        self.block = np.empty((capacity, len(self.numeric)))
        self.objects: list[list[Any]] = [[] for _ in self.other]
        n_outputs = 1 if slot.model.task != "multinomial" else len(slot.model.classes or ())
        self.decision = np.empty((capacity, n_outputs))
        self.request_ids: list[str] = []
        self.rows: list[int] = []
        self.times: list[float] = []
        self.routes: list[str] = []
        self.entities: list[str | None] = []
        self.latency: list[float] = []
        self.n = 0
        self.nbytes = 0  # estimated bytes held (as counted when the rows were admitted)
        self.started = time.monotonic()

    @property
    def full(self) -> bool:
        return self.n == len(self.block)

    def add(
        self,
        values: tuple[Any, ...],
        decision: np.ndarray,
        request_id: str,
        row: int,
        when: float,
        route: str,
        entity: str | None,
        latency_ms: float,
        nbytes: int,
    ) -> None:
        i = self.n
        numeric = values if self.all_numeric else tuple(values[j] for j in self.numeric)
        try:
            self.block[i] = numeric
        except TypeError:  # a null (imputed): NaN in the block, null in the file
            self.block[i] = [np.nan if v is None else v for v in numeric]
        if self.other:
            for column, j in zip(self.objects, self.other, strict=True):
                column.append(values[j])
        self.decision[i] = decision
        self.request_ids.append(request_id)
        self.rows.append(row)
        self.times.append(when)
        self.routes.append(route)
        self.entities.append(entity)
        self.latency.append(latency_ms)
        self.n = i + 1
        self.nbytes += nbytes

    def inputs(self) -> list[pa.Array]:
        """The kept features as Arrow arrays, in ``kept`` order."""
        out: list[pa.Array | None] = [None] * len(self.kept)
        for k, j in enumerate(self.numeric):
            out[j] = _arrow.floats(self.block[: self.n, k])
        for column, j in zip(self.objects, self.other, strict=True):
            kind = self.kept[j].kind
            out[j] = _arrow.bools(column) if kind == "boolean" else _arrow.strings(column)
        return [a for a in out if a is not None]


class PiiPolicy:
    """The prediction log's PII rules, applied wherever a served value is written down.

    ``hash_fields`` become a keyed hash (HMAC-SHA256 with ``GLMOPS_LOG_HASH_KEY``),
    ``drop_fields`` are never stored. The same rules cover the log's rows, the
    entity key (its route field, or the pseudo-field ``entity_key`` for a key
    sent in the entity header) and the refusal entries written to the service
    log, so a value that would be hashed in the log is never written in clear
    elsewhere.
    """

    def __init__(self, hash_fields: Iterable[str], drop_fields: Iterable[str], key: bytes) -> None:
        self.hash_fields = frozenset(hash_fields)
        self.drop_fields = frozenset(drop_fields)
        self.key = key

    @classmethod
    def from_config(cls, config: PredictionLogConfig) -> PiiPolicy:
        """Build the policy of ``config``; the key is GLMOPS_LOG_HASH_KEY's, else random
        (then hashes do not match across restarts or replicas: a warning says so)."""
        env = os.environ.get("GLMOPS_LOG_HASH_KEY")
        if not env and (config.hash_fields or config.policy == "sample"):
            logger.warning(
                "prediction_log.hash_fields or policy 'sample' is set but GLMOPS_LOG_HASH_KEY "
                "is not: hashes and the sample use a random key and will not match across "
                "restarts or replicas"
            )
        return cls(config.hash_fields, config.drop_fields, (env or secrets.token_hex(32)).encode())

    def hashes(self, values: list[Any]) -> list[str | None]:
        """Return the keyed hash of each value (None stays None)."""
        key = self.key
        return [
            None
            if v is None
            else "hmac:" + hmac.new(key, str(v).encode(), hashlib.sha256).hexdigest()[:32]
            for v in values
        ]

    def entity_names(self, field: str | None) -> frozenset[str]:
        """Return the names whose rules apply to an entity key (its field, ``entity_key``)."""
        return frozenset({ENTITY_PSEUDO_FIELD} | ({field} if field else set()))

    def refusal_entries(self, errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Return refusal entries fit for the service log: PII values hashed or dropped."""
        out = []
        for entry in errors:
            clean = dict(entry)
            name = re.sub(r"\[\d+\]", "", str(clean.get("field", ""))).rsplit(".", 1)[-1]
            if "got" in clean and name in self.drop_fields:
                clean["got"] = "(dropped: PII)"
            elif "got" in clean and name in self.hash_fields:
                clean["got"] = self.hashes([clean["got"]])[0]
            out.append(clean)
        return out


class PredictionLog(BackgroundWorker["_Queued | _Accumulated"]):
    """Queue answered requests and write them as Parquet files, off the request path.

    Parameters
    ----------
    config : PredictionLogConfig
        Bounds, overload policy, file cadence, PII fields; ``config.path`` is the log's root.
    metrics : ServingMetrics
        Offered, written, dropped, refused and queued rows are counted there.
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
        self.pii = PiiPolicy.from_config(config)
        self._hash_fields = self.pii.hash_fields
        self._drop_fields = self.pii.drop_fields
        # the sample is keyed: a client that picks its request ids cannot pick what is logged
        self._sampler = hashlib.blake2b(key=hashlib.sha256(self.pii.key).digest(), digest_size=8)
        self.sample_rate = config.sample_rate if config.policy == "sample" else 1.0
        self._sample_below = int(self.sample_rate * 2**64)
        self._retry_after_s = max(1, math.ceil(config.max_wait_s))
        self._count = threading.Lock()
        self._queued = 0  # rows in the deque
        self._buffered = 0  # rows converted, waiting for their file
        self._bytes = 0  # estimated bytes of the queued and buffered rows
        # (model, version) -> (tables, rows, monotonic time of the oldest row, bytes)
        self._buffers: dict[tuple[str, int], tuple[list[pa.Table], int, float, int]] = {}
        # id(model) -> what its log keeps (the model is kept in the layout so that its id
        # cannot be reused by another while cached)
        self._layouts: dict[int, _Layout] = {}
        self._accumulate = threading.Lock()  # the request loop and the shadow thread add rows
        self._accumulators: dict[tuple[str, int, int], _Accumulated] = {}
        self._flush_asked = 0
        self._flush_done = 0
        self._pressure = False  # a request waits for room: write buffers now, not when due
        self._freed = threading.Event()  # room was freed (threads waiting in append)
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self.written = 0
        self.dropped = 0  # rows not kept, every reason (not_sampled included)
        self.refused = 0  # rows of requests refused for want of room (not answered)
        metrics.log_sample_rate.set(self.sample_rate)

    # -- request path ----------------------------------------------------------------

    async def admit(self, entry: Entry) -> None:
        """Take an answered request's rows before its answer is sent (the event loop's way).

        ``drop`` never waits. ``block`` (and the requests ``sample`` keeps) wait
        up to ``max_wait_s`` for room without holding the loop, then raise
        :class:`LogFull`: the caller answers 503 and the prediction is never
        seen, so nothing answered is missing from the log.
        """
        ready = self._ready(entry)
        if ready is None:
            return
        if self._too_large(ready):
            if self.config.policy == "drop":
                self._drop(ready.n, "too_large")
                return
            raise self._refuse_too_large(ready)
        if self._reserve(ready):
            self._enqueue(ready)
            return
        if self.config.policy == "drop":
            self._drop(ready.n, "queue_full")
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.max_wait_s
        while (remaining := deadline - loop.time()) > 0:
            waiter = (loop, loop.create_future())
            with self._count:
                self._waiters.add(waiter)
            if self._reserve(ready):  # room freed before the waiter was registered
                self._forget(waiter)
                self._enqueue(ready)
                return
            await asyncio.wait((waiter[1],), timeout=min(remaining, _WAIT_POLL_S))
            self._forget(waiter)
            if self._reserve(ready):
                self._enqueue(ready)
                return
        raise self._refuse_full(ready)

    def append(self, entry: Entry) -> None:
        """Take a request's rows from a thread (shadow scorings); never raises.

        ``block`` and ``sample`` wait up to ``max_wait_s`` for room in this
        thread, then drop and count; ``drop`` drops and counts at once.
        """
        ready = self._ready(entry)
        if ready is None:
            return
        if self._too_large(ready):
            self._drop(ready.n, "too_large")
            return
        wait = self.config.policy != "drop"
        deadline = time.monotonic() + self.config.max_wait_s
        while True:
            self._freed.clear()
            if self._reserve(ready):
                self._enqueue(ready)
                return
            remaining = deadline - time.monotonic()
            if not wait or remaining <= 0:
                self._drop(ready.n, "queue_full")
                return
            self._freed.wait(min(remaining, _WAIT_POLL_S))

    @property
    def pending(self) -> int:
        """Rows not yet in a file (queued or buffered)."""
        return self._queued + self._buffered

    @property
    def held_bytes(self) -> int:
        """Estimated bytes of the rows not yet in a file (at most ``queue_bytes``)."""
        return self._bytes

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

    def _ready(self, entry: Entry) -> _Ready | None:
        """Measure an entry for the queue; None (counted) when the sample leaves it out."""
        n = entry.rows.n
        if self.sample_rate < 1.0 and not self._sampled(entry.request_id):
            self._drop(n, "not_sampled")
            return None
        if entry.table is None:
            return _Ready(entry, n, self._record_bytes(entry), None)
        field = self.entity_fields.get(entry.slot.name)
        entities = _raw_column(entry.rows, field) if field is not None and n > 1 else None
        nbytes = entry.table.nbytes + (0 if entities is None else entities.nbytes)
        nbytes += self._derived_bytes(entry)
        item = _Queued(
            entry.request_id,
            entry.time,
            entry.slot,
            entry.entity_key,
            n,
            entry.table,
            entities,
            entry.decision,
            entry.latency_ms,
            nbytes,
        )
        return _Ready(entry, n, nbytes, item)

    def _sampled(self, request_id: str) -> bool:
        """Whether the sample keeps a request: a keyed hash of its id, below the rate."""
        digest = self._sampler.copy()
        digest.update(request_id.encode())
        return int.from_bytes(digest.digest(), "big") < self._sample_below

    def _derived_bytes(self, entry: Entry) -> int:
        """Estimated bytes of what the log adds to an entry's inputs: per-row columns,
        outputs (probabilities besides the decision), hashes."""
        outputs = entry.decision.nbytes * (1 if entry.slot.model.task == "regression" else 2)
        hashes = 48 * len(self._hash_fields)
        return entry.rows.n * (_ROW_BYTES + hashes + len(entry.slot.name)) + outputs

    def _record_bytes(self, entry: Entry) -> int:
        """Estimated bytes a record-path entry holds: a float per value, its strings, and
        what the log adds."""
        layout = self._layout(entry.slot.model)
        text = layout.text
        nbytes = 8 * len(layout.kept) * entry.rows.n + self._derived_bytes(entry)
        if text:
            for record in entry.rows.as_records():
                for name in text:
                    value = record.get(name)
                    if isinstance(value, str):
                        nbytes += len(value) + _STR_BYTES
        return nbytes

    def _too_large(self, ready: _Ready) -> bool:
        """Whether an entry alone exceeds the log's bounds (it can never be queued)."""
        return ready.n > self.config.queue_size or ready.nbytes > self.config.queue_bytes

    def _reserve(self, ready: _Ready) -> bool:
        """Count an entry's rows and bytes in the queue if both bounds leave room."""
        config = self.config
        with self._count:
            room = (
                self._queued + self._buffered + ready.n <= config.queue_size
                and self._bytes + ready.nbytes <= config.queue_bytes
            )
            if room:
                self._queued += ready.n
                self._bytes += ready.nbytes
        if not room:  # the writer writes its buffers now rather than when due
            self._pressure = True
            self._wake.set()
        return room

    def _drop(self, n: int, reason: str) -> None:
        """Count an answered request's rows that the log does not keep."""
        with self._count:
            self.dropped += n
        self.metrics.log_offered.inc(n)
        self.metrics.child(self.metrics.log_dropped, reason).inc(n)

    def _refuse_full(self, ready: _Ready) -> LogFull:
        with self._count:
            self.refused += ready.n
        self.metrics.log_refused.inc(ready.n)
        wait = self.config.max_wait_s
        return LogFull(
            503,
            f"The prediction log has no room for this request within {wait:g} s; it was not "
            f"answered. Retry after {self._retry_after_s} s.",
            f"room in the prediction log within {wait:g} s",
            self._retry_after_s,
        )

    def _refuse_too_large(self, ready: _Ready) -> LogFull:
        with self._count:
            self.refused += ready.n
        self.metrics.log_refused.inc(ready.n)
        config = self.config
        return LogFull(
            413,
            f"This request ({ready.n} rows, ~{ready.nbytes} bytes) is larger than the "
            f"prediction log holds (serving.prediction_log.queue_size {config.queue_size} "
            f"rows, queue_bytes {config.queue_bytes}); it was not answered. Send fewer rows.",
            f"at most {config.queue_size} rows and {config.queue_bytes} bytes in the log",
            None,
        )

    def _forget(self, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]) -> None:
        with self._count:
            self._waiters.discard(waiter)

    def _room_freed(self) -> None:
        """Wake every request waiting for room (threads, and tasks on their loops)."""
        with self._count:
            waiters, self._waiters = self._waiters, set()
        self._freed.set()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future)

    def _enqueue(self, ready: _Ready) -> None:
        """Queue an entry whose rows and bytes are reserved."""
        self.metrics.log_offered.inc(ready.n)
        if ready.item is not None:
            self._put(ready.item, wake=self._queued >= _CONVERT_ROWS)
            return
        entry = ready.entry
        n = ready.n
        row_bytes = ready.nbytes // max(n, 1)
        slot = entry.slot
        layout = self._layout(slot.model)
        kept, names = layout.kept, layout.names
        field = self.entity_fields.get(slot.name)
        key = (slot.name, slot.version, id(slot.model))
        request_key = None if entry.entity_key is None else str(entry.entity_key)[:128]
        records = entry.rows.as_records()
        with self._accumulate:
            try:
                for i, record in enumerate(records):
                    acc = self._accumulators.get(key)
                    if acc is None:
                        acc = self._accumulators[key] = _Accumulated(slot, kept, _BLOCK_ROWS)
                    entity = request_key
                    if field is not None and n > 1 and record.get(field) is not None:
                        entity = str(record[field])[:128]
                    # a record in manifest order (the usual): its values as they are
                    values = tuple(record.values())
                    if len(values) != len(names) or tuple(record) != names:
                        values = tuple(map(record.get, names))
                    acc.add(
                        values,
                        entry.decision[i],
                        entry.request_id,
                        i,
                        entry.time,
                        slot.route,
                        entity,
                        entry.latency_ms,
                        row_bytes if i else ready.nbytes - row_bytes * (n - 1),
                    )
                    n -= 1
                    if acc.full:
                        del self._accumulators[key]
                        self._put(acc)
            except Exception as exc:  # never raised into the request: counted instead
                logger.error("prediction log: cannot log request %s: %s", entry.request_id, exc)
                self.metrics.child(self.metrics.log_dropped, "unloggable").inc(n)
                with self._count:
                    self.dropped += n
                    self._queued -= n
                    self._bytes -= ready.nbytes if n == ready.n else row_bytes * n
                self._room_freed()

    # -- writer thread ---------------------------------------------------------------

    def _has_work(self) -> bool:
        return (
            bool(self._buffers)
            or bool(self._accumulators)
            or self._pressure
            or self._flush_done < self._flush_asked
        )

    def drain(self) -> None:
        """Convert queued entries to Arrow, then write the buffers that are due (all of
        them when a flush is asked or a request waits for room)."""
        asked = self._flush_asked
        pressed, self._pressure = self._pressure, False
        self._collect(forced=pressed or self._flush_done < asked)
        while self._queue:
            self._convert(self._take(_CONVERT_ROWS))
            # a queue that never empties still gets its files
            self._write_due(forced=self._pressure)
            time.sleep(0)  # hand the GIL to a waiting request between two conversions
        self._write_due(forced=pressed or self._pressure or self._flush_done < asked)
        self.metrics.log_queue.set(self.pending)
        self.metrics.log_bytes.set(self._bytes)
        self._flush_done = max(self._flush_done, asked)

    def _collect(self, *, forced: bool) -> None:
        """Queue the accumulated record-path rows that waited long enough (all if forced)."""
        now = time.monotonic()
        with self._accumulate:
            for key, acc in list(self._accumulators.items()):
                if forced or now - acc.started >= _COLLECT_S:
                    del self._accumulators[key]
                    self._queue.append(acc)

    def _write_due(self, *, forced: bool) -> None:
        """Write each model version's buffer that is full or old enough (all if forced)."""
        now = time.monotonic()
        for key, (_tables, rows, oldest, _nbytes) in list(self._buffers.items()):
            due = rows >= self.config.rows_per_file or now - oldest >= self.config.flush_interval_s
            if forced or due:
                self._write(key)

    def _take(self, n: int) -> list[_Queued | _Accumulated]:
        out: list[_Queued | _Accumulated] = []
        rows = 0
        queue = self._queue
        while queue and rows < n:
            entry = queue.popleft()
            out.append(entry)
            rows += entry.n
        return out

    def _convert(self, entries: list[_Queued | _Accumulated]) -> None:
        """Turn entries into one Arrow table per model version, buffered for its file."""
        groups: dict[tuple[str, int, int], list[_Queued | _Accumulated]] = {}
        for entry in entries:
            slot = entry.slot
            groups.setdefault((slot.name, slot.version, id(slot.model)), []).append(entry)
        now = time.monotonic()
        for (name, version, _), group in groups.items():
            n = sum(e.n for e in group)
            nbytes = sum(e.nbytes for e in group)
            try:
                table = self._tables(group)
            except Exception as exc:  # an entry that cannot be logged is counted, not raised
                logger.error(
                    "prediction log: cannot log %d rows of %s@%s: %s", n, name, version, exc
                )
                self.metrics.child(self.metrics.log_dropped, "unloggable").inc(n)
                with self._count:
                    self.dropped += n
                    self._queued -= n
                    self._bytes -= nbytes
                self._room_freed()
                continue
            tables, rows, oldest, held = self._buffers.get((name, version), ([], 0, now, 0))
            tables.append(table)
            self._buffers[(name, version)] = (tables, rows + n, oldest, held + nbytes)
            with self._count:
                self._queued -= n
                self._buffered += n

    def _write(self, key: tuple[str, int]) -> None:
        tables, rows, _, nbytes = self._buffers.pop(key)
        table = pa.concat_tables(tables, promote_options="permissive")
        for attempt in range(_RETRIES):
            try:
                self.files.write(key[0], key[1], table)
            except Exception as exc:  # the store's own failure: retry, then count
                if attempt == _RETRIES - 1:
                    logger.error("prediction log: dropped %d rows: %s", rows, exc)
                    with self._count:
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
            self._bytes -= nbytes
        self._room_freed()

    # -- entries -> one table ----------------------------------------------------------

    def _layout(self, model: Model) -> _Layout:
        """The manifest columns a model's log keeps (all but ``drop_fields``), cached."""
        found = self._layouts.get(id(model))
        if found is None or found.model is not model:
            if len(self._layouts) > 64:
                self._layouts.clear()
            columns = model.preprocessor.schema.columns
            kept = tuple(c for c in columns if c.name not in self._drop_fields)
            found = self._layouts[id(model)] = _Layout(
                model,
                kept,
                tuple(c.name for c in kept),
                tuple(c.name for c in kept if c.kind == "categorical"),
            )
        return found

    def _tables(self, items: Sequence[_Queued | _Accumulated]) -> pa.Table:
        """Return the log table of queued items of one model version."""
        tables = []
        batches: list[_Queued] = []
        for item in items:
            if isinstance(item, _Accumulated):
                if batches:
                    tables.append(self._table(batches))
                    batches = []
                tables.append(self._accumulated_table(item))
            else:
                batches.append(item)
        if batches:
            tables.append(self._table(batches))
        return (
            tables[0]
            if len(tables) == 1
            else pa.concat_tables(tables, promote_options="permissive")
        )

    def _accumulated_table(self, acc: _Accumulated) -> pa.Table:
        slot = acc.slot
        n = acc.n
        field = self.entity_fields.get(slot.name)
        columns: dict[str, pa.Array | pa.ChunkedArray] = {
            "request_id": _arrow.strings(acc.request_ids),
            "row": _arrow.int32s(np.array(acc.rows)),
            "time": _arrow.timestamps_us(np.array(acc.times) * 1e6),
            "model": _arrow.repeat_string(slot.name, n),
            "version": _arrow.int32s(np.full(n, slot.version)),
            "route": _arrow.strings(acc.routes),
            "entity_key": self._scrub_keys(field, _arrow.strings(acc.entities)),
            "latency_ms": _arrow.floats(acc.latency),
            "sample_rate": _arrow.floats(np.full(n, self.sample_rate)),
        }
        for col, values in zip(acc.kept, acc.inputs(), strict=True):
            columns[INPUT_PREFIX + col.name] = self._scrub(col.name, values)
        columns |= _outputs(slot.model, acc.decision[:n])
        return pa.table(columns)

    def _scrub(self, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        if name in self._hash_fields:
            return _arrow.strings(self._hashes(values.to_pylist()))
        return values

    def _table(self, entries: Sequence[_Queued]) -> pa.Table:
        """Return the log table of entries of one model version (see glmops.monitoring.logstore)."""
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
            "sample_rate": _arrow.floats(np.full(total, self.sample_rate)),
        }
        for col in self._layout(model).kept:
            dtype = _arrow_type(col.kind)
            chunks = [c for e in entries for c in _column(e.table, col.name, dtype)]
            column = pa.chunked_array(chunks, type=dtype)
            columns[INPUT_PREFIX + col.name] = self._scrub(col.name, column)
        columns |= _outputs(model, np.concatenate([e.decision for e in entries]))
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
        names = self.pii.entity_names(field)
        if names & self._drop_fields:
            return pa.nulls(len(keys), pa.string())
        if names & self._hash_fields:
            return _arrow.strings(self._hashes(keys.to_pylist()))
        return keys

    def _hashes(self, values: list[Any]) -> list[str | None]:
        return self.pii.hashes(values)


def _arrow_type(kind: str) -> pa.DataType:
    """Return the log's Arrow type of a feature kind."""
    if kind == "numeric":
        return pa.float64()
    return pa.bool_() if kind == "boolean" else pa.string()


def _resolve(future: asyncio.Future[None]) -> None:
    """Wake a request waiting for room (runs on its event loop)."""
    if not future.done():
        future.set_result(None)


def _raw_column(rows: Any, field: str) -> pa.Array | None:
    """Return the values of ``field`` in every row of a request, or None if no row has it."""
    if rows.table is not None:
        if field not in rows.table.column_names:
            return None
        column = rows.table.column(field)
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if rows.is_columnar:
        values = rows.column_lists().get(field)
        if values is None or all(v is None for v in values):
            return None
        return _arrow.strings(values)
    return _values_of(rows.records, field)


def _values_of(records: Sequence[Mapping[str, Any]], field: str) -> pa.Array | None:
    values = [r.get(field) for r in records]
    if all(v is None for v in values):
        return None
    return _arrow.strings(values)


def _column(table: pa.Table, name: str, dtype: pa.DataType) -> list[pa.Array]:
    """Return a validated table's column in the log's type, as its chunks (not copied;
    nulls if the table lacks it)."""
    index = table.schema.get_field_index(name)
    if index < 0:
        return [pa.nulls(table.num_rows, dtype)]
    column = table.column(index)
    if pa.types.is_dictionary(column.type):
        column = pc.dictionary_decode(column)
    if column.type != dtype:
        column = pc.cast(column, dtype, safe=False)
    return list(column.chunks)


def _outputs(model: Model, decision: np.ndarray) -> dict[str, pa.Array]:
    """The logged outputs of decision values: the value, or label + class probabilities."""
    if model.task == "regression":
        return {"prediction": _arrow.floats(decision[:, 0])}
    proba = model.proba_from_decision(decision)
    out = {"label": _arrow.strings(model.labels_from_proba(proba).tolist())}
    for k, label in enumerate(model.classes or ()):
        out[f"{PROBA_PREFIX}{label}"] = _arrow.floats(proba[:, k])
    return out
