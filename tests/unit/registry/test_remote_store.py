"""Artifacts under an fsspec URL: in memory, and on a real S3 endpoint (moto's server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmops.errors import ArtifactError, ChecksumMismatch, RegistryUnavailable
from glmops.registry import Registry
from glmops.registry.artifacts import (
    ArtifactStore,
    RemoteArtifactStore,
    open_store,
)
from glmops.serving.local_server import free_port

S3_KEYS = {"key": "testing", "secret": "testing"}


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A fresh prefix in fsspec's in-process memory file system."""
    import fsspec

    url = f"memory://glmops-{uuid.uuid4().hex[:10]}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


@pytest.fixture
def store(memory_url: str, tmp_path: Path) -> RemoteArtifactStore:
    return RemoteArtifactStore(memory_url, cache_dir=tmp_path / "cache")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint: moto's server in its own process."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto's S3 server did not start")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3_root(s3_endpoint: str) -> Iterator[tuple[str, dict[str, object]]]:
    """A new bucket on the S3 endpoint; returns (root URL, storage options)."""
    import s3fs

    options: dict[str, object] = {**S3_KEYS, "endpoint_url": s3_endpoint}
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    bucket = f"glmops-{uuid.uuid4().hex[:10]}"
    fs.mkdir(bucket)
    yield f"s3://{bucket}/models", options


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path / "a"), ArtifactStore)
    assert isinstance(open_store(f"file://{tmp_path}/b"), ArtifactStore)
    assert open_store(f"file://{tmp_path}/b").location == str(tmp_path / "b")
    assert isinstance(open_store("memory://x"), RemoteArtifactStore)


def test_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(ArtifactError, match=r"nosuchfs://bucket.*install the file system"):
        open_store("nosuchfs://bucket/models")


def test_put_fetch_and_reuse(store: RemoteArtifactStore, artifacts: list[Path]) -> None:
    digest, staged = store.put(artifacts[0])
    assert store.has(digest) and staged == store.cache.path_for(digest)
    assert list(store.digests()) == [digest]
    assert store.uri_for(digest) == f"{store.url}/{digest[:2]}/{digest}"
    assert store.local_path(digest) is None
    assert store.verify(digest) == []
    # a second put of the same artifact stores nothing new
    again, _ = store.put(artifacts[0])
    assert again == digest and list(store.digests()) == [digest]
    # an empty cache is filled from the remote copy, verified
    store.cache.remove(digest)
    fetched = store.fetch(digest)
    assert (fetched / "MANIFEST.json").is_file()
    assert store.verify(digest) == []


def test_a_zip_artifact_is_stored_as_files(
    store: RemoteArtifactStore, artifacts: list[Path], tmp_path: Path
) -> None:
    import shutil

    zipped = shutil.make_archive(str(tmp_path / "a"), "zip", artifacts[1])
    digest, _ = store.put(zipped)
    names = {p.rsplit("/", 1)[-1] for p in store.fs.ls(store._dir(digest), detail=False)}
    assert {"MANIFEST.json", "model.json", "arrays.npz"} <= names


def test_a_partial_upload_is_invisible_and_collected(
    store: RemoteArtifactStore, artifacts: list[Path]
) -> None:
    digest, _staged = store.put(artifacts[0])
    # simulate a crash before the manifest: data files present, manifest absent
    store.fs.rm_file(f"{store._dir(digest)}/MANIFEST.json")
    assert not store.has(digest)
    assert digest in list(store.digests())  # gc sees it
    assert store.age_s(digest) < 60
    assert "missing" in store.verify(digest)[0]
    store.remove(digest)
    assert list(store.digests()) == []
    assert not store.cache.has(digest)


def test_a_tampered_remote_byte_is_refused(
    store: RemoteArtifactStore, artifacts: list[Path]
) -> None:
    digest, _ = store.put(artifacts[0])
    path = f"{store._dir(digest)}/arrays.npz"
    data = bytearray(store.fs.cat_file(path))
    data[len(data) // 2] ^= 0x01
    store.fs.pipe_file(path, bytes(data))
    problems = store.verify(digest)
    assert problems and "arrays.npz" in " ".join(problems)
    store.cache.remove(digest)
    with pytest.raises(ChecksumMismatch, match=digest[:12]):
        store.fetch(digest)
    assert not store.cache.has(digest)  # a bad download is not kept


def test_a_tampered_cache_is_replaced_from_the_remote(
    store: RemoteArtifactStore, artifacts: list[Path]
) -> None:
    digest, staged = store.put(artifacts[0])
    manifest = json.loads((staged / "MANIFEST.json").read_text())
    assert "model.json" in manifest["files"]
    (staged / "model.json").write_text("{}")
    fetched = store.fetch(digest)
    assert store.verify(digest) == [] and json.loads((fetched / "model.json").read_text())


def test_a_manifest_naming_a_path_outside_is_refused(
    store: RemoteArtifactStore, artifacts: list[Path]
) -> None:
    digest, _ = store.put(artifacts[0])
    path = f"{store._dir(digest)}/MANIFEST.json"
    manifest = json.loads(store.fs.cat_file(path))
    manifest["files"]["../../escape"] = {"sha256": "0" * 64, "size": 1}
    store.fs.pipe_file(path, json.dumps(manifest).encode())
    store.cache.remove(digest)
    with pytest.raises(ChecksumMismatch, match="invalid file"):
        store.fetch(digest)


def test_registry_on_memory_url(
    db_url: str, memory_url: str, tmp_path: Path, artifacts: list[Path], monkeypatch
) -> None:
    monkeypatch.setenv("GLMOPS_ARTIFACT_CACHE", str(tmp_path / "cache-a"))
    with Registry(db_url, memory_url, actor="alice") as reg:
        info = reg.register("churn", artifacts[0])
        assert info.artifact_path is None
        assert info.artifact_uri.startswith(memory_url)
        reg.promote("churn", 1, reason="first")
    monkeypatch.setenv("GLMOPS_ARTIFACT_CACHE", str(tmp_path / "cache-b"))  # a fresh host
    with Registry(db_url, memory_url, actor="bob") as reg:
        model = reg.load("churn@champion")
        assert model.digest == info.digest
        assert reg.verify() == []
        assert reg.resolve("churn@1").to_dict()["artifact_uri"] == info.artifact_uri


def test_registry_on_s3(
    db_url: str,
    s3_root: tuple[str, dict[str, object]],
    tmp_path: Path,
    artifacts: list[Path],
    monkeypatch,
) -> None:
    url, options = s3_root
    monkeypatch.setenv("GLMOPS_ARTIFACT_CACHE", str(tmp_path / "cache-a"))
    with Registry(db_url, url, actor="alice", artifact_options=options) as reg:
        one = reg.register("churn", artifacts[0])
        two = reg.register("churn", artifacts[1])
        reg.promote("churn", 1, reason="first")
        assert two.artifact_uri == f"{url}/{two.digest[:2]}/{two.digest}"
        # an orphan from a crashed registration: uploaded, never recorded
        orphan, _ = reg.store.put(artifacts[2])
    monkeypatch.setenv("GLMOPS_ARTIFACT_CACHE", str(tmp_path / "cache-b"))
    with Registry(db_url, url, actor="bob", artifact_options=options) as reg:
        assert reg.load("churn@champion").digest == one.digest
        assert reg.load("churn@2").digest == two.digest
        assert reg.verify() == []
        assert reg.gc(min_age_s=3600) == []  # too young: a registration may be in flight
        assert reg.gc(min_age_s=0) == [orphan]
        assert sorted(reg.store.digests()) == sorted([one.digest, two.digest])
        # one flipped byte on the server: refused at load and reported by verify
        fs = reg.store.fs
        key = f"{reg.store._dir(two.digest)}/arrays.npz"
        data = bytearray(fs.cat_file(key))
        data[-10] ^= 0x01
        fs.pipe_file(key, bytes(data))
    monkeypatch.setenv("GLMOPS_ARTIFACT_CACHE", str(tmp_path / "cache-c"))
    with Registry(db_url, url, actor="carol", artifact_options=options) as reg:
        with pytest.raises(ChecksumMismatch, match="churn@2"):
            reg.load("churn@2")
        assert any(p.startswith("churn@2") for p in reg.verify())


def test_unreachable_endpoint_is_a_clear_error(
    db_url: str, tmp_path: Path, artifacts: list[Path], monkeypatch
) -> None:
    pytest.importorskip("s3fs")
    monkeypatch.setenv("GLMOPS_ARTIFACT_CACHE", str(tmp_path / "cache"))
    options = {
        **S3_KEYS,
        "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}},
    }
    with Registry(db_url, "s3://nobucket/models", actor="alice", artifact_options=options) as reg:
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable, match=r"artifact store s3://nobucket/models"):
            reg.register("churn", artifacts[0])
        assert time.monotonic() - started < 30
        assert reg.list_models() == []  # nothing recorded
