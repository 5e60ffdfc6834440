"""Agent utilization and cost over a run: calls in flight against ``max_concurrent``, spend
against each budget. A pure function of the run's events (plus the workflow, for limits and
budgets), shared by the dashboard and ``cadenza report --format html``.

Calls are the timeline's attempt bars (``_timeline``), so the two pictures
agree: a call is in flight from its ``attempt_started`` to the event that ends
it. Breaker changes come from ``circuit_changed``, health from
``agent_health_changed``; spend from ``cost_incurred`` (each call's settled
cost), added up in event order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._timeline import Timeline, _Clock, build_timeline


@attrs.define(kw_only=True)
class AgentUsage:
    """One agent: in-flight profile ``[(t, calls from t on)]``, its limit, calls, changes."""

    name: str
    limit: int | None = None
    calls: int = 0
    failures: int = 0
    profile: list[tuple[float, int]] = attrs.field(factory=list)
    changes: list[tuple[float, str, str]] = attrs.field(factory=list)
    """(t, what, why): breaker states (``open``, ``half_open``, ``closed``) and health."""
    cost_usd: float = 0.0

    @property
    def peak(self) -> int:
        return max((n for _, n in self.profile), default=0)


@attrs.define(kw_only=True)
class Usage:
    """Every agent's usage and the run's cumulative spend ``[(t, usd so far)]``."""

    now: float = 0.0
    agents: dict[str, AgentUsage] = attrs.field(factory=dict)
    spend: list[tuple[float, float]] = attrs.field(factory=list)
    budgets: dict[str, float] = attrs.field(factory=dict)
    """Budget lines in US dollars: ``run``, ``agent NAME``, ``step ID``."""

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _profile(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, int]]:
    changes: Counter[float] = Counter()
    for start, end in intervals:
        changes[start] += 1
        changes[end] -= 1
    level, out = 0, [(0.0, 0)]
    for t in sorted(changes):
        level += changes[t]
        out.append((t, level))
    return out


def _budgets(workflow: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    if workflow is None:
        return out
    if workflow.budget is not None and workflow.budget.usd is not None:
        out["run"] = float(workflow.budget.usd)
    for name, agent in workflow.agents.items():
        if agent.budget is not None and agent.budget.usd is not None:
            out[f"agent {name}"] = float(agent.budget.usd)
    for sid, step in workflow.steps.items():
        if step.budget is not None and step.budget.usd is not None:
            out[f"step {sid}"] = float(step.budget.usd)
    return out


def build_usage(
    events: Sequence[Mapping[str, Any]], *, workflow: Any = None, timeline: Timeline | None = None
) -> Usage:
    """Utilization and spend of one run, from its events in ``seq`` order.

    ``timeline``: the events' timeline when the caller has built it already.
    """
    timeline = build_timeline(events) if timeline is None else timeline
    usage = Usage(now=timeline.now, budgets=_budgets(workflow))
    intervals: dict[str, list[tuple[float, float]]] = {}

    def agent(name: str) -> AgentUsage:
        if name not in usage.agents:
            config = workflow.agents.get(name) if workflow is not None else None
            limit = config.max_concurrent if config is not None else None
            usage.agents[name] = AgentUsage(name=name, limit=limit)
        return usage.agents[name]

    for row in timeline.rows.values():
        for bar in row.bars:
            if bar.kind not in ("attempt", "hedge") or not bar.agent:
                continue
            a = agent(bar.agent)
            a.calls += 1
            a.failures += bar.outcome == "failed"
            end = timeline.now if bar.end is None else bar.end
            intervals.setdefault(bar.agent, []).append((bar.start, end))
    for name, spans in intervals.items():
        agent(name).profile = _profile(spans)
    clock, total = _Clock(), 0.0
    for event in events:
        kind = event.get("kind")
        at = max(clock.at(kind, float(event.get("at", 0.0))), 0.0)
        if kind == "cost_incurred":
            usd = float(event.get("cost_usd") or 0.0)
            total += usd
            usage.spend.append((at, round(total, 9)))
            agent(str(event.get("agent", ""))).cost_usd += usd
        elif kind == "circuit_changed":
            why = str(event.get("reason", ""))
            agent(str(event.get("agent", ""))).changes.append((at, str(event.get("state")), why))
        elif kind == "agent_health_changed":
            what = "healthy" if event.get("healthy") else "unhealthy"
            agent(str(event.get("agent", ""))).changes.append((at, what, ""))
    return usage


__all__ = ["AgentUsage", "Usage", "build_usage"]
