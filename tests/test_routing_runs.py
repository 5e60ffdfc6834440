"""Routing in real runs on the autojump clock: who gets the calls, and why.

The strategies' own unit tests live in test_routers.py; these run the
scheduler with several agents serving one capability and check the
distribution of calls each strategy produces, that every decision is an
event with its reason, and that adaptive routing learns from the journal.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import trio

import cadenza
from cadenza._journal._sqlite import SqliteStore
from cadenza.testing import ScriptedAgent, run_captured
from tests.scheduler_helpers import plugins_with


def timed(delay: float, *, fail: bool = False) -> Any:
    async def behaviour(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        await trio.sleep(delay)
        if fail:
            raise cadenza.RetryableError("provider error", agent="x")
        return cadenza.AgentResult(output=request.step_id)

    return behaviour


def fleet(**behaviours: Any) -> dict[str, ScriptedAgent]:
    return {name: ScriptedAgent(name, b) for name, b in behaviours.items()}


def independent_steps(
    agents: dict[str, ScriptedAgent],
    n: int,
    *,
    route: Any,
    concurrency: int = 1,
    agent_extra: dict[str, dict[str, Any]] | None = None,
    retry: Any = 1,
) -> dict[str, Any]:
    extra = agent_extra or {}
    return {
        "name": "routing",
        "concurrency": concurrency,
        "route": route,
        "agents": {
            name: {"kind": "prog", "capabilities": ["work"], **extra.get(name, {})}
            for name in agents
        },
        "steps": {f"s{i:03}": {"uses": "work", "retry": retry} for i in range(n)},
    }


def calls(agents: dict[str, ScriptedAgent]) -> dict[str, int]:
    return {name: len(agent.calls) for name, agent in agents.items()}


async def test_round_robin_is_fair(autojump_clock: Any) -> None:
    agents = fleet(a=timed(1), b=timed(1), c=timed(1))
    run = await run_captured(
        independent_steps(agents, 30, route="round_robin"), plugins=plugins_with(agents)
    )
    assert run.result.status == "succeeded"
    assert calls(agents) == {"a": 10, "b": 10, "c": 10}
    chosen = run.of("route_chosen")
    assert len(chosen) == 30
    assert {e.strategy for e in chosen} == {"round_robin"}
    assert all(e.reason for e in chosen)


async def test_least_busy_sends_more_work_to_the_faster_agent(autojump_clock: Any) -> None:
    agents = fleet(fast=timed(1), slow=timed(5))
    run = await run_captured(
        independent_steps(agents, 60, route="least_busy", concurrency=2),
        plugins=plugins_with(agents),
    )
    assert run.result.status == "succeeded"
    counts = calls(agents)
    # With two calls in flight, the fast agent frees up five times as often.
    assert counts["fast"] >= 4 * counts["slow"]


async def test_weighted_follows_the_weights(autojump_clock: Any) -> None:
    agents = fleet(big=timed(1), small=timed(1))
    data = independent_steps(
        agents,
        400,
        route="weighted",
        agent_extra={"big": {"weight": 3}, "small": {"weight": 1}},
    )
    run = await run_captured(data, plugins=plugins_with(agents), rng=random.Random(7))
    counts = calls(agents)
    assert run.result.status == "succeeded"
    assert 0.65 < counts["big"] / 400 < 0.85


async def test_cheapest_picks_the_lowest_price_and_fastest_the_lowest_latency(
    autojump_clock: Any,
) -> None:
    agents = fleet(dear=timed(1), cheap=timed(3))
    prices = {
        "dear": {"price": {"input_per_1k": 10.0}},
        "cheap": {"price": {"input_per_1k": 0.1}},
    }
    run = await run_captured(
        independent_steps(agents, 10, route="cheapest", agent_extra=prices),
        plugins=plugins_with(agents),
    )
    assert calls(agents) == {"dear": 0, "cheap": 10}
    assert all("cheapest" in e.reason for e in run.of("route_chosen"))

    agents = fleet(quick=timed(1), sluggish=timed(3))
    await run_captured(independent_steps(agents, 20, route="fastest"), plugins=plugins_with(agents))
    counts = calls(agents)
    assert counts["sluggish"] <= 2  # measured once, then left alone
    assert counts["quick"] >= 18


async def test_adaptive_shifts_away_from_a_failing_agent(autojump_clock: Any) -> None:
    agents = fleet(good=timed(1), broken=timed(1, fail=True))
    data = independent_steps(agents, 100, route="adaptive", retry={"max_attempts": 5, "backoff": 0})
    run = await run_captured(data, plugins=plugins_with(agents), rng=random.Random(3))
    assert run.result.status == "succeeded"
    broken_calls = [call.step_id for call in agents["broken"].calls]
    assert len(broken_calls) < 20
    # The failures come early: exploration, then the router learned.
    late = [s for s in broken_calls if s >= "s050"]
    assert len(late) <= 3


async def test_adaptive_learns_from_the_journal(tmp_path: Path, autojump_clock: Any) -> None:
    """A second run starts where the first left off: the agent that failed is avoided at once."""
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        first = fleet(good=timed(1), broken=timed(1, fail=True))
        data = independent_steps(
            first, 60, route="adaptive", retry={"max_attempts": 5, "backoff": 0}
        )
        await run_captured(data, plugins=plugins_with(first), store=store, rng=random.Random(1))
        second = fleet(good=timed(1), broken=timed(1, fail=True))
        run = await run_captured(
            data, plugins=plugins_with(second), store=store, rng=random.Random(2)
        )
    finally:
        store.close()
    assert run.result.status == "succeeded"
    assert len(second["broken"].calls) <= 3
    first_choices = [e.agent for e in run.of("route_chosen")[:10]]
    assert Counter(first_choices)["good"] >= 8


async def test_budget_aware_downgrades_as_the_budget_drains(autojump_clock: Any) -> None:
    agents = fleet(premium=timed(1), basic=timed(1))
    prices = {
        "premium": {"price": {"per_call": 0.10}, "weight": 10},
        "basic": {"price": {"per_call": 0.01}},
    }
    data = independent_steps(
        agents,
        20,
        route={"strategy": "budget_aware", "prefer": "weighted", "below": 0.5},
        agent_extra=prices,
    )
    data["budget"] = {"usd": 1.0}
    run = await run_captured(data, plugins=plugins_with(agents), rng=random.Random(5))
    assert run.result.status == "succeeded"
    order = [e.agent for e in run.of("route_chosen")]
    # Premium while more than half the budget is left, basic after.
    assert order[:3] == ["premium"] * 3
    assert set(order[-5:]) == {"basic"}
    assert run.result.cost["usd"] <= 1.0


async def test_a_retry_goes_to_another_agent_and_the_event_says_so(autojump_clock: Any) -> None:
    agents = fleet(a=timed(1, fail=True), b=timed(1))
    data = independent_steps(agents, 1, route="least_busy", retry={"max_attempts": 2, "backoff": 0})
    run = await run_captured(data, plugins=plugins_with(agents))
    assert run.result.status == "succeeded"
    first, second = run.of("route_chosen")
    assert first.agent == "a"
    assert set(first.candidates) == {"a", "b"}
    assert second.agent == "b"
    assert second.candidates == ("b",)
