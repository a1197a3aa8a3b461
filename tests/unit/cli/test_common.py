"""The CLI's one error policy, config lookup and registry (glmops.cli._common)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from glmops._extras import EXTRAS
from glmops.cli import _common
from glmops.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_GATES,
    exit_code,
    fail,
    find_config,
    open_registry,
)
from glmops.cli.main import app
from glmops.cli.serving import serving_settings
from glmops.errors import (
    ConfigError,
    GateFailed,
    InvalidInputError,
    MissingExtraError,
    ModelNotFound,
)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (GateFailed("blocked", results=[]), EXIT_GATES),
        (ConfigError("bad", path="models.credit.cv"), EXIT_BAD_INPUT),
        (InvalidInputError("bad", field="x", expected="a number"), EXIT_BAD_INPUT),
        (ModelNotFound("no model 'x'"), EXIT_BAD_INPUT),
        (MissingExtraError("needs", extra="serve", feature="f"), EXIT_BAD_INPUT),
        (ValueError("bad"), EXIT_BAD_INPUT),
        (FileNotFoundError("missing.csv"), EXIT_BAD_INPUT),
        (FileExistsError("glmops.yaml"), EXIT_BAD_INPUT),
        (PermissionError("denied"), EXIT_FAILURE),
        (RuntimeError("bug"), EXIT_FAILURE),
    ],
)
def test_one_mapping_from_the_error_tree_to_exit_codes(exc: BaseException, code: int) -> None:
    assert exit_code(exc) == code


def test_fail_prints_the_message_verbatim_and_exits_with_its_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as caught:
        fail(GateFailed("roc_auc [fell] by 0.02", results=[]))
    assert caught.value.exit_code == EXIT_GATES
    assert "promotion blocked: roc_auc [fell] by 0.02" in capsys.readouterr().err


def test_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Exit codes: 0 success" in text and "3 promotion blocked" in text


def test_find_config_prefers_the_option_then_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config(None) is None
    Path("glmops.yaml").write_text("version: 1\n", encoding="utf-8")
    assert find_config(None) == Path("glmops.yaml")
    assert find_config(tmp_path / "other.yaml") == tmp_path / "other.yaml"


def test_open_registry_without_a_config_uses_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GLMOPS_REGISTRY_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("GLMOPS_ARTIFACT_ROOT", str(tmp_path / "store"))
    with open_registry(None) as registry:
        assert registry.list_models() == []
    assert (tmp_path / "env.db").is_file()


def test_serving_settings_apply_the_options_over_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GLMOPS_REGISTRY_URL", f"sqlite:///{tmp_path / 'env.db'}")
    settings, registry = serving_settings(None, port=8123, models=["credit"], no_auth=True)
    registry.close()
    assert settings.port == 8123 and settings.models == ["credit"]
    assert settings.auth == "disabled" and settings.tokens == []


def test_serve_without_the_serve_extra_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(EXTRAS, "serve", ("glmops_no_such_module",))
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2, result.output
    assert "pip install 'glmops[serve]'" in " ".join(result.output.split())


def test_one_console_pair_for_every_command() -> None:
    import importlib

    for name in ("main", "registry", "serving"):
        module = importlib.import_module(f"glmops.cli.{name}")
        assert module.console is _common.console and module.out is _common.out


def test_registry_location_precedence_and_a_redacted_warning(tmp_path: Path) -> None:
    from glmops.config import parse_config, registry_env_overrides

    models = {"churn": {"data": {"path": "x.csv"}, "target": "label", "task": "binary"}}
    pg = "postgresql+psycopg://glm:s3cret@db/registry"
    cfg = parse_config({"registry": {"url": pg}, "models": models})
    assert registry_env_overrides(cfg, {})[0]["url"] == pg  # file > default
    same = registry_env_overrides(cfg, {"GLMOPS_REGISTRY_URL": pg})
    assert same == ({"url": pg, "artifact_root": same[0]["artifact_root"]}, [])
    other = "postgresql+psycopg://glm:0ther@db2/registry"
    where, warnings = registry_env_overrides(cfg, {"GLMOPS_REGISTRY_URL": other})
    assert where["url"] == other and len(warnings) == 1  # environment > file, said aloud
    assert "s3cret" not in warnings[0] and "0ther" not in warnings[0]
    plain = parse_config({"models": models})  # the file sets nothing: no disagreement
    assert registry_env_overrides(plain, {"GLMOPS_ARTIFACT_ROOT": str(tmp_path)})[1] == []
