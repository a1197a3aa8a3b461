"""``make demo`` step 2: the registry — gates, challenger, diff, promotion, rollback, audit.

The credit model from step 1 is registered and promoted to champion through
the promotion gates; a second version (log1p on the skewed money columns,
isotonic calibration) is trained from the same config file, registered as
challenger, compared, promoted through the same gates, rolled back, and the
audit log shows every move with its actor and reason.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RegistryReport", "run_registry_demo"]

GATES: list[dict[str, Any]] = [
    {"metric": "roc_auc", "max_drop": 0.01},
    {"metric": "log_loss", "max_increase_rel": 0.02},
    {"metric": "ece", "max": 0.05},
    {"rule": "no_new_features"},
]


@dataclass(frozen=True)
class RegistryReport:
    """What step 2 did."""

    first: Any
    second: Any
    gate_table: str
    diff: dict[str, Any]
    after_promote: int
    blocked: str
    after_rollback: int
    history: list[dict[str, Any]]
    db_url: str


def run_registry_demo(output_dir: Path, artifact: Path) -> RegistryReport:
    """Register ``artifact`` and a retrained variant; promote, compare, roll back."""
    from glmops import train
    from glmops.config import load_config
    from glmops.errors import GateFailed
    from glmops.registry import Registry
    from glmops.registry.gates import GateRule, evaluate_gates, format_gate_table

    db = output_dir / "glmops.db"
    root = output_dir / "glmops-artifacts"
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    url = f"sqlite:///{db}"
    gates = {"credit": [GateRule(**g) for g in GATES]}
    with Registry(url, root, actor="demo-trainer", gates=gates) as registry:
        first = registry.register("credit", artifact)
        registry.promote("credit", first.version, reason="first model, gates on absolute rules")

        # version 2: same data and split, log1p on the skewed money columns, isotonic map
        config_path = output_dir / "glmops.yaml"
        text = config_path.read_text(encoding="utf-8")
        for column in ("Income", "Assets", "Debt"):
            text = text.replace(f"      {column}: {{}}", f"      {column}: {{log1p: true}}")
        text = text.replace("calibration: platt", "calibration: isotonic")
        v2_config = output_dir / "glmops-v2.yaml"
        v2_config.write_text(text, encoding="utf-8")
        result = train(
            load_config(v2_config), output_dir=output_dir / "artifacts-v2", write_report=False
        )
        assert result.artifact_path is not None
        second = registry.register("credit", result.artifact_path)
        registry.set_alias("credit", "challenger", second.version, reason="log1p + isotonic")
        champion = registry.resolve("credit@champion")
        table = format_gate_table(
            evaluate_gates(
                gates["credit"],
                candidate=second.metrics,
                champion=champion.metrics,
                candidate_features=second.features.get("inputs", []),
                champion_features=champion.features.get("inputs", []),
            )
        )
        diff = registry.diff(first.ref, second.ref)
        blocked = ""
        try:
            promoted = registry.promote("credit", second.version, reason="challenger passed")
        except GateFailed as exc:  # the gates said no: show it, then override on the record
            blocked = str(exc).splitlines()[0]
            promoted = registry.promote(
                "credit",
                second.version,
                force=True,
                reason="demo: promoted over the gates to show an audited override",
            )
        rolled = registry.rollback("credit", reason="demo: undo in one command")
        history = registry.history("credit", limit=20)
    return RegistryReport(
        first=first,
        second=second,
        gate_table=table,
        diff=diff,
        after_promote=promoted.version,
        blocked=blocked,
        after_rollback=rolled.version,
        history=history,
        db_url=url,
    )
