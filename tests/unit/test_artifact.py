"""Model artifacts: round trips, determinism, tampering, hostile payloads, atomicity."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import pathlib
import pickle
import re
import stat
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from glmops.artifact import (
    FORMAT_VERSION,
    KEY_ENV_VAR,
    SUPPORTED_FORMAT_VERSIONS,
    artifact_digest,
    read_artifact,
    verify_artifact,
    write_artifact,
)
from glmops.errors import ArtifactError, ChecksumMismatch, DecryptionError, UnsupportedFormatVersion

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
EXTRA = {"run.json": b'{"fit_seconds": 1.5}', "report.html": b"<h1>r\xc3\xa9sum\xc3\xa9</h1>"}
Files = dict[str, bytes]


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)


def _model(alpha: float = 0.5) -> dict[str, Any]:
    return {
        "task": "régression",
        "classes": None,
        "hyper": {"alpha": alpha, "l1_ratio": 1.0, "tags": ["日本", "ñ"]},
        "cv": {"scores": [[0.1, 0.2], [0.3, -1e-300]], "best": 1},
    }


def _arrays() -> dict[str, np.ndarray]:
    return {
        "coef": np.linspace(-1.0, 1.0, 7),
        "support": np.array([3, -2, 2**40], dtype=np.int64),
        "mask": np.array([[True, False], [False, True]]),
        "features": np.array(["âge", "revenu", "x"]),
        "intercept": np.array(0.25),
        "empty": np.zeros((0, 3)),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }


def _write(path: Path, **kwargs: Any) -> Any:
    kwargs.setdefault("extra_files", EXTRA)
    return write_artifact(path, kwargs.pop("model", _model()), _arrays(), **kwargs)


def _files(path: Path) -> Files:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def _put(path: Path, files: Files) -> None:
    """Replace the artifact's content by ``files``, as an attacker with write access could."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
        return
    for p in path.iterdir():
        p.unlink()
    for name, data in files.items():
        (path / name).write_bytes(data)


def _mutate(path: Path, change: Callable[[Files], None]) -> None:
    files = _files(path)
    change(files)
    _put(path, files)


def _reseal(files: Files) -> None:
    """Recompute the manifest's sizes, hashes and digest so every checksum passes."""
    manifest = json.loads(files["MANIFEST.json"])
    manifest["files"] = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in files.items()
        if name != "MANIFEST.json"
    }
    manifest["digest_files"] = sorted(manifest["files"])
    manifest["digest"] = _digest({n: e["sha256"] for n, e in manifest["files"].items()})
    manifest["encrypted"], manifest["encryption"] = False, None
    files["MANIFEST.json"] = json.dumps(manifest).encode()


def _digest(shas: dict[str, str]) -> str:
    """Model digest as documented: SHA-256 over sorted 'name NUL sha256 LF' lines."""
    return hashlib.sha256(b"".join(f"{n}\0{shas[n]}\n".encode() for n in sorted(shas))).hexdigest()


def _flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _assert_content(loaded: Any) -> None:
    assert loaded.model == _model()
    assert loaded.extra_files == EXTRA
    expected = _arrays()
    assert sorted(loaded.arrays) == sorted(expected)
    for name, arr in expected.items():
        assert loaded.arrays[name].dtype == arr.dtype, name
        assert loaded.arrays[name].shape == arr.shape, name
        np.testing.assert_array_equal(loaded.arrays[name], arr)


# ------------------------------------------------------------------ round trip


@pytest.mark.parametrize("name", ["model", "model.zip", "model.ZIP"])
@pytest.mark.parametrize("encrypt", [False, True])
def test_round_trip_gives_same_content_and_digest(tmp_path: Path, name: str, encrypt: bool) -> None:
    reference = _write(tmp_path / "reference")
    key = KEY if encrypt else None
    info = _write(tmp_path / name, encrypt=encrypt, key=key)
    loaded = read_artifact(tmp_path / name, key=key)
    _assert_content(loaded)
    assert info.digest == loaded.digest == reference.digest == artifact_digest(tmp_path / name)
    assert loaded.manifest["format_version"] == FORMAT_VERSION in SUPPORTED_FORMAT_VERSIONS
    assert loaded.manifest["encrypted"] is encrypt
    assert verify_artifact(tmp_path / name) == []
    if name == "model":
        assert info.size_bytes == sum(len(b) for b in _files(tmp_path / name).values())
    else:
        assert info.size_bytes == (tmp_path / name).stat().st_size


def test_manifest_lists_every_file_and_documented_digest(tmp_path: Path) -> None:
    info = _write(tmp_path / "m")
    files = _files(tmp_path / "m")
    manifest = json.loads(files.pop("MANIFEST.json"))
    assert manifest["format"] == "glmops-artifact"
    assert set(manifest["files"]) == set(files) == set(info.files)
    for name, data in files.items():
        assert manifest["files"][name] == {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
    assert manifest["digest_files"] == ["arrays.npz", "model.json", "report.html"]
    shas = {n: manifest["files"][n]["sha256"] for n in manifest["digest_files"]}
    assert manifest["digest"] == info.digest == _digest(shas)
    assert json.loads(files["model.json"]) == _model()
    with np.load(io.BytesIO(files["arrays.npz"]), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["coef"], _arrays()["coef"])


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("name", ["model", "model.zip"])
def test_two_writes_are_byte_identical(tmp_path: Path, name: str) -> None:
    a = _write(tmp_path / "a" / name)
    b = _write(tmp_path / "b" / name)
    assert a.digest == b.digest
    assert a.files == b.files
    assert _files(tmp_path / "a" / name) == _files(tmp_path / "b" / name)
    if name.endswith(".zip"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_volatile_file_changes_files_but_not_digest(tmp_path: Path) -> None:
    a = _write(tmp_path / "a")
    b = _write(tmp_path / "b", extra_files={**EXTRA, "run.json": b'{"fit_seconds": 9.0}'})
    assert a.files["run.json"] != b.files["run.json"]
    assert a.digest == b.digest
    c = _write(tmp_path / "c", extra_files=EXTRA, volatile=())
    assert c.digest != a.digest


def test_content_changes_change_digest(tmp_path: Path) -> None:
    base = _write(tmp_path / "a").digest
    assert _write(tmp_path / "b", model=_model(alpha=0.25)).digest != base
    assert _write(tmp_path / "c", extra_files={**EXTRA, "report.html": b"x"}).digest != base
    arrays = {**_arrays(), "coef": np.linspace(-1.0, 1.0, 8)}
    assert write_artifact(tmp_path / "d", _model(), arrays, EXTRA).digest != base


# ------------------------------------------------------------------ tampering


def _set_manifest(key: str, value: Any) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        manifest = json.loads(files["MANIFEST.json"])
        manifest[key] = value
        files["MANIFEST.json"] = json.dumps(manifest).encode()

    return change


def _flip_digest(files: Files) -> None:
    manifest = json.loads(files["MANIFEST.json"])
    digest = manifest["digest"]
    manifest["digest"] = ("1" if digest[0] == "0" else "0") + digest[1:]
    files["MANIFEST.json"] = json.dumps(manifest).encode()


TAMPERING: dict[str, tuple[Callable[[Files], None], type[ArtifactError], str]] = {
    "flip model.json": (
        lambda f: f.update({"model.json": _flip(f["model.json"])}),
        ChecksumMismatch,
        "model.json",
    ),
    "flip arrays.npz": (
        lambda f: f.update({"arrays.npz": _flip(f["arrays.npz"])}),
        ChecksumMismatch,
        "arrays.npz",
    ),
    "flip extra file": (
        lambda f: f.update({"report.html": _flip(f["report.html"])}),
        ChecksumMismatch,
        "report.html",
    ),
    "flip volatile file": (
        lambda f: f.update({"run.json": _flip(f["run.json"])}),
        ChecksumMismatch,
        "run.json",
    ),
    "flip manifest digest": (_flip_digest, ChecksumMismatch, "MANIFEST.json"),
    "flip manifest syntax": (
        lambda f: f.update({"MANIFEST.json": _flip(f["MANIFEST.json"], at=0)}),
        ArtifactError,
        "MANIFEST.json",
    ),
    "truncate arrays.npz": (
        lambda f: f.update({"arrays.npz": f["arrays.npz"][:-10]}),
        ChecksumMismatch,
        "arrays.npz",
    ),
    "unexpected file": (lambda f: f.update({"extra.py": b"import os"}), ArtifactError, "extra.py"),
    "missing file": (lambda f: f.pop("report.html"), ArtifactError, "report.html"),
    "missing manifest": (lambda f: f.pop("MANIFEST.json"), ArtifactError, "MANIFEST.json"),
    "unknown format_version": (
        _set_manifest("format_version", 99),
        UnsupportedFormatVersion,
        "format_version 99; this glmops reads format versions [1]",
    ),
    "path in manifest": (
        _set_manifest("files", {"../model.json": {"sha256": "0" * 64, "size": 1}}),
        ArtifactError,
        "../model.json",
    ),
}


@pytest.mark.parametrize("name", ["model", "model.zip"])
@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_refused_and_reported(tmp_path: Path, name: str, case: str) -> None:
    change, error, fragment = TAMPERING[case]
    path = tmp_path / name
    _write(path)
    _put(path, _files(path))  # a plain rewrite by the test helpers changes nothing
    assert verify_artifact(path) == []
    _mutate(path, change)
    with pytest.raises(error, match=re.escape(fragment)) as exc_info:
        read_artifact(path)
    assert exc_info.value.path.startswith(str(path))
    if error is ChecksumMismatch:
        assert exc_info.value.path == str(path / fragment)
    with pytest.raises(error, match=re.escape(fragment)):
        artifact_digest(path)
    problems = verify_artifact(path)
    assert any(fragment in problem for problem in problems), problems


def test_verify_reports_every_problem(tmp_path: Path) -> None:
    _write(tmp_path / "m")
    (tmp_path / "m" / "report.html").write_bytes(b"changed")
    (tmp_path / "m" / "run.json").unlink()
    (tmp_path / "m" / "notes.txt").write_bytes(b"hi")
    problems = verify_artifact(tmp_path / "m")
    assert len(problems) == 3
    assert all(any(n in p for p in problems) for n in ("report.html", "run.json", "notes.txt"))


def test_verify_and_read_need_an_existing_path(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="No artifact"):
        verify_artifact(tmp_path / "nope")
    with pytest.raises(ArtifactError, match="No artifact"):
        read_artifact(tmp_path / "nope.zip")


def test_symlink_inside_directory_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "m", extra_files={})
    (tmp_path / "secret").write_bytes(b"s")
    (tmp_path / "m" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(ArtifactError, match="link"):
        read_artifact(tmp_path / "m")
    assert verify_artifact(tmp_path / "m")


# ------------------------------------------------------------------ hostile payloads


class _Touch:
    """Unpickling this object calls pathlib.Path.touch(target): code execution."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return (pathlib.Path.touch, (self.target,))


def _pickled_npy(target: Path) -> bytes:
    arr = np.empty(1, dtype=object)
    arr[0] = _Touch(target)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, arr, allow_pickle=True)
    return buffer.getvalue()


def _npz(entries: Files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_pickle_payload_is_live(tmp_path: Path) -> None:
    """Control: the payload used below does run code when pickle is allowed."""
    control = tmp_path / "control"
    np.lib.format.read_array(io.BytesIO(_pickled_npy(control)), allow_pickle=True)
    assert control.exists()


PAYLOADS: dict[str, tuple[str, Callable[[Path], bytes]]] = {
    "object array in npz": ("arrays.npz", lambda t: _npz({"coef.npy": _pickled_npy(t)})),
    "pickle as npz entry": ("arrays.npz", lambda t: _npz({"coef.npy": pickle.dumps(_Touch(t))})),
    "pickle as arrays.npz": ("arrays.npz", lambda t: pickle.dumps(_Touch(t))),
    "npy as arrays.npz": ("arrays.npz", _pickled_npy),
    "pickle as model.json": ("model.json", lambda t: pickle.dumps(_Touch(t))),
    "ascii pickle as model.json": ("model.json", lambda t: pickle.dumps(_Touch(t), protocol=0)),
    "NaN in model.json": ("model.json", lambda t: b'{"alpha": NaN}'),
    "list as model.json": ("model.json", lambda t: b"[1, 2]"),
    "structured array": (
        "arrays.npz",
        lambda t: _npz({"s.npy": _npy(np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]))}),
    ),
}


def _npy(arr: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, arr)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["model", "model.zip"])
@pytest.mark.parametrize("case", sorted(PAYLOADS))
def test_hostile_payload_with_valid_checksums_is_refused(
    tmp_path: Path, name: str, case: str
) -> None:
    victim, payload = PAYLOADS[case]
    path, marker = tmp_path / name, tmp_path / "pwned"

    def plant(files: Files) -> None:
        files[victim] = payload(marker)
        _reseal(files)

    _write(path)
    _mutate(path, plant)
    with pytest.raises(ArtifactError, match=re.escape(victim)):
        read_artifact(path)
    problems = verify_artifact(path)
    assert len(problems) == 1 and victim in problems[0]
    assert not marker.exists()


def test_npy_header_claiming_huge_shape_is_refused(tmp_path: Path) -> None:
    """A tiny entry whose header claims 80 TB must not reach np.empty."""
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**13,)}
    np.lib.format.write_array_header_1_0(buffer, header)
    huge = buffer.getvalue() + bytes(16)

    def plant(files: Files) -> None:
        files["arrays.npz"] = _npz({"coef.npy": huge})
        _reseal(files)

    _write(tmp_path / "m")
    _mutate(tmp_path / "m", plant)
    with pytest.raises(ArtifactError, match=r"arrays\.npz"):
        read_artifact(tmp_path / "m")


# ------------------------------------------------------------------ encryption


def test_encrypted_files_hide_the_plaintext(tmp_path: Path) -> None:
    _write(tmp_path / "m", encrypt=True, key=KEY)
    files = _files(tmp_path / "m")
    assert "régression".encode() not in files["model.json"]
    manifest = json.loads(files["MANIFEST.json"])
    assert manifest["encryption"] == {"algorithm": "AES-256-GCM", "key_id": _key_id(KEY)}
    assert verify_artifact(tmp_path / "m") == []


def test_wrong_key_names_both_key_ids(tmp_path: Path) -> None:
    _write(tmp_path / "m", encrypt=True, key=KEY)
    match = f"wrong key (key id {_key_id(OTHER_KEY)}, artifact needs key id {_key_id(KEY)})"
    with pytest.raises(DecryptionError, match=re.escape(match)):
        read_artifact(tmp_path / "m", key=OTHER_KEY)


def test_missing_key_names_the_env_var(tmp_path: Path) -> None:
    _write(tmp_path / "m", encrypt=True, key=KEY)
    with pytest.raises(DecryptionError, match=f"encrypted.*{KEY_ENV_VAR}"):
        read_artifact(tmp_path / "m")
    with pytest.raises(DecryptionError, match=KEY_ENV_VAR):
        _write(tmp_path / "n", encrypt=True)
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize(
    "encoded", [KEY.hex(), KEY.hex().upper(), base64.b64encode(KEY).decode(), KEY.hex().encode()]
)
def test_key_from_env_in_hex_or_base64(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoded: str | bytes
) -> None:
    monkeypatch.setenv(KEY_ENV_VAR, encoded.decode() if isinstance(encoded, bytes) else encoded)
    _write(tmp_path / "m", encrypt=True)
    _assert_content(read_artifact(tmp_path / "m"))
    _assert_content(read_artifact(tmp_path / "m", key=encoded))
    _assert_content(read_artifact(tmp_path / "m", key=KEY))


@pytest.mark.parametrize(
    "bad", ["not-a-key", "00" * 31, base64.b64encode(b"x" * 16).decode(), b"short"]
)
def test_bad_key_format_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str | bytes
) -> None:
    with pytest.raises(DecryptionError, match="32 bytes: 64 hex characters or base64"):
        _write(tmp_path / "m", encrypt=True, key=bad)
    _write(tmp_path / "m", encrypt=True, key=KEY)
    monkeypatch.setenv(KEY_ENV_VAR, bad.decode() if isinstance(bad, bytes) else bad)
    with pytest.raises(DecryptionError, match=KEY_ENV_VAR):
        read_artifact(tmp_path / "m")


def test_key_without_encrypt_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="encrypt=True"):
        _write(tmp_path / "m", key=KEY)


@pytest.mark.parametrize("name", ["model", "model.zip"])
def test_tampered_ciphertext_fails_checksum_before_decryption(tmp_path: Path, name: str) -> None:
    _write(tmp_path / name, encrypt=True, key=KEY)
    _mutate(tmp_path / name, lambda f: f.update({"model.json": _flip(f["model.json"])}))
    with pytest.raises(ChecksumMismatch, match=r"model\.json"):
        read_artifact(tmp_path / name)  # no key given: the checksum fails first


def test_resealed_ciphertext_fails_authentication(tmp_path: Path) -> None:
    _write(tmp_path / "m", encrypt=True, key=KEY)

    def forge(files: Files) -> None:
        manifest = json.loads(files["MANIFEST.json"])
        files["model.json"] = _flip(files["model.json"])
        manifest["files"]["model.json"]["sha256"] = hashlib.sha256(files["model.json"]).hexdigest()
        files["MANIFEST.json"] = json.dumps(manifest).encode()

    _mutate(tmp_path / "m", forge)
    with pytest.raises(DecryptionError, match=r"model\.json.*authentication failed"):
        read_artifact(tmp_path / "m", key=KEY)


# ------------------------------------------------------------------ atomicity


def _listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


@pytest.mark.parametrize("name", ["model", "model.zip"])
def test_failure_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(ArtifactError, match="disk full"):
        _write(tmp_path / name)
    assert calls
    assert _listing(tmp_path) == []


def test_failing_npz_writer_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(RuntimeError, match="boom"):
        _write(tmp_path / "m")
    assert _listing(tmp_path) == []


def test_failing_rename_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_rename(src: Any, dst: Any) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(ArtifactError, match="rename failed"):
        _write(tmp_path / "m")
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("name", ["model", "model.zip"])
def test_existing_artifact_needs_overwrite(tmp_path: Path, name: str) -> None:
    old = _write(tmp_path / name)
    with pytest.raises(ArtifactError, match="overwrite=True"):
        _write(tmp_path / name, model=_model(alpha=2.0))
    assert artifact_digest(tmp_path / name) == old.digest
    new = _write(tmp_path / name, model=_model(alpha=2.0), overwrite=True)
    assert new.digest != old.digest
    assert read_artifact(tmp_path / name).model == _model(alpha=2.0)
    assert _listing(tmp_path) == [name]


@pytest.mark.parametrize("name", ["model", "model.zip"])
def test_failing_overwrite_keeps_old_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    old = _write(tmp_path / name)
    real_rename = os.rename

    def rename_new_in_fails(src: Any, dst: Any) -> None:
        if Path(src).name.startswith(f".{name}.tmp-"):
            raise OSError("rename failed")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename_new_in_fails)
    monkeypatch.setattr(os, "replace", rename_new_in_fails)
    with pytest.raises(ArtifactError, match="rename failed"):
        _write(tmp_path / name, model=_model(alpha=2.0), overwrite=True)
    monkeypatch.undo()
    assert artifact_digest(tmp_path / name) == old.digest
    assert verify_artifact(tmp_path / name) == []
    assert _listing(tmp_path) == [name]


def test_overwrite_refuses_a_non_artifact(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.csv").write_text("1,2")
    with pytest.raises(ArtifactError, match="not a glmops artifact"):
        _write(tmp_path / "data", overwrite=True)
    assert _listing(tmp_path / "data") == ["precious.csv"]


# ------------------------------------------------------------------ zip safety


def _zip_with(path: Path, entries: list[zipfile.ZipInfo | str]) -> None:
    _write(path)
    files = _files(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns on duplicate names
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
            for entry in entries:
                zf.writestr(entry, b"evil")


def _symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("../evil", "escapes the archive"),
        ("/etc/evil", "absolute path"),
        ("C:\\evil", "absolute path"),
        ("sub/evil", "nested"),
        ("sub/", "directory"),
        ("model.json", "duplicated"),
        (_symlink_entry(), "symbolic link"),
    ],
)
def test_unsafe_zip_entries_are_refused(
    tmp_path: Path, entry: zipfile.ZipInfo | str, problem: str
) -> None:
    _zip_with(tmp_path / "m.zip", [entry])
    with pytest.raises(ArtifactError, match=problem):
        read_artifact(tmp_path / "m.zip")
    assert any(problem in p for p in verify_artifact(tmp_path / "m.zip"))


def test_zip_bomb_guard(tmp_path: Path) -> None:
    _write(tmp_path / "m.zip")
    _write(tmp_path / "m")
    for path in (tmp_path / "m.zip", tmp_path / "m"):
        with pytest.raises(ArtifactError, match="max_bytes=1000"):
            read_artifact(path, max_bytes=1000)


def test_zip_bomb_inside_arrays_npz(tmp_path: Path) -> None:
    """arrays.npz is a zip too: a highly compressed entry is caught by its declared size."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("coef.npy", bytes(50_000_000))

    def plant(files: Files) -> None:
        files["arrays.npz"] = buffer.getvalue()
        _reseal(files)

    _write(tmp_path / "m")
    _mutate(tmp_path / "m", plant)
    with pytest.raises(ArtifactError, match="max_bytes=1000000"):
        read_artifact(tmp_path / "m", max_bytes=1_000_000)


def test_any_corrupted_byte_of_a_zip_is_caught_or_harmless(tmp_path: Path) -> None:
    """Flip bytes all over the raw zip: read either fails cleanly or returns the same model."""
    good = _write(tmp_path / "m.zip").digest
    raw = (tmp_path / "m.zip").read_bytes()
    outcomes = set()
    for at in range(0, len(raw), 5):
        (tmp_path / "m.zip").write_bytes(_flip(raw, at))
        try:
            loaded = read_artifact(tmp_path / "m.zip")
        except ArtifactError:
            outcomes.add("refused")
            assert verify_artifact(tmp_path / "m.zip")
        else:
            outcomes.add("harmless")
            assert loaded.digest == good
            _assert_content(loaded)
    assert "refused" in outcomes


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.zip").write_bytes(b"PK not really")
    with pytest.raises(ArtifactError, match="neither a directory nor a readable zip"):
        read_artifact(tmp_path / "m.zip")


# ------------------------------------------------------------------ refused on write


@pytest.mark.parametrize(
    ("model", "where"),
    [
        ({"cv": {"scores": [0.1, float("nan")]}}, "model['cv']['scores'][1]"),
        ({"alpha": float("inf")}, "model['alpha']"),
        ({"grid": [[1.0, -float("inf")]]}, "model['grid'][0][1]"),
        ({"hyper": {1: "x"}}, "model['hyper'] has key 1"),
        ({"coef": np.float32(1.0)}, "not JSON-serialisable"),
    ],
)
def test_model_that_json_cannot_hold_is_refused(
    tmp_path: Path, model: dict[str, Any], where: str
) -> None:
    with pytest.raises(ArtifactError, match=re.escape(where)):
        write_artifact(tmp_path / "m", model, _arrays())
    assert _listing(tmp_path) == []


@pytest.mark.parametrize(
    "arr",
    [
        np.array([{"a": 1}], dtype=object),
        np.array([1, "a"], dtype=object),
        np.zeros(2, dtype=[("a", "f8")]),
        np.array([b"bytes"]),
    ],
)
def test_non_numeric_array_is_refused(tmp_path: Path, arr: np.ndarray) -> None:
    with pytest.raises(ArtifactError, match=re.escape(f"dtype {arr.dtype}")):
        write_artifact(tmp_path / "m", _model(), {"bad": arr})
    assert _listing(tmp_path) == []


@pytest.mark.parametrize(
    "name", ["../run.json", "a/b", "a\\b", "..", "", "MANIFEST.json", "model.json", "Arrays.NPZ"]
)
def test_extra_file_names_must_be_plain(tmp_path: Path, name: str) -> None:
    with pytest.raises(ArtifactError, match="plain name"):
        write_artifact(tmp_path / "m", _model(), _arrays(), {name: b"x"})
    assert _listing(tmp_path) == []


def test_model_files_cannot_be_volatile(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="volatile"):
        _write(tmp_path / "m", volatile=("model.json",))
