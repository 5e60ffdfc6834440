"""``cadenza status RUN``: one run's record and every step's state, rebuilt from its journal."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

from .._journal._decisions import OpenGate, open_gates
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
    require_run,
    table,
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


def _detail(step: StepState) -> str:
    """The last column of a step's row: its output, error or reason."""
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
    gates: Mapping[str, OpenGate] | None = None,
) -> str:
    counts = run_counts(record, status, steps)
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
    rows = [
        [
            step.step_id,
            "approval" if step.step_id in gates and step.state == "pending" else step.state,
            _attempts(step),
            step.agent or "-",
            "-" if step.duration is None else human_duration(step.duration),
            _detail(step),
        ]
        for step in steps.values()
    ]
    lines += ["", *table(headers, rows)]
    if gates:
        lines += ["", *_gate_lines(record.run_id, gates, now=now)]
    hint = _hint(record, status)
    if hint:
        lines += ["", hint]
    return "\n".join(lines)


def status_to_dict(
    record: RunRecord,
    status: str,
    steps: Mapping[str, StepState],
    *,
    now: float,
    cost: float | None = None,
    pauses: Sequence[float] = (),
    gates: Mapping[str, OpenGate] | None = None,
) -> dict[str, Any]:
    data = run_to_dict(
        record, status, now=now, counts=run_counts(record, status, steps), cost_usd=cost
    )
    data["sessions"] = len(pauses) + 1
    data["paused"] = round(sum(pauses), 6)
    data["inputs"] = dict(record.inputs)
    data["steps"] = {sid: step.to_dict() for sid, step in steps.items()}
    data["approvals"] = [gate.to_dict() for gate in (gates or {}).values()]
    return data


@click.command("status")
@click.argument("run_id", metavar="RUN")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the run and its steps as JSON.")
@handle_errors
def status(run_id: str, store_url: str | None, as_json: bool) -> None:
    """Show run RUN and the state of each of its steps, from the journal.

    Each step shows its state, attempts, agent, time, and its output (cut to
    120 characters; --json has it whole), error or skip reason. Exit codes:
    0 shown, 2 unknown run or unreadable journal.
    """
    now = time.time()
    with existing_store(store_url) as store:
        record = require_run(store, run_id, store_url)
        assert store is not None
        events = store.read_events(run_id)
    steps, cost, state = step_states(events), _total_cost(events), effective_status(record)
    pauses, gates = run_pauses(events), open_gates(events)
    if as_json:
        data = status_to_dict(record, state, steps, now=now, cost=cost, pauses=pauses, gates=gates)
        echo_json(data)
    else:
        click.echo(
            render_status(record, state, steps, now=now, cost=cost, pauses=pauses, gates=gates)
        )
