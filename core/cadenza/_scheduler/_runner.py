"""``run_workflow``: one run of a workflow, from agents created to agents closed.

This module owns a run's lifecycle around the scheduler (``_scheduler._Run``):
it builds the agents from their kinds, wires the event bus to the log, the
``cadenza_on_event`` plugins and the caller's observers, emits ``run_started``
and ``run_finished``, and closes every agent whatever happens.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .. import _events as ev
from .._agents._contract import Agent
from .._errors import WorkflowError
from .._ids import check_run_id
from .._journal._bus import EventBus, Observer
from .._journal._run_shape import RunShape
from .._journal._store import Store
from .._journal._writer import Journal
from .._logging import bound_contextvars, get_logger
from .._plugins._registry import Plugins, call_plugin_async, plugin_config_scope
from .._plugins._start_checks import make_agents
from .._redact import redact
from .._spec._inputs import run_inputs
from .._spec._outcome import RunResult
from .._spec._workflow import Workflow
from ._agent_history import agent_history
from ._cache import StepCache
from ._children import child_runner
from ._executors import open_executors
from ._observers import RunObservers
from ._resume import ResumePlan
from ._run import _Run, new_run_id

if TYPE_CHECKING:
    from .._build._builder import WorkflowBuilder

log = get_logger()


def _make_agents(workflow: Workflow, plugins: Plugins) -> dict[str, Agent]:
    """Build every agent from its kind's factory; a factory's error is a workflow problem.

    The loader makes the same check (``_start_checks``), so a file that
    ``cadenza validate`` accepts does not fail here, unless a factory changed its mind.
    """
    agents, problems = make_agents(workflow, plugins)
    if problems:
        raise WorkflowError(problems)
    return agents


async def _close_agents(agents: Iterable[Agent]) -> None:
    with trio.move_on_after(5, shield=True):
        for agent in agents:
            try:
                await call_plugin_async(agent.aclose)
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
    "observer_failed": logging.WARNING,
    "approval_requested": logging.WARNING,  # the run waits for a person: say so
    "approval_decided": logging.INFO,
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
    workflow: Workflow | WorkflowBuilder,
    *,
    plugins: Plugins,
    inputs: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    observers: Sequence[Observer] = (),
    rng: random.Random | None = None,
    store: Store | None = None,
    resume: ResumePlan | None = None,
    use_cache: bool = True,
    strict: bool = False,
    output_dir: Path | str | None = None,
    task_status: trio.TaskStatus[RunHandle] = trio.TASK_STATUS_IGNORED,
) -> RunResult:
    """Run ``workflow`` to the end and return what happened.

    ``inputs`` are the resolved run inputs (defaults applied, see
    ``resolve_inputs``). ``observers`` receive every event, after the log and
    the ``cadenza_on_event`` plugins. ``rng`` drives retry jitter (inject a
    seeded ``random.Random`` for reproducible runs).

    With a ``store``, the run is journaled (see ``_journal``): it is recorded
    before its first step starts, each step's success is durable before its
    dependents start, ``cache:`` steps reuse earlier outputs (unless
    ``use_cache`` is false), and ``cadenza cancel`` from another process stops
    it. With ``strict``, steps do not fall back (``fallback:``): a step whose
    agents failed fails instead of producing a degraded output.
    ``resume`` (from :func:`plan_resume`) continues a journaled run:
    its kept outputs are restored and the rest runs, under the same run id.
    ``run_id`` names the run (default: a new timestamped id); one given must be
    1-128 ASCII letters, digits, ``.``, ``_`` or ``-`` (``ValueError``
    otherwise), since it goes into paths and HTTP headers.
    ``output_dir`` is the run's output folder (``{run_id}`` in it is replaced
    by the run id): each step's agent gets ``<output_dir>/<step id>`` as
    ``request.output_dir`` to write files into; None gives agents none.

    Started with ``nursery.start(run_workflow, ...)``, it reports a
    :class:`RunHandle` whose ``cancel()`` stops the run cleanly; the result then
    has status ``"cancelled"``. If the *caller's* scope is cancelled instead,
    ``run_finished`` is still emitted (and journaled) before ``Cancelled``
    propagates.

    ``workflow`` may be a :class:`WorkflowBuilder` (``cadenza.workflow(...)``): it is
    built with ``plugins`` first, and ``inputs`` are then Python values checked
    against its declared inputs, defaults filled in, as :func:`cadenza.run` does.

    .. versionchanged:: 0.2
       ``workflow`` may be a builder.
    """
    if not isinstance(workflow, Workflow):  # a builder: built here, with these plugins
        workflow = workflow.build(plugins=plugins)
        inputs = run_inputs(workflow, inputs)
    return await _run_workflow(
        workflow,
        plugins=plugins,
        inputs=inputs,
        run_id=run_id,
        observers=observers,
        rng=rng,
        store=store,
        resume=resume,
        use_cache=use_cache,
        strict=strict,
        output_dir=output_dir,
        task_status=task_status,
    )


async def _run_workflow(
    workflow: Workflow,
    *,
    plugins: Plugins,
    inputs: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    observers: Sequence[Observer] = (),
    rng: random.Random | None = None,
    store: Store | None = None,
    resume: ResumePlan | None = None,
    use_cache: bool = True,
    strict: bool = False,
    output_dir: Path | str | None = None,
    task_status: trio.TaskStatus[RunHandle] = trio.TASK_STATUS_IGNORED,
    parent: tuple[str, str] | None = None,
) -> RunResult:
    """:func:`run_workflow`, and a sub-workflow's run: ``parent`` is (run id, step id)."""
    if resume is not None:  # the journaled run's own id, whatever made it
        run_id = resume.run_id
        inputs = resume.record.inputs
    elif run_id:
        check_run_id(run_id)
    run_id = run_id or new_run_id()
    if output_dir is not None:
        output_dir = Path(str(output_dir).replace("{run_id}", run_id))
    with (
        bound_contextvars(run_id=run_id),
        plugin_config_scope(workflow.plugin_config),  # what cadenza.plugins.plugin_config reads
    ):
        async with open_executors(workflow, plugins):  # closed after the agents (in _execute)
            agents = _make_agents(workflow, plugins)
            bus = EventBus(
                run_id=run_id,
                secrets=workflow.secrets,
                events_emitted=resume.next_seq if resume is not None else 0,
            )
            bus.subscribe("log", _log_observer())
            bus.subscribe_all(plugins.observers())
            run_observers = RunObservers.create(plugins.registered("cadenza_observers"), bus)
            for i, observer in enumerate(observers):
                bus.subscribe(f"observer {i}", observer)
            journal = Journal(store=store, run_id=run_id) if store is not None else None
            run = _Run(
                workflow=workflow,
                agents=agents,
                bus=bus,
                inputs=dict(inputs or {}),
                rng=rng or random.Random(),
                run_id=run_id,
                journal=journal,
                cache=StepCache(store=store, limiter=trio.CapacityLimiter(1))
                if store is not None and use_cache
                else None,
                strict=strict,
                fallback_strategies=_factories(plugins, "cadenza_fallbacks"),
                router_factories=_factories(plugins, "cadenza_routers"),
                aggregator_factories=_factories(plugins, "cadenza_aggregators"),
                validator_factories=_factories(plugins, "cadenza_validators"),
                output_dir=output_dir,
                run_child=child_runner(
                    _run_workflow,
                    parent_run_id=run_id,
                    plugins=plugins,
                    store=store,
                    use_cache=use_cache,
                    strict=strict,
                    output_dir=output_dir,
                ),
            )
            if store is not None and run.routes.wants_history():
                run.routes.history = await trio.to_thread.run_sync(
                    agent_history, store, workflow, abandon_on_cancel=False
                )
            if journal is None:
                return await _execute(run, agents, resume, run_observers, task_status, parent)
            bus.recorder = journal.observe
            async with trio.open_nursery() as journal_nursery:
                await journal_nursery.start(journal.run_writer)
                journal_nursery.start_soon(journal.watch_cancel, run.cancel)
                if resume is not None:
                    journal.adopt(resume.record)
                else:
                    journal.add_source(redact(workflow.source_text, workflow.secrets))
                try:
                    return await _execute(run, agents, resume, run_observers, task_status, parent)
                finally:
                    with trio.move_on_after(30, shield=True):
                        await journal.flush()
                    journal_nursery.cancel_scope.cancel()


async def _execute(
    run: _Run,
    agents: Mapping[str, Agent],
    resume: ResumePlan | None,
    observers: RunObservers,
    task_status: trio.TaskStatus[RunHandle],
    parent: tuple[str, str] | None = None,
) -> RunResult:
    workflow, bus = run.workflow, run.bus
    started = trio.current_time()
    out = str(run.output_dir) if run.output_dir is not None else None
    if resume is None:
        first = bus.emit(
            ev.RunStarted,
            workflow=workflow.name,
            source=str(workflow.source or ""),
            source_hash=workflow.source_hash,
            inputs=run.inputs,
            steps=tuple(workflow.steps),
            output_dir=out,
            parent_run_id=parent[0] if parent is not None else None,
            parent_step_id=parent[1] if parent is not None else None,
            **RunShape.from_workflow(workflow).event_fields(),
        )
    else:
        run.restore(resume.outputs)
        for step_id, agent, usd, tokens in resume.spent:
            run.ledger.restore(step_id, agent, usd, tokens)
        run.key_generation = dict(resume.key_generation)
        await _restore_gates(run, resume)
        first = bus.emit(
            ev.RunResumed,
            workflow=workflow.name,
            source_hash=workflow.source_hash,
            restored=tuple(resume.outputs),
            rerun=tuple(s for s in workflow.steps if s not in resume.outputs),
            from_step=resume.from_step,
            output_dir=out,
        )
    status: ev.RunStatus = "cancelled"
    reason = "cancelled by the caller"
    async with observers.running(first):  # run_started beside the steps
        try:
            if run.journal is not None:  # the run is on record before any step starts
                await run.journal.wait_durable(first.seq)
            task_status.started(RunHandle(run))
            await run.execute()
            if run.fail_reason:
                run.summary.mark_cancelled(run.fail_reason)
                status, reason = "failed", run.fail_reason
            elif run.cancel_reason:
                run.summary.mark_cancelled(run.cancel_reason)
                status, reason = "cancelled", run.cancel_reason
            else:
                failed = sorted(
                    s
                    for s, st in run.states.items()
                    if st.status == "failed" and st.parent is None  # items: their step decides
                )
                status = "failed" if failed else "succeeded"
                reason = f"failed steps: {', '.join(failed)}" if failed else ""
        except BaseException:
            run.summary.mark_cancelled(reason)
            raise
        finally:
            await _close_agents(agents.values())
            result = RunResult(
                run_id=run.run_id,
                workflow=workflow.name,
                status=status,
                steps=run.summary.outcomes(),
                duration=trio.current_time() - started,
                reason=reason,
                agents=run.summary.agent_stats(),
                cost=run.summary.cost_summary(),
                output_dir=str(run.output_dir) if run.output_dir is not None else None,
            )
            await observers.finished(result)  # shielded, each call within its limit
            bus.emit(
                ev.RunFinished,
                status=status,
                duration=result.duration,
                counts=result.counts,
                reason=reason,
                cost_usd=result.cost_usd,
                tokens=run.ledger.total_tokens,
            )
    return result


async def _restore_gates(run: _Run, resume: ResumePlan) -> None:
    """Give a resumed run its journaled approval gates (read only if it has any)."""
    if run.journal is None or not any(s.approval for s in run.workflow.steps.values()):
        return
    events = await trio.to_thread.run_sync(run.journal.store.read_events, run.run_id)
    this_resume = f"resume-{resume.next_seq}"  # the generation --from gives (see _resume)
    again = [s for s, gen in resume.key_generation.items() if gen == this_resume]
    run.gates.restore(events, ask_again=again)


def _factories(plugins: Plugins, hook: str) -> dict[str, Callable[..., Any]]:
    return {name: reg.obj for name, reg in plugins.registered(hook).items()}


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
