"""One agent call, from taking a slot to settling its cost.

Single-agent steps make one call per attempt; multi-agent steps make several
(:mod:`._fan_out`). Either way a call is the same sequence, kept here in one
place: take the agent's slot (concurrency, breaker probe, rate limit, budget
reservation) synchronously in dispatch; announce the attempt; run the agent
under the attempt's deadline; score the output with the step's validators;
give the slot back; tell the breaker and the passive stats how it went; settle
the rate limiter and the budgets to what the call really used.

:class:`Calls` makes the calls; :class:`CachedOutputs` serves a ``cache:``
step from an earlier run instead, giving back the slots it did not use.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from .. import _events as ev
from .._agents._contract import AgentRequest, AgentResult
from .._agents._json_output import not_json
from .._errors import (
    AgentError,
    AgentTimeoutError,
    BudgetExceededError,
    PermanentError,
    QualityError,
    UnavailableError,
)
from .._ids import idempotency_key
from .._journal._bus import EventBus
from .._journal._store import CacheEntry
from .._journal._writer import Journal
from .._logging import get_logger
from .._plugins._checks import check_made
from .._plugins._registry import call_plugin_async
from .._redact import redact
from .._resilience._budget import Ledger, Reservation
from .._resilience._ratelimit import estimate_tokens
from .._resilience._slots import _AgentSlot
from .._spec._workflow import StrategySpec, Workflow
from .._strategies._aggregation import Answer
from .._strategies._validation import Quality, ValidationContext, Validator
from ._cache import StepCache, cache_key, panel_cache_key
from ._step_state import _StepState

log = get_logger()

DEFAULT_OUTPUT_TOKENS = 256
"""Output tokens a call is assumed to produce when its agent declares no price."""

PROGRESS_INTERVAL = 0.25
"""Seconds between two progress events of one call (agents may report far more often)."""

_JSON_SCALARS = frozenset({type(None), str, int, bool})
"""Output types that are JSON whatever their value: no need to ask ``not_json``."""

_NO_SCOPE = contextlib.nullcontext()
"""Stands in for the cancel scope of a call without a deadline (reusable: it holds nothing)."""


@attrs.define(eq=False, slots=True)
class _Call:
    """One call's hold on its agent: the slot, its probe flag and its budget reservation."""

    slot: _AgentSlot
    probe: bool = False
    tokens: int = 0  # the rate limiter's and budgets' token estimate
    reservation: Reservation | None = None


@attrs.define(eq=False, slots=True)
class _CallOutcome:
    """How a call ended: its result (set even when validation failed it), error and score."""

    agent: str
    result: AgentResult | None
    error: BaseException | None
    quality: float | None
    latency: float

    def answer(self, weight: float) -> Answer:
        """The call as an aggregator sees it (only multi-agent steps need one)."""
        error = self.error
        return Answer(
            agent=self.agent,
            result=self.result if error is None else None,
            error="" if error is None else str(error),
            error_type="" if error is None else type(error).__name__,
            retryable=isinstance(error, AgentError) and error.retryable,
            weight=weight,
            quality=self.quality,
            latency=self.latency,
        )


def call_estimate(workflow: Workflow, agent: str, state: _StepState) -> tuple[float, int]:
    """The USD and tokens a call of ``state``'s step on ``agent`` reserves before it runs.

    Fixed for the step (its inputs and the agent's price do not change), so
    computed once per step and agent: dispatch asks for it often.
    """
    known = state.estimates.get(agent)
    if known is not None:
        return known
    if state.input_tokens == 0:
        state.input_tokens = estimate_tokens(state.inputs or {})
    price = workflow.agents[agent].price
    if price is None:
        estimate = (0.0, state.input_tokens + DEFAULT_OUTPUT_TOKENS)
    else:
        estimate = (
            price.estimate(state.input_tokens),
            state.input_tokens + price.expected_output_tokens,
        )
    state.estimates[agent] = estimate
    return estimate


def progress_reporter(
    bus: EventBus, step_id: str, attempt: int, agent: str
) -> Callable[[str, int | None], None]:
    """The ``progress`` callback of one call: transient events, a few per second at most."""
    last = -math.inf

    def report(message: str, tokens: int | None) -> None:
        nonlocal last
        try:
            now = trio.current_time()
        except RuntimeError:
            raise RuntimeError(
                "report_progress() must be called from the run's trio thread; from a "
                "worker thread, use trio.from_thread.run_sync(request.report_progress, ...)"
            ) from None
        if now - last < PROGRESS_INTERVAL:
            return
        last = now
        bus.emit(
            ev.AttemptProgress,
            step_id=step_id,
            attempt=attempt,
            agent=agent,
            message=str(message)[:200],
            tokens=tokens,
        )

    return report


@attrs.define(eq=False)
class Calls:
    """Every agent call of a run: slots taken, agents run, outputs scored, costs settled.

    Receives the run's ``workflow``, ``bus``, ``run_id``, budget ``ledger``,
    agent ``slots`` (name to slot), ``validator_factories`` (name to factory),
    ``on_call_done(slot, error, probe=...)``, told how each call that ran
    to its end went (the breakers' :meth:`~._health.HealthWatch.record`),
    and ``output_dir`` (the run's, for ``request.output_dir``).
    Owns ``in_flight``, the run's count of calls holding a slot.
    """

    workflow: Workflow
    bus: EventBus
    run_id: str
    ledger: Ledger
    slots: Mapping[str, _AgentSlot]
    validator_factories: Mapping[str, Callable[..., Any]]
    on_call_done: Callable[..., None]
    output_dir: Path | None = None
    in_flight: int = 0
    _validators: dict[str, tuple[tuple[str, Validator], ...]] = attrs.field(factory=dict)

    def request(
        self, state: _StepState, agent: str, start: float, generation: str = ""
    ) -> AgentRequest:
        """The request of the step's attempt started at ``start``, first sent to ``agent``.

        Its deadline is the sooner of the step's ``timeout`` and its ``total_timeout``;
        its idempotency key is the same for every attempt of the step (``generation``
        changes it when a resumed run reruns a step on purpose).
        """
        step = state.step
        deadline = min(start + (step.timeout or math.inf), state.deadline)
        return AgentRequest(
            run_id=self.run_id,
            step_id=step.id,
            task_type=step.uses,
            inputs=state.inputs or {},
            attempt=state.attempts,
            idempotency_key=idempotency_key(self.run_id, step.id, generation),
            priority=step.priority,
            deadline=None if deadline == math.inf else deadline,
            output_dir=state.folder(self.output_dir),
            progress=progress_reporter(self.bus, step.id, state.attempts, agent),
            delegate=functools.partial(self.ask, state),
        )

    def occupy(self, state: _StepState, slot: _AgentSlot, now: float) -> _Call:
        """Take ``slot`` for one call of ``state``'s step (synchronously, in dispatch)."""
        call = _Call(slot=slot, tokens=state.estimated_tokens)
        slot.in_flight += 1
        self.in_flight += 1
        if slot.breaker is not None:
            call.probe = slot.breaker.call_started()
        if slot.limiter is not None:
            slot.limiter.acquire(now, tokens=state.estimated_tokens)
        if self.ledger.bounded:
            usd, tokens = call_estimate(self.workflow, slot.name, state)
            call.reservation = self.ledger.reserve(state.step.id, slot.name, usd, tokens)
        return call

    async def ask(
        self,
        state: _StepState,
        agent: str,
        inputs: Mapping[str, Any],
        *,
        task_type: str | None = None,
    ) -> AgentResult:
        """``request.ask()``: one call on another agent, for the step that asked.

        Budgets and the agent's health and breaker apply; its concurrency limit
        does not (the asking call already holds a slot, and waiting for another
        could deadlock a full pool). No validators run: they judge the step's
        output, not its helpers'.
        """
        slots = self.slots
        slot = slots.get(agent)
        if slot is None:
            known = ", ".join(slots) or "none"
            raise PermanentError(
                f"asked agent {agent!r}, which this workflow does not define (agents: {known})",
                step_id=state.step.id,
            )
        if not slot.healthy or (slot.breaker is not None and not slot.breaker.admits()):
            raise UnavailableError(
                f"asked agent {agent!r}, which is unhealthy or has its circuit open",
                agent=agent,
                step_id=state.step.id,
            )
        if self.ledger.bounded:
            usd, tokens = call_estimate(self.workflow, agent, state)
            fit, why = self.ledger.fit(state.step.id, agent, usd, tokens)
            if fit != "fits":
                raise BudgetExceededError(
                    f"asked agent {agent!r}, but the call does not fit: {why}",
                    agent=agent,
                    step_id=state.step.id,
                )
        call = self.occupy(state, slot, trio.current_time())
        deadline = trio.current_effective_deadline()  # the asking call's, which bounds this one
        request = AgentRequest(
            run_id=self.run_id,
            step_id=state.step.id,
            task_type=task_type or state.step.uses,
            inputs=inputs,
            attempt=state.attempts,
            idempotency_key=f"{state.step.id}-{state.attempts}-{agent}-{next(state.asks)}",
            priority=state.step.priority,
            deadline=None if deadline == math.inf else deadline,
        )
        outcome = await self.call(state, call, request, validate=False)
        if outcome.error is not None:
            if isinstance(outcome.error, AgentError):
                raise outcome.error
            raise PermanentError(
                f"asked agent {agent!r} failed: {type(outcome.error).__name__}: {outcome.error}",
                agent=agent,
                step_id=state.step.id,
            )
        assert outcome.result is not None
        return outcome.result

    async def call(
        self,
        state: _StepState,
        call: _Call,
        request: AgentRequest,
        *,
        validate: bool = True,
        start: float | None = None,
    ) -> _CallOutcome:
        """Run the agent for one call and account for it; never raises for agent failures.

        ``start`` is the trio time now, when the caller has just read it.
        """
        step = state.step
        slot = call.slot
        if start is None:
            start = trio.current_time()
        self.bus.emit(
            ev.AttemptStarted,
            step_id=step.id,
            attempt=request.attempt,
            agent=slot.name,
            idempotency_key=request.idempotency_key,
            queue_wait=start - state.ready_at,
            waited_for=state.waited_for,
        )
        state.waited_for = ""
        deadline = math.inf if request.deadline is None else request.deadline
        result: object = None  # typed loosely: plugin agents may break the protocol
        error: BaseException | None = None
        quality: Quality | None = None
        cancelled = False
        # No deadline, no scope: entering and closing one is a good part of a
        # fast call's cost, and a scope that can never expire changes nothing.
        sc = None if deadline == math.inf else trio.CancelScope(deadline=deadline)
        try:
            with _NO_SCOPE if sc is None else sc:
                result = await call_plugin_async(slot.agent.run, request)
                if (
                    isinstance(result, AgentResult)
                    and result.output.__class__ not in _JSON_SCALARS
                    and (where := not_json(result.output))
                ):
                    raise PermanentError(
                        f"agent {slot.name!r} returned output that is not JSON: {where}. "
                        "Return dicts, lists, strings, numbers, booleans or None "
                        "(a set: sorted(...) or list(...)).",
                        agent=slot.name,
                        step_id=step.id,
                    )
                if isinstance(result, AgentResult) and step.validate and validate:
                    quality = await self._validate(state, slot.name, result, request.attempt)
            if sc is not None and sc.cancelled_caught:
                error = AgentTimeoutError(
                    f"attempt timed out after {trio.current_time() - start:g}s"
                    + (" (the step's total_timeout)" if deadline == state.deadline else ""),
                    agent=slot.name,
                    step_id=step.id,
                )
        except AgentError as exc:
            error = exc
        except trio.Cancelled:
            cancelled = True
            raise
        except Exception as exc:  # an agent bug: report it, do not retry it
            log.exception("agent_raised", step_id=step.id, agent=slot.name)
            error = exc
        finally:
            slot.in_flight -= 1
            self.in_flight -= 1
            if cancelled:  # a loser of a multi-agent step, or the run was cancelled
                if slot.breaker is not None:
                    slot.breaker.record_neutral(probe=call.probe)
                self.settle(state, call, None, request.attempt, billed=True)
        end = trio.current_time()
        if error is None and not isinstance(result, AgentResult):
            error = PermanentError(
                f"agent {slot.name!r} returned {type(result).__name__}, expected AgentResult",
                agent=slot.name,
                step_id=step.id,
            )
        if error is None and quality is not None and quality.score < step.quality_threshold:
            error = QualityError(
                f"output scored {quality.score:.2f}, below min_quality "
                f"{step.quality_threshold:g}: " + "; ".join(quality.findings[:3]),
                score=quality.score,
                findings=quality.findings,
                agent=slot.name,
                step_id=step.id,
            )
        self.on_call_done(slot, error, probe=call.probe)
        slot.observe_call(end - start, failed=error is not None)
        if quality is not None:
            slot.observe_quality(quality.score)
        good = result if isinstance(result, AgentResult) else None
        timed_out = isinstance(error, AgentTimeoutError)
        self.settle(state, call, good, request.attempt, billed=timed_out)
        score = None if quality is None else quality.score
        return _CallOutcome(slot.name, good, error, score, end - start)

    def settle(
        self,
        state: _StepState,
        call: _Call,
        result: AgentResult | None,
        attempt: int,
        *,
        billed: bool,
    ) -> None:
        """Settle the rate limiter and budgets to what the call used; emit its cost.

        Without a result the cost is unknown: a call cut off mid-way (timed out,
        cancelled) may still be billed by its provider, so it is settled at its
        reservation, or its estimate when no budget asked for one (``billed``);
        a call that failed with an error answer is settled at nothing.
        """
        slot = call.slot
        if result is None:
            spent_nothing = not billed or (call.reservation is None and slot.price is None)
        else:
            spent_nothing = (
                result.cost_usd is None and slot.price is None and not result.usage.total_tokens
            )
        if slot.limiter is None and call.reservation is None and spent_nothing:
            return  # nothing to settle and nothing spent: the common unpriced call
        now = trio.current_time()
        usage_tokens = 0
        usd = 0.0
        input_tokens = output_tokens = 0
        if result is not None:
            input_tokens = result.usage.input_tokens
            output_tokens = result.usage.output_tokens
            usage_tokens = result.usage.total_tokens
            if result.cost_usd is not None:
                usd = float(result.cost_usd)
            elif slot.price is not None:
                usd = slot.price.cost(result.usage)
        if slot.limiter is not None and call.tokens >= 0:
            slot.limiter.settle(now, estimated=call.tokens, actual=usage_tokens or call.tokens)
            call.tokens = -1  # settled: a second call is a no-op
        reservation = call.reservation
        estimated = reservation.usd if reservation is not None else 0.0
        if result is None and billed:
            if reservation is not None:
                usd, usage_tokens = reservation.usd, reservation.tokens
            elif slot.price is not None:
                usd, usage_tokens = call_estimate(self.workflow, slot.name, state)
        if reservation is not None:
            self.ledger.settle(reservation, usd, usage_tokens)
            call.reservation = None
        elif result is not None or usd or usage_tokens:
            self.ledger.total_usd += usd
            self.ledger.total_tokens += usage_tokens
        else:
            return
        if usd or usage_tokens:
            self.bus.emit(
                ev.CostIncurred,
                step_id=state.step.id,
                attempt=attempt,
                agent=slot.name,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=usd,
                tokens=usage_tokens,
                estimated_usd=estimated,
                over_estimate=reservation is not None and usd > estimated + 1e-12,
                run_cost_usd=self.ledger.total_usd,
                run_tokens=self.ledger.total_tokens,
            )
            state.cost_usd += usd
            state.tokens += usage_tokens

    def release_unused(self, state: _StepState, calls: list[_Call]) -> None:
        """Give back slots taken for calls that were never made (a cache hit)."""
        for call in calls:
            call.slot.in_flight -= 1
            self.in_flight -= 1
            if call.slot.breaker is not None:
                call.slot.breaker.record_neutral(probe=call.probe)
            self.settle(state, call, None, state.attempts, billed=False)

    async def _validate(
        self, state: _StepState, agent: str, result: AgentResult, attempt: int
    ) -> Quality:
        """Score ``result`` with the step's validators: the lowest score, every finding."""
        step = state.step
        context = ValidationContext(
            step_id=step.id,
            agent=agent,
            inputs=state.inputs or {},
            base_dir=self.workflow.source.parent if self.workflow.source else Path(),
        )
        score = 1.0
        findings: list[str] = []
        for name, validator in self._validators_for(step.id, step.validate):
            quality = await call_plugin_async(validator.validate, result.output, context=context)
            if not isinstance(quality, Quality):
                raise PermanentError(
                    f"validator {name!r} returned {type(quality).__name__}, expected Quality"
                )
            score = min(score, quality.score)
            findings.extend(f"{name}: {f}" for f in quality.findings)
        passed = score >= step.quality_threshold
        self.bus.emit(
            ev.OutputValidated,
            step_id=step.id,
            attempt=attempt,
            agent=agent,
            score=score,
            findings=tuple(findings),
            passed=passed,
        )
        return Quality(score=score, findings=tuple(findings))

    def _validators_for(
        self, step_id: str, specs: Sequence[StrategySpec]
    ) -> tuple[tuple[str, Validator], ...]:
        built = self._validators.get(step_id)
        if built is None:
            built = tuple(
                (spec.name, self._validator(spec.name, spec.options, step_id)) for spec in specs
            )
            self._validators[step_id] = built
        return built

    def _validator(self, name: str, options: Mapping[str, Any], step_id: str) -> Validator:
        factory = self.validator_factories[name]
        validator = factory(dict(options))
        label = f"validator {name!r}"
        made = check_made(
            validator, hook="cadenza_validators", name=name, plugin=label, factory=factory
        )
        if made:
            raise PermanentError(made, step_id=step_id)
        return validator  # type: ignore[no-any-return]


@attrs.define(eq=False)
class CachedOutputs:
    """``cache:`` steps: an earlier run's output for identical work, and this run's for later.

    Receives the run's ``workflow``, ``bus`` (events, secrets), ``run_id``,
    its step ``cache`` and ``journal`` (None when the run has none: nothing
    is cached) and its ``calls`` (to give back the slots a cache hit did not use).
    """

    workflow: Workflow
    bus: EventBus
    run_id: str
    cache: StepCache | None
    journal: Journal | None
    calls: Calls

    def key(self, state: _StepState, agent: str) -> str | None:
        """The key of the step's output for its inputs, None when it is not cached."""
        step = state.step
        if step.cache is None or self.cache is None:
            return None
        if step.fan_out is not None and state.fallback_source is None:
            assert state.pool is not None
            configs = [self.workflow.agents[s.name] for s in state.pool.agents]
            return panel_cache_key(configs, step, state.inputs or {})
        return cache_key(self.workflow.agents[agent], step, state.inputs or {})

    async def lookup(self, state: _StepState, calls: list[_Call], key: str) -> AgentResult | None:
        """The cached output as a result, the attempt's slots given back; None on a miss."""
        assert self.cache is not None
        entry: CacheEntry | None
        try:
            entry = await self.cache.lookup(key)
        except BaseException:
            self.calls.release_unused(state, calls)
            raise
        if entry is None:
            return None
        self.calls.release_unused(state, calls)
        state.attempts -= 1  # no agent was called
        self.bus.emit(
            ev.StepCacheHit,
            step_id=state.step.id,
            key=key,
            source_run=entry.run_id,
            source_step=entry.step_id,
            created_at=entry.created_at,
        )
        return AgentResult(output=entry.output, source="cache")

    def remember(self, state: _StepState, key: str, result: AgentResult) -> None:
        """Keep the step's fresh output under ``key``, as journaled (secrets redacted)."""
        step = state.step
        if self.journal is not None and step.cache is not None:
            output = redact(result.output, self.bus.secrets)
            self.journal.add_cache(
                StepCache.entry(key, output, step.cache, run_id=self.run_id, step_id=step.id)
            )
