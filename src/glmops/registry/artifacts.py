"""Content-addressed artifact storage: ``<root>/<digest[:2]>/<digest>/``, written once.

An artifact enters the store by copy into a temporary directory inside the
root, then an atomic rename to its digest's path; a digest already present
is never overwritten. A crash at any point leaves either the complete
artifact or a temporary directory that :meth:`ArtifactStore.gc_temp` removes.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

from glmops.artifact import MANIFEST_FILE, artifact_digest, verify_artifact
from glmops.errors import ArtifactError

__all__ = ["ArtifactStore"]

logger = logging.getLogger(__name__)

_TMP_PREFIX = ".incoming-"


class ArtifactStore:
    """Immutable artifacts under ``root``, addressed by their model digest."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def path_for(self, digest: str) -> Path:
        """Return where the artifact with this digest lives (it may not exist)."""
        return self.root / digest[:2] / digest

    def has(self, digest: str) -> bool:
        """Return whether a complete artifact with this digest is stored."""
        return (self.path_for(digest) / MANIFEST_FILE).is_file()

    def put(self, source: str | os.PathLike[str]) -> tuple[str, Path]:
        """Store the artifact at ``source`` (directory or .zip); return (digest, path).

        The source is verified first (every SHA-256); a digest already stored
        is reused, not rewritten.
        """
        src = Path(source)
        problems = verify_artifact(src)
        if problems:
            raise ArtifactError(
                f"Refusing to register {src}: " + "; ".join(problems), path=str(src)
            )
        digest = artifact_digest(src)
        target = self.path_for(digest)
        if self.has(digest):
            os.utime(target)  # fresh again: gc's grace period protects a reuse in flight
            return digest, target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=self.root))
        try:
            if src.is_dir():
                for item in src.iterdir():
                    shutil.copyfile(item, tmp / item.name)
            else:
                with zipfile.ZipFile(src) as zf:
                    for info in zf.infolist():  # names were checked by verify_artifact
                        (tmp / Path(info.filename).name).write_bytes(zf.read(info))
            for item in tmp.iterdir():
                with open(item, "rb") as fh:
                    os.fsync(fh.fileno())
            try:
                os.rename(tmp, target)
            except OSError:
                if not self.has(digest):  # lost a race to an identical copy: fine
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(target.parent)
        return digest, target

    def digests(self) -> Iterator[str]:
        """Yield the digest of every stored artifact."""
        if not self.root.is_dir():
            return
        for shard in sorted(self.root.iterdir()):
            if shard.is_dir() and len(shard.name) == 2:
                for item in sorted(shard.iterdir()):
                    if item.is_dir():
                        yield item.name

    def verify(self, digest: str) -> list[str]:
        """Return the problems of the stored artifact (empty when intact)."""
        path = self.path_for(digest)
        if not path.is_dir():
            return [f"artifact {digest[:12]} is missing from {self.root}"]
        problems = verify_artifact(path)
        if not problems and artifact_digest(path) != digest:
            problems.append(f"artifact stored as {digest[:12]} has another digest")
        return problems

    def age_s(self, digest: str) -> float:
        """Return seconds since the stored artifact was written or last reused."""
        try:
            return time.time() - self.path_for(digest).stat().st_mtime
        except FileNotFoundError:
            return float("inf")

    def remove(self, digest: str) -> None:
        """Delete a stored artifact (used by garbage collection only)."""
        shutil.rmtree(self.path_for(digest), ignore_errors=True)

    def gc_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary directories left by interrupted writes; return how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        now = time.time()
        for item in self.root.iterdir():
            if item.name.startswith(_TMP_PREFIX) and now - item.stat().st_mtime > older_than_s:
                shutil.rmtree(item, ignore_errors=True)
                removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
