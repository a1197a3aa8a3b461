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
    assert _run("promote", "churn", "2")[0] == 0
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
