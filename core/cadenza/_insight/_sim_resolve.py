"""Every agent's simulation model, one parameter at a time: model file, journal, workflow."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from .._journal._store import Store
from .._spec._cost import Price
from .._spec._workflow import AgentConfig, Workflow
from ._sim_models import AGENT_KEYS, ESTIMATED, AgentModel, LatencyModel, LearnedAgent

LEARN_RUNS = 20
"""How many of the workflow's most recent journaled runs ``--learn`` reads."""


def learn_models(
    store: Store, workflow: Workflow, runs: int = LEARN_RUNS
) -> dict[str, LearnedAgent]:
    """Per agent, its calls in the workflow's last ``runs`` journaled runs (blocking).

    A call's latency runs from ``attempt_started`` to its ``step_succeeded``
    or ``attempt_failed``; usage is the mean of the successful calls' tokens.
    """
    latencies: dict[str, list[float]] = defaultdict(list)
    failures: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    tokens: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for record in store.list_runs(limit=runs, workflow=workflow.name):
        started: dict[tuple[str, int, str], float] = {}
        for event in store.read_events(record.run_id):
            kind = event.get("kind")
            agent = event.get("agent", "")
            if agent not in workflow.agents:
                continue
            key = (event.get("step_id", ""), event.get("attempt", 0), agent)
            if kind == "attempt_started":
                started[key] = float(event["at"])
            elif kind == "attempt_failed":
                calls[agent] += 1
                failures[agent] += 1
                duration = event.get("duration")
                if isinstance(duration, int | float) and duration >= 0:
                    latencies[agent].append(float(duration))
            elif kind == "step_succeeded" and key in started and not event.get("degraded"):
                calls[agent] += 1
                latencies[agent].append(max(0.0, float(event["at"]) - started[key]))
                tokens[agent].append(
                    (int(event.get("input_tokens", 0)), int(event.get("output_tokens", 0)))
                )
    out = {}
    for agent, n in calls.items():
        used = tokens.get(agent, [])
        out[agent] = LearnedAgent(
            latencies=tuple(latencies.get(agent, ())),
            calls=n,
            failures=failures[agent],
            input_tokens=round(statistics.fmean(u[0] for u in used)) if used else 0,
            output_tokens=round(statistics.fmean(u[1] for u in used)) if used else 0,
        )
    return out


def resolve_models(
    workflow: Workflow,
    *,
    model_file: Mapping[str, Mapping[str, Any]] | None = None,
    learned: Mapping[str, LearnedAgent] | None = None,
) -> tuple[dict[str, AgentModel], list[str]]:
    """Every agent's model, parameter by parameter, and notes about the inputs.

    Precedence per parameter: the agent's own entry in the model file, then
    what the journal shows of it, then the file's ``*`` entry, then what the
    workflow says: the agent's ``price:``, output tokens from its
    ``expected_output_tokens`` (256 without a price, as a real run reserves)
    and input tokens estimated per call from its inputs.
    """
    model_file = model_file or {}
    learned = learned or {}
    agents = all_agents(workflow)
    notes = [
        f"model file entry {name!r} matches no agent of the workflow (ignored)"
        for name in model_file
        if name != "*" and name not in agents
    ]
    star = model_file.get("*", {})
    models: dict[str, AgentModel] = {}
    for name, config in agents.items():
        own = model_file.get(name, {})
        seen = learned.get(name)
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        for key in AGENT_KEYS:
            if key in own:
                values[key], origins[key] = own[key], "model file"
                continue
            guess = _learned_value(seen, key)
            if guess is not None:
                assert seen is not None
                values[key], origins[key] = guess, f"learned from {seen.calls} calls"
            elif key in star:
                values[key], origins[key] = star[key], "model file (*)"
        # What the model does not say, the workflow does, as a real run estimates it.
        declared = config.price
        if "price" in values:
            values["price"] = _model_price(values["price"], declared)
        elif declared is not None:
            values["price"], origins["price"] = declared, "workflow"
        price = values.get("price")
        if "output_tokens" not in values:
            if price is not None:
                values["output_tokens"] = price.expected_output_tokens
                origins["output_tokens"] = f"expected_output_tokens of the {origins['price']} price"
            else:
                origins["output_tokens"] = "default"
        if "input_tokens" not in values:
            origins["input_tokens"] = ESTIMATED
        for key in ("latency", "failure_rate", "retry_after"):
            origins.setdefault(key, "default")
        models[name] = AgentModel(**values, origins=origins)
    return models, notes


def all_agents(workflow: Workflow) -> dict[str, AgentConfig]:
    """The workflow's agents and those of its sub-workflows, by name (the outermost wins)."""
    found: dict[str, AgentConfig] = {}
    stack = [workflow]
    while stack:
        current = stack.pop(0)
        for name, config in current.agents.items():
            found.setdefault(name, config)
        stack.extend(s.workflow for s in current.steps.values() if s.workflow is not None)
    return found


def _learned_value(seen: LearnedAgent | None, key: str) -> Any:
    if seen is None or not seen.calls:
        return None
    if key == "latency":
        if not seen.latencies:
            return None
        return LatencyModel(distribution="empirical", samples=seen.latencies)
    if key == "failure_rate":
        return min(seen.failures / seen.calls, 0.99)
    if key == "input_tokens" and seen.calls > seen.failures:
        return seen.input_tokens
    if key == "output_tokens" and seen.calls > seen.failures:
        return seen.output_tokens
    return None


def _model_price(fields: Mapping[str, Any], declared: Price | None) -> Price:
    """A model file's price: its fields replace the agent's ``price:``, except that the
    agent's ``expected_output_tokens`` (what its calls reserve) stays unless it is set."""
    expected = (
        declared.expected_output_tokens if declared is not None else Price().expected_output_tokens
    )
    return Price(**{"expected_output_tokens": expected, **fields})
