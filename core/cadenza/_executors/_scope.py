"""The executors of the run in progress, as agents find them (``cadenza.plugins.executor_for``).

The run builds its executors once and puts them in a context variable for its
duration; trio tasks of the run inherit it, so an agent asks for its own
executor by its config (``AgentConfig.executor`` names it). Outside a run (an
agent called directly in a test) only ``local`` exists: a shared
:class:`LocalExecutor`, which holds nothing to close.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from ._contract import Executor
from ._local import LocalExecutor

if TYPE_CHECKING:
    from .._spec._workflow import AgentConfig

_RUN_EXECUTORS: contextvars.ContextVar[Mapping[str, Executor] | None] = contextvars.ContextVar(
    "cadenza_run_executors", default=None
)
_OUTSIDE_A_RUN = LocalExecutor()


def executor_for(config: AgentConfig) -> Executor:
    """The executor the agent configured by ``config`` runs its work on, in this run.

    ``config.executor`` names it (``local`` unless the workflow says
    ``executor:``). Call it in ``Agent.run`` (not in the factory: executors
    belong to a run). Outside a run only ``local`` is available; any other
    name raises LookupError.

    .. versionadded:: 0.2
    """
    executors = _RUN_EXECUTORS.get()
    name = config.executor
    if executors is None:
        if name == "local":
            return _OUTSIDE_A_RUN
        raise LookupError(
            f"agent {config.name!r}: executor {name!r} exists only inside a run "
            f"(cadenza.run_workflow or `cadenza run`); outside one, only 'local' is available"
        )
    try:
        return executors[name]
    except KeyError:
        known = ", ".join(sorted(executors)) or "none"
        raise LookupError(
            f"agent {config.name!r}: this run has no executor {name!r} (it has: {known})"
        ) from None


@contextlib.contextmanager
def executors_scope(executors: Mapping[str, Executor]) -> Iterator[None]:
    """Make ``executors`` (name -> executor) what :func:`executor_for` answers, inside."""
    token = _RUN_EXECUTORS.set(executors)
    try:
        yield
    finally:
        _RUN_EXECUTORS.reset(token)
