"""Model cards: every section, content in plain Markdown."""

from __future__ import annotations

from typing import Any

from glmops.evaluation import render_model_card

SECTIONS = ["Intended use", "Training data", "Model", "Metrics", "Limitations", "Lineage"]


def _card(**overrides: Any) -> str:
    kwargs: dict[str, Any] = {
        "model_name": "churn",
        "task": "binary",
        "intended_use": "Rank accounts by churn risk\nfor the retention team.",
        "data_summary": {"rows": 1200, "period": "2023-01..2023-12", "prevalence": 0.1234567},
        "metrics": {
            "train": {"roc_auc": 0.9, "log_loss": 0.3},
            "holdout": {"roc_auc": 0.85, "confusion_matrix": {"labels": [0, 1]}},
        },
        "limitations": ["Not validated on new markets", "Weekly refresh assumed"],
        "features": ["tenure", "spend"],
        "hyperparameters": {"alpha": 0.01, "l1_ratio": 0.5},
        "lineage": {"data_sha256": "ab12", "git_commit": "deadbeef"},
    }
    kwargs.update(overrides)
    return render_model_card(**kwargs)


def test_sections_in_order():
    card = _card()
    assert card.startswith("# Model card: churn\n")
    positions = [card.index(f"\n## {section}\n") for section in SECTIONS]
    assert positions == sorted(positions)


def test_content_is_listed():
    card = _card()
    assert "Rank accounts by churn risk for the retention team." in card
    assert "- rows: 1200" in card
    assert "- prevalence: 0.1235" in card
    assert "- Task: binary" in card
    assert "- Features: 2" in card
    assert "- alpha: 0.01" in card
    assert "- tenure" in card
    assert "### train" in card
    assert "### holdout" in card
    assert "- roc_auc: 0.85" in card
    assert "  - labels: 0, 1" in card
    assert "- Not validated on new markets" in card
    assert "- git_commit: deadbeef" in card


def test_empty_parts_say_so():
    card = _card(limitations=[], lineage={}, data_summary={}, metrics={}, features=[])
    assert "## Limitations\n\nNone stated." in card
    assert "## Lineage\n\nNot recorded." in card
    assert "## Training data\n\nNot recorded." in card
    assert "## Metrics\n\nNone recorded." in card


def test_flat_metrics_and_long_feature_lists():
    names = [f"f{j}" for j in range(150)]
    card = _card(metrics={"rmse": 1.5}, features=names)
    assert "## Metrics\n\n- rmse: 1.5\n" in card
    assert "- f99\n" in card
    assert "- f100\n" not in card
    assert "- ... and 50 more" in card
    assert "- Features: 150" in card
