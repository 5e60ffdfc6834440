"""The simulated workflow: every agent replaced by a :class:`ModelledAgent` on the virtual clock."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from .._agents._contract import AgentRequest, AgentResult, Usage
from .._errors import ExpressionError, RetryableError
from .._expr._expressions import ExpressionContext, ValueTemplate
from .._plugins._registry import Plugins, Registration, new_plugin_manager
from .._resilience._ratelimit import estimate_tokens
from .._spec._workflow import AgentConfig, Workflow
from ._sim_models import AgentModel

SIM_KIND = "simulated"
"""The agent kind every agent of a simulated workflow is switched to."""


@attrs.define(eq=False)
class ModelledAgent:
    """Sleeps a modelled latency (on the virtual clock), then fails or answers as modelled.

    Each call's draws come from a generator seeded with the call's identity
    (seed, repetition, step, attempt, agent), so a simulation does not depend
    on the order in which trio happens to run tasks woken at the same instant.
    """

    name: str
    model: AgentModel
    seed: str
    capabilities: frozenset[str] = frozenset()

    async def run(self, request: AgentRequest) -> AgentResult:
        rng = random.Random(f"{self.seed}:{request.step_id}:{request.attempt}:{self.name}")
        latency = self.model.latency.draw(rng)
        fails = self.model.failure_rate > 0 and rng.random() < self.model.failure_rate
        await trio.sleep(max(0.0, latency))
        if fails:
            raise RetryableError(
                f"simulated failure of agent {self.name!r}",
                retry_after=self.model.retry_after,
                agent=self.name,
                step_id=request.step_id,
            )
        input_tokens = self.model.input_tokens
        if input_tokens is None:  # as a real run estimates it before the call
            input_tokens = estimate_tokens(request.inputs)
        return AgentResult(
            output={"simulated": True, "step": request.step_id},
            usage=Usage(input_tokens=input_tokens, output_tokens=self.model.output_tokens),
        )

    async def aclose(self) -> None:
        return None


def simulated_workflow(
    workflow: Workflow, models: Mapping[str, AgentModel], inputs: Mapping[str, Any]
) -> tuple[Workflow, list[str]]:
    """The workflow with every agent of kind ``simulated``, and what that assumes.

    Agents keep their limits, breakers, rate limits, prices (unless the model
    sets one) and budgets; options and health checks are dropped. Steps keep
    everything the scheduler decides with, except what reads real outputs.
    A ``with:`` is rendered when it reads only run inputs, and taken as
    written when it reads step outputs: it only sizes a call's input tokens
    (modelled agents ignore their inputs otherwise). A ``when:`` reading step
    outputs is assumed true, and validators are assumed to pass.
    """
    notes: list[str] = []
    agents = {
        name: attrs.evolve(
            config,
            kind=SIM_KIND,
            options={},
            health_check=None,
            price=models[name].price if models[name].price is not None else config.price,
        )
        for name, config in workflow.agents.items()
    }
    steps = {}
    ctx = ExpressionContext(inputs=inputs, steps={})
    for step_id, step in workflow.steps.items():
        changes: dict[str, Any] = {"inputs": _sized_inputs(step_id, step.inputs, ctx, notes)}
        changes["cache"] = None
        condition = step.condition
        if condition is not None:
            if condition.step_refs:
                reads = ", ".join(sorted(condition.step_refs))
                notes.append(
                    f"step {step_id}: assumed when: {condition.source.strip()!r} is true "
                    f"(it reads the output of {reads})"
                )
                changes["condition"] = None
            else:
                try:
                    condition.evaluate(ctx)
                except ExpressionError as exc:
                    notes.append(
                        f"step {step_id}: assumed when: {condition.source.strip()!r} is true "
                        f"(cannot evaluate it: {exc})"
                    )
                    changes["condition"] = None
        if step.workflow is not None:
            child = step.workflow
            defaults = {name: spec.default for name, spec in child.inputs.items()}
            changes["workflow"], child_notes = simulated_workflow(child, models, defaults)
            notes.extend(f"sub-workflow {child.name} (step {step_id}): {n}" for n in child_notes)
        if step.validate:
            notes.append(f"step {step_id}: assumed its validators pass")
            changes["validate"] = ()
            changes["min_quality"] = None
        steps[step_id] = attrs.evolve(step, **changes)
    return attrs.evolve(workflow, agents=agents, steps=steps), notes


def _sized_inputs(
    step_id: str, template: ValueTemplate, ctx: ExpressionContext, notes: list[str]
) -> ValueTemplate:
    """A step's ``with:`` as a fixed value: rendered when it reads only inputs, else as written.

    Modelled agents only measure it (their input tokens, as a real run
    estimates them), so the text of an expression stands in for a step
    output it reads.
    """
    value = template.value
    if template.loop_refs and not template.step_refs:
        return template  # an item of a for_each step: rendered per item, as in a real run
    if not template.step_refs:
        try:
            value = template.render(ctx)
        except ExpressionError as exc:
            notes.append(f"step {step_id}: with: sized as written (cannot render it: {exc})")
    return ValueTemplate.static(value if isinstance(value, Mapping) else {})


def simulation_plugins(plugins: Plugins, models: Mapping[str, AgentModel], seed: str) -> Plugins:
    """``plugins``' routers, aggregators and fallbacks, with only the ``simulated`` agent kind.

    No ``cadenza_on_event`` observer is kept: a simulated run's events must
    not reach exporters or notifiers.
    """

    def factory(config: AgentConfig) -> ModelledAgent:
        return ModelledAgent(
            name=config.name,
            model=models[config.name],
            seed=seed,
            capabilities=config.capabilities,
        )

    registrations = dict(plugins.registrations)
    registrations["cadenza_agent_kinds"] = {
        SIM_KIND: Registration(
            hook="cadenza_agent_kinds", name=SIM_KIND, obj=factory, plugin="cadenza simulate"
        )
    }
    return Plugins(pm=new_plugin_manager(), registrations=registrations)
