"""``cadenza report RUN``: critical path, waits, agent load, retries, cost and recommendations."""

from __future__ import annotations

from collections.abc import Sequence

import click

from .._insight._report import NOTICEABLE_WAIT, Report, build_report, workflow_from_source
from .._insight._report_html import render_report_html, timeline_report_svg
from ._common import echo_json, get_plugins, handle_errors
from ._execute import store_option
from ._history import existing_store, human_duration, require_run, table

SPARK = " .:-=+*#%@"
"""Sparkline levels, from idle to at the limit (ASCII, so any terminal shows it)."""
FORMATS = ("text", "json", "html", "svg")
TOP_WAITS = 5
FAILED_ITEMS_NAMED = 3
"""How many failed items of a for_each step the report names before counting the rest."""


def sparkline(values: Sequence[float]) -> str:
    """One character per slice: utilization 0 (blank) to 1 or more (``@``)."""
    top = len(SPARK) - 1
    return "".join(SPARK[min(top, round(max(v, 0.0) * top))] for v in values)


def _t(seconds: float | None) -> str:
    return "-" if seconds is None else human_duration(seconds)


def duration_line(report: Report) -> str:
    """The run's duration; for a resumed run, its sessions and the pauses left out."""
    text = human_duration(report.duration)
    if not report.pauses:
        return text
    at = ", ".join(human_duration(p.at) for p in report.pauses)
    return (
        f"{text} running, in {report.sessions} sessions "
        f"(paused {human_duration(report.paused)} at {at}, not counted)"
    )


def cancelled_line(report: Report) -> str:
    """Which attempts were cut off in flight when the run stopped, or ``""``."""
    cut = {sid: s.cancelled_attempts for sid, s in report.steps.items() if s.cancelled_attempts}
    if not cut:
        return ""
    total = sum(cut.values())
    return (
        f"{total} attempt{'s' if total != 1 else ''} in flight when the run stopped "
        f"({', '.join(cut)})"
    )


def render_report(report: Report, *, note: str = "") -> str:
    """The report as text: a summary, then one section per thing to look at."""
    lines = _summary(report)
    lines += _critical_path_section(report, note)
    lines += _items_section(report)
    lines += _waits_section(report)
    lines += _agents_section(report)
    lines += _retries_section(report)
    lines += _degraded_section(report)
    lines += _recommendations_section(report)
    return "\n".join(lines)


def _summary(report: Report) -> list[str]:
    """Status, workflow, duration, cut-off attempts and cost: the run at a glance."""
    lines = [
        f"run {report.run_id}: {report.status.upper()}",
        f"  workflow: {report.workflow}",
        f"  duration: {duration_line(report)}",
    ]
    cancelled = cancelled_line(report)
    if cancelled:
        lines.append(f"  cut off:  {cancelled}")
    if report.cost_usd or report.tokens:
        lines.append(f"  cost:     ${report.cost_usd:.4f}, {report.tokens} tokens")
    return lines


def _critical_path_section(report: Report, note: str) -> list[str]:
    """The chain that set the run's duration, with where each step's time went."""
    source = "from needs" if report.critical_path_source == "needs" else "inferred from timing"
    lines = ["", f"critical path ({source}):"]
    if note:
        lines.append(f"  note: {note}")
    rows = [
        [
            e.step_id,
            e.agent or "-",
            _t(e.ready_at),
            human_duration(e.queue_wait),
            human_duration(e.backoff),
            human_duration(e.run_time),
            _t(e.ended_at),
        ]
        for e in report.critical_path
    ]
    headers = ["STEP", "AGENT", "READY", "WAIT", "BACKOFF", "RUN", "END"]
    lines += ["  " + r for r in table(headers, rows)] if rows else ["  (no step ran)"]
    return lines


def _items_section(report: Report) -> list[str]:
    """``for_each`` steps: their items by how they ended, the first failed ones named."""
    mapped = [s for s in report.steps.values() if s.items is not None]
    if not mapped:
        return []
    rows = []
    for s in mapped:
        counts = s.item_counts or {}
        failed = ", ".join(s.failed_items[:FAILED_ITEMS_NAMED])
        if len(s.failed_items) > FAILED_ITEMS_NAMED:
            failed += f" and {len(s.failed_items) - FAILED_ITEMS_NAMED:,} more"
        rows.append(
            [
                s.step_id,
                f"{s.items:,}",
                *(f"{counts.get(k, 0):,}" for k in ("succeeded", "failed", "skipped")),
                f"{counts.get('cancelled', 0) + counts.get('unfinished', 0):,}",
                f"{s.attempts:,}",
                human_duration(s.total) if s.total is not None else "-",
                failed or "-",
            ]
        )
    headers = ["STEP", "ITEMS", "OK", "FAILED", "SKIPPED", "NOT DONE", "ATTEMPTS", "SPAN",
               "FAILED ITEMS"]  # fmt: skip
    return [
        "",
        "for_each steps (items folded into their step everywhere else):",
        *("  " + r for r in table(headers, rows)),
    ]


def _waits_section(report: Report) -> list[str]:
    """The longest queue waits, against run time: where capacity was short."""
    waits = sorted(
        (s for s in report.steps.values() if s.queue_wait >= NOTICEABLE_WAIT),
        key=lambda s: s.queue_wait,
        reverse=True,
    )[:TOP_WAITS]
    if not waits:
        return []
    rows = [
        [s.step_id, s.waited_for or "-", human_duration(s.queue_wait), human_duration(s.run_time)]
        for s in waits
    ]
    return [
        "",
        "longest queue waits (ready to start, vs time running):",
        *("  " + r for r in table(["STEP", "AGENT", "WAIT", "RUN"], rows)),
    ]


def _agents_section(report: Report) -> list[str]:
    """Each agent's calls, limit and load over the run: which one is the bottleneck."""
    if not report.agents:
        return []
    rows = [
        [
            a.name,
            str(a.calls),
            str(a.failures),
            str(a.limit) if a.limit else f"peak {a.peak}",
            f"{a.at_limit * 100:.0f}%",
            human_duration(a.busy_time),
            human_duration(a.waited),
            f"${a.cost_usd:.4f}",
            f"|{sparkline(a.utilization)}|",
        ]
        for a in report.agents.values()
    ]
    headers = ["AGENT", "CALLS", "FAILED", "LIMIT", "AT LIMIT", "BUSY", "WAITED", "COST", "LOAD"]
    return [
        "",
        f"agents (utilization over the run, {report.buckets} slices):",
        *("  " + r for r in table(headers, rows)),
    ]


def _retries_section(report: Report) -> list[str]:
    """Steps with failed or cut-off attempts: time lost to retries."""
    retried = [s for s in report.steps.values() if s.failed_attempts or s.cancelled_attempts]
    if not retried:
        return []
    title = "retries:" if any(s.failed_attempts for s in retried) else "attempts:"
    cancelled_column = any(s.cancelled_attempts for s in retried)
    headers = ["STEP", "ATTEMPTS", "FAILED", "LAST ERROR", "BACKOFF", "STATE"]
    if cancelled_column:
        headers.insert(3, "CANCELLED")
    rows = []
    for s in retried:
        row = [
            s.step_id,
            str(s.attempts),
            str(s.failed_attempts),
            s.error_type or "-",
            human_duration(s.backoff),
            s.state,
        ]
        if cancelled_column:
            row.insert(3, str(s.cancelled_attempts))
        rows.append(row)
    return ["", title, *("  " + r for r in table(headers, rows))]


def _degraded_section(report: Report) -> list[str]:
    """Steps whose output came from a degraded fallback, so it is not the real answer."""
    degraded = [s for s in report.steps.values() if s.degraded]
    if not degraded:
        return []
    return [
        "",
        "degraded steps:",
        *(f"  {s.step_id} (from {s.degraded_source or '?'})" for s in degraded),
    ]


def _recommendations_section(report: Report) -> list[str]:
    """What to change, most severe first (or that nothing needs changing)."""
    lines = ["", "recommendations:"]
    if report.recommendations:
        lines += [f"  [{r.severity}] {r.kind}: {r.message}" for r in report.recommendations]
    else:
        lines.append("  none: no agent saturated, no retry storm, nothing degraded")
    return lines


@click.command("report")
@click.argument("run_id", metavar="RUN")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (--format json).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="text (default), json, html (one self-contained page: timeline, agents and cost, "
    "the report) or svg (the timeline alone).",
)
@handle_errors
def report(run_id: str, store_url: str | None, as_json: bool, fmt: str | None) -> None:
    """Explain where run RUN spent its time and money, and what to change.

    Shows the critical path (each step's queue wait, backoff and run time),
    the longest waits, each agent's load over the run, retries, cost, degraded
    steps, and recommendations derived from those numbers. The critical path
    follows the workflow's needs when its stored source still loads, and is
    inferred from timing otherwise. ``--format html`` writes one
    self-contained page (no network) with the timeline and the agents' load
    and cost drawn; ``--format svg`` the timeline alone: redirect either to a
    file. Exit codes: 0 shown, 2 unknown run or unreadable journal or
    conflicting options.
    """
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} ask for two formats: give one")
    fmt = "json" if as_json else (fmt or "text")
    with existing_store(store_url) as store:
        record = require_run(store, run_id, store_url)
        assert store is not None
        events = store.read_events(run_id)
        source = store.read_source(run_id)
    workflow, why = workflow_from_source(
        source, plugins=get_plugins(), workflow=record.workflow, filename=record.source
    )
    if fmt == "svg":
        click.echo(timeline_report_svg(events, workflow=workflow))
        return
    built = build_report(events, workflow=workflow)
    if fmt == "json":
        data = built.to_dict()
        data["note"] = why
        echo_json(data)
    elif fmt == "html":
        text = render_report(built, note=why)
        click.echo(render_report_html(built, events, workflow=workflow, text=text), nl=False)
    else:
        click.echo(render_report(built, note=why))
