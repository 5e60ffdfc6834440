"""``run_workflow``: one run of a workflow, from agents created to agents closed.

This module owns a run's lifecycle around the scheduler (``_scheduler._Run``):
it builds the agents from their kinds, wires the event bus to the log, the
``cadenza_on_event`` plugins and the caller's observers, emits ``run_started``
and ``run_finished``, and closes every agent whatever happens.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import structlog
import trio

from . import _events as ev
from ._agent import Agent
from ._bus import EventBus, Observer
from ._errors import PermanentError, WorkflowError
from ._outcome import RunResult
from ._plugins import Plugins
from ._problems import Problem
from ._redact import redact
from ._scheduler import _Run, new_run_id
from ._spec import Workflow

log = structlog.get_logger()


def _make_agents(workflow: Workflow, plugins: Plugins) -> dict[str, Agent]:
    """Build every agent from its kind's factory; a factory's error is a workflow problem."""
    agents: dict[str, Agent] = {}
    problems: list[Problem] = []
    for name, config in workflow.agents.items():
        reg = plugins.agent_kinds.get(config.kind)
        try:
            if reg is None:
                known = ", ".join(sorted(plugins.agent_kinds)) or "none"
                raise PermanentError(f"unknown agent kind {config.kind!r} (known kinds: {known})")
            agents[name] = reg.obj(config)
        except Exception as exc:
            log.debug("agent_factory_failed", agent=name, exc_info=True)
            problems.append(
                Problem(
                    message=f"agent {name!r} (kind {config.kind}) could not be created: "
                    + redact(str(exc), workflow.secrets),
                    path=f"agents.{name}",
                    location=config.location,
                    hint="Fix the agent's options; run with --debug to see the traceback.",
                )
            )
    if problems:
        raise WorkflowError(problems)
    return agents


async def _close_agents(agents: Iterable[Agent]) -> None:
    with trio.move_on_after(5, shield=True):
        for agent in agents:
            try:
                await agent.aclose()
            except Exception:
                log.exception("agent_close_failed", agent=getattr(agent, "name", "?"))


_LOGGED_AT = {
    "attempt_failed": logging.WARNING,
    "step_failed": logging.WARNING,
    "run_started": logging.INFO,
    "run_finished": logging.INFO,
    "step_succeeded": logging.INFO,
    "step_skipped": logging.INFO,
    "step_cancelled": logging.INFO,
}
_NOT_LOGGED = frozenset({"run_id", "seq", "at", "output", "inputs", "steps"})


def _log_observer() -> Observer:
    """An observer logging step- and run-level events (never outputs: they may be large).

    The logger is resolved once per run, and events below its level are
    dropped before their fields are copied: the log observer sees every event,
    so this is on the per-step hot path (see benchmarks/README.md).
    """
    logger = log.bind()
    is_enabled_for = getattr(logger, "is_enabled_for", None)

    def observe(event: ev.Event) -> None:
        level = _LOGGED_AT.get(event.kind, logging.DEBUG)
        if is_enabled_for is not None and not is_enabled_for(level):
            return
        fields = {
            k: v for k, v in attrs.asdict(event, recurse=False).items() if k not in _NOT_LOGGED
        }
        logger.log(level, event.kind, **fields)

    return observe


async def run_workflow(
    workflow: Workflow,
    *,
    plugins: Plugins,
    inputs: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    observers: Sequence[Observer] = (),
    rng: random.Random | None = None,
    task_status: trio.TaskStatus[RunHandle] = trio.TASK_STATUS_IGNORED,
) -> RunResult:
    """Run ``workflow`` to the end and return what happened.

    ``inputs`` are the resolved run inputs (defaults applied, see
    ``resolve_inputs``). ``observers`` receive every event, after the log and
    the ``cadenza_on_event`` plugins. ``rng`` drives retry jitter (inject a
    seeded ``random.Random`` for reproducible runs). Started with
    ``nursery.start(run_workflow, ...)``, it reports a :class:`RunHandle`
    whose ``cancel()`` stops the run cleanly; the result then has status
    ``"cancelled"``. If the *caller's* scope is cancelled instead, the run's
    ``run_finished`` event is still emitted before ``Cancelled`` propagates.
    """
    run_id = run_id or new_run_id()
    with structlog.contextvars.bound_contextvars(run_id=run_id):
        return await _run_bound(workflow, plugins, inputs, run_id, observers, rng, task_status)


async def _run_bound(
    workflow: Workflow,
    plugins: Plugins,
    inputs: Mapping[str, Any] | None,
    run_id: str,
    observers: Sequence[Observer],
    rng: random.Random | None,
    task_status: trio.TaskStatus[RunHandle],
) -> RunResult:
    agents = _make_agents(workflow, plugins)
    bus = EventBus(run_id=run_id, secrets=workflow.secrets)
    bus.subscribe("log", _log_observer())
    bus.subscribe_all(plugins.observers())
    for i, observer in enumerate(observers):
        bus.subscribe(f"observer {i}", observer)
    resolved_inputs = dict(inputs or {})
    run = _Run(
        workflow=workflow,
        agents=agents,
        bus=bus,
        inputs=resolved_inputs,
        rng=rng or random.Random(),
        run_id=run_id,
    )
    started = trio.current_time()
    bus.emit(
        ev.RunStarted,
        workflow=workflow.name,
        source=str(workflow.source or ""),
        source_hash=workflow.source_hash,
        inputs=resolved_inputs,
        steps=tuple(workflow.steps),
    )
    task_status.started(RunHandle(run))
    status: ev.RunStatus = "cancelled"
    reason = "cancelled by the caller"
    try:
        await run.execute()
        if run.fail_reason:
            run.mark_cancelled(run.fail_reason)
            status, reason = "failed", run.fail_reason
        elif run.cancel_reason:
            run.mark_cancelled(run.cancel_reason)
            status, reason = "cancelled", run.cancel_reason
        else:
            failed = sorted(s for s, st in run.states.items() if st.status == "failed")
            status = "failed" if failed else "succeeded"
            reason = f"failed steps: {', '.join(failed)}" if failed else ""
    except BaseException:
        run.mark_cancelled(reason)
        raise
    finally:
        await _close_agents(agents.values())
        result = RunResult(
            run_id=run_id,
            workflow=workflow.name,
            status=status,
            steps=run.outcomes(),
            duration=trio.current_time() - started,
            reason=reason,
        )
        bus.emit(
            ev.RunFinished,
            status=status,
            duration=result.duration,
            counts=result.counts,
            reason=reason,
        )
    return result


@attrs.define(eq=False)
class RunHandle:
    """Control of a run started with ``nursery.start(run_workflow, ...)``."""

    _run: _Run

    @property
    def run_id(self) -> str:
        return self._run.run_id

    @property
    def cancel_requested(self) -> bool:
        return bool(self._run.cancel_reason)

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel the run: in-flight calls stop, remaining steps are marked cancelled."""
        self._run.cancel(reason)

    def step_status(self, step_id: str) -> str:
        return self._run.states[step_id].status
