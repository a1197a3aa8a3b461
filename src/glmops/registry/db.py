"""Connect to the registry database (SQLite embedded, PostgreSQL in production) and migrate it.

SQLite runs in WAL mode with a busy timeout, and every write transaction
starts with ``BEGIN IMMEDIATE`` so concurrent writers queue instead of
failing mid-transaction. PostgreSQL gets a connect timeout and pre-ping.
Transient failures (locked database, dropped connection) are retried with
exponential backoff by :func:`with_retries`; anything else surfaces at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from glmops._extras import require
from glmops._redact import redact_text, redact_url
from glmops.errors import RegistryError, RegistryUnavailable

__all__ = [
    "SCHEMA_HEAD",
    "current_revision",
    "ensure_schema",
    "make_engine",
    "upgrade",
    "with_retries",
]

logger = logging.getLogger(__name__)

SCHEMA_HEAD = "0004"
VERSION_TABLE = "glmops_schema_version"
T = TypeVar("T")


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _json_dumps(value: Any) -> str:
    """JSON for the JSON columns: orjson (5-10x faster than json; the prediction log
    writes one object per prediction), numpy scalars accepted, NaN stored as null."""
    import orjson

    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, *, timeout_s: float = 10.0) -> Engine:
    """Return an engine for ``url`` tuned for concurrent registry writers.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///./glmops.db`` or ``postgresql+psycopg://...``.
    timeout_s : float, default=10.0
        How long a connection waits for a lock (SQLite) or to connect (PostgreSQL).

    Returns
    -------
    sqlalchemy.engine.Engine
    """
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        # the URL may carry a password: never echo it, nor the parser's text of it
        raise RegistryError(
            f"Invalid registry URL {redact_url(url)!r}: {redact_text(str(exc))}"
        ) from None
    if _is_sqlite(url):
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"timeout": timeout_s, "check_same_thread": False},
            json_serializer=_json_dumps,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # FULL: a commit the caller was told about survives a power cut too
            # (NORMAL in WAL mode may lose the last transactions); cost in bench/RESULTS.md
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # writers queue on the write lock up front; readers never take it (WAL lets
            # them read while a writer holds it: serving must not stall on a registration)
            writing = conn.get_execution_options().get("glmops_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        require("postgres", "a postgresql registry URL")
        connect_args["connect_timeout"] = max(1, int(timeout_s))
    try:
        engine = sa.create_engine(
            url, pool_pre_ping=True, connect_args=connect_args, json_serializer=_json_dumps
        )
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise RegistryError(
            f"Cannot use registry URL {redact_url(url)!r}: {redact_text(str(exc))}"
        ) from None
    if parsed.get_backend_name() == "postgresql":

        @event.listens_for(engine, "connect")
        def _pg_lock_timeout(dbapi_conn: Any, _record: Any) -> None:
            # a lock held elsewhere fails the statement after timeout_s (then retried)
            # instead of waiting forever
            with dbapi_conn.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = {int(timeout_s * 1000)}")
            dbapi_conn.commit()

    return engine


_TRANSIENT = (
    "database is locked",
    "could not connect",
    "connection refused",
    "server closed",
    "lock timeout",
)  # not "timeout expired": a connect that already waited timeout_s is not retried


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        text = str(exc).lower()
        return any(mark in text for mark in _TRANSIENT) or exc.connection_invalidated
    return False


def with_retries(
    fn: Callable[[], T], *, attempts: int = 5, base_delay_s: float = 0.05, what: str = ""
) -> T:
    """Run ``fn``; retry transient database failures with jittered exponential backoff.

    After the last attempt the failure becomes :class:`RegistryUnavailable`
    naming ``what`` and the cause; the transaction that failed was rolled
    back, so nothing is half-written.
    """
    for attempt in range(attempts):
        try:
            return fn()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            if not _transient(exc) or attempt == attempts - 1:
                first = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
                raise RegistryUnavailable(
                    f"The registry database is unavailable{f' ({what})' if what else ''}: {first}"
                ) from exc
            delay = base_delay_s * (2**attempt) * (1 + random.random())
            logger.warning("registry: %s, retrying in %.2f s", exc.__class__.__name__, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision recorded in the database (None: not initialised)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        row = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
        return None if row is None else str(row[0])


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Apply the Alembic migrations up to ``revision``; return the resulting revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.execution_options(glmops_write=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            # one migrator at a time; the others then find the schema at head
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7061231)"))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    found = current_revision(engine)
    logger.info("registry schema at revision %s", found)
    return found or ""


def ensure_schema(engine: Engine, *, migrate: bool = False) -> None:
    """Check the schema is at head; create it in an empty database; migrate only when asked.

    An empty database gets the schema (creating loses nothing). A database at
    an older revision is migrated only with ``migrate=True`` (``glmops
    registry migrate`` or ``registry.migrate: true`` in the config): a
    migration can rewrite or drop data, so it never runs by surprise. A
    database newer than this glmops is refused.
    """
    revision = with_retries(lambda: current_revision(engine), what="checking the schema")
    if revision == SCHEMA_HEAD:
        return
    if revision is not None and revision not in _known_revisions():
        raise RegistryError(
            f"The registry database's schema is at revision {revision!r}, newer than this "
            f"glmops knows ({SCHEMA_HEAD!r}); upgrade glmops to use it."
        )
    if revision is not None and not migrate:
        raise RegistryError(
            f"The registry database's schema is at revision {revision!r}; this glmops needs "
            f"{SCHEMA_HEAD!r}. Back it up, then run `glmops registry migrate` (or set "
            "registry.migrate: true in glmops.yaml)."
        )
    with_retries(lambda: upgrade(engine), what="migrating the schema")


def _known_revisions() -> set[str]:
    folder = Path(__file__).parent / "migrations" / "versions"
    return {p.name.split("_", 1)[0] for p in folder.glob("[0-9]*_*.py")}
