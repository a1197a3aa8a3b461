"""The registry router over a real uvicorn server on a free port (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.unit.registry.conftest import artifacts, db_url  # noqa: F401 (fixtures)

from glmops.registry import Registry
from glmops.serving.local_server import start_server
from glmops.serving.registry_routes import hash_token, install_error_handler, registry_router

TOKENS = {"t-admin": "carol", "t-approver": "bob", "t-reader": "dave"}
ROLES = {"carol": ["admin"], "bob": ["approver"], "dave": ["reader"], "erin": ["trainer"]}
TOKENS["t-trainer"] = "erin"
MAX_UPLOAD = 2_000_000


@pytest.fixture
def server(db_url, tmp_path, artifacts) -> Iterator[tuple[str, Registry]]:  # noqa: F811
    registry = Registry(  # approval (on by default with roles) is tested in tests/unit/registry
        db_url,
        tmp_path / "store",
        actor="seed",
        roles={"seed": ["admin"], **ROLES},
        require_approval=False,
    )
    for path in artifacts:
        registry.register("churn", path)
    app = FastAPI()
    app.include_router(
        registry_router(
            registry,
            tokens={hash_token(t): a for t, a in TOKENS.items()},
            max_upload_bytes=MAX_UPLOAD,
        ),
        prefix="/v1/registry",
    )
    install_error_handler(app)
    try:
        with start_server(app, timeout=10) as srv:
            yield f"{srv.url}/v1/registry", registry
    finally:
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


def _zip(path, tmp_path, name="artifact") -> bytes:
    import shutil

    return Path(shutil.make_archive(str(tmp_path / name), "zip", path)).read_bytes()


def test_register_by_upload(server, artifacts, tmp_path):  # noqa: F811
    base, registry = server
    body = _zip(artifacts[1], tmp_path)
    headers = {"content-type": "application/zip"}
    with _client("t-trainer") as erin, _client("t-reader") as dave:
        r = erin.post(
            f"{base}/models/scorer/versions",
            content=body,
            headers=headers,
            params={"description": "uploaded"},
        )
        assert r.status_code == 201, r.text
        shown = r.json()
        assert shown["model"] == "scorer" and shown["version"] == 1
        assert shown["created_by"] == "erin"
        assert shown["digest"] == registry.resolve("churn@2").digest  # content-addressed
        r = erin.post(f"{base}/models/scorer/versions", content=body, headers=headers)
        assert r.status_code == 201 and r.json()["version"] == 2
        history = dave.get(f"{base}/models/scorer/history").json()
        assert [e["action"] for e in history][:2] == ["register", "register"]
        assert all(e["actor"] == "erin" for e in history)
        # a reader may not register: refused before the body is read, nothing recorded
        r = dave.post(f"{base}/models/scorer/versions", content=body, headers=headers)
        assert r.status_code == 403
    assert registry.load("scorer@2").digest == shown["digest"]
    assert [v.version for v in registry.list_versions("scorer")] == [1, 2]


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
    zip_header = {"content-type": "application/zip"}
    with _client("t-admin") as carol, _client(None) as anon:
        assert anon.post(url, content=good, headers=zip_header).status_code == 401
        r = carol.post(url, content=good, headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "content-type"
        r = carol.post(url, content=b"", headers=zip_header)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
        r = carol.post(url, content=b"not a zip at all", headers=zip_header)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
        assert "glmops-upload-" not in r.text  # the temporary path is not leaked
        r = carol.post(url, content=tampered.read_bytes(), headers=zip_header)
        assert r.status_code == 422 and "arrays.npz" in r.json()["detail"]
        r = carol.post(url, content=b"x" * (MAX_UPLOAD + 1), headers=zip_header)
        assert r.status_code == 413
        r = carol.post(f"{base}/models/Bad Name!/versions", content=good, headers=zip_header)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
        r = carol.post(f"{base}/models/churn/versions", content=good, headers=zip_header)
        assert r.status_code == 201  # the service still serves after the refusals
    assert "scorer" not in {m["name"] for m in registry.list_models()}
    assert registry.verify() == []
