"""``cadenza cancel RUN``: stop a run from another process, or close one whose process died.

A live run is asked to stop through its journal record (``cancel_requested``);
the run polls for it (``_journal.CANCEL_CHECK_INTERVAL``) and cancels itself
cleanly, as Ctrl-C would. A run whose process is gone cannot stop itself, so
this command finishes its journal for it: a ``step_cancelled`` event for every
unfinished step, then ``run_finished``, with the next sequence numbers, and the
run record marked cancelled, all in one write. Two processes finishing the same
run collide on ``(run_id, seq)`` and only one write lands.
"""

from __future__ import annotations

import sys
import time

import attrs
import click

from .. import _events as ev
from .._errors import StoreError
from .._journal._queue import SupportsRunQueue
from .._journal._readback import (
    FINISHED,
    STEP_ENDED,
    effective_status,
    is_item,
    same_host,
    step_states,
)
from .._journal._store import RunRecord, Store, WriteBatch
from ._common import handle_errors
from ._execute import store_option
from ._exit import ExitCode
from ._history import existing_store, require_run

STOPPED_REASON = "cancelled by cadenza cancel (its process had stopped)"
_WAIT_POLL = 0.1


def finish_stopped_run(store: Store, record: RunRecord, reason: str = STOPPED_REASON) -> RunRecord:
    """Journal the end of a run whose process died: cancel unfinished steps, finish the run."""
    run_id = record.run_id
    events = store.read_events(run_id)
    steps = step_states(events)
    seq = int(events[-1]["seq"]) + 1 if events else 0
    now = time.time()
    batch: list[dict[str, object]] = []
    for step in steps.values():
        if step.state in STEP_ENDED:
            continue
        in_flight = step.state == "running"
        step.state = "cancelled"
        batch.append(
            ev.StepCancelled(
                run_id=run_id, seq=seq, at=now, step_id=step.step_id, reason=reason,
                in_flight=in_flight,
            ).to_dict()
        )  # fmt: skip
        seq += 1
    counts = {"succeeded": 0, "failed": 0, "skipped": 0, "cancelled": 0}
    for step in steps.values():
        if is_item(step.step_id, steps):
            continue  # counted in its for_each step, as the run's own summary counts
        counts["succeeded" if step.state == "restored" else step.state] += 1
    # How long the run ran: from the start of its last segment (run_started or
    # run_resumed) to its last journaled event, not to now.
    starts = [e for e in events if e.get("kind") in ("run_started", "run_resumed")]
    began = float(starts[-1]["at"]) if starts else record.started_at
    ran = float(events[-1]["at"]) - began if events else 0.0
    batch.append(
        ev.RunFinished(
            run_id=run_id, seq=seq, at=now, status="cancelled", duration=max(ran, 0.0),
            counts=counts, reason=reason,
        ).to_dict()
    )  # fmt: skip
    finished = attrs.evolve(
        record, status="cancelled", finished_at=now, counts=counts, reason=reason
    )
    store.write(WriteBatch(events=batch, runs=[finished]))
    return finished


def _close_stopped(store: Store, record: RunRecord) -> bool:
    """Finish a dead run's journal; False if it changed meanwhile (resumed, finished)."""
    try:
        finish_stopped_run(store, record)
    except StoreError:
        current = store.get_run(record.run_id)
        if current is not None and current != record:
            return False  # another process resumed or finished it first
        raise
    click.echo(
        f"run {record.run_id} marked cancelled: its process (pid {record.pid}) had stopped "
        f"without finishing it. Resume it with: cadenza resume {record.run_id}"
    )
    return True


def _wait_stopped(store: Store, run_id: str, timeout: float) -> int:
    """Poll the journal until the run is no longer running; the exit code to use."""
    deadline = time.monotonic() + timeout
    while True:
        record = store.get_run(run_id)
        assert record is not None  # runs are never deleted
        state = effective_status(record)
        if state in FINISHED:
            reason = f": {record.reason}" if record.reason else ""
            click.echo(f"run {run_id} {state}{reason}")
            return int(ExitCode.OK)
        if state == "interrupted" and _close_stopped(store, record):
            return int(ExitCode.OK)
        if time.monotonic() >= deadline:
            click.echo(
                f"error: run {run_id} is still running after {timeout:g}s (pid {record.pid} on "
                f"{record.host or 'this host'}); it stops at its next check, or stop its "
                "process yourself.",
                err=True,
            )
            return int(ExitCode.RUN_FAILED)
        time.sleep(_WAIT_POLL)


def _cancel_queued(store: Store | None, run_id: str) -> bool:
    """Cancel a queued run no worker has started; True when that settled the command."""
    if store is None or not isinstance(store, SupportsRunQueue):
        return False
    queued = store.get_queued(run_id)
    if queued is None or store.get_run(run_id) is not None:
        return False  # not queued, or started: the run's own record is cancelled
    if store.cancel_queued(run_id):
        click.echo(f"run {run_id} cancelled before any worker started it")
        return True
    queued = store.get_queued(run_id)
    assert queued is not None
    if queued.state == "claimed" and store.get_run(run_id) is None:
        click.echo(
            f"error: run {run_id} was just claimed by worker {queued.worker} and is starting; "
            f"run `cadenza cancel {run_id}` again in a second.",
            err=True,
        )
        sys.exit(int(ExitCode.RUN_FAILED))
    if queued.state in ("done", "failed", "cancelled") and store.get_run(run_id) is None:
        click.echo(f"run {run_id} already {queued.state} in the queue; nothing to cancel.")
        return True
    return False


@click.command("cancel")
@click.argument("run_id", metavar="RUN")
@store_option
@click.option("--wait", is_flag=True, help="Wait until the run has stopped, then report.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="With --wait: give up after this many seconds.",
)
@handle_errors
def cancel(run_id: str, store_url: str | None, wait: bool, timeout: float) -> None:
    """Cancel run RUN, running in another process; it stops within a second.

    A run whose process stopped without finishing it (interrupted) is marked
    cancelled here; a queued run no worker has started is cancelled in the
    queue. A finished run is left alone. Exit codes: 0 done (or
    nothing to do), 1 --wait timed out, 2 unknown run or unreadable journal.
    """
    code = int(ExitCode.OK)
    with existing_store(store_url) as store:
        if _cancel_queued(store, run_id):
            return
        record = require_run(store, run_id, store_url)
        assert store is not None
        state = effective_status(record)
        if state == "interrupted":
            # The flag tells a worker that takes the run over that it was cancelled
            # on purpose (not given back by a stopping worker): it is not resumed.
            store.request_cancel(run_id)
            record = attrs.evolve(record, cancel_requested=True)
            if _close_stopped(store, record):
                return
            record = require_run(store, run_id, store_url)  # resumed or finished meanwhile
            state = effective_status(record)
        if state in FINISHED:
            click.echo(f"run {run_id} already {state}; nothing to cancel.")
            return
        store.request_cancel(run_id)
        if same_host(record):
            click.echo(f"cancel requested; run {run_id} will stop within a second")
        else:
            click.echo(
                f"cancel requested; run {run_id} runs on {record.host} (pid {record.pid}), so "
                "this machine cannot check its process: it will stop within a second if the "
                f"process is alive. If it is gone, run `cadenza cancel {run_id}` on {record.host}."
            )
        if wait:
            code = _wait_stopped(store, run_id, timeout)
    if code:
        sys.exit(code)
