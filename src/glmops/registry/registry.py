"""The model registry: immutable versions, movable aliases, an append-only audit log.

Every write runs in one database transaction together with its audit event,
so the log and the state never disagree. Artifacts are stored
content-addressed before their version row is committed: a crash leaves
either a complete version or none visible (plus, at worst, an unreferenced
artifact that :meth:`Registry.gc` removes).

Models are named everywhere as ``name@champion``, ``name@3`` or
``name@latest``; a bare ``name`` means ``name@champion``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glmops._redact import summarize
from glmops._signing import trusted_from_env
from glmops.errors import (
    AliasConflict,
    ArtifactError,
    ChecksumMismatch,
    GateFailed,
    InvalidInputError,
    ModelNotFound,
    RegistryError,
)
from glmops.registry.artifacts import REGISTER_MAX_BYTES, RemoteArtifactStore, Store, open_store
from glmops.registry.auth import AccessPolicy
from glmops.registry.db import current_revision, ensure_schema, make_engine, with_retries

if TYPE_CHECKING:
    from glmops.registry.gates import GateRule
from glmops.registry.tables import AliasRow, EventRow, ModelRow, VersionRow

__all__ = [
    "AliasTarget",
    "Migration",
    "Registry",
    "VersionInfo",
    "default_actor",
    "migrate_database",
    "os_user",
    "parse_ref",
    "takes_live_traffic",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
MODEL_NAME = re.compile(
    r"[A-Za-z][A-Za-z0-9_.-]{0,63}"
)  # fullmatch: "$" accepts a trailing newline
ALIAS_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
RESERVED_ALIASES = frozenset({"latest"})
DEFAULT_URL = "sqlite:///./glmops.db"
DEFAULT_ROOT = "./glmops-artifacts"


def os_user() -> str:
    """Return the login name of this process's user id.

    Read from the uid, not from ``USER``/``LOGNAME`` (which ``getpass``
    trusts and any caller can set), so a shell cannot claim another account.
    """
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # no pwd (Windows) or a uid without a passwd entry
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"


def default_actor() -> str:
    """Return who is acting: ``GLMOPS_ACTOR`` if set, else the OS user (a label, not a proof)."""
    return os.environ.get("GLMOPS_ACTOR") or os_user()


def takes_live_traffic(alias: str, weight: float | None) -> bool:
    """Return whether ``alias`` at ``weight`` answers requests.

    Serving (``glmops.serving.routing``) answers from the champion and from a
    canary whose weight is above 0; a shadow or any other alias only scores
    copies or nothing. Such aliases pass gates and approval on every move.
    """
    return alias == "champion" or (alias == "canary" and (weight or 0.0) > 0.0)


def _check_weight(alias: str, weight: float | None) -> None:
    if weight is not None and (
        isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0
    ):
        raise InvalidInputError(
            f"Alias weight must be in [0, 1]; got {summarize(weight)}.",
            field="weight",
            expected="a share in [0, 1]",
            got=summarize(weight),
        )
    if weight is not None and alias == "champion":
        raise InvalidInputError(
            "The champion takes every request no canary takes; a weight is for a canary.",
            field="weight",
            expected="no weight for the champion",
            got=weight,
        )


def _check_model_name(name: str) -> str:
    if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
        raise InvalidInputError(
            f"Invalid model name {summarize(name)}: start with a letter; letters, digits, '_', "
            "'-', '.'; at most 64 characters.",
            field="name",
            expected="a model name like 'churn' or 'credit-risk.v2'",
            got=summarize(name),
        )
    return name


def _check_alias_name(alias: str) -> str:
    if (
        not isinstance(alias, str)
        or not ALIAS_NAME.fullmatch(alias)
        or alias in RESERVED_ALIASES
        or alias.isdigit()
    ):
        raise InvalidInputError(
            f"Invalid alias {summarize(alias)}: lower-case letters, digits, '_', '-', starting "
            f"with a letter; not {sorted(RESERVED_ALIASES)}.",
            field="alias",
            expected="an alias like 'champion' or 'challenger'",
            got=summarize(alias),
        )
    return alias


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``name@selector`` into (name, selector); a bare name selects ``champion``."""
    if not isinstance(ref, str) or not ref:
        raise InvalidInputError(
            f"Invalid model reference {ref!r}.",
            field="model",
            expected="name, name@alias, name@<version> or name@latest",
            got=ref,
        )
    name, _, selector = ref.partition("@")
    _check_model_name(name)
    return name, selector or "champion"


@dataclass(frozen=True)
class VersionInfo:
    """A registered version, as the registry reports it."""

    model: str
    version: int
    digest: str
    task: str
    status: str
    created_by: str
    created_at: dt.datetime
    aliases: tuple[str, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    approved_by: str | None = None
    artifact_path: Path | None = None
    artifact_uri: str = ""

    @property
    def ref(self) -> str:
        """Return ``name@version``."""
        return f"{self.model}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready values."""
        return {
            "model": self.model,
            "version": self.version,
            "digest": self.digest,
            "task": self.task,
            "status": self.status,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "aliases": list(self.aliases),
            "metrics": self.metrics,
            "params": self.params,
            "data_fingerprint": self.data_fingerprint,
            "approved_by": self.approved_by,
            "artifact_uri": self.artifact_uri,
        }


@dataclass(frozen=True)
class AliasTarget:
    """Where one alias points: the version, its artifact digest and (canary) weight."""

    model: str
    task: str
    alias: str
    version: int
    digest: str
    weight: float | None


@dataclass(frozen=True)
class Migration:
    """What :func:`migrate_database` did: the schema revisions before and after, the backup."""

    from_revision: str | None
    to_revision: str | None
    backup: Path | None


def _backup_sqlite(engine: sa.Engine, revision: str) -> Path | None:
    """Copy a SQLite registry file (consistently, WAL included) next to itself; return the copy."""
    import sqlite3

    from glmops._durable import replace_durably

    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    source = Path(database)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = source.with_name(f"{source.name}.{revision}.{stamp}.bak")
    partial_copy = backup.with_name(backup.name + ".tmp")
    with sqlite3.connect(source) as src, sqlite3.connect(partial_copy) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    replace_durably(partial_copy, backup)
    return backup


def migrate_database(url: str | None = None, *, timeout_s: float = 10.0) -> Migration:
    """Apply pending schema migrations to the registry at ``url``, backing up SQLite first.

    Migrations may rewrite or drop data, so they run only when asked
    (``glmops registry migrate`` or ``registry.migrate: true``); a SQLite
    file is copied to ``<file>.<revision>.<time>.bak`` before the first
    change. PostgreSQL is not copied: back it up with ``pg_dump``.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL (default ``GLMOPS_REGISTRY_URL`` or ``sqlite:///./glmops.db``).
    timeout_s : float, default=10.0
        Lock / connect timeout of the database.

    Returns
    -------
    Migration
    """
    engine = make_engine(
        url or os.environ.get("GLMOPS_REGISTRY_URL") or DEFAULT_URL, timeout_s=timeout_s
    )
    try:
        before = with_retries(lambda: current_revision(engine), what="checking the schema")
        backup = None
        if before is not None and engine.dialect.name == "sqlite":
            from glmops.registry.db import SCHEMA_HEAD

            if before != SCHEMA_HEAD:
                backup = _backup_sqlite(engine, before)
        ensure_schema(engine, migrate=True)
        after = with_retries(lambda: current_revision(engine), what="checking the schema")
    finally:
        engine.dispose()
    return Migration(before, after, backup)


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class Registry:
    """Versions, aliases and the audit log of models, in SQLite or PostgreSQL.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL (default ``GLMOPS_REGISTRY_URL`` or ``sqlite:///./glmops.db``).
    artifact_root : str or Path, optional
        Where artifacts are stored (default ``GLMOPS_ARTIFACT_ROOT`` or
        ``./artifacts``): a directory, or any fsspec URL (``s3://bucket/prefix``).
    actor : str, optional
        Who acts (default :func:`default_actor`); recorded in every event.
    timeout_s : float, default=10.0
        Lock / connect timeout of the database.
    roles : mapping of str to list of str, optional
        Actor -> roles (reader, trainer, approver, admin); None: single-user
        mode, the actor may do everything (still recorded).
    gates : mapping of str to list of GateRule, optional
        Promotion rules per model name.
    require_approval : bool, optional
        A version must be approved (by an approver who did not register it)
        before it takes live traffic (champion, or a canary with a weight
        above 0). None (default): on whenever ``roles`` are configured (more
        than one person), off in single-user mode.
    artifact_options : mapping, optional
        fsspec storage options for a remote ``artifact_root`` URL (for
        example ``endpoint_url``); a local root takes none.
    migrate : bool, default=False
        Apply pending schema migrations to an existing database. Without it
        an out-of-date schema is refused with a message saying what to run;
        an empty database is always initialised.
    require_signature : bool, default=False
        Register only artifacts whose model digest is signed by a trusted key
        (:mod:`glmops._signing`): then the metrics the gates read are the
        training side's, not whatever an uploader wrote into model.json.
    trusted_keys : sequence of str, default=()
        Verifying keys (``ed25519:<public key>``), besides those in
        GLMOPS_TRUSTED_KEYS (where HMAC secrets belong).
    model_cache_size : int, default=16
        Loaded models kept in memory (least recently used dropped first).
    """

    def __init__(
        self,
        url: str | None = None,
        artifact_root: str | os.PathLike[str] | None = None,
        *,
        actor: str | None = None,
        timeout_s: float = 10.0,
        roles: Mapping[str, Iterable[str]] | None = None,
        gates: Mapping[str, Sequence[GateRule]] | None = None,
        require_approval: bool | None = None,
        artifact_options: Mapping[str, Any] | None = None,
        migrate: bool = False,
        require_signature: bool = False,
        trusted_keys: Sequence[str] = (),
        model_cache_size: int = 16,
    ) -> None:
        self.url = url or os.environ.get("GLMOPS_REGISTRY_URL") or DEFAULT_URL
        root = artifact_root or os.environ.get("GLMOPS_ARTIFACT_ROOT") or DEFAULT_ROOT
        self.store: Store = (
            RemoteArtifactStore(os.fspath(root), storage_options=dict(artifact_options))
            if artifact_options
            else open_store(root)
        )
        self.actor = actor or default_actor()
        self.policy = AccessPolicy.from_mapping(roles)
        self.gates = {k: list(v) for k, v in (gates or {}).items()}
        self.require_approval = (
            not self.policy.is_single_user if require_approval is None else require_approval
        )
        self.require_signature = require_signature
        self.trusted = trusted_from_env(trusted_keys)
        if require_signature and not self.trusted:
            raise RegistryError(
                "require_signature is on but no key is trusted: set GLMOPS_TRUSTED_KEYS or "
                "registry.trusted_keys."
            )
        self.engine = make_engine(self.url, timeout_s=timeout_s)
        try:
            ensure_schema(self.engine, migrate=migrate)
        except BaseException:
            self.engine.dispose()  # a refused schema leaves no open connection behind
            raise
        self._cache: OrderedDict[str, Any] = OrderedDict()  # digest -> Model, LRU first
        self._cache_size = max(1, model_cache_size)
        self._cache_lock = threading.Lock()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[Session]:
        writer = self.engine.execution_options(glmops_write=True)
        with Session(writer, expire_on_commit=False) as session, session.begin():
            yield session

    def _write(self, what: str, fn: Callable[[Session], T]) -> T:
        def attempt() -> T:
            with self._session() as session:
                return fn(session)

        return with_retries(attempt, what=what)

    def _read(self, what: str, fn: Callable[[Session], T]) -> T:
        def attempt() -> T:
            with Session(self.engine) as session:
                return fn(session)

        return with_retries(attempt, what=what)

    def _lock_store(self, session: Session) -> None:
        """Serialise this transaction with gc's removals (SQLite's BEGIN IMMEDIATE already does).

        A registration checks its stored artifact and inserts its row under
        this lock; gc re-checks references and removes under it too, so a
        version can never point at an artifact gc removed.
        """
        if self.engine.dialect.name == "postgresql":
            session.execute(sa.text("SELECT pg_advisory_xact_lock(7061232)"))

    def _event(
        self,
        session: Session,
        action: str,
        model: str,
        *,
        actor: str | None,
        version: int | None = None,
        alias: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        reason: str = "",
    ) -> None:
        if self.engine.dialect.name == "postgresql":  # wakes serving processes (LISTEN)
            session.execute(sa.text("SELECT pg_notify('glmops_aliases', :m)"), {"m": model})
        session.add(
            EventRow(
                actor=actor or self.actor,
                action=action,
                model=model,
                version=version,
                alias=alias,
                before=before or {},
                after=after or {},
                reason=reason,
            )
        )

    @staticmethod
    def _model_row(session: Session, name: str, *, lock: bool = False) -> ModelRow:
        query = sa.select(ModelRow).where(ModelRow.name == name)
        if lock:
            query = query.with_for_update()
        row = session.scalars(query).first()
        if row is None:
            raise ModelNotFound(f"No model named {name!r} in the registry.")
        return row

    @staticmethod
    def _version_row(session: Session, model: ModelRow, number: int) -> VersionRow:
        row = session.scalars(
            sa.select(VersionRow).where(
                VersionRow.model_id == model.id, VersionRow.version == number
            )
        ).first()
        if row is None:
            raise ModelNotFound(f"Model {model.name!r} has no version {number}.")
        return row

    @staticmethod
    def _alias_row(session: Session, model: ModelRow, alias: str) -> AliasRow | None:
        return session.scalars(
            sa.select(AliasRow).where(AliasRow.model_id == model.id, AliasRow.name == alias)
        ).first()

    def _resolve_row(self, session: Session, ref: str) -> tuple[ModelRow, VersionRow]:
        name, selector = parse_ref(ref)
        model = self._model_row(session, name)
        if selector == "latest":
            row = session.scalars(
                sa.select(VersionRow)
                .where(VersionRow.model_id == model.id, VersionRow.status != "archived")
                .order_by(VersionRow.version.desc())
                .limit(1)
            ).first()
            if row is None:
                raise ModelNotFound(f"Model {name!r} has no active version.")
            return model, row
        if selector.isdigit():
            return model, self._version_row(session, model, int(selector))
        alias = self._alias_row(session, model, selector)
        if alias is None:
            raise ModelNotFound(f"Model {name!r} has no alias {selector!r}.")
        version = session.get(VersionRow, alias.version_id)
        assert version is not None
        return model, version

    def _info(self, session: Session, model: ModelRow, row: VersionRow) -> VersionInfo:
        aliases = session.scalars(
            sa.select(AliasRow.name).where(AliasRow.version_id == row.id).order_by(AliasRow.name)
        ).all()
        return VersionInfo(
            model=model.name,
            version=row.version,
            digest=row.artifact_digest,
            task=row.task,
            status=row.status,
            created_by=row.created_by,
            created_at=_utc(row.created_at),
            aliases=tuple(aliases),
            metrics=row.metrics,
            params=row.params,
            features=row.features,
            data_fingerprint=row.data_fingerprint,
            approved_by=row.approved_by,
            artifact_path=self.store.local_path(row.artifact_digest),
            artifact_uri=self.store.uri_for(row.artifact_digest),
        )

    # -- writes ----------------------------------------------------------------------

    def _ensure_model(self, name: str, task: str, actor: str, description: str) -> None:
        """Create the model row (and its event) unless it exists; safe under races.

        On PostgreSQL ``SELECT ... FOR UPDATE`` locks nothing while the row does
        not exist, so concurrent first registrations would all insert it: the
        insert runs in its own transaction and a unique-violation means
        another writer won, which is fine.
        """

        def create(session: Session) -> None:
            exists = session.scalar(sa.select(ModelRow.id).where(ModelRow.name == name))
            if exists is not None:
                return
            session.add(ModelRow(name=name, task=task, created_by=actor, description=description))
            session.flush()
            self._event(session, "create_model", name, actor=actor, after={"task": task})

        try:
            self._write(f"creating {name}", create)
        except sa.exc.IntegrityError:
            logger.debug("model %s was created concurrently", name)

    def register(
        self,
        name: str,
        artifact: str | os.PathLike[str],
        *,
        actor: str | None = None,
        description: str = "",
        max_bytes: int = REGISTER_MAX_BYTES,
    ) -> VersionInfo:
        """Register the artifact at ``artifact`` as the next version of ``name``.

        The artifact is read once (at most ``max_bytes`` uncompressed, checked
        before decompressing), verified, and stored content-addressed from
        the same bytes; the version row and its ``register`` event are
        committed together.

        Parameters
        ----------
        name : str
            Model name (created on first registration).
        artifact : str or PathLike
            A glmops artifact directory or ``.zip``.
        actor : str, optional
            Who registers (default: the registry's actor).
        description : str, default=""
            Description of a newly created model.
        max_bytes : int, default 512 MiB
            Refuse an artifact that expands to more (a zip bomb); the HTTP
            upload route passes a multiple of its upload cap.

        Returns
        -------
        VersionInfo
        """
        _check_model_name(name)
        who = actor or self.actor
        self.policy.check(who, "register")
        from glmops._signing import verify_signature
        from glmops.artifact import load_stored, read_stored

        source = Path(artifact)
        stored = read_stored(source, max_bytes=max_bytes)  # the only read of the artifact
        loaded = load_stored(stored, source, max_bytes=max_bytes)  # every SHA-256, parsed
        digest = loaded.digest
        signed_by = None
        if self.require_signature:  # before anything is stored
            signature = loaded.manifest.get("signature")
            signed_by = verify_signature(signature, digest, self.trusted, str(source))
        self.store.put_files(digest, stored)
        size = sum(len(data) for data in stored.values())
        model_json = loaded.model
        meta = model_json.get("metadata", {})
        task = str(model_json.get("task", ""))
        facts = {
            "metrics": meta.get("metrics", {}).get("holdout", {}),
            "params": meta.get("hyperparameters", {}),
            "features": {
                "inputs": [c["name"] for c in model_json["preprocessor"]["schema"]["columns"]],
                "outputs": model_json.get("feature_names_out", []),
            },
            "data_fingerprint": meta.get("lineage", {}).get("data_fingerprint", "") or "",
        }

        self._ensure_model(name, task, who, description)

        def write(session: Session) -> VersionInfo:
            self._lock_store(session)
            if not self.store.has(digest):  # gc removed it after put_files found it: again
                self.store.put_files(digest, stored)
            # the model row exists now; locking it serialises version numbering
            model = self._model_row(session, name, lock=True)
            if model.task != task:
                raise AliasConflict(
                    f"Model {name!r} is a {model.task} model; this artifact is {task}."
                )
            latest = session.scalar(
                sa.select(sa.func.max(VersionRow.version)).where(VersionRow.model_id == model.id)
            )
            row = VersionRow(
                model_id=model.id,
                version=(latest or 0) + 1,
                artifact_digest=digest,
                artifact_uri=f"sha256:{digest}",
                size_bytes=size,
                task=task,
                created_by=who,
                **facts,
            )
            session.add(row)
            session.flush()
            self._event(
                session,
                "register",
                name,
                actor=who,
                version=row.version,
                after={
                    "digest": digest,
                    "status": "registered",
                    **({"signed_by": signed_by} if signed_by else {}),
                },
            )
            return self._info(session, model, row)

        info = self._write(f"registering {name}", write)
        logger.info("registered %s (digest %s)", info.ref, digest[:12])
        return info

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        weight: float | None = None,
        reason: str = "",
        actor: str | None = None,
    ) -> VersionInfo:
        """Point ``name@alias`` at ``version`` (audited with the previous target).

        An alias that takes live traffic (the champion, a canary with a
        weight above 0: :func:`takes_live_traffic`) moves only through
        :meth:`promote`, which this delegates to: gates, approval and the
        ``promote`` role apply whichever method is called.
        """
        _check_model_name(name)
        _check_alias_name(alias)
        _check_weight(alias, weight)
        if takes_live_traffic(alias, weight):
            return self.promote(
                name, version, alias=alias, weight=weight, reason=reason, actor=actor
            )
        who = actor or self.actor
        self.policy.check(who, "alias")
        return self._move_alias(
            name, alias, version, weight=weight, reason=reason, actor=who, action="set_alias"
        )

    def _move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        weight: float | None,
        reason: str,
        actor: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        baseline: int | None = None,
        check_baseline: bool = False,
    ) -> VersionInfo:
        """Move the alias and record ``action`` in one transaction (no permission checks).

        With ``check_baseline``, ``baseline`` is the champion version the
        gates compared with: if the champion moved since, the move is refused
        rather than committed on a comparison with a version no longer served.
        """

        def write(session: Session) -> VersionInfo:
            model = self._model_row(session, name, lock=True)
            row = self._version_row(session, model, int(version))
            if row.status == "archived":
                raise AliasConflict(f"{name}@{version} is archived; an alias cannot point at it.")
            current = self._alias_row(session, model, alias)
            if current is not None and takes_live_traffic(alias, current.weight):
                self.policy.check(actor, "promote")  # taking live traffic away is a promotion too
            if check_baseline:
                champion = self._alias_row(session, model, "champion")
                now = session.get(VersionRow, champion.version_id) if champion else None
                found = now.version if now is not None else None
                if found != baseline:
                    raise AliasConflict(
                        f"{name}@champion moved from {baseline} to {found} while the gates ran; "
                        "run the promotion again to compare with the new champion."
                    )
            before: dict[str, Any] = {}
            if current is not None:
                old = session.get(VersionRow, current.version_id)
                before = {"version": old.version if old else None, "weight": current.weight}
                current.version_id = row.id
                current.weight = weight
                current.updated_by = actor
                current.updated_at = dt.datetime.now(dt.UTC)
            else:
                session.add(
                    AliasRow(
                        model_id=model.id,
                        name=alias,
                        version_id=row.id,
                        weight=weight,
                        updated_by=actor,
                    )
                )
            session.flush()
            self._event(
                session,
                action,
                name,
                actor=actor,
                version=row.version,
                alias=alias,
                before=before,
                after={"version": row.version, "weight": weight, **(details or {})},
                reason=reason,
            )
            return self._info(session, model, row)

        return self._write(f"setting {name}@{alias}", write)

    def unset_alias(
        self, name: str, alias: str, *, reason: str = "", actor: str | None = None
    ) -> None:
        """Remove ``name@alias`` (audited); an alias taking live traffic needs ``promote``."""
        _check_model_name(name)
        _check_alias_name(alias)
        who = actor or self.actor

        def write(session: Session) -> None:
            model = self._model_row(session, name, lock=True)
            current = self._alias_row(session, model, alias)
            if current is None:
                raise ModelNotFound(f"Model {name!r} has no alias {alias!r}.")
            live = takes_live_traffic(alias, current.weight)
            self.policy.check(who, "promote" if live else "alias")
            old = session.get(VersionRow, current.version_id)
            session.delete(current)
            self._event(
                session,
                "unset_alias",
                name,
                actor=who,
                version=old.version if old else None,
                alias=alias,
                before={"version": old.version if old else None, "weight": current.weight},
                reason=reason,
            )

        self._write(f"removing {name}@{alias}", write)

    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = "champion",
        weight: float | None = None,
        reason: str = "",
        force: bool = False,
        gates: Sequence[GateRule] | None = None,
        evaluation_data: Any = None,
        actor: str | None = None,
    ) -> VersionInfo:
        """Point ``alias`` (champion by default) at ``version`` if it passes the gates.

        The gates (``gates`` or the registry's rules for ``name``) compare the
        candidate with the current champion: on ``evaluation_data`` (a file
        or frame with the target) when given, through both models' own
        pipelines; else on their registered holdout metrics. An alias that
        takes live traffic (champion, canary with ``weight`` > 0) also needs
        an approval by a second person under ``require_approval``. A failure
        raises :class:`~glmops.errors.GateFailed` with the table of rules.

        ``force`` needs the ``force`` operation (the ``breakglass`` role) and
        a reason; it overrides failed gates only, never a missing approval,
        and the event records that it was forced, which rules failed and who.

        Parameters
        ----------
        name : str
            Model name.
        version : int
            The candidate version.
        alias : str, default="champion"
            The alias to move.
        weight : float, optional
            Share of traffic in [0, 1] (a canary); none for the champion.
        reason : str, default=""
            Why (recorded; required with ``force``).
        force : bool, default=False
            Promote even if gates fail (never without a required approval).
        gates : list of GateRule, optional
            Rules to apply instead of the registry's.
        evaluation_data : path, frame or table, optional
            Labelled rows both versions are scored on (through
            :func:`glmops.evaluation.evaluate.evaluate`, weighted by each
            model's training weight column when the rows hold it).
        actor : str, optional
            Who promotes.

        Returns
        -------
        VersionInfo
        """
        from glmops.registry.gates import approval_result, evaluate_gates, format_gate_table

        _check_model_name(name)
        _check_alias_name(alias)
        _check_weight(alias, weight)
        who = actor or self.actor
        self.policy.check(who, "force" if force else "promote")
        if force and not reason.strip():
            raise InvalidInputError(
                "A forced promotion needs a reason (it is recorded in the audit log).",
                field="reason",
                expected="a non-empty reason",
                got=reason,
            )
        candidate = self.resolve(f"{name}@{int(version)}")
        try:
            champion: VersionInfo | None = self.resolve(f"{name}@champion")
        except ModelNotFound:
            champion = None
        rules = list(gates) if gates is not None else self.gates.get(name, [])
        cand_metrics, champ_metrics = candidate.metrics, champion.metrics if champion else None
        source = "registered holdout metrics"
        if evaluation_data is not None and rules:
            from glmops.evaluation.evaluate import evaluate

            cand_metrics = evaluate(self.load(candidate.ref), evaluation_data).metrics
            if champion is not None:
                champ_metrics = evaluate(self.load(champion.ref), evaluation_data).metrics
            source = "the evaluation data"
        results = evaluate_gates(
            rules,
            candidate=cand_metrics,
            champion=champ_metrics,
            candidate_features=candidate.features.get("inputs", []),
            champion_features=champion.features.get("inputs", []) if champion else [],
            approved=approval_result(candidate.approved_by, candidate.created_by).passed,
        )
        failed = [r for r in results if not r.passed]
        live = takes_live_traffic(alias, weight)
        approval = approval_result(candidate.approved_by, candidate.created_by)
        if live and self.require_approval:
            results.append(approval)
        if live and self.require_approval and not approval.passed:
            raise GateFailed(
                f"{candidate.ref} cannot become {name}@{alias}: it needs an approval by an "
                "approver who did not register it (`glmops registry approve`); force "
                f"overrides failed gates only, never a missing approval.\n"
                f"{format_gate_table(results)}",
                results=[r.to_dict() for r in results],
            )
        if failed and not force:
            raise GateFailed(
                f"{candidate.ref} cannot become {name}@{alias}: {len(failed)} rule(s) "
                f"failed on {source}.\n{format_gate_table(results)}",
                results=[r.to_dict() for r in results],
            )
        forced = bool(force and failed)
        details = {
            "gates": [r.to_dict() for r in results],
            "gates_source": source,
            "live": live,
            "approved_by": candidate.approved_by,
            "forced": forced,
            **({"overridden": [r.rule for r in failed]} if forced else {}),
        }
        if forced:
            logger.warning(
                "%s forced %s to %s@%s past %d failed gate(s): %s",
                who,
                candidate.ref,
                name,
                alias,
                len(failed),
                "; ".join(r.rule for r in failed),
            )
        return self._move_alias(
            name,
            alias,
            version,
            weight=weight,
            reason=reason,
            actor=who,
            action="promote",
            details=details,
            baseline=champion.version if champion else None,
            check_baseline=bool(rules),
        )

    def approve(
        self, name: str, version: int, *, reason: str = "", actor: str | None = None
    ) -> VersionInfo:
        """Record that an approver (not the version's creator) approves ``version``."""
        _check_model_name(name)
        who = actor or self.actor
        self.policy.check(who, "approve")

        def write(session: Session) -> VersionInfo:
            model = self._model_row(session, name, lock=True)
            row = self._version_row(session, model, int(version))
            if row.status == "archived":
                raise AliasConflict(f"{name}@{version} is archived; it cannot be approved.")
            if row.created_by == who:
                raise AliasConflict(
                    f"{who!r} registered {name}@{version} and cannot approve it; "
                    "approval needs a second person."
                )
            row.approved_by = who
            row.approved_at = dt.datetime.now(dt.UTC)
            row.status = "approved"
            self._event(
                session,
                "approve",
                name,
                actor=who,
                version=row.version,
                before={"status": "registered"},
                after={"status": "approved", "approved_by": who},
                reason=reason,
            )
            return self._info(session, model, row)

        return self._write(f"approving {name}@{version}", write)

    def diff(self, ref_a: str, ref_b: str, *, top: int = 20) -> dict[str, Any]:
        """Compare two versions: params, metrics, input features and coefficients.

        Parameters
        ----------
        ref_a, ref_b : str
            The versions (``name@3``, ``name@champion``...).
        top : int, default=20
            How many coefficients (largest change first) to list.

        Returns
        -------
        dict
            ``a``, ``b`` (refs and digests), ``params``/``metrics`` (changed
            keys with both values), ``features`` (added, removed) and
            ``coefficients`` (name, a, b, change).
        """
        a, b = self.resolve(ref_a), self.resolve(ref_b)
        params = {
            k: {"a": a.params.get(k), "b": b.params.get(k)}
            for k in sorted(set(a.params) | set(b.params))
            if a.params.get(k) != b.params.get(k)
        }
        metrics = {}
        for k in sorted(set(a.metrics) | set(b.metrics)):
            va, vb = a.metrics.get(k), b.metrics.get(k)
            if isinstance(va, int | float) and isinstance(vb, int | float) and va != vb:
                metrics[k] = {"a": va, "b": vb, "change": vb - va}
        fa, fb = a.features.get("inputs", []), b.features.get("inputs", [])
        model_a, model_b = self.load(a.ref), self.load(b.ref)
        coef_a = dict(zip(model_a.feature_names_out, model_a.coef[0], strict=True))
        coef_b = dict(zip(model_b.feature_names_out, model_b.coef[0], strict=True))
        names = sorted(set(coef_a) | set(coef_b))
        changes = [
            {
                "name": n,
                "a": float(coef_a.get(n, 0.0)),
                "b": float(coef_b.get(n, 0.0)),
                "change": float(coef_b.get(n, 0.0) - coef_a.get(n, 0.0)),
            }
            for n in names
        ]
        changes.sort(key=lambda c: -abs(c["change"]))
        return {
            "a": {"ref": a.ref, "digest": a.digest},
            "b": {"ref": b.ref, "digest": b.digest},
            "params": params,
            "metrics": metrics,
            "features": {
                "added": sorted(set(fb) - set(fa)),
                "removed": sorted(set(fa) - set(fb)),
            },
            "coefficients": changes[:top],
            "n_nonzero": {
                "a": int((model_a.coef != 0).any(axis=0).sum()),
                "b": int((model_b.coef != 0).any(axis=0).sum()),
            },
        }

    def rollback(
        self, name: str, *, alias: str = "champion", reason: str = "", actor: str | None = None
    ) -> VersionInfo:
        """Point ``alias`` back at the version (and weight) it held before its last move.

        The previous target comes from the audit log (the last event that
        moved this alias onto its current version). Gates are not run again:
        the alias held exactly that state before, so a live one passed them
        then; the event says so.
        """
        _check_model_name(name)
        _check_alias_name(alias)
        self.policy.check(actor or self.actor, "rollback")

        def write(session: Session) -> VersionInfo:
            model = self._model_row(session, name, lock=True)
            current = self._alias_row(session, model, alias)
            if current is None:
                raise ModelNotFound(f"Model {name!r} has no alias {alias!r} to roll back.")
            now = session.get(VersionRow, current.version_id)
            assert now is not None
            moves = session.scalars(
                sa.select(EventRow)
                .where(
                    EventRow.model == name,
                    EventRow.alias == alias,
                    EventRow.action.in_(("set_alias", "promote", "rollback", "unset_alias")),
                )
                .order_by(EventRow.id)
            ).all()
            # replay the alias's moves: a set/promote pushes, a rollback pops, so repeated
            # rollbacks walk further back (3 -> 2 -> 1), never ping-pong
            stack: list[tuple[int, float | None]] = []
            for move in moves:
                if move.action == "unset_alias":
                    stack = []
                elif move.action == "rollback":
                    if stack:
                        stack.pop()
                else:
                    stack.append((int(move.after["version"]), move.after.get("weight")))
            if len(stack) < 2:
                raise AliasConflict(
                    f"{name}@{alias} has no previous version to roll back to (it is at "
                    f"version {now.version} since it was first set)."
                )
            previous, weight = stack[-2]
            target = self._version_row(session, model, previous)
            if target.status == "archived":
                raise AliasConflict(
                    f"Cannot roll {name}@{alias} back to version {previous}: it is archived."
                )
            before = {"version": now.version, "weight": current.weight}
            current.version_id = target.id
            current.weight = weight  # the whole earlier state: a canary gets its weight back
            current.updated_by = actor or self.actor
            current.updated_at = dt.datetime.now(dt.UTC)
            self._event(
                session,
                "rollback",
                name,
                actor=actor,
                version=target.version,
                alias=alias,
                before=before,
                after={
                    "version": target.version,
                    "weight": weight,
                    "gates_rerun": False,  # the alias held this state before
                },
                reason=reason,
            )
            return self._info(session, model, target)

        return self._write(f"rolling back {name}@{alias}", write)

    def archive(
        self, name: str, version: int, *, reason: str = "", actor: str | None = None
    ) -> VersionInfo:
        """Retire a version: it can no longer be aliased (it must hold no alias)."""
        _check_model_name(name)
        self.policy.check(actor or self.actor, "archive")

        def write(session: Session) -> VersionInfo:
            model = self._model_row(session, name, lock=True)
            row = self._version_row(session, model, int(version))
            aliases = session.scalars(
                sa.select(AliasRow.name).where(AliasRow.version_id == row.id)
            ).all()
            if aliases:
                raise AliasConflict(
                    f"{name}@{version} is still {', '.join(sorted(aliases))}; move or remove "
                    "those aliases before archiving it."
                )
            if row.status == "archived":
                raise AliasConflict(f"{name}@{version} is already archived.")
            before = row.status
            row.status = "archived"
            self._event(
                session,
                "archive",
                name,
                actor=actor,
                version=row.version,
                before={"status": before},
                after={"status": "archived"},
                reason=reason,
            )
            return self._info(session, model, row)

        return self._write(f"archiving {name}@{version}", write)

    # -- reads -----------------------------------------------------------------------

    def resolve(self, ref: str) -> VersionInfo:
        """Return the version ``ref`` names (``name@champion``, ``name@3``, ``name@latest``)."""
        return self._read(f"resolving {ref}", lambda s: self._info(s, *self._resolve_row(s, ref)))

    def list_models(self) -> list[dict[str, Any]]:
        """Return every model with its version count and aliases."""

        def read(session: Session) -> list[dict[str, Any]]:
            out = []
            for model in session.scalars(sa.select(ModelRow).order_by(ModelRow.name)):
                count = session.scalar(
                    sa.select(sa.func.count()).where(VersionRow.model_id == model.id)
                )
                aliases = session.execute(
                    sa.select(AliasRow.name, VersionRow.version)
                    .join(VersionRow, AliasRow.version_id == VersionRow.id)
                    .where(AliasRow.model_id == model.id)
                    .order_by(AliasRow.name)
                ).all()
                out.append(
                    {
                        "name": model.name,
                        "task": model.task,
                        "versions": int(count or 0),
                        "aliases": {a: v for a, v in aliases},
                        "created_by": model.created_by,
                        "created_at": _utc(model.created_at).isoformat(),
                    }
                )
            return out

        return self._read("listing models", read)

    def record_event(
        self,
        action: str,
        model: str,
        *,
        version: int | None = None,
        details: Mapping[str, Any] | None = None,
        reason: str = "",
        actor: str | None = None,
    ) -> None:
        """Append an operational event (a service refusing a version...) to the audit log."""
        self._write(
            f"recording {action}",
            lambda session: self._event(
                session,
                action[:32],
                model,
                actor=actor,
                version=version,
                after=dict(details or {}),
                reason=reason,
            ),
        )

    def alias_targets(self) -> list[AliasTarget]:
        """Return every alias of every model with its version, digest and weight.

        One query: what a serving process polls to notice alias moves.
        """

        def read(session: Session) -> list[AliasTarget]:
            rows = session.execute(
                sa.select(
                    ModelRow.name,
                    ModelRow.task,
                    AliasRow.name,
                    VersionRow.version,
                    VersionRow.artifact_digest,
                    AliasRow.weight,
                )
                .join(AliasRow, AliasRow.model_id == ModelRow.id)
                .join(VersionRow, AliasRow.version_id == VersionRow.id)
                .order_by(ModelRow.name, AliasRow.name)
            ).all()
            return [
                AliasTarget(str(m), str(t), str(a), int(v), str(d), None if w is None else float(w))
                for m, t, a, v, d, w in rows
            ]

        return self._read("reading the aliases", read)

    def list_versions(self, name: str) -> list[VersionInfo]:
        """Return every version of ``name``, oldest first."""
        _check_model_name(name)

        def read(session: Session) -> list[VersionInfo]:
            model = self._model_row(session, name)
            rows = session.scalars(
                sa.select(VersionRow)
                .where(VersionRow.model_id == model.id)
                .order_by(VersionRow.version)
            ).all()
            return [self._info(session, model, row) for row in rows]

        return self._read(f"listing {name}", read)

    def history(self, name: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """Return audit events, newest first (of one model when ``name`` is given)."""

        def read(session: Session) -> list[dict[str, Any]]:
            query = sa.select(EventRow).order_by(EventRow.id.desc()).limit(limit)
            if name is not None:
                query = query.where(EventRow.model == name)
            return [
                {
                    "id": e.id,
                    "time": _utc(e.time).isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "model": e.model,
                    "version": e.version,
                    "alias": e.alias,
                    "before": e.before,
                    "after": e.after,
                    "reason": e.reason,
                }
                for e in session.scalars(query)
            ]

        return self._read("reading the history", read)

    def load(self, ref: str) -> Any:
        """Return the :class:`~glmops.model.Model` that ``ref`` names, verified.

        Every file's SHA-256 is checked on first load and the model digest
        must equal the version's; later loads of the same digest come from
        an in-process cache of the ``model_cache_size`` most recently used.
        """
        info = self.resolve(ref)
        with self._cache_lock:
            cached = self._cache.get(info.digest)
            if cached is not None:
                self._cache.move_to_end(info.digest)
        if cached is not None:
            return cached
        from glmops.model import load_model

        try:
            path = self.store.fetch(info.digest)
            model = load_model(path)
        except ChecksumMismatch as exc:
            raise ChecksumMismatch(
                f"{info.ref} (digest {info.digest[:12]}): {exc}", path=exc.path
            ) from exc
        except (ArtifactError, OSError) as exc:
            raise RegistryError(
                f"{info.ref} (digest {info.digest[:12]}): cannot load its artifact "
                f"from {self.store.location}: {exc}"
            ) from exc
        if model.digest != info.digest:
            raise ChecksumMismatch(
                f"{info.ref}: the stored artifact's digest {str(model.digest)[:12]} is not the "
                f"registered {info.digest[:12]}.",
                path=str(path),
            )
        with self._cache_lock:
            self._cache[info.digest] = model
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return model

    # -- maintenance -----------------------------------------------------------------

    def verify(self) -> list[str]:
        """Return every problem: missing or tampered artifacts of registered versions."""

        def read(session: Session) -> list[tuple[str, int, str]]:
            rows = session.execute(
                sa.select(ModelRow.name, VersionRow.version, VersionRow.artifact_digest).join(
                    ModelRow, VersionRow.model_id == ModelRow.id
                )
            ).all()
            return [(str(n), int(v), str(d)) for n, v, d in rows]

        problems = []
        for name, version, digest in self._read("verifying", read):
            for problem in self.store.verify(digest):
                problems.append(f"{name}@{version}: {problem}")
        return problems

    def gc(self, *, dry_run: bool = False, min_age_s: float = 3600.0) -> list[str]:
        """Remove stored artifacts no version references (left by interrupted registrations).

        Only artifacts (and temporary copies) untouched for ``min_age_s``
        seconds are removed, so a registration in flight in another process
        (its artifact stored, its row not yet committed) keeps its files.
        Returns the digests removed (or that would be, with ``dry_run``).
        """
        self.policy.check(self.actor, "gc")
        referenced = set(
            self._read(
                "collecting garbage",
                lambda s: list(s.scalars(sa.select(VersionRow.artifact_digest).distinct())),
            )
        )
        orphans = [
            d
            for d in self.store.digests()
            if d not in referenced and self.store.age_s(d) >= min_age_s
        ]
        if dry_run:
            return orphans

        def remove_if_still_orphaned(session: Session, digest: str) -> bool:
            # under the store lock: a registration that reused this digest since the
            # listing either committed its row (seen here) or re-stores after we remove
            self._lock_store(session)
            used = session.scalar(
                sa.select(VersionRow.id).where(VersionRow.artifact_digest == digest).limit(1)
            )
            if used is not None or self.store.age_s(digest) < min_age_s:
                return False
            self.store.remove(digest)
            return True

        removed = []
        for digest in orphans:
            if self._write(
                f"removing {digest[:12]}", partial(remove_if_still_orphaned, digest=digest)
            ):
                removed.append(digest)
        self.store.gc_temp(older_than_s=min_age_s)
        return removed
