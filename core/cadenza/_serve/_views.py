"""What the dashboard shows, read from the journal: blocking functions, run in worker threads.

Everything here reads a :class:`~cadenza._journal._store.Store` and returns JSON-ready
data. The journal holds redacted events and a redacted workflow source (the
runner redacts before it writes), so nothing secret reaches these views.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._journal._decisions import open_gates
from .._journal._items import grouped_steps, split_steps, tally
from .._journal._readback import (
    FINISHED,
    StepState,
    effective_status,
    run_counts,
    run_to_dict,
    step_states,
)
from .._journal._store import RunRecord, Store
from . import _big_runs
from ._event_cache import EventSource
from ._run_models import RunModel

if TYPE_CHECKING:
    from .._journal._run_shape import RunShape
    from .._spec._workflow import Workflow

UNFINISHED_SCAN = 10_000
"""How many ``running`` records to check when filtering on running/interrupted."""

STATUSES = ("running", "interrupted", "succeeded", "failed", "cancelled")

ITEMS_PER_PAGE = 100
"""Items of a ``for_each`` step listed per page: never 10,000 rows at once."""


def total_cost(events: Sequence[Mapping[str, Any]]) -> float | None:
    """Settled costs (``cost_incurred``), else what successes reported; None if nothing did."""
    settled = [float(e.get("cost_usd") or 0.0) for e in events if e.get("kind") == "cost_incurred"]
    if settled:
        return round(sum(settled), 6)
    costs = [
        float(e["cost_usd"])
        for e in events
        if e.get("kind") == "step_succeeded" and e.get("cost_usd") is not None
    ]
    return round(sum(costs), 6) if costs else None


def list_runs(
    store: Store, *, status: str | None = None, workflow: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Recent runs, most recent first, as ``cadenza runs --json`` shows them."""
    now = time.time()
    if status in ("running", "interrupted"):
        records = store.list_runs(limit=UNFINISHED_SCAN, status="running", workflow=workflow)
        picked = [(r, effective_status(r)) for r in records]
        selected = [(r, s) for r, s in picked if s == status][:limit]
    else:
        records = store.list_runs(limit=limit, status=status, workflow=workflow)
        selected = [(r, effective_status(r)) for r in records]
    out = []
    for record, state in selected:
        events = [] if state in FINISHED else store.read_events(record.run_id)
        counts = run_counts(record, state, step_states(events))
        out.append(run_to_dict(record, state, now=now, counts=counts))
    return out


def run_detail(store: EventSource, record: RunRecord) -> dict[str, Any]:
    """One run and each step's state, as ``cadenza status --json`` shows it, plus ``last_seq``."""
    model = RunModel(record.run_id)
    model.update(store)
    return model_detail(model, record)


def model_detail(
    model: RunModel,
    record: RunRecord,
    *,
    page: int | None = None,
    only_big: bool = False,
    shape: RunShape | None = None,
) -> dict[str, Any]:
    """:func:`run_detail` from a run's kept model (``_run_models``; the caller holds its lock).

    ``page``: list only that page of the steps (``steps_page`` says which), and
    for a big run its layer table (``layers``, when ``shape`` is known);
    ``only_big``: only a big run's steps are paged. Only the steps listed are
    converted to JSON-ready data (20,000 of them took half a second).
    """
    now = time.time()
    steps = model.steps.steps
    state = effective_status(record)
    data = run_to_dict(
        record,
        state,
        now=now,
        counts=model.derived(("counts", state), lambda: run_counts(record, state, steps)),
        cost_usd=model.costs.total(),
    )
    data["inputs"] = dict(record.inputs)
    data["cancel_requested"] = record.cancel_requested
    # items are counted in their step's row
    own, tallies = model.derived("grouped", lambda: grouped_steps(steps))
    shown: Mapping[str, StepState] = own
    big = _big_runs.is_big(len(own))
    if page is not None and (big or not only_big):
        shown, data["steps_page"] = _big_runs.page_of(own, page)
        if big and shape is not None:
            depth = model.depth(shape)
            data["layers"] = model.derived(("layers", id(shape)),
                                           lambda: _big_runs.layer_rows(depth, own))  # fmt: skip
    data["steps"] = {
        sid: step.to_dict()
        | {"step_id": sid, "items": tallies[sid].to_dict() if sid in tallies else None}
        for sid, step in shown.items()
    }
    data["last_seq"] = model.last_seq
    data["approvals"] = model.derived(
        "approvals", lambda: [gate.to_dict() for gate in open_gates(model.gate_events).values()]
    )
    return data


OPEN_ATTEMPT_ENDS = {
    "step_cancelled": "cancelled",
    "step_failed": "failed",
    "step_skipped": "skipped",
    "run_resumed": "interrupted",
}
"""Events that end a step's attempts still open, and the outcome those attempts get.

A step cancelled mid-attempt journals ``step_cancelled`` with no attempt
event of its own; a run resumed after its process died journals
``run_resumed``: the attempts then in flight ended that way.
"""


class _Attempts:
    """A step's attempts as its events tell them, keyed by (segment, attempt number).

    A resumed run numbers its attempts afresh, so each ``run_resumed`` starts a
    new segment.
    """

    def __init__(self) -> None:
        self.by_key: dict[tuple[int, int], dict[str, Any]] = {}
        self.segment = 0

    def attempt(self, event: Mapping[str, Any]) -> dict[str, Any]:
        number = int(event.get("attempt", 0))
        return self.by_key.setdefault(
            (self.segment, number),
            {"attempt": number, "agent": event.get("agent"), "outcome": "running"},
        )

    def end_open(self, outcome: str, event: Mapping[str, Any]) -> None:
        """Every attempt still ``running`` ends with ``outcome`` at ``event``."""
        for entry in self.by_key.values():
            if entry["outcome"] != "running":
                continue
            entry["outcome"] = outcome
            at, started = event.get("at"), entry.get("started_at")
            if isinstance(at, int | float) and isinstance(started, int | float):
                entry["duration"] = max(at - started, 0.0)
            if event.get("reason"):
                entry.setdefault("message", event.get("reason"))

    def apply(self, event: Mapping[str, Any]) -> None:
        kind = event.get("kind")
        if kind in OPEN_ATTEMPT_ENDS:
            self.end_open(OPEN_ATTEMPT_ENDS[str(kind)], event)
            self.segment += kind == "run_resumed"
        elif kind == "step_succeeded" and "attempt" not in event:
            return
        elif kind in _ATTEMPT_UPDATES:
            _ATTEMPT_UPDATES[str(kind)](self.attempt(event), event)

    def in_order(self) -> list[dict[str, Any]]:
        return [self.by_key[key] for key in sorted(self.by_key)]


def _route_chosen(entry: dict[str, Any], event: Mapping[str, Any]) -> None:
    entry["route"] = {
        "agent": event.get("agent"),
        "strategy": event.get("strategy"),
        "reason": event.get("reason"),
        "candidates": list(event.get("candidates", ())),
    }


def _attempt_started(entry: dict[str, Any], event: Mapping[str, Any]) -> None:
    entry.update(
        agent=event.get("agent"), started_at=event.get("at"), queue_wait=event.get("queue_wait"),
        waited_for=event.get("waited_for") or "",
    )  # fmt: skip


def _attempt_failed(entry: dict[str, Any], event: Mapping[str, Any]) -> None:
    entry.update(
        outcome="failed", error_type=event.get("error_type"),
        message=event.get("message"), retryable=event.get("retryable"),
        retry_in=event.get("retry_in"), duration=event.get("duration"),
    )  # fmt: skip


def _step_succeeded(entry: dict[str, Any], event: Mapping[str, Any]) -> None:
    entry.update(
        outcome="succeeded", duration=event.get("duration"),
        degraded=bool(event.get("degraded", False)),
        input_tokens=event.get("input_tokens", 0),
        output_tokens=event.get("output_tokens", 0),
    )  # fmt: skip


def _cost_incurred(entry: dict[str, Any], event: Mapping[str, Any]) -> None:
    entry["cost_usd"] = float(entry.get("cost_usd") or 0.0) + float(event.get("cost_usd") or 0.0)


def _output_validated(entry: dict[str, Any], event: Mapping[str, Any]) -> None:
    entry["validation"] = {
        "score": event.get("score"),
        "passed": event.get("passed"),
        "findings": list(event.get("findings", ())),
    }


_ATTEMPT_UPDATES: dict[str, Callable[[dict[str, Any], Mapping[str, Any]], None]] = {
    "route_chosen": _route_chosen,
    "attempt_started": _attempt_started,
    "attempt_failed": _attempt_failed,
    "step_succeeded": _step_succeeded,
    "cost_incurred": _cost_incurred,
    "output_validated": _output_validated,
}
"""What each attempt event adds to its attempt's entry."""


def item_page(items: Sequence[Any], *, page: int = 1, state: str | None = None) -> dict[str, Any]:
    """One page of a mapped step's items (``state``: only items counted in that state)."""
    if state is not None:
        items = [i for i in items if _counted_as(i.state) == state]
    pages = max((len(items) + ITEMS_PER_PAGE - 1) // ITEMS_PER_PAGE, 1)
    page = min(page, pages)
    start = (page - 1) * ITEMS_PER_PAGE
    rows = [
        {
            "step_id": i.step_id,
            "state": i.state,
            "attempts": i.attempts,
            "agent": i.agent,
            "duration": i.duration,
            "error_type": i.error_type,
            "last_error": i.last_error,
        }
        for i in items[start : start + ITEMS_PER_PAGE]
    ]
    return {
        "page": page, "pages": pages, "per_page": ITEMS_PER_PAGE, "state": state,
        "matching": len(items), "rows": rows,
    }  # fmt: skip


def _counted_as(state: str) -> str:
    """The item state a filter matches (as :func:`~cadenza._journal._items.tally` counts)."""
    return {"restored": "succeeded", "retrying": "running", "ready": "pending"}.get(state, state)


def step_detail(
    events: Sequence[Mapping[str, Any]],
    step_id: str,
    *,
    run_status: str | None = None,
    page: int = 1,
    item_state: str | None = None,
    steps: Mapping[str, StepState] | None = None,
) -> dict[str, Any] | None:
    """One step: its state, and each attempt with agent, route, timing, error and cost.

    ``steps``: every step's state when the caller keeps them (the dashboard's run
    model), else rebuilt from ``events``.

    A ``for_each`` step has no attempts of its own: it carries its items'
    tally (``items``) and one page of them (``items_page``, ``page`` from 1,
    ``item_state`` one of :data:`~cadenza._journal._items.ITEM_STATES` to list only those).

    An attempt's ``outcome`` is ``running`` only while it can still be: one
    left open when its step was cancelled (or failed, or skipped) says so, one
    left open by a process that died says ``interrupted`` (after
    ``run_resumed``, or when ``run_status`` is ``interrupted``). None when no
    event names the step.
    """
    steps = step_states(events) if steps is None else steps
    if step_id not in steps:
        return None
    if steps[step_id].items is not None:
        return _mapped_detail(events, steps, step_id, page=page, item_state=item_state)
    attempts = _Attempts()
    mine = [e for e in events if e.get("step_id") == step_id or e.get("kind") == "run_resumed"]
    for event in mine:
        attempts.apply(event)
    if run_status == "interrupted":
        attempts.end_open("interrupted", {})
    mine = [e for e in mine if e.get("step_id") == step_id]
    state = steps[step_id].to_dict()
    ready = [e for e in mine if e.get("kind") == "step_ready"]
    inputs = ready[-1].get("inputs") if ready else None
    costs = [float(e.get("cost_usd") or 0.0) for e in mine if e.get("kind") == "cost_incurred"]
    return {
        "step_id": step_id,
        **state,
        "cost_usd": round(sum(costs), 6) if costs else state.get("cost_usd"),
        "inputs": inputs,
        "attempts_detail": attempts.in_order(),
        "events": [dict(e) for e in mine],
    }


def _mapped_detail(
    events: Sequence[Mapping[str, Any]],
    steps: Mapping[str, Any],
    step_id: str,
    *,
    page: int,
    item_state: str | None,
) -> dict[str, Any]:
    """A ``for_each`` step: its totals, its items' tally and one page of its items."""
    own, tallies = grouped_steps(steps)
    items = split_steps(steps)[1].get(step_id, [])
    mine = [e for e in events if e.get("step_id") == step_id]
    ready = [e for e in mine if e.get("kind") in ("step_ready", "step_mapped")]
    return {
        "step_id": step_id,
        **own[step_id].to_dict(),
        "items": (tallies.get(step_id) or tally(steps[step_id], items)).to_dict(),
        "items_page": item_page(items, page=page, state=item_state),
        "inputs": ready[0].get("inputs") if ready else None,
        "attempts_detail": [],
        "events": [dict(e) for e in mine],
    }


def load_run_workflow(store: Store, record: RunRecord, plugins: Any) -> Workflow | None:
    """The workflow the run started from, loaded from its stored (redacted) source, or None.

    A file with one workflow loads even when its name came from a file name the
    journal does not know (the name is tried first, then the file's only workflow).
    """
    if plugins is None:
        return None
    from .._insight._report import workflow_from_source

    text = store.read_source(record.run_id)
    workflow, _why = workflow_from_source(
        text, plugins=plugins, workflow=record.workflow, filename=record.source
    )
    if workflow is None and text:
        workflow, _why = workflow_from_source(text, plugins=plugins, filename=record.source)
    return workflow


def draw_graph(workflow: Workflow) -> str:
    """The workflow's DAG drawn by the built-in renderer; node groups carry ``data-step``."""
    from .._graph._svg import render_svg

    return render_svg(workflow, engine="builtin", legend=False).text


def graph_svg(store: Store, record: RunRecord, plugins: Any) -> str | None:
    """The run's DAG drawn by the built-in renderer from its stored source; None if it won't load.

    Node groups carry ``data-step`` (the step id), so the page colours them by state.
    """
    from .._graph._svg import render_svg

    workflow = load_run_workflow(store, record, plugins)
    if workflow is None:
        return None
    return render_svg(workflow, engine="builtin", legend=False).text
