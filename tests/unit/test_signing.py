"""Signed artifacts: who produced the content, not just that it is self-consistent."""

from __future__ import annotations

import base64
import json
import os

import numpy as np
import pytest

from glmops._signing import Signer, Verifier, generate_ed25519, trusted_from_env
from glmops.artifact import (
    read_artifact,
    sign_artifact,
    verify_artifact_signature,
    write_artifact,
)
from glmops.errors import ArtifactError, SignatureError

PRIVATE, PUBLIC = generate_ed25519()
HMAC_KEY = "hmac:" + base64.b64encode(b"k" * 32).decode()


def _write(path, signer=None, metric=0.8):
    model = {"task": "binary", "metadata": {"metrics": {"holdout": {"roc_auc": metric}}}}
    arrays = {"coef": np.arange(3.0)}
    return write_artifact(path, model, arrays, signer=signer)


@pytest.mark.parametrize("suffix", ["", ".zip"])
def test_a_signed_artifact_verifies_against_the_public_key(tmp_path, suffix):
    info = _write(tmp_path / f"m{suffix}", Signer.parse(PRIVATE))
    assert verify_artifact_signature(info.path, [Verifier.parse(PUBLIC)]) == info.digest


def test_the_signing_key_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GLMOPS_SIGNING_KEY", PRIVATE)
    info = _write(tmp_path / "m")
    monkeypatch.setenv("GLMOPS_TRUSTED_KEYS", PUBLIC)
    assert verify_artifact_signature(info.path, trusted_from_env()) == info.digest


def test_an_unsigned_artifact_is_refused(tmp_path):
    info = _write(tmp_path / "m")
    with pytest.raises(SignatureError, match="not signed"):
        verify_artifact_signature(info.path, [Verifier.parse(PUBLIC)])


def test_a_key_that_is_not_trusted_is_refused(tmp_path):
    other_private, _ = generate_ed25519()
    info = _write(tmp_path / "m", Signer.parse(other_private))
    with pytest.raises(SignatureError, match="not trusted"):
        verify_artifact_signature(info.path, [Verifier.parse(PUBLIC)])


def test_edited_metrics_with_recomputed_hashes_fail_the_signature(tmp_path):
    """The attack of issue 14: change model.json, recompute every hash, keep the signature."""
    original = _write(tmp_path / "m", Signer.parse(PRIVATE), metric=0.60)
    loaded = read_artifact(original.path)
    forged = write_artifact(tmp_path / "forged", {**loaded.model, "forged": True}, loaded.arrays)
    manifest_path = forged.path / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["signature"] = json.loads((original.path / "MANIFEST.json").read_text())["signature"]
    manifest_path.write_text(json.dumps(manifest))
    read_artifact(forged.path)  # self-consistent: every SHA-256 checks out
    with pytest.raises(SignatureError, match="does not match"):
        verify_artifact_signature(forged.path, [Verifier.parse(PUBLIC)])


@pytest.mark.parametrize("suffix", ["", ".zip"])
def test_signing_later_keeps_the_digest_and_every_file(tmp_path, suffix):
    info = _write(tmp_path / f"m{suffix}")
    before = read_artifact(info.path)
    assert sign_artifact(info.path, Signer.parse(HMAC_KEY)) == info.digest
    after = read_artifact(info.path)
    assert after.digest == before.digest and after.model == before.model
    assert verify_artifact_signature(info.path, [Verifier.parse(HMAC_KEY)]) == info.digest
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rsa:AAAA", "must be written"),
        ("ed25519:not base64!", "not base64"),
        ("ed25519:" + base64.b64encode(b"short").decode(), "32 bytes"),
        ("hmac:" + base64.b64encode(b"short").decode(), "at least 32"),
    ],
)
def test_malformed_keys_are_refused_by_name(text, problem):
    with pytest.raises(SignatureError, match=problem) as info:
        Verifier.parse(text)
    assert "GLMOPS_TRUSTED_KEYS" in str(info.value)


def test_a_hmac_key_id_does_not_reveal_the_secret():
    signer = Signer.parse(HMAC_KEY)
    assert base64.b64encode(b"k" * 32).decode() not in json.dumps(signer.sign("ab" * 32))


def test_a_signature_that_is_not_a_record_is_refused(tmp_path):
    info = _write(tmp_path / "m")
    manifest_path = info.path / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["signature"] = "trust me"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="signature"):
        read_artifact(info.path)
