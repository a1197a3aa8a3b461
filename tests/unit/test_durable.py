"""Durable writes: data synced, then renamed, then the directory synced."""

from __future__ import annotations

import os

import glmops._durable as durable


def test_replace_durably_syncs_file_then_directory(tmp_path, monkeypatch):
    order: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def spy_fsync(fd: int) -> None:
        order.append("fsync " + os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def spy_replace(a: str, b: str) -> None:
        order.append("replace")
        real_replace(a, b)

    monkeypatch.setattr(durable.os, "fsync", spy_fsync)
    monkeypatch.setattr(durable.os, "replace", spy_replace)
    tmp = tmp_path / "out.tmp"
    tmp.write_bytes(b"rows")
    durable.replace_durably(tmp, tmp_path / "out.parquet")
    assert order == ["fsync out.tmp", "replace", f"fsync {tmp_path.name}"]
    assert (tmp_path / "out.parquet").read_bytes() == b"rows"


def test_fsync_tree_syncs_every_file_and_the_directory(tmp_path, monkeypatch):
    seen: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        durable.os,
        "fsync",
        lambda fd: (
            seen.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))),
            real_fsync(fd),
        ),
    )
    for name in ("a", "b"):
        (tmp_path / name).write_text(name)
    durable.fsync_tree(tmp_path)
    assert sorted(seen[:2]) == ["a", "b"]
    assert seen[2] == tmp_path.name
