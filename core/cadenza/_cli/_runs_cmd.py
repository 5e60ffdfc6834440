"""``cadenza runs``: the runs in the journal, most recent first."""

from __future__ import annotations

import time
from typing import Any

import click

from .._journal._readback import FINISHED, effective_status, run_counts, run_to_dict, step_states
from .._journal._store import RunRecord, Store
from ._common import echo_json, handle_errors, journal_url
from ._execute import store_option
from ._history import counts_text, duration_text, existing_store, local_time, table

STATUSES = ("running", "interrupted", "succeeded", "failed", "cancelled")
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
    records = store.list_runs(limit=limit, status=status, workflow=workflow)
    return [(r, effective_status(r)) for r in records]


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
    with existing_store(store_url) as store:
        if store is not None:
            url = store.url
            selected = _select(store, status=status, workflow=workflow_name, limit=limit)
            for record, state in selected:
                # Unfinished runs have no counts on record yet: rebuild them from events.
                events = [] if state in FINISHED else store.read_events(record.run_id)
                counts[record.run_id] = run_counts(record, state, step_states(events))
    if as_json:
        echo_json([run_to_dict(r, s, now=now, counts=counts[r.run_id]) for r, s in selected])
        return
    if not selected:
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
    lines = table(("RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION", "STEPS"), rows)
    interrupted = sum(s == "interrupted" for _, s in selected)
    if interrupted:
        runs_were = "run was" if interrupted == 1 else "runs were"
        lines += [
            "",
            f"{interrupted} {runs_were} interrupted: the process stopped without finishing. "
            "Resume with: cadenza resume RUN (or mark cancelled: cadenza cancel RUN)",
        ]
    click.echo("\n".join(lines))
