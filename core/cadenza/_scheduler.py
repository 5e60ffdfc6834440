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

A retryable failure releases the agent's slot while the step waits out its
backoff in a sleeping child task; the step then re-enters its pool.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import structlog
import trio

from . import _events as ev
from ._agent import Agent, AgentRequest, AgentResult, SupportsHealth
from ._breaker import CircuitBreaker
from ._bus import EventBus
from ._cache import StepCache
from ._cache import cache_key as step_cache_key
from ._errors import (
    AgentError,
    AgentTimeoutError,
    ExpressionError,
    PermanentError,
    RetryableError,
)
from ._expr import ExpressionContext, StepView
from ._fallbacks import FallbackContext, fallback_key
from ._journal import Journal
from ._outcome import StepOutcome, StepStatus
from ._ratelimit import RateLimiter, estimate_tokens
from ._redact import redact
from ._spec import CachePolicy, FallbackSpec, Step, Workflow

log = structlog.get_logger()

_TERMINAL = frozenset({"succeeded", "failed", "skipped", "cancelled"})


def new_run_id() -> str:
    """A sortable, human-friendly run id: UTC timestamp plus 6 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def idempotency_key(run_id: str, step_id: str, generation: str = "") -> str:
    """Stable for a step within a run: the same across retries and crash resume.

    ``generation`` changes it for deliberate re-runs (``resume --from``).
    """
    material = f"{run_id}\0{step_id}" + (f"\0{generation}" if generation else "")
    return hashlib.sha256(material.encode()).hexdigest()[:32]


@attrs.define(eq=False, slots=True)
class _AgentSlot:
    name: str
    agent: Agent
    limit: int | None
    breaker: CircuitBreaker | None = None
    limiter: RateLimiter | None = None
    in_flight: int = 0
    rate_wait: float = 0.0  # seconds until the rate limit admits the call last asked about
    healthy: bool = True  # false after a failed configured health check
    calls: int = 0
    failures: int = 0
    latency: float | None = None  # exponentially weighted mean of call durations (passive)

    def observe_call(self, duration: float, *, failed: bool) -> None:
        """Passive health from real traffic: call count, failures, smoothed latency."""
        self.calls += 1
        self.failures += failed
        alpha = 0.2
        self.latency = (
            duration if self.latency is None else (alpha * duration + (1 - alpha) * self.latency)
        )

    def has_room(self, now: float = 0.0, tokens: int = 0) -> bool:
        self.rate_wait = 0.0
        if not self.healthy:
            return False
        if self.limit is not None and self.in_flight >= self.limit:
            return False
        if self.breaker is not None and not self.breaker.admits():
            return False
        if self.limiter is not None:
            self.rate_wait = self.limiter.wait_time(now, tokens=tokens)
            return self.rate_wait <= 0
        return True


@attrs.define(eq=False, slots=True)
class _Pool:
    """Ready steps that the same agents can serve, by priority."""

    agents: tuple[_AgentSlot, ...]
    heap: list[tuple[int, int, str]] = attrs.field(factory=list)

    @property
    def counts_tokens(self) -> bool:
        """Whether an agent here limits tokens per minute (so calls need an estimate)."""
        return any(
            s.limiter is not None and s.limiter.policy.tokens_per_minute is not None
            for s in self.agents
        )

    def free_agent(
        self, avoid: str | None = None, *, now: float = 0.0, tokens: int = 0
    ) -> _AgentSlot | None:
        """The agent with room and the fewest calls in flight (ties: file order).

        ``avoid`` (the agent a retried step just failed on) is chosen only when
        no other agent has room, so a retry goes elsewhere when it can.
        """
        best: _AgentSlot | None = None
        fallback: _AgentSlot | None = None
        for slot in self.agents:
            if not slot.has_room(now, tokens):
                continue
            if slot.name == avoid:
                fallback = slot
            elif best is None or slot.in_flight < best.in_flight:
                best = slot
        return best or fallback


@attrs.define(eq=False, slots=True)
class _StepState:
    step: Step
    pool: _Pool | None
    status: str = "pending"  # pending → ready → running ⇄ backoff → terminal
    waiting: int = 0
    attempts: int = 0
    inputs: Mapping[str, Any] | None = None
    output: Any = None
    result: AgentResult | None = None
    agent: str | None = None
    error: str | None = None
    reason: str | None = None
    ready_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    last_agent: str | None = None  # the agent the last failed attempt ran on
    rate_limited: int = 0  # attempts answered "too many requests", not counted
    fallbacks_tried: int = 0
    estimated_tokens: int = 0  # the rate limiter's estimate, when an agent limits tokens
    probe: bool = False  # the running attempt is its agent's half-open probe
    error_note: str = ""  # the last attempt's error, for messages
    fallback_source: str | None = None  # set while a fallback serves the step
    deadline: float = math.inf  # total_timeout, from the first attempt


@attrs.define(eq=False)
class _Run:
    workflow: Workflow
    agents: Mapping[str, Agent]
    bus: EventBus
    inputs: Mapping[str, Any]
    rng: random.Random
    run_id: str
    states: dict[str, _StepState] = attrs.field(factory=dict)
    dependents: dict[str, list[str]] = attrs.field(factory=dict)
    in_flight: int = 0
    unfinished: int = 0
    fail_reason: str = ""
    cancel_reason: str = ""
    _nursery: trio.Nursery | None = None
    _scope: trio.CancelScope | None = None
    _seq: itertools.count[int] = attrs.field(factory=itertools.count)
    _pools: list[_Pool] = attrs.field(factory=list)
    _releases: list[tuple[str, bool]] = attrs.field(factory=list)
    _releasing: bool = False
    journal: Journal | None = None
    cache: StepCache | None = None
    key_generation: dict[str, str] = attrs.field(factory=dict)
    _slots: dict[str, _AgentSlot] = attrs.field(factory=dict)
    _fallback_pools: dict[str, _Pool | None] = attrs.field(factory=dict)
    _background: list[trio.CancelScope] = attrs.field(factory=list)
    strict: bool = False
    fallback_strategies: Mapping[str, Callable[..., Any]] = attrs.field(factory=dict)
    _wakeups: set[float] = attrs.field(factory=set)

    def __attrs_post_init__(self) -> None:
        slots = {}
        for name, agent in self.agents.items():
            config = self.workflow.agents[name]
            breaker = CircuitBreaker(policy=config.breaker) if config.breaker else None
            limiter = None
            if config.rate_limit is not None:
                limiter = RateLimiter(config.rate_limit, now=trio.current_time())
            slots[name] = _AgentSlot(
                name=name,
                agent=agent,
                limit=config.max_concurrent,
                breaker=breaker,
                limiter=limiter,
            )
        self._slots = slots
        pools: dict[tuple[str, ...], _Pool] = {}

        def pool_of(names: tuple[str, ...]) -> _Pool | None:
            if not names:
                return None
            if names not in pools:
                pools[names] = _Pool(agents=tuple(slots[n] for n in names))
            return pools[names]

        for step_id, step in self.workflow.steps.items():
            pool = pool_of(self.workflow.agents_for(step.uses))
            for entry in step.fallback:
                if entry.agent is not None:
                    self._fallback_pools[entry.agent] = pool_of((entry.agent,))
            self.states[step_id] = _StepState(step=step, pool=pool, waiting=len(step.needs))
            self.dependents.setdefault(step_id, [])
            for need in step.needs:
                self.dependents.setdefault(need, []).append(step_id)
        self._pools = list(pools.values())
        self.unfinished = len(self.states)

    # -- lifecycle -------------------------------------------------------------

    async def execute(self) -> None:
        deadline = self.workflow.deadline
        with trio.CancelScope() as scope:
            if deadline is not None:
                scope.deadline = trio.current_time() + deadline
            self._scope = scope
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for name, slot in self._slots.items():
                    check = self.workflow.agents[name].health_check
                    if check is not None:
                        self._in_background(self.watch_health, slot, check.interval)
                for step_id, state in list(self.states.items()):
                    # A root's skip may already have readied a later step: check status.
                    if state.waiting == 0 and state.status == "pending":
                        self._on_needs_met(step_id)
                self._dispatch()
        self._nursery = None
        if scope.cancelled_caught and not self.cancel_reason and deadline is not None:
            self.fail_reason = self.cancel_reason = f"run deadline of {deadline:g}s exceeded"

    def cancel(self, reason: str) -> None:
        """Stop the run: in-flight calls are cancelled, nothing new starts."""
        if not self.cancel_reason:
            self.cancel_reason = reason
        if self._scope is not None:
            self._scope.cancel()

    def restore(self, outputs: Mapping[str, Any]) -> None:
        """Mark steps as succeeded with journaled outputs (resume); they will not run."""
        for step_id, output in outputs.items():
            state = self.states[step_id]
            state.status = "succeeded"
            state.output = output
            self.unfinished -= 1
            for dep_id in self.dependents[step_id]:
                self.states[dep_id].waiting -= 1

    # -- readiness -------------------------------------------------------------

    def _on_needs_met(self, step_id: str) -> None:
        """Every need is terminal and none blocks: check ``when:``, render inputs, queue."""
        state = self.states[step_id]
        assert state.status == "pending", f"step {step_id} readied twice"
        step = state.step
        ctx = self._context(step)
        if step.condition is not None:
            try:
                go = step.condition.evaluate(ctx)
            except ExpressionError as exc:
                self._fail(step_id, type(exc).__name__, str(exc))
                return
            if not go:
                self._skip(step_id, f"when: {step.condition.source!r} was false", cause=None)
                return
        try:
            state.inputs = step.inputs.render(ctx)
        except ExpressionError as exc:
            self._fail(step_id, type(exc).__name__, str(exc))
            return
        if not isinstance(state.inputs, Mapping):
            self._fail(
                step_id, "ExpressionError", f"with: must produce a mapping, got {state.inputs!r}"
            )
            return
        if state.pool is None:
            self._fail(
                step_id,
                "PermanentError",
                f"no agent serves {step.uses!r}; add an agent with "
                f"capabilities: [{step.uses}] (seed format: type: {step.uses})",
            )
            return
        self.bus.emit(ev.StepReady, step_id=step_id)
        state.status = "ready"
        state.ready_at = trio.current_time()
        self._enqueue(state)

    def _context(self, step: Step) -> ExpressionContext:
        views = {}
        for need in step.needs:
            dep = self.states[need]
            views[need] = StepView(status=dep.status, output=dep.output)
        return ExpressionContext(inputs=self.inputs, steps=views)

    def _enqueue(self, state: _StepState) -> None:
        assert state.pool is not None
        heapq.heappush(state.pool.heap, (-state.step.priority, next(self._seq), state.step.id))

    # -- dispatch --------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start ready steps while the global limit and their agents' limits allow."""
        nursery = self._nursery
        if self.unfinished == 0:  # nothing left to run: stop timers and health watchers
            for scope in self._background:
                scope.cancel()
        if nursery is None or self.cancel_reason:
            return
        self._refresh_breakers()
        now = trio.current_time()
        limit = self.workflow.concurrency
        while self.in_flight < limit:
            best_pool: _Pool | None = None
            best_slot: _AgentSlot | None = None
            rate_wait = math.inf
            for pool in self._pools:
                if not pool.heap or (best_pool is not None and pool.heap[0] >= best_pool.heap[0]):
                    continue
                top = self.states[pool.heap[0][2]]
                if pool.counts_tokens and top.estimated_tokens == 0:
                    top.estimated_tokens = estimate_tokens(top.inputs or {})
                slot = pool.free_agent(top.last_agent, now=now, tokens=top.estimated_tokens)
                if slot is not None:
                    best_pool, best_slot = pool, slot
                else:
                    waits = [s.rate_wait for s in pool.agents if s.rate_wait > 0]
                    if waits:
                        rate_wait = min(rate_wait, *waits)
            if best_pool is None or best_slot is None:
                if rate_wait < math.inf:  # a rate limit holds ready steps: come back then
                    self._wake_at(now + rate_wait)
                return
            _, _, step_id = heapq.heappop(best_pool.heap)
            state = self.states[step_id]
            if state.status != "ready":  # expired while it waited (total_timeout)
                continue
            state.status = "running"
            state.attempts += 1
            best_slot.in_flight += 1
            if best_slot.breaker is not None:
                state.probe = best_slot.breaker.call_started()
            if best_slot.limiter is not None:
                best_slot.limiter.acquire(now, tokens=state.estimated_tokens)
            self.in_flight += 1
            nursery.start_soon(self._attempt, state, best_slot, name=f"step {step_id}")

    # -- circuit breakers --------------------------------------------------------

    def _refresh_breakers(self) -> None:
        now = trio.current_time()
        for slot in self._slots.values():
            if slot.breaker is None:
                continue
            previous = slot.breaker.state
            if not slot.breaker.refresh(now):
                continue
            if isinstance(slot.agent, SupportsHealth) and self._nursery is not None:
                # Probe with health() rather than a real, possibly billed, call.
                slot.breaker.call_started()
                self._breaker_changed(slot, previous, "cooldown over: checking health()")
                self._in_background(self._health_probe, slot)
            else:
                self._breaker_changed(slot, previous, "cooldown over: one probe call allowed")

    async def _health_probe(self, slot: _AgentSlot) -> None:
        """The half-open probe of an agent with ``health()``: it decides the breaker."""
        assert slot.breaker is not None
        healthy = await check_health(slot.agent)
        previous = slot.breaker.state
        now = trio.current_time()
        if healthy:
            changed = slot.breaker.record_success(now, probe=True)
        else:
            changed = slot.breaker.record_failure(now, probe=True)
        if changed:
            verdict = "passed" if healthy else "failed"
            self._breaker_changed(slot, previous, f"health check {verdict}")
        self._dispatch()

    async def watch_health(self, slot: _AgentSlot, interval: float) -> None:
        """Configured active health checks: an unhealthy agent takes no calls until healthy."""
        while True:
            await trio.sleep(interval)
            healthy = await check_health(slot.agent)
            if healthy != slot.healthy:
                slot.healthy = healthy
                self.bus.emit(ev.AgentHealthChanged, agent=slot.name, healthy=healthy)
                if healthy:
                    self._dispatch()

    def _breaker_changed(self, slot: _AgentSlot, previous: str, reason: str) -> None:
        assert slot.breaker is not None
        self.bus.emit(
            ev.CircuitChanged,
            agent=slot.name,
            state=slot.breaker.state,
            previous=previous,
            reason=reason,
        )
        if slot.breaker.state == "open":
            self._wake_at(slot.breaker.reopens_at)

    def _wake_at(self, when: float) -> None:
        """Run the dispatcher again at ``when`` (one timer per instant, no polling)."""
        if when in self._wakeups or self._nursery is None:
            return
        self._wakeups.add(when)

        async def wake() -> None:
            await trio.sleep_until(when)
            self._wakeups.discard(when)
            self._dispatch()

        self._in_background(wake)

    def _in_background(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run a timer or health watcher that must not keep a finished run alive."""
        assert self._nursery is not None
        scope = trio.CancelScope()
        self._background.append(scope)
        if self.unfinished == 0:
            scope.cancel()

        async def guarded() -> None:
            with scope:
                await fn(*args)
            self._background.remove(scope)

        self._nursery.start_soon(guarded, name=getattr(fn, "__name__", "background"))

    def _record_outcome(
        self, slot: _AgentSlot, error: BaseException | None, *, probe: bool
    ) -> None:
        """Tell the agent's breaker how the call went; a cancelled call says nothing."""
        breaker = slot.breaker
        if breaker is None:
            return
        previous = breaker.state
        now = trio.current_time()
        if error is None:
            changed = breaker.record_success(now, probe=probe)
            reason = "probe call succeeded"
        elif isinstance(error, RetryableError) and not error.rate_limited:
            changed = breaker.record_failure(now, probe=probe)
            reason = f"{type(error).__name__}: {error}"[:200]
        else:
            breaker.record_neutral(probe=probe)
            changed = None
            reason = ""
        if changed:
            self._breaker_changed(slot, previous, reason)

    async def _attempt(self, state: _StepState, slot: _AgentSlot) -> None:
        step = state.step
        now = trio.current_time()
        if state.started_at is None:
            state.started_at = now
            if step.total_timeout is not None:
                state.deadline = now + step.total_timeout
                self._in_background(self._expire, state)
        cache_key = None
        if step.cache is not None and self.cache is not None:
            cache_key = step_cache_key(self.workflow.agents[slot.name], step, state.inputs or {})
            if await self._reuse_cached(state, slot, cache_key):
                return
        attempt = state.attempts
        key = idempotency_key(self.run_id, step.id, self.key_generation.get(step.id, ""))
        self.bus.emit(
            ev.AttemptStarted,
            step_id=step.id,
            attempt=attempt,
            agent=slot.name,
            idempotency_key=key,
            queue_wait=now - state.ready_at,
        )
        deadline = min(now + (step.timeout or math.inf), state.deadline)
        request = AgentRequest(
            run_id=self.run_id,
            step_id=step.id,
            task_type=step.uses,
            inputs=state.inputs or {},
            attempt=attempt,
            idempotency_key=key,
            priority=step.priority,
            deadline=None if deadline == math.inf else deadline,
        )
        result: object = None  # typed loosely: plugin agents may break the protocol
        error: BaseException | None = None
        try:
            with trio.CancelScope(deadline=deadline) as sc:
                result = await slot.agent.run(request)
            if sc.cancelled_caught:
                error = AgentTimeoutError(
                    f"attempt timed out after {trio.current_time() - now:g}s"
                    + (" (the step's total_timeout)" if deadline == state.deadline else ""),
                    agent=slot.name,
                    step_id=step.id,
                )
        except AgentError as exc:
            error = exc
        except Exception as exc:  # an agent bug: report it, do not retry it
            log.exception("agent_raised", step_id=step.id, agent=slot.name)
            error = exc
        finally:
            slot.in_flight -= 1
            self.in_flight -= 1
        end = trio.current_time()
        if error is None and not isinstance(result, AgentResult):
            error = PermanentError(
                f"agent {slot.name!r} returned {type(result).__name__}, expected AgentResult",
                agent=slot.name,
                step_id=step.id,
            )
        self._record_outcome(slot, error, probe=state.probe)
        slot.observe_call(end - now, failed=error is not None)
        if slot.limiter is not None:
            used = state.estimated_tokens
            if isinstance(result, AgentResult) and result.usage.total_tokens:
                used = result.usage.total_tokens
            slot.limiter.settle(end, estimated=state.estimated_tokens, actual=used)
        if isinstance(result, AgentResult) and error is None:
            seq = self._succeed(state, slot.name, result, end)
            if cache_key is not None and self.journal is not None and step.cache is not None:
                output = redact(result.output, self.bus.secrets)  # as journaled
                self.journal.add_cache(
                    StepCache.entry(
                        cache_key, output, step.cache, run_id=self.run_id, step_id=step.id
                    )
                )
            await self._released_when_durable(step.id, seq)
        else:
            assert error is not None
            self._attempt_failed(state, slot.name, error, end - now)
        self._dispatch()

    async def _reuse_cached(self, state: _StepState, slot: _AgentSlot, key: str) -> bool:
        """Serve the step from the cache if an entry exists; True when it did."""
        assert self.cache is not None
        try:
            entry = await self.cache.lookup(key)
        except BaseException:
            slot.in_flight -= 1
            self.in_flight -= 1
            raise
        if entry is None:
            return False
        slot.in_flight -= 1
        self.in_flight -= 1
        state.attempts -= 1  # no agent was called
        self.bus.emit(
            ev.StepCacheHit,
            step_id=state.step.id,
            key=key,
            source_run=entry.run_id,
            source_step=entry.step_id,
            created_at=entry.created_at,
        )
        result = AgentResult(output=entry.output, source="cache")
        seq = self._succeed(state, "cache", result, trio.current_time())
        await self._released_when_durable(state.step.id, seq)
        self._dispatch()
        return True

    async def _released_when_durable(self, step_id: str, seq: int) -> None:
        """Release dependents once the success (event ``seq``) is durable in the journal."""
        if self.journal is not None:
            self._dispatch()  # the freed slot can serve other ready steps meanwhile
            await self.journal.wait_durable(seq)
        self._release(step_id, blocked=False)

    # -- outcomes --------------------------------------------------------------

    def _succeed(self, state: _StepState, agent: str, result: AgentResult, end: float) -> int:
        """Record the success and return its event's ``seq``; the caller releases dependents."""
        step_id = state.step.id
        if state.fallback_source is not None:  # never passed off as the real thing
            source = f"fallback {state.fallback_source}"
            if result.source:
                source += f": {result.source}"
            result = attrs.evolve(result, degraded=True, source=source)
        elif self.journal is not None and any(f.strategy == "cached" for f in state.step.fallback):
            self.journal.add_cache(
                StepCache.entry(
                    fallback_key(state.step, state.inputs or {}),
                    redact(result.output, self.bus.secrets),
                    CachePolicy(),
                    run_id=self.run_id,
                    step_id=step_id,
                )
            )
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
            cost_usd=result.cost_usd,
        )
        return event.seq

    def _attempt_failed(
        self, state: _StepState, agent: str, error: BaseException, duration: float
    ) -> None:
        step = state.step
        policy = step.retry
        retryable = isinstance(error, AgentError) and error.retryable
        rate_limited = isinstance(error, RetryableError) and error.rate_limited
        if rate_limited and not policy.count_rate_limited:
            state.rate_limited += 1
        counted = state.attempts - (0 if policy.count_rate_limited else state.rate_limited)
        message = str(error)
        retry_in: float | None = None
        if retryable and counted < policy.max_attempts and state.fallback_source is None:
            if rate_limited and state.rate_limited > policy.max_rate_limited:
                message += f" (gave up after {state.rate_limited} rate-limited attempts)"
            else:
                retry_in = policy.delay(max(1, counted), self.rng)
                retry_after = getattr(error, "retry_after", None)
                if retry_after is not None and retry_after > policy.max_backoff:
                    retry_in = None
                    message += (
                        f" (the provider asked to wait {retry_after:g}s, more than "
                        f"max_backoff {policy.max_backoff:g}s)"
                    )
                elif retry_after is not None:
                    retry_in = max(retry_in, float(retry_after))
            if retry_in is not None and trio.current_time() + retry_in >= state.deadline:
                retry_in = None
                message += " (no time left in the step's total_timeout)"
        self.bus.emit(
            ev.AttemptFailed,
            step_id=step.id,
            attempt=state.attempts,
            agent=agent,
            error_type=type(error).__name__,
            message=str(error),
            retryable=retryable,
            duration=duration,
            retry_in=retry_in,
        )
        state.agent = agent
        state.last_agent = agent
        state.error_note = str(error)[:200]
        if retry_in is None and isinstance(error, AgentError):
            if self._fall_back(state, message):
                return
            if self.strict and state.step.fallback:
                message += " (fallback not used: strict mode)"
        if retry_in is None:
            self._fail(step.id, type(error).__name__, message)
        elif retry_in <= 0:
            state.status = "ready"
            state.ready_at = trio.current_time()
            self._enqueue(state)
        else:
            state.status = "backoff"
            assert self._nursery is not None
            self._nursery.start_soon(self._requeue_after, state, retry_in)

    # -- fallbacks ---------------------------------------------------------------

    def _fall_back(self, state: _StepState, error: str) -> bool:
        """Start the step's next fallback after a final failure; False when none is left."""
        step = state.step
        if self.strict or state.fallbacks_tried >= len(step.fallback):
            return False
        entry = step.fallback[state.fallbacks_tried]
        state.fallbacks_tried += 1
        state.fallback_source = entry.label
        self.bus.emit(ev.FallbackStarted, step_id=step.id, source=entry.label, error=error)
        if entry.agent is not None:
            pool = self._fallback_pools.get(entry.agent)
            if pool is None:
                return self._fall_back(state, f"agent {entry.agent} is not available")
            state.pool = pool
            state.status = "ready"
            state.ready_at = trio.current_time()
            state.last_agent = None
            self._enqueue(state)
            return True
        assert self._nursery is not None
        assert entry.strategy is not None
        state.status = "running"
        self._nursery.start_soon(self._run_strategy, state, entry, error)
        return True

    async def _run_strategy(self, state: _StepState, entry: FallbackSpec, error: str) -> None:
        step = state.step
        request = AgentRequest(
            run_id=self.run_id,
            step_id=step.id,
            task_type=step.uses,
            inputs=state.inputs or {},
            attempt=state.attempts,
            idempotency_key=idempotency_key(self.run_id, step.id),
            priority=step.priority,
        )
        context = FallbackContext(
            step=step, error=error, store=self.journal.store if self.journal else None
        )
        try:
            factory = self.fallback_strategies[entry.strategy or ""]
            result = await factory(dict(entry.options)).run(request, context=context)
            if not isinstance(result, AgentResult):
                raise PermanentError(f"returned {type(result).__name__}, expected AgentResult")
        except Exception as exc:
            message = f"{error}; fallback {entry.label} failed: {exc}"
            if not self._fall_back(state, message):
                self._fail(step.id, type(exc).__name__, message)
            self._dispatch()
            return
        seq = self._succeed(state, entry.label, result, trio.current_time())
        await self._released_when_durable(step.id, seq)
        self._dispatch()

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
        if self.workflow.fail_fast:
            self.fail_reason = f"fail_fast: step {step_id!r} failed"
            self.cancel(self.fail_reason)
            return
        self._skip_descendants(step_id)

    def _skip(self, step_id: str, reason: str, cause: str | None) -> None:
        state = self.states[step_id]
        state.status = "skipped"
        state.reason = reason
        state.ended_at = trio.current_time()
        self.unfinished -= 1
        self.bus.emit(ev.StepSkipped, step_id=step_id, reason=reason, cause=cause)
        self._release(step_id, blocked=True)

    def _skip_descendants(self, failed: str) -> None:
        """Skip every transitive dependent of a failed step, naming the failure as cause."""
        stack = list(self.dependents[failed])
        while stack:
            step_id = stack.pop()
            state = self.states[step_id]
            if state.status in _TERMINAL:
                continue
            state.status = "skipped"
            state.reason = f"needs {failed!r}, which failed"
            state.ended_at = trio.current_time()
            self.unfinished -= 1
            self.bus.emit(ev.StepSkipped, step_id=step_id, reason=state.reason, cause=failed)
            stack.extend(self.dependents[step_id])

    def _release(self, step_id: str, *, blocked: bool) -> None:
        """A need ended (succeeded, or skipped when ``blocked``): update its dependents.

        Iterative (a work list, not recursion) so a long chain of skips cannot
        overflow the stack.
        """
        self._releases.append((step_id, blocked))
        if self._releasing:
            return
        self._releasing = True
        try:
            while self._releases:
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
                        self._on_needs_met(dep_id)
        finally:
            self._releasing = False

    # -- summary ---------------------------------------------------------------

    def mark_cancelled(self, reason: str) -> None:
        for step_id, state in self.states.items():
            if state.status in _TERMINAL:
                continue
            in_flight = state.status == "running"
            state.status = "cancelled"
            state.reason = reason
            self.bus.emit(ev.StepCancelled, step_id=step_id, reason=reason, in_flight=in_flight)

    def agent_stats(self) -> dict[str, dict[str, Any]]:
        """Passive health of each agent from this run's traffic (see RunResult.agents)."""
        return {
            name: {
                "calls": slot.calls,
                "failures": slot.failures,
                "latency": slot.latency,
                "breaker": slot.breaker.state if slot.breaker is not None else None,
            }
            for name, slot in self._slots.items()
        }

    def outcomes(self) -> dict[str, StepOutcome]:
        """How each step ended, with secrets redacted from outputs and errors."""
        hidden = self.bus.secrets
        out = {}
        for step_id, s in self.states.items():
            status: StepStatus = s.status  # type: ignore[assignment]
            duration = None
            if s.started_at is not None and s.ended_at is not None:
                duration = s.ended_at - s.started_at
            out[step_id] = StepOutcome(
                step_id=step_id,
                status=status,
                output=redact(s.output, hidden),
                attempts=s.attempts,
                agent=s.agent,
                error=redact(s.error, hidden),
                reason=s.reason,
                degraded=bool(s.result and s.result.degraded),
                duration=duration,
            )
        return out


HEALTH_CHECK_TIMEOUT = 10.0
"""Seconds a ``health()`` call may take before the agent counts as unhealthy."""


async def check_health(agent: Agent) -> bool:
    """``agent.health()`` bounded by a timeout; an exception or a timeout means unhealthy."""
    if not isinstance(agent, SupportsHealth):
        return True
    with trio.move_on_after(HEALTH_CHECK_TIMEOUT):
        try:
            return bool(await agent.health())
        except Exception:
            log.warning(
                "agent_health_check_raised", agent=getattr(agent, "name", "?"), exc_info=True
            )
            return False
    return False
