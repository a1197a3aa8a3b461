"""Build a model's HTML report and model card from what training recorded.

:mod:`glmops.evaluation` draws plots and tables from plain arrays; this
module knows where those arrays live in a trained :class:`~glmops.model.Model`
(its metadata) and in a training run, and assembles them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from glmops.model import Model

if TYPE_CHECKING:
    from glmops.evaluation.evaluate import Evaluation

__all__ = [
    "HEADLINE_METRICS",
    "headline_metrics",
    "model_card_for",
    "report_for",
]

_LIMITS = [
    "A linear model: effects are additive on the link scale; interactions and "
    "non-linear effects exist only where the features encode them.",
    "Trained on the rows described under Training data; scores outside the "
    "training ranges (counted as out-of-range) extrapolate linearly.",
    "Unseen categories are scored as rare (or as the baseline when there was no "
    "rare bucket); watch the unseen-category counters in production.",
]


# the metrics a summary shows (CLI tables, model card), in display order
HEADLINE_METRICS = (
    "rmse",
    "mae",
    "r2",
    "log_loss",
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "precision",
    "recall",
    "accuracy",
    "roc_auc_macro",
)


def headline_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Return the headline subset of a metrics mapping, in display order."""
    return {k: metrics[k] for k in HEADLINE_METRICS if k in metrics}


def _summary(model: Model) -> dict[str, Any]:
    meta = model.metadata
    hyper = meta.get("hyperparameters", {})
    rows = meta.get("lineage", {}).get("n_rows", {})
    coef = model.coef
    return {
        "task": model.task,
        "target": model.target,
        "classes": ", ".join(str(c) for c in model.classes) if model.classes else "-",
        "alpha": hyper.get("alpha"),
        "l1_ratio": hyper.get("l1_ratio"),
        "threshold": model.threshold,
        "calibration": hyper.get("calibration") or "none",
        "input features": len(model.feature_names),
        "design columns": coef.shape[1],
        "nonzero coefficients": int(np.count_nonzero(np.any(coef != 0, axis=0))),
        "training rows": rows.get("train"),
        "holdout rows": rows.get("holdout"),
        "data fingerprint": str(meta.get("lineage", {}).get("data_fingerprint", ""))[:16],
        "model digest": (model.digest or "")[:16] or "(assigned when saved)",
    }


def model_card_for(model: Model) -> str:
    """Return the model card (Markdown) of a trained model."""
    from glmops.evaluation import render_model_card

    meta = model.metadata
    lineage = meta.get("lineage", {})
    rows = lineage.get("n_rows", {})
    holdout = meta.get("metrics", {}).get("holdout", {})
    headline = headline_metrics(holdout)
    limits = list(_LIMITS)
    limits.extend(meta.get("notes", []))
    return render_model_card(
        model_name=model.name,
        task=model.task,
        intended_use=meta.get("intended_use") or meta.get("description") or "Not stated.",
        data_summary={
            "source": lineage.get("data_source"),
            "fingerprint": lineage.get("data_fingerprint"),
            "rows used": rows.get("used"),
            "training rows": rows.get("train"),
            "holdout rows": rows.get("holdout"),
            "rows without target (left out)": rows.get("dropped_no_target"),
        },
        metrics=headline,
        limitations=limits,
        features=model.feature_names,
        hyperparameters=meta.get("hyperparameters", {}),
        lineage={
            "model digest": model.digest,
            "config hash": lineage.get("config_hash"),
            "git": lineage.get("git"),
            "seed": lineage.get("seed"),
            "packages": lineage.get("packages"),
        },
    )


def report_for(
    model: Model,
    *,
    metrics: dict[str, dict[str, Any]],
    scored: Evaluation | None = None,
    path: dict[str, Any] | None = None,
    model_card: str | None = None,
    created: str = "",
) -> str:
    """Return the self-contained HTML report of a trained (or re-evaluated) model.

    ``metrics`` maps a split name to its metrics (``train``/``holdout`` from
    training, ``data`` from ``glmops evaluate``); ``scored`` is the
    :class:`~glmops.evaluation.evaluate.Evaluation` whose rows the figures
    (calibration, ROC, residuals) draw.
    """
    from glmops.evaluation import CoefData, CVData, PathData, ReportData, render_html_report

    meta = model.metadata
    multinomial = model.task == "multinomial"
    class_names = [str(c) for c in model.classes] if multinomial and model.classes else None
    cv = meta.get("cv")
    cv_data = None
    if cv:
        cv_data = CVData(
            alphas=np.asarray(cv["alphas"], dtype=np.float64),
            l1_ratios=np.asarray(cv["l1_ratios"]),
            mean=np.asarray(cv["mean"], dtype=np.float64),
            std_error=np.asarray(cv["std_error"], dtype=np.float64),
            score_name=cv["score"],
            greater_is_better=bool(cv["greater_is_better"]),
            chosen_alpha=cv["alpha"],
            chosen_l1_ratio=cv["l1_ratio"],
            alpha_1se=cv.get("alpha_1se"),
        )
    path_data = None
    if path is not None:
        path_data = PathData(
            alphas=path["alphas"],
            coefs=path["coefs"],
            feature_names=model.feature_names_out,
            chosen_alpha=meta.get("hyperparameters", {}).get("alpha"),
            class_names=class_names,
        )
    coefs = meta.get("coefficients", {})
    stability = meta.get("stability", {}).get("bootstrap") or meta.get("stability", {}).get(
        "cv_folds"
    )
    coef_data = None
    if coefs:
        values = np.asarray(coefs["original"], dtype=np.float64)
        values = values if multinomial else values[0]
        freq = flips = None
        if stability:
            freq = np.asarray(stability["selection_frequency"], dtype=np.float64)
            flips = np.asarray(stability["sign_flips"], dtype=np.float64)
        coef_data = CoefData(
            feature_names=coefs["names"],
            values=values,
            selection_frequency=freq,
            sign_flips=flips,
            class_names=class_names,
        )
    notes = list(meta.get("notes", []))
    data = ReportData(
        title=f"Model report: {model.name}",
        task=model.task,
        model_name=model.name,
        created=created,
        summary=_summary(model),
        metrics=metrics,
        path=path_data,
        cv=cv_data,
        coefficients=coef_data,
        y_true=None if scored is None else scored.y_true,
        proba=None if scored is None else scored.proba,
        classes=model.classes,
        positive_class=model.classes[1] if model.task == "binary" and model.classes else None,
        threshold=model.threshold if model.threshold is not None else 0.5,
        y_pred=None if scored is None else scored.y_pred,
        sample_weight=None if scored is None else scored.sample_weight,
        model_card_markdown=model_card,
        notes=notes,
    )
    return render_html_report(data)
