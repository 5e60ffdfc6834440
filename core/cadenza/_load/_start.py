"""The runner's checks before a first step, made while the file loads (issue 18).

``cadenza run`` builds every agent from its kind's factory and refuses a step
that needs more agents at once than the workflow's ``concurrency``; both are
known from the file alone, so ``cadenza validate`` (and every load) makes the
same checks, with the same code and messages (``_plugins._start_checks``),
located at file:line.
"""

from __future__ import annotations

from .._plugins._registry import plugin_config_scope
from .._plugins._start_checks import aggregator_hedges, at_once, make_agents, too_many_at_once
from .._spec._workflow import Workflow
from ._context import LoadContext


def check_startable(ctx: LoadContext, workflow: Workflow) -> None:
    """Report what would stop ``workflow``'s run before its first step.

    Made only on a workflow without errors so far (the run never starts one
    with errors, and a half-read agent would only repeat an error).
    """
    if any(p.severity == "error" for p in ctx.problems):
        return
    with plugin_config_scope(workflow.plugin_config):  # as the runner builds them
        _, problems = make_agents(workflow, ctx.plugins)
    ctx.problems.extend(problems)
    factories = {n: r.obj for n, r in ctx.plugins.registered("cadenza_aggregators").items()}
    limit = workflow.concurrency
    for step_id, step in workflow.steps.items():
        if step.fan_out is None:
            continue
        need = at_once(step, aggregator_hedges(step, factories))
        if need > limit:
            ctx.error(
                ("steps", step_id, "agents"),
                too_many_at_once(need, limit),
                f"Set concurrency: {need} (or more) at the top of the file, or ask fewer "
                f"agents (agents: {limit}).",
            )
