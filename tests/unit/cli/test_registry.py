"""`glmops registry ...` end to end through the real CLI app (SQLite file in tmp)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from glmops.cli.main import app


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GLMOPS_REGISTRY_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("GLMOPS_ARTIFACT_ROOT", str(tmp_path / "store"))
    monkeypatch.setenv("GLMOPS_ACTOR", "cli-user")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["registry", *args])
    return result.exit_code, result.output


def test_register_promote_rollback_history(env, artifacts):
    for path in artifacts[:2]:
        code, out = _run("register", "churn", str(path))
        assert code == 0, out
    assert _run("promote", "churn", "1", "--reason", "first")[0] == 0
    code, out = _run("promote", "churn", "2")
    assert code == 0 and "churn@2 [champion]" in out  # the aliases are text, not rich markup
    code, out = _run("show", "churn@champion", "--json")
    assert code == 0 and json.loads(out)["version"] == 2
    code, out = _run("rollback", "churn", "--reason", "bad canary")
    assert code == 0 and "churn@1" in out
    code, out = _run("history", "churn", "--json")
    events = json.loads(out)
    assert events[0]["action"] == "rollback" and events[0]["actor"] == "cli-user"
    code, out = _run("list", "--json")
    assert json.loads(out)[0]["aliases"] == {"champion": 1}
    code, out = _run("diff", "churn@1", "churn@2", "--json")
    assert code == 0 and json.loads(out)["b"]["ref"] == "churn@2"
    assert _run("verify")[0] == 0


def test_errors_exit_2_and_name_the_problem(env, artifacts):
    _run("register", "churn", str(artifacts[0]))
    code, out = _run("promote", "churn", "7")
    assert code == 2 and "no version 7" in out
    code, out = _run("alias", "set", "churn", "Bad Alias", "1")
    assert code == 2 and "Invalid alias" in out
    code, out = _run("register", "churn", str(env / "missing"))
    assert code == 2


def test_gates_from_the_config_block_promotion(env, artifacts, monkeypatch):
    monkeypatch.delenv("GLMOPS_REGISTRY_URL")  # else the environment wins over the file
    monkeypatch.delenv("GLMOPS_ARTIFACT_ROOT")
    (env / "glmops.yaml").write_text(
        "registry: {url: sqlite:///gated.db, artifact_root: gstore}\n"
        "models:\n"
        "  churn:\n"
        "    data: {path: x.csv}\n"
        "    target: label\n"
        "    task: binary\n"
        "    gates: [{metric: roc_auc, min: 0.9999}]\n",
        encoding="utf-8",
    )
    assert _run("register", "churn", str(artifacts[0]))[0] == 0  # uses ./glmops.yaml
    assert (env / "gated.db").is_file()
    code, out = _run("promote", "churn", "1")
    assert code == 3 and "roc_auc >= 0.9999" in out and "FAIL" in out
    code, out = _run("promote", "churn", "1", "--force", "--reason", "known issue")
    assert code == 0


MODELS = "models:\n  churn: {data: {path: x.csv}, target: label, task: binary}\n"


def _team_config(env, roles: str, extra: str = "") -> None:
    (env / "glmops.yaml").write_text(
        f"registry: {{url: sqlite:///team.db, artifact_root: tstore, roles: {roles}{extra}}}\n"
        + MODELS,
        encoding="utf-8",
    )


def test_glmops_actor_cannot_claim_someone_else_under_roles(env, artifacts, monkeypatch):
    """Issue 14: `GLMOPS_ACTOR=bob glmops registry approve` approved as bob."""
    import os
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.delenv("GLMOPS_REGISTRY_URL")
    monkeypatch.delenv("GLMOPS_ARTIFACT_ROOT")
    _team_config(env, f"{{{me}: [trainer], bob: [approver]}}")
    monkeypatch.delenv("GLMOPS_ACTOR")
    assert _run("register", "churn", str(artifacts[0]))[0] == 0
    monkeypatch.setenv("GLMOPS_ACTOR", "bob")
    monkeypatch.setenv("USER", "bob")  # getpass trusts it; the uid does not lie
    monkeypatch.setenv("LOGNAME", "bob")
    code, out = _run("approve", "churn", "1")
    assert code == 2 and "GLMOPS_ACTOR='bob'" in out and "OS user" in out
    code, out = _run("list", "churn", "--json")  # reads need no actor
    assert code == 0 and json.loads(out)[0]["approved_by"] is None
    monkeypatch.delenv("GLMOPS_ACTOR")
    code, out = _run("approve", "churn", "1")  # as the OS user: a trainer, not an approver
    assert code == 2 and f"'{me}' may not approve" in out
    code, out = _run("history", "churn", "--json")
    assert {e["actor"] for e in json.loads(out)} == {me}


def test_single_user_mode_keeps_glmops_actor_as_a_label(env, artifacts):
    assert _run("register", "churn", str(artifacts[0]))[0] == 0
    out = _run("history", "churn", "--json")[1]
    assert json.loads(out)[0]["actor"] == "cli-user"


def test_promote_a_canary_with_a_weight(env, artifacts):
    for path in artifacts[:2]:
        assert _run("register", "churn", str(path))[0] == 0
    assert _run("promote", "churn", "1")[0] == 0
    code, out = _run("promote", "churn", "2", "--alias", "canary", "--weight", "0.2")
    assert code == 0, out
    code, out = _run("history", "churn", "--json")
    event = json.loads(out)[0]
    assert event["alias"] == "canary" and event["after"]["weight"] == 0.2
    code, out = _run("promote", "churn", "2", "--weight", "0.2")
    assert code == 2 and "weight is for a canary" in " ".join(out.split())


def _old_sqlite_registry(path) -> None:
    from glmops.registry.db import current_revision, make_engine, upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    engine.dispose()


def test_migrate_backs_up_sqlite_then_prints_both_revisions(env):
    from glmops.registry.db import SCHEMA_HEAD

    _old_sqlite_registry(env / "r.db")
    code, out = _run("list")
    assert code == 2 and "glmops registry migrate" in out  # never by surprise
    code, out = _run("migrate")
    assert code == 0, out
    assert f"migrated from 0001 to {SCHEMA_HEAD}" in out
    backups = list(env.glob("r.db.0001.*.bak"))
    assert len(backups) == 1 and str(backups[0].name) in "".join(out.split())
    import sqlite3

    with sqlite3.connect(backups[0]) as copy:
        assert copy.execute("SELECT * FROM glmops_schema_version").fetchall()[0][0] == "0001"
    copy.close()
    assert _run("list")[0] == 0
    code, out = _run("migrate")
    assert code == 0 and f"already at revision {SCHEMA_HEAD}" in out
    assert len(list(env.glob("r.db.*.bak"))) == 1  # nothing to back up at head


def test_the_config_s_migrate_and_signature_settings_reach_the_registry(env, monkeypatch):
    monkeypatch.delenv("GLMOPS_REGISTRY_URL")
    monkeypatch.delenv("GLMOPS_ARTIFACT_ROOT")
    monkeypatch.delenv("GLMOPS_TRUSTED_KEYS", raising=False)
    _old_sqlite_registry(env / "team.db")
    _team_config(env, "null", ", migrate: true")
    code, out = _run("list")
    assert code == 0, out  # migrated because the config says so
    _team_config(env, "null", ", require_signature: true")
    code, out = _run("list")
    assert code == 2 and "no key is trusted" in out


def test_environment_wins_over_the_config_file_with_a_warning(env, artifacts, caplog):
    """Issue 14: GLMOPS_REGISTRY_URL was silently ignored when a config file was given."""
    (env / "glmops.yaml").write_text(
        "registry: {url: 'sqlite:///file.db', artifact_root: fstore}\n" + MODELS,
        encoding="utf-8",
    )
    code, out = _run("register", "churn", str(artifacts[0]))
    assert code == 0, out
    assert (env / "r.db").is_file() and not (env / "file.db").exists()
    flat = " ".join(out.split())
    assert "warning: GLMOPS_REGISTRY_URL=" in flat and "overrides registry.url" in flat
    assert "GLMOPS_ARTIFACT_ROOT" in flat
    assert "overrides registry.url" in caplog.text  # logged for services too
