"""Builders for scheduler tests: workflows from plain dicts, and kind ``prog`` for any agents.

The agents themselves are public fakes: :class:`cadenza.testing.ScriptedAgent`, whose
script may be a function ``(request) -> output`` such as :func:`echo`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio
import trio.lowlevel

import cadenza
from cadenza._expr._expressions import compile_value
from cadenza._plugins._registry import Plugins, load_plugins
from cadenza._spec._workflow import AgentConfig, RetryPolicy, Step, Workflow


async def echo(request: cadenza.AgentRequest) -> Any:
    """A ScriptedAgent script answering ``{"step": <step id>, **inputs}``."""
    await trio.lowlevel.checkpoint()
    return {"step": request.step_id, **request.inputs}


class ProgrammablePlugin:
    """Registers kind ``prog``: the factory hands out pre-built agents by name.

    Any :class:`cadenza.Agent` works, usually a :class:`cadenza.testing.ScriptedAgent`;
    unlike ``scripted_agent_kind`` the table's keys need not be the agents' names.
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
