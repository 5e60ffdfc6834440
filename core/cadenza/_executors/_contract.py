"""The executor contract: what the kernel and agents expect of a place where work runs.

An executor is registered by name through ``cadenza_executors``; its factory
takes the ``options:`` mapping of a workflow's ``executors:`` entry and must
start nothing (the loader calls it once to check the options, and drops the
object). A run builds each executor its agents use once, hands it to agents
through :func:`cadenza.plugins.executor_for`, and awaits :meth:`Executor.aclose`
when the run ends, so nothing the executor started outlives the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from .._spec._convert import structure

T = TypeVar("T")
OptionsT = TypeVar("OptionsT")


@runtime_checkable
class Executor(Protocol):
    """Runs plain (synchronous) callables somewhere, awaited without blocking trio.

    ``await executor.run(fn, *args)`` calls ``fn(*args)`` and returns its
    result, or raises what it raised. Keyword arguments go through
    :func:`functools.partial`. Executors that run work in another process
    pickle ``fn``, ``args`` and the result: ``fn`` must be importable by name
    (a module-level function), and an unpicklable one is a :class:`TypeError`
    saying so, raised before anything runs.

    Cancellation is the contract's point: when the task awaiting ``run`` is
    cancelled (a step ``timeout:``, a cancelled run), the work stops before
    ``run`` returns (a worker process is killed); nothing keeps running in the
    background. A worker lost mid-call is
    :class:`~cadenza.plugins.WorkerLostError` (retryable).

    ``aclose()`` releases everything (worker processes, cluster clients); the
    run awaits it once, after its agents are closed.

    .. versionadded:: 0.2
    """

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` where this executor runs work; see the class doc."""
        ...

    async def aclose(self) -> None:
        """Release what the executor started; idempotent."""
        ...


def options_from(options: Mapping[str, Any] | None, cls: type[OptionsT], kind: str) -> OptionsT:
    """Structure an executor's ``options:`` into ``cls``; a ValueError lists every problem."""
    obj, issues = structure(dict(options or {}), cls)
    if obj is None or issues:
        problems = "; ".join(
            (".".join(str(p) for p in issue.path) + ": " if issue.path else "")
            + issue.message
            + (f" ({issue.hint})" if issue.hint else "")
            for issue in issues
        )
        fields = ", ".join(a.name for a in attrs.fields(cls))  # type: ignore[arg-type]
        raise ValueError(f"bad options for a {kind} executor: {problems}. Its options: {fields}.")
    return obj
