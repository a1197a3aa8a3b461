"""Content-addressed artifact storage: ``<root>/<digest[:2]>/<digest>/``, written once.

Two backends behind one interface (:func:`open_store` picks by the root):

- :class:`ArtifactStore`, a local directory (the default). An artifact
  enters by copy into a temporary directory inside the root, then an atomic
  rename to its digest's path. A crash leaves either the complete artifact
  or a temporary directory that :meth:`ArtifactStore.gc_temp` removes.
- :class:`RemoteArtifactStore`, any fsspec URL (``s3://bucket/prefix``,
  ``gs://...``, ``abfs://...``, ``memory://...``). Object stores have no
  rename, so the data files are uploaded first and ``MANIFEST.json`` last:
  an artifact without its manifest is invisible (``has`` is false) and is
  removed by ``gc`` once old. Loads read a verified local copy kept in a
  content-addressed cache.

A digest already present is never overwritten, in either backend.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import inspect
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from glmops._durable import fsync_dir, fsync_tree
from glmops._extras import require
from glmops.artifact import (
    MANIFEST_FILE,
    artifact_digest,
    check_stored,
    read_stored,
    verify_artifact,
)
from glmops.errors import ArtifactError, ChecksumMismatch, GlmopsError, RegistryUnavailable

__all__ = ["REGISTER_MAX_BYTES", "ArtifactStore", "RemoteArtifactStore", "Store", "open_store"]

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=Callable[..., Any])
_TMP_PREFIX = ".incoming-"
_REUSED_SUFFIX = ".reused"  # remote: an empty object whose time marks a reuse
# an artifact being registered expands to at most this (the HTTP upload route passes a
# multiple of its upload cap instead): a zip bomb is refused before it is decompressed
REGISTER_MAX_BYTES = 512 * 1024**2


class Store(Protocol):
    """What the registry needs from an artifact store."""

    @property
    def location(self) -> str:
        """The root, as a path or URL (for messages)."""

    def uri_for(self, digest: str) -> str:
        """Return where the artifact with this digest lives, as a path or URL."""

    def local_path(self, digest: str) -> Path | None:
        """Return the stored directory when it is on this file system, else None."""

    def has(self, digest: str) -> bool:
        """Return whether a complete artifact with this digest is stored."""

    def put(self, source: str | os.PathLike[str]) -> tuple[str, Path]:
        """Store a verified artifact; return (digest, a readable local copy)."""

    def put_files(self, digest: str, files: Mapping[str, bytes]) -> Path:
        """Store the files of an artifact already verified to have ``digest``; return a
        readable local copy."""

    def fetch(self, digest: str) -> Path:
        """Return a local directory holding the stored artifact's files."""

    def digests(self) -> Iterator[str]:
        """Yield the digest of every stored (complete or partial) artifact."""

    def verify(self, digest: str) -> list[str]:
        """Return the problems of the stored artifact (empty when intact)."""

    def age_s(self, digest: str) -> float:
        """Return seconds since the artifact was written or last reused."""

    def remove(self, digest: str) -> None:
        """Delete a stored artifact (garbage collection only)."""

    def gc_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove leftovers of interrupted writes; return how many."""


def open_store(root: str | os.PathLike[str]) -> Store:
    """Return the store for ``root``: a local directory, or any fsspec URL.

    ``file://`` URLs and plain paths are local; any other ``scheme://`` goes
    through fsspec (installed with glmops; the scheme's own package, such as
    ``s3fs`` or ``gcsfs``, must be installed for its URLs).
    """
    text = os.fspath(root)
    if "://" not in text:
        return ArtifactStore(text)
    scheme = text.split("://", 1)[0].lower()
    if scheme in ("file", "local"):
        return ArtifactStore(text.split("://", 1)[1])
    return RemoteArtifactStore(text)


class ArtifactStore:
    """Immutable artifacts under a local directory ``root``, addressed by digest."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    @property
    def location(self) -> str:
        """The root directory, as a string."""
        return str(self.root)

    def path_for(self, digest: str) -> Path:
        """Return where the artifact with this digest lives (it may not exist)."""
        return self.root / digest[:2] / digest

    def uri_for(self, digest: str) -> str:
        """Return the artifact's directory as a string."""
        return str(self.path_for(digest))

    def local_path(self, digest: str) -> Path | None:
        """Return the artifact's directory."""
        return self.path_for(digest)

    def fetch(self, digest: str) -> Path:
        """Return the artifact's directory (already local)."""
        return self.path_for(digest)

    def has(self, digest: str) -> bool:
        """Return whether a complete artifact with this digest is stored."""
        return (self.path_for(digest) / MANIFEST_FILE).is_file()

    def put(self, source: str | os.PathLike[str]) -> tuple[str, Path]:
        """Store the artifact at ``source`` (directory or .zip); return (digest, path).

        The source is read once and verified (every SHA-256); a digest already
        stored is reused, not rewritten.
        """
        digest, files = verified_files(Path(source))
        return digest, self.put_files(digest, files)

    def put_files(self, digest: str, files: Mapping[str, bytes]) -> Path:
        """Store verified files under ``digest`` (a digest already stored is reused)."""
        if self.has(digest):
            os.utime(self.path_for(digest))  # fresh again: gc's grace protects a reuse
            return self.path_for(digest)
        return self.install(digest, functools.partial(write_files, files))

    def install(self, digest: str, fill: Callable[[Path], None]) -> Path:
        """Fill a temporary directory with ``fill`` and rename it to ``digest``'s path.

        The rename is atomic: readers see the complete artifact or nothing.
        Losing a race to an identical copy is fine (content addressing).
        """
        target = self.path_for(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=self.root))
        try:
            fill(tmp)
            fsync_tree(tmp)
            try:
                os.rename(tmp, target)
            except OSError:
                if not self.has(digest):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_dir(target.parent)
        return target

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
        return _problems(path, digest)

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


def _remote_io(method: _M) -> _M:
    """Turn a remote file system's own failure (network, credentials) into
    :class:`~glmops.errors.RegistryUnavailable` naming the store and the operation."""

    @functools.wraps(method)
    def wrapper(self: RemoteArtifactStore, *args: Any, **kwargs: Any) -> Any:
        try:
            result = method(self, *args, **kwargs)
            return list(result) if inspect.isgenerator(result) else result
        except GlmopsError:
            raise
        except Exception as exc:
            raise RegistryUnavailable(
                f"artifact store {self.url} failed during {method.__name__}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    return wrapper  # type: ignore[return-value]


class RemoteArtifactStore:
    """Immutable artifacts under an fsspec URL, with a verified local cache.

    Parameters
    ----------
    url : str
        Root URL, e.g. ``s3://bucket/models`` (credentials and endpoints come
        from the file system's usual sources or ``storage_options``).
    storage_options : mapping, optional
        Passed to the fsspec file system (e.g. ``endpoint_url``, ``anon``).
    cache_dir : str or Path, optional
        Local copies of fetched artifacts (default ``GLMOPS_ARTIFACT_CACHE`` or
        ``~/.cache/glmops/artifacts``); content-addressed, so shared safely.
    """

    def __init__(
        self,
        url: str,
        *,
        storage_options: dict[str, Any] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if url.startswith("s3://"):
            require("s3", "an s3:// artifact store")
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec is a dependency
            raise ArtifactError(
                f"artifact root {url!r} needs fsspec: pip install fsspec", path=url
            ) from exc
        try:
            self.fs, base = fsspec.core.url_to_fs(url, **(storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise ArtifactError(
                f"artifact root {url!r}: {exc} (install the file system's package, "
                "e.g. s3fs for s3://, gcsfs for gs://)",
                path=url,
            ) from exc
        self.url = url.rstrip("/")
        self.base = str(base).rstrip("/")
        cache = cache_dir or os.environ.get("GLMOPS_ARTIFACT_CACHE")
        self.cache = ArtifactStore(cache or Path.home() / ".cache" / "glmops" / "artifacts")

    @property
    def location(self) -> str:
        """The root URL."""
        return self.url

    def _dir(self, digest: str) -> str:
        return f"{self.base}/{digest[:2]}/{digest}"

    def _marker(self, digest: str) -> str:
        return f"{self.base}/{digest[:2]}/{digest}{_REUSED_SUFFIX}"

    def uri_for(self, digest: str) -> str:
        """Return the artifact's URL."""
        return f"{self.url}/{digest[:2]}/{digest}"

    def local_path(self, digest: str) -> Path | None:
        """Return None: the stored copy is not on this file system."""
        return None

    @_remote_io
    def has(self, digest: str) -> bool:
        """Return whether the artifact's manifest (written last) is stored."""
        manifest = f"{self._dir(digest)}/{MANIFEST_FILE}"
        self.fs.invalidate_cache(self._dir(digest))
        return bool(self.fs.exists(manifest))

    @_remote_io
    def put(self, source: str | os.PathLike[str]) -> tuple[str, Path]:
        """Verify ``source``, stage it in the cache and upload it, manifest last.

        Returns the digest and the cached local copy.
        """
        digest, files = verified_files(Path(source))
        return digest, self.put_files(digest, files)

    @_remote_io
    def put_files(self, digest: str, files: Mapping[str, bytes]) -> Path:
        """Stage verified files in the cache and upload them, manifest last."""
        if self.cache.has(digest) and not _problems(self.cache.path_for(digest), digest):
            staged = self.cache.path_for(digest)
        else:
            self.cache.remove(digest)
            staged = self.cache.install(digest, functools.partial(write_files, files))
        if self.has(digest):
            self.fs.pipe_file(self._marker(digest), b"")  # fresh again for gc's grace
            return staged
        remote = self._dir(digest)
        names = sorted(p.name for p in staged.iterdir() if p.name != MANIFEST_FILE)
        for name in [*names, MANIFEST_FILE]:  # the manifest makes it visible
            self.fs.put_file(str(staged / name), f"{remote}/{name}")
        return staged

    @_remote_io
    def fetch(self, digest: str) -> Path:
        """Return a verified local copy, downloading it when the cache lacks it."""
        cached = self.cache.path_for(digest)
        if self.cache.has(digest) and not _problems(cached, digest):
            return cached
        self.cache.remove(digest)
        if not self.has(digest):
            raise ArtifactError(
                f"artifact {digest[:12]} is missing from {self.url}", path=self.uri_for(digest)
            )
        path = self.cache.install(digest, lambda tmp: self._download(digest, tmp))
        problems = _problems(path, digest)
        if problems:
            self.cache.remove(digest)
            raise ChecksumMismatch(
                f"artifact {digest[:12]} at {self.uri_for(digest)}: " + "; ".join(problems),
                path=self.uri_for(digest),
            )
        return path

    def _download(self, digest: str, into: Path) -> None:
        remote = self._dir(digest)
        manifest = self.fs.cat_file(f"{remote}/{MANIFEST_FILE}")
        (into / MANIFEST_FILE).write_bytes(manifest)
        try:
            names = list(json.loads(manifest)["files"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ChecksumMismatch(
                f"artifact {digest[:12]} at {self.uri_for(digest)}: unreadable manifest",
                path=self.uri_for(digest),
            ) from exc
        for name in names:
            if Path(name).name != name or name == MANIFEST_FILE:
                raise ChecksumMismatch(
                    f"artifact {digest[:12]}: the manifest names an invalid file {name!r}",
                    path=self.uri_for(digest),
                )
            self.fs.get_file(f"{remote}/{name}", str(into / name))

    @_remote_io
    def digests(self) -> Iterator[str]:
        """Yield the digest of every stored artifact, complete or partial."""
        self.fs.invalidate_cache(self.base)
        if not self.fs.exists(self.base):
            return
        for shard in sorted(self.fs.ls(self.base, detail=False)):
            name = str(shard).rstrip("/").rsplit("/", 1)[-1]
            if len(name) != 2 or not self.fs.isdir(shard):
                continue
            for item in sorted(self.fs.ls(shard, detail=False)):
                leaf = str(item).rstrip("/").rsplit("/", 1)[-1]
                if len(leaf) == 64 and leaf.startswith(name) and self.fs.isdir(item):
                    yield leaf

    @_remote_io
    def verify(self, digest: str) -> list[str]:
        """Download the stored artifact afresh and return its problems."""
        if not self.has(digest):
            return [f"artifact {digest[:12]} is missing from {self.url}"]
        with tempfile.TemporaryDirectory(prefix="glmops-verify-") as tmp:
            try:
                self._download(digest, Path(tmp))
            except (OSError, ArtifactError) as exc:
                return [f"artifact {digest[:12]} at {self.uri_for(digest)}: {exc}"]
            return _problems(Path(tmp), digest)

    @_remote_io
    def age_s(self, digest: str) -> float:
        """Return seconds since the newest of its files or its last reuse."""
        self.fs.invalidate_cache(self._dir(digest))
        paths = [self._marker(digest)]
        with contextlib.suppress(FileNotFoundError):
            paths += list(self.fs.ls(self._dir(digest), detail=False))
        times = [_modified(self.fs, p) for p in paths]
        known = [t for t in times if t is not None]
        if known:
            return time.time() - max(known)
        # files without timestamps count as fresh: never collect what may be in flight
        return float("inf") if len(paths) == 1 else 0.0

    @_remote_io
    def remove(self, digest: str) -> None:
        """Delete a stored artifact: its manifest first, so it turns invisible at once."""
        remote = self._dir(digest)
        for path in (f"{remote}/{MANIFEST_FILE}", self._marker(digest)):
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(path)
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(remote, recursive=True)
        self.fs.invalidate_cache(remote)
        self.cache.remove(digest)

    def gc_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove the local cache's interrupted downloads (partial uploads are
        unreferenced digests, which the registry's ``gc`` removes)."""
        return self.cache.gc_temp(older_than_s)


def verified_files(
    source: Path, *, max_bytes: int = REGISTER_MAX_BYTES
) -> tuple[str, dict[str, bytes]]:
    """Read an artifact once and verify it (every SHA-256; model.json and arrays.npz
    parse); return its model digest and stored files, for :meth:`Store.put_files`."""
    files = read_stored(source, max_bytes=max_bytes)
    return check_stored(files, source, max_bytes=max_bytes), files


def write_files(files: Mapping[str, bytes], into: Path) -> None:
    """Write an artifact's verified files (plain names, checked on reading) into ``into``."""
    for name, data in files.items():
        (into / Path(name).name).write_bytes(data)


def _problems(path: Path, digest: str) -> list[str]:
    problems = verify_artifact(path)
    if not problems and artifact_digest(path) != digest:
        problems.append(f"artifact stored as {digest[:12]} has another digest")
    return problems


def _modified(fs: Any, path: str) -> float | None:
    """Return the modification time of ``path`` as a POSIX timestamp, or None."""
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None
    if info.get("type") == "directory":
        return None
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, int | float):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        try:
            return dt.datetime.fromisoformat(str(value)).timestamp()
        except ValueError:
            continue
    return None
