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
