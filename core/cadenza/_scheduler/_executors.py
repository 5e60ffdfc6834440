"""A run's executors: built once when the run starts, closed after its agents.

Only the executors some agent names are built (plus ``local``, which costs
nothing), each from its kind's ``cadenza_executors`` factory with the
workflow's options. :func:`open_executors` owns them for the run's duration and
makes them what :func:`cadenza.plugins.executor_for` answers inside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import trio

from .._errors import PluginError, WorkflowError
from .._executors._scope import executors_scope
from .._logging import get_logger
from .._plugins._registry import Plugins, call_plugin, call_plugin_async
from .._problems import Problem
from .._redact import redact
from .._spec._executors import DEFAULT_EXECUTOR
from .._spec._workflow import Workflow

log = get_logger()

_CLOSE_SECONDS = 30.0
"""Bound on closing all executors (a worker is killed after two seconds; a cluster may be slow)."""


def _build(workflow: Workflow, plugins: Plugins) -> dict[str, Any]:
    registered = plugins.registered("cadenza_executors")
    wanted = sorted({DEFAULT_EXECUTOR, *(a.executor for a in workflow.agents.values())})
    built: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in wanted:
        spec = workflow.executor_spec(name)
        reg = registered.get(spec.kind) if spec is not None else None
        try:
            if spec is None:
                raise LookupError(f"no executor {name!r} in this workflow")
            if reg is None:
                known = ", ".join(sorted(registered)) or "none"
                raise LookupError(f"unknown executor kind {spec.kind!r} (known kinds: {known})")
            executor = call_plugin(reg.obj, dict(spec.options))
            missing = [m for m in ("run", "aclose") if not callable(getattr(executor, m, None))]
            if missing:
                raise PluginError(
                    f"the {spec.kind!r} executor factory {reg.obj!r} returned "
                    f"{type(executor).__name__}, which lacks {', '.join(missing)}",
                    plugin=reg.plugin,
                )
            built[name] = executor
        except Exception as exc:
            log.debug("executor_factory_failed", executor=name, exc_info=True)
            problems.append(
                Problem(
                    message=f"executor {name!r} could not be created: "
                    + redact(str(exc), workflow.secrets),
                    path=f"executors.{name}",
                    location=spec.location if spec is not None else None,
                    hint="Fix the executor's kind or options.",
                )
            )
    if problems:
        raise WorkflowError(problems)
    return built


@contextlib.asynccontextmanager
async def open_executors(workflow: Workflow, plugins: Plugins) -> AsyncIterator[dict[str, Any]]:
    """Build the run's executors, make them current, and close them all on the way out."""
    built = _build(workflow, plugins)
    try:
        with executors_scope(built):
            yield built
    finally:
        with trio.move_on_after(_CLOSE_SECONDS, shield=True):
            for name, executor in built.items():
                try:
                    await call_plugin_async(executor.aclose)
                except Exception:
                    log.exception("executor_close_failed", executor=name)
