"""The served models, kept in step with the registry's aliases without a restart.

:meth:`ModelHost.sync` reads every alias in one query; a version whose
digest changed is loaded (every SHA-256 checked by the registry), warmed on
a synthetic record, and only then swapped in by replacing the routes
reference. A version that fails to verify, load or warm is refused: the old
one keeps serving, the refusal is recorded in the audit log, counted in a
metric and shown by ``/readyz``. A thread runs ``sync`` every
``interval_s``; on PostgreSQL a ``LISTEN glmops_aliases`` connection wakes
it as soon as an alias moves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glmops.errors import ModelNotFound
from glmops.registry.registry import AliasTarget, Registry
from glmops.serving.metrics import ServingMetrics
from glmops.serving.routing import Routes, Slot
from glmops.serving.worker import lower_thread_priority

if TYPE_CHECKING:
    from glmops.model import Model

__all__ = ["ModelHost", "example_record"]

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "glmops_aliases"
_RETRY_FIRST_S = 30.0  # a refused version is tried again after 30 s, 60 s, ... up to 1 h
_RETRY_MAX_S = 3600.0


def example_record(model: Model) -> dict[str, Any]:
    """Return a plausible record for ``model`` (medians, first categories) to warm it."""
    record: dict[str, Any] = {}
    for col in model.preprocessor.schema.columns:
        if col.kind == "numeric":
            if col.quantiles:
                record[col.name] = float(col.quantiles[len(col.quantiles) // 2])
            elif col.minimum is not None and col.maximum is not None:
                record[col.name] = (col.minimum + col.maximum) / 2.0
            else:
                record[col.name] = 0.0
        elif col.kind == "boolean":
            record[col.name] = False
        else:
            record[col.name] = col.categories[0] if col.categories else "x"
    return record


class ModelHost:
    """Loaded routes of every served model; ``routes`` is swapped, never mutated."""

    def __init__(
        self,
        registry: Registry,
        metrics: ServingMetrics,
        *,
        names: list[str] | None = None,
        interval_s: float = 2.0,
        pinned_cache_size: int = 8,
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.names = list(names or [])
        self.interval_s = interval_s
        self.routes: dict[str, Routes] = {}
        self.problems: dict[str, str] = {}  # model -> why it is not (fully) up to date
        self._by_digest: dict[tuple[str, str, str], Slot] = {}
        # (model, version) -> (slot, when its status was last checked); LRU first
        self._pinned: OrderedDict[tuple[str, int], tuple[Slot, float]] = OrderedDict()
        self._pinned_size = max(1, pinned_cache_size)
        self._pinned_lock = threading.Lock()
        # digest -> (why, retry after, attempts): retried with backoff, recorded once
        self._refused: dict[str, tuple[str, float, int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.synced_at = 0.0
        self.on_swap: Callable[[str, Routes], None] | None = None

    # -- readiness -----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True when every configured model has a champion loaded."""
        if self.synced_at == 0.0:
            return False
        return all(n in self.routes for n in self.names) and bool(self.routes)

    # -- syncing -------------------------------------------------------------------

    def sync(self) -> None:
        """Bring the routes in step with the registry's aliases (one poll)."""
        with self._lock:
            targets = self.registry.alias_targets()
            by_model: dict[str, dict[str, AliasTarget]] = {}
            for t in targets:
                by_model.setdefault(t.model, {})[t.alias] = t
            wanted = self.names or [m for m, a in by_model.items() if "champion" in a]
            routes = dict(self.routes)
            for name in wanted:
                aliases = by_model.get(name, {})
                if "champion" not in aliases:  # what is served (if anything) serves on
                    self.problems[name] = "no champion alias in the registry"
                    continue
                old = routes.get(name)
                new = self._routes_for(name, aliases, old)
                if new is not None and new != old:
                    routes[name] = new
                    self._publish(name, new, old)
                stale = [
                    self._refused[t.digest][0]
                    for t in aliases.values()
                    if t.alias in ("champion", "canary", "shadow") and t.digest in self._refused
                ]
                if stale:
                    self.problems[name] = "; ".join(stale)
                else:
                    self.problems.pop(name, None)
            for gone in [n for n in routes if n not in wanted]:
                del routes[gone]
            self.routes = routes
            self.synced_at = time.time()

    def _routes_for(
        self, name: str, aliases: dict[str, AliasTarget], current: Routes | None
    ) -> Routes | None:
        champion = self._slot(
            aliases["champion"], "champion", current.champion if current else None
        )
        if champion is None:
            return current
        canary = shadow = None
        weight = 0.0
        if "canary" in aliases:
            target = aliases["canary"]
            canary = self._slot(target, "canary", current.canary if current else None)
            weight = float(target.weight if target.weight is not None else 0.0)
        if "shadow" in aliases:
            shadow = self._slot(aliases["shadow"], "shadow", current.shadow if current else None)
        return Routes(name, champion, canary, weight if canary else 0.0, shadow)

    def _slot(self, target: AliasTarget, route: str, current: Slot | None) -> Slot | None:
        """Return the loaded slot for ``target``; on refusal the current one (or None)."""
        key = (target.model, route, target.digest)
        found = self._by_digest.get(key)
        if found is not None and found.version == target.version:
            return found
        refused = self._refused.get(target.digest)
        if refused is not None and time.monotonic() < refused[1]:
            return current
        try:
            model = self.registry.load(f"{target.model}@{target.version}")
            warm(model)
        except Exception as exc:  # any failure refuses this version; the old one serves on
            self._refuse(target, route, exc)
            return current
        self._refused.pop(target.digest, None)
        slot = Slot(target.model, target.version, target.digest, model, route)
        self._by_digest = {k: v for k, v in self._by_digest.items() if k[:2] != key[:2]}
        self._by_digest[key] = slot
        self.metrics.child(self.metrics.loads, target.model, str(target.version), "loaded").inc()
        logger.info("serving %s@%s as %s", target.model, target.version, route)
        return slot

    def _refuse(self, target: AliasTarget, route: str, exc: Exception) -> None:
        message = f"{target.model}@{target.version} ({route}) refused: {type(exc).__name__}: {exc}"
        logger.error("%s; the previous version keeps serving", message)
        attempts = self._refused.get(target.digest, ("", 0.0, 0))[2] + 1
        retry_in = min(_RETRY_FIRST_S * 2 ** (attempts - 1), _RETRY_MAX_S)
        self._refused[target.digest] = (message, time.monotonic() + retry_in, attempts)
        if attempts > 1:
            return  # recorded and counted on the first refusal
        self.metrics.child(self.metrics.loads, target.model, str(target.version), "refused").inc()
        try:
            self.registry.record_event(
                "serve_refused",
                target.model,
                version=target.version,
                details={"route": route, "digest": target.digest, "error": str(exc)[:500]},
                reason="failed verification, loading or warm-up",
            )
        except Exception as record_exc:  # the audit log is down too: the log line stays
            logger.error("could not record the refusal: %s", record_exc)

    def _publish(self, name: str, new: Routes, old: Routes | None) -> None:
        gauge = self.metrics.served
        if old is not None:
            for slot in old.slots():
                gauge.labels(name, slot.route, slot.version_label).set(0)
        for slot in new.slots():
            gauge.labels(name, slot.route, slot.version_label).set(1)
        if self.on_swap is not None:
            self.on_swap(name, new)

    def pinned(self, name: str, version: int) -> Slot:
        """Return a slot for an explicit version of a served model.

        Only models this server serves, and versions not archived, are
        answered (:class:`~glmops.errors.ModelNotFound` otherwise, as if
        absent). A version is loaded on first use (verified) and kept in an
        LRU cache of ``pinned_cache_size``; its status is checked again once
        ``interval_s`` has passed, like the aliases.
        """
        if name not in (self.names or self.routes):
            raise ModelNotFound(f"No model {name!r} is served here.")
        key = (name, version)
        with self._pinned_lock:
            found = self._pinned.get(key)
            if found is not None:
                self._pinned.move_to_end(key)
        now = time.monotonic()
        if found is not None and now - found[1] < self.interval_s:
            return found[0]
        info = self.registry.resolve(f"{name}@{version}")
        if info.status == "archived":
            with self._pinned_lock:
                self._pinned.pop(key, None)
            raise ModelNotFound(f"Version {version} of {name!r} is archived: it is not served.")
        slot = found[0] if found is not None and found[0].digest == info.digest else None
        if slot is None:
            slot = Slot(name, version, info.digest, self.registry.load(info.ref), "pinned")
        with self._pinned_lock:
            self._pinned[key] = (slot, now)
            self._pinned.move_to_end(key)
            while len(self._pinned) > self._pinned_size:
                self._pinned.popitem(last=False)
        return slot

    # -- background ----------------------------------------------------------------

    def start(self) -> None:
        """Sync once, then keep syncing in a thread (and listen on PostgreSQL)."""
        self.sync()
        poller = threading.Thread(target=self._poll, name="glmops-reload", daemon=True)
        poller.start()
        self._threads.append(poller)
        if self.registry.engine.dialect.name == "postgresql":
            listener = threading.Thread(target=self._listen, name="glmops-listen", daemon=True)
            listener.start()
            self._threads.append(listener)

    def stop(self) -> None:
        """Stop the background threads."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(5)

    def _poll(self) -> None:
        lower_thread_priority()
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.sync()
            except Exception as exc:  # the registry is unreachable: keep serving, retry
                logger.warning("registry poll failed (serving on): %s", exc)
                self.problems["registry"] = f"poll failed: {exc}"
            else:
                self.problems.pop("registry", None)

    def _listen(self) -> None:
        """Wake the poller on ``NOTIFY glmops_aliases`` (PostgreSQL only)."""
        while not self._stop.is_set():
            try:
                raw = self.registry.engine.raw_connection()
                try:
                    dbapi = raw.driver_connection
                    assert dbapi is not None
                    dbapi.autocommit = True
                    dbapi.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in dbapi.notifies(timeout=1.0, stop_after=1):
                            self._wake.set()
                finally:
                    raw.close()
            except Exception as exc:  # reconnect after a pause; polling covers the gap
                logger.debug("LISTEN connection lost: %s", exc)
                self._stop.wait(self.interval_s)


def warm(model: Model) -> None:
    """Score a synthetic record through the record path and the batch path."""
    record = example_record(model)
    model.decision_function(record)
    model.decision_function([record, record])
