"""Bearer tokens with roles for the serving API (predict, read, admin).

Tokens are configured as SHA-256 digests, never in clear, and compared in
constant time. ``admin`` implies the other roles; ``read`` covers model
listings and schemas. Authentication is off only when the config says
``auth: disabled``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ANONYMOUS", "Caller", "TokenTable", "hash_token"]

ROLES = ("predict", "read", "admin")


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a bearer token is configured."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who called, and what they may do."""

    actor: str
    roles: frozenset[str]

    def may(self, role: str) -> bool:
        """Return whether this caller holds ``role`` (admin holds every role)."""
        return role in self.roles or "admin" in self.roles


ANONYMOUS = Caller("anonymous", frozenset(ROLES))


class TokenTable:
    """Map ``Authorization: Bearer <token>`` headers to callers."""

    def __init__(self, entries: Iterable[tuple[str, str, Iterable[str]]] | None) -> None:
        """``entries``: (sha256, actor, roles) triples; None disables authentication."""
        self.enabled = entries is not None
        self._entries = [
            (digest.lower(), Caller(actor, frozenset(roles)))
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
