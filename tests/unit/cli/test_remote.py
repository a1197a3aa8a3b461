"""``glmops registry --server`` without a server: options, token, error mapping, the upload zip.

The real routes are exercised in ``tests/service/test_cli_remote.py``; here
``httpx.Client.send`` is replaced, so each test knows exactly what was sent.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from glmops.cli._common import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_GATES, exit_code
from glmops.cli.main import app
from glmops.cli.remote import error_of, read_token, registry_url, zipped_artifact
from glmops.errors import (
    AliasConflict,
    GateFailed,
    InvalidInputError,
    ModelNotFound,
    PermissionDenied,
)

TOKEN = "tok-unit-8c2f4a6e1b"


@pytest.fixture
def sent(monkeypatch) -> list[httpx.Request]:
    """Answer every request with ``answer`` (a 500 unless a test sets it); record them."""
    requests: list[httpx.Request] = []

    def send(self: httpx.Client, request: httpx.Request, **kw: Any) -> httpx.Response:
        requests.append(request)
        body = {"error": f"boom {TOKEN}", "errors": [], "request_id": "rid-1"}
        return httpx.Response(500, json=body, request=request)

    monkeypatch.setattr(httpx.Client, "send", send)
    return requests


def _cli(*args: str, token: str | None = TOKEN, **env: str | None) -> tuple[int, str]:
    environ = {"GLMOPS_SERVER": "http://127.0.0.1:8080", "GLMOPS_TOKEN": token, **env}
    result = CliRunner().invoke(app, ["registry", *args], env=environ)
    assert TOKEN not in result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("https://glmops.example.com:8080", "https://glmops.example.com:8080/v1/registry"),
        ("https://h.example/glmops/", "https://h.example/glmops/v1/registry"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/registry"),
        ("http://localhost:1", "http://localhost:1/v1/registry"),
        ("http://[::1]:8080", "http://[::1]:8080/v1/registry"),
    ],
)
def test_the_server_url_names_the_registry_routes(server, expected):
    assert registry_url(server) == expected


@pytest.mark.parametrize(
    ("server", "match"),
    [
        ("http://glmops.example.com", "clear text"),  # the token would cross the network
        ("https://u:hunter2@h.example", "no user, password"),
        ("https://h.example/?token=x", "no user, password"),
        ("ftp://h.example", "https://"),
        ("glmops.example.com", "https://"),
    ],
)
def test_an_unsafe_or_malformed_server_url_is_refused(server, match):
    with pytest.raises(InvalidInputError, match=match) as info:
        registry_url(server)
    assert info.value.field == "--server" and "hunter2" not in str(info.value.got)


def test_the_token_comes_from_the_environment_and_is_never_echoed():
    assert read_token({"GLMOPS_TOKEN": TOKEN}) == TOKEN
    with pytest.raises(InvalidInputError, match="GLMOPS_TOKEN environment variable"):
        read_token({})
    for bad in (TOKEN + "\n", f"Bearer {TOKEN}", TOKEN + "\x00", TOKEN + "é"):
        with pytest.raises(InvalidInputError, match="token alone") as info:
            read_token({"GLMOPS_TOKEN": bad})
        assert TOKEN not in str(info.value) and TOKEN not in str(info.value.got)


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (401, {"error": "A valid bearer token is required."}, PermissionDenied, EXIT_BAD_INPUT),
        (403, {"error": "'svc' may not promote."}, PermissionDenied, EXIT_BAD_INPUT),
        (404, {"error": "no version 9"}, ModelNotFound, EXIT_BAD_INPUT),
        (409, {"error": "archived", "errors": [{"kind": "conflict"}]}, AliasConflict, 2),
        (
            409,
            {"error": "gates", "errors": [{"kind": "gate_failed", "expected": "r", "got": 0.5}]},
            GateFailed,
            EXIT_GATES,
        ),
        (400, {"error": "not JSON", "errors": [{"field": "body"}]}, InvalidInputError, 2),
        (413, {"error": "too big", "errors": [{"field": "body"}]}, InvalidInputError, 2),
        (422, {"error": "bad", "errors": [{"field": "body.weight"}]}, InvalidInputError, 2),
        (500, {"error": "Internal error", "request_id": "r1"}, ConnectionError, EXIT_FAILURE),
        (503, None, ConnectionError, EXIT_FAILURE),  # a proxy's page, not JSON
    ],
)
def test_http_errors_map_to_the_clis_exit_codes(status, body, error, code):
    exc = error_of(status, body, TOKEN)
    assert isinstance(exc, error) and exit_code(exc) == code
    if status == 409 and code == EXIT_GATES:
        assert exc.results == [{"rule": "r", "candidate": 0.5, "passed": False}]
    if status == 422:
        assert exc.field == "body.weight"
    if status == 500:
        assert "request id r1" in str(exc)


def test_a_token_the_server_echoes_is_masked():
    exc = error_of(403, {"error": f"token {TOKEN} is not allowed", "errors": []}, TOKEN)
    assert TOKEN not in str(exc)


def test_a_server_fault_exits_1_with_the_request_id(sent):
    code, out = _cli("list")
    assert code == EXIT_FAILURE and "HTTP 500" in out and "rid-1" in out
    request = sent[0]
    assert request.url == "http://127.0.0.1:8080/v1/registry/models"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_an_unreachable_server_exits_1_without_the_token(monkeypatch):
    def refuse(self: httpx.Client, request: httpx.Request, **kw: Any) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.headers['authorization']}", request=request)

    monkeypatch.setattr(httpx.Client, "send", refuse)
    code, out = _cli("show", "churn@2")
    assert code == EXIT_FAILURE and "Cannot reach the registry" in out


def test_path_segments_cannot_change_the_route(sent):
    _cli("alias", "unset", "churn", "a/../../verify")
    assert sent[0].url.raw_path == b"/v1/registry/models/churn/aliases/a%2F..%2F..%2Fverify?reason="
    code, _ = _cli("alias", "unset", "churn", "..")
    assert code == EXIT_BAD_INPUT and len(sent) == 1


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("gc",), "gc has no HTTP route"),
        (("migrate",), "migrate has no HTTP route"),
        (("list", "--config", "glmops.yaml"), "'--config' option applies to the database mode"),
        (("history",), "needs a model name"),
        (("promote", "churn", "2", "--data", "x.csv"), "'--data' option does not apply"),
    ],
)
def test_commands_without_a_route_refuse_before_any_request(sent, args, match):
    code, out = _cli(*args)
    assert code == EXIT_BAD_INPUT and match in out, out
    assert sent == []


def test_a_missing_token_is_refused_before_any_request(sent):
    code, out = _cli("promote", "churn", "2", token=None)
    assert code == EXIT_BAD_INPUT and "GLMOPS_TOKEN" in out and "shell history" in out
    assert sent == []


def test_a_directory_artifact_is_zipped_with_its_files_at_the_root(tmp_path):
    artifact = tmp_path / "artifact"
    (artifact / "sub").mkdir(parents=True)
    (artifact / "model.json").write_text("{}")
    (artifact / "sub" / "a.txt").write_text("a")
    with zipped_artifact(artifact) as handle:
        names = sorted(zipfile.ZipFile(handle).namelist())
    assert names == ["model.json", "sub/a.txt"]
    packed = tmp_path / "artifact.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("model.json", "{}")
    with zipped_artifact(packed) as handle:  # a .zip goes as it is
        assert handle.read() == packed.read_bytes()


def test_a_symbolic_link_in_the_artifact_is_refused(tmp_path):
    """A link could upload a file from outside the artifact (a key, a password file)."""
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (tmp_path / "secret.txt").write_text("hunter2")
    os.symlink(tmp_path / "secret.txt", artifact / "model.json")
    with pytest.raises(InvalidInputError, match="symbolic link"), zipped_artifact(artifact):
        pass
    (tmp_path / "plain.txt").write_text("not an artifact")
    with (
        pytest.raises(InvalidInputError, match=r"neither a directory nor a \.zip"),
        zipped_artifact(tmp_path / "plain.txt"),
    ):
        pass
    with pytest.raises(FileNotFoundError), zipped_artifact(tmp_path / "missing"):
        pass
