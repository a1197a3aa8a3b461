"""Issue 14: every alias that takes live traffic passes gates and approval, whatever is called.

Each test names the bypass it closes; each passed on main before the fix
(d655b57), where gates and approval ran only in ``promote(alias="champion")``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmops.errors import AliasConflict, GateFailed, InvalidInputError, PermissionDenied
from glmops.registry import Registry
from glmops.registry import gates as gates_module
from glmops.registry.gates import GateRule

IMPOSSIBLE = [GateRule(metric="roc_auc", min=0.9999)]
LENIENT = [GateRule(metric="roc_auc", max_drop=1.0)]
ROLES = {
    "alice": ["trainer"],
    "bob": ["approver"],
    "carol": ["admin"],
    "eve": ["approver", "breakglass"],
}


@pytest.fixture
def team(db_url: str, tmp_path: Path, artifacts: list[Path]) -> Iterator[Registry]:
    """A multi-user registry (roles, so approval is on) with versions 1-3 by alice."""
    reg = Registry(db_url, tmp_path / "store", actor="alice", roles=ROLES)
    for path in artifacts:
        reg.register("churn", path)
    try:
        yield reg
    finally:
        reg.close()


def test_live_aliases_are_the_champion_and_a_weighted_canary():
    from glmops.registry.registry import takes_live_traffic

    assert takes_live_traffic("champion", None)
    assert takes_live_traffic("canary", 0.01)
    assert not takes_live_traffic("canary", 0.0) and not takes_live_traffic("canary", None)
    assert not takes_live_traffic("shadow", None) and not takes_live_traffic("challenger", 1.0)


def test_setting_the_champion_directly_runs_the_gates(registry, artifacts):
    registry.register("churn", artifacts[0])
    registry.gates["churn"] = IMPOSSIBLE
    with pytest.raises(GateFailed, match=r"roc_auc >= 0\.9999"):
        registry.set_alias("churn", "champion", 1)
    assert registry.list_models()[0]["aliases"] == {}


def test_a_trainer_cannot_set_the_champion_or_a_weighted_canary(team):
    with pytest.raises(PermissionDenied, match="'alice' may not promote"):
        team.set_alias("churn", "champion", 1)
    with pytest.raises(PermissionDenied, match="'alice' may not promote"):
        team.set_alias("churn", "canary", 2, weight=1.0)
    team.set_alias("churn", "canary", 2, weight=0.0)  # no live traffic: a trainer's move
    team.set_alias("churn", "shadow", 2)
    team.approve("churn", 1, actor="bob")
    team.promote("churn", 1, actor="bob")
    with pytest.raises(PermissionDenied, match="'alice' may not promote"):
        team.unset_alias("churn", "champion")  # takes the live answer away
    team.unset_alias("churn", "shadow")
    team.approve("churn", 2, actor="bob")
    team.set_alias("churn", "canary", 2, weight=0.3, actor="bob")
    with pytest.raises(PermissionDenied, match="'alice' may not promote"):
        team.set_alias("churn", "canary", 3, weight=0.0)  # moves live traffic too
    assert next(t for t in team.alias_targets() if t.alias == "canary").weight == 0.3


def test_a_canary_at_full_weight_needs_an_approval(team):
    team.approve("churn", 1, actor="bob")
    team.promote("churn", 1, actor="bob")
    for call in (
        lambda: team.set_alias("churn", "canary", 2, weight=1.0, actor="bob"),
        lambda: team.promote("churn", 2, alias="canary", weight=1.0, actor="bob"),
    ):
        with pytest.raises(GateFailed, match="needs an approval"):
            call()
    assert "canary" not in team.list_models()[0]["aliases"]
    team.approve("churn", 2, actor="bob")
    info = team.set_alias("churn", "canary", 2, weight=0.25, actor="bob")
    assert info.aliases == ("canary",)
    event = team.history("churn", limit=1)[0]
    assert event["action"] == "promote" and event["after"]["weight"] == 0.25
    assert event["after"]["live"] is True and event["after"]["approved_by"] == "bob"


def test_approval_is_on_by_default_once_roles_are_configured(db_url, tmp_path, artifacts):
    with Registry(db_url, tmp_path / "solo", actor="me") as solo:
        assert solo.require_approval is False  # single-user: the demo's flow
    with Registry(db_url, tmp_path / "s", actor="bob", roles=ROLES) as reg:
        assert reg.require_approval is True
        reg.register("churn", artifacts[0], actor="alice")
        with pytest.raises(GateFailed, match="not approved"):
            reg.promote("churn", 1)
    with Registry(db_url, tmp_path / "s", actor="bob", roles=ROLES, require_approval=False) as off:
        assert off.promote("churn", 1).aliases == ("champion",)  # still configurable


def test_force_never_replaces_an_approval(team):
    team.gates["churn"] = IMPOSSIBLE
    with pytest.raises(GateFailed, match="never a missing approval"):
        team.promote("churn", 1, force=True, reason="ship it", actor="eve")
    assert team.list_models()[0]["aliases"] == {}


def test_force_needs_the_breakglass_role_not_admin(team):
    team.gates["churn"] = IMPOSSIBLE
    team.approve("churn", 1, actor="bob")
    for who in ("carol", "bob"):  # admin and approver alike
        with pytest.raises(PermissionDenied, match=f"'{who}' may not force"):
            team.promote("churn", 1, force=True, reason="hotfix", actor=who)


def test_a_forced_promotion_is_audited_with_what_it_overrode(team, caplog):
    team.gates["churn"] = IMPOSSIBLE
    team.approve("churn", 1, actor="bob")
    with pytest.raises(GateFailed, match="1 rule"):
        team.promote("churn", 1, actor="eve")
    with caplog.at_level(logging.WARNING, logger="glmops.registry.registry"):
        team.promote("churn", 1, force=True, reason="data fix verified offline", actor="eve")
    event = team.history("churn", limit=1)[0]
    assert event["action"] == "promote" and event["actor"] == "eve"
    assert event["after"]["forced"] is True
    assert event["after"]["overridden"] == ["roc_auc >= 0.9999"]
    assert event["reason"] == "data fix verified offline"
    assert "eve forced churn@1" in caplog.text


def test_rollback_restores_the_earlier_weight_too(team):
    """A canary rolled back from a gated 0.5 to an ungated weight-0 version stays at 0."""
    team.approve("churn", 1, actor="bob")
    team.promote("churn", 1, actor="bob")
    team.set_alias("churn", "canary", 3, weight=0.0)  # alice: unapproved, no traffic
    team.approve("churn", 2, actor="bob")
    team.promote("churn", 2, alias="canary", weight=0.5, actor="bob")
    info = team.rollback("churn", alias="canary", actor="bob")
    assert info.version == 3
    target = next(t for t in team.alias_targets() if t.alias == "canary")
    assert target.version == 3 and target.weight == 0.0  # main kept 0.5: unapproved, live


def test_rollback_of_the_champion_skips_gates_and_says_so(team):
    for version in (1, 2):
        team.approve("churn", version, actor="bob")
        team.promote("churn", version, actor="bob")
    team.gates["churn"] = IMPOSSIBLE  # version 1 would fail today; it passed when promoted
    assert team.rollback("churn", reason="regression", actor="bob").version == 1
    event = team.history("churn", limit=1)[0]
    assert event["action"] == "rollback" and event["after"]["gates_rerun"] is False


def test_the_champion_takes_no_weight(registry, artifacts):
    registry.register("churn", artifacts[0])
    with pytest.raises(InvalidInputError, match="weight is for a canary") as info:
        registry.promote("churn", 1, weight=0.5)
    assert info.value.field == "weight"


def test_a_champion_that_moved_while_the_gates_ran_refuses_the_promotion(
    registry, artifacts, monkeypatch
):
    for path in artifacts:
        registry.register("churn", path)
    registry.promote("churn", 1)
    real = gates_module.evaluate_gates
    other = Registry(registry.url, registry.store.root, actor="bob")

    def racing(*args, **kwargs):
        monkeypatch.setattr(gates_module, "evaluate_gates", real)
        other.promote("churn", 2, gates=[])  # lands between evaluation and write
        return real(*args, **kwargs)

    monkeypatch.setattr(gates_module, "evaluate_gates", racing)
    try:
        with pytest.raises(AliasConflict, match="moved from 1 to 2 while the gates ran"):
            registry.promote("churn", 3, gates=LENIENT)
    finally:
        other.close()
    assert registry.resolve("churn@champion").version == 2


def test_concurrent_promote_and_rollback_keep_alias_and_audit_log_in_step(
    db_url, tmp_path, artifacts
):
    """Four writers promote (gated) and roll back at once: the log replays to the alias."""
    with Registry(db_url, tmp_path / "store", actor="seed", gates={"churn": LENIENT}) as seed:
        for path in artifacts:
            seed.register("churn", path)
        seed.promote("churn", 1)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(k: int) -> None:
        with Registry(db_url, tmp_path / "store", actor=f"w{k}", gates={"churn": LENIENT}) as reg:
            start.wait()
            for i in range(12):
                try:
                    if (i + k) % 3:
                        reg.promote("churn", 1 + (i + k) % 3, reason="race")
                    else:
                        reg.rollback("churn", reason="race")
                except AliasConflict:
                    pass  # nothing to roll back to, or the champion moved mid-gates
                except BaseException as exc:
                    errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    with Registry(db_url, tmp_path / "store", actor="checker") as reg:
        champion = reg.resolve("churn@champion").version
        moves = [e for e in reversed(reg.history("churn", limit=1000)) if e["alias"]]
        assert moves[0]["before"] == {} and moves[-1]["after"]["version"] == champion
        for prev, cur in itertools.pairwise(moves):
            assert cur["before"]["version"] == prev["after"]["version"], cur
        assert {e["action"] for e in moves} <= {"promote", "rollback"}
