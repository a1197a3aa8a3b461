"""``make demo`` step 1: from a real table to a trusted, saved model.

The credit-scoring table under ``data/`` (4,454 applications, categorical
columns and missing values) goes through exactly what a user runs:
``glmops init`` writes ``glmops.yaml``, ``glmops train`` validates, splits,
fits the preprocessing, cross-validates alpha x l1_ratio, evaluates on the
holdout and writes the artifact with its HTML report. Then the saved model
is loaded (every checksum verified) and scores new applications, one record
at a time with explanations, and a batch file is checked against the
feature manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glmops.errors import InvalidInputError

__all__ = ["DATA", "PipelineReport", "run_pipeline_demo"]

# the credit-scoring table of the repository (MIT, see data/README.md)
DATA = Path(__file__).resolve().parents[2] / "data" / "credit_data.csv"

# three new applications: typical, risky, and one with values the training data never had
NEW_APPLICATIONS: list[dict[str, Any]] = [
    {
        "Seniority": 12,
        "Home": "owner",
        "Time": 36,
        "Age": 45,
        "Marital": "married",
        "Records": "no",
        "Job": "fixed",
        "Expenses": 60,
        "Income": 180.0,
        "Assets": 8000.0,
        "Debt": 0.0,
        "Amount": 800,
        "Price": 1500,
    },
    {
        "Seniority": 0,
        "Home": "rent",
        "Time": 60,
        "Age": 22,
        "Marital": "single",
        "Records": "yes",
        "Job": "partime",
        "Expenses": 75,
        "Income": None,
        "Assets": 0.0,
        "Debt": 0.0,
        "Amount": 1500,
        "Price": 1600,
    },
    {
        "Seniority": 3,
        "Home": "houseboat",
        "Time": 48,
        "Age": 95,
        "Marital": "single",
        "Records": "no",
        "Job": "freelance",
        "Expenses": 50,
        "Income": 120.0,
        "Assets": 2000.0,
        "Debt": 500.0,
        "Amount": 1000,
        "Price": 1200,
    },
]


@dataclass(frozen=True)
class PipelineReport:
    """What step 1 produced."""

    config_path: Path
    artifact_path: Path
    report_path: Path
    digest: str
    holdout: dict[str, float]
    scored: list[dict[str, Any]]
    refused: str
    violations: list[dict[str, Any]]


def _broken_batch(path: Path) -> Path:
    """Write a few applications with the mistakes real feeds make."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from glmops.data.readers import read_table

    table = read_table(DATA).slice(0, 50).drop_columns(["Status"])
    rows = table.to_pylist()
    rows[3]["Job"] = "astronaut"  # unseen category
    rows[7]["Amount"] = 250_000  # far outside the training range
    rows[9]["Age"] = "forty"  # text in a numeric column
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    columns["Age"] = [str(v) for v in columns["Age"]]
    columns["Channel"] = ["web"] * len(rows)  # a column the model does not know
    pacsv.write_csv(pa.table(columns), path)
    return path


def run_pipeline_demo(output_dir: Path, *, quiet: bool = False) -> PipelineReport:
    """Run init -> train -> load -> score -> validate into ``output_dir``."""
    from glmops import load_model
    from glmops.cli import app
    from glmops.training.scaffold import starter_config

    output_dir.mkdir(parents=True, exist_ok=True)
    config_path = output_dir / "glmops.yaml"
    text = starter_config(DATA, "Status", name="credit", config_dir=output_dir)
    # ask for bootstrap stability of the coefficients too (20 refits)
    text = text.replace("bootstrap: 0 ", "bootstrap: 20")
    config_path.write_text(text, encoding="utf-8")
    args = ["train", "--config", str(config_path), "--output-dir", str(output_dir / "artifacts")]
    if quiet:
        args.append("--json")
    app(args, standalone_mode=False)

    artifact = output_dir / "artifacts" / "credit"
    model = load_model(artifact)
    proba = model.predict_proba(NEW_APPLICATIONS)[:, 1]
    labels = model.predict(NEW_APPLICATIONS)
    scored = []
    for i, record in enumerate(NEW_APPLICATIONS):
        explained = model.explain(record)
        contrib = explained["contributions"][0]
        top = np.argsort(-np.abs(contrib))[:3]
        _, notes = model.preprocessor.transform_record(record)
        scored.append(
            {
                "p_bad": float(proba[i]),
                "label": labels[i],
                "top": [(model.feature_names[k], float(contrib[k])) for k in top],
                "notes": [f"{n.column}: {n.kind.replace('_', ' ')} ({n.example!r})" for n in notes],
            }
        )
    refused = ""
    try:
        model.predict_proba({**NEW_APPLICATIONS[0], "Income": "a lot"})
    except InvalidInputError as exc:
        refused = str(exc)
    batch = _broken_batch(output_dir / "new_applications.csv")
    from glmops.data.readers import read_table

    violations = [v.to_dict() for v in model.validate(read_table(batch))]
    holdout = model.metadata["metrics"]["holdout"]
    return PipelineReport(
        config_path=config_path,
        artifact_path=artifact,
        report_path=artifact / "report.html",
        digest=model.digest or "",
        holdout={
            k: float(holdout[k])
            for k in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "precision", "recall")
        },
        scored=scored,
        refused=refused,
        violations=violations,
    )
