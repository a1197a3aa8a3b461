"""``glmops registry --server``: the CLI through a real uvicorn (SQLite and PostgreSQL).

Issue 14 item 1: the CLI against the database cannot authenticate anyone
(``GLMOPS_ACTOR=bob glmops registry approve ...`` approved as bob). In HTTP
mode the server checks the token's roles and records the token's actor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.service.conftest import start_server
from tests.unit.registry.conftest import artifacts, db_url  # noqa: F401 (fixtures)
from typer.testing import CliRunner

from glmops.cli.main import app
from glmops.config import TokenConfig
from glmops.registry import Registry
from glmops.registry.gates import GateRule
from glmops.registry.registry import os_user
from glmops.serving import hash_token

TOKENS = {  # token -> (actor, roles); long and unique so a leak is easy to find
    "tok-approver-7d1e9b2c4a": ("bob", ["approver"]),
    "tok-trainer-3f8a6c0d2e": ("erin", ["trainer"]),
    "tok-predict-9b4e1f7a5c": ("svc", ["predict"]),
    "tok-breakglass-2c6d8e0f": ("fay", ["approver", "breakglass"]),
    "tok-admin-6a0e2d4c8f": ("carol", ["admin"]),
}
APPROVER, TRAINER, PREDICT, BREAKGLASS, ADMIN = TOKENS
WRONG = "tok-unknown-5e3a9c1b7d"


class Cli:
    """Runs ``glmops registry`` in HTTP mode and keeps every output to check for tokens."""

    def __init__(self, server: str, registry: Registry, root: Path) -> None:
        self.server, self.registry, self.root = server, registry, root
        self.outputs: list[str] = []

    def __call__(self, token: str | None, *args: str, **env: str | None) -> tuple[int, str]:
        environ = {"GLMOPS_SERVER": self.server, "GLMOPS_TOKEN": token, **env}
        result = CliRunner().invoke(app, ["registry", *args], env=environ)
        self.outputs.append(result.output)
        return result.exit_code, " ".join(result.output.split())  # rich wraps at 80 columns


@pytest.fixture
def cli(db_url, tmp_path, artifacts) -> Iterator[Cli]:  # noqa: F811
    """churn@1..3 (churn@1 champion) and strict@1..2 behind gates no version passes."""
    registry = Registry(
        db_url,
        tmp_path / "store",
        actor="seed",
        gates={"strict": [GateRule(metric="roc_auc", min=0.9999)]},
    )
    for path in artifacts:
        registry.register("churn", path)
    for path in artifacts[:2]:
        registry.register("strict", path)
    registry.promote("churn", 1, reason="first")
    registry.promote("strict", 1, force=True, reason="seed")
    tokens = [
        TokenConfig(sha256=hash_token(t), actor=a, roles=r)  # type: ignore[arg-type]
        for t, (a, r) in TOKENS.items()
    ]
    srv = start_server(registry, tokens=tokens, prediction_log={"enabled": False})
    runner = Cli(srv.url, registry, tmp_path)
    try:
        yield runner
    finally:
        srv.stop()
        registry.close()
        for output in runner.outputs:  # whatever a test did, no token was printed
            assert not any(token in output for token in (*TOKENS, WRONG)), output


def test_an_approver_promotes_as_the_tokens_actor(cli):
    """The audit log records the token's actor: not the OS user, not GLMOPS_ACTOR."""
    code, out = cli(APPROVER, "promote", "churn", "2", "--reason", "best", GLMOPS_ACTOR="mallory")
    assert code == 0, out
    assert "churn@2 [champion]" in out and "GLMOPS_ACTOR is ignored" in out
    event = cli.registry.history("churn", limit=1)[0]
    assert event["action"] == "promote" and event["reason"] == "best"
    assert event["actor"] == "bob" and event["actor"] not in ("mallory", os_user())
    code, out = cli(APPROVER, "rollback", "churn", "--reason", "regression")
    assert code == 0 and "churn@1" in out
    code, out = cli(APPROVER, "history", "churn", "--json")
    events = json.loads(out)
    assert [e["action"] for e in events[:2]] == ["rollback", "promote"]
    assert {e["actor"] for e in events[:2]} == {"bob"}
    assert cli.registry.resolve("churn@champion").version == 1


def test_every_routed_command_answers_as_the_database_mode(cli, db_url):  # noqa: F811
    """The same commands print the same tables and JSON over HTTP and on the database."""
    database = {
        "GLMOPS_SERVER": None,
        "GLMOPS_TOKEN": None,
        "GLMOPS_REGISTRY_URL": db_url,
        "GLMOPS_ARTIFACT_ROOT": str(cli.root / "store"),
    }
    for args in (
        ("list",),
        ("list", "--json"),
        ("list", "churn"),
        ("list", "churn", "--json"),
        ("show", "churn@champion"),
        ("show", "churn@2", "--json"),
        ("diff", "churn@1", "churn@2"),
        ("diff", "churn@1", "churn@2", "--json"),
        ("history", "churn", "--json"),
        ("history", "churn"),
        ("verify",),
    ):
        remote = cli(APPROVER, *args)
        local = cli(None, *args, **database)
        assert remote == local and remote[0] == 0, (args, remote, local)
    code, out = cli(TRAINER, "alias", "set", "churn", "staging", "3", "--reason", "try")
    assert code == 0 and "churn@3 [staging]" in out
    code, out = cli(TRAINER, "alias", "unset", "churn", "staging")
    assert code == 0 and "removed churn@staging" in out
    code, out = cli(APPROVER, "approve", "churn", "3", "--reason", "reviewed")
    assert code == 0 and "churn@3" in out
    code, out = cli(TRAINER, "archive", "churn", "3")
    assert code == 2 and "may not archive" in out  # archive needs more than trainer
    assert cli.registry.resolve("churn@3").approved_by == "bob"
    code, out = cli(ADMIN, "archive", "churn", "3", "--reason", "superseded")
    assert code == 0 and "churn@3 archived" in out
    code, out = cli(APPROVER, "history", "churn")  # the table shows who did what
    assert code == 0 and "erin" in out and "bob" in out


def test_refusals_exit_2_with_the_servers_message(cli):
    code, out = cli(PREDICT, "promote", "churn", "2")
    assert code == 2 and "'svc' may not promote" in out
    code, out = cli(PREDICT, "alias", "set", "churn", "champion", "2")
    assert code == 2 and "may not" in out
    code, out = cli(WRONG, "list")
    assert code == 2 and "valid bearer token" in out and "GLMOPS_TOKEN" in out
    code, out = cli(APPROVER, "promote", "churn", "2", "--force", "--reason", "hurry")
    assert code == 2 and "'bob' may not force" in out  # force is break-glass only
    code, out = cli(APPROVER, "show", "churn@9")
    assert code == 2 and "9" in out
    code, out = cli(APPROVER, "alias", "set", "churn", "Bad Alias", "2")
    assert code == 2 and "Invalid alias" in out
    code, out = cli(APPROVER, "promote", "churn", "2", "--alias", "canary", "--weight", "1.5")
    assert code == 2 and "weight" in out
    assert cli.registry.resolve("churn@champion").version == 1  # nothing moved


def test_a_missing_token_is_refused_before_any_request(cli, monkeypatch):
    import httpx

    def no_request(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request was sent without a token")

    monkeypatch.setattr(httpx.Client, "send", no_request)
    for token in (None, ""):
        code, out = cli(token, "promote", "churn", "2")
        assert code == 2 and "GLMOPS_TOKEN" in out and "ps and in shell history" in out
    assert cli.registry.resolve("churn@champion").version == 1


def test_failing_gates_exit_3_with_the_gate_table(cli):
    code, out = cli(APPROVER, "promote", "strict", "2")
    assert code == 3, out
    assert "promotion blocked:" in out and "roc_auc >= 0.9999" in out and "FAIL" in out
    assert cli.registry.resolve("strict@champion").version == 1
    code, out = cli(BREAKGLASS, "promote", "strict", "2", "--force", "--reason", "hotfix")
    assert code == 0 and "strict@2 [champion]" in out
    event = cli.registry.history("strict", limit=1)[0]
    assert event["actor"] == "fay" and event["after"]["forced"] is True


def test_register_a_directory_artifact_over_http(cli, artifacts):  # noqa: F811
    code, out = cli(TRAINER, "register", "scorer", str(artifacts[1]), "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["model"] == "scorer" and shown["version"] == 1
    assert shown["created_by"] == "erin"
    assert shown["digest"] == cli.registry.resolve("churn@2").digest  # the same artifact
    code, out = cli(TRAINER, "register", "scorer", str(artifacts[1]))
    assert code == 0 and "scorer@2" in out and "by erin" in out
    code, out = cli(PREDICT, "register", "scorer", str(artifacts[1]))
    assert code == 2 and "may not register" in out
    code, out = cli(TRAINER, "register", "scorer", str(cli.root / "missing"))
    assert code == 2 and "No artifact" in out
    assert [v.version for v in cli.registry.list_versions("scorer")] == [1, 2]
