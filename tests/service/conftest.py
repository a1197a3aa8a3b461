"""A real uvicorn server on a free local port, serving models from a real registry."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from glmops.config import ServingConfig, TokenConfig
from glmops.registry import Registry
from glmops.serving import create_app, hash_token, local_server
from glmops.serving.local_server import LocalServer

TOKENS = {
    "t-predict": ("svc", ["predict"]),
    "t-read": ("ops", ["read"]),
    "t-admin": ("root", ["admin"]),
}


wait_for = local_server.wait_until  # the tests' name for it


@dataclass
class Server:
    url: str
    registry: Registry
    app: Any
    local: LocalServer
    log_root: Path

    @property
    def state(self) -> Any:
        return self.app.state.glmops

    def client(self, token: str | None = "t-admin", **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **kw)

    def stop(self) -> None:
        self.local.stop(10)


def start_server(registry: Registry, **overrides: Any) -> Server:
    """Start ``create_app`` on uvicorn in a thread; return when it answers."""
    settings: dict[str, Any] = {
        "tokens": [
            TokenConfig(sha256=hash_token(t), actor=a, roles=r)  # type: ignore[arg-type]
            for t, (a, r) in TOKENS.items()
        ],
        "reload_interval_s": 0.2,
    }
    log_root = Path(tempfile.mkdtemp(prefix="glmops-predlog-"))
    log = {"path": str(log_root), "flush_interval_s": 0.05, "rows_per_file": 200}
    settings.update(overrides)
    settings["prediction_log"] = {**log, **overrides.get("prediction_log", {})}
    config = ServingConfig.model_validate(settings)
    app = create_app(config, registry=registry)
    local = local_server.start_server(app)
    return Server(local.url, registry, app, local, log_root)


@pytest.fixture
def make_server() -> Iterator[Any]:
    started: list[Server] = []

    def make(registry: Registry, **overrides: Any) -> Server:
        srv = start_server(registry, **overrides)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
        shutil.rmtree(srv.log_root, ignore_errors=True)


def served_registry(db_url: str, root: Path, artifacts: list[Path]) -> Registry:
    """A registry with churn@1..3 registered and churn@1 champion."""
    registry = Registry(db_url, root / "store", actor="seed")
    for path in artifacts:
        registry.register("churn", path)
    registry.promote("churn", 1, reason="first")
    return registry
