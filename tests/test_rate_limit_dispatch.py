"""Per-agent rate limits in the scheduler: steps wait for the limit, they do not fail."""

from __future__ import annotations

import itertools
from typing import Any

import attrs
import trio
import trio.testing

import cadenza
from cadenza._scheduler._runner import run_workflow
from cadenza._spec._policies import RateLimitPolicy
from cadenza.testing import ScriptedAgent

from .scheduler_helpers import make_workflow, plugins_with


def limited(workflow: cadenza.Workflow, agent: str, policy: RateLimitPolicy) -> Any:
    agents = dict(workflow.agents)
    agents[agent] = attrs.evolve(agents[agent], rate_limit=policy)
    return attrs.evolve(workflow, agents=agents)


async def quick(request: cadenza.AgentRequest) -> Any:
    await trio.lowlevel.checkpoint()
    return cadenza.AgentResult(output=1, usage=cadenza.Usage(input_tokens=50, output_tokens=50))


async def test_requests_per_minute_spaces_calls_and_all_steps_succeed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With 6 requests a minute, 4 ready steps start 10 s apart; none fails."""
    agent = ScriptedAgent("a", quick)
    wf = limited(
        make_workflow({f"s{i}": {} for i in range(4)}),
        "a",
        RateLimitPolicy(requests_per_minute=6),
    )
    result = await run_workflow(wf, plugins=plugins_with({"a": agent}))
    assert result.status == "succeeded"
    assert agent.call_times == [0.0, 10.0, 20.0, 30.0]


async def test_rate_limited_agent_does_not_hold_up_other_agents(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Steps of an unlimited agent run at once while a limited agent's steps wait their turn."""
    slow = ScriptedAgent("slow", quick)
    free = ScriptedAgent("free", quick)
    steps: dict[str, dict[str, Any]] = {f"l{i}": {"uses": "slow", "priority": 5} for i in range(3)}
    steps.update({f"f{i}": {"uses": "free"} for i in range(3)})
    wf = limited(
        make_workflow(steps, agents={"slow": {}, "free": {}}),
        "slow",
        RateLimitPolicy(requests_per_minute=2),
    )
    result = await run_workflow(wf, plugins=plugins_with({"slow": slow, "free": free}))
    assert result.status == "succeeded"
    assert free.call_times == [0.0, 0.0, 0.0]
    assert slow.call_times == [0.0, 30.0, 60.0]


async def test_tokens_per_minute_uses_reported_usage(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Actual usage (100 tokens a call) settles the token bucket: 600 tokens/min -> 10 s apart."""
    agent = ScriptedAgent("a", quick)
    wf = limited(
        make_workflow({f"s{i}": {"with": {"q": "x"}} for i in range(3)}),
        "a",
        RateLimitPolicy(tokens_per_minute=600),
    )
    result = await run_workflow(wf, plugins=plugins_with({"a": agent}))
    assert result.status == "succeeded"
    starts = agent.call_times
    assert starts[0] == 0.0
    assert all(later - earlier >= 9.0 for earlier, later in itertools.pairwise(starts))


def test_rate_limit_loads_from_yaml() -> None:
    """rate_limit: on an agent loads into its config; unknown keys are problems."""
    text = (
        "agents:\n  a: {kind: template, rate_limit: {requests_per_minute: 30}, "
        "options: {output: x}}\nsteps:\n  s: {uses: a}\n"
    )
    loaded = cadenza.load_workflow_text(
        text, plugins=cadenza.plugins.load_plugins(entry_points=False)
    )
    assert loaded.workflow.agents["a"].rate_limit == RateLimitPolicy(requests_per_minute=30)
    bad = text.replace("requests_per_minute", "requests_per_minit")
    try:
        cadenza.load_workflow_text(bad, plugins=cadenza.plugins.load_plugins(entry_points=False))
    except cadenza.WorkflowError as exc:
        (problem,) = exc.problems
        assert problem.path == "agents.a.rate_limit.requests_per_minit"
    else:
        raise AssertionError("an unknown rate_limit key must be a problem")
