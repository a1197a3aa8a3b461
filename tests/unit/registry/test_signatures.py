"""A registry that requires signatures registers only what a trusted key signed."""

from __future__ import annotations

import json
import shutil

import pytest

from glmops._signing import Signer, generate_ed25519
from glmops.artifact import read_artifact, sign_artifact, write_artifact
from glmops.errors import RegistryError, SignatureError
from glmops.registry import Registry

PRIVATE, PUBLIC = generate_ed25519()


@pytest.fixture
def signed(artifacts, tmp_path):
    path = tmp_path / "signed"
    shutil.copytree(artifacts[0], path)
    sign_artifact(path, Signer.parse(PRIVATE))
    return path


def _registry(db_url, tmp_path, **kwargs):
    return Registry(db_url, tmp_path / "store", actor="alice", **kwargs)


def test_unsigned_artifacts_are_refused_and_nothing_is_stored(db_url, tmp_path, artifacts):
    with _registry(db_url, tmp_path, require_signature=True, trusted_keys=[PUBLIC]) as reg:
        with pytest.raises(SignatureError, match="not signed"):
            reg.register("churn", artifacts[0])
        assert reg.list_models() == []
        assert list(reg.store.digests()) == []


def test_a_signed_artifact_registers_and_the_audit_log_names_the_key(db_url, tmp_path, signed):
    with _registry(db_url, tmp_path, require_signature=True, trusted_keys=[PUBLIC]) as reg:
        info = reg.register("churn", signed)
        event = reg.history("churn")[0]
        assert info.version == 1
        assert (
            event["after"]["signed_by"]
            == json.loads((signed / "MANIFEST.json").read_text())["signature"]["key_id"]
        )


def test_edited_holdout_metrics_cannot_pass_the_gates(db_url, tmp_path, signed):
    """On main, an edited model.json with recomputed hashes registered and passed every gate."""
    loaded = read_artifact(signed)
    model = loaded.model
    model["metadata"]["metrics"]["holdout"]["roc_auc"] = 0.999
    forged = write_artifact(tmp_path / "forged", model, loaded.arrays)
    manifest = json.loads((forged.path / "MANIFEST.json").read_text())
    manifest["signature"] = json.loads((signed / "MANIFEST.json").read_text())["signature"]
    (forged.path / "MANIFEST.json").write_text(json.dumps(manifest))
    reg = _registry(db_url, tmp_path, require_signature=True, trusted_keys=[PUBLIC])
    with reg, pytest.raises(SignatureError, match="does not match"):
        reg.register("churn", forged.path)


def test_requiring_signatures_without_a_trusted_key_is_a_config_error(
    db_url, tmp_path, monkeypatch
):
    monkeypatch.delenv("GLMOPS_TRUSTED_KEYS", raising=False)
    with pytest.raises(RegistryError, match="no key is trusted"):
        _registry(db_url, tmp_path, require_signature=True)
