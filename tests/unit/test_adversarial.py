"""What an attacker uploads to the registry (issue 14): each is refused, nothing is stored.

Real artifacts and a real registry on SQLite and PostgreSQL (``db_url``):
zip bombs (declared and actual expansion), traversal and absolute names,
symbolic links, 10k entries, unicode and newline model names, a tampered
artifact, an unsigned one under ``require_signature``. After each refusal
the registry holds nothing and registers a sound artifact as version 1.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.unit.registry.conftest import artifacts, db_url  # noqa: F401 (fixtures)

from glmops._signing import generate_ed25519
from glmops.artifact import MANIFEST_FILE, MAX_ENTRIES, MODEL_FILE
from glmops.errors import ArtifactError, InvalidInputError, SignatureError
from glmops.registry import Registry

_, PUBLIC = generate_ed25519()
MiB = 1024**2


@pytest.fixture
def registry(db_url: str, tmp_path: Path) -> Iterator[Registry]:  # noqa: F811
    reg = Registry(db_url, tmp_path / "store", actor="alice")
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture
def sound(artifacts: list[Path]) -> Path:  # noqa: F811
    return artifacts[0]


def _zip(
    source: Path, target: Path, extra: Callable[[zipfile.ZipFile], None] | None = None
) -> Path:
    """Zip an artifact directory's files, then let ``extra`` add hostile entries."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in sorted(source.iterdir()):
            zf.write(item, item.name)
        if extra is not None:
            extra(zf)
    return target


def _refused_and_nothing_stored(
    registry: Registry, sound: Path, attack: Path, error: type[Exception], match: str, **kw: object
) -> None:
    with pytest.raises(error, match=match):
        registry.register("churn", attack, **kw)  # type: ignore[arg-type]
    assert registry.list_models() == []
    assert list(registry.store.digests()) == []
    assert registry.register("churn", sound).version == 1  # usable afterwards


def _zeros(zf: zipfile.ZipFile, name: str, size: int) -> None:
    with zf.open(name, "w", force_zip64=True) as fh:
        chunk = bytes(MiB)
        for _ in range(size // MiB):
            fh.write(chunk)


def test_a_zip_bomb_is_refused_before_it_is_decompressed(registry, sound, tmp_path):
    """64 MiB of zeros in a 64 KiB zip; the cap follows the upload's (max_bytes)."""
    bomb = _zip(sound, tmp_path / "bomb.zip", lambda zf: _zeros(zf, "bomb.bin", 64 * MiB))
    assert bomb.stat().st_size < MiB
    _refused_and_nothing_stored(
        registry, sound, bomb, ArtifactError, "more than max_bytes", max_bytes=16 * MiB
    )


def test_a_declared_size_over_the_default_cap_is_refused(registry, sound, tmp_path):
    """The declared size alone (3 GiB, well over the 512 MiB default) refuses the upload."""
    bomb = _zip(sound, tmp_path / "lie.zip", lambda zf: zf.writestr("lie.bin", b"{}"))
    data = bytearray(bomb.read_bytes())
    at = data.rfind(b"PK\x01\x02")  # the last central-directory entry: lie.bin
    struct.pack_into("<I", data, at + 24, 3 * 1024**3)  # uncompressed size
    bomb.write_bytes(bytes(data))
    _refused_and_nothing_stored(registry, sound, bomb, ArtifactError, "more than max_bytes")


def test_an_entry_that_expands_past_its_declared_size_is_refused(registry, sound, tmp_path):
    bomb = _zip(sound, tmp_path / "liar.zip", lambda zf: _zeros(zf, "liar.bin", 8 * MiB))
    data = bytearray(bomb.read_bytes())
    at = data.rfind(b"PK\x01\x02")
    extra_at = at + 46 + struct.unpack_from("<H", data, at + 28)[0]
    # the zip64 extra field holds the real sizes: declare 100 bytes there instead
    struct.pack_into("<Q", data, extra_at + 4, 100)
    bomb.write_bytes(bytes(data))
    _refused_and_nothing_stored(registry, sound, bomb, ArtifactError, "(?i)crc|not listed|size")


@pytest.mark.parametrize(
    "name", ["../evil.json", "/tmp/evil.json", "C:evil.json", "sub/evil.json", "..\\evil.json"]
)
def test_traversal_and_absolute_names_are_refused(registry, sound, tmp_path, name):
    attack = _zip(sound, tmp_path / "traversal.zip", lambda zf: zf.writestr(name, b"{}"))
    _refused_and_nothing_stored(registry, sound, attack, ArtifactError, "refused|plain name")
    assert not (tmp_path / "evil.json").exists() and not Path("/tmp/evil.json").exists()


def test_a_symlink_entry_or_file_is_refused(registry, sound, tmp_path):
    def link(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")

    attack = _zip(sound, tmp_path / "link.zip", link)
    _refused_and_nothing_stored(registry, sound, attack, ArtifactError, "symbolic link")
    directory = tmp_path / "linked"
    shutil.copytree(sound, directory)
    (directory / "run.json").unlink()
    os.symlink("/etc/passwd", directory / "run.json")
    with pytest.raises(ArtifactError, match="not a regular file"):
        registry.register("churn", directory)


def test_ten_thousand_entries_are_refused_before_they_are_listed(registry, sound, tmp_path):
    def many(zf: zipfile.ZipFile) -> None:
        for i in range(10_000):
            zf.writestr(f"f{i}", b"")

    attack = _zip(sound, tmp_path / "many.zip", many)
    _refused_and_nothing_stored(registry, sound, attack, ArtifactError, f"{MAX_ENTRIES} entries")


@pytest.mark.parametrize("name", ["churn\n", "chürn", "churn\u202e", "ch urn", "../churn", ""])
def test_unicode_and_newline_model_names_are_refused(registry, sound, name):
    with pytest.raises(InvalidInputError, match=r"(?i)invalid model name"):
        registry.register(name, sound)
    assert registry.list_models() == [] and list(registry.store.digests()) == []
    assert registry.register("churn", sound).version == 1


def test_a_tampered_artifact_is_refused(registry, sound, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(sound, tampered)
    text = (tampered / MODEL_FILE).read_text().replace('"binary"', '"binarx"', 1)
    (tampered / MODEL_FILE).write_text(text)
    _refused_and_nothing_stored(registry, sound, tampered, ArtifactError, "SHA-256|bytes")
    zipped = _zip(tampered, tmp_path / "tampered.zip")
    with pytest.raises(ArtifactError, match=r"SHA-256|bytes"):
        registry.register("churn", zipped)
    assert registry.list_versions("churn")[-1].version == 1


def test_an_unsigned_artifact_is_refused_under_require_signature(db_url, sound, tmp_path):  # noqa: F811
    reg = Registry(
        db_url, tmp_path / "store", actor="alice", require_signature=True, trusted_keys=[PUBLIC]
    )
    with reg:
        with pytest.raises(SignatureError, match="not signed"):
            reg.register("churn", sound)
        assert reg.list_models() == [] and list(reg.store.digests()) == []
    assert (sound / MANIFEST_FILE).is_file()  # the source is left as it was
