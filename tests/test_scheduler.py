"""The scheduler: ordering, limits, failure cascades, retries, timeouts, cancellation."""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio
import trio.testing

import cadenza
from cadenza import _events as ev
from cadenza._scheduler import _run as _scheduler
from cadenza._scheduler._run import idempotency_key
from cadenza._scheduler._runner import RunHandle, run_workflow
from cadenza.testing import ScriptedAgent

from .scheduler_helpers import echo, make_workflow, plugins_with


def sleeper(seconds: float) -> Any:
    async def behaviour(request: cadenza.AgentRequest) -> Any:
        await trio.sleep(seconds)
        return {"step": request.step_id}

    return behaviour


async def run(workflow: Any, agents: dict[str, ScriptedAgent], **kw: Any) -> Any:
    events: list[ev.Event] = []
    result = await run_workflow(
        workflow, plugins=plugins_with(agents), observers=[events.append], **kw
    )
    return result, events


async def test_chain_runs_in_dependency_order(autojump_clock: trio.testing.MockClock) -> None:
    """Each step of a chain starts only after the one it needs succeeded."""
    agent = ScriptedAgent("a", sleeper(1))
    wf = make_workflow({"x": {}, "y": {"needs": ["x"]}, "z": {"needs": ["y"]}})
    result, _ = await run(wf, {"a": agent})
    assert result.status == "succeeded"
    assert [call.step_id for call in agent.calls] == ["x", "y", "z"]
    assert agent.call_times == [0.0, 1.0, 2.0]
    assert agent.closed


async def test_priority_orders_ready_steps_under_concurrency_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With one slot, higher-priority ready steps start first; ties keep file order."""
    agent = ScriptedAgent("a", sleeper(1))
    wf = make_workflow(
        {
            "low": {"priority": 1},
            "high": {"priority": 10},
            "mid": {"priority": 5},
            "mid2": {"priority": 5},
        },
        concurrency=1,
    )
    await run(wf, {"a": agent})
    assert [call.step_id for call in agent.calls] == ["high", "mid", "mid2", "low"]


async def test_global_concurrency_limit_bounds_in_flight_attempts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """No more than ``concurrency`` calls are in flight over the whole run."""
    agent = ScriptedAgent("a", sleeper(1))
    wf = make_workflow({f"s{i}": {} for i in range(20)}, concurrency=3)
    result, _ = await run(wf, {"a": agent})
    assert result.counts["succeeded"] == 20
    assert agent.max_in_flight == 3


async def test_busy_agent_does_not_block_other_agents(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Steps for a saturated agent wait while ready steps of another agent run."""
    slow = ScriptedAgent("slow", sleeper(10))
    fast = ScriptedAgent("fast", sleeper(1))
    steps: dict[str, dict[str, Any]] = {
        f"slow{i}": {"uses": "slow", "priority": 9} for i in range(3)
    }
    steps.update({f"fast{i}": {"uses": "fast"} for i in range(3)})
    wf = make_workflow(steps, agents={"slow": {"max_concurrent": 1}, "fast": {}})
    await run(wf, {"slow": slow, "fast": fast})
    assert slow.max_in_flight == 1
    assert fast.call_times == [0.0, 0.0, 0.0]
    assert slow.call_times == [0.0, 10.0, 20.0]


async def test_capability_spreads_work_over_agents_with_room(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A step using a capability goes to the least busy agent that has it."""
    a = ScriptedAgent("a", sleeper(1))
    b = ScriptedAgent("b", sleeper(1))
    wf = make_workflow(
        {f"s{i}": {"uses": "gen"} for i in range(4)},
        agents={
            "a": {"capabilities": ["gen"], "max_concurrent": 2},
            "b": {"capabilities": ["gen"]},
        },
    )
    await run(wf, {"a": a, "b": b})
    assert len(a.calls) == 2
    assert len(b.calls) == 2


async def test_failure_skips_descendants_and_independent_branch_runs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A final failure skips every transitive dependent; other branches finish."""

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        if request.step_id == "bad":
            raise cadenza.PermanentError("boom")
        await trio.sleep(1)
        return 1

    agent = ScriptedAgent("a", behaviour)
    wf = make_workflow(
        {
            "bad": {},
            "child": {"needs": ["bad"]},
            "grandchild": {"needs": ["child"]},
            "other": {},
            "other2": {"needs": ["other"]},
        }
    )
    result, events = await run(wf, {"a": agent})
    assert result.status == "failed"
    statuses = {k: v.status for k, v in result.steps.items()}
    assert statuses == {
        "bad": "failed",
        "child": "skipped",
        "grandchild": "skipped",
        "other": "succeeded",
        "other2": "succeeded",
    }
    skipped = {e.step_id: e.cause for e in events if isinstance(e, ev.StepSkipped)}
    assert skipped == {"child": "bad", "grandchild": "bad"}
    assert "bad" in result.steps["grandchild"].reason


async def test_fail_fast_cancels_the_run(autojump_clock: trio.testing.MockClock) -> None:
    """With fail_fast, the first final failure cancels in-flight and pending steps."""
    cancelled: list[str] = []

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        if request.step_id == "bad":
            await trio.sleep(1)
            raise cadenza.PermanentError("boom")
        try:
            await trio.sleep(100)
        except trio.Cancelled:
            cancelled.append(request.step_id)
            raise
        return 1

    agent = ScriptedAgent("a", behaviour)
    wf = make_workflow({"bad": {}, "long": {}, "after": {"needs": ["long"]}}, fail_fast=True)
    with trio.fail_after(5):
        result, events = await run(wf, {"a": agent})
    assert result.status == "failed"
    assert "fail_fast" in result.reason
    assert cancelled == ["long"]
    assert result.steps["long"].status == "cancelled"
    assert result.steps["after"].status == "cancelled"
    finished = [e for e in events if isinstance(e, ev.RunFinished)]
    assert finished[0].status == "failed"


async def test_when_false_skips_step_and_its_dependents_unless_they_opt_in(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A false when: skips the step; needers skip too unless if_needs_skipped is run."""
    agent = ScriptedAgent("a", echo)
    wf = make_workflow(
        {
            "gate": {"when": "1 > 2"},
            "after": {"needs": ["gate"]},
            "anyway": {"needs": ["gate"], "if_needs_skipped": "run"},
            "after_after": {"needs": ["after"], "if_needs_skipped": "run"},
        }
    )
    result, _ = await run(wf, {"a": agent})
    statuses = {k: v.status for k, v in result.steps.items()}
    assert statuses == {
        "gate": "skipped",
        "after": "skipped",
        "anyway": "succeeded",
        "after_after": "succeeded",
    }
    assert result.status == "succeeded"


async def test_outputs_flow_to_dependents_through_expressions(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """${{ steps.x.output... }} in with: resolves to the needed step's output."""

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        if request.step_id == "x":
            return {"n": 21}
        return {"doubled": request.inputs["n"] * 2, "text": request.inputs["text"]}

    agent = ScriptedAgent("a", behaviour)
    wf = make_workflow(
        {
            "x": {},
            "y": {
                "needs": ["x"],
                "with": {"n": "${{ steps.x.output.n }}", "text": "n is ${{ steps.x.output.n }}"},
            },
        }
    )
    result, _ = await run(wf, {"a": agent})
    assert result.steps["y"].output == {"doubled": 42, "text": "n is 21"}


async def test_retries_use_exponential_backoff_with_injected_jitter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Retryable failures are retried after policy.delay() drawn from the injected rng."""
    calls = 0

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise cadenza.RetryableError("flaky")
        return "ok"

    agent = ScriptedAgent("a", behaviour)
    policy = {"max_attempts": 5, "backoff": 2.0, "multiplier": 2.0, "max_backoff": 30.0}
    wf = make_workflow({"s": {"retry": policy}})
    result, events = await run(wf, {"a": agent}, rng=random.Random(7))
    assert result.steps["s"].status == "succeeded"
    assert result.steps["s"].attempts == 3
    expected_rng = random.Random(7)
    d1 = expected_rng.uniform(0, 2.0)
    d2 = expected_rng.uniform(0, 4.0)
    failed = [e for e in events if isinstance(e, ev.AttemptFailed)]
    assert [e.retry_in for e in failed] == [d1, d2]
    starts = agent.call_times
    assert starts == pytest.approx([0.0, d1, d1 + d2])
    keys = {e.idempotency_key for e in events if isinstance(e, ev.AttemptStarted)}
    assert keys == {idempotency_key(result.run_id, "s")}


async def test_retry_after_sets_the_next_attempt_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A retryable error's retry_after delays the next attempt (capped by max_backoff)."""
    calls = 0

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise cadenza.RetryableError("429", retry_after=7.0)
        return "ok"

    agent = ScriptedAgent("a", behaviour)
    wf = make_workflow({"s": {"retry": {"max_attempts": 2, "backoff": 0.1, "max_backoff": 60}}})
    await run(wf, {"a": agent})
    assert agent.call_times == [0.0, 7.0]


async def test_permanent_error_is_not_retried(autojump_clock: trio.testing.MockClock) -> None:
    """A permanent error fails the step after one attempt even with retries left."""

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        raise cadenza.PermanentError("bad request")

    agent = ScriptedAgent("a", behaviour)
    wf = make_workflow({"s": {"retry": {"max_attempts": 5}}})
    result, _ = await run(wf, {"a": agent})
    assert result.steps["s"].attempts == 1
    assert result.steps["s"].error == "bad request"


async def test_agent_bug_fails_the_step_without_retry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An unexpected exception from an agent fails the step and is named in the error."""

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        raise ZeroDivisionError("oops")

    agent = ScriptedAgent("a", behaviour)
    wf = make_workflow({"s": {"retry": {"max_attempts": 5}}})
    result, events = await run(wf, {"a": agent})
    assert result.steps["s"].attempts == 1
    failed = [e for e in events if isinstance(e, ev.StepFailed)]
    assert failed[0].error_type == "ZeroDivisionError"


async def test_attempt_timeout_cancels_the_call_and_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An attempt past its timeout is cancelled and counts as a retryable timeout."""
    cancelled = 0

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        nonlocal cancelled
        if request.attempt == 1:
            try:
                await trio.sleep(100)
            except trio.Cancelled:
                cancelled += 1
                raise
        return "second time lucky"

    agent = ScriptedAgent("a", behaviour)
    wf = make_workflow({"s": {"timeout": 5.0, "retry": {"max_attempts": 2, "backoff": 0}}})
    result, events = await run(wf, {"a": agent})
    assert cancelled == 1
    assert result.steps["s"].output == "second time lucky"
    failed = [e for e in events if isinstance(e, ev.AttemptFailed)]
    assert failed[0].error_type == "AgentTimeoutError"
    assert agent.call_times == [0.0, 5.0]


async def test_cancel_stops_in_flight_calls_promptly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """RunHandle.cancel() cancels every in-flight call and marks steps cancelled."""
    cancelled: list[str] = []

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        try:
            await trio.sleep(1000)
        except trio.Cancelled:
            cancelled.append(request.step_id)
            raise
        return None

    agent = ScriptedAgent("a", behaviour)
    wf = make_workflow({f"s{i}": {} for i in range(5)} | {"later": {"needs": ["s0"]}})
    box: list[Any] = []
    async with trio.open_nursery() as nursery:

        async def runner(task_status: trio.TaskStatus[RunHandle]) -> None:
            box.append(
                await run_workflow(wf, plugins=plugins_with({"a": agent}), task_status=task_status)
            )

        handle = await nursery.start(runner)
        await trio.sleep(3)
        handle.cancel("user pressed Ctrl-C")
    result = box[0]
    assert trio.current_time() == 3.0
    assert sorted(cancelled) == [f"s{i}" for i in range(5)]
    assert result.status == "cancelled"
    assert result.counts["cancelled"] == 6


async def test_outer_cancellation_still_emits_run_finished(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """If the caller's scope is cancelled, run_finished is emitted before Cancelled propagates."""
    agent = ScriptedAgent("a", sleeper(100))
    wf = make_workflow({"s": {}})
    events: list[ev.Event] = []
    with trio.move_on_after(1):
        await run_workflow(wf, plugins=plugins_with({"a": agent}), observers=[events.append])
    assert isinstance(events[-1], ev.RunFinished)
    assert events[-1].status == "cancelled"
    assert agent.closed


async def test_broken_observer_is_dropped_and_run_goes_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An observer that raises is removed; the run and other observers are unaffected."""
    agent = ScriptedAgent("a", echo)
    seen: list[str] = []

    def broken(event: ev.Event) -> None:
        raise RuntimeError("observer bug")

    wf = make_workflow({"x": {}, "y": {"needs": ["x"]}})
    result = await run_workflow(
        wf,
        plugins=plugins_with({"a": agent}),
        observers=[broken, lambda e: seen.append(e.kind)],
    )
    assert result.status == "succeeded"
    assert seen[-1] == "run_finished"


async def test_secrets_are_redacted_from_events(autojump_clock: trio.testing.MockClock) -> None:
    """A secret value echoed in an output never reaches observers."""
    secret = "sk-test-1234567890"

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        return {"leak": f"key={secret}"}

    agent = ScriptedAgent("a", behaviour)
    wf = make_workflow({"s": {}}, agents={"a": {"secrets": [secret]}})
    result, events = await run(wf, {"a": agent})
    assert secret not in repr([e.to_dict() for e in events])
    done = [e for e in events if isinstance(e, ev.StepSucceeded)]
    assert done[0].output == {"leak": "key=***"}
    assert secret not in repr(result.to_dict())


async def test_step_without_any_agent_fails_with_a_clear_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A step whose capability no agent serves fails and says how to fix it."""
    agent = ScriptedAgent("a", echo)
    wf = make_workflow({"docs": {"uses": "documentation"}, "after": {"needs": ["docs"]}})
    result, _ = await run(wf, {"a": agent})
    assert result.steps["docs"].status == "failed"
    assert "no agent serves 'documentation'" in (result.steps["docs"].error or "")
    assert result.steps["after"].status == "skipped"


async def test_events_round_trip_through_dicts(autojump_clock: trio.testing.MockClock) -> None:
    """Every event of a run survives to_dict/event_from_dict unchanged (journal-ready)."""
    agent = ScriptedAgent("a", echo)
    wf = make_workflow({"x": {"with": {"k": [1, 2]}}, "y": {"needs": ["x"]}})
    _, events = await run(wf, {"a": agent})
    for event in events:
        assert ev.event_from_dict(event.to_dict()).to_dict() == event.to_dict()
    assert [e.seq for e in events] == list(range(len(events)))


async def test_agent_factory_error_is_a_workflow_problem() -> None:
    """An agent kind whose factory raises gives a WorkflowError naming the agent, not a crash."""

    class BrokenKind:
        @cadenza.hookimpl
        def cadenza_agent_kinds(self, register: Any) -> None:
            def factory(config: Any) -> Any:
                raise ValueError("model 'x' is not installed")

            register("prog", factory)

    wf = make_workflow({"s": {}})
    plugins = cadenza.plugins.load_plugins(extra=[BrokenKind()], entry_points=False)
    with pytest.raises(cadenza.WorkflowError) as info:
        await run_workflow(wf, plugins=plugins)
    (problem,) = info.value.problems
    assert problem.path == "agents.a"
    assert "agent 'a' (kind prog) could not be created: model 'x' is not installed" in str(
        problem.message
    )


async def test_expensive_readiness_checks_yield_between_turns(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a turn's evaluation time, the next when: waits for a checkpoint: others run first."""
    monkeypatch.setattr(_scheduler, "TURN_EVALUATION_SECONDS", 0.0)
    agent = ScriptedAgent("a", sleeper(1))
    wf = make_workflow({f"s{i}": {"when": "[1, 2, 3].all(x, x > 0)"} for i in range(4)})
    result, events = await run(wf, {"a": agent})
    assert result.status == "succeeded"
    order = [(e.kind, e.step_id) for e in events if e.kind in ("step_ready", "attempt_started")]
    assert order == [
        (kind, f"s{i}") for i in range(4) for kind in ("step_ready", "attempt_started")
    ]


async def test_cheap_readiness_checks_run_in_one_turn(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conditions within the turn's evaluation budget are all checked before a call starts.

    The budget is raised so that a busy machine's preemption (real CPU time) cannot end
    the turn early; ``test_expensive_readiness_checks_yield_between_turns`` covers a spent one.
    """
    monkeypatch.setattr(_scheduler, "TURN_EVALUATION_SECONDS", 3600.0)
    agent = ScriptedAgent("a", sleeper(1))
    wf = make_workflow({f"s{i}": {"when": "[1, 2, 3].all(x, x > 0)"} for i in range(4)})
    _, events = await run(wf, {"a": agent})
    kinds = [e.kind for e in events if e.kind in ("step_ready", "attempt_started")]
    assert kinds == ["step_ready"] * 4 + ["attempt_started"] * 4
