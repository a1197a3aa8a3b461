"""Model cards: a short Markdown record of what a model is for and how it did.

Follows the sections of Mitchell et al. (2019), trimmed to what glmops knows
at training time. The text is plain Markdown (headings, lists, paragraphs)
so :mod:`glmops.evaluation.report` can render it without a Markdown library.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_model_card"]

logger = logging.getLogger(__name__)

# longer feature lists are cut, naming how many more there are
_MAX_FEATURES_LISTED = 100


def _inline(value: Any) -> str:
    """Return ``value`` as one line of text (floats to 4 significant digits)."""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4g}"
    return " ".join(str(value).split())


def _bullets(items: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in items.items():
        if isinstance(value, Mapping):
            lines.append(f"- {_inline(key)}:")
            lines.extend("  " + line for line in _bullets(value))
        elif isinstance(value, list | tuple):
            if all(not isinstance(v, Mapping | list | tuple) for v in value):
                lines.append(f"- {_inline(key)}: {', '.join(_inline(v) for v in value)}")
        else:
            lines.append(f"- {_inline(key)}: {_inline(value)}")
    return lines


def _metric_lines(metrics: Mapping[str, Any]) -> list[str]:
    """Return one sub-section per split (dict of dicts), else one list."""
    if metrics and all(isinstance(v, Mapping) for v in metrics.values()):
        lines: list[str] = []
        for split, values in metrics.items():
            lines += [f"### {_inline(split)}", ""]
            lines += _bullets(values) or ["None recorded."]
            lines.append("")
        return lines[:-1]
    return _bullets(metrics) or ["None recorded."]


def render_model_card(
    *,
    model_name: str,
    task: str,
    intended_use: str,
    data_summary: Mapping[str, Any],
    metrics: Mapping[str, Any],
    limitations: Sequence[str],
    features: Sequence[str],
    hyperparameters: Mapping[str, Any],
    lineage: Mapping[str, Any],
) -> str:
    """Return a model card in Markdown.

    Parameters
    ----------
    model_name : str
        Name shown in the title.
    task : str
        "regression", "binary" or "multinomial".
    intended_use : str
        What the model is for and who uses it; free text, one paragraph.
    data_summary : mapping
        Facts about the training data (rows, period, target share...).
    metrics : mapping
        Either ``{split: {metric: value}}`` (one sub-section per split) or
        ``{metric: value}``; nested dicts become nested lists.
    limitations : sequence of str
        Known limitations, one per bullet.
    features : sequence of str
        The model's input features (the first 100 are listed).
    hyperparameters : mapping
        Fitted hyperparameters (alpha, l1_ratio...).
    lineage : mapping
        Where the model came from (data hash, code version, run id...).

    Returns
    -------
    str
        The Markdown text, with the sections "Intended use", "Training
        data", "Model", "Metrics", "Limitations" and "Lineage".

    References
    ----------
    Mitchell, M. et al. (2019). Model cards for model reporting. FAT* '19,
    220-229.
    """
    listed = [f"- {_inline(f)}" for f in features[:_MAX_FEATURES_LISTED]]
    if len(features) > _MAX_FEATURES_LISTED:
        listed.append(f"- ... and {len(features) - _MAX_FEATURES_LISTED} more")
    lines = [
        f"# Model card: {_inline(model_name)}",
        "",
        "## Intended use",
        "",
        _inline(intended_use) or "Not stated.",
        "",
        "## Training data",
        "",
        *(_bullets(data_summary) or ["Not recorded."]),
        "",
        "## Model",
        "",
        f"- Task: {_inline(task)}",
        f"- Features: {len(features)}",
        *_bullets(hyperparameters),
        "",
        "### Features",
        "",
        *(listed or ["None."]),
        "",
        "## Metrics",
        "",
        *_metric_lines(metrics),
        "",
        "## Limitations",
        "",
        *([f"- {_inline(item)}" for item in limitations] or ["None stated."]),
        "",
        "## Lineage",
        "",
        *(_bullets(lineage) or ["Not recorded."]),
        "",
    ]
    return "\n".join(lines)
