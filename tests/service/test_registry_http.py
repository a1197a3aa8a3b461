"""The registry router over a real uvicorn server on a free port (SQLite and PostgreSQL)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from tests.unit.registry.conftest import artifacts, db_url  # noqa: F401 (fixtures)

from glmops.registry import Registry
from glmops.registry.router import hash_token, install_error_handler, registry_router

TOKENS = {"t-admin": "carol", "t-approver": "bob", "t-reader": "dave"}
ROLES = {"carol": ["admin"], "bob": ["approver"], "dave": ["reader"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(db_url, tmp_path, artifacts) -> Iterator[tuple[str, Registry]]:  # noqa: F811
    registry = Registry(
        db_url, tmp_path / "store", actor="seed", roles={"seed": ["admin"], **ROLES}
    )
    for path in artifacts:
        registry.register("churn", path)
    app = FastAPI()
    app.include_router(
        registry_router(registry, tokens={hash_token(t): a for t, a in TOKENS.items()}),
        prefix="/v1/registry",
    )
    install_error_handler(app)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1/registry", registry
    finally:
        srv.should_exit = True
        thread.join(5)
        registry.close()


def _client(token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(headers=headers, timeout=10)


def test_reads_and_audited_writes(server):
    base, registry = server
    with _client("t-approver") as bob, _client("t-reader") as dave:
        models = dave.get(f"{base}/models").json()
        assert models[0]["name"] == "churn" and models[0]["versions"] == 3
        r = bob.post(f"{base}/models/churn/promote", json={"version": 2, "reason": "best"})
        assert r.status_code == 200 and r.json()["aliases"] == ["champion"]
        bob.post(f"{base}/models/churn/promote", json={"version": 3})
        r = bob.post(f"{base}/models/churn/rollback", json={"reason": "regression"})
        assert r.status_code == 200 and r.json()["version"] == 2
        shown = dave.get(f"{base}/models/churn/versions/champion").json()
        assert shown["version"] == 2
        history = dave.get(f"{base}/models/churn/history", params={"limit": 1}).json()
        assert history[0]["action"] == "rollback" and history[0]["actor"] == "bob"
        diff = dave.get(f"{base}/diff", params={"a": "churn@1", "b": "churn@2"}).json()
        assert diff["a"]["ref"] == "churn@1"
        assert dave.get(f"{base}/verify").json() == {"ok": True, "problems": []}
    assert registry.resolve("churn@champion").version == 2


def test_errors_map_to_status_codes(server):
    base, _ = server
    with _client(None) as anon, _client("wrong") as stranger:
        assert anon.get(f"{base}/models").status_code == 401
        assert stranger.get(f"{base}/models").status_code == 401
    with _client("t-reader") as dave, _client("t-approver") as bob, _client("t-admin") as carol:
        r = dave.post(f"{base}/models/churn/promote", json={"version": 1})
        assert r.status_code == 403 and "dave" in r.json()["detail"]
        assert bob.get(f"{base}/models/nope").status_code == 404
        assert bob.get(f"{base}/models/churn/versions/9").status_code == 404
        r = bob.post(f"{base}/models/churn/aliases/Bad Alias", json={"version": 1})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "alias"
        r = bob.post(f"{base}/models/churn/promote", json={"version": 1, "extra": 1})
        assert r.status_code == 422  # unknown body field
        bob.post(f"{base}/models/churn/promote", json={"version": 1})
        r = carol.post(f"{base}/models/churn/versions/1/archive", json={})
        assert r.status_code == 409 and "champion" in r.json()["detail"]
        r = bob.post(f"{base}/models/churn/versions/1/archive", json={})
        assert r.status_code == 403
