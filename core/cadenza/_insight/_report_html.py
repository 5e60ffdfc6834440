"""``cadenza report RUN --format html``: the report as one self-contained page.

One file, nothing fetched: inline CSS, the timeline and the agents' usage
drawn as inline SVG (the same drawings the dashboard shows), the critical
path and the recommendations as tables, and the text report whole. No
script, no font, no link out, so it can be attached to an issue or kept as a
CI artifact and opened anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ._report import Report
from ._timeline import run_timeline
from ._timeline_svg import View, render_timeline_svg, visible_rows
from ._usage import build_usage
from ._usage_svg import render_usage_svg

MAX_ROWS = 2000
"""Timeline rows in a report (its steps, items folded); more are counted, not drawn."""
WIDTH = 1200

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#0f172a}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #e2e8f0;padding:3px 10px;text-align:left}
.chart{overflow-x:auto;border:1px solid #e2e8f0;border-radius:8px}
.chart svg{display:block}
pre{background:#f1f5f9;padding:8px;border-radius:6px;white-space:pre-wrap;font-size:12px}
.sev-high{color:#b91c1c;font-weight:700}.sev-medium{color:#b45309}.muted{color:#64748b}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def timeline_report_svg(
    events: Sequence[Mapping[str, Any]], *, workflow: Any = None, width: int = WIDTH
) -> str:
    """The whole run's timeline (up to MAX_ROWS rows) as one SVG: ``--format svg``."""
    timeline = run_timeline(events, workflow=workflow)
    return render_timeline_svg(timeline, View(limit=MAX_ROWS, width=width))


def render_report_html(
    report: Report, events: Sequence[Mapping[str, Any]], *, workflow: Any = None, text: str = ""
) -> str:
    """The whole report page: summary, timeline, agents and cost, critical path, advice, text."""
    timeline = run_timeline(events, workflow=workflow)
    rows = len(visible_rows(timeline, ()))
    tl_svg = render_timeline_svg(timeline, View(limit=MAX_ROWS, width=WIDTH))
    usage = build_usage(events, workflow=workflow, timeline=timeline)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>run {_e(report.run_id)} — cadenza report</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Run {_e(report.run_id)}: {_e(report.status)}</h1>",
        f'<p id="summary">workflow <b>{_e(report.workflow)}</b>, '
        f"{report.duration:.2f}s, {len(report.steps)} steps, cost ${report.cost_usd:.4f}, "
        f"{report.tokens} tokens</p>",
        "<h2>Timeline</h2>",
        '<p class="muted">hatched: queued (waiting for a slot, a rate limit, a budget or a '
        "breaker); solid: running, green succeeded, orange ✗ failed, pink ⊘ cancelled; "
        "◆ and a black outline: the critical path. Hover a bar for its details.</p>",
        f'<div class="chart" id="timeline">{tl_svg}</div>',
    ]
    if rows > MAX_ROWS:
        parts.append(f'<p class="muted">first {MAX_ROWS:,} of {rows:,} rows drawn</p>')
    parts += [
        "<h2>Agents and cost</h2>",
        f'<div class="chart" id="usage">{render_usage_svg(usage, width=WIDTH)}</div>',
        _critical_path_table(report),
        _recommendations(report),
    ]
    if text:
        parts += ["<h2>Full report</h2>", f"<pre>{_e(text)}</pre>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _critical_path_table(report: Report) -> str:
    head = (
        f"<h2>Critical path ({_e(report.critical_path_source)})</h2>"
        '<table id="critical-path"><thead><tr><th>Step</th><th>Agent</th><th>Ready</th>'
        "<th>Queue wait</th><th>Backoff</th><th>Run time</th><th>Ended</th></tr></thead><tbody>"
    )
    rows = "".join(
        f'<tr data-step="{_e(e.step_id)}"><td>{_e(e.step_id)}</td><td>{_e(e.agent or "-")}</td>'
        f"<td>{'-' if e.ready_at is None else f'{e.ready_at:.2f}s'}</td>"
        f"<td>{e.queue_wait:.2f}s</td><td>{e.backoff:.2f}s</td><td>{e.run_time:.2f}s</td>"
        f"<td>{e.ended_at:.2f}s</td></tr>"
        for e in report.critical_path
    )
    return head + rows + "</tbody></table>"


def _recommendations(report: Report) -> str:
    if not report.recommendations:
        return "<h2>Recommendations</h2><p>none: no agent saturated, no retry storm.</p>"
    items = "".join(
        f'<li class="sev-{_e(r.severity)}" data-kind="{_e(r.kind)}">[{_e(r.severity)}] '
        f"{_e(r.kind)}: {_e(r.message)}</li>"
        for r in report.recommendations
    )
    return f'<h2>Recommendations</h2><ul id="recommendations">{items}</ul>'


__all__ = ["MAX_ROWS", "render_report_html", "timeline_report_svg"]
