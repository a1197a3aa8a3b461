"""Build a model's HTML report and model card from what training recorded.

:mod:`glmops.evaluation` draws plots and tables from plain arrays; this
module knows where those arrays live in a trained :class:`~glmops.model.Model`
(its metadata) and in a training run, and assembles them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glmops._typing import FloatArray
from glmops.model import Model

__all__ = [
    "HEADLINE_METRICS",
    "evaluate_model",
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
    evaluation: dict[str, Any],
    path: dict[str, Any] | None = None,
    estimator: Any = None,
    fold_coefs: FloatArray | None = None,
    model_card: str | None = None,
    created: str = "",
) -> str:
    """Return the self-contained HTML report of a trained (or re-evaluated) model.

    ``evaluation`` holds ``metrics`` ({split: metrics}) and ``holdout``
    (``y_true`` and ``proba`` or ``y_pred``, ``sample_weight``), as produced
    by training or ``glmops evaluate``.
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
    holdout = evaluation.get("holdout", {})
    notes = list(meta.get("notes", []))
    data = ReportData(
        title=f"Model report: {model.name}",
        task=model.task,
        model_name=model.name,
        created=created,
        summary=_summary(model),
        metrics=evaluation.get("metrics", {}),
        path=path_data,
        cv=cv_data,
        coefficients=coef_data,
        y_true=holdout.get("y_true"),
        proba=holdout.get("proba"),
        classes=model.classes,
        positive_class=model.classes[1] if model.task == "binary" and model.classes else None,
        threshold=model.threshold if model.threshold is not None else 0.5,
        y_pred=holdout.get("y_pred"),
        sample_weight=holdout.get("sample_weight"),
        model_card_markdown=model_card,
        notes=notes,
    )
    return render_html_report(data)


def evaluate_model(model: Model, data: Any) -> dict[str, Any]:
    """Score ``data`` (which must hold the target column) and return its metrics.

    The rows go through the model's own pipeline, as in serving. Returns
    ``{"metrics": {"data": ...}, "holdout": {...}, "violations": [...]}``
    in the shape :func:`report_for` takes.
    """
    import pyarrow as pa

    from glmops.data.readers import read_table
    from glmops.errors import InvalidInputError
    from glmops.evaluation import classification_metrics, regression_metrics

    table = read_table(data)
    if model.target not in table.column_names:
        raise InvalidInputError(
            f"The evaluation data has no target column {model.target!r}.",
            field=model.target,
            expected="the model's target column",
            got=table.column_names,
        )
    target = table.column(model.target)
    keep = pa.compute.is_valid(target)
    table = table.filter(keep)
    violations = [v.to_dict() for v in model.validate(table.drop_columns([model.target]))]
    if model.task == "regression":
        y = np.asarray(table.column(model.target).to_numpy(zero_copy_only=False), dtype=float)
        pred = model.predict(table)
        metrics = regression_metrics(y, pred)
        holdout: dict[str, Any] = {"y_true": y, "y_pred": pred}
    else:
        assert model.classes is not None
        labels = table.column(model.target).to_pylist()
        by_text = {str(c): c for c in model.classes}
        unknown = sorted({str(v) for v in labels} - set(by_text))
        if unknown:
            raise InvalidInputError(
                f"The evaluation target has classes the model does not know: {unknown[:10]}.",
                field=model.target,
                expected=f"one of {list(by_text)}",
                got=unknown[:10],
            )
        y = np.asarray([by_text[str(v)] for v in labels], dtype=object)
        proba = model.predict_proba(table)
        metrics = classification_metrics(
            y,
            proba,
            model.classes,
            threshold=model.threshold if model.threshold is not None else 0.5,
            positive_class=model.classes[1] if model.task == "binary" else None,
        )
        holdout = {"y_true": y, "proba": proba}
    return {"metrics": {"data": metrics}, "holdout": holdout, "violations": violations}
