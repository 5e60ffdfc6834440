"""A run's timeline: one row per step, each attempt a bar split into queued and running.

A pure function of the run's journaled events (and, when its stored source
loads, the workflow: its ``needs`` give the critical path). Shared by the
dashboard (drawn again as events arrive), ``cadenza report --format svg``
and ``--format html``, so the three always agree.

Times are offsets in seconds from ``run_started``; as in the report, the
pause between two sessions of a resumed run is cut out. An attempt's queued
part is the ``queue_wait`` its ``attempt_started`` carries, ending where it
started; its ``waited_for`` says what held it (docs/events.md). Attempts of
one step sharing an attempt number on several agents are a fan-out or a
hedge: each gets its own lane. A ``for_each`` step's items become rows
grouped under their step (``group``), which the drawing collapses.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._ids import split_item_id

ENDS = {
    "step_succeeded": "succeeded",
    "step_failed": "failed",
    "step_skipped": "skipped",
    "step_cancelled": "cancelled",
}


@attrs.define(kw_only=True)
class Bar:
    """One attempt (or a fallback, or a cache hit): queued from ``queued``, running from ``start``.

    ``end`` None: still running (drawn up to the timeline's ``now``).
    """

    attempt: int
    agent: str
    start: float
    queued: float
    end: float | None = None
    outcome: str = "running"
    kind: str = "attempt"
    """``attempt``, ``hedge`` (one of several agents asked at once), ``fallback``, ``cache``."""
    waited_for: str = ""
    error: str = ""
    cost_usd: float = 0.0
    lane: int = 0

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define(kw_only=True)
class Row:
    """A step (or an item of a ``for_each`` step, ``group`` naming its step)."""

    step_id: str
    state: str = "pending"
    group: str | None = None
    ready: float | None = None
    ended: float | None = None
    bars: list[Bar] = attrs.field(factory=list)
    critical: bool = False
    items: int = 0
    """For a ``for_each`` step: how many items it expanded to."""
    reason: str = ""

    @property
    def lanes(self) -> int:
        return max((b.lane for b in self.bars), default=0) + 1

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["lanes"] = self.lanes
        return data


@attrs.define(kw_only=True)
class Timeline:
    """Rows in workflow order (items after their step), and how long the run has been going."""

    run_id: str = ""
    status: str = "running"
    start_wall: float = 0.0
    """``at`` of ``run_started`` (epoch seconds): offset 0."""
    now: float = 0.0
    """The last event's offset; the dashboard moves it on to the wall clock while running."""
    rows: dict[str, Row] = attrs.field(factory=dict)
    critical_path: list[str] = attrs.field(factory=list)
    paused: float = 0.0
    """Seconds between sessions of a resumed run, cut out of the offsets."""

    def top_rows(self) -> list[Row]:
        return [r for r in self.rows.values() if r.group is None]

    def items_of(self, step_id: str) -> list[Row]:
        return [r for r in self.rows.values() if r.group == step_id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "start_wall": self.start_wall,
            "now": self.now,
            "critical_path": list(self.critical_path),
            "rows": [r.to_dict() for r in self.rows.values()],
        }


@attrs.define
class _Clock:
    """Offsets from the run's start with the pauses between sessions cut out."""

    t0: float | None = None
    last: float | None = None
    paused: float = 0.0

    def at(self, kind: Any, wall: float) -> float:
        if self.t0 is None:
            self.t0 = wall
        if kind == "run_resumed" and self.last is not None and wall > self.last:
            self.paused += wall - self.last
        self.last = wall
        return wall - self.t0 - self.paused


class _Builder:
    """One pass over the events."""

    def __init__(self) -> None:
        self.t = Timeline()
        self.clock = _Clock()
        self.open: dict[str, dict[tuple[int, str], Bar]] = {}
        """Bars still running, by step, then (attempt, agent): a step's end finds its own."""
        self.mapped: set[str] = set()
        self.last_failure: dict[str, str] = {}

    def row(self, step_id: str) -> Row:
        row = self.t.rows.get(step_id)
        if row is None:
            split = split_item_id(step_id)
            group = split[0] if split is not None and split[0] in self.mapped else None
            row = self.t.rows[step_id] = Row(step_id=step_id, group=group)
        return row

    def feed(self, event: Mapping[str, Any]) -> None:
        kind = event.get("kind")
        at = self.clock.at(kind, float(event.get("at", 0.0)))
        self.t.now = max(self.t.now, at)
        if kind == "run_started":
            self.t.run_id = str(event.get("run_id", ""))
            self.t.start_wall = float(event.get("at", 0.0))
            for sid in event.get("steps", ()):
                self.row(str(sid))
        elif kind == "run_finished":
            self.t.status = str(event.get("status", "succeeded"))
            self.close_all("cancelled", at)
        elif kind == "run_resumed":
            self.t.status = "running"
            self.close_all("interrupted", at)
        elif isinstance(sid := event.get("step_id"), str):
            self.step_event(str(kind), sid, event, at)

    def close_all(self, outcome: str, at: float) -> None:
        for bars in self.open.values():
            for bar in bars.values():
                bar.end, bar.outcome = at, outcome
        self.open.clear()

    def step_event(self, kind: str, sid: str, event: Mapping[str, Any], at: float) -> None:
        if kind == "step_mapped":
            self.mapped.add(sid)
        row = self.row(sid)
        if kind == "step_ready":
            row.state = "ready"
            row.ready = at if row.ready is None else row.ready
        elif kind == "step_mapped":
            row.state, row.items = "running", int(event.get("items", 0))
            row.ready = at if row.ready is None else row.ready
        elif kind == "attempt_started":
            self.started(row, event, at)
        elif kind == "attempt_failed":
            bar = self._pop_open(sid, int(event.get("attempt", 0)), str(event.get("agent", "")))
            error = f"{event.get('error_type', '')}: {event.get('message', '')}"
            self.last_failure[sid] = error
            if bar is not None:
                bar.end, bar.outcome, bar.error = at, "failed", error
            row.state = "retrying" if event.get("retry_in") is not None else row.state
        elif kind == "cost_incurred":
            key = (sid, int(event.get("attempt", 0)), str(event.get("agent", "")))
            bar = self.open.get(sid, {}).get(key[1:]) or next(
                (b for b in reversed(row.bars) if b.attempt == key[1] and b.agent == key[2]),
                None,
            )
            if bar is not None:
                bar.cost_usd += float(event.get("cost_usd") or 0.0)
        elif kind == "fallback_started":
            self.end_open(sid, "failed", at)
            row.bars.append(
                Bar(attempt=0, agent=str(event.get("source", "")), start=at, queued=at,
                    kind="fallback", error=str(event.get("error", "")))
            )  # fmt: skip
        elif kind == "step_cache_hit":
            row.bars.append(Bar(attempt=0, agent="cache", start=at, queued=at, kind="cache"))
        elif kind == "answers_combined":
            self.end_open(sid, "succeeded", at)
        elif kind in ENDS:
            self.ended(row, kind, event, at)

    def started(self, row: Row, event: Mapping[str, Any], at: float) -> None:
        attempt, agent = int(event.get("attempt", 0)), str(event.get("agent", ""))
        wait = max(float(event.get("queue_wait") or 0.0), 0.0)
        same = [b for b in row.bars if b.attempt == attempt and b.kind in ("attempt", "hedge")]
        bar = Bar(attempt=attempt, agent=agent, start=at, queued=max(at - wait, 0.0),
                  waited_for=str(event.get("waited_for") or ""))  # fmt: skip
        if same and any(b.end is None or b.end >= at for b in same):  # asked at once: a hedge
            for b in same:
                b.kind = "hedge"
            bar.kind, bar.lane = "hedge", max(b.lane for b in same) + 1
        row.bars.append(bar)
        row.state = "running"
        self.open.setdefault(row.step_id, {})[(attempt, agent)] = bar

    def _pop_open(self, sid: str, attempt: int, agent: str) -> Bar | None:
        bars = self.open.get(sid)
        bar = None if bars is None else bars.pop((attempt, agent), None)
        if bars is not None and not bars:
            del self.open[sid]
        return bar

    def end_open(self, sid: str, outcome: str, at: float) -> None:
        for bar in self.open.pop(sid, {}).values():
            bar.end, bar.outcome = at, outcome

    def ended(self, row: Row, kind: str, event: Mapping[str, Any], at: float) -> None:
        outcome = ENDS[kind]
        last = row.bars[-1] if row.bars else None
        if last is not None and last.end is None and last.kind in ("fallback", "cache"):
            last.end, last.outcome = at, outcome
        winner = int(event.get("attempt", -1)) if kind == "step_succeeded" else -1
        for (attempt, _), bar in self.open.pop(row.step_id, {}).items():
            bar.end = at
            bar.outcome = outcome if kind != "step_succeeded" or attempt == winner else "cancelled"
            if kind == "step_failed":
                bar.error = (
                    bar.error or f"{event.get('error_type', '')}: {event.get('message', '')}"
                )
        row.state, row.ended = outcome, at
        if kind == "step_succeeded" and event.get("degraded"):
            row.state = "succeeded"
            row.reason = f"degraded (from {event.get('source') or '?'})"
        elif kind in ("step_skipped", "step_cancelled", "step_failed"):
            row.reason = str(event.get("reason") or event.get("message") or "")


def build_timeline(
    events: Sequence[Mapping[str, Any]], *, critical_path: Sequence[str] = ()
) -> Timeline:
    """The run's timeline from its events, in ``seq`` order; ``critical_path`` marks rows."""
    builder = _Builder()
    for event in events:
        builder.feed(event)
    timeline = builder.t
    timeline.paused = builder.clock.paused
    timeline.critical_path = [s for s in critical_path if s in timeline.rows]
    for sid in timeline.critical_path:
        timeline.rows[sid].critical = True
    return timeline


def critical_path(
    timeline: Timeline, needs: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """The chain of steps that ended last, as ``cadenza report`` finds it, in O(n log n).

    From the top-level step that ended last, back through its latest-ending
    need; without ``needs``, through the step that ended latest before it was ready.
    """
    ended = {
        sid: r.ended
        for sid, r in timeline.rows.items()
        if r.group is None and r.ended is not None and (r.bars or r.items)
    }
    if not ended:
        return []
    by_end = sorted((t, sid) for sid, t in ended.items())
    ends = [t for t, _ in by_end]
    current: str | None = by_end[-1][1]
    chain: list[str] = []
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        chain.append(current)
        if needs is not None:
            candidates = [n for n in needs.get(current, ()) if n in ended]
            current = max(candidates, key=lambda k: ended[k], default=None)
            continue
        row = timeline.rows[current]
        ready = row.ready if row.ready is not None else min(b.queued for b in row.bars)
        i = bisect.bisect_right(ends, ready + 1e-6) - 1
        while i >= 0 and by_end[i][1] in seen:
            i -= 1
        current = by_end[i][1] if i >= 0 else None
    return chain[::-1]


def run_timeline(events: Sequence[Mapping[str, Any]], *, workflow: Any = None) -> Timeline:
    """:func:`build_timeline` with its critical path (the workflow's needs, else timing)."""
    fold = TimelineFold()
    fold.feed(events)
    needs = (
        {sid: tuple(step.needs) for sid, step in workflow.steps.items()}
        if workflow is not None
        else None
    )
    return fold.timeline(needs)


class TimelineFold:
    """A run's timeline kept up to date: ``feed`` it the run's events as they arrive.

    The dashboard keeps one per run and feeds it only the events journaled
    since the last view, instead of rebuilding the timeline of a 20,000-step
    run (60,000 events) on every view. Feeding the events in any chunks, in
    ``seq`` order, with :meth:`timeline` asked in between or not, gives what
    :func:`run_timeline` gives for all of them at once
    (tests/test_timeline_fold.py).
    """

    def __init__(self) -> None:
        self._builder = _Builder()

    def feed(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Fold the run's next ``events`` (in ``seq`` order) into the timeline."""
        feed = self._builder.feed
        for event in events:
            feed(event)

    def timeline(self, needs: Mapping[str, Sequence[str]] | None = None) -> Timeline:
        """The timeline so far, its critical path found again (``needs``: :func:`critical_path`).

        The same object each time, changed by later feeds: read it before feeding more.
        """
        timeline = self._builder.t
        timeline.paused = self._builder.clock.paused
        for sid in timeline.critical_path:
            if sid in timeline.rows:
                timeline.rows[sid].critical = False
        timeline.critical_path = critical_path(timeline, needs)
        for sid in timeline.critical_path:
            timeline.rows[sid].critical = True
        return timeline


__all__ = [
    "Bar", "Row", "Timeline", "TimelineFold", "build_timeline", "critical_path", "run_timeline",
]  # fmt: skip
