"""What a run checks before its first step, in one place for the loader and the runner.

``cadenza validate`` must refuse what ``cadenza run`` refuses (issue 18): the
loader makes these checks while the file loads, with file:line, and the
runner makes the same ones (same code, same messages) for workflows that did
not come through the loader. They live here, below both, because both need
the plugins' factories: an agent is built by its kind's factory, and whether
a multi-agent step needs all its agents at once depends on its aggregator
(a hedging one asks one at a time).
"""

from __future__ import annotations

from collections.abc import Mapping

from .._agents._contract import Agent
from .._errors import PermanentError, PluginError
from .._logging import get_logger
from .._problems import Problem
from .._redact import redact
from .._spec._workflow import Step, Workflow
from ._checks import check_made
from ._registry import Plugins, call_plugin

log = get_logger()


def make_agents(workflow: Workflow, plugins: Plugins) -> tuple[dict[str, Agent], list[Problem]]:
    """Build every agent from its kind's factory; a factory's error is a problem at the agent."""
    agents: dict[str, Agent] = {}
    problems: list[Problem] = []
    for name, config in workflow.agents.items():
        reg = plugins.agent_kinds.get(config.kind)
        try:
            if reg is None:
                known = ", ".join(sorted(plugins.agent_kinds)) or "none"
                raise PermanentError(f"unknown agent kind {config.kind!r} (known kinds: {known})")
            agent = call_plugin(reg.obj, config)
            hook, plugin = "cadenza_agent_kinds", reg.plugin
            made = check_made(agent, hook=hook, name=config.kind, plugin=plugin, factory=reg.obj)
            if made:
                raise PluginError(made, plugin=plugin)
            agents[name] = agent
        except Exception as exc:
            log.debug("agent_factory_failed", agent=name, exc_info=True)
            hint = "Fix the agent's options; run with --debug to see the traceback."
            if isinstance(exc, PluginError) and exc.plugin:
                hint = f"This is a bug in {exc.plugin}: report it to its author."
            problems.append(
                Problem(
                    message=f"agent {name!r} (kind {config.kind}) could not be created: "
                    + redact(str(exc), workflow.secrets),
                    path=f"agents.{name}",
                    location=config.location,
                    hint=hint,
                )
            )
    return agents, problems


def at_once(step: Step, hedges: bool) -> int:
    """How many agents an attempt of ``step`` takes at once (``hedges``: its aggregator hedges)."""
    fan_out = step.fan_out
    if fan_out is None or hedges:
        return 1
    return fan_out if isinstance(fan_out, int) else len(fan_out)


def aggregator_hedges(step: Step, factories: Mapping[str, object]) -> bool:
    """Whether ``step``'s aggregator hedges (asks one agent, more only when it is slow)."""
    factory = factories.get(step.aggregate.name)
    if step.fan_out is None or not callable(factory):
        return False
    try:
        aggregator = factory(dict(step.aggregate.options))
    except Exception:  # the loader reports a factory's refusal where aggregate: is written
        return False
    return callable(getattr(aggregator, "hedge_after", None))


def too_many_at_once(need: int, concurrency: int) -> str:
    """The refusal of a step that needs more agents at once than the run may call."""
    return (
        f"asks {need} agents at once but the workflow's concurrency is {concurrency}; "
        f"raise concurrency to at least {need}"
    )
