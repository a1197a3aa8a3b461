"""Model evaluation: metrics on labelled data, coefficient stability, reports and model cards.

:func:`glmops.evaluation.evaluate.evaluate` is the one "how good is this
model on these labelled rows" (import it from its module: the package
attribute ``evaluate`` is that module); the other modules take plain arrays
and scalars (no estimators) and return plain python values ready for JSON,
or a self-contained HTML page.

Names load on first use, so ``glmops.evaluation.evaluate`` (imported by the
registry's gates) does not pull the HTML report in with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "calibration_table": "metrics",
    "classification_metrics": "metrics",
    "expected_calibration_error": "metrics",
    "regression_metrics": "metrics",
    "score_distribution": "metrics",
    "weighted_quantile": "metrics",
    "render_model_card": "model_card",
    "CoefData": "report",
    "CVData": "report",
    "PathData": "report",
    "ReportData": "report",
    "render_html_report": "report",
    "write_report": "report",
    "bootstrap_coefficients": "stability",
    "coefficient_stability": "stability",
    "model_health": "stability",
}

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


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names with the module's own (for completion)."""
    return sorted({*globals(), *__all__})
