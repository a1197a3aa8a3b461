"""Every route of the app against every role, no token and a wrong token (a real uvicorn).

Deny by default (issue 14): each route names the operations it needs; a
caller whose roles permit them is never answered 401/403 (and a 2xx means
the request really ran), anyone else is. Also: a config without a serving
section, and ``auth: disabled`` beyond loopback, refuse to start.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.service.conftest import Server, start_server, wait_for
from tests.unit.registry.conftest import train_artifact
from typer.testing import CliRunner

from glmops.config import GlmopsConfig, ServingConfig, TokenConfig, parse_config
from glmops.errors import ConfigError
from glmops.registry import Registry
from glmops.registry.auth import ROLES, allowed
from glmops.serving import create_app, hash_token

RECORD = {"x": 0.3, "z": -1.2, "city": "paris"}
PREDICT = {"json": {"instances": [RECORD]}}
# identity -> roles; None: no Authorization header; "wrong": an unknown token
IDENTITIES: dict[str, tuple[str, ...] | None] = {
    **{role: (role,) for role in ROLES},
    "approver+breakglass": ("approver", "breakglass"),
    "none": None,
    "wrong": (),
}


@dataclass(frozen=True)
class Case:
    """One route: how to call it, the operations it needs, what an allowed caller gets."""

    method: str
    path: str
    needs: tuple[str, ...]  # () : open to anyone
    ok: frozenset[int] = frozenset({200})
    call: dict[str, Any] = field(default_factory=dict)


REG = "/v1/registry/models/churn"
CASES = [
    Case("POST", "/v1/models/churn/predict", ("predict",), call=PREDICT),
    Case("POST", "/v1/models/churn/explain", ("predict",), call=PREDICT),
    Case("POST", "/v1/models/churn/versions/2/predict", ("predict",), call=PREDICT),
    Case("GET", "/v1/models", ("read",)),
    Case("GET", "/v1/models/churn", ("read",)),
    Case("GET", "/v1/registry/models", ("read",)),
    Case("GET", REG, ("read",)),
    Case("GET", f"{REG}/versions/1", ("read",)),
    Case("GET", f"{REG}/history", ("read",)),
    Case("GET", "/v1/registry/diff?a=churn@1&b=churn@2", ("read",)),
    Case("GET", "/v1/registry/verify", ("read",)),
    Case("POST", "/v1/registry/models/scorer/versions", ("register",), frozenset({201})),
    Case("POST", f"{REG}/aliases/staging", ("alias",), call={"json": {"version": 2}}),
    Case("DELETE", f"{REG}/aliases/staging", ("alias",), frozenset({200, 404})),
    Case(
        "POST",
        f"{REG}/aliases/canary",
        ("alias", "promote"),  # a weighted canary takes live traffic
        frozenset({200, 409}),
        {"json": {"version": 1, "weight": 0.5}},
    ),
    Case(
        "POST",
        f"{REG}/aliases/champion",
        ("promote",),
        frozenset({200, 409}),
        {"json": {"version": 1}},
    ),
    Case("POST", f"{REG}/promote", ("promote",), frozenset({200, 409}), {"json": {"version": 1}}),
    Case(
        "POST",
        f"{REG}/promote",
        ("promote", "force"),
        frozenset({200, 409}),
        {"json": {"version": 1, "force": True, "reason": "matrix"}},
    ),
    Case("POST", f"{REG}/rollback", ("rollback",), frozenset({200, 404, 409}), {"json": {}}),
    Case("POST", f"{REG}/versions/2/approve", ("approve",), frozenset({200, 409}), {"json": {}}),
    Case("POST", f"{REG}/versions/3/archive", ("archive",), frozenset({200, 409}), {"json": {}}),
    Case("GET", "/metrics", ("read",)),
    Case("GET", "/docs", ("read",)),
    Case("GET", "/openapi.json", ("read",)),
    Case("GET", "/readyz", ()),
    Case("GET", "/healthz", ()),
]


def _token(identity: str) -> str:
    return f"t-{identity}"


@pytest.fixture(scope="module")
def matrix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, bytes]]:
    root = tmp_path_factory.mktemp("matrix")
    registry = Registry(f"sqlite:///{root / 'r.db'}", root / "store", actor="seed")
    paths = [train_artifact(root, seed) for seed in (1, 2, 3)]
    for path in paths:
        registry.register("churn", path)
    registry.promote("churn", 1, reason="matrix")
    upload = Path(shutil.make_archive(str(root / "upload"), "zip", paths[1])).read_bytes()
    tokens = [
        TokenConfig(sha256=hash_token(_token(i)), actor=i, roles=list(r))  # type: ignore[arg-type]
        for i, r in IDENTITIES.items()
        if r
    ]
    srv = start_server(registry, tokens=tokens)
    with srv.client(None) as anon:
        wait_for(lambda: anon.get("/readyz").status_code == 200, what="ready")
    yield srv, upload
    srv.stop()
    shutil.rmtree(srv.log_root, ignore_errors=True)
    registry.close()


def _request(client: httpx.Client, case: Case, upload: bytes) -> httpx.Response:
    kw = dict(case.call)
    if case.path.endswith("/versions") and case.method == "POST":
        kw = {"content": upload, "headers": {"content-type": "application/zip"}}
    return client.request(case.method, case.path, **kw)


def _expected(case: Case, identity: str) -> frozenset[int]:
    roles = IDENTITIES[identity]
    if not case.needs:
        return case.ok
    if not roles:  # no token, or one the server does not know
        return frozenset({401})
    if all(allowed(roles, op) for op in case.needs):
        return case.ok
    return frozenset({403})


def test_every_route_against_every_role(matrix_server: tuple[Server, bytes]) -> None:
    srv, upload = matrix_server
    wrong: list[str] = []
    for identity, roles in IDENTITIES.items():
        token = None if roles is None else _token(identity)
        with srv.client(token) as client:
            for case in CASES:
                r = _request(client, case, upload)
                if r.status_code not in _expected(case, identity):
                    wrong.append(f"{identity}: {case.method} {case.path} -> {r.status_code}")
                if r.status_code in (401, 403):
                    assert set(r.json()) == {"error", "errors", "request_id"}
    assert not wrong, "\n".join(wrong)


def test_readyz_details_need_read(matrix_server: tuple[Server, bytes]) -> None:
    srv, _ = matrix_server
    for identity, roles in IDENTITIES.items():
        token = None if roles is None else _token(identity)
        with srv.client(token) as client:
            body = client.get("/readyz").json()
        sees = bool(roles) and allowed(roles, "read")
        assert ("models" in body) == sees, identity
        assert body["ready"] is True


def test_auth_disabled_lets_anyone_do_everything(tmp_path: Path) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "store", actor="seed")
    registry.register("churn", train_artifact(tmp_path, 1))
    registry.promote("churn", 1)
    srv = start_server(registry, auth="disabled", tokens=[])
    try:
        with srv.client(None) as anon:
            wait_for(lambda: anon.get("/readyz").status_code == 200, what="ready")
            for case in CASES:
                if case.path.endswith("/versions") or "archive" in case.path:
                    continue
                r = anon.request(case.method, case.path, **case.call)
                assert r.status_code not in (401, 403), (case.path, r.text)
    finally:
        srv.stop()
        registry.close()


# -- refusing to start open -------------------------------------------------------------


def _project(tmp_path: Path, serving: dict[str, Any] | None) -> Path:
    raw: dict[str, Any] = {
        "registry": {"url": f"sqlite:///{tmp_path / 'r.db'}", "artifact_root": "store"},
        "models": {"m": {"data": {"path": "d.csv"}, "target": "y", "task": "binary"}},
    }
    if serving is not None:
        raw["serving"] = serving
    path = tmp_path / "glmops.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_no_serving_section_refuses_to_start(tmp_path: Path) -> None:
    """Issue 14: without a serving section the app served with auth disabled."""
    config: GlmopsConfig = parse_config(yaml.safe_load(_project(tmp_path, None).read_text()))
    registry = Registry(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "store")
    try:
        with pytest.raises(ConfigError, match=r"serving\.tokens.*serving\.auth: disabled"):
            create_app(config, registry=registry)
    finally:
        registry.close()


def test_auth_disabled_only_on_loopback(tmp_path: Path) -> None:
    """Issue 14: nothing stopped --host 0.0.0.0 with auth off."""
    registry = Registry(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "store")
    try:
        for host in ("0.0.0.0", "::", "10.1.2.3", "example.org"):
            open_config = ServingConfig(auth="disabled", host=host)
            with pytest.raises(ConfigError, match="--insecure"):
                create_app(open_config, registry=registry)
            create_app(open_config, registry=registry, insecure=True)
        for host in ("127.0.0.1", "::1", "localhost"):
            create_app(ServingConfig(auth="disabled", host=host), registry=registry)
    finally:
        registry.close()


def test_the_serve_command_refuses_to_serve_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from glmops.cli.main import app

    served: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda _app, host, **kw: served.append(host))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    bare = str(_project(tmp_path, None))
    result = runner.invoke(app, ["serve", "--config", bare])
    assert result.exit_code == 2 and "serving.tokens" in " ".join(result.output.split())
    result = runner.invoke(app, ["serve", "--config", bare, "--no-auth", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--insecure" in " ".join(result.output.split())
    assert served == []
    result = runner.invoke(app, ["serve", "--config", bare, "--no-auth"])
    assert result.exit_code == 0, result.output
    args = ["serve", "--config", bare, "--no-auth", "--host", "0.0.0.0", "--insecure"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert served == ["127.0.0.1", "0.0.0.0"]
