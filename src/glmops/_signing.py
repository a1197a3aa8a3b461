"""Sign an artifact's model digest, and verify it against trusted keys.

The manifest's SHA-256 hashes only prove an artifact is self-consistent:
whoever edits ``model.json`` (its metrics, say) can recompute them. A
signature over the model digest, made with a key the registry trusts, proves
who produced the content. Two schemes, each written ``scheme:base64``:

- ``ed25519``: the training side holds the private key
  (``GLMOPS_SIGNING_KEY=ed25519:<32-byte seed>``); registries and servers hold
  only the public key (``ed25519:<32-byte public key>``), which is not secret.
- ``hmac``: one shared secret (``hmac:<at least 32 bytes>``) signs and verifies;
  simpler, but every verifier could also sign.

The signed message is ``b"glmops-artifact-digest:v1:" + digest``, so a
signature cannot be replayed as anything else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from glmops.errors import SignatureError

__all__ = [
    "SIGNING_KEY_ENV_VAR",
    "TRUSTED_KEYS_ENV_VAR",
    "Signer",
    "Verifier",
    "generate_ed25519",
    "signer_from_env",
    "trusted_from_env",
    "verify_signature",
]

SIGNING_KEY_ENV_VAR = "GLMOPS_SIGNING_KEY"
TRUSTED_KEYS_ENV_VAR = "GLMOPS_TRUSTED_KEYS"  # comma-separated public keys / HMAC secrets
_CONTEXT = b"glmops-artifact-digest:v1:"
_SCHEMES = ("ed25519", "hmac")


def _decode(text: str, what: str) -> tuple[str, bytes]:
    scheme, sep, body = text.strip().partition(":")
    if not sep or scheme not in _SCHEMES:
        raise SignatureError(
            f"{what} must be written 'ed25519:<base64>' or 'hmac:<base64>' "
            f"(got a value starting {scheme[:10]!r}).",
            path=what,
        )
    try:
        raw = base64.b64decode(body.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(
            f"{what}: the part after '{scheme}:' is not base64.", path=what
        ) from None
    if scheme == "ed25519" and len(raw) != 32:
        raise SignatureError(f"{what}: an ed25519 key is 32 bytes, got {len(raw)}.", path=what)
    if scheme == "hmac" and len(raw) < 32:
        raise SignatureError(
            f"{what}: an HMAC key needs at least 32 bytes, got {len(raw)}.", path=what
        )
    return scheme, raw


def _key_id(scheme: str, public: bytes) -> str:
    # an HMAC secret is never revealed: its id hashes it with a label
    return hashlib.sha256(scheme.encode() + b"\0" + public).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """A private signing key (ed25519 seed or HMAC secret)."""

    scheme: str
    secret: bytes

    @classmethod
    def parse(cls, text: str, what: str = SIGNING_KEY_ENV_VAR) -> Signer:
        """Read ``ed25519:<seed>`` or ``hmac:<secret>``."""
        scheme, raw = _decode(text, what)
        return cls(scheme, raw)

    @property
    def public(self) -> bytes:
        """The verifying key: the ed25519 public key, or the HMAC secret itself."""
        if self.scheme == "hmac":
            return self.secret
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.from_private_bytes(self.secret).public_key()
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        """A short id of the verifying key, recorded with each signature."""
        return _key_id(self.scheme, self.public)

    def sign(self, digest: str) -> dict[str, str]:
        """Return the signature record of a hex model digest."""
        message = _CONTEXT + digest.encode()
        if self.scheme == "hmac":
            value = hmac.new(self.secret, message, hashlib.sha256).digest()
        else:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            value = Ed25519PrivateKey.from_private_bytes(self.secret).sign(message)
        return {
            "algorithm": self.scheme,
            "key_id": self.key_id,
            "value": base64.b64encode(value).decode(),
        }


@dataclass(frozen=True)
class Verifier:
    """A trusted verifying key (ed25519 public key or HMAC secret)."""

    scheme: str
    public: bytes

    @classmethod
    def parse(cls, text: str, what: str = TRUSTED_KEYS_ENV_VAR) -> Verifier:
        """Read ``ed25519:<public key>`` or ``hmac:<secret>``."""
        scheme, raw = _decode(text, what)
        return cls(scheme, raw)

    @property
    def key_id(self) -> str:
        """The id signatures made with the matching key carry."""
        return _key_id(self.scheme, self.public)

    def is_valid(self, digest: str, value: bytes) -> bool:
        """Return True when ``value`` signs ``digest`` under this key."""
        message = _CONTEXT + digest.encode()
        if self.scheme == "hmac":
            expected = hmac.new(self.public, message, hashlib.sha256).digest()
            return hmac.compare_digest(expected, value)
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(value, message)
        except InvalidSignature:
            return False
        return True


def generate_ed25519() -> tuple[str, str]:
    """Return a new (private, public) ed25519 key pair, each as ``ed25519:<base64>``."""
    seed = os.urandom(32)
    signer = Signer("ed25519", seed)
    encode = base64.b64encode
    return f"ed25519:{encode(seed).decode()}", f"ed25519:{encode(signer.public).decode()}"


def signer_from_env() -> Signer | None:
    """Return the signer configured by GLMOPS_SIGNING_KEY, or None."""
    text = os.environ.get(SIGNING_KEY_ENV_VAR, "").strip()
    return Signer.parse(text) if text else None


def trusted_from_env(extra: Iterable[str] = ()) -> list[Verifier]:
    """Return the keys in GLMOPS_TRUSTED_KEYS plus ``extra`` (public keys from a config)."""
    texts = [t for t in os.environ.get(TRUSTED_KEYS_ENV_VAR, "").split(",") if t.strip()]
    return [Verifier.parse(t) for t in [*texts, *extra]]


def verify_signature(signature: Any, digest: str, trusted: Iterable[Verifier], where: str) -> str:
    """Check a manifest's ``signature`` record; return the key id that verified it.

    Raises :class:`~glmops.errors.SignatureError` when the artifact is
    unsigned, signed by a key that is not trusted, or signed wrongly (the
    content changed after signing).
    """
    if signature is None:
        raise SignatureError(f"{where} is not signed, and a signature is required.", path=where)
    if not (
        isinstance(signature, dict)
        and signature.get("algorithm") in _SCHEMES
        and isinstance(signature.get("key_id"), str)
        and isinstance(signature.get("value"), str)
    ):
        raise SignatureError(f"{where} has a malformed signature record.", path=where)
    keys = [k for k in trusted if k.key_id == signature["key_id"]]
    if not keys or keys[0].scheme != signature["algorithm"]:
        raise SignatureError(
            f"{where} is signed by key {signature['key_id'][:16]!r}, which is not trusted "
            f"here (add its public key to {TRUSTED_KEYS_ENV_VAR} or registry.trusted_keys).",
            path=where,
        )
    try:
        value = base64.b64decode(signature["value"], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{where} has a signature that is not base64.", path=where) from None
    if not keys[0].is_valid(digest, value):
        raise SignatureError(
            f"{where}: the signature does not match the model digest {digest[:12]}… "
            "(the content changed after it was signed).",
            path=where,
        )
    return str(signature["key_id"])
