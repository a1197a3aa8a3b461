"""Bearer tokens with roles for the HTTP API (the roles of :mod:`glmops.registry.auth`).

Tokens are configured as SHA-256 digests, never in clear, and compared in
constant time. What a role permits is decided in one place,
:data:`glmops.registry.auth.OPERATIONS`, for scoring and registry routes
alike. Authentication is off only when the config says ``auth: disabled``, and
then only on a loopback address unless the operator insists (``--insecure``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glmops.errors import ConfigError
from glmops.registry.auth import ROLES, allowed, normalize_roles
from glmops.serving.inference import Refusal

if TYPE_CHECKING:
    from glmops.config import ServingConfig

__all__ = [
    "ANONYMOUS",
    "Caller",
    "TokenTable",
    "authorize",
    "hash_token",
    "is_loopback",
    "refuse_open_bind",
]


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a bearer token is configured."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who called, and what they may do."""

    actor: str
    roles: frozenset[str]

    def may(self, operation: str) -> bool:
        """Return whether this caller's roles permit ``operation`` (see OPERATIONS)."""
        return allowed(self.roles, operation)


ANONYMOUS = Caller("anonymous", frozenset(ROLES))


class TokenTable:
    """Map ``Authorization: Bearer <token>`` headers to callers."""

    def __init__(self, entries: Iterable[tuple[str, str, Iterable[str]]] | None) -> None:
        """``entries``: (sha256, actor, roles) triples; None disables authentication."""
        self.enabled = entries is not None
        self._entries = [
            (digest.lower(), Caller(actor, normalize_roles(roles, "serving.tokens.roles")))
            for digest, actor, roles in entries or ()
        ]

    def caller(self, authorization: str | None) -> Caller | None:
        """Return the caller of an Authorization header, or None when it is not valid."""
        if not self.enabled:
            return ANONYMOUS
        if not authorization or authorization[:7].lower() != "bearer ":
            return None
        given = hash_token(authorization[7:].strip())
        found = None
        for digest, caller in self._entries:  # no early exit: constant time over the table
            if hmac.compare_digest(digest, given):
                found = caller
        return found


def authorize(tokens: TokenTable, authorization: str | None, operation: str) -> Caller:
    """Return the caller; raise Refusal: 401 without a valid token, 403 without ``operation``."""
    caller = tokens.caller(authorization)
    if caller is None:
        raise Refusal(
            401,
            "A valid bearer token is required.",
            [{"field": "authorization", "kind": "unauthenticated"}],
            reason="unauthenticated",
        )
    if not caller.may(operation):
        raise Refusal(
            403,
            f"{caller.actor!r} may not {operation}.",
            [
                {
                    "field": "authorization",
                    "kind": "forbidden",
                    "expected": f"a token with a role that may {operation}",
                }
            ],
            reason="forbidden",
        )
    return caller


def is_loopback(host: str) -> bool:
    """Return True when ``host`` binds only the local machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def refuse_open_bind(serving: ServingConfig, *, insecure: bool = False) -> None:
    """Raise ConfigError when ``auth: disabled`` would serve beyond the local machine.

    Without tokens anyone who reaches the port may score, read and change
    the registry: only a loopback bind is allowed, unless ``insecure``.
    """
    if serving.auth != "disabled" or insecure or is_loopback(serving.host):
        return
    raise ConfigError(
        f"serving.auth is 'disabled' and the bind address {serving.host!r} is not loopback: "
        "anyone who reaches it could score, read and change the registry. Configure "
        "serving.tokens (and serving.auth: tokens), bind to 127.0.0.1, or pass --insecure "
        "to `glmops serve` if a network control in front of it authenticates callers.",
        path="serving.auth",
    )
