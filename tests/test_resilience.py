"""Resilience in the scheduler: circuit breakers, Retry-After, uncounted 429s, step and run
deadlines, retries on another agent, and the workflow keys that configure them.

Scheduler tests run on trio's autojump clock, with scripted agents that note when each
call started; the loading tests use the loader's fake agent kinds.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import cadenza
from cadenza import _events as ev
from cadenza.testing import (
    Delay,
    ScriptedAgent,
    SeedAgentServer,
    Status,
    serve_seed_agent,
)

from .loader_helpers import load, problems

# -- helpers ---------------------------------------------------------------------


@attrs.define
class Clocked:
    """A ScriptedAgent script: notes when each call starts, then answers with ``act``."""

    act: Callable[[cadenza.AgentRequest], Any]
    starts: list[tuple[float, str, int]] = attrs.field(factory=list)

    def __call__(self, request: cadenza.AgentRequest) -> Any:
        self.starts.append((trio.current_time(), request.step_id, request.attempt))
        return self.act(request)

    def times(self) -> list[float]:
        return [t for t, _, _ in self.starts]


def scripted(
    name: str, act: Callable[[cadenza.AgentRequest], Any]
) -> tuple[ScriptedAgent, Clocked]:
    clocked = Clocked(act)
    return ScriptedAgent(name, clocked), clocked


def sequence(*actions: Any) -> Callable[[cadenza.AgentRequest], Any]:
    """Answer calls with ``actions`` in order, repeating the last one forever."""
    queue = list(actions)

    def act(request: cadenza.AgentRequest) -> Any:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return act


@attrs.frozen
class Timed:
    """A finished run and its events, each with the trio time at which it was emitted."""

    result: cadenza.RunResult
    timeline: list[tuple[float, ev.Event]]

    def of(self, kind: type[ev.Event]) -> list[tuple[float, Any]]:
        return [(t, e) for t, e in self.timeline if isinstance(e, kind)]

    def circuit(self, agent: str) -> list[tuple[float, str, str]]:
        """(time, previous, state) of each breaker change of ``agent``."""
        return [(t, e.previous, e.state) for t, e in self.of(ev.CircuitChanged) if e.agent == agent]


@attrs.define(eq=False)
class CallProbed:
    """A ScriptedAgent without ``health()``: a half-open breaker probes it with a real call."""

    inner: ScriptedAgent
    name: str = attrs.field(init=False)
    capabilities: frozenset[str] = frozenset()

    def __attrs_post_init__(self) -> None:
        self.name = self.inner.name

    async def run(self, request: cadenza.AgentRequest) -> cadenza.AgentResult:
        return await self.inner.run(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@attrs.define(eq=False)
class SlowHealth(CallProbed):
    """A ScriptedAgent whose ``health()`` hangs (until the kernel's health-check timeout)."""

    async def health(self) -> bool:
        await trio.sleep(3600)
        return True


@attrs.define
class CallProbedKind:
    """Agent kind ``scripted``: each configured agent is the agent of its name."""

    agents: dict[str, CallProbed]

    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        register("scripted", lambda config: self.agents[config.name])


async def run_timed(
    source: dict[str, Any], *agents: ScriptedAgent | CallProbed, seed: int = 0
) -> Timed:
    """Load ``source`` (kind ``scripted`` serves ``agents``; a bare ScriptedAgent is wrapped
    in CallProbed), run it, note event times."""
    wrapped = [a if isinstance(a, CallProbed) else CallProbed(a) for a in agents]
    kind = CallProbedKind({agent.name: agent for agent in wrapped})
    plugins = cadenza.plugins.load_plugins(extra=[kind], entry_points=False)
    workflow = cadenza.load_workflow_data(source, plugins=plugins).workflow
    timeline: list[tuple[float, ev.Event]] = []
    result = await cadenza.run_workflow(
        workflow,
        plugins=plugins,
        observers=[lambda e: timeline.append((trio.current_time(), e))],
        rng=random.Random(seed),
    )
    return Timed(result, timeline)


def one_step(retry: dict[str, Any], **step: Any) -> dict[str, Any]:
    """A workflow with one step ``s`` on agent ``a`` (kind ``scripted``)."""
    return {
        "name": "one",
        "agents": {"a": {"kind": "scripted"}},
        "steps": {"s": {"uses": "a", "retry": retry, **step}},
    }


def too_many(retry_after: float | None = None) -> cadenza.RetryableError:
    return cadenza.RetryableError("HTTP 429", retry_after=retry_after, rate_limited=True)


def unavailable(retry_after: float | None = None) -> cadenza.RetryableError:
    return cadenza.RetryableError("HTTP 503", retry_after=retry_after)


# -- circuit breakers ------------------------------------------------------------------

RECOVERY = 30.0


async def test_breaker_moves_traffic_away_during_an_outage_and_probes_bring_it_back(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """While ``a`` is down only ``failures`` + probe calls reach it and ``b`` does the work;
    once ``a`` is back a probe closes its breaker and it serves steps again."""

    def a_act(request: cadenza.AgentRequest) -> Any:
        if trio.current_time() < RECOVERY:
            return Delay(1, cadenza.RetryableError("a is down"))
        return Delay(1, {"by": "a"})

    a, a_calls = scripted("a", a_act)
    b, b_calls = scripted("b", lambda request: Delay(1, {"by": "b"}))
    breaker = {"failures": 3, "window": "60s", "cooldown": "10s"}
    run = await run_timed(
        {
            "name": "outage",
            "agents": {
                "a": {
                    "kind": "scripted",
                    "capabilities": ["work"],
                    "max_concurrent": 1,
                    "breaker": breaker,
                },
                "b": {"kind": "scripted", "capabilities": ["work"], "max_concurrent": 1},
            },
            "defaults": {"retry": {"max_attempts": 5, "backoff": "100ms", "jitter": "none"}},
            "steps": {f"s{i:02}": {"uses": "work"} for i in range(60)},
        },
        a,
        b,
    )
    assert run.result.status == "succeeded"
    assert run.result.counts["succeeded"] == 60

    changes = run.circuit("a")
    pairs = [(previous, state) for _, previous, state in changes]
    assert pairs[0] == ("closed", "open")
    assert pairs[-2:] == [("open", "half_open"), ("half_open", "closed")]
    middle = pairs[1:-2]
    assert middle, "expected at least one failed probe during the outage"
    assert middle == [("open", "half_open"), ("half_open", "open")] * (len(middle) // 2)

    failed_probes = len(middle) // 2
    during_outage = [t for t in a_calls.times() if t < RECOVERY]
    assert len(during_outage) == breaker["failures"] + failed_probes

    for (opened, _, state), (reopened, _, _) in itertools.pairwise(changes):
        if state == "open":  # no call reaches a while open, and it stays open a full cooldown
            assert reopened - opened >= 10
            assert not [t for t in a_calls.times() if opened <= t < reopened]
        if state == "half_open":  # exactly one probe
            assert len([t for t in a_calls.times() if opened <= t < reopened]) == 1

    closed_at = changes[-1][0]
    assert closed_at > RECOVERY
    assert [t for t in b_calls.times() if changes[0][0] <= t < closed_at]
    served_by_a = [e for t, e in run.of(ev.StepSucceeded) if e.agent == "a"]
    assert len(served_by_a) >= 2  # the probe, and more once the breaker closed
    assert [t for t in a_calls.times() if t > closed_at]


async def test_rate_limited_answers_do_not_open_the_breaker(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """429s say the provider is busy, not broken: they never trip a breaker."""
    a, calls = scripted("a", sequence(too_many(1), too_many(1), too_many(1), {"ok": True}))
    source = one_step({"max_attempts": 1})
    source["agents"]["a"]["breaker"] = {"failures": 1}
    run = await run_timed(source, a)
    assert run.result.status == "succeeded"
    assert len(calls.starts) == 4
    assert run.circuit("a") == []


async def test_breaker_events_name_the_failure_and_the_probe(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """circuit_changed says why: the error that opened it, the cooldown, the probe's success."""
    a, _ = scripted("a", sequence(unavailable(), {"ok": True}))
    source = one_step({"max_attempts": 2, "backoff": 0})
    source["agents"]["a"]["breaker"] = {"failures": 1, "cooldown": "5s"}
    run = await run_timed(source, a)
    assert run.result.status == "succeeded"
    reasons = [(t, e.state, e.reason) for t, e in run.of(ev.CircuitChanged)]
    assert reasons == [
        (0.0, "open", "RetryableError: HTTP 503"),
        (5.0, "half_open", "cooldown over: one probe call allowed"),
        (5.0, "closed", "probe call succeeded"),
    ]


async def test_half_open_breaker_keeps_one_probe_when_an_older_call_is_rate_limited(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """While half-open, only the probe runs, whatever calls from before the opening answer."""
    tries: dict[str, int] = {}

    def act(request: cadenza.AgentRequest) -> Any:
        if request.step_id == "slow":
            return Delay(30, too_many()) if request.attempt == 1 else {"ok": True}
        tries[request.step_id] = tries.get(request.step_id, 0) + 1
        return unavailable() if tries[request.step_id] == 1 else Delay(50, {"ok": True})

    a, calls = scripted("a", act)
    run = await run_timed(
        {
            "name": "probe",
            "agents": {"a": {"kind": "scripted", "breaker": {"failures": 2, "cooldown": "10s"}}},
            "defaults": {"retry": {"max_attempts": 5, "backoff": "1s", "jitter": "none"}},
            "steps": {"slow": {"uses": "a"}, "f1": {"uses": "a"}, "f2": {"uses": "a"}},
        },
        a,
    )
    changes = run.circuit("a")
    half_open_at = next(t for t, _, state in changes if state == "half_open")
    next_change = next(t for t, _, _ in changes if t > half_open_at)
    assert len([t for t in calls.times() if half_open_at <= t < next_change]) == 1


async def test_an_open_breaker_does_not_keep_a_finished_run_alive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The run ends when its steps end, not when an idle breaker's cooldown does."""
    a, _ = scripted("a", lambda request: cadenza.RetryableError("down"))
    b, _ = scripted("b", lambda request: Delay(1, {"ok": True}))
    run = await run_timed(
        {
            "name": "linger",
            "agents": {
                "a": {
                    "kind": "scripted",
                    "capabilities": ["work"],
                    "breaker": {"failures": 1, "cooldown": "1h"},
                },
                "b": {"kind": "scripted", "capabilities": ["work"]},
            },
            "steps": {"s": {"uses": "work", "retry": {"max_attempts": 2, "backoff": 0}}},
        },
        a,
        b,
    )
    assert run.result.status == "succeeded"
    # Virtual time (autojump clock): the run finished before a 60 s cooldown could matter.
    assert trio.current_time() < 60


async def test_a_slow_health_probe_does_not_keep_a_finished_run_alive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The run ends with its last step even while a half-open health check is pending."""
    a, _ = scripted("a", lambda request: unavailable())
    b, _ = scripted("b", lambda request: Delay(2, {"ok": True}))
    run = await run_timed(
        {
            "name": "slow-probe",
            "agents": {
                "a": {
                    "kind": "scripted",
                    "capabilities": ["work"],
                    "breaker": {"failures": 1, "cooldown": "1s"},
                },
                "b": {"kind": "scripted", "capabilities": ["work"]},
            },
            "steps": {"s": {"uses": "work", "retry": {"max_attempts": 2, "backoff": 0}}},
        },
        SlowHealth(a),
        b,
    )
    assert run.result.status == "succeeded"
    assert ("open", "half_open") in [change[1:] for change in run.circuit("a")]  # probe began
    assert run.result.duration == 2.0


# -- Retry-After and rate limits -------------------------------------------------------


async def test_retry_after_delays_the_next_attempt_and_429s_are_not_counted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Each 429 with Retry-After: 7 holds the next attempt back 7 s, and max_attempts: 1 is
    still enough after two of them."""
    a, calls = scripted("a", sequence(too_many(7), too_many(7), {"ok": True}))
    run = await run_timed(one_step({"max_attempts": 1, "backoff": "500ms"}), a)
    assert run.result.status == "succeeded"
    assert run.result.steps["s"].attempts == 3
    # Call times on the virtual clock: each retry waits out the provider's Retry-After.
    t1, t2, t3 = calls.times()
    assert t2 - t1 >= 7
    assert t3 - t2 >= 7
    assert [e.retry_in for _, e in run.of(ev.AttemptFailed)] == [7.0, 7.0]


@pytest.mark.parametrize(
    ("count_rate_limited", "max_attempts", "status", "calls"),
    [
        (False, 1, "succeeded", 3),
        (True, 1, "failed", 1),
        (True, 2, "failed", 2),
        (True, 3, "succeeded", 3),
    ],
)
async def test_count_rate_limited_makes_429s_use_up_attempts(
    autojump_clock: trio.testing.MockClock,
    count_rate_limited: bool,
    max_attempts: int,
    status: str,
    calls: int,
) -> None:
    """With count_rate_limited: true a 429 is an attempt like any other failure."""
    a, clocked = scripted("a", sequence(too_many(1), too_many(1), {"ok": True}))
    retry = {"max_attempts": max_attempts, "count_rate_limited": count_rate_limited}
    run = await run_timed(one_step(retry), a)
    assert run.result.steps["s"].status == status
    assert len(clocked.starts) == calls


async def test_only_failures_other_than_429_use_up_attempts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """503, 429, 429, 503 with max_attempts: 2: the two 503s are the two attempts."""
    a, calls = scripted(
        "a", sequence(unavailable(), too_many(), too_many(), unavailable(), {"ok": True})
    )
    run = await run_timed(one_step({"max_attempts": 2, "backoff": "1s"}), a)
    assert run.result.steps["s"].status == "failed"
    assert len(calls.starts) == 4
    assert run.result.steps["s"].error == "HTTP 503"


@pytest.mark.parametrize("rate_limited", [True, False], ids=["429", "503"])
async def test_retry_after_beyond_max_backoff_fails_the_step(
    autojump_clock: trio.testing.MockClock, rate_limited: bool
) -> None:
    """A provider asking for a longer wait than max_backoff fails the step at once, saying so."""
    error = cadenza.RetryableError("busy", retry_after=120, rate_limited=rate_limited)
    a, calls = scripted("a", sequence(error, {"ok": True}))
    run = await run_timed(one_step({"max_attempts": 5, "max_backoff": "1m"}), a)
    outcome = run.result.steps["s"]
    assert outcome.status == "failed"
    assert len(calls.starts) == 1
    assert outcome.error == "busy (the provider asked to wait 120s, more than max_backoff 60s)"
    [(_, failed)] = run.of(ev.AttemptFailed)
    assert failed.retry_in is None


@pytest.mark.parametrize(
    ("max_rate_limited", "calls"),
    [(None, 21), (4, 5), (0, 1)],
    ids=["default-20", "4", "0"],
)
async def test_max_rate_limited_bounds_endless_429s(
    autojump_clock: trio.testing.MockClock, max_rate_limited: int | None, calls: int
) -> None:
    """A provider answering 429 forever gets max_rate_limited retries (default 20), then the
    step fails, saying why."""
    a, clocked = scripted("a", lambda request: too_many(1))
    retry: dict[str, Any] = {"max_attempts": 3}
    if max_rate_limited is not None:
        retry["max_rate_limited"] = max_rate_limited
    run = await run_timed(one_step(retry), a)
    outcome = run.result.steps["s"]
    assert outcome.status == "failed"
    assert len(clocked.starts) == calls
    assert outcome.error == f"HTTP 429 (gave up after {calls} rate-limited attempts)"


async def test_http_429_is_retried_without_using_up_attempts() -> None:
    """End to end over loopback: two HTTP 429s, then 200, succeed with max_attempts: 1, and
    every attempt carries the same idempotency key."""
    async with trio.open_nursery() as nursery:
        server: SeedAgentServer = await nursery.start(serve_seed_agent)
        server.faults += [Status(429, retry_after=0), Status(429, retry_after=0)]
        run = await run_timed(
            {
                "name": "http429",
                "agents": {"a": {"kind": "http", "options": {"endpoint": server.url}}},
                "steps": {"s": {"uses": "a", "retry": {"max_attempts": 1, "backoff": "10ms"}}},
            }
        )
        nursery.cancel_scope.cancel()
    assert run.result.status == "succeeded"
    assert [c.response for c in server.calls][:2] == [Status(429, retry_after=0)] * 2
    assert len({c.idempotency_key for c in server.calls}) == 1
    assert len(server.calls) == 3


# -- deadlines ---------------------------------------------------------------------------


async def test_total_timeout_stops_attempts_and_waits_at_the_total(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Hanging attempts (timeout 4s) and backoffs stop within total_timeout: 10s."""
    a, calls = scripted("a", lambda request: Delay(100, {"ok": True}))
    run = await run_timed(
        one_step(
            {"max_attempts": 10, "backoff": "1s", "jitter": "none"},
            timeout="4s",
            total_timeout="10s",
        ),
        a,
    )
    outcome = run.result.steps["s"]
    assert outcome.status == "failed"
    assert calls.times() == [0.0, 5.0]  # the third attempt would start at 11 s
    [(failed_at, failed)] = run.of(ev.StepFailed)
    assert failed_at <= 10
    assert "total_timeout" in failed.message


async def test_total_timeout_cuts_the_running_attempt_short(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An attempt running when the total is reached is cancelled then, and the error says so."""
    a, calls = scripted("a", lambda request: Delay(100, {"ok": True}))
    run = await run_timed(
        one_step(
            {"max_attempts": 10, "backoff": "1s", "jitter": "none"},
            timeout="4s",
            total_timeout="6s",
        ),
        a,
    )
    assert calls.times() == [0.0, 5.0]
    [(failed_at, failed)] = run.of(ev.StepFailed)
    assert failed_at == 6.0
    assert failed.error_type == "AgentTimeoutError"
    assert "total_timeout" in failed.message


async def test_total_timeout_refuses_a_retry_after_it_cannot_honour(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A Retry-After reaching past the total fails the step now instead of waiting in vain."""
    a, calls = scripted("a", lambda request: unavailable(retry_after=3))
    run = await run_timed(one_step({"max_attempts": 10}, total_timeout="5s"), a)
    assert calls.times() == [0.0, 3.0]
    [(failed_at, failed)] = run.of(ev.StepFailed)
    assert failed_at == 3.0
    assert failed.message == "HTTP 503 (no time left in the step's total_timeout)"


async def test_total_timeout_that_ran_out_while_waiting_for_a_breaker_is_no_probe(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A step whose total_timeout passed while its agent's breaker was open fails at its total,
    without calling the agent, and the next step's probe closes the breaker."""
    a, calls = scripted("a", sequence(unavailable(), Delay(1, {"ok": True})))
    b, _ = scripted("b", lambda request: Delay(2, {"ok": True}))
    run = await run_timed(
        {
            "name": "expired",
            "agents": {
                "a": {"kind": "scripted", "breaker": {"failures": 1, "cooldown": "10s"}},
                "b": {"kind": "scripted"},
            },
            "steps": {
                "short": {
                    "uses": "a",
                    "total_timeout": "5s",
                    "retry": {"max_attempts": 5, "backoff": "100ms", "jitter": "none"},
                },
                "first": {"uses": "b"},
                "later": {"uses": "a", "needs": ["first"]},
            },
        },
        a,
        b,
    )
    [(failed_at, failed)] = run.of(ev.StepFailed)
    assert failed.step_id == "short"
    assert failed_at <= 5.0
    assert [step for _, step, _ in calls.starts] == ["short", "later"]
    assert [(previous, state) for _, previous, state in run.circuit("a")] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


async def test_run_deadline_fails_the_run_and_cancels_calls_in_flight(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """At the deadline the run fails with "run deadline of 30s exceeded"; the hanging call
    is cancelled, a step waiting to retry is cancelled too."""
    cancelled_at: list[float] = []

    async def hang() -> Any:
        try:
            await trio.sleep(100)
        except trio.Cancelled:
            cancelled_at.append(trio.current_time())
            raise
        return {"ok": True}

    def act(request: cadenza.AgentRequest) -> Any:
        if request.step_id == "hang":
            return hang()
        if request.step_id == "flaky":
            return unavailable(retry_after=25)
        return {"ok": True}

    a, _ = scripted("a", act)
    run = await run_timed(
        {
            "name": "deadline",
            "deadline": "30s",
            "agents": {"a": {"kind": "scripted"}},
            "steps": {
                "hang": {"uses": "a"},
                "flaky": {"uses": "a", "retry": {"max_attempts": 5}},
                "quick": {"uses": "a"},
            },
        },
        a,
    )
    result = run.result
    assert result.status == "failed"
    assert result.reason == "run deadline of 30s exceeded"
    assert result.duration == 30.0
    assert cancelled_at == [30.0]
    assert {s: o.status for s, o in result.steps.items()} == {
        "hang": "cancelled",
        "flaky": "cancelled",
        "quick": "succeeded",
    }
    in_flight = {e.step_id: e.in_flight for _, e in run.of(ev.StepCancelled)}
    assert in_flight == {"hang": True, "flaky": False}
    [(_, finished)] = run.of(ev.RunFinished)
    assert finished.reason == "run deadline of 30s exceeded"


# -- retries on another agent ------------------------------------------------------------


async def test_a_retry_goes_to_another_agent_with_room(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After a failure on ``a`` the retry runs on ``b``, which serves the same capability."""
    a, _ = scripted("a", sequence(unavailable(), {"by": "a"}))
    b, _ = scripted("b", lambda request: {"by": "b"})
    run = await run_timed(
        {
            "name": "elsewhere",
            "agents": {
                "a": {"kind": "scripted", "capabilities": ["work"]},
                "b": {"kind": "scripted", "capabilities": ["work"]},
            },
            "steps": {"s": {"uses": "work", "retry": {"max_attempts": 2}}},
        },
        a,
        b,
    )
    assert [e.agent for _, e in run.of(ev.AttemptStarted)] == ["a", "b"]
    assert run.result.steps["s"].output == {"by": "b"}


async def test_a_retry_stays_on_the_same_agent_when_no_other_has_room(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With ``b`` busy the retry does not wait for it: it runs on ``a`` again."""
    a, _ = scripted("a", sequence(unavailable(), {"by": "a"}))
    b, _ = scripted("b", lambda request: Delay(100, {"by": "b"}))
    run = await run_timed(
        {
            "name": "same",
            "agents": {
                "a": {"kind": "scripted", "capabilities": ["work"]},
                "b": {"kind": "scripted", "capabilities": ["work"], "max_concurrent": 1},
            },
            "steps": {
                "s": {"uses": "work", "retry": {"max_attempts": 2, "backoff": "1s"}},
                "busy": {"uses": "b"},
            },
        },
        a,
        b,
    )
    started = [(e.step_id, e.agent) for _, e in run.of(ev.AttemptStarted)]
    # The first two start in the same trio batch, whose order trio shuffles on purpose.
    assert sorted(started[:2]) == [("busy", "b"), ("s", "a")]
    assert started[2:] == [("s", "a")]
    [(succeeded_at, _)] = [(t, e) for t, e in run.of(ev.StepSucceeded) if e.step_id == "s"]
    assert succeeded_at < 100


# -- workflow keys ---------------------------------------------------------------------


def test_resilience_keys_load() -> None:
    """deadline, total_timeout (defaults and per step), the 429 retry keys and breaker load."""
    workflow = load(
        """\
        deadline: 10m
        defaults:
          total_timeout: 90s
          retry: {count_rate_limited: true, max_rate_limited: 5}
        agents:
          a:
            kind: template
            breaker: {failures: 3, window: 30s, failure_rate: 0.5, min_calls: 4, cooldown: 2m}
          b: {kind: template, breaker: true}
          c: {kind: template, breaker: {}}
          d: {kind: template}
          e: {kind: template, breaker: false}
        steps:
          s: {uses: a, total_timeout: 1m}
          t: {uses: a}
          u: {uses: a, total_timeout: null, retry: {max_rate_limited: 0}}
        """
    ).workflow
    assert workflow.deadline == 600.0
    assert workflow.agents["a"].breaker == cadenza.BreakerPolicy(
        failures=3, window=30.0, failure_rate=0.5, min_calls=4, cooldown=120.0
    )
    assert workflow.agents["b"].breaker == cadenza.BreakerPolicy()
    assert workflow.agents["c"].breaker == cadenza.BreakerPolicy()
    assert workflow.agents["d"].breaker is None
    assert workflow.agents["e"].breaker is None
    steps = workflow.steps
    assert [steps[s].total_timeout for s in "stu"] == [60.0, 90.0, None]
    assert (steps["t"].retry.count_rate_limited, steps["t"].retry.max_rate_limited) == (True, 5)
    assert (steps["u"].retry.count_rate_limited, steps["u"].retry.max_rate_limited) == (True, 0)


def test_resilience_keys_default_to_off() -> None:
    """Without the new keys: no deadline, no total, no breaker, 429s uncounted up to 20."""
    workflow = load("agents: {a: {kind: template}}\nsteps: {s: {uses: a}}\n").workflow
    assert workflow.deadline is None
    assert workflow.agents["a"].breaker is None
    step = workflow.steps["s"]
    assert step.total_timeout is None
    assert (step.retry.count_rate_limited, step.retry.max_rate_limited) == (False, 20)


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        ("top", "deadline: 0", "deadline"),
        ("top", "deadline: soon", "deadline"),
        ("top", "deadline: true", "deadline"),
        ("top", "defaults: {total_timeout: 0}", "defaults.total_timeout"),
        ("top", "defaults: {total_timeout: -5}", "defaults.total_timeout"),
        ("step", "total_timeout: 0", "steps.s.total_timeout"),
        ("step", "total_timeout: [1]", "steps.s.total_timeout"),
        ("step", "retry: {count_rate_limited: maybe}", "steps.s.retry.count_rate_limited"),
        ("step", "retry: {count_rate_limited: 1}", "steps.s.retry.count_rate_limited"),
        ("step", "retry: {max_rate_limited: -1}", "steps.s.retry.max_rate_limited"),
        ("step", "retry: {max_rate_limited: 1.5}", "steps.s.retry.max_rate_limited"),
        ("step", "retry: {max_rate_limited: true}", "steps.s.retry.max_rate_limited"),
        ("agent", "breaker: {failures: x}", "agents.a.breaker.failures"),
        ("agent", "breaker: {window: abc}", "agents.a.breaker.window"),
        ("agent", "breaker: {cooldown: -1s}", "agents.a.breaker.cooldown"),
        ("agent", "breaker: {failure_rate: yes}", "agents.a.breaker.failure_rate"),
        ("agent", "breaker: {min_calls: ten}", "agents.a.breaker.min_calls"),
        ("agent", "breaker: {cooldwn: 1s}", "agents.a.breaker.cooldwn"),
        pytest.param("agent", "breaker: {failures: 0}", "agents.a.breaker.failures"),
        pytest.param(
            "agent",
            "breaker: {min_calls: 0}",
            "agents.a.breaker.min_calls",
        ),
        pytest.param("agent", "breaker: {window: 0}", "agents.a.breaker.window"),
        pytest.param("agent", "breaker: {cooldown: 0}", "agents.a.breaker.cooldown"),
        pytest.param(
            "agent",
            "breaker: {failure_rate: 0}",
            "agents.a.breaker.failure_rate",
        ),
        pytest.param(
            "agent",
            "breaker: {failure_rate: 1.5}",
            "agents.a.breaker.failure_rate",
        ),
        pytest.param("agent", "breaker: 5", "agents.a.breaker"),
        pytest.param("agent", "breaker: [1]", "agents.a.breaker"),
    ],
)
def test_bad_resilience_values_are_problems_with_path_and_hint(
    where: str, value: str, path: str
) -> None:
    """Every bad value is one error at the value's path, with its line and a hint."""
    parts = {"top": "", "agent": "", "step": ""}
    parts[where] = value
    text = (
        f"{parts['top']}\n"
        "agents:\n"
        f"  a: {{kind: template, {parts['agent']}}}\n"
        "steps:\n"
        f"  s: {{uses: a, {parts['step']}}}\n"
    )
    found = [p for p in problems(text) if p.severity == "error"]
    assert [p.path for p in found] == [path]
    [problem] = found
    assert problem.location is not None
    assert problem.hint
