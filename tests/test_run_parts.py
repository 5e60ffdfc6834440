"""The run's collaborators, each alone: built from real parts, without a ``_Run``.

Each test hands a collaborator what its constructor asks for (a real
EventBus, real slots from ``slots_for``, ScriptedAgents, trio's autojump
clock) and a few recording callbacks standing in for the run.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from cadenza import _events as ev
from cadenza._agents._contract import AgentRequest, AgentResult
from cadenza._errors import PermanentError, RetryableError
from cadenza._journal._bus import EventBus
from cadenza._resilience._budget import Ledger
from cadenza._resilience._slots import _AgentSlot, slots_for
from cadenza._scheduler._cache import StepCache
from cadenza._scheduler._calls import CachedOutputs, Calls
from cadenza._scheduler._fan_out import Aggregators, FanOut
from cadenza._scheduler._health import HealthWatch
from cadenza._scheduler._route_choice import RouteChoice
from cadenza._scheduler._step_fallbacks import StepFallbacks
from cadenza._scheduler._step_state import _StepState, build_steps
from cadenza._scheduler._summary import RunSummary
from cadenza._scheduler._timers import Timers
from cadenza._spec._duration import Duration
from cadenza._spec._policies import BreakerPolicy
from cadenza._spec._workflow import CachePolicy, FallbackSpec, StrategySpec, Workflow
from cadenza._strategies._aggregation import Answer, Verdict
from cadenza._strategies._fallback import FallbackContext
from cadenza._strategies._routing import Candidate, RouteRequest
from cadenza.store import SqliteStore, WriteBatch
from cadenza.testing import Delay, ScriptedAgent

from .scheduler_helpers import make_workflow


def record(events: list[ev.Event]) -> EventBus:
    """A real bus on the trio clock whose every event lands in ``events``."""
    bus = EventBus(run_id="r1", clock=trio.current_time)
    bus.subscribe("test", events.append)
    return bus


def kinds(events: Sequence[ev.Event]) -> list[str]:
    return [e.kind for e in events]


def ready(workflow: Workflow, slots: Mapping[str, _AgentSlot], step_id: str) -> _StepState:
    """The step's state as dispatch finds it: inputs rendered, status ready."""
    state = build_steps(workflow, slots).states[step_id]
    state.inputs = {}
    state.status = "ready"
    return state


def two_coders() -> Workflow:
    """Step ``s`` uses ``code``, which agents ``a`` and ``b`` both serve."""
    return make_workflow(
        {"s": {"uses": "code"}}, agents={n: {"capabilities": ["code"]} for n in "ab"}
    )


def calls_for(workflow: Workflow, bus: EventBus, slots: Mapping[str, _AgentSlot]) -> Calls:
    return Calls(workflow, bus, "r1", Ledger(), slots, {}, lambda *a, **k: None)


async def test_timers_wake_once_per_instant(autojump_clock: trio.testing.MockClock) -> None:
    """Two timers asked for the same instant wake the dispatcher once, at that instant."""
    woken: list[float] = []
    timers = Timers(wake=lambda: woken.append(trio.current_time()))
    async with trio.open_nursery() as nursery:
        timers.nursery = nursery
        timers.wake_at(5.0)
        timers.wake_at(5.0)
        timers.wake_at(7.5)
    assert woken == [5.0, 7.5]


async def test_stopped_timers_let_the_run_end(autojump_clock: trio.testing.MockClock) -> None:
    """After stop(), pending timers and watchers started later are cancelled: nothing fires."""
    woken: list[float] = []
    timers = Timers(wake=lambda: woken.append(trio.current_time()))
    async with trio.open_nursery() as nursery:
        timers.nursery = nursery
        timers.wake_at(100.0)
        timers.stop()
        timers.in_background(trio.sleep_forever)
    assert woken == []
    assert trio.current_time() == 0.0
    assert timers.pending == 0


async def test_health_watch_reopens_an_agent_after_a_healthy_probe(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A failure opens the breaker; after the cooldown health() is probed and closes it."""
    breaker = BreakerPolicy(failures=1, cooldown=Duration(10.0))
    wf = make_workflow({"s": {}})
    wf = attrs.evolve(wf, agents={"a": attrs.evolve(wf.agents["a"], breaker=breaker)})
    events: list[ev.Event] = []
    bus = record(events)
    slots = slots_for(wf, {"a": ScriptedAgent("a")})
    changes: list[float] = []
    timers = Timers(wake=lambda: health.refresh())
    health = HealthWatch(bus, slots, timers, on_change=lambda: changes.append(1))
    async with trio.open_nursery() as nursery:
        timers.nursery = nursery
        health.record(slots["a"], RetryableError("503"), probe=False)
        assert slots["a"].breaker is not None
        assert slots["a"].breaker.state == "open"
    circuit = [e for e in events if isinstance(e, ev.CircuitChanged)]
    assert [(e.previous, e.state, e.reason) for e in circuit] == [
        ("closed", "open", "RetryableError: 503"),
        ("open", "half_open", "cooldown over: checking health()"),
        ("half_open", "closed", "health check passed"),
    ]
    assert circuit[1].at == 10.0
    assert changes == [1]


async def test_calls_give_back_the_slot_and_report_a_failed_call(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A failing call frees its slot and the in-flight count, and tells on_call_done why."""
    wf = make_workflow({"s": {}})
    events: list[ev.Event] = []
    bus = record(events)
    slots = slots_for(wf, {"a": ScriptedAgent("a", [Delay(2, RetryableError("busy"))])})
    done: list[tuple[str, str]] = []
    calls = Calls(
        wf, bus, "r1", Ledger(), slots, {}, lambda s, e, probe: done.append((s.name, str(e)))
    )
    state = ready(wf, slots, "s")
    state.attempts = 1
    call = calls.occupy(state, slots["a"], trio.current_time())
    assert (calls.in_flight, slots["a"].in_flight) == (1, 1)
    outcome = await calls.call(state, call, calls.request(state, "a", trio.current_time()))
    assert isinstance(outcome.error, RetryableError)
    assert (outcome.latency, calls.in_flight, slots["a"].in_flight) == (2.0, 0, 0)
    assert done == [("a", "busy")]
    assert kinds(events) == ["attempt_started"]


async def test_calls_refuse_to_ask_an_unknown_agent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """request.ask() naming an agent the workflow lacks fails, listing the agents it has."""
    wf = make_workflow({"s": {}})
    slots = slots_for(wf, {"a": ScriptedAgent("a")})
    calls = calls_for(wf, EventBus(run_id="r1"), slots)
    state = ready(wf, slots, "s")
    with pytest.raises(PermanentError) as info:
        await calls.ask(state, "nobody", {})
    assert str(info.value) == (
        "asked agent 'nobody', which this workflow does not define (agents: a)"
    )


async def test_cached_outputs_serve_an_earlier_runs_output_and_free_the_slot(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """A cache hit answers the step from the store and gives back the slot it did not use."""
    wf = make_workflow({"s": {}})
    wf = attrs.evolve(wf, steps={"s": attrs.evolve(wf.steps["s"], cache=CachePolicy())})
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        await check_cache_hit(wf, store)
    finally:
        store.close()


async def check_cache_hit(wf: Workflow, store: SqliteStore) -> None:
    """Store an earlier run's output for step ``s``, then serve the step from it."""
    events: list[ev.Event] = []
    bus = record(events)
    slots = slots_for(wf, {"a": ScriptedAgent("a")})
    calls = calls_for(wf, bus, slots)
    cached = CachedOutputs(
        wf, bus, "r1", StepCache(store=store, limiter=trio.CapacityLimiter(1)), None, calls
    )
    state = ready(wf, slots, "s")
    key = cached.key(state, "a")
    assert key is not None
    entry = StepCache.entry(key, {"answer": 42}, CachePolicy(), run_id="r0", step_id="s")
    store.write(WriteBatch(cache=[entry]))
    state.attempts = 1
    taken = [calls.occupy(state, slots["a"], 0.0)]
    result = await cached.lookup(state, taken, key)
    assert result == AgentResult(output={"answer": 42}, source="cache")
    assert (state.attempts, calls.in_flight, slots["a"].in_flight) == (0, 0, 0)
    (hit,) = events
    assert isinstance(hit, ev.StepCacheHit)
    assert (hit.source_run, hit.source_step) == ("r0", "s")


@attrs.define
class RaisingRouter:
    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Any:
        raise ValueError("no idea")


async def test_route_choice_survives_a_router_that_raises(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A router bug sends the call to the least busy candidate, and the event says why."""
    wf = make_workflow(
        {"s": {"uses": "code"}}, agents={n: {"capabilities": ["code"]} for n in "ab"}
    )
    wf = attrs.evolve(wf, route=StrategySpec(name="broken"))
    events: list[ev.Event] = []
    slots = slots_for(wf, {n: ScriptedAgent(n) for n in "ab"})
    slots["a"].in_flight = 1
    routes = RouteChoice(
        wf,
        record(events),
        random.Random(0),
        Ledger(),
        {"broken": lambda options: RaisingRouter()},
        hedged=lambda state: False,
    )
    state = ready(wf, slots, "s")
    assert state.pool is not None
    candidates = routes.admissible(state, state.pool, trio.current_time())
    assert candidates is not None
    assert [s.name for s in routes.route(state, state.pool, candidates, 1)] == ["b"]
    (chosen,) = events
    assert isinstance(chosen, ev.RouteChosen)
    assert chosen.reason == "router raised ValueError: no idea; took the least busy"


@attrs.define
class FirstAnswer:
    """Decides on the first usable answer."""

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        usable = [a for a in answers if a.ok]
        if not usable:
            return None
        return Verdict(output=usable[0].output, supporters=(usable[0].agent,), agreement=1.0)


async def test_fan_out_cuts_off_calls_once_the_aggregator_decides(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The verdict on the first answer cancels the slower call and frees its slot."""
    wf = make_workflow(
        {"s": {"uses": "code"}}, agents={n: {"capabilities": ["code"]} for n in "ab"}
    )
    step = attrs.evolve(wf.steps["s"], fan_out=2, aggregate=StrategySpec(name="first"))
    wf = attrs.evolve(wf, steps={"s": step})
    events: list[ev.Event] = []
    bus = record(events)
    agents = {"a": ScriptedAgent("a", [Delay(1, "fast")]), "b": ScriptedAgent("b", [Delay(9, "")])}
    slots = slots_for(wf, agents)
    calls = calls_for(wf, bus, slots)
    aggregators = Aggregators({"first": lambda options: FirstAnswer()})
    routes = RouteChoice(wf, bus, random.Random(0), Ledger(), {}, hedged=aggregators.hedged)
    fan_out = FanOut(wf, bus, Ledger(), slots, calls, routes, aggregators)
    state = ready(wf, slots, "s")
    state.attempts = 1
    taken = [calls.occupy(state, slots[n], 0.0) for n in "ab"]
    result, error, agent = await fan_out.run(state, taken, calls.request(state, "a", 0.0))
    assert (error, agent, trio.current_time()) == (None, "a", 1.0)
    assert result is not None
    assert result.output == "fast"
    assert calls.in_flight == 0
    (combined,) = [e for e in events if isinstance(e, ev.AnswersCombined)]
    assert [(a["agent"], a["status"]) for a in combined.answers] == [
        ("a", "ok"),
        ("b", "cancelled"),
    ]


@attrs.define
class Constant:
    value: Any

    async def run(self, request: AgentRequest, *, context: FallbackContext) -> AgentResult:
        return AgentResult(output=self.value)


async def test_step_fallbacks_run_a_strategy_and_mark_its_result_degraded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After a final failure the strategy fallback answers; its success is marked degraded."""
    wf = make_workflow({"s": {}})
    step = attrs.evolve(
        wf.steps["s"], fallback=(FallbackSpec(strategy="constant", options={"value": 7}),)
    )
    wf = attrs.evolve(wf, steps={"s": step})
    events: list[ev.Event] = []
    slots = slots_for(wf, {"a": ScriptedAgent("a")})
    state = ready(wf, slots, "s")
    finished: list[AgentResult] = []

    async def finish(state: _StepState, agent: str, result: AgentResult) -> None:
        finished.append(fallbacks.result_of(state, result))

    async with trio.open_nursery() as nursery:
        fallbacks = StepFallbacks(
            "r1",
            record(events),
            None,
            None,
            False,
            {"constant": lambda options: Constant(options["value"])},
            {},
            enqueue=lambda state: None,
            start=nursery.start_soon,
            fail=lambda *args: None,
            finish=finish,
            dispatch=lambda: None,
        )
        assert fallbacks.fall_back(state, "agent a failed")
    (result,) = finished
    assert (result.output, result.degraded, result.source) == (7, True, "fallback constant")
    (started,) = events
    assert isinstance(started, ev.FallbackStarted)
    assert (started.source, started.error) == ("constant", "agent a failed")


async def test_run_summary_cancels_what_never_ended_and_hides_secrets(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Unfinished steps become cancelled (running ones as in flight); outputs lose secrets."""
    wf = make_workflow({"done": {}, "running": {}, "waiting": {}})
    events: list[ev.Event] = []
    bus = record(events)
    bus.secrets = frozenset({"s3cr3t"})
    slots = slots_for(wf, {"a": ScriptedAgent("a")})
    states = build_steps(wf, slots).states
    states["done"].status, states["done"].output = "succeeded", {"token": "s3cr3t"}
    states["running"].status = "running"
    summary = RunSummary(states, bus, slots, Ledger())
    summary.mark_cancelled("stopped by the user")
    assert [(e.step_id, e.in_flight) for e in events if isinstance(e, ev.StepCancelled)] == [
        ("running", True),
        ("waiting", False),
    ]
    outcomes = summary.outcomes()
    assert outcomes["done"].output == {"token": "***"}
    assert outcomes["waiting"].status == "cancelled"
    assert summary.agent_stats()["a"]["calls"] == 0
