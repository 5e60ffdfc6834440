"""Functions the tests run on dask workers (importable by name in the worker processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def where() -> dict[str, Any]:
    """Which process and which dask worker ran the call."""
    from distributed import get_worker

    return {"pid": os.getpid(), "ppid": os.getppid(), "worker": get_worker().address}


def add(a: int, b: int) -> int:
    return a + b


def boom(message: str) -> None:
    raise ValueError(message)


def noop() -> None:
    """Does nothing: the call's cost is the executor's."""


def mark_and_sleep(marker: str, seconds: float) -> int:
    """Append this process's pid to ``marker`` (one line per attempt), then sleep."""
    with Path(marker).open("a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return os.getpid()


def wait_for_lines(marker: str, count: int) -> int:
    """Block (on the local executor) until ``marker`` holds ``count`` lines."""
    path = Path(marker)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().split()) >= count:
            return count
        time.sleep(0.02)
    raise TimeoutError(f"{marker} never had {count} lines")
