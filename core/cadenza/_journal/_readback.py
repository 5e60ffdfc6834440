"""Reading a journaled run back: its effective status and each step's state, for CLI and dashboard.

A run's record says ``running`` until the run finishes; when its process died
(crash, kill -9, power loss) it stays ``running``. Readers show such a run as
``interrupted`` when they can tell: same host, and no process with the
recorded pid. On another host they cannot check, so the run shows as running.

Per-step state is rebuilt from the run's journaled events (the same stream
observers saw), not from scheduler internals.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._ids import split_item_id
from ._store import RunRecord

FINISHED = frozenset({"succeeded", "failed", "cancelled"})
STEP_ENDED = frozenset({"succeeded", "failed", "skipped", "cancelled", "restored"})


# -- run state -----------------------------------------------------------------------


def is_alive_elsewhere(record: RunRecord) -> bool:
    """True when the run's process is still running on this host (and is not us)."""
    if record.status != "running" or record.pid is None or record.pid == os.getpid():
        return False
    if record.host and record.host != socket.gethostname():
        return False
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def same_host(record: RunRecord) -> bool:
    return not record.host or record.host == socket.gethostname()


def effective_status(record: RunRecord) -> str:
    """The record's status, or ``interrupted`` for a running run whose process is gone."""
    if record.status != "running" or record.pid is None or not same_host(record):
        return record.status
    if record.pid == os.getpid() or is_alive_elsewhere(record):
        return "running"
    return "interrupted"


# -- per-step state from events ------------------------------------------------------


@attrs.define
class StepState:
    """One step as the journal tells it; ``state`` is one of :data:`STEP_STATES`.

    Over a resumed run's sessions, ``attempts`` adds up every session's
    attempts, ``cancelled_attempts`` counts those cut off in flight when a
    session stopped, and ``duration`` adds up the step's time in each session
    (never the pause between them).
    """

    step_id: str
    state: str = "pending"
    attempts: int = 0
    cancelled_attempts: int = 0
    agent: str | None = None
    last_error: str | None = None
    error_type: str | None = None
    reason: str | None = None
    cause: str | None = None
    output: Any = None
    degraded: bool = False
    cost_usd: float | None = None
    cached_from: dict[str, str] | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    items: int | None = None
    """A ``for_each`` step's item count, once its ``step_mapped`` said it expanded;
    None for any other step (its items are grouped by :mod:`._items`)."""
    _attempt_base: int = 0
    """Attempts made in earlier sessions (attempt numbers restart in each)."""
    _earlier: float = 0.0
    """Seconds the step spent in earlier sessions."""
    _session_start: float | None = None
    """When the step first started in the current session."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``items`` is None here (readers put a mapped step's tally there)."""
        data = {name: getattr(self, name) for name in _SHOWN}  # attrs.asdict: 10x slower
        if self.cached_from is not None:
            data["cached_from"] = dict(self.cached_from)
        data["items"] = None
        return data

    def carried_over(self, stopped_at: float | None) -> StepState:
        """This step, to run again in a new session after its last one stopped at
        ``stopped_at``: pending, keeping its attempts and the time it spent."""
        cut_off = 1 if self.state == "running" else 0  # in flight when the process died
        spent = self._earlier
        if self._session_start is not None:
            end = self.ended_at if self.ended_at is not None else stopped_at
            spent += max((end or self._session_start) - self._session_start, 0.0)
        return StepState(
            step_id=self.step_id,
            attempts=self.attempts,
            cancelled_attempts=self.cancelled_attempts + cut_off,
            started_at=self.started_at,
            duration=spent or None,
            items=self.items,
            attempt_base=self.attempts,
            earlier=spent,
        )


_SHOWN = tuple(
    a.name for a in attrs.fields(StepState) if a.name != "step_id" and not a.name.startswith("_")
)
"""The fields :meth:`StepState.to_dict` gives (``output`` as it is: JSON-ready already)."""

STEP_STATES = (
    "pending", "ready", "running", "retrying", "succeeded", "restored", "failed", "skipped",
    "cancelled",
)  # fmt: skip


_STEP_ENDS = frozenset({"step_succeeded", "step_failed", "step_skipped", "step_cancelled"})


def step_states(events: Sequence[Mapping[str, Any]]) -> dict[str, StepState]:
    """Rebuild every step's state from a run's events, in file order.

    A ``run_resumed`` event starts a new segment: its ``restored`` steps keep
    the output journaled earlier (state ``restored``), its ``rerun`` steps
    start over as pending, keeping the attempts (an attempt in flight when the
    last segment stopped counts as cancelled) and time of the earlier segments.
    """
    fold = StepFold()
    fold.feed(events)
    return fold.steps


class StepFold:
    """:func:`step_states` kept up to date: ``feed`` it a run's events as they arrive.

    Feeding a run's events in any number of chunks, in ``seq`` order, leaves
    ``steps`` as one :func:`step_states` call over all of them would (the
    dashboard folds only a live run's new events on each view).
    """

    def __init__(self) -> None:
        self.steps: dict[str, StepState] = {}
        self._last_at: float | None = None

    def _get(self, step_id: str) -> StepState:
        step = self.steps.get(step_id)
        if step is None:
            step = self.steps[step_id] = StepState(step_id=step_id)
        return step

    def feed(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Fold ``events`` (the run's next ones, in ``seq`` order) into ``steps``."""
        for event in events:
            self._feed(event)

    def _feed(self, event: Mapping[str, Any]) -> None:
        steps, get = self.steps, self._get
        kind = event.get("kind")
        stopped_at, self._last_at = self._last_at, event.get("at", self._last_at)
        if kind == "run_started":
            for step_id in event.get("steps", ()):
                get(step_id)
            return
        if kind == "run_resumed":
            restored, rerun = list(event.get("restored", ())), list(event.get("rerun", ()))
            keep = set(restored) | set(rerun)
            old = {sid: s for sid, s in steps.items() if sid in keep}
            steps.clear()
            for step_id in [*old, *(s for s in [*restored, *rerun] if s not in old)]:
                previous = old.get(step_id) or StepState(step_id=step_id)
                if step_id in restored:
                    steps[step_id] = attrs.evolve(previous, state="restored")
                else:
                    steps[step_id] = previous.carried_over(stopped_at)
            return
        step_id = event.get("step_id")
        if not isinstance(step_id, str):
            return
        step, at = get(step_id), event.get("at")
        if kind == "step_ready":
            step.state = "ready"
        elif kind == "step_mapped":
            step.state = "running"
            step.items = int(event.get("items", 0))
            if step.started_at is None:
                step.started_at = at
            if step._session_start is None:
                step._session_start = at
        elif kind == "attempt_started":
            step.state = "running"
            step.attempts = step._attempt_base + int(
                event.get("attempt", step.attempts - step._attempt_base + 1)
            )
            step.agent = event.get("agent")
            if step.started_at is None:
                step.started_at = at
            if step._session_start is None:
                step._session_start = at
        elif kind == "attempt_failed":
            step.last_error = event.get("message")
            step.error_type = event.get("error_type")
            step.state = "failed" if event.get("retry_in") is None else "retrying"
        elif kind == "step_cache_hit":
            step.cached_from = {
                "run": str(event.get("source_run", "")),
                "step": str(event.get("source_step", "")),
            }
            if step.started_at is None:
                step.started_at = at
            if step._session_start is None:
                step._session_start = at
        elif kind == "step_succeeded":
            step.state = "succeeded"
            if "attempt" in event:
                step.attempts = step._attempt_base + int(event["attempt"])
            step.agent = event.get("agent")
            step.output = event.get("output")
            step.degraded = bool(event.get("degraded", False))
            step.cost_usd = event.get("cost_usd")
            took = event.get("duration")
            step.duration = None if took is None else step._earlier + float(took)
            step.ended_at = at
        elif kind == "step_failed":
            step.state = "failed"
            if "attempts" in event:
                step.attempts = step._attempt_base + int(event["attempts"])
            step.last_error = event.get("message")
            step.error_type = event.get("error_type")
            step.ended_at = at
        elif kind in ("step_skipped", "step_cancelled"):
            if kind == "step_cancelled" and event.get("in_flight", step.state == "running"):
                step.cancelled_attempts += 1
            step.state = "skipped" if kind == "step_skipped" else "cancelled"
            step.reason = event.get("reason")
            step.cause = event.get("cause")
            step.ended_at = at
        if (
            kind in _STEP_ENDS
            and (kind != "step_succeeded" or event.get("duration") is None)
            and step.ended_at is not None
            and step._session_start is not None
        ):
            step.duration = step._earlier + step.ended_at - step._session_start


def is_item(step_id: str, steps: Mapping[str, StepState]) -> bool:
    """Whether ``step_id`` names an item (``build[3]``) of a step that expanded in this run."""
    parts = split_item_id(step_id)
    if parts is None:
        return False
    parent = steps.get(parts[0])
    return parent is not None and parent.items is not None


def run_pauses(events: Sequence[Mapping[str, Any]]) -> list[float]:
    """The gaps of a resumed run, in seconds: from the last event of one session
    to the ``run_resumed`` that starts the next (time nothing ran)."""
    pauses: list[float] = []
    last: float | None = None
    for event in events:
        at = event.get("at")
        if event.get("kind") == "run_resumed" and last is not None and at is not None:
            pauses.append(max(float(at) - last, 0.0))
        if at is not None:
            last = float(at)
    return pauses


def step_counts(steps: Mapping[str, StepState]) -> dict[str, int]:
    """Steps per state for a run in progress: ended states, then running and pending.

    Items of a ``for_each`` step are not steps of the workflow: the step counts once.
    """
    counts = {"succeeded": 0, "failed": 0, "skipped": 0, "cancelled": 0, "running": 0, "pending": 0}
    for step in steps.values():
        if is_item(step.step_id, steps):
            continue
        if step.state in ("succeeded", "restored"):
            counts["succeeded"] += 1
        elif step.state in ("running", "retrying"):
            counts["running"] += 1
        elif step.state in ("pending", "ready"):
            counts["pending"] += 1
        else:
            counts[step.state] += 1
    return counts


# -- run shapes shared by ``--json`` output and the dashboard --------------------


def iso_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).astimezone()
    return moment.isoformat(timespec="seconds")


def run_duration(record: RunRecord, status: str, *, now: float) -> float | None:
    """Seconds from start to finish; so far for a live run; None for an interrupted one."""
    if record.finished_at is not None and status in FINISHED:
        return record.finished_at - record.started_at
    if status == "running":
        return now - record.started_at
    return None


def run_counts(record: RunRecord, status: str, steps: Mapping[str, StepState] | None) -> Any:
    """Counts from the record for a finished run, rebuilt from events otherwise."""
    if status in FINISHED or steps is None:
        return dict(record.counts)
    return step_counts(steps)


def run_to_dict(
    record: RunRecord,
    status: str,
    *,
    now: float,
    counts: Mapping[str, int],
    cost_usd: float | None = None,
) -> dict[str, Any]:
    """The JSON shape of a run in ``cadenza runs --json`` and ``cadenza status --json``."""
    duration = run_duration(record, status, now=now)
    return {
        "run_id": record.run_id,
        "workflow": record.workflow,
        "status": status,
        "reason": record.reason,
        "source": record.source,
        "started_at": record.started_at,
        "started": iso_time(record.started_at),
        "finished_at": record.finished_at if status in FINISHED else None,
        "duration": None if duration is None else round(duration, 6),
        "counts": dict(counts),
        "cost_usd": cost_usd,
        "pid": record.pid,
        "host": record.host,
    }
