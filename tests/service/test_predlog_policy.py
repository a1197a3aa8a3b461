"""The prediction log's overload policy over real HTTP: under the default (block) every
answered prediction is in the log; a log that cannot keep up answers 503 with Retry-After;
drop answers and counts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pytest
from tests.service.conftest import served_registry
from tests.unit.registry.conftest import artifacts, db_url  # noqa: F401 (fixtures)

from glmops.monitoring.logstore import read_prediction_log

RECORD = {"x": 0.3, "z": -1.2, "city": "paris"}
URL = "/v1/models/churn/predict"


@pytest.fixture
def registry(db_url, tmp_path, artifacts):  # noqa: F811
    reg = served_registry(db_url, tmp_path, artifacts)
    yield reg
    reg.close()


def _slow_store(srv: Any, gate: threading.Event | None = None, delay_s: float = 0.0) -> None:
    """Make the log's store slow (each file waits ``delay_s``) or stuck until ``gate`` is
    set: a store that cannot keep up, which a local disk in a test cannot be."""
    log = srv.state.log
    write = log.files.write

    def slow(name: str, version: int, table: pa.Table) -> list[str]:
        if gate is not None:
            gate.wait(30)
        time.sleep(delay_s)
        return write(name, version, table)

    log.files.write = slow


def _metric(srv: Any, name: str, **labels: str) -> float:
    return float(srv.state.metrics.registry.get_sample_value(name, labels or None) or 0.0)


def test_a_burst_that_overflows_the_queue_loses_no_answered_prediction(registry, make_server):
    # the default policy; a queue of 60 rows and a store that writes ~10 files a second
    srv = make_server(registry, prediction_log={"queue_size": 60, "rows_per_file": 60})
    _slow_store(srv, delay_s=0.1)

    def client(k: int) -> list[tuple[int, str, int, str | None]]:
        out = []
        with srv.client() as c:
            for i in range(15):
                n = 10 if i % 2 else 20  # record path and batch path
                r = c.post(URL, json={"instances": [{**RECORD, "x": k + i / 100}] * n})
                rid = r.headers["x-request-id"]
                out.append((r.status_code, rid, n, r.headers.get("retry-after")))
        return out

    with ThreadPoolExecutor(4) as pool:
        results = [row for rows in pool.map(client, range(4)) for row in rows]
    srv.stop()  # closes the log: everything accepted is written
    answered = {rid: n for status, rid, n, _ in results if status == 200}
    assert {status for status, *_ in results} <= {200, 503}
    assert all(after == "1" for status, _, _, after in results if status == 503)
    logged = Counter(read_prediction_log(srv.log_root, "churn").column("request_id").to_pylist())
    missing = {rid: n - logged.get(rid, 0) for rid, n in answered.items() if logged[rid] != n}
    assert not missing, f"{len(missing)} answered requests are missing rows from the log"
    assert set(logged) == set(answered)  # and a refused request is not in it
    assert sum(answered.values()) > 60  # the burst did overflow the queue
    assert srv.state.log.dropped == 0


def test_a_log_that_cannot_keep_up_answers_503_with_retry_after(registry, make_server):
    srv = make_server(
        registry, prediction_log={"queue_size": 30, "rows_per_file": 30, "max_wait_s": 0.2}
    )
    gate = threading.Event()
    _slow_store(srv, gate)
    with srv.client() as c:
        first = c.post(URL, json={"instances": [RECORD] * 25})
        assert first.status_code == 200, first.text
        started = time.monotonic()
        refused = c.post(URL, json={"instances": [RECORD] * 10})
        assert time.monotonic() - started >= 0.2  # waited max_wait_s for room
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        body = refused.json()
        assert set(body) == {"error", "errors", "request_id"} and "predictions" not in body
        assert body["errors"][0]["field"] == "prediction_log"
        assert body["errors"][0]["kind"] == "log_full"
        assert _metric(srv, "glmops_request_errors_total", model="churn", reason="log_full") == 1
        assert _metric(srv, "glmops_prediction_log_refused_total") == 10
        gate.set()  # the store catches up ...
        # ... and has written the first 25 rows (under load that can take longer
        # than max_wait_s; waiting on the flush keeps the test deterministic)
        assert srv.state.log.flush(timeout_s=30)
        again = c.post(URL, json={"instances": [RECORD] * 10})
        assert again.status_code == 200, again.text
        assert c.get("/healthz").status_code == 200  # the process kept serving
    srv.stop()
    logged = Counter(read_prediction_log(srv.log_root, "churn").column("request_id").to_pylist())
    assert logged == {first.json()["request_id"]: 25, again.json()["request_id"]: 10}


def test_drop_answers_everything_and_counts_what_the_log_lost(registry, make_server):
    srv = make_server(
        registry, prediction_log={"policy": "drop", "queue_size": 30, "rows_per_file": 30}
    )
    gate = threading.Event()
    _slow_store(srv, gate)
    with srv.client() as c:
        statuses = [c.post(URL, json={"instances": [RECORD] * 10}).status_code for _ in range(5)]
        metrics = c.get("/metrics").text
    assert statuses == [200] * 5
    assert 'glmops_prediction_log_dropped_total{reason="queue_full"} 20.0' in metrics
    assert "glmops_prediction_log_offered_total 50.0" in metrics
    gate.set()
