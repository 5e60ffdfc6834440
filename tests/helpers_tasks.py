"""Callables for the python agent's tests, imported by path ``tests.helpers_tasks:<name>``."""

from __future__ import annotations

import threading
import time
from typing import Any

import trio
import trio.lowlevel

import cadenza

NOT_CALLABLE = {"a": 1}

thread_ids: list[int] = []
release = threading.Event()
_active = 0
_lock = threading.Lock()
max_active = 0


def add(a: int, b: int = 0) -> int:
    """Sync: runs in a worker thread and records which one."""
    thread_ids.append(threading.get_ident())
    return a + b


async def async_add(a: int, b: int = 0) -> int:
    """Async: awaited on trio."""
    await trio.sleep(1)
    return a + b


class AsyncCallable:
    """An instance whose ``__call__`` is a coroutine function."""

    async def __call__(self, name: str) -> str:
        await trio.lowlevel.checkpoint()
        return f"hello {name}"


greeter = AsyncCallable()


def take_request(request: cadenza.AgentRequest) -> dict[str, Any]:
    return {"step": request.step_id, "attempt": request.attempt}


def with_result(x: int) -> cadenza.AgentResult:
    return cadenza.AgentResult(output=x, confidence=0.5, source="helper")


def only_kwargs(**inputs: Any) -> dict[str, Any]:
    return dict(inputs)


def returns_set() -> set[int]:
    return {1, 2}


def returns_nested_bad() -> dict[str, Any]:
    return {"when": time}


def raises_type_error_inside(x: int) -> int:
    raise TypeError("unsupported operand inside the body")


def raises_reset() -> None:
    raise ConnectionResetError("peer reset")


def raises_value_error() -> None:
    raise ValueError("bad value")


def raises_retryable() -> None:
    raise cadenza.RetryableError("busy", retry_after=3)


def counted(delay: float) -> int:
    """Track how many calls run at once (real threads, real time)."""
    global _active, max_active
    with _lock:
        _active += 1
        max_active = max(max_active, _active)
    time.sleep(delay)
    with _lock:
        _active -= 1
    return 0


def blocks_until_released() -> str:
    release.wait(5)
    return "released"


async def _plus_one(x: int) -> int:
    await trio.lowlevel.checkpoint()
    return x + 1


def returns_coroutine(x: int) -> Any:
    """A sync function returning an awaitable (as some decorators do)."""
    return _plus_one(x)
