"""The scheduler: runs one workflow as one trio nursery tree.

Event-driven, with no polling: every state change (a step became ready, an
attempt ended, a backoff expired) calls :meth:`_Run._dispatch` synchronously,
which starts as many ready steps as the limits allow.

Ready steps wait in *pools*: one per distinct ``uses`` (the set of agents that
can serve it), each a heap ordered by priority (higher first), then by the
order in which steps became ready. ``_dispatch`` repeatedly takes the
highest-priority step among pools that have an agent with free capacity, so a
busy agent never blocks ready steps of other agents, and the global
``concurrency`` limit bounds all attempts in flight. Limits are plain counters:
dispatch is synchronous on the trio thread, so nothing can race between the
check and the start.

With a journal, a congested journal queue (agents faster than commits) holds
both dispatch and readying until the queue drains (:meth:`_Run._journal_full`),
so memory stays bounded by the journal's limit, not by the workflow's size.
A success's dependants wait for its commit; meanwhile no ready step they
outrank starts (``HeldSlots``): priorities hold as they do without a journal.

A retryable failure releases the agent's slot while the step waits out its
backoff in a sleeping child task; the step then re-enters its pool.

This module is the core: readiness, dispatch, attempts, the
success/failure/skip cascades and cancellation. Everything else is a
collaborator the run builds in ``__attrs_post_init__``, handing each what it
needs: ``Timers``, ``HealthWatch``, ``Calls`` and ``CachedOutputs``,
``RouteChoice``, ``FanOut``, ``StepFallbacks``, ``ItemMaps`` (``for_each``),
``SubRuns`` (``workflow:`` steps), ``RunSummary`` (see
docs/architecture.md, "The run"); the retry decision is the pure
:func:`~cadenza._resilience._retry.decide_retry`.
"""

from __future__ import annotations

import collections
import functools
import heapq
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from .. import _events as ev
from .._agents._contract import Agent, AgentResult
from .._errors import AgentError, ExpressionError
from .._expr._expressions import ExpressionContext, StepView
from .._ids import idempotency_key as idempotency_key
from .._ids import new_run_id as new_run_id
from .._journal._bus import EventBus
from .._journal._writer import Journal
from .._plugins._start_checks import too_many_at_once
from .._resilience._budget import Ledger
from .._resilience._retry import GiveUp, decide_retry
from .._resilience._slots import _AgentSlot, _Pool, slots_for
from .._spec._workflow import Workflow
from ._approvals import Gates
from ._cache import StepCache
from ._calls import CachedOutputs, Calls, _Call
from ._durable_releases import DurableReleases
from ._fan_out import Aggregators, FanOut
from ._health import HealthWatch
from ._health import check_health as check_health
from ._held_slots import HeldSlots
from ._item_maps import ItemMaps
from ._route_choice import RouteChoice, calls_needed
from ._step_fallbacks import StepFallbacks
from ._step_state import _TERMINAL, _StepState, build_steps
from ._sub_runs import RunChild, SubRuns
from ._summary import RunSummary
from ._timers import Timers

TURN_EVALUATION_SECONDS = 0.1
"""CPU time one scheduling turn may spend on ``when:``/``with:`` before it lets others in."""

Factories = Mapping[str, Callable[..., Any]]


@attrs.define(eq=False)
class _Run:
    """One workflow run: its steps' state and the core that decides what runs next.

    Strategies arrive as factories (name to factory, from the plugin
    registry): the scheduler knows only their contracts.
    """

    workflow: Workflow
    agents: Mapping[str, Agent]
    bus: EventBus
    inputs: Mapping[str, Any]
    rng: random.Random
    run_id: str
    journal: Journal | None = None
    cache: StepCache | None = None
    strict: bool = False
    fallback_strategies: Factories = attrs.field(factory=dict)
    router_factories: Factories = attrs.field(factory=dict)
    aggregator_factories: Factories = attrs.field(factory=dict)
    validator_factories: Factories = attrs.field(factory=dict)
    output_dir: Path | None = None
    key_generation: dict[str, str] = attrs.field(factory=dict)
    run_child: RunChild | None = None
    """Runs a ``workflow:`` step's sub-workflow (the runner's; see ``_sub_runs``)."""
    states: dict[str, _StepState] = attrs.field(init=False)
    dependents: dict[str, list[str]] = attrs.field(init=False)
    unfinished: int = 0
    fail_reason: str = ""
    cancel_reason: str = ""
    ledger: Ledger = attrs.field(init=False)
    timers: Timers = attrs.field(init=False)
    health: HealthWatch = attrs.field(init=False)
    calls: Calls = attrs.field(init=False)
    cached: CachedOutputs = attrs.field(init=False)
    routes: RouteChoice = attrs.field(init=False)
    fan_out: FanOut = attrs.field(init=False)
    fallbacks: StepFallbacks = attrs.field(init=False)
    maps: ItemMaps = attrs.field(init=False)
    subs: SubRuns = attrs.field(init=False)
    gates: Gates = attrs.field(init=False)
    summary: RunSummary = attrs.field(init=False)
    _slots: dict[str, _AgentSlot] = attrs.field(init=False)
    _pools: list[_Pool] = attrs.field(init=False)
    _nursery: trio.Nursery | None = None
    _scope: trio.CancelScope | None = None
    _seq: itertools.count[int] = attrs.field(factory=itertools.count)
    _releases: list[tuple[str, bool]] = attrs.field(factory=list)
    _met: collections.deque[str] = attrs.field(factory=collections.deque)
    """Steps whose needs all ended, waiting for ``when:`` and ``with:`` (see :meth:`_drain`)."""
    _releasing: bool = False
    _eval_spent: float = 0.0
    _drain_scheduled: bool = False
    _awaiting_room: bool = False
    held: HeldSlots = attrs.field(init=False)
    """What a freed slot waits for while successes are made durable (see ``_held_slots``)."""
    durable: DurableReleases = attrs.field(init=False)
    """Releases dependants once a success is committed (see ``_durable_releases``)."""

    def __attrs_post_init__(self) -> None:
        wf = self.workflow
        slots = self._slots = slots_for(wf, self.agents)
        graph = build_steps(wf, slots)
        self.states, self.dependents, self._pools = graph.states, graph.dependents, graph.pools
        self.unfinished = len(self.states)
        self.held = HeldSlots.of(self.states, self.dependents)
        self.durable = DurableReleases(
            self.journal,
            self.dependents,
            self.held,
            release=functools.partial(self._release, blocked=False),
            dispatch=self._dispatch,
        )
        self.ledger = Ledger.for_budgets(
            wf.budget,
            {k: s.budget for k, s in wf.steps.items()},
            {k: a.budget for k, a in wf.agents.items()},
        )
        bus, ledger = self.bus, self.ledger
        self.timers = Timers(wake=self._dispatch)
        checks = {n: wf.agents[n].health_check for n in slots}
        intervals = {n: c.interval for n, c in checks.items() if c is not None}
        self.health = HealthWatch(bus, slots, self.timers, self._dispatch, intervals)
        self.calls = Calls(
            wf,
            bus,
            self.run_id,
            ledger,
            slots,
            self.validator_factories,
            self.health.record,
            output_dir=self.output_dir,
        )
        self.cached = CachedOutputs(wf, bus, self.run_id, self.cache, self.journal, self.calls)
        aggregators = Aggregators(self.aggregator_factories)
        self.routes = RouteChoice(
            wf, bus, self.rng, ledger, self.router_factories, hedged=aggregators.hedged
        )
        self.fan_out = FanOut(wf, bus, ledger, slots, self.calls, self.routes, aggregators)
        self.fallbacks = StepFallbacks(
            self.run_id,
            bus,
            self.journal,
            self.output_dir,
            self.strict,
            self.fallback_strategies,
            graph.fallback_pools,
            enqueue=self._enqueue,
            start=self._start_soon,
            fail=self._fail,
            finish=self._finish,
            dispatch=self._dispatch,
        )
        self.maps = ItemMaps(
            bus,
            self.states,
            self.dependents,
            admit=self._admit_item,
            finish=self._finish_own,
            fail=self._fail,
        )
        self.subs = SubRuns(
            bus,
            self.run_id,
            ledger,
            self.run_child,
            start_soon=self._start_soon,
            finish=self._finish_own,
            fail=self._fail,
            dispatch=self._dispatch,
            deadline=lambda: self._scope.deadline if self._scope is not None else math.inf,
        )
        self.summary = RunSummary(self.states, bus, slots, ledger, self.maps)
        journal = self.journal
        self.gates = Gates(
            bus=bus, run_id=self.run_id, store=journal.store if journal is not None else None,
            ready=self._queue, fail=self._fail, dispatch=self._dispatch, start=self._start_soon,
            durable=journal.want_durable if journal is not None else None,
        )  # fmt: skip

    # -- lifecycle -------------------------------------------------------------

    async def execute(self) -> None:
        deadline = self.workflow.deadline
        with trio.CancelScope() as scope:
            if deadline is not None:
                scope.deadline = trio.current_time() + deadline
            self._scope = scope
            async with trio.open_nursery() as nursery:
                self._nursery = self.timers.nursery = self.durable.nursery = nursery
                self.health.start_watchers()
                self._met.extend(
                    step_id for step_id, state in self.states.items() if state.waiting == 0
                )
                self._drain()
                self._dispatch()
        self._nursery = self.timers.nursery = self.durable.nursery = None
        if scope.cancelled_caught and not self.cancel_reason and deadline is not None:
            self.fail_reason = self.cancel_reason = f"run deadline of {deadline:g}s exceeded"

    def cancel(self, reason: str) -> None:
        """Stop the run: in-flight calls are cancelled, nothing new starts."""
        if not self.cancel_reason:
            self.cancel_reason = reason
        if self._scope is not None:
            self._scope.cancel()

    def restore(self, outputs: Mapping[str, Any]) -> None:
        """Mark steps as succeeded with journaled outputs (resume); they will not run.

        Ids of items of ``for_each`` steps (``build[3]``) are kept for when
        their step expands: those items will not run either.
        """
        for step_id, output in outputs.items():
            state = self.states.get(step_id)
            if state is None:
                self.maps.restored[step_id] = output
                continue
            state.status = "succeeded"
            state.output = output
            self.unfinished -= 1
            for dep_id in self.dependents[step_id]:
                self.states[dep_id].waiting -= 1

    def _start_soon(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(fn, *args)

    # -- readiness -------------------------------------------------------------

    def _on_needs_met(self, step_id: str) -> None:
        """Every need is terminal and none blocks: check ``when:``, render inputs, queue."""
        state = self.states[step_id]
        assert state.status == "pending", f"step {step_id} readied twice"
        step = state.step
        if step.condition is None and step.inputs.is_static:
            self._ready(state)
            return
        started = time.perf_counter()
        try:
            self._ready(state)
        finally:
            self._eval_spent += time.perf_counter() - started

    def _ready(self, state: _StepState) -> None:
        step = state.step
        step_id = step.id
        # Most steps have no expressions: build what they read only for those that do.
        ctx = (
            None
            if step.condition is None and step.inputs.is_static and step.for_each is None
            else self._context(state)
        )
        if step.condition is not None and (step.for_each is None or not step.condition.loop_refs):
            assert ctx is not None
            try:
                go = step.condition.evaluate(ctx)
            except ExpressionError as exc:
                self._fail(step_id, type(exc).__name__, str(exc))
                return
            if not go:
                self._skip(step_id, f"when: {step.condition.source!r} was false", cause=None)
                return
        if step.for_each is not None:
            if state.pool is None and step.workflow is None:
                self._no_agent(state)
                return
            assert ctx is not None
            self.maps.expand(state, ctx)
            return
        if step.workflow is not None:
            self.subs.start(state, ctx)
            return
        try:
            state.inputs = step.inputs.value if ctx is None else step.inputs.render(ctx)
        except ExpressionError as exc:
            self._fail(step_id, type(exc).__name__, str(exc))
            return
        if not isinstance(state.inputs, Mapping):
            self._fail(
                step_id, "ExpressionError", f"with: must produce a mapping, got {state.inputs!r}"
            )
            return
        try:
            self.routes.render_key(state, lambda: ctx or self._context(state))
        except ExpressionError as exc:
            self._fail(step_id, type(exc).__name__, str(exc))
            return
        if state.pool is None:
            self._no_agent(state)
            return
        if step.approval is not None and self.gates.hold(state, ctx or self._context(state)):
            return  # waits for a decision, in no pool (see _approvals)
        self._queue(state)

    def _queue(self, state: _StepState) -> None:
        self.bus.emit(ev.StepReady, step_id=state.step.id, inputs=state.inputs)
        state.status = "ready"
        state.ready_at = trio.current_time()
        self._enqueue(state)

    def _no_agent(self, state: _StepState) -> None:
        uses = state.step.uses
        self._fail(
            state.step.id,
            "PermanentError",
            f"no agent serves {uses!r}; add an agent with "
            f"capabilities: [{uses}] (seed format: type: {uses})",
        )

    def _context(self, state: _StepState) -> ExpressionContext:
        views = {}
        for need in state.step.needs:
            dep = self.states[need]
            views[need] = StepView(status=dep.status, output=dep.output)
        if state.parent is not None:  # an item of a for_each step
            return ExpressionContext(
                inputs=self.inputs, steps=views, item=state.item, index=state.index
            )
        return ExpressionContext(inputs=self.inputs, steps=views)

    # -- for_each --------------------------------------------------------------

    def _admit_item(self, item: _StepState) -> None:
        """A new item of a ``for_each`` step: unfinished until it ends; ready it like a step."""
        self.unfinished += 1
        self._met.append(item.step.id)
        self._drain()

    def _finish_own(self, state: _StepState, outputs: Any, degraded: bool, source: str) -> None:
        """Record the output of a step that made no agent call itself; release dependents.

        A ``for_each`` step whose items all ended (its output the items' outputs),
        or a ``workflow:`` step whose child run succeeded (the child's outputs).
        """
        step_id = state.step.id
        if self.journal is not None:
            error = self.journal.output_error(outputs, step_id=step_id, agent="for_each")
            if error is not None:
                self._fail(step_id, type(error).__name__, str(error))
                return
        end = trio.current_time()
        state.status = "succeeded"
        state.output = outputs
        state.result = AgentResult(output=outputs, degraded=degraded, source=source)
        state.ended_at = end
        self.unfinished -= 1
        # agent "" and no cost: the items' (or the child run's) events carry agents and costs.
        event = self.bus.emit(
            ev.StepSucceeded,
            step_id=step_id,
            attempt=0,
            agent="",
            output=outputs,
            duration=end - state.started_at if state.started_at is not None else 0.0,
            degraded=degraded,
            source=source,
        )
        if state.parent is not None:  # an item (a sub-workflow per item): its step collects it
            self.maps.ended(state)
        else:
            self.durable.after_commit(step_id, event.seq)

    def _enqueue(self, state: _StepState) -> None:
        assert state.pool is not None
        heapq.heappush(state.pool.heap, (-state.step.priority, next(self._seq), state.step.id))

    # -- dispatch --------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start ready steps while the global limit, their agents and their budgets allow."""
        self._start_ready(handoff=False)

    def _start_ready(self, *, handoff: bool) -> tuple[_StepState, list[_Call]] | None:
        """:meth:`_dispatch`; with ``handoff`` the first attempt is returned, not spawned.

        A task whose attempt just ended runs the returned attempt itself.
        """
        nursery = self._nursery
        if self.unfinished == 0:  # nothing left to run: stop timers and health watchers
            self.timers.stop()
        if nursery is None or self.cancel_reason:
            return None
        self.health.refresh()
        now = trio.current_time()
        limit = self.workflow.concurrency
        journal = self.journal
        taken: tuple[_StepState, list[_Call]] | None = None
        held = self.held.held_priority()  # a pending release outranking these waits (its commit)
        while self.calls.in_flight < limit:
            if journal is not None and self._journal_full():
                return taken
            best_pool, best, rate_wait = self.routes.pick(self._pools, self.states, now)
            if best_pool is None:
                if rate_wait < math.inf:  # a rate limit holds ready steps: come back then
                    self.timers.wake_at(now + rate_wait)
                return taken
            if held is not None and -best_pool.heap[0][0] < held:
                return taken  # the releaser dispatches again once the commit is made
            _, _, step_id = heapq.heappop(best_pool.heap)
            state = self.states[step_id]
            if state.status != "ready":  # expired while it waited (total_timeout)
                continue
            if state.budget_refusal:  # a free fallback may still serve it, marked degraded
                if not self.fallbacks.fall_back(state, state.budget_refusal):
                    self._fail(step_id, "BudgetExceededError", state.budget_refusal)
                continue
            need = 1
            if state.step.fan_out is not None:
                need = calls_needed(state, self.fan_out.aggregators.hedged(state))
            if self.calls.in_flight + need > limit:
                state.waited_for = "concurrency"
                if need > limit:  # the loader refuses these; a Workflow built by hand may not
                    self._fail(step_id, "PermanentError", too_many_at_once(need, limit))
                    continue
                heapq.heappush(best_pool.heap, (-state.step.priority, -1, step_id))
                return taken
            chosen = self.routes.route(state, best_pool, best, need)
            state.status = "running"
            state.attempts += 1
            calls = [self.calls.occupy(state, slot, now) for slot in chosen]
            if handoff and taken is None:
                taken = (state, calls)
            else:
                nursery.start_soon(self._attempt, state, calls, name=f"step {step_id}")
        else:  # the run's concurrency is full: what is next in line waits for it
            for pool in self._pools:
                if pool.heap:
                    self.states[pool.heap[0][2]].waited_for = "concurrency"
        return taken

    # -- attempts --------------------------------------------------------------

    async def _attempt(self, state: _StepState, calls: list[_Call]) -> None:
        """Run an attempt, then each attempt the dispatcher hands over when one ends.

        Taking over the next attempt saves spawning a task, and a task switch,
        per step: a chain's whole latency. An attempt whose agent never yielded
        still gives the scheduler its turn before the next (a shielded
        checkpoint: no ``Cancelled`` between taking a slot and using it), as
        a new task would; ``Task._schedule_points`` tells (trio's own count of
        a task's yields; without it, every hand-over checkpoints).
        """
        task = trio.lowlevel.current_task()
        handed: tuple[_StepState, list[_Call]] | None = (state, calls)
        while handed is not None:
            yields = getattr(task, "_schedule_points", None)
            await self._one_attempt(*handed)
            handed = self._start_ready(handoff=True)
            if handed is not None and (
                yields is None or getattr(task, "_schedule_points", None) == yields
            ):
                await trio.lowlevel.cancel_shielded_checkpoint()

    async def _one_attempt(self, state: _StepState, calls: list[_Call]) -> None:
        step = state.step
        now = trio.current_time()
        if state.started_at is None:
            state.started_at = now
            if step.total_timeout is not None:
                state.deadline = now + step.total_timeout
                self.timers.in_background(self._expire, state)
        first = calls[0].slot.name
        cache_key = self.cached.key(state, first)
        if cache_key is not None:
            hit = await self.cached.lookup(state, calls, cache_key)
            if hit is not None:
                seq = self._succeed(state, "cache", hit, trio.current_time())
                if state.parent is None:  # an item: nothing needs it; its step collected it
                    await self.durable.wait(step.id, seq)
                return
        generation = self.key_generation.get(
            step.id if state.parent is None else state.parent.step.id, ""
        )
        request = self.calls.request(state, first, now, generation)
        result: AgentResult | None
        error: BaseException | None
        if step.fan_out is not None and state.fallback_source is None:
            result, error, agent = await self.fan_out.run(state, calls, request)
        else:
            start = now if cache_key is None else None  # a cache lookup awaited: read anew
            outcome = await self.calls.call(state, calls[0], request, start=start)
            result, error, agent = outcome.result, outcome.error, first
        end = trio.current_time()
        if result is not None and error is None and self.journal is not None:
            error = self.journal.output_error(result.output, step_id=step.id, agent=agent)
        if result is not None and error is None:
            seq = self._succeed(state, agent, result, end)
            if cache_key is not None:
                self.cached.remember(state, cache_key, result)
            if state.parent is None:  # an item: nothing needs it; its step collected it
                self.durable.after_commit(step.id, seq)
        else:
            assert error is not None
            self._attempt_failed(state, agent, error, end - now)

    async def _finish(self, state: _StepState, agent: str, result: AgentResult) -> None:
        """Record a success now, release dependents once it is durable, dispatch."""
        seq = self._succeed(state, agent, result, trio.current_time())
        if state.parent is None:  # an item: nothing needs it; its step collected it
            await self.durable.wait(state.step.id, seq)
        self._dispatch()

    # -- outcomes --------------------------------------------------------------

    def _succeed(self, state: _StepState, agent: str, result: AgentResult, end: float) -> int:
        """Record the success and return its event's ``seq``; the caller releases dependents."""
        step_id = state.step.id
        result = self.fallbacks.result_of(state, result)
        state.status = "succeeded"
        state.output = result.output
        state.result = result
        state.agent = agent
        state.ended_at = end
        self.unfinished -= 1
        event = self.bus.emit(
            ev.StepSucceeded,
            step_id=step_id,
            attempt=state.attempts,
            agent=agent,
            output=result.output,
            duration=end - state.started_at if state.started_at is not None else 0.0,
            degraded=result.degraded,
            source=result.source,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=state.cost_usd if state.cost_usd else result.cost_usd,
        )
        if state.parent is not None:
            self.maps.ended(state)
        return event.seq

    def _attempt_failed(
        self, state: _StepState, agent: str, error: BaseException, duration: float
    ) -> None:
        step = state.step
        retry = state.retry_state()
        decision = decide_retry(step.retry, retry, error, trio.current_time(), self.rng)
        state.rate_limited = decision.rate_limited
        retry_in = None if isinstance(decision, GiveUp) else decision.delay
        self.bus.emit(
            ev.AttemptFailed,
            step_id=step.id,
            attempt=state.attempts,
            agent=agent,
            error_type=type(error).__name__,
            message=str(error),
            retryable=isinstance(error, AgentError) and error.retryable,
            duration=duration,
            retry_in=retry_in,
        )
        state.agent = agent
        state.last_agent = agent
        state.error_note = str(error)[:200]
        if isinstance(decision, GiveUp):
            message = str(error) + decision.note
            if isinstance(error, AgentError):
                if self.fallbacks.fall_back(state, message):
                    return
                if self.strict and state.step.fallback:
                    message += " (fallback not used: strict mode)"
            self._fail(step.id, type(error).__name__, message)
        elif decision.delay <= 0:
            state.status = "ready"
            state.ready_at = trio.current_time()
            self._enqueue(state)
        else:
            state.status = "backoff"
            self._start_soon(self._requeue_after, state, decision.delay)

    async def _expire(self, state: _StepState) -> None:
        """Fail a step whose total_timeout ends while it waits (for an agent, or a backoff)."""
        await trio.sleep_until(state.deadline)
        if state.status in ("ready", "backoff"):
            total = state.step.total_timeout or 0.0
            self._fail(
                state.step.id,
                "AgentTimeoutError",
                f"step ran past its total_timeout of {total:g}s while waiting to run "
                f"(last error: {state.error_note or 'none'})",
            )
            self._dispatch()

    async def _requeue_after(self, state: _StepState, delay: float) -> None:
        await trio.sleep(delay)
        if state.status != "backoff":  # ended meanwhile (total_timeout)
            return
        state.status = "ready"
        state.ready_at = trio.current_time()
        self._enqueue(state)
        self._dispatch()

    def _fail(self, step_id: str, error_type: str, message: str) -> None:
        state = self.states[step_id]
        state.status = "failed"
        state.error = message
        state.ended_at = trio.current_time()
        self.unfinished -= 1
        self.bus.emit(
            ev.StepFailed,
            step_id=step_id,
            attempts=state.attempts,
            error_type=error_type,
            message=message,
        )
        parent = state.parent
        if parent is not None and not (
            self.workflow.fail_fast and parent.step.on_item_failure == "fail"
        ):
            self.maps.ended(state)  # an item: its step decides once every item ended
            return
        if self.workflow.fail_fast:
            self.fail_reason = f"fail_fast: step {step_id!r} failed"
            self.cancel(self.fail_reason)
            return
        self._skip_descendants(step_id)

    def _skip(self, step_id: str, reason: str, cause: str | None) -> None:
        self._mark_skipped(step_id, reason, cause)
        self._release(step_id, blocked=True)

    def _skip_descendants(self, failed: str) -> None:
        """Skip every transitive dependent of a failed step, naming the failure as cause."""
        stack = list(self.dependents[failed])
        while stack:
            step_id = stack.pop()
            if self.states[step_id].status in _TERMINAL:
                continue
            self._mark_skipped(step_id, f"needs {failed!r}, which failed", failed)
            stack.extend(self.dependents[step_id])

    def _mark_skipped(self, step_id: str, reason: str, cause: str | None) -> None:
        state = self.states[step_id]
        state.status = "skipped"
        state.reason = reason
        state.ended_at = trio.current_time()
        self.unfinished -= 1
        self.bus.emit(ev.StepSkipped, step_id=step_id, reason=reason, cause=cause)
        if state.parent is not None:
            self.maps.ended(state)

    def _release(self, step_id: str, *, blocked: bool) -> None:
        """A need ended (succeeded, or skipped when ``blocked``): update its dependents.

        Iterative (a work list, not recursion) so a long chain of skips cannot
        overflow the stack.
        """
        self._releases.append((step_id, blocked))
        self._drain()

    def _drain(self) -> None:
        """Ready the steps whose needs ended, evaluating their ``when:`` and ``with:``.

        Each expression is bounded (``_expr_budget``), but many steps readied by
        one event could still keep the trio thread for their sum. So a turn
        spends at most :data:`TURN_EVALUATION_SECONDS` evaluating; the rest is
        left to a task that first checkpoints, letting cancellation, Ctrl-C,
        deadlines and finished calls in between. Steps without expressions
        never wait for that.
        """
        if self._releasing:
            return
        self._releasing = True
        self._eval_spent = 0.0
        try:
            while self._met or self._releases:
                if self._eval_spent > TURN_EVALUATION_SECONDS and self._nursery is not None:
                    if not self._drain_scheduled:
                        self._drain_scheduled = True
                        self._nursery.start_soon(self._drain_later)
                    return
                if self._met and not self._journal_full():
                    step_id = self._met.popleft()
                    if self.states[step_id].status == "pending":
                        self._on_needs_met(step_id)
                    continue
                if not self._releases:  # the steps in _met wait for the journal's room
                    return
                need, need_blocked = self._releases.pop()
                for dep_id in self.dependents[need]:
                    dep = self.states[dep_id]
                    if dep.status in _TERMINAL:
                        continue
                    if need_blocked and dep.step.if_needs_skipped == "skip":
                        self._skip(dep_id, f"needs {need!r}, which was skipped", cause=need)
                        continue
                    dep.waiting -= 1
                    if dep.waiting == 0:
                        self._met.append(dep_id)
        finally:
            self._releasing = False

    def _journal_full(self) -> bool:
        """Whether the journal's queue is congested; if so, resume once it has room.

        Backpressure for agents faster than commits: nothing new starts or
        readies (each would queue more events) until the writer caught up.
        """
        journal = self.journal
        if journal is None or not journal.congested or self._nursery is None:
            return False
        if not self._awaiting_room:
            self._awaiting_room = True
            self._nursery.start_soon(self._resume_when_room)
        return True

    async def _resume_when_room(self) -> None:
        assert self.journal is not None
        await self.journal.wait_room()
        self._awaiting_room = False
        self._drain()
        self._dispatch()

    async def _drain_later(self) -> None:
        """Go on readying steps after a checkpoint (see :meth:`_drain`)."""
        await trio.lowlevel.checkpoint()
        self._drain_scheduled = False
        self._drain()
        self._dispatch()
