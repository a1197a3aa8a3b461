"""Promotion gates: rules a candidate must pass against the current champion.

Each rule compares one metric of the candidate with the champion's (both
measured on the same evaluation data when the caller provides it), or
bounds it absolutely, or checks the feature set::

    gates:
      - {metric: roc_auc, max_drop: 0.002}          # candidate >= champion - 0.002
      - {metric: log_loss, max_increase_rel: 0.01}  # candidate <= champion * 1.01
      - {metric: ece, max: 0.02}                    # candidate <= 0.02
      - {rule: no_new_features}                     # unless the version is approved

A failing rule blocks the promotion with the whole table of rules and values
(:class:`~glmops.errors.GateFailed`). ``force`` (the ``breakglass`` role, with a
reason) overrides failed rules, audited as forced; it never overrides the
approval check (:func:`approval_result`), which stands for a second person.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = [
    "APPROVAL_RULE",
    "GateResult",
    "GateRule",
    "approval_result",
    "evaluate_gates",
    "format_gate_table",
]

APPROVAL_RULE = "approved by an approver (not its creator)"


class GateRule(BaseModel):
    """One promotion rule (exactly one metric bound, or a named rule)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str | None = None
    max_drop: float | None = None
    max_increase: float | None = None
    max_drop_rel: float | None = None
    max_increase_rel: float | None = None
    min: float | None = None
    max: float | None = None
    rule: Literal["no_new_features"] | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> GateRule:
        bounds = [
            b
            for b in (
                self.max_drop,
                self.max_increase,
                self.max_drop_rel,
                self.max_increase_rel,
                self.min,
                self.max,
            )
            if b is not None
        ]
        if self.rule is not None:
            if self.metric is not None or bounds:
                raise ValueError("a named rule takes no metric or bound")
            return self
        if self.metric is None or len(bounds) != 1:
            raise ValueError(
                "a gate needs a metric and exactly one of max_drop, max_increase, "
                "max_drop_rel, max_increase_rel, min, max"
            )
        return self

    def describe(self) -> str:
        """Return the rule in words."""
        if self.rule == "no_new_features":
            return "no new input features (unless approved)"
        m = self.metric
        if self.max_drop is not None:
            return f"{m} >= champion - {self.max_drop:g}"
        if self.max_increase is not None:
            return f"{m} <= champion + {self.max_increase:g}"
        if self.max_drop_rel is not None:
            return f"{m} >= champion x (1 - {self.max_drop_rel:g})"
        if self.max_increase_rel is not None:
            return f"{m} <= champion x (1 + {self.max_increase_rel:g})"
        if self.min is not None:
            return f"{m} >= {self.min:g}"
        return f"{m} <= {self.max:g}"


@dataclass(frozen=True)
class GateResult:
    """The outcome of one rule."""

    rule: str
    candidate: Any
    champion: Any
    limit: Any
    passed: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready values."""
        return {
            "rule": self.rule,
            "candidate": self.candidate,
            "champion": self.champion,
            "limit": self.limit,
            "passed": self.passed,
            "note": self.note,
        }


def _number(metrics: Mapping[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def evaluate_gates(
    rules: Sequence[GateRule],
    *,
    candidate: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    candidate_features: Sequence[str] = (),
    champion_features: Sequence[str] = (),
    approved: bool = False,
) -> list[GateResult]:
    """Return one result per rule; a missing metric fails its rule (never passes silently).

    Without a champion, relative rules pass (there is nothing to compare
    with) and absolute bounds still apply.
    """
    results = []
    for rule in rules:
        text = rule.describe()
        if rule.rule == "no_new_features":
            new = sorted(set(candidate_features) - set(champion_features)) if champion else []
            ok = not new or approved
            note = f"new: {', '.join(new)}" if new else ""
            if new and approved:
                note += " (approved)"
            results.append(GateResult(text, len(candidate_features), None, None, ok, note))
            continue
        assert rule.metric is not None
        cand = _number(candidate, rule.metric)
        champ = _number(champion, rule.metric) if champion is not None else None
        if cand is None:
            results.append(GateResult(text, None, champ, None, False, "metric missing"))
            continue
        if rule.min is not None:
            results.append(GateResult(text, cand, champ, rule.min, cand >= rule.min))
            continue
        if rule.max is not None:
            results.append(GateResult(text, cand, champ, rule.max, cand <= rule.max))
            continue
        if champion is None:
            results.append(GateResult(text, cand, None, None, True, "no champion yet"))
            continue
        if champ is None:
            results.append(GateResult(text, cand, None, None, False, "champion lacks metric"))
            continue
        if rule.max_drop is not None:
            limit = champ - rule.max_drop
            results.append(GateResult(text, cand, champ, limit, cand >= limit))
        elif rule.max_increase is not None:
            limit = champ + rule.max_increase
            results.append(GateResult(text, cand, champ, limit, cand <= limit))
        elif rule.max_drop_rel is not None:
            limit = champ * (1 - rule.max_drop_rel)
            results.append(GateResult(text, cand, champ, limit, cand >= limit))
        else:
            assert rule.max_increase_rel is not None
            limit = champ * (1 + rule.max_increase_rel)
            results.append(GateResult(text, cand, champ, limit, cand <= limit))
    return results


def approval_result(approved_by: str | None, created_by: str) -> GateResult:
    """Return the approval check of a version: approved, and not by whoever registered it.

    The registry refuses self-approval when it is recorded; checking again
    here keeps a row written any other way from counting as four eyes.
    """
    ok = approved_by is not None and approved_by != created_by
    note = "" if ok else ("not approved" if approved_by is None else "approved by its creator")
    return GateResult(APPROVAL_RULE, approved_by, None, None, ok, note)


def format_gate_table(results: Sequence[GateResult]) -> str:
    """Return the results as an aligned text table (for errors and the CLI)."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.6g}"
        return str(value)

    rows = [("rule", "candidate", "champion", "limit", "result")]
    for r in results:
        verdict = "pass" if r.passed else "FAIL"
        rows.append(
            (
                r.rule,
                cell(r.candidate),
                cell(r.champion),
                cell(r.limit),
                f"{verdict} {r.note}".strip(),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )
