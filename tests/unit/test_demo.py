"""The `make demo` job runs end to end and writes real plots."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from glmops.demo import main, run_demo

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
    assert main(["--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "chosen alpha" in out and "selected" in out and "cv_curve.png" in out
