"""``cadenza runs``: the runs in the journal, most recent first."""

from __future__ import annotations

import time
from typing import Any

import click

from .._journal._queue import QueuedRun, SupportsRunQueue, WorkerInfo
from .._journal._readback import (
    FINISHED,
    effective_status,
    run_counts,
    run_to_dict,
    step_states,
)
from .._journal._store import RunRecord, Store
from ._common import echo_json, handle_errors, journal_url
from ._execute import store_option
from ._history import (
    UNSTARTED,
    counts_text,
    duration_text,
    existing_store,
    local_time,
    queued_dict,
    table,
)

STATUSES = ("queued", "running", "interrupted", "succeeded", "failed", "cancelled")
WORKERS_SHOWN = 10
"""Workers listed under the table (most recently seen first)."""
_UNFINISHED_SCAN = 10_000
"""How many ``running`` records to check when filtering on running/interrupted."""


def _select(
    store: Store, *, status: str | None, workflow: str | None, limit: int
) -> list[tuple[RunRecord, str]]:
    """The runs to show with their effective status (``interrupted`` is worked out here)."""
    if status in ("running", "interrupted"):
        # Both are ``running`` in the journal; which one is known only by looking.
        records = store.list_runs(limit=_UNFINISHED_SCAN, status="running", workflow=workflow)
        picked = [(r, effective_status(r)) for r in records]
        return [(r, s) for r, s in picked if s == status][:limit]
    if status == "queued":
        return []
    records = store.list_runs(limit=limit, status=status, workflow=workflow)
    return [(r, effective_status(r)) for r in records]


def _queue_of(
    store: Store, selected: list[tuple[RunRecord, str]], *, status: str | None, limit: int
) -> tuple[dict[str, QueuedRun], list[QueuedRun]]:
    """The queue rows of the selected runs, and the queued runs not started yet (a worker
    picks them up), for stores that keep a run queue (both empty otherwise)."""
    if not isinstance(store, SupportsRunQueue):
        return {}, []
    held = {r.run_id: q for r, _ in selected if (q := store.get_queued(r.run_id)) is not None}
    if status in ("running", "interrupted"):
        return held, []
    waiting = [
        q
        for q in store.list_queue(limit=limit)
        if (status is None or UNSTARTED[q.state] == status) and store.get_run(q.run_id) is None
    ]
    return held, waiting


@click.command("runs")
@store_option
@click.option("--status", type=click.Choice(STATUSES), help="Only runs with this status.")
@click.option("--workflow", "workflow_name", metavar="NAME", help="Only runs of this workflow.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="N",
    help="Show at most N runs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per run.")
@handle_errors
def runs(
    store_url: str | None,
    status: str | None,
    workflow_name: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List recent runs in the journal, most recent first.

    A run whose process stopped without finishing it (a crash, kill -9) shows
    as `interrupted`: finish it with `cadenza resume RUN`, or mark it
    cancelled with `cadenza cancel RUN`. Exit codes: 0 listed (even none),
    2 unreadable journal.
    """
    now = time.time()
    url = journal_url(store_url)
    selected: list[tuple[RunRecord, str]] = []
    counts: dict[str, Any] = {}
    held: dict[str, QueuedRun] = {}
    waiting: list[QueuedRun] = []
    workers: list[WorkerInfo] = []
    with existing_store(store_url) as store:
        if store is not None:
            url = store.url
            selected = _select(store, status=status, workflow=workflow_name, limit=limit)
            held, waiting = _queue_of(store, selected, status=status, limit=limit)
            if (held or waiting) and not as_json and isinstance(store, SupportsRunQueue):
                workers = store.list_workers()[:WORKERS_SHOWN]
            if workflow_name is not None:
                waiting = [q for q in waiting if queued_dict(q)["workflow"] == workflow_name]
            if waiting:  # the most recent `limit` of both, by submission or start time
                times = sorted(
                    [q.entry.submitted_at for q in waiting] + [r.started_at for r, _ in selected],
                    reverse=True,
                )
                cut = times[min(limit, len(times)) - 1]
                waiting = [q for q in waiting if q.entry.submitted_at >= cut][:limit]
                selected = [(r, s) for r, s in selected if r.started_at >= cut]
                selected = selected[: limit - len(waiting)]
            for record, state in selected:
                # Unfinished runs have no counts on record yet: rebuild them from events.
                events = [] if state in FINISHED else store.read_events(record.run_id)
                counts[record.run_id] = run_counts(record, state, step_states(events))
    if as_json:
        shown = [queued_dict(q) for q in waiting]
        for r, s in selected:
            data = run_to_dict(r, s, now=now, counts=counts[r.run_id])
            if held or waiting:
                q = held.get(r.run_id)
                data["worker"] = q.worker or None if q is not None else None
                data["queue_state"] = q.state if q is not None else None
            shown.append(data)
        echo_json(shown)
        return
    if not selected and not waiting:
        matching = " matching the filters" if status or workflow_name else ""
        click.echo(f"no runs{matching} in the journal {url}.", err=True)
        return
    rows = [
        [
            r.run_id,
            r.workflow,
            s,
            local_time(r.started_at),
            duration_text(r, s, now=now),
            counts_text(counts[r.run_id], short=True),
        ]
        for r, s in selected
    ]
    headers: tuple[str, ...] = ("RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION", "STEPS")
    if held or waiting:  # a journal with a run queue: who holds each run, and what waits
        for row, (r, _) in zip(rows, selected, strict=True):
            q = held.get(r.run_id)
            row.insert(3, (q.worker or "-") if q is not None else "-")
        rows = [
            [q.run_id, queued_dict(q)["workflow"], UNSTARTED[q.state], q.worker or "-",
             f"submitted {local_time(q.entry.submitted_at)}", "-", "-"]
            for q in waiting
        ] + rows  # fmt: skip
        headers = ("RUN", "WORKFLOW", "STATUS", "WORKER", "STARTED", "DURATION", "STEPS")
    lines = table(headers, rows)
    interrupted = sum(s == "interrupted" for _, s in selected)
    if interrupted:
        runs_were = "run was" if interrupted == 1 else "runs were"
        lines += [
            "",
            f"{interrupted} {runs_were} interrupted: the process stopped without finishing. "
            "Resume with: cadenza resume RUN (or mark cancelled: cadenza cancel RUN)",
        ]
    if workers:
        seen = ", ".join(
            f"{w.worker} ({w.host}, pid {w.pid}, last seen {local_time(w.heartbeat_at)})"
            for w in workers
        )
        lines += ["", f"workers: {seen}"]
    click.echo("\n".join(lines))
