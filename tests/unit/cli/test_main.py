"""The ``glmops`` command line on the credit data: init -> train -> evaluate -> validate,
and the exit codes and messages of each failure."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from glmops.cli.main import app

# module fixtures train once: keep this file on one xdist worker (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("cli")

CREDIT = Path(__file__).resolve().parents[3] / "data" / "credit_data.csv"
SMALL_CV = {
    "GLMOPS_MODELS__CREDIT__CV__N_FOLDS": "3",
    "GLMOPS_MODELS__CREDIT__CV__N_ALPHAS": "10",
    "GLMOPS_MODELS__CREDIT__CV__L1_RATIO": "[0.5, 1.0]",
}


def _invoke(*args: Any, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def _flat(text: str) -> str:
    """Return ``text`` without whitespace: rich wraps long lines at the console width."""
    return "".join(text.split())


def _has(result: Result, fragment: str) -> bool:
    return _flat(fragment) in _flat(result.output)


class _Project:
    def __init__(self, root: Path, config: Path, train: Result) -> None:
        self.root, self.config, self.train = root, config, train
        self.artifact = root / "artifacts" / "credit"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> _Project:
    root = tmp_path_factory.mktemp("cli")
    config = root / "glmops.yaml"
    init = _invoke("init", "--data", CREDIT, "--target", "Status", "--name", "credit", "-o", config)
    assert init.exit_code == 0, init.output
    train = _invoke("train", "--config", config, "--json", env=SMALL_CV)
    return _Project(root, config, train)


def test_init_writes_a_config(project: _Project) -> None:
    text = project.config.read_text(encoding="utf-8")
    assert "target: Status" in text
    assert "task: binary" in text


def test_train_writes_the_artifact_and_prints_json(project: _Project) -> None:
    result = project.train
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model"] == "credit"
    assert Path(summary["artifact"]) == project.artifact
    assert Path(summary["report"]) == project.artifact / "report.html"
    assert len(summary["digest"]) == 64
    assert summary["holdout"]["roc_auc"] > 0.75
    manifest = json.loads((project.artifact / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest["digest"] == summary["digest"]
    # the env overrides reached the run
    model = json.loads((project.artifact / "model.json").read_text(encoding="utf-8"))
    assert model["metadata"]["lineage"]["config"]["cv"]["n_folds"] == 3
    # the progress bars went to stderr, every stage
    for label in ("Reading data", "Cross-validating", "Writing artifact"):
        assert label in result.stderr


def test_evaluate_json(project: _Project) -> None:
    result = _invoke("evaluate", "--model", project.artifact, "--data", CREDIT, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["violations"] == []
    metrics = out["metrics"]
    assert metrics["n_samples"] == 4454
    assert metrics["positive_class"] == "bad"
    assert metrics["roc_auc"] > 0.75


def test_evaluate_writes_an_html_report(project: _Project, tmp_path: Path) -> None:
    report = tmp_path / "eval.html"
    result = _invoke("evaluate", "-m", project.artifact, "--data", CREDIT, "-o", report)
    assert result.exit_code == 0, result.output
    assert _has(result, "roc_auc")
    html = report.read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in html
    assert "http:" not in html and "https:" not in html


def test_validate_clean_data(project: _Project) -> None:
    result = _invoke("validate", "--model", project.artifact, "--data", CREDIT)
    assert result.exit_code == 0, result.output
    assert _has(result, "matches the manifest of credit")


def _broken_credit(path: Path) -> Path:
    with CREDIT.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    rows[1][header.index("Income")] = "lots"  # wrong type
    rows[2][header.index("Home")] = "castle"  # unseen category
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows[:50])
    return path


def test_validate_lists_every_violation(project: _Project, tmp_path: Path) -> None:
    bad = _broken_credit(tmp_path / "bad.csv")
    result = _invoke("validate", "--model", project.artifact, "--data", bad)
    assert result.exit_code == 1, result.output
    assert _has(result, "2 violation(s)")
    for fragment in ("Income", "wrong_type", "'lots'", "Home", "unseen_category", "'castle'"):
        assert _has(result, fragment), fragment


def test_evaluate_on_a_tampered_artifact_names_the_file(project: _Project, tmp_path: Path) -> None:
    copy = tmp_path / "credit"
    shutil.copytree(project.artifact, copy)
    data = bytearray((copy / "arrays.npz").read_bytes())
    data[40] ^= 0xFF
    (copy / "arrays.npz").write_bytes(bytes(data))
    result = _invoke("evaluate", "--model", copy, "--data", CREDIT, "--json")
    assert result.exit_code == 2, result.output
    assert _has(result, "arrays.npz")
    assert _has(result, "SHA-256")
    assert result.stdout == ""


def test_evaluate_without_the_target_column(project: _Project, tmp_path: Path) -> None:
    data = tmp_path / "x.csv"
    with CREDIT.open(newline="") as fh:
        rows = [row[1:] for row in csv.reader(fh)][:30]
    with data.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    result = _invoke("evaluate", "--model", project.artifact, "--data", data)
    assert result.exit_code == 2, result.output
    assert _has(result, "'Status'")


def test_train_with_a_broken_config_exits_2_naming_the_field(
    project: _Project, tmp_path: Path
) -> None:
    text = project.config.read_text(encoding="utf-8").replace(
        "l1_ratio: [0.1, 0.5, 0.9, 1.0]", "l1_ratio: [0.1, 0.5, 1.5]"
    )
    assert "1.5]" in text
    broken = tmp_path / "glmops.yaml"
    broken.write_text(text, encoding="utf-8")
    result = _invoke("train", "--config", broken, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert _has(result, "models.credit.cv.l1_ratio[2]: must be in [0, 1], got 1.5")
    assert not (tmp_path / "out").exists()


def test_train_with_an_unknown_key_suggests_the_name(tmp_path: Path) -> None:
    config = tmp_path / "glmops.yaml"
    config.write_text(
        "models:\n  credit:\n    data: {path: x.csv}\n    target: Status\n    task: binary\n"
        "    thresold: {policy: max_f1}\n",
        encoding="utf-8",
    )
    result = _invoke("train", "--config", config)
    assert result.exit_code == 2, result.output
    assert _has(result, "models.credit.thresold: unknown key (did you mean 'threshold'?)")


def test_train_with_a_missing_config(tmp_path: Path) -> None:
    result = _invoke("train", "--config", tmp_path / "nope.yaml")
    assert result.exit_code == 2, result.output
    assert _has(result, "does not exist")


def test_init_refuses_to_overwrite_without_force(project: _Project) -> None:
    before = project.config.read_bytes()
    result = _invoke("init", "--data", CREDIT, "--target", "Age", "-o", project.config)
    assert result.exit_code != 0
    assert _has(result, "--force")
    assert project.config.read_bytes() == before


def test_init_force_overwrites(tmp_path: Path) -> None:
    config = tmp_path / "glmops.yaml"
    config.write_text("old\n", encoding="utf-8")
    result = _invoke(
        "init", "--data", CREDIT, "--target", "Status", "-o", config, "--force", "--name", "c2"
    )
    assert result.exit_code == 0, result.output
    assert "  c2:" in config.read_text(encoding="utf-8")


def test_init_refusal_is_a_bad_input_exit_code(project: _Project) -> None:
    result = _invoke("init", "--data", CREDIT, "--target", "Age", "-o", project.config)
    assert result.exit_code == 2


def test_init_with_an_unknown_target_exits_2(tmp_path: Path) -> None:
    result = _invoke("init", "--data", CREDIT, "--target", "status", "-o", tmp_path / "g.yaml")
    assert result.exit_code == 2, result.output
    assert _has(result, "'status'")
    assert not (tmp_path / "g.yaml").exists()


@pytest.mark.parametrize("folder", ["[v2]", "[/old]"])
def test_error_text_is_printed_verbatim(tmp_path: Path, folder: str) -> None:
    missing = Path(f"{tmp_path}/in/{folder}/data.csv")  # does not exist
    result = _invoke("init", "--data", missing, "--target", "y", "-o", tmp_path / "g.yaml")
    assert result.exit_code == 2, result.output
    assert _has(result, folder)


def test_train_without_the_report_extra_skips_the_report_with_a_warning(
    project: _Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glmops._extras import EXTRAS

    monkeypatch.setitem(EXTRAS, "report", ("glmops_no_such_module",))
    out_dir = tmp_path / "lean"
    args = ("train", "--config", project.config, "--output-dir", out_dir, "--json")
    result = _invoke(*args, env=SMALL_CV)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["report"] is None
    assert any("pip install 'glmops[report]'" in w for w in summary["warnings"])
    assert (out_dir / "credit" / "MODEL_CARD.md").is_file()
    assert not (out_dir / "credit" / "report.html").exists()
