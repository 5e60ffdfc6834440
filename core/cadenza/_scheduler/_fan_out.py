"""Multi-agent attempts: ask several agents at once and combine their answers.

Every call of the attempt runs in one nursery owned by the attempt. After
each call ends the step's aggregator sees the answers so far; once it returns
a verdict the nursery is cancelled, so the calls still running are cut off
(their HTTP connections close: no orphaned work). A hedged aggregator starts
one call and adds another only when no verdict came within its
``hedge_after`` delay, or at once when no call is left running; a hedge that
finds no agent with room is skipped rather than waited for.

A conflict is settled by the step's ``on_conflict``: ``fail``, ``best`` (the
answer with the highest weight x quality x confidence) or ``judge`` (the
judge agent receives the request and every answer; its output is the
step's). Whatever the outcome, an ``answers_combined`` event records who
said what, with what weight, and who backs the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import trio

from .. import _events as ev
from .._agents._contract import AgentRequest, AgentResult, Usage
from .._errors import AgentError, BudgetExceededError, PermanentError, RetryableError
from .._journal._bus import EventBus
from .._logging import get_logger
from .._redact import redact
from .._resilience._budget import Ledger
from .._resilience._slots import _AgentSlot, _Pool
from .._spec._workflow import Workflow
from .._strategies._aggregation import Aggregator, Answer, Verdict
from ._calls import Calls, _Call, _CallOutcome, call_estimate, progress_reporter
from ._route_choice import RouteChoice
from ._step_state import _StepState

log = get_logger()


@attrs.define(eq=False)
class _Round:
    """The state of one multi-agent attempt, shared by its calls."""

    expected: int
    answers: list[Answer] = attrs.field(factory=list)
    outcomes: dict[str, _CallOutcome] = attrs.field(factory=dict)
    asked: list[str] = attrs.field(factory=list)
    verdict: Verdict | None = None
    bug: str | None = None  # the aggregator raised: the round ends as a failure
    running: int = 0
    changed: trio.Event = attrs.field(factory=trio.Event)

    def decided(self) -> bool:
        return self.verdict is not None or self.bug is not None


@attrs.define(eq=False)
class Aggregators:
    """The aggregator of each multi-agent step, built once from ``factories`` (name to factory).

    Equal ``aggregate:`` specs share one aggregator, so its state spans their steps.
    """

    factories: Mapping[str, Callable[..., Any]]
    _built: dict[str | int, Aggregator] = attrs.field(factory=dict)

    def for_step(self, state: _StepState) -> Aggregator:
        spec = state.step.aggregate
        agg = self._built.get(id(spec))  # specs live as long as the workflow
        if agg is None:
            key = spec.key
            agg = self._built.get(key)
            if agg is None:
                agg = self.factories[spec.name](dict(spec.options))
                self._built[key] = agg
            self._built[id(spec)] = agg
        return agg

    def hedged(self, state: _StepState) -> bool:
        """Whether the step's next attempt hedges: one call first, more only when slow."""
        if state.step.fan_out is None or state.fallback_source is not None:
            return False
        return callable(getattr(self.for_step(state), "hedge_after", None))


@attrs.define(eq=False)
class FanOut:
    """Multi-agent attempts: several calls at once, combined by the step's aggregator.

    Receives the run's ``workflow``, ``bus``, budget ``ledger``, agent
    ``slots`` (for the judge), its ``calls`` (to take slots and make calls),
    its ``routes`` (to pick an agent for a hedge) and its ``aggregators``.
    """

    workflow: Workflow
    bus: EventBus
    ledger: Ledger
    slots: Mapping[str, _AgentSlot]
    calls: Calls
    routes: RouteChoice
    aggregators: Aggregators

    async def run(
        self, state: _StepState, taken: list[_Call], request: AgentRequest
    ) -> tuple[AgentResult | None, BaseException | None, str]:
        """Make the attempt's calls (their slots ``taken`` in dispatch) and combine them.

        Returns (result, error, agent label).
        """
        aggregator = self.aggregators.for_step(state)
        hedge_after = getattr(aggregator, "hedge_after", None)
        expected = len(taken)
        if callable(hedge_after):
            expected = max(1, int(getattr(aggregator, "max_requests", 2)))
        r = _Round(expected=expected)

        async with trio.open_nursery() as nursery:

            async def one(call: _Call) -> None:
                own = attrs.evolve(
                    request,
                    progress=progress_reporter(
                        self.bus, state.step.id, request.attempt, call.slot.name
                    ),
                )
                outcome = await self.calls.call(state, call, own)
                r.running -= 1
                r.outcomes[call.slot.name] = outcome
                r.answers.append(outcome.answer(self.workflow.agents[outcome.agent].weight))
                if not r.decided():
                    self._combine(state, aggregator, r, r.expected - len(r.answers))
                    if r.decided() and r.running:  # cut off the calls still running
                        nursery.cancel_scope.cancel()
                r.changed.set()

            def launch(call: _Call) -> None:
                r.running += 1
                r.asked.append(call.slot.name)
                nursery.start_soon(one, call, name=f"step {state.step.id} {call.slot.name}")

            for call in taken:
                launch(call)
            while callable(hedge_after) and len(r.asked) < r.expected and not r.decided():
                try:
                    delay = hedge_after(self._recent_latencies(state))
                    delay = None if delay is None else float(delay)
                except Exception as exc:  # an aggregator bug: end the round, not the run
                    log.exception("aggregator_raised", step_id=state.step.id)
                    r.bug = f"hedge_after raised {type(exc).__name__}: {exc}"
                    nursery.cancel_scope.cancel()
                    break
                if delay is None:  # the strategy wants no (more) hedges
                    r.expected = len(r.asked)
                    break
                with trio.move_on_after(delay if r.running else 0.0):
                    while r.running and not r.decided():
                        r.changed = trio.Event()
                        await r.changed.wait()
                if r.decided():
                    break
                extra = self._hedge_call(state, r.asked)
                if extra is None:
                    r.expected = len(r.asked)  # no agent has room: do without this hedge
                    break
                launch(extra)
        if not r.decided():  # every call ended and the aggregator still wants more
            self._combine(state, aggregator, r, 0)
        if r.bug is not None:
            strategy = state.step.aggregate.name
            error = PermanentError(
                f"aggregation strategy {strategy!r} failed: {r.bug} (a bug in the strategy)",
                step_id=state.step.id,
            )
            return None, error, ", ".join(r.asked)
        return await self._settle_verdict(state, request, r.verdict, r.answers, r.outcomes, r.asked)

    def _combine(self, state: _StepState, aggregator: Aggregator, r: _Round, pending: int) -> None:
        """Ask the aggregator for a verdict; a strategy that raises ends the round as a bug."""
        try:
            r.verdict = aggregator.combine(tuple(r.answers), pending=pending)
        except Exception as exc:
            log.exception("aggregator_raised", step_id=state.step.id)
            r.bug = f"combine raised {type(exc).__name__}: {exc}"

    def _recent_latencies(self, state: _StepState) -> Sequence[float]:
        assert state.pool is not None
        out: list[float] = []
        for slot in state.pool.agents:
            out.extend(slot.recent)
        return out

    def _hedge_call(self, state: _StepState, asked: list[str]) -> _Call | None:
        """Take a slot for one more hedged call, on an agent not asked yet, if one has room."""
        assert state.pool is not None
        if self.calls.in_flight >= self.workflow.concurrency:
            return None
        now = trio.current_time()
        others = _Pool(agents=tuple(s for s in state.pool.agents if s.name not in asked))
        if not others.agents:
            return None
        candidates = self.routes.admissible(state, others, now)
        state.budget_refusal = ""
        if not candidates:
            return None
        (slot,) = self.routes.route(state, others, candidates, 1)
        return self.calls.occupy(state, slot, now)

    async def _settle_verdict(
        self,
        state: _StepState,
        request: AgentRequest,
        verdict: Verdict | None,
        answers: list[Answer],
        outcomes: Mapping[str, _CallOutcome],
        asked: list[str],
    ) -> tuple[AgentResult | None, BaseException | None, str]:
        step = state.step
        label = ", ".join(asked)
        strategy = step.aggregate.name
        if not isinstance(verdict, Verdict):
            error = PermanentError(
                f"aggregator {strategy!r} returned {type(verdict).__name__} with no call "
                "pending; it must return a Verdict (a bug in the aggregator)",
                step_id=step.id,
            )
            self._record_answers(state, request, strategy, Verdict(), answers, asked)
            return None, error, label
        self._record_answers(state, request, strategy, verdict, answers, asked)
        if verdict.conflict is not None:
            self.bus.emit(
                ev.StepConflict,
                step_id=step.id,
                attempt=request.attempt,
                strategy=strategy,
                message=verdict.conflict,
                on_conflict=step.on_conflict,
            )
            if step.on_conflict == "best":
                return self._best(answers, verdict)
            if step.on_conflict == "judge":
                return await self._judge(state, request, answers, verdict)
            return None, PermanentError(verdict.conflict, step_id=step.id), label
        supporters = [a for a in answers if a.ok and a.agent in verdict.supporters]
        if not supporters:
            errors = "; ".join(f"{a.agent}: {a.error}" for a in answers if not a.ok)
            message = f"no usable answer from {label}" + (f" ({errors})" if errors else "")
            retryable = any(a.retryable for a in answers) or len(answers) < len(asked)
            cls = RetryableError if retryable else PermanentError
            return None, cls(message, step_id=step.id), label
        result = self._combined_result(strategy, verdict, supporters, answers)
        return result, None, ", ".join(a.agent for a in supporters)

    def _combined_result(
        self,
        strategy: str,
        verdict: Verdict,
        supporters: Sequence[Answer],
        answers: Sequence[Answer],
    ) -> AgentResult:
        results = [a.result for a in answers if a.result is not None]
        usage = Usage(
            input_tokens=sum(r.usage.input_tokens for r in results),
            output_tokens=sum(r.usage.output_tokens for r in results),
        )
        costs = [r.cost_usd for r in results if r.cost_usd is not None]
        return AgentResult(
            output=verdict.output,
            confidence=verdict.confidence,
            usage=usage,
            cost_usd=sum(costs) if costs else None,
            degraded=any(a.result is not None and a.result.degraded for a in supporters),
            source=f"{strategy}: {', '.join(a.agent for a in supporters)}",
        )

    def _best(
        self, answers: Sequence[Answer], verdict: Verdict
    ) -> tuple[AgentResult | None, BaseException | None, str]:
        usable = [a for a in answers if a.ok]
        if not usable:
            return None, PermanentError(verdict.conflict or "no usable answer"), ""
        best = max(usable, key=_score)
        assert best.result is not None
        result = attrs.evolve(best.result, source=f"best-scored answer of {best.agent}")
        return result, None, best.agent

    async def _judge(
        self,
        state: _StepState,
        request: AgentRequest,
        answers: Sequence[Answer],
        verdict: Verdict,
    ) -> tuple[AgentResult | None, BaseException | None, str]:
        """Ask the step's judge agent to settle the conflict; its output is the step's."""
        step = state.step
        assert step.judge is not None
        slot = self.slots[step.judge]
        secrets = self.bus.secrets
        inputs = {
            "request": dict(request.inputs),
            "answers": [
                {"agent": a.agent, "output": redact(a.output, secrets)} for a in answers if a.ok
            ],
            "conflict": verdict.conflict,
        }
        judge_request = attrs.evolve(
            request,
            inputs=inputs,
            task_type="judge",
            progress=progress_reporter(self.bus, step.id, request.attempt, step.judge),
        )
        # The judge is called at once, even if at its max_concurrent: a conflict is rare
        # and the step already holds its answers; budgets still apply.
        ledger = self.ledger
        if ledger.bounded:
            usd, tokens = call_estimate(self.workflow, slot.name, state)
            fit, why = ledger.fit(step.id, slot.name, usd, tokens)
            if fit != "fits":
                message = f"{verdict.conflict}; the judge {step.judge!r} cannot be asked: {why}"
                return None, BudgetExceededError(message, step_id=step.id), step.judge
        call = self.calls.occupy(state, slot, trio.current_time())
        outcome = await self.calls.call(state, call, judge_request)
        if outcome.error is not None or outcome.result is None:
            error = outcome.error or PermanentError("judge returned nothing")
            message = f"{verdict.conflict}; the judge {step.judge!r} failed: {error}"
            retryable = isinstance(error, AgentError) and error.retryable
            cls = RetryableError if retryable else PermanentError
            return None, cls(message, step_id=step.id), step.judge
        result = attrs.evolve(outcome.result, source=f"judge {step.judge}")
        return result, None, step.judge

    def _record_answers(
        self,
        state: _StepState,
        request: AgentRequest,
        strategy: str,
        verdict: Verdict,
        answers: Sequence[Answer],
        asked: Sequence[str],
    ) -> None:
        by_agent = {a.agent: a for a in answers}
        records: list[dict[str, Any]] = []
        for agent in asked:
            a = by_agent.get(agent)
            if a is None:
                records.append({"agent": agent, "status": "cancelled", "supported": False})
                continue
            records.append(
                {
                    "agent": agent,
                    "status": "ok" if a.ok else "failed",
                    "weight": a.weight,
                    "quality": a.quality,
                    "confidence": a.confidence,
                    "latency": round(a.latency, 6),
                    "supported": a.ok and agent in verdict.supporters,
                    "error": a.error[:200] if not a.ok else "",
                }
            )
        state.provenance = {
            "strategy": strategy,
            "supporters": list(verdict.supporters),
            "agreement": verdict.agreement,
            "answers": records,
            "fields": dict(verdict.fields),
        }
        self.bus.emit(
            ev.AnswersCombined,
            step_id=state.step.id,
            attempt=request.attempt,
            strategy=strategy,
            supporters=tuple(verdict.supporters),
            agreement=verdict.agreement,
            answers=tuple(records),
            fields=dict(verdict.fields),
        )


def _score(answer: Answer) -> float:
    quality = 1.0 if answer.quality is None else answer.quality
    confidence = 1.0 if answer.confidence is None else answer.confidence
    return answer.weight * quality * confidence if not math.isnan(confidence) else 0.0
