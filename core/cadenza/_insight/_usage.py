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

from .._journal._run_shape import RunShape
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
    changes: dict[float, int] = dict.fromkeys((start for start, _ in intervals), 0)
    for start, end in intervals:
        changes[start] += 1
        changes[end] = changes.get(end, 0) - 1
    level, out = 0, [(0.0, 0)]
    for t in sorted(changes):
        level += changes[t]
        out.append((t, level))
    return out


def build_usage(
    events: Sequence[Mapping[str, Any]], *, workflow: Any = None, timeline: Timeline | None = None
) -> Usage:
    """Utilization and spend of one run, from its events in ``seq`` order.

    ``timeline``: the events' timeline when the caller has built it already.
    """
    timeline = build_timeline(events) if timeline is None else timeline
    fold = UsageFold()
    fold.feed(events)
    shape = None if workflow is None else RunShape.from_workflow(workflow)
    return fold.usage(timeline, shape)


class UsageFold:
    """What :func:`build_usage` reads from the events, kept up to date as they arrive.

    Spend, breaker and health changes are folded event by event (``feed`` the
    run's next events, in ``seq`` order); the calls come from the timeline,
    which the caller keeps up to date beside it (``_timeline.TimelineFold``).
    """

    def __init__(self) -> None:
        self._clock = _Clock()
        self._total = 0.0
        self.spend: list[tuple[float, float]] = []
        self.cost: dict[str, float] = {}
        self.changes: dict[str, list[tuple[float, str, str]]] = {}
        self._agents: dict[str, None] = {}
        """Agents named by these events, in the order they first were."""

    def feed(self, events: Sequence[Mapping[str, Any]]) -> None:
        for event in events:
            kind = event.get("kind")
            at = max(self._clock.at(kind, float(event.get("at", 0.0))), 0.0)
            if kind == "cost_incurred":
                usd = float(event.get("cost_usd") or 0.0)
                self._total += usd
                self.spend.append((at, round(self._total, 9)))
                name = self._agent(event)
                self.cost[name] = self.cost.get(name, 0.0) + usd
            elif kind == "circuit_changed":
                why = str(event.get("reason", ""))
                change = (at, str(event.get("state")), why)
                self.changes.setdefault(self._agent(event), []).append(change)
            elif kind == "agent_health_changed":
                what = "healthy" if event.get("healthy") else "unhealthy"
                self.changes.setdefault(self._agent(event), []).append((at, what, ""))

    def _agent(self, event: Mapping[str, Any]) -> str:
        name = str(event.get("agent", ""))
        self._agents.setdefault(name, None)
        return name

    def usage(self, timeline: Timeline, shape: RunShape | None = None) -> Usage:
        """The run's usage: calls from ``timeline``, limits and budgets from ``shape``."""
        usage = Usage(now=timeline.now, budgets=dict(shape.budgets) if shape else {})
        intervals: dict[str, list[tuple[float, float]]] = {}

        def agent(name: str) -> AgentUsage:
            if name not in usage.agents:
                limit = shape.limits.get(name) if shape is not None else None
                usage.agents[name] = AgentUsage(name=name, limit=limit)
            return usage.agents[name]

        now, failures = timeline.now, Counter[str]()
        for row in timeline.rows.values():  # 20,000 rows: plain loops, no call per bar
            for bar in row.bars:
                name = bar.agent
                if not name or (bar.kind != "attempt" and bar.kind != "hedge"):
                    continue
                spans = intervals.get(name)
                if spans is None:
                    spans = intervals[name] = []
                spans.append((bar.start, now if bar.end is None else bar.end))
                if bar.outcome == "failed":
                    failures[name] += 1
        for name, spans in intervals.items():
            a = agent(name)
            a.calls, a.failures, a.profile = len(spans), failures[name], _profile(spans)
        for name in self._agents:
            a = agent(name)
            a.cost_usd = self.cost.get(name, 0.0)
            a.changes = list(self.changes.get(name, ()))
        usage.spend = list(self.spend)
        return usage


__all__ = ["AgentUsage", "Usage", "UsageFold", "build_usage"]
