"""Model evaluation: hold-out metrics, coefficient stability, reports and model cards.

Inputs are plain arrays and scalars (no estimators); outputs are plain python
values ready for JSON, or a self-contained HTML page.
"""

from __future__ import annotations

from glmops.evaluation.metrics import (
    calibration_table,
    classification_metrics,
    expected_calibration_error,
    regression_metrics,
    score_distribution,
    weighted_quantile,
)
from glmops.evaluation.model_card import render_model_card
from glmops.evaluation.report import (
    CoefData,
    CVData,
    PathData,
    ReportData,
    render_html_report,
    write_report,
)
from glmops.evaluation.stability import (
    bootstrap_coefficients,
    coefficient_stability,
    model_health,
)

__all__ = [
    "CVData",
    "CoefData",
    "PathData",
    "ReportData",
    "bootstrap_coefficients",
    "calibration_table",
    "classification_metrics",
    "coefficient_stability",
    "expected_calibration_error",
    "model_health",
    "regression_metrics",
    "render_html_report",
    "render_model_card",
    "score_distribution",
    "weighted_quantile",
    "write_report",
]
