"""The prediction log: a bounded in-memory queue drained by one writer thread.

The request path only appends a tuple to a deque (no I/O, no lock wait);
the writer inserts batches into the ``prediction_log`` table of the store
(the registry database), so monitoring can join labels by request id with
SQL on SQLite or PostgreSQL. When the queue is full a row is dropped and
counted; a batch that still fails after retries is dropped and counted too:
never silent, never blocking a prediction.

PII: ``hash_fields`` are replaced by a keyed hash (HMAC-SHA256 with
``GLMOPS_LOG_HASH_KEY``; joinable across restarts only with that key set)
and ``drop_fields`` are never stored. Both happen in the writer thread.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from glmops.config import PredictionLogConfig
from glmops.registry.tables import PredictionRow
from glmops.serving.metrics import ServingMetrics
from glmops.serving.worker import BackgroundWorker

__all__ = ["PredictionLog"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One answered request, expanded into one row per instance by the writer thread."""

    request_id: str
    time: float
    name: str
    version: int
    route: str
    entity_key: str | None
    rows: Any  # glmops.serving.inference.Rows
    outputs: list[Any]  # per row: the value, or label + probabilities, as answered
    latency_ms: float


_RETRIES = 3
_YIELD_EVERY = 64  # rows built between two GIL hand-overs


class PredictionLog(BackgroundWorker["Entry | tuple[Any, ...]"]):
    """Queue predictions and write them in batches, off the request path."""

    def __init__(
        self, engine: sa.Engine, config: PredictionLogConfig, metrics: ServingMetrics
    ) -> None:
        super().__init__("glmops-predlog", config.flush_interval_s)
        self.engine = engine.execution_options(glmops_write=True)
        self.config = config
        self.metrics = metrics
        self._pending = 0  # rows queued (the capacity counts rows, not requests)
        self._count = threading.Lock()
        self._hash_fields = frozenset(config.hash_fields)
        self._drop_fields = frozenset(config.drop_fields)
        key = os.environ.get("GLMOPS_LOG_HASH_KEY")
        if self._hash_fields and not key:
            logger.warning(
                "prediction_log.hash_fields is set but GLMOPS_LOG_HASH_KEY is not: hashes use a "
                "random key and will not match across restarts"
            )
        self._key = (key or secrets.token_hex(32)).encode()
        self._sqlite = engine.dialect.name == "sqlite"
        columns = "request_id, time, model, version, route, entity_key, inputs, outputs, latency_ms"
        table = PredictionRow.__tablename__
        self._sql = (
            f"INSERT INTO {table} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            if self._sqlite
            else f"INSERT INTO {table} ({columns}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s::json, %s::json, %s)"
        )
        self.written = 0
        self.dropped = 0

    def append(self, entry: Entry) -> None:
        """Queue one answered request; dropped and counted when the queue is full."""
        n = entry.rows.n
        with self._count:
            full = self._pending + n > self.config.queue_size
            if not full:
                self._pending += n
        if full:
            self.dropped += n
            self.metrics.child(self.metrics.log_dropped, "queue_full").inc(n)
            return
        item: Entry | tuple[Any, ...] = entry
        if n == 1:
            # one row: serialized now (~2 us), so the queue holds two strings, not the
            # request's objects: a backlog stays small and invisible to the cyclic GC
            item = (
                entry.request_id,
                entry.time,
                entry.name,
                entry.version,
                entry.route,
                None if entry.entity_key is None else str(entry.entity_key)[:128],
                _dumps(self._scrub(entry.rows.record(0))),
                _dumps(_as_object(entry.outputs[0])),
                entry.latency_ms,
            )
        self._put(item, wake=self._pending >= self.config.batch_size)

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return self._pending

    # -- writer thread -------------------------------------------------------------

    def drain(self) -> None:
        """Write everything queued, in batches of about ``batch_size`` rows."""
        while self._queue:
            rows = self._take(self.config.batch_size)
            self.metrics.log_queue.set(self._pending)
            self._write(rows)

    def _take(self, n: int) -> list[tuple[Any, ...]]:
        """Pop whole requests until about ``n`` rows; return them as insert parameters."""
        out: list[tuple[Any, ...]] = []
        queue = self._queue
        while queue and len(out) < n:
            item = queue.popleft()
            size = 1 if isinstance(item, tuple) else item.rows.n
            if len(out) % _YIELD_EVERY < size:
                time.sleep(0)  # hand the GIL to the request thread: no stall over ~0.3 ms
            try:
                if isinstance(item, tuple):
                    out.append((*item[:1], self._when(item[1]), *item[2:]))
                else:
                    out.extend(self._rows(item))
            except Exception as exc:  # an output that cannot be logged is counted, not raised
                rid = item[0] if isinstance(item, tuple) else item.request_id
                logger.error("prediction log: cannot log request %s: %s", rid, exc)
                self.dropped += size
                self.metrics.child(self.metrics.log_dropped, "unloggable").inc(size)
            finally:
                with self._count:
                    self._pending -= size
        return out

    def _when(self, unix: float) -> Any:
        when = dt.datetime.fromtimestamp(unix, dt.UTC)
        # SQLAlchemy's storage format for DateTime on SQLite (UTC)
        return when.strftime("%Y-%m-%d %H:%M:%S.%f") if self._sqlite else when

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert a batch with one DBAPI executemany (SQLAlchemy's per-row processing
        would cost twice the insert itself)."""
        if not rows:
            return
        for attempt in range(_RETRIES):
            try:
                with self.engine.begin() as conn:
                    conn.exec_driver_sql(self._sql, rows)
            except Exception as exc:  # the database's own failure: retry, then count
                if attempt == _RETRIES - 1:
                    logger.error("prediction log: dropped %d rows: %s", len(rows), exc)
                    self.dropped += len(rows)
                    self.metrics.child(self.metrics.log_dropped, "write_failed").inc(len(rows))
                    return
                time.sleep(0.05 * 2**attempt)
            else:
                self.written += len(rows)
                self.metrics.log_written.inc(len(rows))
                return

    def _rows(self, entry: Entry) -> list[tuple[Any, ...]]:
        when = self._when(entry.time)
        entity = None if entry.entity_key is None else str(entry.entity_key)[:128]
        n = entry.rows.n
        per_row = entry.latency_ms / max(n, 1)
        outputs = entry.outputs
        rid = entry.request_id
        return [
            (
                rid if n == 1 else f"{rid}/{i}",
                when,
                entry.name,
                entry.version,
                entry.route,
                entity,
                _dumps(self._scrub(entry.rows.record(i))),
                _dumps(_as_object(outputs[i])),
                per_row,
            )
            for i in range(n)
        ]

    def _scrub(self, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
        if not self._hash_fields and not self._drop_fields:
            return inputs
        out: dict[str, Any] = {}
        for name, value in inputs.items():
            if name in self._drop_fields:
                continue
            if name in self._hash_fields and value is not None:
                digest = hmac.new(self._key, str(value).encode(), hashlib.sha256).hexdigest()
                out[name] = f"hmac:{digest[:32]}"
            else:
                out[name] = value
        return out


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def _as_object(output: Any) -> dict[str, Any]:
    """A regression answer is a bare number; the log stores an object either way."""
    return output if isinstance(output, dict) else {"value": output}
