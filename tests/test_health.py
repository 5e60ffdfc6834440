"""Agent health: half-open probes use health() when an agent has it, configured checks, stats."""

from __future__ import annotations

from typing import Any

import attrs
import trio
import trio.testing

import cadenza
from cadenza import _events as ev
from cadenza._scheduler._runner import run_workflow
from cadenza._spec._policies import BreakerPolicy
from cadenza._spec._workflow import HealthCheckPolicy
from cadenza.testing import ScriptedAgent

from .scheduler_helpers import make_workflow, plugins_with


def configure(workflow: cadenza.Workflow, agent: str, **changes: Any) -> Any:
    agents = dict(workflow.agents)
    agents[agent] = attrs.evolve(agents[agent], **changes)
    return attrs.evolve(workflow, agents=agents)


async def test_half_open_probe_is_a_health_check_not_a_billed_call(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After the cooldown, an agent with health() is probed with it; a pass closes the breaker."""
    down_until = 50.0

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        await trio.sleep(1)
        if trio.current_time() < down_until:
            raise cadenza.RetryableError("503")
        return "ok"

    agent = ScriptedAgent("a", behaviour, healthy=False)  # health() answers `healthy`
    wf = make_workflow(
        {"s": {"retry": {"max_attempts": 20, "backoff": 1, "max_backoff": 1}}}, concurrency=1
    )
    wf = configure(wf, "a", breaker=BreakerPolicy(failures=2, cooldown=20))
    events: list[ev.Event] = []

    async def heal() -> None:
        await trio.sleep_until(down_until)
        agent.healthy = True

    async with trio.open_nursery() as nursery:
        nursery.start_soon(heal)
        result = await run_workflow(
            wf, plugins=plugins_with({"a": agent}), observers=[events.append]
        )
    assert result.status == "succeeded"
    calls = agent.call_times
    assert len(calls) == 3  # two failures open the breaker; after health passes, one real call
    assert calls[-1] >= down_until
    assert agent.health_checks  # probes were health checks
    states = [e.state for e in events if isinstance(e, ev.CircuitChanged)]
    assert states[0] == "open"
    assert states[-1] == "closed"
    assert "half_open" in states
    assert result.agents["a"]["breaker"] == "closed"
    assert result.agents["a"]["calls"] == 3
    assert result.agents["a"]["failures"] == 2


async def test_configured_health_check_keeps_unhealthy_agent_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With health_check, an unhealthy agent takes no calls; steps go to a healthy one."""

    async def quick(request: cadenza.AgentRequest) -> Any:
        await trio.sleep(10)
        return "ok"

    sick = ScriptedAgent("sick", quick, capabilities=["gen"], healthy=False)
    well = ScriptedAgent("well", quick, capabilities=["gen"])
    wf = make_workflow(
        {f"s{i}": {"uses": "gen"} for i in range(6)},
        agents={"sick": {"capabilities": ["gen"], "max_concurrent": 1},
                "well": {"capabilities": ["gen"], "max_concurrent": 1}},
    )  # fmt: skip
    wf = configure(wf, "sick", health_check=HealthCheckPolicy(interval=5))
    events: list[ev.Event] = []
    result = await run_workflow(
        wf, plugins=plugins_with({"sick": sick, "well": well}), observers=[events.append]
    )
    assert result.status == "succeeded"
    changes = [(e.agent, e.healthy) for e in events if isinstance(e, ev.AgentHealthChanged)]
    assert changes == [("sick", False)]
    # sick took one call at t=0 (before its first check at t=5), then none
    assert sick.call_times == [0.0]
    assert len(well.calls) == 5


async def test_pending_timers_do_not_keep_a_finished_run_alive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A breaker cooldown and a health watcher still pending end with the run's last step."""

    async def flaky(request: cadenza.AgentRequest) -> Any:
        await trio.sleep(1)
        if request.step_id == "bad":
            raise cadenza.RetryableError("503")
        return "ok"

    agent = ScriptedAgent("a", flaky)
    wf = make_workflow({"bad": {"retry": {"max_attempts": 1}}, "good": {}})
    wf = configure(
        wf,
        "a",
        breaker=BreakerPolicy(failures=1, cooldown=3600),
        health_check=HealthCheckPolicy(interval=600),
    )
    result = await run_workflow(wf, plugins=plugins_with({"a": agent}))
    assert result.steps["good"].status == "succeeded"
    assert trio.current_time() < 10


def test_health_check_loads_from_yaml() -> None:
    """health_check: {interval} on an agent loads; bad durations are problems."""
    text = (
        "agents:\n  a: {kind: template, health_check: {interval: 45s}, options: {output: x}}\n"
        "steps:\n  s: {uses: a}\n"
    )
    loaded = cadenza.load_workflow_text(
        text, plugins=cadenza.plugins.load_plugins(entry_points=False)
    )
    assert loaded.workflow.agents["a"].health_check == HealthCheckPolicy(interval=45)
