"""``cadenza simulate``: predict a run's makespan, cost and critical path without running it.

The real scheduler (``run_workflow``) runs the workflow on trio's virtual
clock (``trio.testing.MockClock`` with ``autojump_threshold=0``), with every
agent replaced by a :class:`~._sim_agent.ModelledAgent` that sleeps a latency drawn from a
distribution, fails at a modelled rate and reports modelled token usage. So
limits, priorities, retries with backoff, breakers, budgets, deadlines,
routing and fan-out are the real ones; only the agents are assumed.

Agent models come from a model file (:func:`~._sim_model_file.parse_model_file`),
from the journal of past runs (:func:`~._sim_resolve.learn_models`) or from defaults: 1s fixed
latency, no failures, and the usage a real run estimates before each call
(input tokens from the call's ``with:``, output tokens from the agent's
``price.expected_output_tokens``), priced at the agent's ``price:``. So
without a model the predicted cost is what the run's budgets would reserve.
:func:`simulate` records where every parameter came from in
:attr:`SimulationReport.assumptions`.

This module runs the repetitions and reports; its parts sit beside it:
``_sim_models`` (what is assumed about an agent), ``_sim_model_file``
(reading a model file), ``_sim_resolve`` (learning from the journal and
choosing each parameter's value) and ``_sim_agent`` (the modelled agent and
the simulated workflow).
"""

from __future__ import annotations

import functools
import math
import random
import statistics
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import trio
import trio.testing

from .. import _events as ev
from .._plugins._registry import Plugins
from .._scheduler._runner import run_workflow
from .._spec._workflow import Workflow
from ._sim_agent import simulated_workflow, simulation_plugins
from ._sim_models import AgentModel, model_notes, secs


@attrs.frozen(kw_only=True)
class StepTiming:
    """When a step started and ended on the virtual clock (mean over the repetitions)."""

    start: float | None
    end: float | None
    attempts: float
    status: str
    """The most common way it ended."""


@attrs.frozen(kw_only=True)
class PathStep:
    """One step of the critical path and the time it waited after its last need ended."""

    step_id: str
    start: float
    end: float
    waited: float


@attrs.frozen(kw_only=True)
class SimulationReport:
    """What :func:`simulate` predicts, and everything it assumed to predict it."""

    workflow: str
    runs: int
    seed: int
    makespans: tuple[float, ...]
    costs: tuple[float, ...]
    tokens: tuple[int, ...]
    statuses: Mapping[str, int]
    steps: Mapping[str, StepTiming]
    critical_path: tuple[PathStep, ...]
    models: Mapping[str, AgentModel]
    assumptions: tuple[str, ...]
    wall_time: float

    @property
    def makespan(self) -> dict[str, float]:
        return _stats(self.makespans)

    @property
    def cost_usd(self) -> dict[str, float]:
        return _stats(self.costs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``cadenza simulate --json`` prints)."""
        return {
            "workflow": self.workflow,
            "runs": self.runs,
            "seed": self.seed,
            "makespan": {k: round(v, 6) for k, v in self.makespan.items()},
            "cost_usd": {k: round(v, 6) for k, v in self.cost_usd.items()},
            "tokens": {k: round(v, 1) for k, v in _stats([float(t) for t in self.tokens]).items()},
            "run_statuses": dict(self.statuses),
            "critical_path": [attrs.asdict(p) for p in self.critical_path],
            "steps": {sid: attrs.asdict(t) for sid, t in self.steps.items()},
            "agents": {
                name: {
                    "latency": m.latency.describe(),
                    "failure_rate": m.failure_rate,
                    "retry_after": m.retry_after,
                    "input_tokens": m.input_tokens,
                    "output_tokens": m.output_tokens,
                    "price": None if m.price is None else attrs.asdict(m.price),
                    "origins": dict(m.origins),
                }
                for name, m in self.models.items()
            },
            "assumptions": list(self.assumptions),
            "wall_time": round(self.wall_time, 4),
        }


def _stats(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"min": 0.0, "median": 0.0, "mean": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "min": ordered[0],
        "median": statistics.median(ordered),
        "mean": statistics.fmean(ordered),
        "p95": p95,
        "max": ordered[-1],
    }


@attrs.define
class _Trace:
    """One repetition's step times on the virtual clock, collected by an observer."""

    start: dict[str, float] = attrs.field(factory=dict)
    end: dict[str, float] = attrs.field(factory=dict)
    status: dict[str, str] = attrs.field(factory=dict)
    attempts: Counter[str] = attrs.field(factory=Counter)

    def observe(self, event: ev.Event) -> None:
        step_id = getattr(event, "step_id", None)
        if step_id is None:
            return
        now = trio.current_time()
        if isinstance(event, ev.AttemptStarted):
            self.start.setdefault(step_id, now)
            self.attempts[step_id] += 1
        elif isinstance(event, ev.StepSucceeded):
            self.end[step_id], self.status[step_id] = now, "succeeded"
        elif isinstance(event, ev.StepFailed):
            self.end[step_id], self.status[step_id] = now, "failed"
        elif isinstance(event, ev.StepSkipped):
            self.end[step_id], self.status[step_id] = now, "skipped"
        elif isinstance(event, ev.StepCancelled):
            self.end[step_id], self.status[step_id] = now, "cancelled"


def simulate(
    workflow: Workflow,
    *,
    plugins: Plugins,
    models: Mapping[str, AgentModel],
    inputs: Mapping[str, Any] | None = None,
    runs: int | None = None,
    seed: int = 0,
    notes: Sequence[str] = (),
) -> SimulationReport:
    """Run ``workflow`` ``runs`` times on the virtual clock with modelled agents.

    ``runs`` defaults to 1 when every model is deterministic (fixed latency,
    no failures), else 20. Blocking: call it outside trio (each repetition is
    its own ``trio.run`` with a ``MockClock``). Never calls a real agent.
    """
    began = time.perf_counter()
    inputs = dict(inputs or {})
    sim, assumed = simulated_workflow(workflow, models, inputs)
    if runs is None:
        runs = 1 if all(m.is_deterministic for m in models.values()) else 20
    traces: list[_Trace] = []
    makespans: list[float] = []
    costs: list[float] = []
    tokens: list[int] = []
    statuses: Counter[str] = Counter()
    for rep in range(runs):
        trace = _Trace()
        sim_plugins = simulation_plugins(plugins, models, seed=f"{seed}:{rep}")

        result = trio.run(
            functools.partial(
                run_workflow,
                sim,
                plugins=sim_plugins,
                inputs=inputs,
                run_id=f"simulated-{rep}",
                observers=[trace.observe],
                rng=random.Random(f"{seed}:{rep}:retries"),
                use_cache=False,
            ),
            clock=trio.testing.MockClock(autojump_threshold=0),
        )
        traces.append(trace)
        makespans.append(result.duration)
        costs.append(result.cost_usd)
        tokens.append(int(result.cost.get("tokens", 0) or 0))
        statuses[result.status] += 1
    steps = _timings(sim, traces)
    median_rep = sorted(range(runs), key=lambda i: makespans[i])[(runs - 1) // 2]
    return SimulationReport(
        workflow=workflow.name,
        runs=runs,
        seed=seed,
        makespans=tuple(makespans),
        costs=tuple(costs),
        tokens=tuple(tokens),
        statuses=dict(statuses),
        steps=steps,
        critical_path=critical_path(sim, traces[median_rep]) if traces else (),
        models=dict(models),
        assumptions=tuple(model_notes(models)) + tuple(notes) + tuple(assumed),
        wall_time=time.perf_counter() - began,
    )


def _timings(workflow: Workflow, traces: Sequence[_Trace]) -> dict[str, StepTiming]:
    out = {}
    for step_id in workflow.steps:
        starts = [t.start[step_id] for t in traces if step_id in t.start]
        ends = [t.end[step_id] for t in traces if step_id in t.end]
        ended = Counter(t.status.get(step_id, "unfinished") for t in traces)
        out[step_id] = StepTiming(
            start=statistics.fmean(starts) if starts else None,
            end=statistics.fmean(ends) if ends else None,
            attempts=statistics.fmean(t.attempts[step_id] for t in traces) if traces else 0.0,
            status=ended.most_common(1)[0][0] if ended else "unfinished",
        )
    return out


def critical_path(workflow: Workflow, trace: _Trace) -> tuple[PathStep, ...]:
    """The chain through ``needs`` that ended last: from the last step back to a root.

    Each step's predecessor is its need that ended latest; ``waited`` is the
    time between that end and the step's start (queued for capacity, or
    backing off before a retry).
    """
    ran = [s for s in workflow.steps if s in trace.start and s in trace.end]
    if not ran:
        return ()
    current: str | None = max(ran, key=lambda s: (trace.end[s], -list(workflow.steps).index(s)))
    path: list[PathStep] = []
    while current is not None:
        needs = [n for n in workflow.steps[current].needs if n in trace.end]
        previous = max(needs, key=lambda n: trace.end[n]) if needs else None
        ready = trace.end[previous] if previous is not None else 0.0
        start = trace.start.get(current, trace.end[current])
        path.append(
            PathStep(
                step_id=current,
                start=start,
                end=trace.end[current],
                waited=max(0.0, start - ready),
            )
        )
        current = previous if previous is not None and previous in trace.start else None
    return tuple(reversed(path))


def render_report(report: SimulationReport) -> str:
    """The text ``cadenza simulate`` prints."""
    m, c = report.makespan, report.cost_usd
    lines = [f"simulated workflow {report.workflow}: {report.runs} run(s), seed {report.seed}"]
    if report.runs == 1:
        lines.append(f"  makespan  {secs(m['median'])} ({m['median']:.3f}s)")
        lines.append(f"  cost      ${c['median']:.4f}")
    else:
        lines.append(
            f"  makespan  median {secs(m['median'])}, mean {secs(m['mean'])}, "
            f"min {secs(m['min'])}, p95 {secs(m['p95'])}"
        )
        lines.append(f"  cost      median ${c['median']:.4f}, p95 ${c['p95']:.4f}")
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(report.statuses.items()))
    lines.append(f"  runs      {statuses}")
    lines.append("critical path (the median run):")
    for p in report.critical_path:
        wait = f"  (waited {secs(p.waited)})" if p.waited > 1e-9 else ""
        lines.append(f"  {p.step_id:<24} {p.start:>10.2f}s → {p.end:>10.2f}s{wait}")
    lines.append("assumptions:")
    lines.extend(f"  - {note}" for note in report.assumptions)
    lines.append(f"simulated in {report.wall_time:.3f}s of wall time")
    return "\n".join(lines)
