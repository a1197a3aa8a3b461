"""The prediction log's file layout: written per process and day, read back by filter."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glmops.monitoring.logstore import LogFiles, partition_dir, read_prediction_log

UTC = dt.UTC


def _rows(times: list[dt.datetime], version: int = 1, **extra: list) -> pa.Table:
    n = len(times)
    return pa.table(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "row": pa.array([0] * n, pa.int32()),
            "time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "model": ["churn"] * n,
            "version": pa.array([version] * n, pa.int32()),
            "route": ["champion"] * n,
            "entity_key": pa.nulls(n, pa.string()),
            "latency_ms": [0.5] * n,
            **extra,
            "prediction": [float(i) for i in range(n)],
        }
    )


def test_files_land_by_model_version_and_day_and_read_back_in_order(tmp_path):
    files = LogFiles(str(tmp_path))
    day = dt.datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)
    times = [day, day + dt.timedelta(seconds=2), day + dt.timedelta(seconds=3)]
    written = files.write("churn", 1, _rows(times, **{"input.x": [1.0, 2.0, 3.0]}))
    # a batch over midnight: one file per UTC day
    assert [p.split("/")[-2] for p in written] == ["date=2026-11-23", "date=2026-11-24"]
    assert all(partition_dir("churn", 1, day.date()).split("/")[0] in p for p in written)
    assert not list(tmp_path.rglob("*.tmp"))  # renamed into place, nothing half-written
    table = read_prediction_log(tmp_path, "churn")
    assert table.column("input.x").to_pylist() == [1.0, 2.0, 3.0]
    only_second_day = read_prediction_log(
        tmp_path, "churn", since=dt.datetime(2026, 11, 24), columns=["input.x", "nope"]
    )
    assert only_second_day.column_names == ["input.x"]
    assert only_second_day.column("input.x").to_pylist() == [2.0, 3.0]
    before = read_prediction_log(tmp_path, "churn", until=day + dt.timedelta(seconds=1))
    assert before.num_rows == 1


def test_versions_with_different_columns_read_as_one_table(tmp_path):
    files = LogFiles(str(tmp_path))
    now = dt.datetime(2026, 11, 23, 12, tzinfo=UTC)
    files.write("churn", 1, _rows([now], 1, **{"input.x": [1.0]}))
    files.write("churn", 2, _rows([now, now], 2, **{"input.x": [2.0, 3.0], "input.k": ["a", "b"]}))
    # a restart with x hashed (PII setting changed): the same version, another type
    files.write("churn", 2, _rows([now], 2, **{"input.x": ["hmac:00"], "input.k": ["c"]}))
    both = read_prediction_log(tmp_path, "churn")
    assert both.num_rows == 4
    assert both.column("input.k").to_pylist() == [None, "a", "b", "c"]
    assert read_prediction_log(tmp_path, "churn", versions=[1]).num_rows == 1


def test_a_missing_log_reads_empty_and_foreign_files_are_ignored(tmp_path):
    assert read_prediction_log(tmp_path / "nothing-yet", "churn").num_rows == 0
    now = dt.datetime(2026, 11, 23, tzinfo=UTC)
    LogFiles(str(tmp_path)).write("churn", 1, _rows([now]))
    day_dir = tmp_path / partition_dir("churn", 1, now.date())
    (day_dir / ".someone-000009.tmp").write_bytes(b"half a file")
    (day_dir / "notes.txt").write_text("not a log file")
    (tmp_path / "model=churn" / "version=x").mkdir()
    assert read_prediction_log(tmp_path, "churn").num_rows == 1
    assert read_prediction_log(tmp_path, "other").num_rows == 0


def test_two_writers_never_share_a_file_and_an_object_store_works(tmp_path):
    now = dt.datetime(2026, 11, 23, tzinfo=UTC)
    a, b = LogFiles(str(tmp_path)), LogFiles(str(tmp_path))
    paths = a.write("churn", 1, _rows([now])) + b.write("churn", 1, _rows([now]))
    assert len(set(paths)) == 2 and a.writer != b.writer
    assert read_prediction_log(tmp_path, "churn").num_rows == 2
    # any fsspec URL: the in-memory file system stands in for an object store here
    remote = LogFiles("memory://glmops-test-log")
    (path,) = remote.write("churn", 3, _rows([now, now]))
    assert path.endswith(".parquet") and not remote.local
    assert read_prediction_log("memory://glmops-test-log", "churn").num_rows == 2
    with remote.fs.open(path, "rb") as handle:
        assert pq.read_metadata(handle).num_rows == 2


def test_an_empty_table_writes_nothing(tmp_path):
    assert LogFiles(str(tmp_path)).write("churn", 1, _rows([])) == []
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("naive", [True, False])
def test_naive_datetimes_are_utc(tmp_path, naive):
    now = dt.datetime(2026, 11, 23, 10, tzinfo=UTC)
    LogFiles(str(tmp_path)).write("churn", 1, _rows([now]))
    since = dt.datetime(2026, 11, 23, 10, 0, 1)
    since = since if naive else since.replace(tzinfo=UTC)
    assert read_prediction_log(tmp_path, "churn", since=since).num_rows == 0


def test_a_written_file_and_its_directory_are_synced_before_it_counts(tmp_path, monkeypatch):
    import os

    import glmops._durable as durable

    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(durable.os, "fsync", spy)
    day = dt.datetime(2026, 11, 23, 12, tzinfo=UTC)
    (final,) = LogFiles(str(tmp_path)).write("churn", 1, _rows([day]))
    directory = os.path.dirname(final)
    assert any(p.endswith(".tmp") for p in synced), "the file's bytes are synced"
    assert synced[-1] == directory, "then its directory entry"
