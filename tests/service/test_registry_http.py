"""The registry routes of the serving app over a real uvicorn server (SQLite and PostgreSQL).

Every route authenticates first (the token's roles against the one role
table), then reads its body under a cap, then validates it; errors answer in
the service's one shape.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.service.conftest import start_server
from tests.unit.registry.conftest import artifacts, db_url  # noqa: F401 (fixtures)

from glmops.config import TokenConfig
from glmops.registry import Registry
from glmops.serving import hash_token

TOKENS = {  # token -> (actor, roles)
    "t-admin": ("carol", ["admin"]),
    "t-approver": ("bob", ["approver"]),
    "t-reader": ("dave", ["read"]),
    "t-trainer": ("erin", ["trainer"]),
    "t-predict": ("svc", ["predict"]),
    "t-breakglass": ("fay", ["breakglass"]),
}
ROLES = {"carol": ["admin"], "bob": ["approver"], "dave": ["reader"], "erin": ["trainer"]}
MAX_UPLOAD = 2_000_000
SHAPE = {"error", "errors", "request_id"}


def _tokens() -> list[TokenConfig]:
    return [
        TokenConfig(sha256=hash_token(t), actor=a, roles=r)  # type: ignore[arg-type]
        for t, (a, r) in TOKENS.items()
    ]


def _serve(registry: Registry) -> Iterator[tuple[str, Registry]]:
    srv = start_server(
        registry,
        tokens=_tokens(),
        max_upload_bytes=MAX_UPLOAD,
        prediction_log={"enabled": False},
    )
    try:
        yield f"{srv.url}/v1/registry", registry
    finally:
        srv.stop()
        registry.close()


@pytest.fixture
def server(db_url, tmp_path, artifacts) -> Iterator[tuple[str, Registry]]:  # noqa: F811
    """Registry roles configured: the token check and the registry's own check both apply."""
    registry = Registry(  # approval (on by default with roles) is tested in tests/unit/registry
        db_url,
        tmp_path / "store",
        actor="seed",
        roles={"seed": ["admin"], **ROLES},
        require_approval=False,
    )
    for path in artifacts:
        registry.register("churn", path)
    yield from _serve(registry)


@pytest.fixture
def open_registry_server(db_url, tmp_path, artifacts) -> Iterator[tuple[str, Registry]]:  # noqa: F811
    """The README's shape: no registry.roles, so the token's roles are the only check."""
    registry = Registry(db_url, tmp_path / "store", actor="seed")
    for path in artifacts:
        registry.register("churn", path)
    registry.promote("churn", 1, reason="first")
    yield from _serve(registry)


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


def test_errors_map_to_status_codes_in_one_shape(server):
    base, _ = server
    with _client(None) as anon, _client("wrong") as stranger:
        r = anon.get(f"{base}/models")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert set(r.json()) == SHAPE and r.json()["errors"][0]["field"] == "authorization"
        assert stranger.get(f"{base}/models").status_code == 401
    with _client("t-reader") as dave, _client("t-approver") as bob, _client("t-admin") as carol:
        r = dave.post(f"{base}/models/churn/promote", json={"version": 1})
        assert r.status_code == 403 and "dave" in r.json()["error"]
        for url in (f"{base}/models/nope", f"{base}/models/churn/versions/9"):
            r = bob.get(url)
            assert r.status_code == 404 and set(r.json()) == SHAPE
        r = bob.post(f"{base}/models/churn/aliases/Bad Alias", json={"version": 1})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "alias"
        r = bob.post(f"{base}/models/churn/promote", json={"version": 1, "extra": 1})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.extra"
        r = bob.post(f"{base}/models/churn/promote", json={"version": "two", "force": "x"})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"body.version", "body.force"}
        r = bob.post(f"{base}/models/churn/promote", content=b"{nope")
        assert r.status_code == 400 and set(r.json()) == SHAPE
        r = bob.post(f"{base}/models/churn/versions/x/approve", json={})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "version"
        r = dave.get(f"{base}/models/churn/history", params={"limit": "lots"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"
        assert dave.get(f"{base}/diff", params={"a": "churn@1"}).status_code == 422
        bob.post(f"{base}/models/churn/promote", json={"version": 1})
        r = carol.post(f"{base}/models/churn/versions/1/archive", json={})
        assert r.status_code == 409 and "champion" in r.json()["error"]
        assert set(r.json()) == SHAPE
        r = bob.post(f"{base}/models/churn/versions/1/archive", json={})
        assert r.status_code == 403


def test_a_predict_token_cannot_change_what_is_served(open_registry_server):
    """Issue 14: with no registry.roles, a predict-only token moved the champion (200)."""
    base, registry = open_registry_server
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/models/churn/aliases/champion", {"json": {"version": 2}}),
        ("POST", "/models/churn/aliases/canary", {"json": {"version": 2, "weight": 1.0}}),
        ("POST", "/models/churn/promote", {"json": {"version": 2}}),
        ("POST", "/models/churn/promote", {"json": {"version": 2, "force": True}}),
        ("POST", "/models/churn/rollback", {"json": {}}),
        ("POST", "/models/churn/versions/2/approve", {"json": {}}),
        ("POST", "/models/churn/versions/3/archive", {"json": {}}),
        ("DELETE", "/models/churn/aliases/champion", {}),
        ("POST", "/models/churn/versions", {"content": b"PK", "headers": _ZIP}),
        ("GET", "/models", {}),
        ("GET", "/models/churn/history", {}),
    ]
    with _client("t-predict") as svc:
        for method, path, kw in calls:
            r = svc.request(method, base + path, **kw)
            assert r.status_code == 403, (method, path, r.text)
    assert registry.resolve("churn@champion").version == 1
    assert [v.version for v in registry.list_versions("churn")] == [1, 2, 3]
    assert registry.history("churn", limit=1)[0]["action"] == "promote"


def test_live_traffic_needs_promote_and_force_needs_breakglass(open_registry_server):
    base, registry = open_registry_server
    with _client("t-trainer") as erin, _client("t-admin") as carol:
        r = erin.post(f"{base}/models/churn/aliases/staging", json={"version": 2})
        assert r.status_code == 200  # an alias that takes no traffic: trainer may
        r = erin.post(f"{base}/models/churn/aliases/champion", json={"version": 2})
        assert r.status_code == 403
        r = erin.post(f"{base}/models/churn/aliases/canary", json={"version": 2, "weight": 0.5})
        assert r.status_code == 403
        r = carol.post(f"{base}/models/churn/promote", json={"version": 2, "force": True})
        assert r.status_code == 403 and "force" in r.json()["error"]  # admin is not break-glass
    assert registry.resolve("churn@champion").version == 1


def test_register_by_upload(server, artifacts, tmp_path):  # noqa: F811
    base, registry = server
    body = _zip(artifacts[1], tmp_path)
    with _client("t-trainer") as erin, _client("t-reader") as dave:
        r = erin.post(
            f"{base}/models/scorer/versions",
            content=body,
            headers=_ZIP,
            params={"description": "uploaded"},
        )
        assert r.status_code == 201, r.text
        shown = r.json()
        assert shown["model"] == "scorer" and shown["version"] == 1
        assert shown["created_by"] == "erin"
        assert shown["digest"] == registry.resolve("churn@2").digest  # content-addressed
        r = erin.post(f"{base}/models/scorer/versions", content=body, headers=_ZIP)
        assert r.status_code == 201 and r.json()["version"] == 2
        history = dave.get(f"{base}/models/scorer/history").json()
        assert [e["action"] for e in history][:2] == ["register", "register"]
        assert all(e["actor"] == "erin" for e in history)
        # a reader may not register: refused before the body is read, nothing recorded
        r = dave.post(f"{base}/models/scorer/versions", content=body, headers=_ZIP)
        assert r.status_code == 403
    assert registry.load("scorer@2").digest == shown["digest"]
    assert [v.version for v in registry.list_versions("scorer")] == [1, 2]


_ZIP = {"content-type": "application/zip"}


def _zip(path, tmp_path, name="artifact") -> bytes:
    import shutil

    return Path(shutil.make_archive(str(tmp_path / name), "zip", path)).read_bytes()


def test_bad_uploads_are_refused_and_change_nothing(server, artifacts, tmp_path):  # noqa: F811
    base, registry = server
    good = _zip(artifacts[0], tmp_path)
    # one flipped byte inside arrays.npz, zipped again
    import zipfile

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tmp_path / "artifact.zip") as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = bytearray(src.read(info))
            if info.filename.endswith("arrays.npz"):
                data[len(data) // 2] ^= 0x01
            dst.writestr(info, bytes(data))
    url = f"{base}/models/scorer/versions"
    with _client("t-admin") as carol, _client(None) as anon:
        assert anon.post(url, content=good, headers=_ZIP).status_code == 401
        r = carol.post(url, content=good, headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "content-type"
        r = carol.post(url, content=b"", headers=_ZIP)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
        r = carol.post(url, content=b"not a zip at all", headers=_ZIP)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
        assert "glmops-upload-" not in r.text and str(tmp_path) not in r.text  # no paths
        r = carol.post(url, content=tampered.read_bytes(), headers=_ZIP)
        assert r.status_code == 422 and "arrays.npz" in r.json()["error"]
        assert "/" not in r.json()["error"].split(":", 1)[1]  # file names, no directories
        r = carol.post(url, content=b"x" * (MAX_UPLOAD + 1), headers=_ZIP)
        assert r.status_code == 413 and set(r.json()) == SHAPE
        r = carol.post(f"{base}/models/Bad Name!/versions", content=good, headers=_ZIP)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
        r = carol.post(f"{base}/models/churn/versions", content=good, headers=_ZIP)
        assert r.status_code == 201  # the service still serves after the refusals
    assert "scorer" not in {m["name"] for m in registry.list_models()}
    assert registry.verify() == []


def _declared_only(base: str, path: str, token: str | None, length: int) -> bytes:
    """Send headers declaring ``length`` body bytes, none of them; return the answer."""
    url = urlsplit(base)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {url.path}{path} HTTP/1.1\r\nHost: {url.netloc}\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(head.encode())
        return sock.recv(65536)  # times out (an error) if the server waits for the body


def test_json_routes_refuse_before_reading_the_body(server):
    """Issue 14: a 50 MiB body was read and parsed before the 401; no cap at all."""
    base, registry = server
    ten_mib = 10 * 1024**2
    started = time.monotonic()
    assert _declared_only(base, "/models/churn/promote", None, ten_mib).startswith(b"HTTP/1.1 401")
    assert _declared_only(base, "/models/churn/promote", "t-approver", ten_mib).startswith(
        b"HTTP/1.1 413"
    )
    assert time.monotonic() - started < 5  # answered without waiting for 10 MiB
    body = b'{"version": 2, "reason": "' + b"x" * ten_mib + b'"}'
    with _client(None) as anon, _client("t-approver") as bob:
        assert anon.post(f"{base}/models/churn/promote", content=body).status_code == 401

        def chunks() -> Iterator[bytes]:  # no content-length: the cap counts as it reads
            for _ in range(160):
                yield b" " * 65536

        r = bob.post(f"{base}/models/churn/promote", content=chunks())
        assert r.status_code == 413 and r.json()["errors"][0]["field"] == "body"
        r = bob.post(f"{base}/models/churn/promote", json={"version": 2})
        assert r.status_code == 200
    assert registry.resolve("churn@champion").version == 2


def test_a_fault_is_a_fixed_500_with_a_safe_request_id(server, monkeypatch):
    """Issue 14: 5xx bodies held exception text; the 500 path echoed any x-request-id."""
    base, registry = server
    import sqlalchemy.exc

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise sqlalchemy.exc.OperationalError(
            "SELECT", {}, Exception("postgresql://u:hunter2@db/x at /srv/glmops/store")
        )

    monkeypatch.setattr(registry, "list_models", broken)
    with _client("t-reader") as dave:
        for given in ("x" * 65, "<script>", "ok-1"):
            r = dave.get(f"{base}/models", headers={"x-request-id": given})
            assert r.status_code == 500 and set(r.json()) == SHAPE
            assert "hunter2" not in r.text and "/srv" not in r.text and "Operational" not in r.text
            assert (r.json()["request_id"] == given) == (given == "ok-1")
            assert r.headers["x-request-id"] == r.json()["request_id"]
        monkeypatch.undo()
        assert dave.get(f"{base}/models").status_code == 200


def test_a_weighted_canary_is_promoted_over_http(server):
    base, registry = server
    with _client("t-approver") as bob:
        r = bob.post(
            f"{base}/models/churn/promote", json={"version": 3, "alias": "canary", "weight": 0.2}
        )
        assert r.status_code == 200
        bad = bob.post(f"{base}/models/churn/promote", json={"version": 3, "weight": 1.5})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.weight"
    event = registry.history("churn", limit=1)[0]
    assert event["action"] == "promote" and event["after"]["weight"] == 0.2
