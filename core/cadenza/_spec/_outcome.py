"""What a run produced: per-step outcomes and the run's status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .._events import RunStatus

StepStatus = Literal["succeeded", "failed", "skipped", "cancelled"]


@attrs.frozen(kw_only=True)
class StepOutcome:
    """How one step ended: ``output`` when it succeeded, else ``error`` or ``reason``.

    A degraded success has ``reason`` too: the failure that sent it to its
    fallback.

    ``source`` says where a degraded or combined output came from; ``cost_usd``
    and ``tokens`` are the settled totals of every call the step made;
    ``provenance`` (multi-agent steps) records each agent's answer, weight,
    quality and whether it backs the output.

    ``items`` (``for_each`` steps) holds each item's own outcome, in item
    order (``build[0]``, ``build[1]``, ...); the step's ``cost_usd``,
    ``tokens`` and ``attempts`` are their totals.
    """

    step_id: str
    status: StepStatus
    output: Any = None
    attempts: int = 0
    agent: str | None = None
    error: str | None = None
    reason: str | None = None
    degraded: bool = False
    source: str = ""
    duration: float | None = None
    cost_usd: float = 0.0
    tokens: int = 0
    provenance: Mapping[str, Any] | None = None
    items: tuple[StepOutcome, ...] = ()


@attrs.frozen(kw_only=True)
class RunResult:
    """The outcome of :func:`cadenza.run_workflow`."""

    run_id: str
    workflow: str
    status: RunStatus
    steps: Mapping[str, StepOutcome]
    duration: float
    reason: str = ""
    agents: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    """Per agent, passive health from this run's traffic: ``calls``, ``failures``,
    ``latency`` (smoothed seconds, or None), ``quality`` (smoothed validator
    score, or None) and ``breaker`` state (or None)."""
    output_dir: str | None = None
    """The run's output folder (agents write files in its per-step subfolders), if any."""
    cost: Mapping[str, Any] = attrs.field(factory=dict)
    """What the run spent: ``usd``, ``tokens``, and ``budgets`` (label to limits and spend)."""

    @property
    def cost_usd(self) -> float:
        return float(self.cost.get("usd", 0.0))

    @property
    def counts(self) -> dict[str, int]:
        counts = {"succeeded": 0, "failed": 0, "skipped": 0, "cancelled": 0}
        for outcome in self.steps.values():
            counts[outcome.status] += 1
        return counts

    @property
    def degraded(self) -> list[str]:
        return [s.step_id for s in self.steps.values() if s.degraded]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (what ``cadenza run --json`` prints)."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "reason": self.reason,
            "duration": round(self.duration, 6),
            "counts": self.counts,
            "degraded": self.degraded,
            "agents": {name: dict(stats) for name, stats in self.agents.items()},
            "cost": dict(self.cost),
            "output_dir": self.output_dir,
            "steps": {
                sid: attrs.asdict(o, filter=lambda a, v: a.name != "step_id")
                for sid, o in self.steps.items()
            },
        }
