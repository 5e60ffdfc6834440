"""Seeing the executor's worker processes from a test: /proc, polled (processes send no events)."""

from __future__ import annotations

import os
from collections.abc import Callable

import trio

WORKER_MARK = b"cadenza._executors._worker"
"""What the command line of a ``process`` executor's worker contains."""


def worker_processes() -> list[int]:
    """Live (non-zombie) executor workers whose parent is this process."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            if int(ppid) != me or state == "Z":
                continue
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if WORKER_MARK in f.read():
                    found.append(int(name))
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    """Poll ``condition`` until true, or fail after ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await trio.sleep(0.05)
    raise AssertionError(f"still false after {seconds} s")


async def watch_workers(seen: set[int], *, enough: int = 0, every: float = 0.05) -> None:
    """Add every worker process this process has to ``seen``, until cancelled.

    With ``enough``, stop once that many were seen (a scan of /proc costs CPU time).
    """
    while not enough or len(seen) < enough:
        seen.update(worker_processes())
        await trio.sleep(every)
