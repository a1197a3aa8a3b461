"""Write and read model artifacts: checksummed, pickle-free, optionally encrypted.

An artifact is a directory, or the same files in one ``.zip``::

    model.json      the model's description (JSON; NaN and inf refused)
    arrays.npz      named numeric or unicode arrays, read with allow_pickle=False
    <extra files>   given by the caller: run.json, report.html, MODEL_CARD.md ...
    MANIFEST.json   format version, size and SHA-256 of every other file, model digest

Reading checks the manifest, the file list, every size and every SHA-256 before
parsing anything, and never unpickles. The model digest hashes the sorted
(name, SHA-256 of the plaintext) pairs of the non-volatile files, so it is the
same for a directory, a zip and an encrypted copy of one model.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import itertools
import json
import logging
import math
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from glmops._durable import fsync_dir, replace_durably
from glmops._signing import Signer, Verifier, signer_from_env, verify_signature
from glmops.errors import ArtifactError, ChecksumMismatch, DecryptionError, UnsupportedFormatVersion

__all__ = [
    "ARRAYS_FILE",
    "DEFAULT_MAX_BYTES",
    "FORMAT_VERSION",
    "KEY_ENV_VAR",
    "MANIFEST_FILE",
    "MAX_ENTRIES",
    "MODEL_FILE",
    "SUPPORTED_FORMAT_VERSIONS",
    "ArtifactInfo",
    "LoadedArtifact",
    "artifact_digest",
    "check_stored",
    "content_digest",
    "load_stored",
    "read_artifact",
    "read_stored",
    "sign_artifact",
    "verify_artifact",
    "verify_artifact_signature",
    "write_artifact",
]

logger = logging.getLogger(__name__)

FORMAT = "glmops-artifact"
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = frozenset({1})
KEY_ENV_VAR = "GLMOPS_ARTIFACT_KEY"
MANIFEST_FILE = "MANIFEST.json"
MODEL_FILE = "model.json"
ARRAYS_FILE = "arrays.npz"
DEFAULT_MAX_BYTES = 2 * 1024**3  # zip-bomb guard: total uncompressed size
MAX_ENTRIES = 1_000  # files in an artifact, entries in a zip or arrays.npz

_RESERVED = frozenset({MANIFEST_FILE.casefold(), MODEL_FILE.casefold(), ARRAYS_FILE.casefold()})
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ARRAY_KINDS = "biufcU"  # bool, int, uint, float, complex, fixed-width unicode
_NONCE_BYTES = 12
_ALGORITHM = "AES-256-GCM"

PathArg = str | os.PathLike[str]
_Report = Callable[[ArtifactError], None]


@dataclass(frozen=True)
class ArtifactInfo:
    """Describe an artifact just written.

    Parameters
    ----------
    path : Path
        Where the artifact now lies (directory or ``.zip``).
    digest : str
        Model digest, hex SHA-256; equal for directory, zip and encrypted copies.
    files : dict of str to str
        SHA-256 of each stored file except MANIFEST.json, by file name.
    size_bytes : int
        Bytes on disk, MANIFEST.json included.
    """

    path: Path
    digest: str
    files: dict[str, str]
    size_bytes: int


@dataclass(frozen=True)
class LoadedArtifact:
    """Hold the verified content of an artifact.

    Parameters
    ----------
    model : dict
        Parsed model.json.
    arrays : dict of str to ndarray
        Arrays of arrays.npz, by name.
    extra_files : dict of str to bytes
        The caller's extra files, decrypted, by file name.
    manifest : dict
        Parsed MANIFEST.json.
    digest : str
        Model digest recomputed from the files.
    path : Path
        Where the artifact was read from.
    """

    model: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]
    extra_files: dict[str, bytes]
    manifest: dict[str, Any]
    digest: str
    path: Path


def write_artifact(
    path: PathArg,
    model: dict[str, Any],
    arrays: Mapping[str, npt.NDArray[Any]],
    extra_files: Mapping[str, bytes] | None = None,
    *,
    volatile: Iterable[str] = ("run.json",),
    encrypt: bool = False,
    key: bytes | str | None = None,
    overwrite: bool = False,
    signer: Signer | None = None,
) -> ArtifactInfo:
    """Write a model artifact atomically.

    Files are built in a temporary sibling of ``path`` and renamed into place,
    so ``path`` never holds a half-written artifact.

    Parameters
    ----------
    path : str or PathLike
        Target directory, or a ``.zip`` file.
    model : dict
        JSON-serialisable model description; NaN and inf are refused.
    arrays : mapping of str to ndarray
        Bool, integer, float, complex or ``<U`` arrays; object arrays are refused.
    extra_files : mapping of str to bytes, optional
        Further files by plain file name.
    volatile : iterable of str, default ("run.json",)
        Extra files left out of the model digest (still checksummed).
    encrypt : bool, default False
        Encrypt every file but the manifest with AES-256-GCM.
    key : bytes or str, optional
        With ``encrypt``: 32 raw bytes, or 64 hex / base64 characters.
        Defaults to the GLMOPS_ARTIFACT_KEY environment variable.
    overwrite : bool, default False
        Replace an existing artifact at ``path``.
    signer : Signer, optional
        Sign the model digest (recorded in the manifest). Defaults to the key
        in GLMOPS_SIGNING_KEY when it is set; unsigned otherwise.

    Returns
    -------
    ArtifactInfo
        Path, model digest, per-file SHA-256 and size on disk.
    """
    target = Path(path)
    where = str(target)
    if key is not None and not encrypt:
        raise ArtifactError("key= was given but encrypt=False; pass encrypt=True.", path=where)
    if not overwrite and os.path.lexists(target):
        raise ArtifactError(f"{target} exists; pass overwrite=True to replace it.", path=where)
    payload = {MODEL_FILE: _model_bytes(model, where), ARRAYS_FILE: _npz_bytes(arrays, where)}
    for name, data in (extra_files or {}).items():
        _check_file_name(name, where)
        if not isinstance(data, bytes):
            raise ArtifactError(f"Extra file {name!r} must be bytes.", path=where)
        payload[name] = data
    volatile_names = set(volatile)
    if volatile_names & {MODEL_FILE, ARRAYS_FILE}:
        raise ArtifactError("model.json and arrays.npz cannot be volatile.", path=where)
    plain_sha = {name: _sha256(data) for name, data in payload.items()}
    stored, encryption = payload, None
    if encrypt:
        raw_key = _resolve_key(key, where)
        if raw_key is None:
            raise DecryptionError(
                f"encrypt=True needs key= or the {KEY_ENV_VAR} env var.", path=where
            )
        stored = {name: _encrypt(raw_key, name, data) for name, data in payload.items()}
        encryption = {"algorithm": _ALGORITHM, "key_id": _key_id(raw_key)}
    files: dict[str, dict[str, Any]] = {}
    for name, data in stored.items():
        files[name] = {"sha256": _sha256(data), "size": len(data)}
        if encrypt:
            files[name]["plain_sha256"] = plain_sha[name]
    digest_files = sorted(name for name in payload if name not in volatile_names)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "files": files,
        "digest": _model_digest({name: plain_sha[name] for name in digest_files}),
        "digest_files": digest_files,
        "encrypted": encrypt,
        "encryption": encryption,
    }
    signer = signer or signer_from_env()
    if signer is not None:
        manifest["signature"] = signer.sign(str(manifest["digest"]))
    stored = {**stored, MANIFEST_FILE: json.dumps(manifest, indent=2, sort_keys=True).encode()}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if _is_zip(target):
            _write_zip(target, stored, overwrite=overwrite)
            size = target.stat().st_size
        else:
            _write_dir(target, stored, overwrite=overwrite)
            size = sum(len(data) for data in stored.values())
    except OSError as exc:
        raise ArtifactError(f"Cannot write artifact {target}: {exc}", path=where) from exc
    logger.info("wrote artifact %s (digest %s)", target, manifest["digest"])
    return ArtifactInfo(
        path=target,
        digest=str(manifest["digest"]),
        files={name: str(entry["sha256"]) for name, entry in sorted(files.items())},
        size_bytes=size,
    )


def content_digest(model: dict[str, Any], arrays: Mapping[str, npt.NDArray[Any]]) -> str:
    """Return the model digest an artifact of ``model`` and ``arrays`` will have.

    The digest covers ``model.json`` and ``arrays.npz`` only (both written
    deterministically), so it is known before writing: a report or model card
    can quote it. Equals :attr:`ArtifactInfo.digest` when no non-volatile
    extra files are added.

    Parameters
    ----------
    model : dict
        JSON-serialisable model description.
    arrays : mapping of str to ndarray
        The model's arrays.

    Returns
    -------
    str
        Hex SHA-256 model digest.
    """
    where = "<memory>"
    plain = {
        MODEL_FILE: _sha256(_model_bytes(model, where)),
        ARRAYS_FILE: _sha256(_npz_bytes(arrays, where)),
    }
    return _model_digest(plain)


def read_artifact(
    path: PathArg,
    *,
    key: bytes | str | None = None,
    verify: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedArtifact:
    """Read an artifact after checking every file against its manifest.

    Nothing is parsed before the manifest, the file list, the sizes and the
    SHA-256 digests check out; arrays load with ``allow_pickle=False``.

    Parameters
    ----------
    path : str or PathLike
        Artifact directory or ``.zip``.
    key : bytes or str, optional
        Key of an encrypted artifact; defaults to GLMOPS_ARTIFACT_KEY.
    verify : bool, default True
        Compare SHA-256 digests; False skips them (sizes and file list are
        still checked).
    max_bytes : int, default 2 GiB
        Refuse artifacts, and arrays.npz, whose uncompressed size exceeds this.

    Returns
    -------
    LoadedArtifact
        Model dict, arrays, extra files, manifest and model digest.
    """
    target = Path(path)
    stored = _read_files(target, max_bytes)
    return load_stored(stored, target, key=key, verify=verify, max_bytes=max_bytes)


def read_stored(path: PathArg, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, bytes]:
    """Read every stored file of an artifact once, as bytes by name (nothing verified yet).

    Names, file types, the number of entries (:data:`MAX_ENTRIES`) and the
    total uncompressed size are checked before a byte is decompressed: an
    upload is read once with this, verified with :func:`load_stored`, and
    stored from the same bytes.

    Parameters
    ----------
    path : str or PathLike
        Artifact directory or ``.zip``.
    max_bytes : int, default 2 GiB
        Refuse artifacts whose uncompressed size exceeds this.

    Returns
    -------
    dict of str to bytes
        The stored (possibly encrypted) bytes of each file, MANIFEST.json included.
    """
    return _read_files(Path(path), max_bytes)


def load_stored(
    stored: Mapping[str, bytes],
    path: PathArg,
    *,
    key: bytes | str | None = None,
    verify: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedArtifact:
    """Verify and parse files read by :func:`read_stored`, as :func:`read_artifact` does.

    Parameters
    ----------
    stored : mapping of str to bytes
        The artifact's stored files by name.
    path : str or PathLike
        Where they were read from (for messages).
    key : bytes or str, optional
        Key of an encrypted artifact; defaults to GLMOPS_ARTIFACT_KEY.
    verify : bool, default True
        Compare SHA-256 digests.
    max_bytes : int, default 2 GiB
        Refuse an arrays.npz whose uncompressed size exceeds this.

    Returns
    -------
    LoadedArtifact
    """
    target = Path(path)
    manifest, blobs, digest = _check_stored(dict(stored), target, verify=verify, report=_raise)
    if manifest["encrypted"]:
        blobs = _decrypt(blobs, manifest, key, target, verify=verify)
    model = _parse_model(blobs.pop(MODEL_FILE), target)
    arrays = _parse_arrays(blobs.pop(ARRAYS_FILE), target, max_bytes)
    return LoadedArtifact(model, arrays, blobs, manifest, digest, target)


def verify_artifact(path: PathArg, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """List the problems of an artifact, without needing its key.

    Parameters
    ----------
    path : str or PathLike
        Artifact directory or ``.zip``; it must exist.
    max_bytes : int, default 2 GiB
        Refuse artifacts, and arrays.npz, whose uncompressed size exceeds this.

    Returns
    -------
    list of str
        One message per problem; empty when the artifact is sound.
    """
    target = Path(path)
    if not os.path.lexists(target):
        raise ArtifactError(f"No artifact at {target}.", path=str(target))
    problems: list[str] = []

    def note(exc: ArtifactError) -> None:
        problems.append(str(exc))

    try:
        manifest, blobs, _ = _checked(target, max_bytes, verify=True, report=note)
        if not problems:
            _parse_plain(manifest, blobs, target, max_bytes)
    except ArtifactError as exc:
        note(exc)
    return problems


def check_stored(
    stored: Mapping[str, bytes], path: PathArg, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> str:
    """Verify files read by :func:`read_stored` as :func:`verify_artifact` does (no key
    needed); return the model digest, or raise the first problem.

    Parameters
    ----------
    stored : mapping of str to bytes
        The artifact's stored files by name.
    path : str or PathLike
        Where they were read from (for messages).
    max_bytes : int, default 2 GiB
        Refuse an arrays.npz whose uncompressed size exceeds this.

    Returns
    -------
    str
        Hex SHA-256 model digest.
    """
    target = Path(path)
    manifest, blobs, digest = _check_stored(dict(stored), target, verify=True, report=_raise)
    _parse_plain(manifest, blobs, target, max_bytes)
    return digest


def _parse_plain(
    manifest: dict[str, Any], blobs: dict[str, bytes], target: Path, max_bytes: int
) -> None:
    """Parse model.json and arrays.npz of an unencrypted artifact (they must load)."""
    if not manifest["encrypted"]:
        _parse_model(blobs[MODEL_FILE], target)
        _parse_arrays(blobs[ARRAYS_FILE], target, max_bytes)


def artifact_digest(path: PathArg) -> str:
    """Return the model digest of an artifact after verifying its files.

    Parameters
    ----------
    path : str or PathLike
        Artifact directory or ``.zip``.

    Returns
    -------
    str
        Hex SHA-256 model digest recorded in MANIFEST.json.
    """
    return _checked(Path(path), DEFAULT_MAX_BYTES, verify=True, report=_raise)[2]


# ---------------------------------------------------------------- writing


def sign_artifact(path: PathArg, signer: Signer) -> str:
    """Sign an existing artifact's model digest in place; return the digest.

    Every file is verified first; only MANIFEST.json changes (rewritten
    atomically and synced), so the digest and every file hash stay the same.
    """
    target = Path(path)
    manifest, _, digest = _checked(target, DEFAULT_MAX_BYTES, verify=True, report=_raise)
    manifest["signature"] = signer.sign(digest)
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    where = str(target)
    try:
        if target.is_dir():
            tmp = target / f".{MANIFEST_FILE}.tmp-{os.getpid()}"
            tmp.write_bytes(data)
            replace_durably(tmp, target / MANIFEST_FILE)
        else:
            files = _read_files(target, DEFAULT_MAX_BYTES)
            files[MANIFEST_FILE] = data
            _write_zip(target, files, overwrite=True)
    except OSError as exc:
        raise ArtifactError(f"Cannot sign artifact {target}: {exc}", path=where) from exc
    return digest


def verify_artifact_signature(path: PathArg, trusted: Iterable[Verifier]) -> str:
    """Verify every file of an artifact and its signature; return the model digest.

    Raises :class:`~glmops.errors.SignatureError` when it is unsigned, signed
    by an untrusted key, or its content changed after signing.
    """
    target = Path(path)
    manifest, _, digest = _checked(target, DEFAULT_MAX_BYTES, verify=True, report=_raise)
    verify_signature(manifest.get("signature"), digest, trusted, str(target))
    return digest


def _model_bytes(model: dict[str, Any], where: str) -> bytes:
    if not isinstance(model, dict):
        raise ArtifactError(f"model must be a dict, got {type(model).__name__}.", path=where)
    _check_json(model, "model", where)
    try:
        text = json.dumps(
            model, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"model is not JSON-serialisable: {exc}", path=where) from exc
    return text.encode("utf-8")


def _check_json(value: Any, at: str, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"{at} is {value}; model.json holds finite numbers only (convert it, e.g. to None)."
        raise ArtifactError(msg, path=where)
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ArtifactError(f"{at} has key {k!r}; keys must be strings.", path=where)
            _check_json(v, f"{at}[{k!r}]", where)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_json(v, f"{at}[{i}]", where)


def _npz_bytes(arrays: Mapping[str, npt.NDArray[Any]], where: str) -> bytes:
    checked = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or any(c in name for c in "/\\\0"):
            raise ArtifactError(f"Array name {name!r} must be a non-empty plain name.", path=where)
        arr = np.asarray(value)
        if arr.dtype.kind not in _ARRAY_KINDS:
            msg = f"Array {name!r} has dtype {arr.dtype}; only bool, numeric and '<U' arrays."
            raise ArtifactError(msg, path=where)
        checked[name] = arr
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(checked):
            arr = checked[name]
            info = _zip_info(f"{name}.npy", zipfile.ZIP_STORED)
            with zf.open(info, "w", force_zip64=arr.nbytes > 2**30) as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=False)
    return buffer.getvalue()


def _zip_info(name: str, compress_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = compress_type
    info.create_system = 3  # unix, whatever the platform: same bytes everywhere
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    return info


def _write_dir(target: Path, files: Mapping[str, bytes], *, overwrite: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        for name in sorted(files):
            with open(tmp / name, "xb") as fh:
                fh.write(files[name])
                fh.flush()
                os.fsync(fh.fileno())
        tmp.chmod(0o755)
        fsync_dir(tmp)
        if not os.path.lexists(target):
            os.rename(tmp, target)
        else:
            _check_replaceable(target, overwrite=overwrite)
            _swap_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(target.parent)


def _swap_dir(tmp: Path, target: Path) -> None:
    """Rename target aside, tmp in, then delete the old one; undo on failure."""
    trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    aside = trash / target.name
    moved = False
    try:
        os.rename(target, aside)
        moved = True
        os.rename(tmp, target)
    except BaseException:
        if moved:
            try:
                os.rename(aside, target)
            except OSError:
                logger.error("could not restore %s; the old artifact is at %s", target, aside)
                raise
        trash.rmdir()
        raise
    shutil.rmtree(trash, ignore_errors=True)


def _write_zip(target: Path, files: Mapping[str, bytes], *, overwrite: bool) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w") as zf:
                for entry in sorted(files):
                    zf.writestr(_zip_info(entry, zipfile.ZIP_DEFLATED), files[entry])
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o644)
        if os.path.lexists(target):
            _check_replaceable(target, overwrite=overwrite)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def _check_replaceable(target: Path, *, overwrite: bool) -> None:
    where = str(target)
    if not overwrite:
        raise ArtifactError(f"{target} exists; pass overwrite=True to replace it.", path=where)
    is_artifact = (target.is_dir() and (target / MANIFEST_FILE).is_file()) or (
        target.is_file() and zipfile.is_zipfile(target)
    )
    if target.is_symlink() or not is_artifact:
        msg = f"Refusing to overwrite {target}: it is not a glmops artifact."
        raise ArtifactError(msg, path=where)


# ---------------------------------------------------------------- reading


def _read_files(target: Path, max_bytes: int) -> dict[str, bytes]:
    """Return every file of a directory or zip artifact by name, refusing odd entries."""
    where = str(target)
    if not os.path.lexists(target):
        raise ArtifactError(f"No artifact at {target}.", path=where)
    if target.is_dir() and not target.is_symlink():
        with os.scandir(target) as entries:
            listed = list(itertools.islice(entries, MAX_ENTRIES + 1))
        _check_entries(len(listed), where)
        stats = {e.name: e.stat(follow_symlinks=False) for e in listed}
        for name, st in stats.items():
            if not stat.S_ISREG(st.st_mode):
                msg = f"{name} in {target} is not a regular file; refused."
                raise ArtifactError(msg, path=str(target / name))
        _check_total(sum(st.st_size for st in stats.values()), max_bytes, where)
        nofollow = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        files = {}
        for name in stats:
            with os.fdopen(os.open(target / name, nofollow), "rb") as fh:
                files[name] = fh.read()
        return files
    try:
        with open(target, "rb") as fh:
            _check_entries(_declared_entries(fh), where)  # before zipfile lists them all
            with zipfile.ZipFile(fh) as zf:
                infos = _zip_entries(zf, where, max_bytes)
                return {name: zf.read(info) for name, info in infos.items()}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError) as exc:
        msg = f"{target} is neither a directory nor a readable zip: {exc}"
        raise ArtifactError(msg, path=where) from exc


def _declared_entries(fh: io.BufferedReader) -> int:
    """Return the entry count a zip's end-of-central-directory record declares (0 when
    there is none: zipfile refuses the file then).

    Read from the last 64 KiB, so a central directory of millions of entries is
    refused before zipfile builds an object for each.
    """
    size = fh.seek(0, os.SEEK_END)
    tail_size = min(size, 22 + 0xFFFF)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return 0
    count = int.from_bytes(tail[at + 10 : at + 12], "little")
    return MAX_ENTRIES + 1 if count == 0xFFFF else count  # 0xFFFF: a ZIP64 count


def _check_entries(count: int, where: str) -> None:
    if count > MAX_ENTRIES:
        msg = f"{where} holds more than {MAX_ENTRIES} entries; an artifact has a few files."
        raise ArtifactError(msg, path=where)


def _zip_entries(zf: zipfile.ZipFile, where: str, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    _check_entries(len(zf.infolist()), where)
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        posix = name.replace("\\", "/")
        if posix.startswith("/") or (len(name) > 1 and name[1] == ":"):
            problem = "has an absolute path"
        elif ".." in PurePosixPath(posix).parts:
            problem = "escapes the archive ('..')"
        elif info.is_dir():
            problem = "is a directory"
        elif stat.S_ISLNK(info.external_attr >> 16):
            problem = "is a symbolic link"
        elif "/" in posix:
            problem = "is nested in a folder"
        elif name in infos:
            problem = "is duplicated"
        else:
            infos[name] = info
            continue
        raise ArtifactError(f"Zip entry {name!r} in {where} {problem}; refused.", path=where)
    _check_total(sum(info.file_size for info in infos.values()), max_bytes, where)
    return infos


def _check_total(total: int, max_bytes: int, where: str) -> None:
    if total > max_bytes:
        msg = (
            f"{where} holds {total} bytes uncompressed, more than max_bytes={max_bytes} "
            "(pass a larger max_bytes to accept it)."
        )
        raise ArtifactError(msg, path=where)


def _checked(
    target: Path, max_bytes: int, *, verify: bool, report: _Report
) -> tuple[dict[str, Any], dict[str, bytes], str]:
    """Return manifest, stored bytes by name and model digest, reporting problems."""
    return _check_stored(_read_files(target, max_bytes), target, verify=verify, report=report)


def _check_stored(
    stored: dict[str, bytes], target: Path, *, verify: bool, report: _Report
) -> tuple[dict[str, Any], dict[str, bytes], str]:
    """Check files already read against their manifest (``stored`` loses the manifest)."""
    if MANIFEST_FILE not in stored:
        raise ArtifactError(f"{target} has no {MANIFEST_FILE}.", path=str(target / MANIFEST_FILE))
    manifest = _parse_manifest(stored.pop(MANIFEST_FILE), target)
    listed: dict[str, dict[str, Any]] = manifest["files"]
    for name in sorted(stored.keys() - listed.keys()):
        msg = f"{name} in {target} is not listed in {MANIFEST_FILE}; refused."
        report(ArtifactError(msg, path=str(target / name)))
    for name in sorted(listed.keys() - stored.keys()):
        msg = f"{name} is listed in {MANIFEST_FILE} but missing from {target}."
        report(ArtifactError(msg, path=str(target / name)))
    blobs = {}
    for name in sorted(listed.keys() & stored.keys()):
        data, want = stored[name], listed[name]
        sha, expected = (_sha256(data) if verify else want["sha256"]), want["sha256"]
        if len(data) != want["size"]:
            msg = (
                f"{name} in {target} has {len(data)} bytes; {MANIFEST_FILE} expects {want['size']}."
            )
            report(ChecksumMismatch(msg, path=str(target / name)))
        elif sha != expected:
            msg = f"{name} in {target} fails SHA-256: expected {expected[:12]}…, got {sha[:12]}…"
            report(ChecksumMismatch(msg, path=str(target / name)))
        else:
            blobs[name] = data
    plain = {
        n: listed[n].get("plain_sha256", listed[n]["sha256"]) for n in manifest["digest_files"]
    }
    digest = _model_digest(plain)
    if verify and digest != manifest["digest"]:
        msg = (
            f"{MANIFEST_FILE} of {target} records digest {manifest['digest'][:12]}…, "
            f"but its files give {digest[:12]}…"
        )
        report(ChecksumMismatch(msg, path=str(target / MANIFEST_FILE)))
    return manifest, blobs, digest


def _parse_manifest(data: bytes, target: Path) -> dict[str, Any]:
    where = str(target / MANIFEST_FILE)

    def bad(problem: str) -> NoReturn:
        raise ArtifactError(f"{MANIFEST_FILE} of {target} {problem}.", path=where)

    try:
        manifest = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        bad(f"is not valid JSON ({exc})")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        bad(f"is not a glmops manifest (format must be {FORMAT!r})")
    version = manifest.get("format_version")
    if type(version) is not int or version not in SUPPORTED_FORMAT_VERSIONS:
        msg = (
            f"{target} has format_version {version!r}; this glmops reads format "
            f"versions {sorted(SUPPORTED_FORMAT_VERSIONS)}."
        )
        raise UnsupportedFormatVersion(msg, path=where)
    files, encrypted = manifest.get("files"), manifest.get("encrypted")
    if not isinstance(files, dict) or not isinstance(encrypted, bool):
        bad("lacks a 'files' mapping or an 'encrypted' flag")
    hashes = ("sha256", "plain_sha256") if encrypted else ("sha256",)
    for name, entry in files.items():
        _check_file_name(name, where, allowed=(MODEL_FILE, ARRAYS_FILE))
        size = entry.get("size") if isinstance(entry, dict) else None
        if type(size) is not int or size < 0 or not all(_is_hex(entry.get(h)) for h in hashes):
            bad(f"has a malformed entry for {name!r}")
    digest_files = manifest.get("digest_files")
    if (
        not isinstance(digest_files, list)
        or not all(isinstance(name, str) for name in digest_files)
        or not {MODEL_FILE, ARRAYS_FILE} <= set(digest_files)
        or not set(digest_files) <= files.keys()
        or len(set(digest_files)) != len(digest_files)
        or not _is_hex(manifest.get("digest"))
    ):
        bad("has a malformed 'digest' or 'digest_files'")
    encryption = manifest.get("encryption")
    if encrypted and not (
        isinstance(encryption, dict)
        and encryption.get("algorithm") == _ALGORITHM
        and isinstance(encryption.get("key_id"), str)
    ):
        bad(f"is encrypted but its 'encryption' is not {_ALGORITHM} with a key_id")
    if "signature" in manifest and not isinstance(manifest["signature"], dict):
        bad("has a 'signature' that is not a record")
    return manifest


def _parse_model(data: bytes, target: Path) -> dict[str, Any]:
    where = str(target / MODEL_FILE)
    try:
        model = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArtifactError(
            f"{MODEL_FILE} of {target} is not valid JSON: {exc}", path=where
        ) from exc
    if not isinstance(model, dict):
        raise ArtifactError(f"{MODEL_FILE} of {target} is not a JSON object.", path=where)
    return model


def _parse_arrays(data: bytes, target: Path, max_bytes: int) -> dict[str, npt.NDArray[Any]]:
    where = str(target / ARRAYS_FILE)
    fmt = np.lib.format
    arrays: dict[str, npt.NDArray[Any]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for entry, info in sorted(_zip_entries(zf, where, max_bytes).items()):
                if not entry.endswith(".npy"):
                    raise ValueError(f"entry {entry!r} is not a .npy file")
                with zf.open(info) as fh:  # the header alone: dtype and shape, no data
                    version = fmt.read_magic(fh)
                    if version not in ((1, 0), (2, 0)):
                        raise ValueError(f"entry {entry!r} has .npy format version {version}")
                    read_header = fmt.read_array_header_1_0
                    if version == (2, 0):
                        read_header = fmt.read_array_header_2_0
                    shape, _, dtype = read_header(fh)
                nbytes = math.prod(shape) * dtype.itemsize
                if dtype.kind not in _ARRAY_KINDS or nbytes > info.file_size:
                    raise ValueError(f"entry {entry!r} has dtype {dtype} and shape {shape}")
                with zf.open(info) as fh:
                    arrays[entry.removesuffix(".npy")] = fmt.read_array(fh, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as exc:
        msg = f"{ARRAYS_FILE} of {target} cannot be loaded safely: {exc}"
        raise ArtifactError(msg, path=where) from exc
    return arrays


def _raise(exc: ArtifactError) -> NoReturn:
    raise exc


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not allowed")


# ---------------------------------------------------------------- hashing and keys


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _model_digest(plain_sha: Mapping[str, str]) -> str:
    """Hash sorted (name, SHA-256) pairs; names hold no NUL, digests are fixed-width."""
    h = hashlib.sha256()
    for name in sorted(plain_sha):
        h.update(f"{name}\0{plain_sha[name]}\n".encode())
    return h.hexdigest()


def _is_hex(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _is_zip(target: Path) -> bool:
    return target.suffix.lower() == ".zip"


def _check_file_name(name: Any, where: str, allowed: Iterable[str] = ()) -> None:
    if name in allowed:
        return
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or any(c in name for c in "/\\\0")
        or name.casefold() in _RESERVED
    ):
        msg = f"File name {name!r} must be a plain name (no '/', '\\\\' or '..'), not reserved."
        raise ArtifactError(msg, path=where)


def _key_id(raw_key: bytes) -> str:
    return hashlib.sha256(raw_key).hexdigest()[:16]


def _resolve_key(key: bytes | str | None, where: str) -> bytes | None:
    """Return the 32-byte key from ``key`` or GLMOPS_ARTIFACT_KEY, None when neither is set."""
    source = "key="
    if key is None:
        key, source = os.environ.get(KEY_ENV_VAR) or None, KEY_ENV_VAR
        if key is None:
            return None
    if isinstance(key, bytes) and len(key) == 32:
        return key
    text = (key.decode("ascii", "replace") if isinstance(key, bytes) else key).strip()
    raw = b""
    if len(text) == 64 and _is_hex(text.lower()):
        raw = bytes.fromhex(text)
    else:
        with contextlib.suppress(binascii.Error, ValueError):
            altchars = b"-_" if ("-" in text or "_" in text) else None
            raw = base64.b64decode(text, altchars=altchars, validate=True)
    if len(raw) != 32:
        msg = (
            f"The key from {source} must be 32 bytes: 64 hex characters or base64 "
            f"(got {len(text)} characters that do not decode to 32 bytes)."
        )
        raise DecryptionError(msg, path=where)
    return raw


def _encrypt(raw_key: bytes, name: str, data: bytes) -> bytes:
    # cryptography is imported here and in _decrypt, for encrypted artifacts only: ~20 ms
    # of a server's start-up otherwise
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(raw_key).encrypt(nonce, data, name.encode())


def _decrypt(
    blobs: dict[str, bytes],
    manifest: dict[str, Any],
    key: bytes | str | None,
    target: Path,
    *,
    verify: bool,
) -> dict[str, bytes]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    where = str(target)
    raw_key = _resolve_key(key, where)
    if raw_key is None:
        msg = f"{target} is encrypted; pass key= or set the {KEY_ENV_VAR} environment variable."
        raise DecryptionError(msg, path=where)
    have, need = _key_id(raw_key), manifest["encryption"]["key_id"]
    if have != need:
        msg = f"Cannot decrypt {target}: wrong key (key id {have}, artifact needs key id {need})."
        raise DecryptionError(msg, path=where)
    aes, plain = AESGCM(raw_key), {}
    for name, blob in blobs.items():
        try:
            data = aes.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], name.encode())
        except InvalidTag as exc:
            msg = f"Cannot decrypt {name} of {target}: authentication failed (file altered)."
            raise DecryptionError(msg, path=str(target / name)) from exc
        if verify and _sha256(data) != manifest["files"][name]["plain_sha256"]:
            msg = f"{name} of {target} decrypts to bytes whose SHA-256 differs from the manifest."
            raise ChecksumMismatch(msg, path=str(target / name))
        plain[name] = data
    return plain
