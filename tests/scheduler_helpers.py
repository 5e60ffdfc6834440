"""Builders for scheduler tests: workflows from plain dicts, and a programmable agent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import trio
import trio.lowlevel

import cadenza
from cadenza._expr._expressions import compile_value
from cadenza._plugins._registry import Plugins, load_plugins
from cadenza._spec._workflow import AgentConfig, RetryPolicy, Step, Workflow

Behaviour = Callable[[cadenza.AgentRequest], Awaitable[Any]]


@attrs.define(eq=False)
class ProgrammableAgent:
    """Runs ``behaviour(request)`` per call and records starts, ends and concurrency."""

    name: str
    behaviour: Behaviour
    capabilities: frozenset[str] = frozenset()
    starts: list[tuple[float, str, int]] = attrs.field(factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    closed: bool = False

    async def run(self, request: cadenza.AgentRequest) -> cadenza.AgentResult:
        self.starts.append((trio.current_time(), request.step_id, request.attempt))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            value = await self.behaviour(request)
        finally:
            self.in_flight -= 1
        if isinstance(value, cadenza.AgentResult):
            return value
        return cadenza.AgentResult(output=value)

    async def aclose(self) -> None:
        self.closed = True


async def echo(request: cadenza.AgentRequest) -> Any:
    await trio.lowlevel.checkpoint()
    return {"step": request.step_id, **request.inputs}


class ProgrammablePlugin:
    """Registers kind ``prog``: the factory hands out pre-built agents by name.

    Any :class:`cadenza.Agent` works (a ProgrammableAgent or a public ScriptedAgent).
    """

    def __init__(self, agents: Mapping[str, cadenza.Agent]) -> None:
        self.agents = dict(agents)

    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        register("prog", lambda config: self.agents[config.name])


def plugins_with(agents: Mapping[str, cadenza.Agent]) -> Plugins:
    return load_plugins(extra=[ProgrammablePlugin(agents)], entry_points=False)


def make_workflow(
    steps: Mapping[str, Mapping[str, Any]],
    *,
    agents: Mapping[str, Mapping[str, Any]] | None = None,
    concurrency: int = 16,
    fail_fast: bool = False,
) -> Workflow:
    """Build a Workflow directly (bypassing the loader) from compact dicts.

    Step keys: uses (default "a"), needs, priority, with, retry (dict), timeout,
    when (CEL source), if_needs_skipped.
    """
    from cadenza._expr._expressions import compile_condition

    agents = agents or {"a": {}}
    agent_configs = {
        name: AgentConfig(
            name=name,
            kind="prog",
            max_concurrent=spec.get("max_concurrent"),
            capabilities=frozenset(spec.get("capabilities", ())),
            secrets=frozenset(spec.get("secrets", ())),
        )
        for name, spec in agents.items()
    }
    built = {}
    for step_id, spec in steps.items():
        template, issues = compile_value(spec.get("with", {}), path=f"steps.{step_id}.with")
        assert not issues, issues
        condition = None
        if "when" in spec:
            condition, issues = compile_condition(spec["when"], path=f"steps.{step_id}.when")
            assert not issues, issues
        built[step_id] = Step(
            id=step_id,
            uses=spec.get("uses", "a"),
            inputs=template,
            needs=tuple(spec.get("needs", ())),
            priority=spec.get("priority", 0),
            condition=condition,
            retry=RetryPolicy(**spec.get("retry", {"max_attempts": 1})),
            timeout=spec.get("timeout"),
            if_needs_skipped=spec.get("if_needs_skipped", "skip"),
        )
    return Workflow(
        name="test",
        steps=built,
        agents=agent_configs,
        concurrency=concurrency,
        fail_fast=fail_fast,
    )
