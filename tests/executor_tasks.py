"""Functions the executor tests run in worker processes (importable by path from workers)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def spin(seconds: float = 0.2) -> dict[str, Any]:
    """Burn ``seconds`` of this process's CPU time in pure Python; say where and when."""
    start = time.time()
    cpu_start = time.process_time()
    n = 0
    while time.process_time() - cpu_start < seconds:
        n += sum(i * i for i in range(200))
    return {"pid": os.getpid(), "start": start, "end": time.time(), "n": n > 0}


def pid() -> int:
    return os.getpid()


def add(a: int, b: int) -> int:
    return a + b


def noop() -> None:
    return None


def hang(pid_file: str, seconds: float = 60.0) -> str:
    """Write this process's id to ``pid_file``, then sleep (a call to cancel)."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)
    return "finished"


def fail(message: str) -> None:
    raise ValueError(message)


class Unpicklable(Exception):
    def __init__(self, message: str, handle: Any) -> None:
        super().__init__(message)
        self.handle = handle

    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle this exception")


def fail_unpicklably() -> None:
    raise Unpicklable("custom failure", handle=None)


def exit_hard() -> None:
    os._exit(3)


async def async_task() -> int:
    return 1


def exit_softly() -> None:
    raise SystemExit(5)
