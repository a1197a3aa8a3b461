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

import collections
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

import numpy as np
import sqlalchemy as sa

from glmops.config import PredictionLogConfig
from glmops.registry.tables import PredictionRow
from glmops.serving.metrics import ServingMetrics

__all__ = ["PredictionLog"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One answered request, expanded into one row per instance by the writer thread."""

    request_id: str
    time: float
    model: Any  # the Model that answered (turns decisions into outputs)
    name: str
    version: int
    route: str
    entity_key: str | None
    rows: Any  # glmops.serving.inference.Rows
    decision: np.ndarray
    latency_ms: float


_RETRIES = 3


class PredictionLog:
    """Queue predictions and write them in batches, off the request path."""

    def __init__(
        self, engine: sa.Engine, config: PredictionLogConfig, metrics: ServingMetrics
    ) -> None:
        self.engine = engine.execution_options(glmops_write=True)
        self.config = config
        self.metrics = metrics
        self._queue: collections.deque[Entry] = collections.deque()
        self._pending = 0  # rows queued (the capacity counts rows, not requests)
        self._count = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._hash_fields = frozenset(config.hash_fields)
        self._drop_fields = frozenset(config.drop_fields)
        key = os.environ.get("GLMOPS_LOG_HASH_KEY")
        if self._hash_fields and not key:
            logger.warning(
                "prediction_log.hash_fields is set but GLMOPS_LOG_HASH_KEY is not: hashes use a "
                "random key and will not match across restarts"
            )
        self._key = (key or secrets.token_hex(32)).encode()
        self._thread = threading.Thread(target=self._run, name="glmops-predlog", daemon=True)
        self.written = 0
        self.dropped = 0

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

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
        self._idle.clear()
        self._queue.append(entry)
        if self._pending >= self.config.batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return self._pending

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued row is written (or dropped); return whether it finished."""
        deadline = time.monotonic() + timeout_s
        while self._queue or not self._idle.is_set():
            self._wake.set()
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (bounded in time), then stop the writer."""
        self.flush(timeout_s)
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    # -- writer thread -------------------------------------------------------------

    def _run(self) -> None:
        table = sa.Table(PredictionRow.__tablename__, PredictionRow.metadata)
        while True:
            self._wake.wait(self.config.flush_interval_s)
            self._wake.clear()
            while self._queue:
                rows = self._take(self.config.batch_size)
                self.metrics.log_queue.set(self._pending)
                self._write(table, rows)
            self._idle.set()
            if self._stop.is_set() and not self._queue:
                return

    def _take(self, n: int) -> list[dict[str, Any]]:
        """Pop whole requests until about ``n`` rows; return them as table rows."""
        out: list[dict[str, Any]] = []
        queue = self._queue
        while queue and len(out) < n:
            entry = queue.popleft()
            try:
                out.extend(self._rows(entry))
            except Exception as exc:  # an output that cannot be logged is counted, not raised
                logger.error("prediction log: cannot log request %s: %s", entry.request_id, exc)
                self.dropped += entry.rows.n
                self.metrics.child(self.metrics.log_dropped, "unloggable").inc(entry.rows.n)
            finally:
                with self._count:
                    self._pending -= entry.rows.n
        return out

    def _write(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        for attempt in range(_RETRIES):
            try:
                with self.engine.begin() as conn:
                    conn.execute(sa.insert(table), rows)
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

    def _rows(self, entry: Entry) -> list[dict[str, Any]]:
        outputs = outputs_of(entry.model, entry.decision)
        when = dt.datetime.fromtimestamp(entry.time, dt.UTC)
        entity = None if entry.entity_key is None else str(entry.entity_key)[:128]
        n = entry.rows.n
        per_row = entry.latency_ms / max(n, 1)
        return [
            {
                "request_id": entry.request_id if n == 1 else f"{entry.request_id}/{i}",
                "time": when,
                "model": entry.name,
                "version": entry.version,
                "route": entry.route,
                "entity_key": entity,
                "inputs": self._scrub(entry.rows.record(i)),
                "outputs": outputs[i],
                "latency_ms": per_row,
            }
            for i in range(n)
        ]

    def _scrub(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if not self._hash_fields and not self._drop_fields:
            return dict(inputs)
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


def outputs_of(model: Any, decision: np.ndarray) -> list[dict[str, Any]]:
    """Return the logged output of each row: the value, or the label and probabilities."""
    if model.task == "regression":
        return [{"value": v} for v in decision[:, 0].tolist()]
    proba = model.proba_from_decision(decision[:, 0] if model.task == "binary" else decision)
    labels = model.labels_from_proba(proba).tolist()
    return [{"label": lab, "proba": p} for lab, p in zip(labels, proba.tolist(), strict=True)]
