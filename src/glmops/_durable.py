"""Make acknowledged writes survive a crash: fsync files, then their directory.

A rename is atomic but not durable until the directory entry is on disk, and
a file's bytes are not durable until the file is synced. Artifacts, registry
stores, the prediction log and scoring output all write a temporary name and
rename it; this module is the one place that knows the order of syncs.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir", "fsync_file", "fsync_tree", "replace_durably"]


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file's data and metadata to disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (a new or renamed name) to disk; a no-op off POSIX."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: str | os.PathLike[str]) -> None:
    """Sync every file directly inside ``directory``, then the directory itself."""
    for item in Path(directory).iterdir():
        if item.is_file():
            fsync_file(item)
    fsync_dir(directory)


def replace_durably(temporary: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
    """Sync ``temporary``, rename it over ``final``, and sync the directory.

    After this returns, a crash or power cut leaves ``final`` complete.
    """
    fsync_file(temporary)
    os.replace(temporary, final)
    fsync_dir(Path(final).parent)
