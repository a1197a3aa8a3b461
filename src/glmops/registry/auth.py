"""Who may do what in the registry: roles reader, trainer, approver, admin.

An :class:`AccessPolicy` maps actors to roles. Without one the registry is in
single-user mode (the local OS user may do everything), which is what the
embedded SQLite default is for; a shared registry configures roles and every
write is checked against them (and recorded with its actor either way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from glmops.errors import InvalidInputError, PermissionDenied

__all__ = ["OPERATIONS", "ROLES", "AccessPolicy"]

ROLES = ("reader", "trainer", "approver", "admin")
# the roles that may perform each operation
OPERATIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "register": frozenset({"trainer", "admin"}),
    "approve": frozenset({"approver", "admin"}),
    "alias": frozenset({"approver", "admin"}),
    "promote": frozenset({"approver", "admin"}),
    "rollback": frozenset({"approver", "admin"}),
    "archive": frozenset({"admin"}),
    "gc": frozenset({"admin"}),
}


@dataclass(frozen=True)
class AccessPolicy:
    """Actor -> roles; ``None`` roles means single-user mode (everything allowed)."""

    roles: Mapping[str, frozenset[str]] | None = None
    _empty: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Iterable[str]] | None) -> AccessPolicy:
        """Build a policy from ``{actor: [role, ...]}`` (validating the role names)."""
        if mapping is None:
            return cls(None)
        out: dict[str, frozenset[str]] = {}
        for actor, roles in mapping.items():
            chosen = frozenset(roles)
            unknown = sorted(chosen - set(ROLES))
            if unknown:
                raise InvalidInputError(
                    f"Unknown role(s) {unknown} for {actor!r}; roles are {list(ROLES)}.",
                    field=f"registry.roles.{actor}",
                    expected=f"roles among {list(ROLES)}",
                    got=unknown,
                )
            out[str(actor)] = chosen
        return cls(out)

    def roles_of(self, actor: str) -> frozenset[str]:
        """Return the roles ``actor`` holds."""
        if self.roles is None:
            return frozenset(ROLES)
        return self.roles.get(actor, self._empty)

    def check(self, actor: str, operation: str) -> None:
        """Raise :class:`PermissionDenied` unless ``actor`` may perform ``operation``."""
        allowed = OPERATIONS[operation]
        if self.roles_of(actor) & allowed:
            return
        held = sorted(self.roles_of(actor)) or ["none"]
        raise PermissionDenied(
            f"{actor!r} may not {operation} (holds {', '.join(held)}; needs one of "
            f"{', '.join(sorted(allowed))})."
        )
