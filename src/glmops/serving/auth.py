"""Bearer tokens with roles for the HTTP API (the roles of :mod:`glmops.registry.auth`).

Tokens are configured as SHA-256 digests, never in clear, and compared in
constant time. What a role permits is decided in one place,
:data:`glmops.registry.auth.OPERATIONS`, for scoring and registry routes
alike. Authentication is off only when the config says ``auth: disabled``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from glmops.registry.auth import ROLES, allowed, normalize_roles

__all__ = ["ANONYMOUS", "Caller", "TokenTable", "hash_token"]


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

    @property
    def actors(self) -> dict[str, str]:
        """Return digest -> actor (the registry router's view of the same tokens)."""
        return {digest: caller.actor for digest, caller in self._entries}

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
