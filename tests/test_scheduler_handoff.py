"""A task whose attempt ended takes over the next attempt (``_Run._attempt``).

The hand-over saves a task spawn and a task switch per step; these tests pin
what it must not change: other tasks still get their turn between two steps,
even when an agent never yields, and a cancel still stops the run.
"""

from __future__ import annotations

import itertools
from typing import Any

import trio

import cadenza
from cadenza.testing import ScriptedAgent

from .scheduler_helpers import make_workflow, plugins_with

STEPS = 20


def chain(n: int) -> Any:
    return make_workflow({f"s{i}": ({"needs": [f"s{i - 1}"]} if i else {}) for i in range(n)})


async def test_others_run_between_steps_whose_agent_never_yields() -> None:
    """With an agent that returns without a checkpoint, the scheduler still lets others in."""
    ticks = 0
    seen: list[int] = []

    async def instant(request: cadenza.AgentRequest) -> Any:
        seen.append(ticks)  # no await: this agent never yields
        return request.step_id

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await trio.lowlevel.checkpoint()
            ticks += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        result = await cadenza.run_workflow(
            chain(STEPS), plugins=plugins_with({"a": ScriptedAgent("a", instant)})
        )
        nursery.cancel_scope.cancel()
    assert result.status == "succeeded"
    assert len(seen) == STEPS
    # The ticker had a turn per step, as when each step had its own task (within
    # one scheduler batch trio may run it before or after the step's task).
    assert all(b >= a for a, b in itertools.pairwise(seen)), seen
    assert seen[-1] - seen[0] >= STEPS // 2, seen


async def test_cancel_stops_a_chain_of_agents_that_never_yield() -> None:
    """RunHandle.cancel, called from another task, stops a chain run by one task."""
    calls: list[str] = []

    async def instant(request: cadenza.AgentRequest) -> Any:
        calls.append(request.step_id)
        return None

    results: list[cadenza.RunResult] = []

    async def runner(*, task_status: trio.TaskStatus[cadenza.RunHandle]) -> None:
        results.append(
            await cadenza.run_workflow(
                chain(1000),
                plugins=plugins_with({"a": ScriptedAgent("a", instant)}),
                task_status=task_status,
            )
        )

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            handle: cadenza.RunHandle = await nursery.start(runner)
            while len(calls) < 5:
                await trio.lowlevel.checkpoint()
            handle.cancel("stopped by the test")
    (result,) = results
    assert result.status == "cancelled"
    assert 5 <= len(calls) < 1000
    assert result.counts["succeeded"] == len(calls)


async def test_steps_run_by_one_task_each_get_their_own_request() -> None:
    """Attempts handed over keep their own step, attempt number and idempotency key."""
    got: list[cadenza.AgentRequest] = []

    async def record(request: cadenza.AgentRequest) -> Any:
        got.append(request)
        await trio.lowlevel.checkpoint()
        return {"step": request.step_id}

    result = await cadenza.run_workflow(
        chain(STEPS), plugins=plugins_with({"a": ScriptedAgent("a", record)})
    )
    assert result.status == "succeeded"
    assert [r.step_id for r in got] == [f"s{i}" for i in range(STEPS)]
    assert {r.attempt for r in got} == {1}
    assert len({r.idempotency_key for r in got}) == STEPS
    assert [result.steps[f"s{i}"].output for i in range(STEPS)] == [
        {"step": f"s{i}"} for i in range(STEPS)
    ]
