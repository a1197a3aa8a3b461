"""Which loaded version answers a request: champion, a weighted sticky canary, a shadow.

A :class:`Routes` is immutable; the reloader builds a new one and swaps the
reference, so a request sees one consistent set of versions from start to
end without locks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glmops.model import Model

__all__ = ["Routes", "Slot", "bucket_of"]


@dataclass(frozen=True)
class Slot:
    """One loaded, verified, warmed version of a model."""

    name: str
    version: int
    digest: str
    model: Model
    route: str  # champion | canary | shadow | pinned

    @property
    def version_label(self) -> str:
        """The version as a metric label."""
        return str(self.version)


def bucket_of(key: str) -> float:
    """Map a key to [0, 1) stably across processes and restarts (BLAKE2b, not ``hash``)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True)
class Routes:
    """The versions of one served model and how traffic splits between them."""

    name: str
    champion: Slot
    canary: Slot | None = None
    canary_weight: float = 0.0
    shadow: Slot | None = None

    def pick(self, key: str) -> Slot:
        """Return the slot that answers for this entity (or request) key.

        A key lands on the canary when its bucket is below the canary's
        weight: the same key always gets the same arm while the weight is
        unchanged, and raising the weight only moves keys onto the canary.
        """
        if self.canary is None or self.canary_weight <= 0.0:
            return self.champion
        return (
            self.canary
            if bucket_of(f"{self.name}\x00{key}") < self.canary_weight
            else self.champion
        )

    def slots(self) -> list[Slot]:
        """Return every served slot (champion first)."""
        return [s for s in (self.champion, self.canary, self.shadow) if s is not None]

    def describe(self) -> dict[str, Any]:
        """Return JSON-ready routing facts."""
        out: dict[str, Any] = {"champion": self.champion.version}
        if self.canary is not None:
            out["canary"] = {"version": self.canary.version, "weight": self.canary_weight}
        if self.shadow is not None:
            out["shadow"] = self.shadow.version
        return out
