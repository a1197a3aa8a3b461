"""Registry reliability: concurrent writers, SIGKILL mid-write, locked/absent databases, tampering.

Everything is real: SQLite files, the PostgreSQL of ``GLMOPS_TEST_PG_URL``
(a schema per test, see ``conftest.py``), artifact stores on disk, and
separate OS processes that the tests start together or kill with SIGKILL.
The processes come from a fork server (``_workers/registry_worker.py``)
that imports glmops once, so dozens of kills stay affordable; each forked
child opens its own database connections.

PostgreSQL races are made deterministic by holding a table lock (or an
uncommitted catalog row) until every contender is seen waiting in
``pg_stat_activity`` (matched by ``application_name``), then releasing it.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import os
import random
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from glmops.artifact import read_artifact, write_artifact
from glmops.errors import (
    ChecksumMismatch,
    ModelNotFound,
    RegistryError,
    RegistryUnavailable,
)
from glmops.registry import Registry

pytestmark = pytest.mark.xdist_group("registry_reliability")
logger = logging.getLogger(__name__)

WORKER = Path(__file__).parent / "_workers" / "registry_worker.py"
N_PROCS = 8
PER_PROC = 5
KILLS = 20
MAX_KILL_DELAY_S = 1.5
ALIAS_KILLS = 20
MAX_ALIAS_KILL_DELAY_S = 0.5
MOVES = ("set_alias", "promote", "rollback", "unset_alias")
# bounds on a hang, not performance assertions: a healthy run is far below them
HANG_BOUND_S = 10.0
WAIT_S = 60.0


# ---------------------------------------------------------------- helpers


def _wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


class ForkServer:
    """Client of ``_workers/registry_worker.py``: fork children that run registry jobs."""

    def __init__(self, stderr_path: Path) -> None:
        self._stderr = open(stderr_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        self.stderr_path = stderr_path
        assert self._read(WAIT_S) == {"ready": True}

    def _read(self, timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not ready:
            raise AssertionError(f"fork server silent for {timeout_s} s")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"fork server died: {self.stderr_path.read_text()[-2000:]}")
        reply: dict[str, Any] = json.loads(line)
        assert "error" not in reply, reply
        return reply

    def _send(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def fork(self, job: str, **args: Any) -> int:
        """Start a child running ``job`` with ``args``; return its pid."""
        self._send({"op": "fork", "job": job, "args": args})
        return int(self._read(WAIT_S)["pid"])

    def reap(self, pid: int, timeout_s: float = WAIT_S) -> int:
        """Wait for child ``pid``; return its exit code (minus the signal if killed).

        A child still running after ``timeout_s`` is SIGKILLed and the test fails.
        """
        self._send({"op": "reap", "pid": pid})
        try:
            return int(self._read(timeout_s)["status"])
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._read(WAIT_S)
            raise AssertionError(f"worker {pid} still running after {timeout_s} s") from None

    def kill_and_reap(self, pid: int) -> int:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return self.reap(pid)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("fork_server") / "stderr.log")
    try:
        yield server
    finally:
        server.close()


def _backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _app_url(url: str, app: str) -> str:
    """``url`` whose PostgreSQL connections carry ``application_name=app`` (SQLite: unchanged)."""
    if _backend(url) == "sqlite":
        return url
    return f"{url}{'&' if '?' in url else '?'}application_name={app}"


def _pg_sessions(url: str, app: str, *, waiting_on_lock: bool = False) -> int:
    """How many PostgreSQL backends named ``app`` exist (or wait on a lock); SQLite: 0."""
    if _backend(url) == "sqlite":
        return 0
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app"
    if waiting_on_lock:
        query += " AND wait_event_type = 'Lock'"
    engine = sa.create_engine(_app_url(url, "glmops_reliability_probe"))
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(query), {"app": app}).scalar_one())
    finally:
        engine.dispose()


def _lock_waiters(url: str, app: str) -> int:
    return _pg_sessions(url, app, waiting_on_lock=True)


def _wait_for_sessions_to_end(url: str, app: str) -> None:
    """Wait until a killed worker's PostgreSQL sessions are gone.

    The server still executes what a client sent before it died (a COMMIT
    included), so a check made too early could see that transaction land
    half-way through it.
    """
    _wait_until(lambda: _pg_sessions(url, app) == 0, f"the sessions of {app} to end")


@contextlib.contextmanager
def _pg_transaction(url: str) -> Iterator[sa.Connection]:
    """A PostgreSQL connection in an open transaction, rolled back unless committed."""
    engine = sa.create_engine(_app_url(url, "glmops_reliability_locker"))
    try:
        with engine.connect() as conn:
            conn.begin()
            try:
                yield conn
            finally:
                if conn.in_transaction():
                    conn.rollback()
    finally:
        engine.dispose()


class _Call:
    """Run ``fn`` in a thread (with its own Registry connections); collect result or error."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._result: Any = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._result = self._fn()
        except BaseException as exc:
            self._error = exc

    def outcome(self, timeout_s: float = WAIT_S) -> tuple[Any, BaseException | None]:
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), f"call still running after {timeout_s} s"
        return self._result, self._error

    def result(self, timeout_s: float = WAIT_S) -> Any:
        result, error = self.outcome(timeout_s)
        if error is not None:
            raise error
        return result


def _variant(source: Path, target: Path, tag: str) -> Path:
    """Write a copy of the artifact at ``source`` with a new digest (metadata gains a tag)."""
    loaded = read_artifact(source)
    model = copy.deepcopy(loaded.model)
    model["metadata"]["variant"] = tag
    return write_artifact(target, model, loaded.arrays, loaded.extra_files).path


def _digest(path: Path) -> str:
    return str(read_artifact(path).digest)


def _events(registry: Registry, name: str = "churn") -> list[dict[str, Any]]:
    """All audit events of ``name``, oldest first."""
    return list(reversed(registry.history(name, limit=1_000_000)))


def _temp_dirs(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.name.startswith(".incoming-")] if root.is_dir() else []


def _log_lines(path: Path, prefix: str) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line.startswith(prefix)]


# ---------------------------------------------------------------- 1. concurrent writers


def _run_concurrent_registrations(
    fork_server: ForkServer,
    url: str,
    root: Path,
    work: Path,
    sources: list[list[Path]],
    *,
    hold_models_lock: bool,
) -> list[tuple[int, list[list[Any]]]]:
    """Start ``len(sources)`` processes behind a barrier; each registers ``PER_PROC`` times.

    With ``hold_models_lock`` (PostgreSQL), the ``models`` table is locked while
    the barrier opens and released only once every process waits on it.
    Returns (exit status, [[version, digest], ...]) per process; a failed
    process's assertion message carries its log.
    """
    app = f"glmops_rel_{os.getpid()}_{time.monotonic_ns()}"
    worker_url = _app_url(url, app)
    barrier = work / "go"
    pids = []
    try:
        for i, artifacts in enumerate(sources):
            pids.append(
                fork_server.fork(
                    "register_many",
                    url=worker_url,
                    root=str(root),
                    actor=f"worker{i}",
                    name="churn",
                    artifacts=[str(p) for p in artifacts],
                    count=PER_PROC,
                    ready=str(work / f"ready{i}"),
                    barrier=str(barrier),
                    out=str(work / f"out{i}.json"),
                    log=str(work / f"worker{i}.log"),
                )
            )
        _wait_until(
            lambda: all((work / f"ready{i}").exists() for i in range(len(sources))),
            "every worker to open the registry",
        )
        if hold_models_lock:
            with _pg_transaction(url) as locker:
                locker.execute(sa.text("LOCK TABLE models IN ACCESS EXCLUSIVE MODE"))
                barrier.touch()
                _wait_until(
                    lambda: _lock_waiters(url, app) == len(sources),
                    "every worker to wait on the models lock",
                )
                locker.commit()
        else:
            barrier.touch()
        statuses = [fork_server.reap(pid) for pid in pids]
        pids = []
    finally:
        for pid in pids:
            fork_server.kill_and_reap(pid)
    out = []
    for i, status in enumerate(statuses):
        log = (work / f"worker{i}.log").read_text()
        assert status == 0, f"worker{i} exited with {status}:\n{log[-3000:]}"
        out.append((status, json.loads((work / f"out{i}.json").read_text())))
    return out


def _check_concurrent_outcome(
    url: str,
    root: Path,
    results: list[tuple[int, list[list[Any]]]],
    expected_digests: list[list[str]],
    first: int,
) -> None:
    n_new = N_PROCS * PER_PROC
    with Registry(url, root, actor="checker") as registry:
        versions = registry.list_versions("churn")
        numbers = [v.version for v in versions]
        assert numbers == list(range(1, first + n_new)), "versions lost, duplicated or skipped"
        reported = sorted(v for _, done in results for v, _ in done)
        assert reported == list(range(first, first + n_new))
        by_number = {v.version: v for v in versions}
        for i, (_, done) in enumerate(results):
            assert len(done) == PER_PROC
            assert [v for v, _ in done] == sorted(v for v, _ in done)  # each worker's own order
            for k, (number, digest) in enumerate(done):
                wanted = expected_digests[i][k % len(expected_digests[i])]
                assert digest == wanted
                assert by_number[number].digest == digest
                assert by_number[number].created_by == f"worker{i}"
        events = _events(registry)
        actions = Counter(e["action"] for e in events)
        assert actions == {"create_model": 1, "register": first - 1 + n_new}
        assert events[0]["action"] == "create_model"
        registered = Counter(e["version"] for e in events if e["action"] == "register")
        assert registered == Counter(numbers)
        assert registry.verify() == []
        assert _temp_dirs(root) == []


@pytest.mark.slow
@pytest.mark.parametrize("sources", ["same", "different"])
def test_concurrent_first_registrations_number_versions_1_to_40(
    request, fork_server, db_url, tmp_path, artifacts, sources
):
    """8 processes register one new model 5 times each at once: versions 1..40, none lost."""
    backend = _backend(db_url)
    root = tmp_path / "store"
    Registry(db_url, root).close()  # schema first: this test is about register, not migrate
    if sources == "same":
        per_worker = [[artifacts[0]] for _ in range(N_PROCS)]
    else:
        per_worker = [
            [_variant(artifacts[0], tmp_path / "variants" / f"w{i}", f"w{i}")]
            for i in range(N_PROCS)
        ]
    work = tmp_path / "work"
    work.mkdir()
    results = _run_concurrent_registrations(
        fork_server, db_url, root, work, per_worker, hold_models_lock=backend == "postgresql"
    )
    digests = [[_digest(p) for p in paths] for paths in per_worker]
    _check_concurrent_outcome(db_url, root, results, digests, first=1)


@pytest.mark.slow
def test_concurrent_registrations_of_an_existing_model(fork_server, db_url, tmp_path, artifacts):
    """8 processes x 5 registrations of an existing model: 2..41, each with its own digest.

    Every worker alternates its own new artifact with one shared new artifact,
    so the processes also race to store the same digest.
    """
    root = tmp_path / "store"
    with Registry(db_url, root, actor="setup") as registry:
        assert registry.register("churn", artifacts[0]).version == 1
    per_worker = [
        [_variant(artifacts[1], tmp_path / "variants" / f"w{i}", f"w{i}"), artifacts[2]]
        for i in range(N_PROCS)
    ]
    work = tmp_path / "work"
    work.mkdir()
    results = _run_concurrent_registrations(
        fork_server, db_url, root, work, per_worker, hold_models_lock=False
    )
    digests = [[_digest(p) for p in paths] for paths in per_worker]
    _check_concurrent_outcome(db_url, root, results, digests, first=2)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_first_registrations_of_a_model_both_succeed(db_url, tmp_path, artifacts):
    app = f"glmops_rel_{os.getpid()}_{time.monotonic_ns()}"
    root = tmp_path / "store"
    Registry(db_url, root).close()
    registries = [Registry(_app_url(db_url, app), root, actor=f"r{i}") for i in range(2)]
    try:
        with _pg_transaction(db_url) as locker:
            locker.execute(sa.text("LOCK TABLE models IN ACCESS EXCLUSIVE MODE"))
            calls = [_Call(lambda r=r: r.register("churn", artifacts[0])) for r in registries]
            _wait_until(lambda: _lock_waiters(db_url, app) == 2, "both registrations to wait")
            locker.commit()
        infos = [call.result() for call in calls]
    finally:
        for registry in registries:
            registry.close()
    assert sorted(i.version for i in infos) == [1, 2]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_processes_opening_an_empty_postgresql_schema_both_succeed(
    fork_server, db_url, tmp_path
):
    app = f"glmops_rel_{os.getpid()}_{time.monotonic_ns()}"
    logs = [tmp_path / f"open{i}.log" for i in range(2)]
    pids = []
    try:
        with _pg_transaction(db_url) as other:
            # another migrator's uncommitted first step: both processes queue behind it
            other.execute(
                sa.text("CREATE TABLE glmops_schema_version (version_num VARCHAR(32) PRIMARY KEY)")
            )
            pids = [
                fork_server.fork(
                    "open_registry",
                    url=_app_url(db_url, app),
                    root=str(tmp_path / "store"),
                    log=str(log),
                )
                for log in logs
            ]
            _wait_until(lambda: _lock_waiters(db_url, app) == 2, "both migrations to wait")
            other.rollback()  # that migrator gave up: the two processes now race
        statuses = [fork_server.reap(pid) for pid in pids]
        pids = []
    finally:
        for pid in pids:
            fork_server.kill_and_reap(pid)
    for log, status in zip(logs, statuses, strict=True):
        assert status == 0, log.read_text()[-2000:]


# ---------------------------------------------------------------- 2. SIGKILL mid-write


@pytest.mark.slow
def test_sigkill_during_registration_leaves_only_complete_versions(
    fork_server, db_url, tmp_path, artifacts
):
    """Kill a registering process at random moments: no gap, no partial version, no lost event."""
    backend = _backend(db_url)
    rng = random.Random(f"sigkill-register-{backend}")
    app = f"glmops_rel_{os.getpid()}_{time.monotonic_ns()}"
    root = tmp_path / "store"
    registry = Registry(db_url, root, actor="checker")
    seen = 0
    stats: Counter[str] = Counter()
    try:
        for k in range(KILLS):
            log = tmp_path / f"loop{k}.log"
            pid = fork_server.fork(
                "register_loop",
                url=_app_url(db_url, app),
                root=str(root),
                actor=f"loop{k}",
                name="churn",
                base=str(artifacts[0]),
                scratch=str(tmp_path / "scratch"),
                log=str(log),
            )
            # the fault's timing (seeded), not a wait for a condition
            time.sleep(rng.uniform(0.0, MAX_KILL_DELAY_S))
            status = fork_server.kill_and_reap(pid)
            assert status == -signal.SIGKILL, f"the loop ended by itself:\n{log.read_text()}"
            _wait_for_sessions_to_end(db_url, app)
            seen = _check_after_register_kill(registry, root, log, seen, stats)
        assert seen > 0, "no registration completed before any kill"
        stats["versions"] = seen
        assert registry.verify() == []
        assert registry.gc(dry_run=True) == []
    finally:
        registry.close()
    logger.info("SIGKILL during registration on %s: %s", backend, dict(stats))


def _check_after_register_kill(
    registry: Registry, root: Path, log: Path, seen: int, stats: Counter[str]
) -> int:
    try:
        versions = registry.list_versions("churn")
    except ModelNotFound:
        assert seen == 0
        assert _log_lines(log, "registered") == []
        versions = []
    numbers = [v.version for v in versions]
    assert numbers == list(range(1, len(numbers) + 1)), "a gap in the version numbers"
    assert len(numbers) >= seen, "a committed version disappeared"
    by_number = {v.version: v for v in versions}
    # every registration the killed process saw succeed is visible, with its digest
    for line in _log_lines(log, "registered"):
        _, number, digest = line.split()
        assert by_number[int(number)].digest == digest
    for info in versions[seen:]:
        assert registry.resolve(f"churn@{info.version}").digest == info.digest
        assert registry.store.verify(info.digest) == [], f"churn@{info.version} is partial"
        assert registry.load(f"churn@{info.version}").digest == info.digest
    events = _events(registry)
    assert Counter(e["version"] for e in events if e["action"] == "register") == Counter(numbers)
    for event in events:
        if event["action"] == "register":
            assert event["after"]["digest"] == by_number[event["version"]].digest
    assert sum(e["action"] == "create_model" for e in events) == (1 if numbers else 0)
    # what the kill left behind: a temp copy, or a stored artifact no version references
    stats["kills"] += 1
    stats["kills leaving temp dirs"] += bool(_temp_dirs(root))
    orphans = registry.gc(min_age_s=0)
    stats["kills leaving orphan artifacts"] += bool(orphans)
    assert not set(orphans) & {v.digest for v in versions}
    assert _temp_dirs(root) == []
    assert registry.store.gc_temp(older_than_s=0) == 0
    assert all(registry.store.has(v.digest) for v in versions), "gc removed a live artifact"
    return len(numbers)


@pytest.mark.slow
def test_sigkill_during_promote_and_rollback_keeps_alias_and_audit_log_in_step(
    fork_server, db_url, tmp_path, artifacts
):
    """Kill a promote/rollback loop at random moments: champion and audit log always agree."""
    backend = _backend(db_url)
    rng = random.Random(f"sigkill-alias-{backend}")
    app = f"glmops_rel_{os.getpid()}_{time.monotonic_ns()}"
    registry = Registry(db_url, tmp_path / "store", actor="checker")
    try:
        for path in [*artifacts, artifacts[0]]:
            registry.register("churn", path)
        registry.archive("churn", 4, reason="never to be champion")
        registry.promote("churn", 1)
        acknowledged = 1
        for k in range(ALIAS_KILLS):
            log = tmp_path / f"alias{k}.log"
            pid = fork_server.fork(
                "alias_loop",
                url=_app_url(db_url, app),
                root=str(tmp_path / "store"),
                actor=f"loop{k}",
                name="churn",
                versions=[1, 2, 3, 4],
                seed=rng.randrange(2**32),
                log=str(log),
            )
            time.sleep(rng.uniform(0.0, MAX_ALIAS_KILL_DELAY_S))  # the fault's timing
            status = fork_server.kill_and_reap(pid)
            assert status == -signal.SIGKILL, f"the loop ended by itself:\n{log.read_text()}"
            _wait_for_sessions_to_end(db_url, app)
            champion = registry.resolve("churn@champion")
            assert champion.version in (1, 2, 3)
            assert champion.status != "archived"
            assert registry.list_models()[0]["aliases"] == {"champion": champion.version}
            moves = [e for e in _events(registry) if e["alias"] == "champion"]
            assert all(e["action"] in MOVES for e in moves)
            assert moves[-1]["after"]["version"] == champion.version
            assert moves[0]["before"] == {}
            for prev, cur in itertools.pairwise(moves):
                assert cur["before"]["version"] == prev["after"]["version"], cur
            # every move the killed process saw committed is in the log
            done = _log_lines(log, "promoted") + _log_lines(log, "rolled back")
            assert len(moves) >= acknowledged + len(done)
            acknowledged = len(moves)
        assert registry.verify() == []
    finally:
        registry.close()


# ---------------------------------------------------------------- 3. locked or absent database


def test_locked_sqlite_database_raises_unavailable_then_recovers(tmp_path, artifacts):
    path = tmp_path / "registry.db"
    url = f"sqlite:///{path}"
    registry = Registry(url, tmp_path / "store", actor="alice", timeout_s=0.5)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        first = registry.register("churn", artifacts[0])
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(
            RegistryUnavailable, match=r"(creating|registering) churn.*database is locked"
        ):
            registry.register("churn", artifacts[1])
        assert time.monotonic() - started < HANG_BOUND_S  # a bound on a hang
        holder.execute("ROLLBACK")
        # nothing half-written: no version, no event; only the stored copy, which gc reclaims
        assert [v.version for v in registry.list_versions("churn")] == [1]
        assert [e["action"] for e in _events(registry)] == ["create_model", "register"]
        assert registry.gc(dry_run=True, min_age_s=0) == [_digest(artifacts[1])]
        second = registry.register("churn", artifacts[1])
        assert (first.version, second.version) == (1, 2)
        assert [e["action"] for e in _events(registry)] == ["create_model", "register", "register"]
        assert registry.verify() == []
    finally:
        holder.close()
        registry.close()


def test_reads_proceed_while_another_connection_holds_the_sqlite_write_lock(tmp_path, artifacts):
    path = tmp_path / "registry.db"
    registry = Registry(f"sqlite:///{path}", tmp_path / "store", timeout_s=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        registry.register("churn", artifacts[0])
        holder.execute("BEGIN EXCLUSIVE")
        # plain sqlite3 readers are not blocked in WAL mode ...
        assert sqlite3.connect(path).execute("SELECT count(*) FROM model_versions").fetchone() == (
            1,
        )
        # ... so serving the champion should not be either
        assert registry.resolve("churn@1").version == 1
    finally:
        holder.close()
        registry.close()


class _SilentServer:
    """A TCP port that accepts connections (kernel backlog) and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("server", ["closed-port", "silent-server"])
def test_unreachable_postgresql_raises_unavailable_quickly(tmp_path, server):
    silent = _SilentServer() if server == "silent-server" else None
    port = silent.port if silent is not None else 1
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    started = time.monotonic()
    try:
        with pytest.raises(RegistryUnavailable) as caught:
            Registry(url, tmp_path / "store", timeout_s=1)
    finally:
        if silent is not None:
            silent.close()
    assert time.monotonic() - started < HANG_BOUND_S  # a bound on a hang
    message = str(caught.value)
    assert message.startswith("The registry database is unavailable (checking the schema): ")
    expected = "Connection refused" if server == "closed-port" else "timeout expired"
    assert expected in message
    assert isinstance(caught.value, RegistryError)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_lock_wait_then_registration_completes(db_url, tmp_path, artifacts):
    """A registration blocked by ``LOCK TABLE models`` for ~2 s completes once it is released.

    Observed (documented, not required): ``timeout_s`` only bounds connecting
    on PostgreSQL; there is no lock_timeout/statement_timeout, so the
    registration simply waits for the lock (far past ``timeout_s=0.5``).
    Raising RegistryUnavailable while the lock is held is accepted too, then
    a retry after the release must succeed.
    """
    app = f"glmops_rel_{os.getpid()}_{time.monotonic_ns()}"
    timeout_s = 0.5
    registry = Registry(
        _app_url(db_url, app), tmp_path / "store", actor="alice", timeout_s=timeout_s
    )
    try:
        registry.register("churn", artifacts[0])
        with _pg_transaction(db_url) as locker:
            locker.execute(sa.text("LOCK TABLE models IN ACCESS EXCLUSIVE MODE"))
            call = _Call(lambda: registry.register("churn", artifacts[1]))
            _wait_until(lambda: _lock_waiters(db_url, app) == 1, "the registration to wait")
            call.thread.join(4 * timeout_s)  # hold the lock ~2 s, well past timeout_s
            still_waiting = call.thread.is_alive()
            logger.info("registration still waiting after %.1f s: %s", 4 * timeout_s, still_waiting)
            # the events table is not locked: nothing of the blocked registration shows yet
            assert [e["action"] for e in _events(registry)] == ["create_model", "register"]
            locker.commit()
        info, error = call.outcome()
        if error is not None:
            assert not still_waiting
            assert isinstance(error, RegistryUnavailable), error
            info = registry.register("churn", artifacts[1])
        assert info.version == 2 and info.digest == _digest(artifacts[1])
        assert [v.version for v in registry.list_versions("churn")] == [1, 2]
        assert [e["action"] for e in _events(registry)] == ["create_model", "register", "register"]
        assert registry.verify() == []
    finally:
        registry.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_gc_during_a_registration_keeps_its_artifact(db_url, tmp_path, artifacts):
    app = f"glmops_rel_{os.getpid()}_{time.monotonic_ns()}"
    root = tmp_path / "store"
    registry = Registry(_app_url(db_url, app), root, actor="alice")
    janitor = Registry(db_url, root, actor="janitor")
    try:
        registry.register("churn", artifacts[0])
        with _pg_transaction(db_url) as locker:
            # hold the registration between storing its artifact and committing its row
            locker.execute(sa.text("LOCK TABLE models IN ACCESS EXCLUSIVE MODE"))
            call = _Call(lambda: registry.register("churn", artifacts[1]))
            _wait_until(lambda: _lock_waiters(db_url, app) == 1, "the registration to wait")
            janitor.gc()
            locker.commit()
        assert call.result().version == 2
        assert registry.verify() == []
    finally:
        janitor.close()
        registry.close()


# ---------------------------------------------------------------- 4. tampering


def test_tampered_artifact_fails_load_naming_version_and_file(registry, artifacts):
    infos = [registry.register("churn", path) for path in artifacts]
    arrays = infos[1].artifact_path / "arrays.npz"
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))

    with pytest.raises(ChecksumMismatch, match=r"churn@2 .*arrays\.npz") as caught:
        registry.load("churn@2")
    assert caught.value.path == str(arrays)
    problems = registry.verify()
    assert len(problems) == 1
    assert problems[0].startswith("churn@2: ") and "arrays.npz" in problems[0]
    for ref in ("churn@1", "churn@3"):
        assert registry.load(ref).digest == registry.resolve(ref).digest


def test_missing_artifact_fails_load_naming_the_version(registry, artifacts):
    infos = [registry.register("churn", path) for path in artifacts[:2]]
    shutil.rmtree(infos[1].artifact_path)
    assert registry.verify() == [
        f"churn@2: artifact {infos[1].digest[:12]} is missing from {registry.store.root}"
    ]
    assert registry.load("churn@1").digest == infos[0].digest
    with pytest.raises(RegistryError, match="churn@2"):
        registry.load("churn@2")
