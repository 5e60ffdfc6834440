"""Loading what routing, aggregation, validation and budgets need from a workflow file.

Step keys ``route``, ``agents``, ``aggregate``, ``on_conflict``, ``judge``,
``validate``, ``min_quality`` and ``budget``; agent keys ``tags``,
``weight``, ``price`` and ``budget``; top-level ``route`` and ``budget``.
Strategy names are checked against the plugins' registrations, and each
strategy's factory is built once here so bad options are reported with
file:line when the file loads rather than when the step runs. A ``route:``
mapping's ``key:`` is no option: it is compiled here like a ``with:`` value,
and what it reads is checked against the inputs and the step's ``needs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._expr._expressions import ValueTemplate, compile_value
from .._paths import ValuePath, render_path
from .._plugins._checks import check_made
from .._plugins._registry import call_plugin
from .._spec._convert import describe_value, structure, suggest
from .._spec._cost import Budget, Price
from .._spec._workflow import AgentConfig, InputSpec, Step, StrategySpec
from .._strategies._builtin_names import ROUTERS as BUILTIN_ROUTERS
from ._context import LoadContext, listing

STEP_KEYS = (
    "route",
    "agents",
    "aggregate",
    "on_conflict",
    "judge",
    "validate",
    "min_quality",
    "budget",
)
AGENT_KEYS = ("tags", "weight", "price", "budget")

_HOOKS = {
    "route": ("cadenza_routers", "routing strategy", "docs/routing.md"),
    "aggregate": ("cadenza_aggregators", "aggregation strategy", "docs/aggregation.md"),
    "validate": ("cadenza_validators", "validator", "docs/validation.md"),
}


def strategy(
    ctx: LoadContext, value: Any, path: ValuePath, what: str, *, name_key: str = "strategy"
) -> StrategySpec | None:
    """``NAME`` or ``{<name_key>: NAME, ...options}``, checked against the registrations."""
    hook, noun, doc = _HOOKS[what]
    options: dict[str, Any] = {}
    name = value
    if isinstance(value, Mapping):
        options = {str(k): v for k, v in value.items() if k != name_key}
        name = value.get(name_key)
    route_key: ValueTemplate | None = None
    if what == "route" and "key" in options:
        route_key = _route_key(ctx, options.pop("key"), (*path, "key"))
        if isinstance(name, str) and _ignores_key(name, options):
            ctx.warn(
                (*path, "key"),
                f"the {name} strategy does not route on key:, so the key changes nothing",
                "Use strategy: consistent_hash to send equal keys to the same agent, "
                "or remove key: (see docs/routing.md#routing-on-a-key).",
            )
    if not isinstance(name, str):
        ctx.error(
            path,
            f"a {noun} must be a name or {{{name_key}: NAME, ...options}}, "
            f"got {describe_value(value)}",
            f"See {doc} for the built-ins and their options.",
        )
        return None
    registered = ctx.plugins.registered(hook)
    reg = registered.get(name)
    if reg is None:
        known = sorted(registered)
        hint = suggest(name, known) + f"Known: {', '.join(known) or 'none'} (see {doc})."
        if missing := ctx.plugins.not_loaded(hook, name):
            hint += " " + missing
        ctx.error(path, f"unknown {noun} {name!r}", hint)
        return None
    try:
        made = call_plugin(reg.obj, options)  # factories check their options when built; no I/O
    except (ValueError, TypeError) as exc:
        ctx.error(path, f"{noun} {name!r}: {exc}", f"Fix the options (see {doc}).")
        return None
    if problem := check_made(made, hook=hook, name=name, plugin=reg.plugin, factory=reg.obj):
        ctx.error(
            path,
            f"{noun} {name!r} cannot be used: {problem}",
            f"This is a bug in {reg.plugin}: report it to its author, or use another {noun}.",
        )
        return None
    return StrategySpec(name=name, options=options, route_key=route_key)


def _ignores_key(name: str, options: Mapping[str, Any]) -> bool:
    """Whether ``name`` is a built-in strategy known to ignore ``RouteRequest.key``."""
    if name == "budget_aware":
        prefer = options.get("prefer", "least_busy")
        inner = prefer.get("strategy") if isinstance(prefer, Mapping) else prefer
        return inner != "consistent_hash"
    return name in BUILTIN_ROUTERS and name != "consistent_hash"


def _route_key(ctx: LoadContext, value: Any, path: ValuePath) -> ValueTemplate | None:
    """``route: {key: "${{ inputs.customer }}"}``: compiled, not yet checked against the file."""
    if not isinstance(value, str):
        ctx.error(
            path,
            f"key must be a string, got {describe_value(value)}",
            'Write key: "${{ inputs.customer }}" (rendered for each step, see '
            "docs/routing.md#routing-on-a-key).",
        )
        return None
    template, issues = compile_value(value, path=render_path(path))
    for issue in issues:
        ctx.error(path, issue.message, issue.hint)
    return None if issues else template


def budget(ctx: LoadContext, value: Any, path: ValuePath) -> Budget | None:
    """``budget: {usd: 1.50, tokens: 100000}``."""
    found: Budget | None = _structured(
        ctx, value, path, Budget, "budget: {usd: 2.50, tokens: 200000}"
    )
    return found


def agent_extras(ctx: LoadContext, spec: Mapping[Any, Any], path: ValuePath) -> dict[str, Any]:
    """An agent's ``tags``, ``weight``, ``price`` and ``budget`` as AgentConfig fields."""
    extras: dict[str, Any] = {}
    if spec.get("tags") is not None:
        extras["tags"] = frozenset(t for t, _ in ctx.names(spec["tags"], (*path, "tags"), "tags"))
    if spec.get("weight") is not None:
        weight = spec["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            ctx.error(
                (*path, "weight"),
                f"weight must be a number >= 0, got {describe_value(weight)}",
                "weight is this agent's share in weighted routing and votes; 1 is the default.",
            )
        else:
            extras["weight"] = float(weight)
    if spec.get("price") is not None:
        extras["price"] = _structured(
            ctx,
            spec["price"],
            (*path, "price"),
            Price,
            "price: {input_per_1k: 0.003, output_per_1k: 0.015} or price: {per_call: 0.01}",
        )
    if spec.get("budget") is not None:
        extras["budget"] = budget(ctx, spec["budget"], (*path, "budget"))
    return extras


def workflow_extras(ctx: LoadContext, data: Mapping[Any, Any]) -> dict[str, Any]:
    """The top-level ``route`` and ``budget`` as Workflow fields."""
    extras: dict[str, Any] = {}
    if data.get("route") is not None:
        spec = strategy(ctx, data["route"], ("route",), "route")
        if spec is not None:
            extras["route"] = spec
    if data.get("budget") is not None:
        extras["budget"] = budget(ctx, data["budget"], ("budget",))
    return extras


def apply_step_extras(
    ctx: LoadContext,
    steps: dict[str, Step],
    raw: Mapping[str, Mapping[Any, Any]],
    agents: Mapping[str, AgentConfig],
    default_route: StrategySpec | None = None,
    inputs: Mapping[str, InputSpec] | None = None,
) -> None:
    """Read each step's routing, aggregation, validation and budget keys into its Step.

    ``inputs`` are the workflow's declared inputs, which a route's ``key:`` may read.
    """
    seen: set[tuple[Any, ...]] = set()  # the workflow's route is checked once per finding
    declared = inputs or {}
    if default_route is not None and default_route.route_key is not None:
        _check_key_refs(ctx, default_route.route_key, ("route", "key"), None, declared, steps)
    for step_id, step in list(steps.items()):
        path: ValuePath = ("steps", step_id)
        spec = raw.get(step_id, {})
        changes = _step_changes(ctx, step, spec, path, agents)
        if changes:
            steps[step_id] = step = attrs.evolve(step, **changes)
        if step.route is not None and step.route.route_key is not None:
            key = step.route.route_key
            _check_key_refs(ctx, key, (*path, "route", "key"), step, declared, steps)
        route = step.route or default_route
        if route is not None:
            where = (*path, "route") if step.route is not None else ("route",)
            _check_route(ctx, route, where, step, agents, seen)


def _check_key_refs(
    ctx: LoadContext,
    key: ValueTemplate,
    path: ValuePath,
    step: Step | None,
    inputs: Mapping[str, InputSpec],
    steps: Mapping[str, Step],
) -> None:
    """A route key reads declared inputs, and (on a step's route) only steps it needs.

    ``step`` is None for the workflow's ``route:``, which serves every step, so
    it can read no step's output.
    """
    for ref in sorted(key.input_refs):
        if ref not in inputs:
            known = list(inputs)
            hint = suggest(ref, known) + (
                f"Known inputs: {listing(known)}; declare new ones under inputs:."
                if known
                else "Declare it under inputs: at the top of the file."
            )
            ctx.error(path, f"route key refers to unknown input {ref!r}", hint)
    if key.loop_refs and (step is None or step.for_each is None):
        names = " and ".join(sorted(key.loop_refs))
        ctx.error(
            path,
            f"route key reads {names}, which exist only in a step with for_each:",
            "Key on an input or a needed step's output, or set the key on the route: of "
            "the for_each step.",
        )
    for ref in sorted(key.step_refs):
        if step is None:
            ctx.error(
                path,
                f"the workflow's route key reads step {ref!r}, but it serves every step, "
                f"{ref!r} included",
                "Read only inputs here, or set the key on the route: of the steps that "
                f"need {ref} (route: {{strategy: consistent_hash, key: ...}}).",
            )
        elif ref not in steps:
            hint = suggest(ref, steps) + f"Known steps: {listing(steps)}."
            ctx.error(path, f"route key refers to unknown step {ref!r}", hint)
        elif ref == step.id:
            ctx.error(
                path,
                f"step {step.id!r} refers to its own output in its route key",
                "A route key can only read the outputs of steps the step needs.",
            )
        elif ref not in step.needs:
            ctx.error(
                path,
                f"route key reads the output of step {ref!r}, which step {step.id!r} does not need",
                f"Add {ref} to needs, so it finishes first: "
                f"needs: [{', '.join([*step.needs, ref])}].",
            )


def _check_route(
    ctx: LoadContext,
    route: StrategySpec,
    path: ValuePath,
    step: Step,
    agents: Mapping[str, AgentConfig],
    seen: set[tuple[Any, ...]],
) -> None:
    """What a router's factory cannot see: agent names in its options, missing prices."""
    weights = route.options.get("weights")
    if isinstance(weights, Mapping):
        for name in weights:
            if name not in agents and (path, name) not in seen:
                seen.add((path, name))
                ctx.error(
                    (*path, "weights", name),
                    f"weights names {name!r}, which is not an agent",
                    suggest(str(name), agents) + f"Agents: {', '.join(agents) or 'none'}.",
                    key=True,
                )
    if route.name in ("cheapest", "budget_aware"):
        serving = [n for n, a in agents.items() if n == step.uses or step.uses in a.capabilities]
        unpriced = [n for n in serving if agents[n].price is None]
        if len(serving) > 1 and unpriced and (path, *unpriced) not in seen:
            seen.add((path, *unpriced))
            ctx.warn(
                path,
                f"step {step.id!r} routes by {route.name}, but {', '.join(unpriced)} "
                f"{'has' if len(unpriced) == 1 else 'have'} no price: "
                f"{'it counts' if len(unpriced) == 1 else 'they count'} as free and will win",
                "Give every agent serving the step a price: {input_per_1k: ..., "
                "output_per_1k: ...} (see docs/budgets.md).",
            )


def _step_changes(
    ctx: LoadContext,
    step: Step,
    spec: Mapping[Any, Any],
    path: ValuePath,
    agents: Mapping[str, AgentConfig],
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if spec.get("route") is not None:
        changes["route"] = strategy(ctx, spec["route"], (*path, "route"), "route")
    serving = [n for n, a in agents.items() if n == step.uses or step.uses in a.capabilities]
    if spec.get("agents") is not None:
        changes["fan_out"] = _fan_out(ctx, spec["agents"], (*path, "agents"), step, serving, agents)
    if spec.get("aggregate") is not None:
        if spec.get("agents") is None:
            ctx.error(
                (*path, "aggregate"),
                "aggregate combines the answers of several agents, but this step asks one",
                "Add agents: 3 (or a list of agent names) to the step, or remove aggregate.",
            )
        agg = strategy(ctx, spec["aggregate"], (*path, "aggregate"), "aggregate")
        if agg is not None:
            changes["aggregate"] = agg
    on_conflict = spec.get("on_conflict")
    if on_conflict is not None:
        if on_conflict not in ("fail", "best", "judge"):
            ctx.error(
                (*path, "on_conflict"),
                f"on_conflict must be fail, best or judge, got {describe_value(on_conflict)}",
                "fail fails the step, best takes the best-scored answer, judge asks the "
                "agent named in judge:.",
            )
        else:
            changes["on_conflict"] = on_conflict
    judge = spec.get("judge")
    if judge is not None:
        if not isinstance(judge, str) or judge not in agents:
            ctx.error(
                (*path, "judge"),
                f"judge must name an agent, got {describe_value(judge)}",
                suggest(str(judge), agents) + f"Agents: {', '.join(agents) or 'none'}.",
            )
        else:
            changes["judge"] = judge
    if on_conflict == "judge" and judge is None:
        ctx.error(
            (*path, "on_conflict"),
            "on_conflict: judge needs judge: <agent name>",
            "Add judge: reviewer (an agent that receives the request and every answer).",
        )
    if spec.get("validate") is not None:
        items = spec["validate"]
        if not isinstance(items, list):
            items = [items]
        specs = []
        for i, item in enumerate(items):
            v = strategy(ctx, item, (*path, "validate", i), "validate", name_key="validator")
            if v is not None:
                specs.append(v)
        changes["validate"] = tuple(specs)
    if spec.get("min_quality") is not None:
        value = spec["min_quality"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            ctx.error(
                (*path, "min_quality"),
                f"min_quality must be a number from 0 to 1, got {describe_value(value)}",
                "It is the lowest validator score an output may have; 1 requires every "
                "validator to pass fully.",
            )
        else:
            changes["min_quality"] = float(value)
            if spec.get("validate") is None:
                ctx.error(
                    (*path, "min_quality"),
                    "min_quality needs validators to score the output",
                    "Add validate: [json_schema, ...] (see docs/validation.md).",
                )
    if spec.get("budget") is not None:
        changes["budget"] = budget(ctx, spec["budget"], (*path, "budget"))
    return {k: v for k, v in changes.items() if v is not None}


def _fan_out(
    ctx: LoadContext,
    value: Any,
    path: ValuePath,
    step: Step,
    serving: list[str],
    agents: Mapping[str, AgentConfig],
) -> int | tuple[str, ...] | None:
    """``agents: N`` (distinct agents serving ``uses``) or ``agents: [a, b]``."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            ctx.error(path, f"agents must be at least 1, got {value}", "Use agents: 2 or more.")
            return None
        if serving and value > len(serving):
            ctx.error(
                path,
                f"agents: {value} asks for {value} distinct agents, but only "
                f"{len(serving)} serve {step.uses!r} ({', '.join(serving)})",
                f"Lower it to {len(serving)} or add agents with capabilities: [{step.uses}].",
            )
            return None
        return value if value > 1 else None
    if isinstance(value, list):
        names = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or item not in agents:
                shown = repr(item) if isinstance(item, str) else describe_value(item)
                ctx.error(
                    (*path, i),
                    f"unknown agent {shown}",
                    suggest(str(item), agents) + f"Agents: {', '.join(agents) or 'none'}.",
                )
                continue
            if item in names:
                ctx.error((*path, i), f"agent {item!r} is listed twice", "List each agent once.")
                continue
            names.append(item)
        if len(names) == len(value) and names:
            return tuple(names)
        return None
    ctx.error(
        path,
        f"agents must be a number or a list of agent names, got {describe_value(value)}",
        "Write agents: 3 (the router picks three) or agents: [fast, careful].",
    )
    return None


def _structured(ctx: LoadContext, value: Any, path: ValuePath, cls: type[Any], example: str) -> Any:
    if not isinstance(value, Mapping):
        ctx.error(path, f"expected a mapping, got {describe_value(value)}", f"Write {example}.")
        return None
    obj, issues = structure(value, cls)
    for issue in issues:
        ctx.error(path + issue.path, issue.message, issue.hint, key=issue.at_key)
    return obj
