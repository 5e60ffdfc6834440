"""``cadenza report``: where a finished run spent its time and money, and what to change.

Everything here is a pure function of the run's journaled events (plus, when
its stored source still loads, the workflow: step ``needs`` and agent limits).
Times on the timeline are event ``at`` stamps, as offsets from ``run_started``;
attempt run times, queue waits and backoffs are the durations the events carry.

A resumed run is one timeline of its sessions: the time between the last
event of one session and the ``run_resumed`` of the next is a *pause*, cut
out of the timeline (and listed) rather than counted as running or waiting.
An attempt still in flight when a session stopped (cancelled, or its process
gone) is a *cancelled attempt*; attempt numbers start again in each session,
so a step's attempts are added up over them.

Recommendations come from fixed thresholds (the constants below, documented in
docs/report.md); every number in a recommendation's message is in its
``evidence`` and comes from the events.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._spec._workflow import AgentConfig, Workflow
from ._report_items import fold_items

BUCKETS = 20
"""Equal slices of the run for per-agent utilization over time."""

SATURATED_AT_LIMIT = 0.60
"""An agent in flight at its limit for more than this share of the run is saturated..."""
SATURATED_MIN_WAIT = 0.05
"""...when steps also waited on it, in total, at least this share of the run's duration."""
CRITICAL_WAIT_SHARE = 0.25
"""A critical-path step whose queue wait is more than this share of its time (ready to end)..."""
CRITICAL_MIN_WAIT = 0.01
"""...and at least this share of the run's duration, is reported."""
RETRY_FAILED_SHARE = 0.30
"""A retry storm: at least this share of all attempts failed..."""
RETRY_AGENT_SHARE = 0.60
"""...at least this share of the failures were on one agent..."""
RETRY_MIN_FAILURES = 3
"""...and at least this many attempts failed."""

NOTICEABLE_WAIT = 0.001
"""Queue waits shorter than this (seconds) are bookkeeping, not waiting: not counted or listed."""

SEVERITIES = ("high", "medium", "info")
"""Recommendations are listed most severe first."""

_BUDGET_LABEL = re.compile(r"((?:run|step '[^']*'|agent '[^']*') budget(?: of [^,;()]*)?)")


def _secs(seconds: float) -> str:
    return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


@attrs.define(kw_only=True)
class StepReport:
    """One step's timing: offsets are seconds since the run started (None: never happened)."""

    step_id: str
    state: str = "pending"
    agents: list[str] = attrs.field(factory=list)
    attempts: int = 0
    failed_attempts: int = 0
    ready_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    queue_wait: float = 0.0
    run_time: float = 0.0
    backoff: float = 0.0
    cost_usd: float = 0.0
    tokens: int = 0
    degraded: bool = False
    degraded_source: str = ""
    error_type: str | None = None
    waited_for: str | None = None
    """The agent of the attempt that waited longest to start."""
    cancelled_attempts: int = 0
    """Attempts cut off in flight when the run stopped (Ctrl-C, cancel, a crash)."""
    items: int | None = None
    """A ``for_each`` step's item count (its items are folded in, see ``_report_items``)."""
    item_counts: dict[str, int] | None = None
    """Its items by how they ended: succeeded, failed, skipped, cancelled, unfinished."""
    failed_items: list[str] = attrs.field(factory=list)
    _longest_wait: float = 0.0
    _attempt_base: int = 0
    """Attempts made in the sessions before the current one."""

    @property
    def retries(self) -> int:
        """Attempts after a failed one (re-running a cancelled attempt is no retry)."""
        return max(self.attempts - 1 - self.cancelled_attempts, 0)

    @property
    def total(self) -> float | None:
        """Ready (or first start) to end."""
        first = self.ready_at if self.ready_at is not None else self.started_at
        if first is None or self.ended_at is None:
            return None
        return self.ended_at - first

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, filter=lambda a, _: not a.name.startswith("_"))
        data["retries"] = self.retries
        data["total"] = self.total
        return data


@attrs.define(kw_only=True)
class AgentReport:
    """One agent's load: calls, failures, busy time and in-flight calls over the run."""

    name: str
    limit: int | None = None
    """Its ``max_concurrent``; None when unknown or unlimited (``peak`` stands in)."""
    calls: int = 0
    failures: int = 0
    error_types: dict[str, int] = attrs.field(factory=dict)
    busy_time: float = 0.0
    peak: int = 0
    at_limit: float = 0.0
    """Share of the run with calls in flight at ``limit`` (or at ``peak`` when no limit)."""
    utilization: list[float] = attrs.field(factory=list)
    """Per slice of the run: mean calls in flight divided by ``limit`` (or ``peak``)."""
    waited: float = 0.0
    """Queue wait of the attempts it served, summed."""
    attempts_waited: int = 0
    cost_usd: float = 0.0
    tokens: int = 0
    capabilities: list[str] = attrs.field(factory=list)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class Pause:
    """A gap between two sessions of a resumed run: ``at`` is where it falls on the
    timeline (seconds of run time before it), ``seconds`` how long it lasted."""

    at: float
    seconds: float


@attrs.frozen(kw_only=True)
class PathEntry:
    """A step on the critical path."""

    step_id: str
    agent: str | None
    ready_at: float | None
    ended_at: float
    queue_wait: float
    backoff: float
    run_time: float


@attrs.frozen(kw_only=True)
class Recommendation:
    """Something to change, why (``message``), and the numbers behind it (``evidence``)."""

    kind: str
    severity: str
    message: str
    evidence: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Report:
    """Everything ``cadenza report`` shows for one run."""

    run_id: str
    workflow: str
    status: str
    duration: float
    cost_usd: float
    tokens: int
    steps: Mapping[str, StepReport]
    agents: Mapping[str, AgentReport]
    critical_path: tuple[PathEntry, ...]
    critical_path_source: str
    """``needs`` (from the workflow) or ``timing`` (inferred: the source did not load)."""
    recommendations: tuple[Recommendation, ...]
    buckets: int = BUCKETS
    pauses: tuple[Pause, ...] = ()
    """Gaps between sessions, cut out of ``duration`` and the timeline."""

    @property
    def sessions(self) -> int:
        """The run's parts: its start and each resume after a pause."""
        return len(self.pauses) + 1

    @property
    def paused(self) -> float:
        return sum(p.seconds for p in self.pauses)

    @property
    def cancelled_attempts(self) -> int:
        return sum(s.cancelled_attempts for s in self.steps.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "duration": round(self.duration, 6),
            "sessions": self.sessions,
            "paused": round(self.paused, 6),
            "pauses": [{"at": round(p.at, 6), "seconds": round(p.seconds, 6)} for p in self.pauses],
            "cancelled_attempts": self.cancelled_attempts,
            "cost_usd": round(self.cost_usd, 6),
            "tokens": self.tokens,
            "critical_path_source": self.critical_path_source,
            "critical_path": [attrs.asdict(e) for e in self.critical_path],
            "steps": {k: s.to_dict() for k, s in self.steps.items()},
            "agents": {k: a.to_dict() for k, a in self.agents.items()},
            "buckets": self.buckets,
            "recommendations": [attrs.asdict(r) for r in self.recommendations],
        }


# -- loading the workflow back -------------------------------------------------------


def workflow_from_source(
    text: str | None, *, plugins: Any, workflow: str | None = None, filename: str = ""
) -> tuple[Workflow | None, str]:
    """The workflow a run started from, loaded from its stored text, or None and why not."""
    from .._load._loader import load_workflow_text

    if not text:
        return None, "the journal has no workflow source for this run"
    base = Path(filename).parent if filename else None
    try:
        loaded = load_workflow_text(
            text,
            plugins=plugins,
            filename=filename or "<journal>",
            base_dir=base if base is not None and base.is_dir() else None,
            workflow=workflow,
        )
    except Exception as exc:  # any failure: the report falls back to timing alone
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"the stored workflow source did not load ({first})"
    return loaded.workflow, ""


# -- building the report -------------------------------------------------------------


def _in_flight_profile(
    intervals: Sequence[tuple[float, float]],
) -> list[tuple[float, int]]:
    """(time, calls in flight from then on), sorted, from closed intervals."""
    changes: Counter[float] = Counter()
    for start, end in intervals:
        changes[start] += 1
        changes[end] -= 1
    level, profile = 0, []
    for t in sorted(changes):
        level += changes[t]
        profile.append((t, level))
    return profile


def _time_at_or_above(
    profile: Sequence[tuple[float, int]], level: int, lo: float, hi: float
) -> float:
    return _integrate(profile, lo, hi, lambda n: 1.0 if n >= level else 0.0)


def _integrate(
    profile: Sequence[tuple[float, int]], lo: float, hi: float, fn: Any = float
) -> float:
    """Integral over [lo, hi] of ``fn(calls in flight)``."""
    total = 0.0
    for i, (t, n) in enumerate(profile):
        nxt = profile[i + 1][0] if i + 1 < len(profile) else hi
        a, b = max(t, lo), min(nxt, hi)
        if b > a:
            total += float(fn(n)) * (b - a)
    return total


def build_report(
    events: Sequence[Mapping[str, Any]],
    *,
    workflow: Workflow | None = None,
    buckets: int = BUCKETS,
) -> Report:
    """Analyse one run's events, in ``seq`` order; ``workflow`` adds needs and limits."""
    scan = _Scan()
    for event in events:
        scan.feed(event)
    for key in list(scan.open_calls):
        scan.close(key, scan.t_end)
    scan.steps = fold_items(scan.steps, scan.mapped, scan.step_calls)  # agents keep every call
    duration = scan.t_end
    for name, a in scan.agents.items():
        config = workflow.agents.get(name) if workflow is not None else None
        _measure_load(a, scan.calls.get(name, []), config, duration=duration, buckets=buckets)
    needs = (
        {sid: tuple(st.needs) for sid, st in workflow.steps.items()}
        if workflow is not None
        else None
    )
    path = _critical_path(scan.steps, needs)
    recs = _recommend(
        steps=scan.steps,
        agents=scan.agents,
        path=path,
        duration=duration,
        attempts=scan.attempts_total,
        failures=scan.failures_total,
        budget_hits=scan.budget_hits,
    )
    return Report(
        run_id=scan.run_id,
        workflow=scan.workflow_name,
        status=scan.status,
        duration=duration,
        cost_usd=scan.cost_total,
        tokens=scan.tokens_total,
        steps=scan.steps,
        agents=scan.agents,
        critical_path=path,
        critical_path_source="needs" if needs is not None else "timing",
        recommendations=tuple(recs),
        buckets=buckets,
        pauses=tuple(scan.pauses),
    )


_ENDED_STATE = {
    "step_succeeded": "succeeded",
    "step_failed": "failed",
    "step_skipped": "skipped",
    "step_cancelled": "cancelled",
}


@attrs.define
class _Scan:
    """One pass over a run's events: the timeline so far and what each step and agent did."""

    t0: float | None = None
    t_end: float = 0.0
    last_wall: float | None = None
    """The previous event's stamp."""
    paused: float = 0.0
    pauses: list[Pause] = attrs.Factory(list)
    run_id: str = ""
    workflow_name: str = ""
    status: str = "running"
    steps: dict[str, StepReport] = attrs.Factory(dict)
    open_calls: dict[tuple[str, int, str], float] = attrs.Factory(dict)
    """Attempts in flight, by (step, attempt, agent): when each started."""
    calls: dict[str, list[tuple[float, float]]] = attrs.Factory(dict)
    """Closed calls per agent: (start, end)."""
    agents: dict[str, AgentReport] = attrs.Factory(dict)
    attempts_total: int = 0
    failures_total: int = 0
    cost_total: float = 0.0
    tokens_total: int = 0
    budget_hits: list[tuple[str, str]] = attrs.Factory(list)
    mapped: dict[str, int] = attrs.Factory(dict)
    """``for_each`` steps that expanded, with their item counts."""
    step_calls: dict[str, list[tuple[float, float]]] = attrs.Factory(dict)
    """Closed calls per step: (start, end)."""

    def step(self, step_id: str) -> StepReport:
        """The step's report, created on first mention."""
        if step_id not in self.steps:
            self.steps[step_id] = StepReport(step_id=step_id)
        return self.steps[step_id]

    def agent(self, name: str) -> AgentReport:
        """The agent's report, created on first mention."""
        if name not in self.agents:
            self.agents[name] = AgentReport(name=name)
        return self.agents[name]

    def close(self, key: tuple[str, int, str], at: float, *, cancelled: bool = False) -> None:
        """End an in-flight call at ``at``: it counts as agent load and the step's run time."""
        start = self.open_calls.pop(key)
        self.calls.setdefault(key[2], []).append((start, at))
        self.step_calls.setdefault(key[0], []).append((start, at))
        self.steps[key[0]].run_time += at - start
        if cancelled:
            self.steps[key[0]].cancelled_attempts += 1

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take the next event: place it on the timeline, then count what it says."""
        kind = event.get("kind")
        at = self._clock(kind, float(event.get("at", 0.0)))
        self.run_id = self.run_id or str(event.get("run_id", ""))
        if kind == "run_started":
            self.workflow_name = str(event.get("workflow", ""))
            for sid in event.get("steps", ()):
                self.step(sid)
        elif kind == "run_finished":
            self.status = str(event.get("status", self.status))
            for key in list(self.open_calls):
                self.close(key, at, cancelled=True)
        elif kind == "cost_incurred":
            self._cost(event)
        elif isinstance(sid := event.get("step_id"), str):
            self._step_event(kind, sid, event, at)

    def _clock(self, kind: Any, wall: float) -> float:
        """The event's offset on the timeline, with pauses between sessions cut out."""
        if self.t0 is None:
            self.t0 = wall
        if kind == "run_resumed" and self.last_wall is not None:
            self._resume(wall, self.last_wall, self.t0)
        self.last_wall = wall
        at = wall - self.t0 - self.paused
        self.t_end = max(self.t_end, at)
        return at

    def _resume(self, wall: float, last_wall: float, t0: float) -> None:
        """A new session: cancel what the last one left in flight, and record the pause."""
        stopped = last_wall - t0 - self.paused  # where the previous session ended
        for key in list(self.open_calls):  # in flight when its process stopped
            self.close(key, stopped, cancelled=True)
        for s in self.steps.values():
            s._attempt_base = s.attempts
        if wall > last_wall:
            self.pauses.append(Pause(at=stopped, seconds=wall - last_wall))
            self.paused += wall - last_wall

    def _cost(self, event: Mapping[str, Any]) -> None:
        """Add a call's cost and tokens to the run, its agent and (when named) its step."""
        usd, tok = float(event.get("cost_usd") or 0.0), int(event.get("tokens") or 0)
        tok = tok or int(event.get("input_tokens", 0)) + int(event.get("output_tokens", 0))
        self.cost_total += usd
        self.tokens_total += tok
        a = self.agent(str(event.get("agent", "")))
        a.cost_usd += usd
        a.tokens += tok
        if isinstance(event.get("step_id"), str):
            s = self.step(event["step_id"])
            s.cost_usd += usd
            s.tokens += tok

    def _step_event(self, kind: Any, sid: str, event: Mapping[str, Any], at: float) -> None:
        """Count an event about one step."""
        s = self.step(sid)
        if kind == "step_ready":
            s.state = "ready"
            if s.ready_at is None:
                s.ready_at = at
        elif kind == "step_mapped":
            self.mapped[sid] = int(event.get("items", 0))
            s.state = "running"
            s.ready_at = at if s.ready_at is None else s.ready_at
            s.started_at = at if s.started_at is None else s.started_at
        elif kind == "attempt_started":
            self._attempt_started(s, event, at)
        elif kind == "attempt_failed":
            self._attempt_failed(s, event, at)
        elif kind in _ENDED_STATE:
            self._step_ended(s, kind, event, at)
        elif kind == "fallback_started" and "budget" in str(event.get("error", "")):
            self.budget_hits.append((sid, str(event.get("error", ""))))
        elif kind == "answers_combined":
            for key in [k for k in self.open_calls if k[0] == sid]:
                self.close(key, at)

    def _attempt_started(self, s: StepReport, event: Mapping[str, Any], at: float) -> None:
        """Open a call, and count its queue wait against the step and the agent."""
        name = str(event.get("agent", ""))
        self.attempts_total += 1
        s.state = "running"
        s.attempts = max(s.attempts, s._attempt_base + int(event.get("attempt", 1)))
        if name not in s.agents:
            s.agents.append(name)
        if s.started_at is None:
            s.started_at = at
        wait = float(event.get("queue_wait") or 0.0)
        s.queue_wait += wait
        if wait > s._longest_wait or s.waited_for is None:
            s._longest_wait, s.waited_for = wait, name
        a = self.agent(name)
        a.calls += 1
        a.waited += wait
        if wait >= NOTICEABLE_WAIT:
            a.attempts_waited += 1
        self.open_calls[(s.step_id, int(event.get("attempt", 1)), name)] = at

    def _attempt_failed(self, s: StepReport, event: Mapping[str, Any], at: float) -> None:
        """Close the failed call, and count the failure, its error and the backoff after it."""
        name = str(event.get("agent", ""))
        key = (s.step_id, int(event.get("attempt", 1)), name)
        if key in self.open_calls:
            self.close(key, at)
        self.failures_total += 1
        s.failed_attempts += 1
        s.error_type = str(event.get("error_type", ""))
        s.backoff += float(event.get("retry_in") or 0.0)
        a = self.agent(name)
        a.failures += 1
        a.error_types[s.error_type] = a.error_types.get(s.error_type, 0) + 1

    def _step_ended(self, s: StepReport, kind: str, event: Mapping[str, Any], at: float) -> None:
        """Close the step's calls and record how it ended (a cancel cuts its calls off)."""
        cut_off = kind == "step_cancelled"
        in_flight = [k for k in self.open_calls if k[0] == s.step_id]
        for key in in_flight:
            self.close(key, at, cancelled=cut_off)
        if cut_off and not in_flight and event.get("in_flight"):
            s.cancelled_attempts += 1  # a fallback strategy, which has no attempt events
        s.state = _ENDED_STATE[kind]
        s.ended_at = at
        if kind == "step_succeeded":
            s.degraded = bool(event.get("degraded", False))
            s.degraded_source = str(event.get("source", "")) if s.degraded else ""
            if not s.agents and event.get("agent"):
                s.agents.append(str(event["agent"]))
        elif kind == "step_failed":
            s.error_type = str(event.get("error_type", ""))
            if s.error_type == "BudgetExceededError":
                self.budget_hits.append((s.step_id, str(event.get("message", ""))))


def _measure_load(
    a: AgentReport,
    intervals: Sequence[tuple[float, float]],
    config: AgentConfig | None,
    *,
    duration: float,
    buckets: int,
) -> None:
    """Fill in an agent's limit, busy time, peak, time at its limit and utilization per slice."""
    if config is not None:
        a.limit = config.max_concurrent
        a.capabilities = sorted(config.capabilities)
    a.busy_time = sum(e - b for b, e in intervals)
    profile = _in_flight_profile(intervals)
    a.peak = max((n for _, n in profile), default=0)
    level = a.limit or a.peak
    if level and duration > 0:
        a.at_limit = _time_at_or_above(profile, level, 0.0, duration) / duration
        width = duration / buckets
        a.utilization = [
            round(_integrate(profile, i * width, (i + 1) * width) / width / level, 4)
            for i in range(buckets)
        ]
    else:
        a.utilization = [0.0] * buckets


def _critical_path(
    steps: Mapping[str, StepReport], needs: Mapping[str, Sequence[str]] | None
) -> tuple[PathEntry, ...]:
    """The chain of steps that ended last: from the last-ending step back through its
    latest-ending need (or, without ``needs``, the step that ended latest before it was ready)."""
    ended = {sid: s for sid, s in steps.items() if s.ended_at is not None and s.attempts}
    if not ended:
        return ()
    current: str | None = max(ended, key=lambda k: ended[k].ended_at or 0.0)
    chain: list[StepReport] = []
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        s = ended[current]
        chain.append(s)
        if needs is not None:
            candidates = [n for n in needs.get(current, ()) if n in ended]
        else:
            ready = s.ready_at if s.ready_at is not None else (s.started_at or 0.0)
            candidates = [
                k for k, o in ended.items() if k != current and (o.ended_at or 0.0) <= ready + 1e-6
            ]
        current = max(candidates, key=lambda k: ended[k].ended_at or 0.0, default=None)
    return tuple(
        PathEntry(
            step_id=s.step_id,
            agent=s.agents[-1] if s.agents else None,
            ready_at=s.ready_at,
            ended_at=s.ended_at or 0.0,
            queue_wait=s.queue_wait,
            backoff=s.backoff,
            run_time=s.run_time,
        )
        for s in reversed(chain)
    )


def _recommend(
    *,
    steps: Mapping[str, StepReport],
    agents: Mapping[str, AgentReport],
    path: Sequence[PathEntry],
    duration: float,
    attempts: int,
    failures: int,
    budget_hits: Sequence[tuple[str, str]],
) -> list[Recommendation]:
    """Every recommendation the thresholds call for, most severe first."""
    recs = [r for a in agents.values() if (r := _saturated_agent(a, duration)) is not None]
    recs += [
        r for entry in path if (r := _critical_wait(steps[entry.step_id], duration)) is not None
    ]
    recs += _retry_storm(agents, attempts=attempts, failures=failures)
    recs += _degraded_steps(steps)
    recs += [_budget_exhausted(sid, message) for sid, message in budget_hits]
    return sorted(recs, key=lambda r: SEVERITIES.index(r.severity))


def _saturated_agent(a: AgentReport, duration: float) -> Recommendation | None:
    """An agent at its limit most of the run while steps queued for it: it is the bottleneck."""
    if not (
        duration > 0
        and a.at_limit > SATURATED_AT_LIMIT
        and a.waited > 0
        and a.waited >= SATURATED_MIN_WAIT * duration
    ):
        return None
    limit = f"max_concurrent {a.limit}"
    also = (
        f" or add another agent with its capabilities ({', '.join(a.capabilities)})"
        if a.capabilities
        else " or add another agent that can serve its steps"
    )
    return Recommendation(
        kind="saturated_agent",
        severity="high",
        message=(
            f"raise max_concurrent of {a.name!r} ({limit}; at its limit "
            f"{_pct(a.at_limit)} of the run; {a.attempts_waited} attempts waited "
            f"{_secs(a.waited)} on it){also}"
            if a.limit
            else f"agent {a.name!r} had {a.peak} calls in flight (its peak; no "
            f"max_concurrent known) {_pct(a.at_limit)} of the run while "
            f"{a.attempts_waited} attempts waited {_secs(a.waited)} on it: raise "
            f"the workflow's concurrency, check its rate_limit{also}"
        ),
        evidence={
            "agent": a.name,
            "limit": a.limit,
            "peak": a.peak,
            "at_limit": round(a.at_limit, 4),
            "waited": round(a.waited, 6),
            "attempts_waited": a.attempts_waited,
            "duration": round(duration, 6),
        },
    )


def _critical_wait(s: StepReport, duration: float) -> Recommendation | None:
    """A critical-path step that spent much of its time queued: waiting there delays the run."""
    total = s.total
    if not (
        total
        and s.queue_wait > CRITICAL_WAIT_SHARE * total
        and s.queue_wait >= CRITICAL_MIN_WAIT * duration
    ):
        return None
    return Recommendation(
        kind="critical_wait",
        severity="medium",
        message=(
            f"step {s.step_id!r} is on the critical path and waited "
            f"{_secs(s.queue_wait)} ({_pct(s.queue_wait / total)} of its "
            f"{_secs(total)}) for agent {s.waited_for!r}: give it a higher priority "
            f"or more capacity on {s.waited_for!r}"
        ),
        evidence={
            "step": s.step_id,
            "agent": s.waited_for,
            "queue_wait": round(s.queue_wait, 6),
            "total": round(total, 6),
            "share": round(s.queue_wait / total, 4),
        },
    )


def _retry_storm(
    agents: Mapping[str, AgentReport], *, attempts: int, failures: int
) -> list[Recommendation]:
    """Many failed attempts, mostly on one agent: that provider (not the workflow) is the fault."""
    if not (
        attempts and failures >= RETRY_MIN_FAILURES and failures / attempts >= RETRY_FAILED_SHARE
    ):
        return []
    worst = max(agents.values(), key=lambda a: a.failures)
    if worst.failures / failures < RETRY_AGENT_SHARE:
        return []
    error, count = max(worst.error_types.items(), key=lambda kv: kv[1])
    return [
        Recommendation(
            kind="retry_storm",
            severity="high",
            message=(
                f"{failures} of {attempts} attempts failed ({_pct(failures / attempts)}), "
                f"{worst.failures} of them on agent {worst.name!r} "
                f"({_pct(worst.failures / failures)}), mostly {error} ({count}): check "
                f"the provider, give {worst.name!r} a circuit breaker (breaker:) or its "
                f"steps a fallback (fallback:)"
            ),
            evidence={
                "agent": worst.name,
                "attempts": attempts,
                "failures": failures,
                "agent_failures": worst.failures,
                "agent_calls": worst.calls,
                "error_type": error,
                "error_count": count,
            },
        )
    ]


def _degraded_steps(steps: Mapping[str, StepReport]) -> list[Recommendation]:
    """Steps that succeeded only through a degraded fallback: their output is not the real one."""
    degraded = {sid: s.degraded_source or "?" for sid, s in steps.items() if s.degraded}
    if not degraded:
        return []
    listed = ", ".join(f"{sid} (from {src})" for sid, src in degraded.items())
    return [
        Recommendation(
            kind="degraded_steps",
            severity="medium",
            message=(
                f"{len(degraded)} step(s) succeeded with a degraded fallback output: "
                f"{listed}; their primary agents failed, see the retries above"
            ),
            evidence={"steps": degraded},
        )
    ]


def _budget_exhausted(sid: str, message: str) -> Recommendation:
    """A step a budget refused: name the budget, so the user knows which one to raise."""
    found = _BUDGET_LABEL.search(message)
    budget = found.group(1).strip() if found else "a budget"
    return Recommendation(
        kind="budget_exhausted",
        severity="high",
        message=(
            f"step {sid!r} was refused by the {budget}: raise that budget or "
            f"route the step to a cheaper agent"
        ),
        evidence={"step": sid, "budget": budget, "message": message},
    )
