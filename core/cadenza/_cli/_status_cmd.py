"""``cadenza status RUN``: one run's record and every step's state, rebuilt from its journal."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

from .._journal._decisions import OpenGate, open_gates
from .._journal._items import FAILED_ITEMS_SHOWN, ItemTally, grouped_steps, split_steps
from .._journal._queue import QueuedRun
from .._journal._readback import (
    StepState,
    effective_status,
    run_counts,
    run_duration,
    run_pauses,
    run_to_dict,
    step_states,
)
from .._journal._store import RunRecord
from ._common import echo_json, handle_errors
from ._execute import store_option
from ._history import (
    counts_text,
    existing_store,
    human_duration,
    local_time,
    output_summary,
    queued_dict,
    require_run,
    table,
    unstarted,
)


def _total_cost(events: Sequence[Mapping[str, Any]]) -> float | None:
    """What the run's calls cost, over all its parts: every settled ``cost_incurred``.

    Journals from before cost events fall back to what the agents reported for
    each success. None when nothing cost anything or reported a cost (unknown
    is not zero).
    """
    settled = [float(e.get("cost_usd") or 0.0) for e in events if e.get("kind") == "cost_incurred"]
    if settled:
        return round(sum(settled), 6)
    costs = [
        float(e["cost_usd"])
        for e in events
        if e.get("kind") == "step_succeeded" and e.get("cost_usd") is not None
    ]
    return round(sum(costs), 6) if costs else None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _detail(step: StepState, tally: ItemTally | None = None) -> str:
    """The last column of a step's row: its output, error or reason; a mapped step's item counts."""
    if tally is not None and step.state not in ("skipped", "cancelled"):
        return f"(degraded) {tally.text()}" if step.degraded else tally.text()
    if step.state in ("succeeded", "restored"):
        text = output_summary(step.output)
        if step.cached_from is not None:
            text = f"(cache of {step.cached_from['run']}/{step.cached_from['step']}) {text}"
        return f"(degraded) {text}" if step.degraded else text
    if step.state in ("failed", "retrying") and step.last_error:
        prefix = "retrying after " if step.state == "retrying" else ""
        return _one_line(f"{prefix}{step.error_type}: {step.last_error}")
    return _one_line(step.reason or "")


def _attempts(step: StepState) -> str:
    """``2``, or ``2 (1 cancelled)`` when some were cut off by the run stopping."""
    if step.cancelled_attempts:
        return f"{step.attempts} ({step.cancelled_attempts} cancelled)"
    return str(step.attempts)


def _timing(record: RunRecord, status: str, pauses: Sequence[float], *, now: float) -> str:
    """How long the run took (or has run); a resumed run's pauses are set apart."""
    if status == "interrupted":
        return "did not finish"
    seconds = run_duration(record, status, now=now)
    if seconds is None:
        return "did not finish"
    paused = sum(pauses)
    text = human_duration(max(seconds - paused, 0.0))
    if pauses:
        text += (
            f" in {len(pauses) + 1} sessions (plus {human_duration(paused)} paused between them)"
        )
    return f"running for {text}" if status == "running" else f"took {text}"


def _hint(record: RunRecord, status: str) -> str:
    run_id = record.run_id
    if status == "interrupted":
        return (
            f"its process (pid {record.pid}) stopped without finishing the run.\n"
            f"resume with: cadenza resume {run_id}  (or mark it cancelled: cadenza cancel {run_id})"
        )
    if status == "running":
        return f"stop it with: cadenza cancel {run_id}"
    if status in ("failed", "cancelled"):
        return f"resume with: cadenza resume {run_id}"
    return ""


def _step_row(step: StepState, tally: ItemTally | None = None) -> list[str]:
    return [
        step.step_id,
        step.state,
        _attempts(step),
        step.agent or "-",
        "-" if step.duration is None else human_duration(step.duration),
        _detail(step, tally),
    ]


def _failed_items(
    step_id: str, tally: ItemTally, items: Sequence[StepState], run_id: str
) -> list[str]:
    """The first failed items of a mapped step with their errors, then how many more."""
    if not tally.failed:
        return []
    by_id = {i.step_id: i for i in items}
    shown = [by_id[f] for f in tally.failed[:FAILED_ITEMS_SHOWN]]
    lines = ["", f"{step_id}: {len(tally.failed):,} of {tally.total:,} items failed"]
    lines += ["  " + r for r in table(["ITEM", "ATTEMPTS", "ERROR"], [
        [i.step_id, _attempts(i), _one_line(f"{i.error_type}: {i.last_error}")] for i in shown
    ])]  # fmt: skip
    rest = len(tally.failed) - len(shown)
    if rest:
        lines.append(f"  and {rest:,} more (all items: cadenza status {run_id} --items {step_id})")
    return lines


def _gate_lines(run_id: str, gates: Mapping[str, OpenGate], *, now: float) -> list[str]:
    """The open approval gates: prompt, who may decide, when each expires, how to decide."""
    lines = ["waiting for approval:"]
    for gate in gates.values():
        who = ", ".join(gate.approvers) or "anyone"
        if gate.expires_at is None:
            expires = "never expires"
        elif gate.expired(now):
            expires = f"expired {local_time(gate.expires_at)}"
        else:
            left = human_duration(gate.expires_at - now)
            expires = f"expires {local_time(gate.expires_at)} (in {left})"
        lines.append(f"  {gate.step_id}: {_one_line(gate.prompt)}")
        lines.append(f"    approvers: {who}; {expires}")
    lines.append(f"decide with: cadenza approve {run_id} STEP [--reject] [--reason TEXT]")
    return lines


def render_status(
    record: RunRecord,
    status: str,
    steps: Mapping[str, StepState],
    *,
    now: float,
    cost: float | None = None,
    pauses: Sequence[float] = (),
    items_of: str | None = None,
    sub_runs: Sequence[RunRecord] = (),
    gates: Mapping[str, OpenGate] | None = None,
) -> str:
    """The status text: the run, one row per step (a mapped step's items counted in its row,
    its first failed items below the table), and every item of ``items_of`` when asked."""
    counts = run_counts(record, status, steps)
    own, tallies = grouped_steps(steps)
    items = split_steps(steps)[1]
    where = f" ({record.source})" if record.source else ""
    timing = _timing(record, status, pauses, now=now)
    lines = [
        f"run {record.run_id}: {status.upper()}",
        f"  workflow: {record.workflow}{where}",
        f"  started:  {local_time(record.started_at)}, {timing}",
        f"  steps:    {counts_text(counts)}",
    ]
    if record.reason:
        lines.append(f"  reason:   {record.reason}")
    if record.inputs:
        lines.append(f"  inputs:   {output_summary(dict(record.inputs))}")
    if cost is not None:
        lines.append(f"  cost:     ${cost:.4f}")
    headers = ["STEP", "STATE", "ATTEMPTS", "AGENT", "TIME", "DETAIL"]
    gates = gates or {}
    rows = [_step_row(step, tallies.get(sid)) for sid, step in own.items()]
    for row in rows:  # a step waiting at its approval gate
        if row[0] in gates and row[1] == "pending":
            row[1] = "approval"
    lines += ["", *table(headers, rows)]
    for sid, tally in tallies.items():
        lines += _failed_items(sid, tally, items.get(sid, []), record.run_id)
    if items_of is not None:
        mine = items.get(items_of, [])
        lines += ["", f"items of {items_of} ({len(mine):,} started):"]
        lines += ["  " + r for r in table(headers, [_step_row(i) for i in mine])]
    if sub_runs:
        lines += ["", "sub-runs (workflow: steps; cadenza status SUB-RUN for one):"]
        lines += [
            "  " + r for r in table(["RUN", "WORKFLOW", "STATUS", "STEPS"], _tree(record, sub_runs))
        ]
    if gates:
        lines += ["", *_gate_lines(record.run_id, gates, now=now)]
    hint = _hint(record, status)
    if hint:
        lines += ["", hint]
    return "\n".join(lines)


def _tree(record: RunRecord, sub_runs: Sequence[RunRecord]) -> list[list[str]]:
    """One row per sub-run, indented by how deep it is below ``record``'s run."""
    depth = record.run_id.count(".")
    rows = []
    for sub in sorted(sub_runs, key=lambda r: r.run_id):
        indent = "  " * max(0, sub.run_id.count(".") - depth - 1)
        status = effective_status(sub)
        rows.append(
            [indent + sub.run_id, sub.workflow, status, counts_text(dict(sub.counts), short=True)]
        )
    return rows


def find_sub_runs(store: Any, run_id: str) -> list[RunRecord]:
    """The runs of ``run_id``'s sub-workflows, at any depth (their ids extend the run's)."""
    prefix = run_id + "."
    return [r for r in store.list_runs(limit=1_000_000) if r.run_id.startswith(prefix)]


def status_to_dict(
    record: RunRecord,
    status: str,
    steps: Mapping[str, StepState],
    *,
    now: float,
    cost: float | None = None,
    pauses: Sequence[float] = (),
    sub_runs: Sequence[RunRecord] = (),
    gates: Mapping[str, OpenGate] | None = None,
) -> dict[str, Any]:
    data = run_to_dict(
        record, status, now=now, counts=run_counts(record, status, steps), cost_usd=cost
    )
    data["sessions"] = len(pauses) + 1
    data["paused"] = round(sum(pauses), 6)
    data["inputs"] = dict(record.inputs)
    own, tallies = grouped_steps(steps)
    data["steps"] = {
        sid: step.to_dict() | {"items": tallies[sid].to_dict() if sid in tallies else None}
        for sid, step in own.items()
    }
    data["items"] = {
        sid: {i.step_id: i.to_dict() for i in found} for sid, found in split_steps(steps)[1].items()
    }
    data["sub_runs"] = [
        {"run_id": r.run_id, "workflow": r.workflow, "status": effective_status(r)}
        for r in sorted(sub_runs, key=lambda r: r.run_id)
    ]
    data["approvals"] = [gate.to_dict() for gate in (gates or {}).values()]
    return data


def _show_queued(queued: QueuedRun, *, as_json: bool) -> None:
    data = queued_dict(queued)
    if as_json:
        echo_json(data)
        return
    holder = f" by worker {queued.worker}" if queued.worker else ""
    click.echo(
        f"run {queued.run_id} ({data['workflow']}, {queued.entry.path}): {data['status']}{holder}, "
        f"submitted {local_time(queued.entry.submitted_at)}; no step has run yet."
    )


@click.command("status")
@click.argument("run_id", metavar="RUN")
@store_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print the run, its steps and every item as JSON."
)
@click.option(
    "--items",
    "items_of",
    metavar="STEP",
    default=None,
    help="Also list every item of the for_each step STEP, one row each.",
)
@handle_errors
def status(run_id: str, store_url: str | None, as_json: bool, items_of: str | None) -> None:
    """Show run RUN and the state of each of its steps, from the journal.

    Each step shows its state, attempts, agent, time, and its output (cut to
    120 characters; --json has it whole), error or skip reason. A for_each
    step is one row counting its items (``1,234/10,000 items done (3 failed,
    8 in flight)``), its first failed items listed below the table; --items
    STEP lists every item of STEP, --json has them all. The runs of its
    sub-workflows (``workflow:`` steps) are listed as a tree. Exit codes: 0 shown,
    2 unknown run or unreadable journal, or --items naming no for_each step.
    """
    now = time.time()
    with existing_store(store_url) as store:
        queued = unstarted(store, run_id) if store is not None else None
        if queued is not None:  # submitted, not started: nothing in the journal but the queue
            _show_queued(queued, as_json=as_json)
            return
        record = require_run(store, run_id, store_url)
        assert store is not None
        events = store.read_events(run_id)
        sub_runs = find_sub_runs(store, run_id)
    steps, cost, state = step_states(events), _total_cost(events), effective_status(record)
    pauses, gates = run_pauses(events), open_gates(events)
    if items_of is not None and (items_of not in steps or steps[items_of].items is None):
        mapped = [sid for sid, step in steps.items() if step.items is not None]
        known = ", ".join(mapped) if mapped else "none in this run"
        raise click.BadParameter(
            f"{items_of!r} is no for_each step of run {run_id} that expanded "
            f"(for_each steps with items: {known})",
            param_hint="--items",
        )
    if as_json:
        echo_json(
            status_to_dict(
                record,
                state,
                steps,
                now=now,
                cost=cost,
                pauses=pauses,
                sub_runs=sub_runs,
                gates=gates,
            )
        )
    else:
        text = render_status(
            record,
            state,
            steps,
            now=now,
            cost=cost,
            pauses=pauses,
            items_of=items_of,
            sub_runs=sub_runs,
            gates=gates,
        )
        click.echo(text)
