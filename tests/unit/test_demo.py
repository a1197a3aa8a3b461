"""The `make demo` job (examples/demo/) runs end to end and writes real plots."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from examples.demo.run import main
from examples.demo.step4_cross_validation import run_demo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_demo_chooses_a_model_and_writes_plots(tmp_path):
    report = run_demo(tmp_path)
    assert report.alpha > 0 and 0 <= report.l1_ratio <= 1
    assert report.alpha_1se >= report.alpha  # the 1-SE rule never picks a smaller penalty
    # diabetes: bmi and s5 are the strongest predictors in every published analysis
    assert {"bmi", "s5"} <= set(report.selected)
    assert np.isfinite(report.cv_mse) and report.cv_mse > 0
    for path in (report.path_plot, report.cv_plot):
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_demo_main_prints_report(tmp_path, capsys):
    assert main(["--output", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    # step 1, the main job: init -> train -> artifact + report -> score -> validate
    assert (tmp_path / "glmops.yaml").is_file()
    artifact = tmp_path / "artifacts" / "credit"
    for name in ("MANIFEST.json", "model.json", "arrays.npz", "report.html", "MODEL_CARD.md"):
        assert (artifact / name).is_file(), name
    assert "holdout: ROC AUC" in out and "counted, not refused" in out
    assert "'Income': wrong type" in out and "'Job': unseen category" in out
    # step 2: the registry flow, audited
    assert "champion -> version 2; rollback -> version 1" in out
    for action in ("create_model", "register", "promote", "set_alias", "rollback"):
        assert action in out
    assert (tmp_path / "glmops.db").is_file()
    # step 3: serving over real HTTP
    assert "without a token: HTTP 401" in out
    assert "Age: wrong_type" in out and "Channel: unexpected_column" in out
    assert "(sticky by entity key)" in out and "answers unchanged" in out
    assert "server stopped cleanly: True" in out
    assert (tmp_path / "scored.parquet").is_file()
    assert "glmops_requests_total" in out
    assert "chosen alpha" in out and "selected" in out and "cv_curve.png" in out
    assert "breast cancer" in out and "wine" in out and "calibration.png" in out
    # five steps, numbered once each, in order
    headings = [line.split(":")[0] for line in out.splitlines() if line.startswith("glmops demo")]
    assert headings == [f"glmops demo, step {i}" for i in range(1, 6)]


def test_demo_classifiers_judge_on_a_holdout_and_plot_calibration(tmp_path):
    from examples.demo.step5_classifiers import run_classifier_demo

    reports, plot = run_classifier_demo(tmp_path)
    binary, multi = reports
    assert binary.n_classes == 2 and multi.n_classes == 3
    # both datasets are easy: a working classifier is far better than chance
    for report in reports:
        assert report.roc_auc > 0.95 and report.accuracy > 0.9
        assert 0 < report.log_loss < 0.3 and 0 <= report.brier < 0.1
        assert 1 <= report.n_selected <= report.n_features
    assert binary.threshold is not None and 0 < binary.threshold < 1
    assert plot.read_bytes().startswith(PNG_MAGIC)


def test_each_step_module_names_its_own_step_number() -> None:
    """The modules' headings match the printed story (two once both said "step 3")."""
    import importlib

    modules = [
        "step1_pipeline",
        "step2_registry",
        "step3_serving",
        "step4_cross_validation",
        "step5_classifiers",
    ]
    for number, name in enumerate(modules, start=1):
        doc = importlib.import_module(f"examples.demo.{name}").__doc__ or ""
        assert doc.startswith(f"``make demo`` step {number}:"), name
    import examples.demo.run as run

    assert "monitor" not in (run.__doc__ or "")  # no promise of a step that does not exist
