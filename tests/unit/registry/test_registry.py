"""Registry operations on a real SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from glmops.errors import (
    AliasConflict,
    ArtifactError,
    ChecksumMismatch,
    InvalidInputError,
    ModelNotFound,
)
from glmops.registry import Registry, parse_ref


def test_register_assigns_consecutive_versions_and_stores_by_digest(registry, artifacts):
    infos = [registry.register("churn", path) for path in artifacts]
    assert [i.version for i in infos] == [1, 2, 3]
    assert len({i.digest for i in infos}) == 3
    for info in infos:
        assert info.artifact_path == registry.store.path_for(info.digest)
        assert (info.artifact_path / "MANIFEST.json").is_file()
        assert info.created_by == "alice" and info.status == "registered"
        assert "roc_auc" in info.metrics and info.params["alpha"] > 0
        assert info.features["inputs"] == ["x", "z", "city"]
    # the same artifact again: a new version, the same stored files
    again = registry.register("churn", artifacts[0])
    assert again.version == 4 and again.digest == infos[0].digest


def test_refs_resolve_everywhere(registry, artifacts):
    for path in artifacts:
        registry.register("churn", path)
    registry.promote("churn", 2, reason="best AUC")
    registry.set_alias("churn", "challenger", 3)
    assert registry.resolve("churn@champion").version == 2
    assert registry.resolve("churn").version == 2  # bare name = champion
    assert registry.resolve("churn@3").aliases == ("challenger",)
    assert registry.resolve("churn@latest").version == 3
    assert parse_ref("churn@canary") == ("churn", "canary")
    model = registry.load("churn@champion")
    assert model.digest == registry.resolve("churn@2").digest
    assert model.predict_proba({"x": 0.1, "z": -1.0, "city": "paris"}).shape == (1, 2)


def test_rollback_walks_back_through_the_audit_log(registry, artifacts):
    for path in artifacts:
        registry.register("churn", path)
    registry.promote("churn", 1)
    registry.promote("churn", 2)
    registry.promote("churn", 3)
    assert registry.rollback("churn", reason="latency regression").version == 2
    assert registry.rollback("churn").version == 1
    with pytest.raises(AliasConflict, match="no previous version"):
        registry.rollback("churn")
    assert registry.resolve("churn@champion").version == 1
    events = registry.history("churn", limit=3)
    assert [e["action"] for e in events] == ["rollback", "rollback", "promote"]
    assert events[1]["before"]["version"] == 3 and events[1]["after"]["version"] == 2
    assert events[1]["reason"] == "latency regression" and events[1]["actor"] == "alice"


def test_every_write_is_audited(registry, artifacts):
    registry.register("churn", artifacts[0])
    registry.register("churn", artifacts[1])
    registry.promote("churn", 1, reason="first")
    registry.set_alias("churn", "challenger", 2)
    registry.set_alias("churn", "canary", 2, weight=0.1)  # live traffic: moved as a promotion
    registry.unset_alias("churn", "canary", reason="done")
    registry.unset_alias("churn", "challenger", reason="done")
    registry.archive("churn", 2, reason="superseded")
    actions = [e["action"] for e in reversed(registry.history("churn"))]
    assert actions == [
        "create_model",
        "register",
        "register",
        "promote",
        "set_alias",
        "promote",
        "unset_alias",
        "unset_alias",
        "archive",
    ]
    challenger = next(e for e in registry.history("churn") if e["action"] == "set_alias")
    assert challenger["after"] == {"version": 2, "weight": None}
    canary = next(
        e for e in registry.history("churn") if e["action"] == "promote" and e["alias"] == "canary"
    )
    assert canary["after"]["version"] == 2 and canary["after"]["weight"] == 0.1


def test_bad_requests_change_nothing(registry, artifacts, tmp_path):
    registry.register("churn", artifacts[0])
    registry.register("churn", artifacts[1])
    registry.promote("churn", 1)
    before = registry.history(limit=1000)
    bad = [
        (ModelNotFound, lambda: registry.resolve("nope@champion")),
        (ModelNotFound, lambda: registry.resolve("churn@7")),
        (ModelNotFound, lambda: registry.resolve("churn@shadow")),
        (ModelNotFound, lambda: registry.promote("churn", 9)),
        (ModelNotFound, lambda: registry.unset_alias("churn", "shadow")),
        (InvalidInputError, lambda: registry.register("9lives", artifacts[0])),
        (InvalidInputError, lambda: registry.set_alias("churn", "Champion!", 1)),
        (InvalidInputError, lambda: registry.set_alias("churn", "latest", 1)),
        (InvalidInputError, lambda: registry.set_alias("churn", "canary", 1, weight=1.5)),
        (AliasConflict, lambda: registry.archive("churn", 1)),  # still champion
        (ArtifactError, lambda: registry.register("churn", tmp_path / "missing")),
    ]
    for error, call in bad:
        with pytest.raises(error):
            call()
    registry.archive("churn", 2)
    with pytest.raises(AliasConflict, match="archived"):
        registry.promote("churn", 2)
    with pytest.raises(AliasConflict, match="already archived"):
        registry.archive("churn", 2)
    after = registry.history(limit=1000)
    assert len(after) == len(before) + 1  # only the archive itself
    assert registry.resolve("churn@champion").version == 1


def test_an_alias_cannot_point_into_another_model(registry, artifacts):
    registry.register("churn", artifacts[0])
    registry.register("fraud", artifacts[1])
    # version numbers are per model: fraud has no version 2
    with pytest.raises(ModelNotFound, match="'fraud' has no version 2"):
        registry.set_alias("fraud", "champion", 2)


def test_tampered_artifact_is_refused_at_load_naming_version_and_file(registry, artifacts):
    info = registry.register("churn", artifacts[0])
    registry.promote("churn", 1)
    model_json = info.artifact_path / "model.json"
    data = bytearray(model_json.read_bytes())
    data[100] ^= 0x01
    model_json.write_bytes(bytes(data))
    fresh = Registry(registry.url, registry.store.root, actor="bob")  # no warm cache
    try:
        with pytest.raises(ChecksumMismatch, match=r"churn@1.*model\.json"):
            fresh.load("churn@champion")
        problems = fresh.verify()
        assert problems and "churn@1" in problems[0] and "model.json" in problems[0]
    finally:
        fresh.close()


def test_gc_removes_only_unreferenced_artifacts(registry, artifacts):
    info = registry.register("churn", artifacts[0])
    digest, path = registry.store.put(artifacts[1])  # stored, never registered (a crash)
    assert registry.gc(dry_run=True) == []  # younger than the grace period: in flight
    assert registry.gc(dry_run=True, min_age_s=0) == [digest]
    assert registry.gc(min_age_s=0) == [digest]
    assert not path.exists() and info.artifact_path.exists()
    assert registry.verify() == []


def test_registry_reopens_existing_database(db_url, tmp_path, artifacts):
    with Registry(db_url, tmp_path / "store", actor="a") as first:
        first.register("churn", artifacts[0])
    with Registry(db_url, tmp_path / "store", actor="b") as second:
        assert second.register("churn", artifacts[1]).version == 2
        assert [m["name"] for m in second.list_models()] == ["churn"]


def test_store_put_is_idempotent_and_leaves_no_temp_dirs(tmp_path, artifacts):
    from glmops.registry.artifacts import ArtifactStore

    store = ArtifactStore(tmp_path / "s")
    d1, p1 = store.put(artifacts[0])
    d2, p2 = store.put(artifacts[0])
    assert (d1, p1) == (d2, p2)
    assert not [p for p in store.root.iterdir() if p.name.startswith(".incoming-")]
    zipped = shutil.make_archive(str(tmp_path / "a"), "zip", artifacts[1])
    d3, _ = store.put(Path(zipped))
    assert store.verify(d3) == [] and d3 != d1
