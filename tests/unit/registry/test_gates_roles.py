"""Promotion gates, approvals, roles and diff."""

from __future__ import annotations

import pytest

from glmops.errors import AliasConflict, GateFailed, InvalidInputError, PermissionDenied
from glmops.registry import Registry
from glmops.registry.gates import GateRule, evaluate_gates


def test_gate_rules_compare_with_the_champion():
    rules = [
        GateRule(metric="roc_auc", max_drop=0.002),
        GateRule(metric="log_loss", max_increase_rel=0.01),
        GateRule(metric="ece", max=0.02),
        GateRule(rule="no_new_features"),
    ]
    champion = {"roc_auc": 0.90, "log_loss": 0.40, "ece": 0.01}
    ok = evaluate_gates(
        rules,
        candidate={"roc_auc": 0.899, "log_loss": 0.403, "ece": 0.015},
        champion=champion,
        candidate_features=["a", "b"],
        champion_features=["a", "b"],
    )
    assert all(r.passed for r in ok)
    bad = evaluate_gates(
        rules,
        candidate={"roc_auc": 0.895, "log_loss": 0.41, "ece": 0.03},
        champion=champion,
        candidate_features=["a", "b", "c"],
        champion_features=["a", "b"],
    )
    assert [r.passed for r in bad] == [False, False, False, False]
    assert "new: c" in bad[3].note
    missing = evaluate_gates(rules[:1], candidate={}, champion=champion)
    assert not missing[0].passed and missing[0].note == "metric missing"
    first = evaluate_gates(rules[:1], candidate={"roc_auc": 0.5}, champion=None)
    assert first[0].passed  # nothing to compare with yet


def test_gate_rule_needs_exactly_one_bound():
    with pytest.raises(ValueError, match="exactly one"):
        GateRule(metric="roc_auc", max_drop=0.1, min=0.5)
    with pytest.raises(ValueError, match="exactly one"):
        GateRule(metric="roc_auc")


def test_failing_gates_block_promotion_and_force_is_audited(registry, artifacts):
    for path in artifacts:
        registry.register("churn", path)
    registry.promote("churn", 1)
    strict = [GateRule(metric="roc_auc", min=0.999)]
    with pytest.raises(GateFailed, match=r"roc_auc >= 0\.999") as info:
        registry.promote("churn", 2, gates=strict)
    assert info.value.results[0]["passed"] is False
    assert registry.resolve("churn@champion").version == 1  # nothing changed
    with pytest.raises(InvalidInputError, match="reason"):
        registry.promote("churn", 2, gates=strict, force=True)
    registry.promote("churn", 2, gates=strict, force=True, reason="hotfix for data bug")
    event = registry.history("churn", limit=1)[0]
    assert event["action"] == "promote" and event["after"]["forced"] is True
    assert event["reason"] == "hotfix for data bug"
    assert event["after"]["gates"][0]["passed"] is False


def test_gates_on_the_same_evaluation_data(registry, artifacts, tmp_path):
    from tests.unit.registry.conftest import _table

    from glmops.evaluation.evaluate import evaluate

    for path in artifacts:
        registry.register("churn", path)
    registry.promote("churn", 1)
    data = _table(seed=99, n=400)
    lenient = [GateRule(metric="roc_auc", max_drop=1.0)]
    info = registry.promote("churn", 2, gates=lenient, evaluation_data=data)
    assert info.version == 2
    event = registry.history("churn", limit=1)[0]
    assert event["after"]["gates_source"] == "the evaluation data"
    scored = evaluate(registry.load("churn@2"), data)  # the gate scores through evaluate()
    assert event["after"]["gates"][0]["candidate"] == scored.metrics["roc_auc"]


def test_approval_needs_a_second_person(db_url, tmp_path, artifacts):
    roles = {"alice": ["trainer"], "bob": ["approver"], "carol": ["admin"], "dave": ["reader"]}
    reg = Registry(db_url, tmp_path / "s", actor="alice", roles=roles, require_approval=True)
    try:
        reg.register("churn", artifacts[0])
        with pytest.raises(PermissionDenied, match="'alice' may not promote"):
            reg.promote("churn", 1)
        with pytest.raises(GateFailed, match="not approved"):
            reg.promote("churn", 1, actor="bob")
        with pytest.raises(PermissionDenied):
            reg.approve("churn", 1)  # alice is a trainer
        with pytest.raises(PermissionDenied):
            reg.register("churn", artifacts[1], actor="dave")
        reg.register("churn", artifacts[1], actor="carol")
        with pytest.raises(AliasConflict, match="second person"):
            reg.approve("churn", 2, actor="carol")  # carol registered version 2
        assert reg.approve("churn", 1, actor="bob").approved_by == "bob"
        assert reg.promote("churn", 1, actor="bob").aliases == ("champion",)
        with pytest.raises(PermissionDenied, match="archive"):
            reg.archive("churn", 2, actor="bob")
        assert reg.archive("churn", 2, actor="carol").status == "archived"
        actors = {e["actor"] for e in reg.history("churn")}
        assert actors == {"alice", "bob", "carol"}
    finally:
        reg.close()


def test_diff_shows_what_changed(registry, artifacts):
    registry.register("churn", artifacts[0])
    registry.register("churn", artifacts[2])
    diff = registry.diff("churn@1", "churn@2")
    assert diff["a"]["ref"] == "churn@1" and diff["b"]["ref"] == "churn@2"
    assert "alpha" in diff["params"] or diff["params"] == {}
    assert diff["features"] == {"added": [], "removed": []}
    assert diff["coefficients"] and {"name", "a", "b", "change"} <= set(diff["coefficients"][0])
    changes = [abs(c["change"]) for c in diff["coefficients"]]
    assert changes == sorted(changes, reverse=True)
