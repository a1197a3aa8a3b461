"""Who may do what: the one role vocabulary of glmops (registry, serving and CLI alike).

Roles are held by bearer tokens (HTTP) or by actors in ``registry.roles``
(the Python API and the CLI against a database). Each operation lists the
roles that may perform it; ``admin`` may do everything except ``force``:
overriding failed gates is the ``breakglass`` role's alone, and it never
replaces an approval by a second person.

========== ==========================================================
role       may
========== ==========================================================
predict    score (predict, explain)
read       list and show models, versions, history, schemas, metrics
feedback   send labels for past predictions
trainer    register versions; point aliases that take no live traffic
approver   approve versions; promote (champion, canary); roll back
breakglass force a promotion past failed gates (audited as forced)
admin      everything above but ``force``; archive, gc
========== ==========================================================

An :class:`AccessPolicy` maps actors to roles. Without one the registry is in
single-user mode (the local OS user may do everything), which is what the
embedded SQLite default is for; a shared registry configures roles and every
write is checked against them (and recorded with its actor either way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from glmops.errors import InvalidInputError, PermissionDenied

__all__ = ["LEGACY_ROLES", "OPERATIONS", "ROLES", "AccessPolicy", "allowed", "normalize_roles"]

ROLES = ("predict", "read", "feedback", "trainer", "approver", "breakglass", "admin")
# names of the first release, still accepted in configs
LEGACY_ROLES = {"reader": "read"}

# the roles that may perform each operation (admin is added below, except to force)
_BY_OPERATION: dict[str, frozenset[str]] = {
    "predict": frozenset({"predict"}),
    "read": frozenset({"read", "trainer", "approver", "breakglass"}),
    "feedback": frozenset({"feedback"}),
    "register": frozenset({"trainer"}),
    "alias": frozenset({"trainer", "approver"}),  # aliases that take no live traffic
    "approve": frozenset({"approver"}),
    "promote": frozenset({"approver"}),  # champion, or a canary with weight > 0
    "rollback": frozenset({"approver"}),
    "archive": frozenset(),
    "gc": frozenset(),
}
OPERATIONS: dict[str, frozenset[str]] = {
    **{op: roles | {"admin"} for op, roles in _BY_OPERATION.items()},
    "force": frozenset({"breakglass"}),
}


def allowed(roles: Iterable[str], operation: str) -> bool:
    """Return whether holding ``roles`` permits ``operation``."""
    return bool(frozenset(roles) & OPERATIONS[operation])


def normalize_roles(roles: Iterable[str], where: str) -> frozenset[str]:
    """Return ``roles`` with legacy names mapped; refuse unknown ones naming ``where``."""
    chosen = frozenset(LEGACY_ROLES.get(r, r) for r in roles)
    unknown = sorted(chosen - set(ROLES))
    if unknown:
        raise InvalidInputError(
            f"Unknown role(s) {unknown} at {where}; roles are {list(ROLES)}.",
            field=where,
            expected=f"roles among {list(ROLES)}",
            got=unknown,
        )
    return chosen


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
        return cls(
            {
                str(actor): normalize_roles(roles, f"registry.roles.{actor}")
                for actor, roles in mapping.items()
            }
        )

    @property
    def is_single_user(self) -> bool:
        """Return True when no roles are configured (the local user may do everything)."""
        return self.roles is None

    def roles_of(self, actor: str) -> frozenset[str]:
        """Return the roles ``actor`` holds."""
        if self.roles is None:
            return frozenset(ROLES)
        return self.roles.get(actor, self._empty)

    def check(self, actor: str, operation: str) -> None:
        """Raise :class:`PermissionDenied` unless ``actor`` may perform ``operation``."""
        held = self.roles_of(actor)
        if allowed(held, operation):
            return
        raise PermissionDenied(
            f"{actor!r} may not {operation} (holds {', '.join(sorted(held)) or 'no role'}; "
            f"needs one of {', '.join(sorted(OPERATIONS[operation]))})."
        )
