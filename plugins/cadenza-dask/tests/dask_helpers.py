"""Helpers the dask tests share: waiting on other processes' state, under hang guards."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import trio

HANG_GUARD = 30.0
"""Seconds a wait on another process may take before the test fails (a hang guard only)."""


def gone(pid: int) -> bool:
    """Whether no process ``pid`` exists any more (reaped, or not our child)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def wait_gone(pid: int) -> None:
    """Poll (another process's state has no event to wait on) under a hang guard."""
    with trio.fail_after(HANG_GUARD):
        while not gone(pid):  # noqa: ASYNC110
            await trio.sleep(0.02)


async def wait_for_lines(path: Path, count: int) -> list[int]:
    """The pids written to ``path`` once it holds ``count`` lines."""
    with trio.fail_after(HANG_GUARD):
        while True:
            lines = path.read_text().split() if path.exists() else []  # noqa: ASYNC240
            if len(lines) >= count:
                return [int(x) for x in lines]
            await trio.sleep(0.02)


async def wait_no_tasks(count: Callable[[], int]) -> None:
    """Until ``count()`` (the scheduler's task count) is 0: releases reach it asynchronously."""
    with trio.fail_after(HANG_GUARD):
        while count():  # noqa: ASYNC110
            await trio.sleep(0.05)
