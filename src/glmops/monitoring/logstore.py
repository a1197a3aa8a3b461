"""The prediction log's storage: Parquet files by model, version and day.

Serving writes it and monitoring reads it; this module is the only place
that knows the layout, so the two meet here and nowhere else::

    {root}/model={name}/version={version}/date={YYYY-MM-DD}/{writer}-{seq}.parquet

``root`` is a directory or any fsspec URL (``s3://bucket/log``). Every
server process writes its own files (``writer`` holds the host and process
id), so replicas never contend for a file or a lock; a file appears whole
(written under a temporary name and renamed, or one object put on an
object store) and is never changed afterwards. On a local disk the file, its
directory and every directory created for it are synced before ``write``
returns: a written file survives a crash.

Why files and not a table in the registry database: a 1,000-row request
is one Arrow batch here (a few hundred microseconds to encode), where a
table takes one INSERT per row. Measured on the serving benchmark's model
(30 numeric features, one core), the table writer kept up with at most
~25k rows/s and starved the request loop while trying; the columnar writer
keeps up with the whole batch load (bench/RESULTS.md, ``serving``).
Readers select columns and prune by model, version and date from the path.

Columns of every file (one row per scored instance):

- ``request_id`` (string), ``row`` (int32: the instance's index in its request),
  ``time`` (timestamp[us, UTC]: when it was answered), ``model``, ``version`` (int32),
  ``route`` (champion | canary | shadow | pinned), ``entity_key`` (string, null when none),
  ``latency_ms`` (float64: the whole request's), ``sample_rate`` (float64: the share of
  requests the writer's policy kept, 1.0 unless ``sample``; weight a row by its inverse;
  absent from files written before it existed);
- ``input.{feature}``: each manifest feature as served (float64, bool or string), a
  PII field as its keyed hash (string), a dropped field absent;
- outputs: ``prediction`` (float64) for a regression; ``label`` (string) and
  ``proba.{class}`` (float64 per class) for a classifier.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glmops._arrow import mask, to_int
from glmops._durable import fsync_dir, replace_durably
from glmops._extras import require

if TYPE_CHECKING:
    import pyarrow as pa
else:
    from glmops._arrow import pa

__all__ = [
    "INPUT_PREFIX",
    "PROBA_PREFIX",
    "LogFiles",
    "partition_dir",
    "read_prediction_log",
]

INPUT_PREFIX = "input."
PROBA_PREFIX = "proba."
_EPOCH = dt.date(1970, 1, 1)
_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_VERSION_DIR = re.compile(r"^version=(\d+)$")


def partition_dir(name: str, version: int, day: dt.date) -> str:
    """Return the relative directory of one model version's rows of one (UTC) day."""
    return f"model={name}/version={version}/date={day.isoformat()}"


def _filesystem(root: str, storage_options: dict[str, Any] | None) -> tuple[Any, str, bool]:
    """Return (fsspec file system, path, is_local) for ``root``."""
    import fsspec.core

    if root.startswith("s3://"):
        require("s3", "an s3:// prediction log")
    fs, path = fsspec.core.url_to_fs(root, **(storage_options or {}))
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    return fs, path.rstrip("/"), local


class LogFiles:
    """Write prediction-log tables as Parquet files under ``root`` (one writer per process).

    Parameters
    ----------
    root : str
        A directory or an fsspec URL.
    storage_options : dict, optional
        Passed to the fsspec file system (``endpoint_url``, ``anon``, ...).
    compression : str, default="snappy"
        Parquet codec. Dictionary encoding is used for text columns only: on
        unique floats it costs more than the rest of the write (measured: 28k
        rows x 31 columns, 190 -> 44 ms with snappy).
    """

    def __init__(
        self,
        root: str,
        storage_options: dict[str, Any] | None = None,
        *,
        compression: str = "snappy",
    ) -> None:
        self.root = root
        self._storage_options = storage_options
        # a URL's file system is made now (a missing extra or a bad option fails at
        # start-up); a plain directory's at the first write: fsspec's import scans
        # every installed package's entry points, tens of ms of a server's start-up
        self._fs: tuple[Any, str, bool] | None = None
        if "://" in root:
            self._fs = _filesystem(root, storage_options)
        host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:48] or "host"
        self.writer = f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.compression = compression
        self._seq = 0
        self._lock = threading.Lock()
        self._made: set[str] = set()  # partition directories known to exist (and synced)

    def _file_system(self) -> tuple[Any, str, bool]:
        if self._fs is None:
            self._fs = _filesystem(self.root, self._storage_options)
        return self._fs

    @property
    def fs(self) -> Any:
        """The fsspec file system the files are written to."""
        return self._file_system()[0]

    @property
    def path(self) -> str:
        """The root's path on :attr:`fs` (no trailing slash)."""
        return self._file_system()[1]

    @property
    def local(self) -> bool:
        """Whether :attr:`fs` is the local file system."""
        return self._file_system()[2]

    def _options(self, table: pa.Table) -> dict[str, Any]:
        text = [
            f.name
            for f in table.schema
            if pa.types.is_string(f.type) and f.name not in ("request_id", "time")
        ]
        return {"compression": self.compression, "use_dictionary": text}

    def write(self, name: str, version: int, table: pa.Table) -> list[str]:
        """Write ``table`` (the module's columns) as one file per UTC day it spans.

        Returns the paths written. The file is complete when it becomes visible.
        """
        import pyarrow.parquet as pq

        if table.num_rows == 0:
            return []
        micros = to_int(table.column("time").cast(pa.int64()), null=0)
        days = micros // 86_400_000_000  # UTC days since the epoch
        parts: list[tuple[dt.date, pa.Table]] = []
        for day in np.unique(days).tolist():
            part = table if days[0] == days[-1] == day else table.filter(mask(days == day))
            parts.append((_EPOCH + dt.timedelta(days=day), part))
        written = []
        for day, part in parts:
            with self._lock:
                self._seq += 1
                seq = self._seq
            directory = f"{self.path}/{partition_dir(name, version, day)}"
            final = f"{directory}/{self.writer}-{seq:06d}.parquet"
            self._makedirs(directory)
            if self.local:
                temporary = f"{directory}/.{self.writer}-{seq:06d}.tmp"
                pq.write_table(part, temporary, **self._options(part))
                # the log is the audit trail: a written file survives a crash
                replace_durably(temporary, final)
            else:  # an object store puts the object whole on close
                with self.fs.open(final, "wb") as handle:
                    pq.write_table(part, handle, **self._options(part))
            written.append(final)
        return written

    def _makedirs(self, directory: str) -> None:
        """Create a partition directory; on a local disk, sync the parent of each directory
        created, or a crash could lose the new directory with the file synced inside it."""
        if directory in self._made:
            return
        if not self.local:
            self.fs.makedirs(directory, exist_ok=True)
        else:
            created = []
            path = Path(directory)
            while not path.exists():
                created.append(path)
                path = path.parent
            Path(directory).mkdir(parents=True, exist_ok=True)
            for new in reversed(created):
                fsync_dir(new.parent)
        if len(self._made) > 4096:  # one a model version and day: forget the old ones
            self._made.clear()
        self._made.add(directory)


def _unify(schemas: list[pa.Schema]) -> pa.Schema:
    """Return one schema for files whose columns differ: a column absent from a file is
    null there; a column stored as a number in one file and text (a hash) in another is
    read as text."""
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        types: dict[str, list[pa.DataType]] = {}
        for schema in schemas:
            for f in schema:
                types.setdefault(f.name, []).append(f.type)
        fields = []
        for name, found in types.items():
            try:
                fields.append(pa.unify_schemas([pa.schema([(name, t)]) for t in found])[0])
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                fields.append(pa.field(name, pa.string()))
        return pa.schema(fields)


def _days_between(since: dt.datetime | None, until: dt.datetime | None, day: dt.date) -> bool:
    if since is not None and day < since.astimezone(dt.UTC).date():
        return False
    return not (until is not None and day > until.astimezone(dt.UTC).date())


def _aware(when: dt.datetime | None) -> dt.datetime | None:
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=dt.UTC)


def read_prediction_log(
    root: str | Path,
    model: str,
    *,
    versions: Iterable[int] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    columns: list[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pa.Table:
    """Return the logged rows of ``model`` (all versions unless given), ``since <= time <
    until``, as one table.

    Files of different versions may carry different input columns; a column a
    version lacks is null in its rows. Naive datetimes are taken as UTC. A log
    that does not exist yet reads as an empty table.
    """
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    since, until = _aware(since), _aware(until)
    fs, base, _ = _filesystem(str(root), storage_options)
    wanted = None if versions is None else {int(v) for v in versions}
    model_dir = f"{base}/model={model}"
    tables: list[pa.Table] = []
    if not fs.exists(model_dir):
        return pa.table({})
    for version_path in sorted(fs.ls(model_dir, detail=False)):
        found = _VERSION_DIR.match(version_path.rstrip("/").rsplit("/", 1)[-1])
        if found is None or (wanted is not None and int(found.group(1)) not in wanted):
            continue
        files: list[str] = []
        for day_path in sorted(fs.ls(version_path, detail=False)):
            day = _DATE_DIR.match(day_path.rstrip("/").rsplit("/", 1)[-1])
            if day is None or not _days_between(since, until, dt.date.fromisoformat(day[1])):
                continue
            files.extend(
                p
                for p in sorted(fs.ls(day_path, detail=False))
                if p.endswith(".parquet") and not p.rsplit("/", 1)[-1].startswith(".")
            )
        if not files:
            continue
        dataset = ds.dataset(files, format="parquet", filesystem=fs)
        schemas = [fragment.physical_schema for fragment in dataset.get_fragments()]
        if any(not schema.equals(schemas[0]) for schema in schemas):
            # the PII settings or the served columns changed between two processes
            dataset = ds.dataset(files, format="parquet", filesystem=fs, schema=_unify(schemas))
        condition = None
        if since is not None:
            condition = pc.field("time") >= pa.scalar(since, pa.timestamp("us", tz="UTC"))
        if until is not None:
            before = pc.field("time") < pa.scalar(until, pa.timestamp("us", tz="UTC"))
            condition = before if condition is None else condition & before
        present = set(dataset.schema.names)
        selected = None if columns is None else [c for c in columns if c in present]
        tables.append(dataset.to_table(columns=selected, filter=condition))
    if not tables:
        return pa.table({})
    schema = _unify([t.schema for t in tables])
    aligned = [
        pa.table(
            [
                t.column(f.name).cast(f.type)
                if f.name in t.column_names
                else pa.nulls(t.num_rows, f.type)
                for f in schema
            ],
            schema=schema,
        )
        for t in tables
    ]
    return pa.concat_tables(aligned)
