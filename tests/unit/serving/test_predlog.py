"""The prediction-log writer: entries become Parquet rows off the request path; every row
is written, counted as dropped, or its request refused (policy block), never silently lost;
append never raises."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.unit.registry.conftest import artifacts  # noqa: F401 (fixture)

from glmops.config import PredictionLogConfig, parse_config
from glmops.model import load_model
from glmops.monitoring.logstore import read_prediction_log
from glmops.serving.inference import Policy, parse_payload, score_rows
from glmops.serving.metrics import ServingMetrics
from glmops.serving.predlog import Entry, LogFull, PredictionLog
from glmops.serving.routing import Slot
from glmops.training.pipeline import train_model

RECORD = {"x": 0.3, "z": -1.2, "city": "paris"}


@pytest.fixture(scope="module")
def churn(artifacts):  # noqa: F811
    return load_model(artifacts[0])


@pytest.fixture(scope="module")
def price(tmp_path_factory):
    """A small regression model (numeric and categorical features)."""
    root = tmp_path_factory.mktemp("price")
    rng = np.random.default_rng(5)
    n = 300
    x = rng.normal(size=n)
    city = rng.choice(["paris", "lyon"], n)
    y = 2.0 * x + (city == "paris") + rng.normal(scale=0.1, size=n)
    spec = parse_config(
        {
            "models": {
                "price": {
                    "data": {"path": "unused.csv"},
                    "target": "y",
                    "task": "regression",
                    "cv": {"n_folds": 3, "n_alphas": 5, "l1_ratio": [1.0]},
                }
            }
        }
    ).models["price"]
    table = pa.table({"x": x, "city": city, "y": y})
    result = train_model(
        "price", spec, base_dir=root, output_dir=root / "out", data=table, write_report=False
    )
    assert result.artifact_path is not None
    return load_model(result.artifact_path)


def _log(tmp_path: Path, **options) -> tuple[PredictionLog, ServingMetrics]:
    metrics = ServingMetrics("test")
    config = PredictionLogConfig(path=str(tmp_path / "log"), flush_interval_s=60, **options)
    log = PredictionLog(config, metrics, {"churn": "customer"})
    log.start()
    return log, metrics


def _entry(model, payload, name="churn", route="champion", rid="r1", entity=None) -> Entry:
    # the log test is about queue bounds, not input caps: allow a long value through
    policy = Policy(passthrough=frozenset({"customer"}), max_string_chars=100_000)
    rows = parse_payload(payload, policy)
    scored = score_rows(model, rows, policy)
    slot = Slot(name, 1, "digest", model, route)
    return Entry(rid, time.time(), slot, entity, rows, scored.table, scored.decision, 0.25)


def _counter(metrics: ServingMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels or None)
    return float(value or 0.0)


def test_records_columns_and_shadow_rows_are_written_with_their_outputs(tmp_path, churn):
    log, metrics = _log(tmp_path)
    batch = [{**RECORD, "x": i / 10, "customer": f"c{i}"} for i in range(40)]
    log.append(_entry(churn, {"instances": [RECORD]}, rid="one", entity="hdr"))
    log.append(_entry(churn, {"instances": batch}, rid="many"))
    columns = ["x", "z", "city", "customer"]
    log.append(
        _entry(churn, {"columns": columns, "data": [[r[c] for c in columns] for r in batch]})
    )
    log.append(_entry(churn, {"instances": [RECORD]}, route="shadow", rid="one"))
    assert log.pending == 1 + 40 + 40 + 1
    assert log.flush(10)
    assert log.pending == 0 and log.written == 82
    table = read_prediction_log(tmp_path / "log", "churn")
    assert table.num_rows == 82
    rows = table.to_pylist()  # in no particular order: select by request id and route
    (single,) = [r for r in rows if r["request_id"] == "one" and r["route"] == "champion"]
    assert single["entity_key"] == "hdr" and single["row"] == 0
    # a batch logs each row's own entity key and its index in the request
    many = [r for r in rows if r["request_id"] == "many"]
    assert [r["entity_key"] for r in many] == [f"c{i}" for i in range(40)]
    assert [r["row"] for r in many] == list(range(40))
    assert [r["input.x"] for r in many] == pytest.approx([i / 10 for i in range(40)])
    # the record path and the batch path log the same values
    columnar = [r for r in rows if r["request_id"] == "r1"]
    for key in ("input.x", "input.z", "input.city", "proba.yes", "label", "entity_key"):
        assert [r[key] for r in columnar] == pytest.approx([r[key] for r in many])
    expected = churn.predict_proba(pa.Table.from_pylist(batch).drop_columns(["customer"]))[:, 1]
    np.testing.assert_allclose([r["proba.yes"] for r in many], expected, rtol=1e-12)
    assert [r["proba.no"] + r["proba.yes"] for r in many] == pytest.approx([1.0] * 40)
    (shadow,) = [r for r in rows if r["route"] == "shadow"]
    assert shadow["request_id"] == "one" and shadow["proba.yes"] == single["proba.yes"]
    assert _counter(metrics, "glmops_prediction_log_written_total") == 82
    log.close()


def test_a_regression_logs_its_value(tmp_path, price):
    log, _ = _log(tmp_path)
    log.append(_entry(price, {"instances": [{"x": 1.0, "city": "lyon"}]}, name="price"))
    assert log.flush(10)
    (row,) = read_prediction_log(tmp_path / "log", "price").to_pylist()
    assert row["prediction"] == pytest.approx(price.predict({"x": 1.0, "city": "lyon"})[0])
    assert row["input.city"] == "lyon" and "label" not in row
    log.close()


def test_pii_fields_are_hashed_or_dropped_entity_keys_too(tmp_path, churn, monkeypatch):
    monkeypatch.setenv("GLMOPS_LOG_HASH_KEY", "k1")
    log, _ = _log(tmp_path, hash_fields=["city", "customer"], drop_fields=["z"])
    batch = [{**RECORD, "customer": f"c{i}"} for i in range(20)]
    log.append(_entry(churn, {"instances": batch}))
    assert log.flush(10)
    rows = read_prediction_log(tmp_path / "log", "churn").to_pylist()
    assert "input.z" not in rows[0]
    assert rows[0]["input.city"].startswith("hmac:") and "paris" not in rows[0]["input.city"]
    keys = [r["entity_key"] for r in rows]
    assert all(k.startswith("hmac:") for k in keys) and len(set(keys)) == 20
    log.close()
    # the same key gives the same hashes after a restart: joinable
    again, _ = _log(tmp_path / "again", hash_fields=["city"])
    again.append(_entry(churn, {"instances": [RECORD]}))
    assert again.flush(10)
    row = read_prediction_log(tmp_path / "again" / "log", "churn").to_pylist()[0]
    assert row["input.city"] == rows[0]["input.city"]
    again.close()


def test_a_full_queue_drops_and_counts_and_never_blocks(tmp_path, churn):
    log, metrics = _log(tmp_path, policy="drop", queue_size=30, rows_per_file=30)
    gate = _hold_writes(log)
    log.append(_entry(churn, {"instances": [RECORD] * 25}))
    started = time.monotonic()
    log.append(_entry(churn, {"instances": [RECORD] * 10}))  # 35 > 30: dropped whole
    asyncio.run(log.admit(_entry(churn, {"instances": [RECORD] * 10})))  # the loop's way too
    assert time.monotonic() - started < 0.5  # max_wait_s (1 s) is not waited under drop
    log.append(_entry(churn, {"instances": [RECORD] * 5}))
    assert log.dropped == 20 and log.refused == 0
    assert _counter(metrics, "glmops_prediction_log_dropped_total", reason="queue_full") == 20
    # the drop rate monitoring weights by: dropped / offered
    assert _counter(metrics, "glmops_prediction_log_offered_total") == 50
    gate.set()
    assert log.flush(10)
    assert read_prediction_log(tmp_path / "log", "churn").num_rows == 30
    log.close()


def test_a_store_that_fails_is_counted_and_the_writer_keeps_going(tmp_path, churn):
    blocker = tmp_path / "log"
    blocker.write_text("a file where the log's directory should be")
    log, metrics = _log(tmp_path)
    log.append(_entry(churn, {"instances": [RECORD] * 3}))
    assert log.flush(10)
    assert log.dropped == 3 and log.written == 0 and log.pending == 0
    assert _counter(metrics, "glmops_prediction_log_dropped_total", reason="write_failed") == 3
    blocker.unlink()  # the store comes back: later rows are written
    log.append(_entry(churn, {"instances": [RECORD] * 2}))
    assert log.flush(10) and log.written == 2
    log.close()


def test_an_entry_that_cannot_be_logged_is_counted(tmp_path, churn):
    log, metrics = _log(tmp_path)
    good = _entry(churn, {"instances": [RECORD]})
    batch = _entry(churn, {"instances": [RECORD] * 20})
    assert batch.table is not None
    wrong = Entry(
        "bad", time.time(), good.slot, None, batch.rows, batch.table, np.zeros((3, 1)), 0.1
    )
    log.append(wrong)  # three decision rows for twenty input rows
    short = Entry("short", time.time(), good.slot, None, good.rows, None, np.zeros((0, 1)), 0.1)
    log.append(short)  # no decision at all for a record-path row
    assert log.flush(10)
    assert _counter(metrics, "glmops_prediction_log_dropped_total", reason="unloggable") == 21
    assert log.dropped == 21 and log.pending == 0
    log.append(good)
    assert log.flush(10) and log.written == 1
    log.close()


def test_rows_reach_a_file_by_interval_or_size_without_a_flush(tmp_path, churn):
    metrics = ServingMetrics("test")
    config = PredictionLogConfig(path=str(tmp_path / "log"), flush_interval_s=0.1)
    log = PredictionLog(config, metrics)
    log.start()
    log.append(_entry(churn, {"instances": [RECORD]}))
    deadline = time.monotonic() + 10
    while log.written < 1:
        assert time.monotonic() < deadline, "the interval did not write the file"
        time.sleep(0.02)
    log.close()
    sized = PredictionLog(
        PredictionLogConfig(path=str(tmp_path / "sized"), flush_interval_s=3600, rows_per_file=50),
        metrics,
    )
    sized.start()
    for _ in range(30):
        sized.append(_entry(churn, {"instances": [RECORD] * 2}))
    sized._wake.set()
    deadline = time.monotonic() + 10
    while sized.written < 50:
        assert time.monotonic() < deadline, "rows_per_file did not write the file"
        sized._wake.set()
        time.sleep(0.02)
    sized.close()
    assert read_prediction_log(tmp_path / "sized", "churn").num_rows == 60


def test_rows_per_file_must_fit_the_queue():
    with pytest.raises(ValueError, match="rows_per_file"):
        PredictionLogConfig(queue_size=10, rows_per_file=20)


def _hold_writes(log: PredictionLog) -> threading.Event:
    """Hold the writer's file writes until the returned event is set: a store that
    cannot keep up (a fault the tests cannot cause on a local disk)."""
    gate = threading.Event()
    write = log.files.write

    def held(name: str, version: int, table: pa.Table) -> list[str]:
        gate.wait(30)
        return write(name, version, table)

    log.files.write = held  # type: ignore[method-assign]
    return gate


def test_block_is_the_default_and_refuses_what_finds_no_room_in_max_wait(tmp_path, churn):
    assert PredictionLogConfig().policy == "block"
    log, metrics = _log(tmp_path, queue_size=30, rows_per_file=30, max_wait_s=0.3)
    gate = _hold_writes(log)
    asyncio.run(log.admit(_entry(churn, {"instances": [RECORD] * 25}, rid="first")))
    started = time.monotonic()
    with pytest.raises(LogFull) as refused:
        asyncio.run(log.admit(_entry(churn, {"instances": [RECORD] * 10}, rid="second")))
    assert time.monotonic() - started >= 0.3  # it waited for room, bounded
    assert refused.value.status == 503 and refused.value.retry_after_s == 1
    assert refused.value.reason == "log_full"
    assert refused.value.errors[0]["field"] == "prediction_log"
    assert log.refused == 10 and log.dropped == 0
    assert _counter(metrics, "glmops_prediction_log_refused_total") == 10

    async def admitted_once_the_writer_catches_up() -> float:
        waiting = asyncio.ensure_future(
            log.admit(_entry(churn, {"instances": [RECORD] * 10}, rid="third"))
        )
        await asyncio.sleep(0.05)
        assert not waiting.done()  # still waiting for room
        gate.set()  # the store catches up: its write frees the room
        began = time.monotonic()
        await waiting
        return time.monotonic() - began

    assert asyncio.run(admitted_once_the_writer_catches_up()) < 0.3
    assert log.flush(10)
    ids = read_prediction_log(tmp_path / "log", "churn").column("request_id").to_pylist()
    assert sorted(set(ids)) == ["first", "third"] and len(ids) == 35
    assert log.dropped == 0
    log.close()


def test_a_thread_waits_for_room_then_drops_and_counts(tmp_path, churn):
    log, metrics = _log(tmp_path, queue_size=30, rows_per_file=30, max_wait_s=0.2)
    gate = _hold_writes(log)
    log.append(_entry(churn, {"instances": [RECORD] * 25}, route="shadow"))
    started = time.monotonic()
    log.append(_entry(churn, {"instances": [RECORD] * 10}, route="shadow"))  # never raises
    assert time.monotonic() - started >= 0.2
    assert log.dropped == 10 and log.refused == 0
    assert _counter(metrics, "glmops_prediction_log_dropped_total", reason="queue_full") == 10
    gate.set()
    log.close()


def test_a_request_larger_than_the_log_is_refused_at_once_or_counted(tmp_path, churn):
    log, metrics = _log(tmp_path, queue_size=30, rows_per_file=30)
    started = time.monotonic()
    with pytest.raises(LogFull, match="queue_size") as refused:
        asyncio.run(log.admit(_entry(churn, {"instances": [RECORD] * 31})))
    assert time.monotonic() - started < 0.5  # no use waiting: it can never fit
    assert refused.value.status == 413 and refused.value.retry_after_s is None
    log.close()
    dropping, metrics = _log(tmp_path / "drop", policy="drop", queue_size=30, rows_per_file=30)
    asyncio.run(dropping.admit(_entry(churn, {"instances": [RECORD] * 31})))
    assert _counter(metrics, "glmops_prediction_log_dropped_total", reason="too_large") == 31
    dropping.close()


def test_the_queue_is_bounded_in_bytes_as_well_as_rows(tmp_path, churn):
    log, metrics = _log(tmp_path, policy="drop", queue_bytes=100_000)
    gate = _hold_writes(log)
    batch = _entry(churn, {"instances": [RECORD] * 100})
    single = _entry(churn, {"instances": [{**RECORD, "city": "c" * 20_000}]})
    for _ in range(20):
        for entry in (batch, single):
            log.append(entry)
            assert 0 < log.held_bytes <= 100_000
    # far below the row bound (200,000), the byte bound dropped rows: counted
    assert log.pending < 2_020 and log.dropped > 0
    assert log.pending + log.dropped == 20 * 101
    assert _counter(metrics, "glmops_prediction_log_dropped_total", reason="queue_full") > 0
    # the estimate covers what the writer makes of a batch, and a long string's length
    ready = log._ready(batch)
    assert ready is not None and ready.item is not None
    assert log._tables([ready.item]).nbytes <= ready.nbytes
    assert log._record_bytes(single) > 20_000
    gate.set()
    assert log.flush(10) and log.held_bytes == 0 and log.pending == 0
    log.close()


def test_sample_keeps_a_keyed_deterministic_share_and_records_the_rate(
    tmp_path, churn, monkeypatch
):
    monkeypatch.setenv("GLMOPS_LOG_HASH_KEY", "k1")
    one = _entry(churn, {"instances": [RECORD]})

    def sampled(root: Path) -> tuple[list[str], ServingMetrics, pa.Table]:
        log, metrics = _log(root, policy="sample", sample_rate=0.25)
        for i in range(2000):
            log.append(dataclasses.replace(one, request_id=f"req-{i}"))
        assert log.flush(10)
        log.close()
        table = read_prediction_log(root / "log", "churn")
        return sorted(table.column("request_id").to_pylist()), metrics, table

    kept, metrics, table = sampled(tmp_path / "a")
    assert 400 <= len(kept) <= 600  # 2,000 x 0.25, within 5 standard deviations
    assert set(table.column("sample_rate").to_pylist()) == {0.25}
    assert _counter(metrics, "glmops_prediction_log_dropped_total", reason="not_sampled") == (
        2000 - len(kept)
    )
    assert _counter(metrics, "glmops_prediction_log_sample_rate") == 0.25
    again, _, _ = sampled(tmp_path / "b")
    assert again == kept  # the same ids and key: the same requests
    monkeypatch.setenv("GLMOPS_LOG_HASH_KEY", "k2")
    other, _, _ = sampled(tmp_path / "c")
    assert other != kept  # keyed: a client cannot pick ids that escape the log


def test_every_row_records_its_sample_rate(tmp_path, churn):
    log, _ = _log(tmp_path)
    log.append(_entry(churn, {"instances": [RECORD]}))
    log.append(_entry(churn, {"instances": [RECORD] * 20}))
    assert log.flush(10)
    rates = read_prediction_log(tmp_path / "log", "churn").column("sample_rate").to_pylist()
    assert rates == [1.0] * 21
    log.close()


def test_sample_rate_needs_the_sample_policy():
    with pytest.raises(ValueError, match=r"sample_rate .* policy: sample"):
        PredictionLogConfig(sample_rate=0.5)
    assert PredictionLogConfig(policy="sample", sample_rate=0.5).sample_rate == 0.5


def test_a_file_its_directory_and_each_new_parent_are_synced(tmp_path, churn, monkeypatch):
    from glmops import _durable
    from glmops.monitoring import logstore

    synced: list[Path] = []
    sync = _durable.fsync_dir

    def record(directory: str | Path) -> None:
        synced.append(Path(directory))
        sync(directory)

    monkeypatch.setattr(_durable, "fsync_dir", record)  # the file's own directory
    monkeypatch.setattr(logstore, "fsync_dir", record, raising=False)  # dirs made for it
    log, _ = _log(tmp_path)
    log.append(_entry(churn, {"instances": [RECORD]}))
    assert log.flush(10) and log.written == 1
    (written,) = (tmp_path / "log").rglob("*.parquet")
    chain = [written.parent, *written.parent.parents]
    needed = chain[: chain.index(tmp_path) + 1]  # date=, version=, model=, log/, tmp_path
    assert set(needed) <= set(synced)
    log.close()
