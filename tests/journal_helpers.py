"""Journal places for tests: a real read-only file or folder, and a journal that fills up.

Root ignores file permissions, and CI runs the tests as root, so ``chmod``
alone cannot make a read-only place there. As root, :func:`read_only` bind
mounts the path read-only over itself (the kernel refuses writes, to root
too: EROFS); where mounting is not allowed (a container without
CAP_SYS_ADMIN) the test is skipped, saying why. Other users get ``chmod``.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cadenza
from cadenza.store import SqliteStore


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make the file or folder ``path`` read-only for this process (and its children)."""
    import pytest

    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            yield
        finally:
            path.chmod(mode)
        return
    bound = _run("mount", "--bind", str(path), str(path))
    if bound.returncode != 0:
        pytest.skip(f"running as root without the right to mount: {bound.stderr.strip()}")
    remounted = _run("mount", "-o", "remount,bind,ro", str(path))
    try:
        if remounted.returncode != 0:
            pytest.skip(f"cannot remount read-only as root: {remounted.stderr.strip()}")
        assert not os.access(path, os.W_OK), f"{path} is still writable"
        yield
    finally:
        if _run("umount", str(path)).returncode != 0:
            _run("umount", "-l", str(path))  # something still holds a file open


class CappedStores:
    """Registers ``capped://PATH``: a real SQLite journal that SQLite reports full.

    ``PRAGMA max_page_count`` caps the file at ``headroom`` pages more than it
    has when opened; a write that would grow it further fails inside SQLite
    with SQLITE_FULL, the very error code a full disk gives. Unlike a tiny
    tmpfs mount it needs no root and fills up at a predictable point.
    """

    def __init__(self, headroom: int) -> None:
        self.headroom = headroom

    @cadenza.hookimpl
    def cadenza_stores(self, register: Any) -> None:
        def factory(url: str) -> SqliteStore:
            store = SqliteStore(f"sqlite:///{url.removeprefix('capped://')}")
            (pages,) = store._db.execute("PRAGMA page_count").fetchone()
            store._db.execute(f"PRAGMA max_page_count = {pages + self.headroom}")
            return store

        register("capped", factory)
