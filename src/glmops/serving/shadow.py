"""Shadow scoring: the shadow version scores a copy of each request in a worker thread.

The response never waits for it and never changes because of it: the
request path appends to a deque bounded in jobs and in bytes (a few huge
batches must not hold memory) and returns. The worker scores the
same rows with the shadow model and logs its outputs under the same request
id (route ``shadow``), beside the answer that was sent, for comparison.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from glmops.serving.inference import Policy, Refusal, Rows, Scored, score_rows
from glmops.serving.metrics import ServingMetrics
from glmops.serving.routing import Slot
from glmops.serving.worker import BackgroundWorker

__all__ = ["ShadowScorer"]

logger = logging.getLogger(__name__)

# (slot, rows, request_id, entity key, decision that was answered)
Job = tuple[Slot, Rows, str, str | None, np.ndarray]

# estimated bytes of one parsed JSON value held by a queued job (dict slot, float or str)
_VALUE_BYTES = 100


def _job_bytes(rows: Rows) -> int:
    """Estimated bytes a queued job's rows hold (an Arrow table's own size, else per value)."""
    if rows.table is not None:
        return int(rows.table.nbytes)
    if rows.names is not None:
        width = len(rows.names)
    else:
        width = len(rows.records[0]) if rows.records else 0
    return rows.n * max(width, 1) * _VALUE_BYTES


class ShadowScorer(BackgroundWorker[Job]):
    """Score shadow copies off the request path; drop (and count) beyond ``capacity`` jobs
    or ``capacity_bytes`` (estimated) queued."""

    def __init__(
        self,
        metrics: ServingMetrics,
        policy_for: Callable[[str], Policy],
        log: Callable[[Slot, Rows, str, str | None, Scored, float], None],
        *,
        capacity: int = 1_000,
        capacity_bytes: int = 64 * 1024**2,
    ) -> None:
        super().__init__("glmops-shadow", 0.5)
        self.metrics = metrics
        self.policy_for = policy_for
        self.log = log
        self.capacity = capacity
        self.capacity_bytes = capacity_bytes
        self.done = 0
        self._bytes = 0  # estimated bytes of the queued jobs
        self._count = threading.Lock()  # the request loop adds, the worker subtracts

    @property
    def held_bytes(self) -> int:
        """Estimated bytes of the queued jobs (at most ``capacity_bytes``)."""
        return self._bytes

    def submit(self, job: Job) -> None:
        """Queue a shadow scoring (never blocks; counted as dropped when full)."""
        nbytes = _job_bytes(job[1])
        with self._count:
            full = len(self._queue) >= self.capacity or self._bytes + nbytes > self.capacity_bytes
            if not full:
                self._bytes += nbytes
        if full:
            slot = job[0]
            self.metrics.child(self.metrics.shadow, slot.name, slot.version_label, "dropped").inc()
            return
        self._put(job)

    def drain(self) -> None:
        """Score every queued shadow job (runs in the worker thread)."""
        while self._queue:
            job = self._queue.popleft()
            try:
                self._score(job)
            finally:
                with self._count:
                    self._bytes -= _job_bytes(job[1])

    def _score(self, job: Job) -> None:
        slot, rows, request_id, entity, _answered = job
        started = time.perf_counter()
        try:
            scored = score_rows(slot.model, rows, self.policy_for(slot.name))
        except Refusal:
            outcome = "refused"  # the shadow's manifest differs and refuses these rows
        except Exception as exc:  # a shadow must never take the service down
            logger.warning("shadow %s@%s failed: %s", slot.name, slot.version, exc)
            outcome = "error"
        else:
            latency_ms = (time.perf_counter() - started) * 1e3
            self.log(slot, rows, request_id, entity, scored, latency_ms)
            outcome = "ok"
        self.done += 1
        self.metrics.child(self.metrics.shadow, slot.name, slot.version_label, outcome).inc()
