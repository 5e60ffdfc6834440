"""The timeline drawn as one standalone SVG: rows, queued/running bars, the critical path.

Plain SVG text with its own ``<style>``: the dashboard puts it in the page as it
comes (then opens a bar's details from its ``data-*`` attributes), and
``cadenza report --format svg`` writes it to a file; no script, no font, no
network. Colours are the Okabe-Ito palette (told apart with any colour
vision) and never the only cue: queued time is hatched, failed attempts
cross-hatched and marked ✗, running ones dashed, the critical path outlined
in black with its rows marked ◆ and labelled.

A drawing stays small whatever the run's size: at most ``limit`` rows from
``offset`` (the page shows which and pages through them), a ``for_each``
step's items folded into their step's row unless the step is in ``open``,
and bars closer together than ``MERGE_PX`` merged into one block that says
how many attempts it holds (a zoomed-out view of thousands of attempts).
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from typing import Any

import attrs

from ._timeline import Bar, Row, Timeline

LABEL_W = 200
AXIS_H = 26
LANE_H = 16
ROW_GAP = 4
MERGE_PX = 2.0
"""Bars whose drawn spans come closer than this many pixels are drawn as one block."""
ROWS_PER_PAGE = 200
OUTCOME_RANK = {"failed": 5, "interrupted": 4, "cancelled": 3, "running": 2, "skipped": 1}

STYLE = """
.tl text{font:11px system-ui,sans-serif;fill:#0f172a}
.tl .axis line{stroke:#cbd5e1}.tl .axis text{fill:#475569}
.tl .now{stroke:#0f172a;stroke-dasharray:2 2}
.tl rect.queued{fill:url(#tl-hatch);stroke:#b45309;stroke-width:.5}
.tl rect.run{stroke:#1e293b;stroke-width:.5}
.tl .outcome-succeeded rect.run{fill:#009E73}
.tl .outcome-failed rect.run{fill:#D55E00}
.tl .outcome-failed rect.mark{fill:url(#tl-cross)}
.tl .outcome-running rect.run{fill:#0072B2;stroke-dasharray:3 2;stroke-width:1}
.tl .outcome-cancelled rect.run,.tl .outcome-interrupted rect.run{fill:#CC79A7}
.tl .outcome-skipped rect.run{fill:#BBBBBB}
.tl .kind-fallback rect.run{fill:#56B4E9}
.tl .kind-cache rect.run{fill:#F0E442}
.tl g.row.critical rect.band{fill:#fef9c3}
.tl g.row.critical text.label{font-weight:700}
.tl g.bar.critical rect.run{stroke:#000;stroke-width:2}
.tl g.bar{cursor:pointer}
.tl g.bar:hover rect.run,.tl g.bar.selected rect.run,
.tl g.bar:focus rect.run{stroke:#2563eb;stroke-width:2.5}
.tl g.bar:focus{outline:none}
.tl text.tag{font-size:9px;fill:#fff;pointer-events:none}
.tl text.group{cursor:pointer;text-decoration:underline}
"""

DEFS = (
    '<defs><pattern id="tl-hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="5" height="5" fill="#fde68a"/>'
    '<line x1="0" y1="0" x2="0" y2="5" stroke="#b45309" stroke-width="1.5"/></pattern>'
    '<pattern id="tl-cross" width="6" height="6" patternUnits="userSpaceOnUse">'
    '<path d="M0 0L6 6M6 0L0 6" stroke="#fff" stroke-width="1"/></pattern></defs>'
)
"""Hatching for queued time, cross-hatching laid over failed attempts."""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}"


@attrs.define(kw_only=True)
class View:
    """What part of the timeline to draw: a time window, a page of rows, open groups."""

    lo: float = 0.0
    hi: float | None = None
    """None: up to the timeline's ``now``."""
    now: float | None = None
    """Where the run is (a live view passes the wall clock); None: the last event."""
    offset: int = 0
    limit: int = ROWS_PER_PAGE
    open: Collection[str] = ()
    critical_only: bool = False
    """Draw only the critical path's rows."""
    width: int = 1100


@attrs.define(kw_only=True)
class _Block:
    """Bars merged for drawing: the first bar's details, or a count of many."""

    lane: int
    queued: float
    start: float
    end: float
    bars: list[Bar]
    critical: bool


def visible_rows(
    timeline: Timeline, open_groups: Collection[str], *, critical_only: bool = False
) -> list[Row]:
    """Rows in drawing order: top-level steps, each open ``for_each`` step's items after it.

    ``critical_only``: the critical path's rows alone (a big run's chain, on one page).
    """
    children: dict[str, list[Row]] = {}
    for row in timeline.rows.values():
        if row.group is not None:
            children.setdefault(row.group, []).append(row)
    out: list[Row] = []
    for row in timeline.rows.values():
        if row.group is None and (row.critical or not critical_only):
            out.append(row)
            if row.step_id in open_groups:
                out.extend(children.get(row.step_id, ()))
    return out


def _blocks(
    bars: Sequence[Bar], x: Any, now: float, *, critical: bool, one_lane: bool
) -> list[_Block]:
    """Bars per lane, merged where they come closer than MERGE_PX once drawn."""
    blocks: list[_Block] = []
    last: dict[int, _Block] = {}
    for bar in sorted(bars, key=lambda b: (b.queued, b.start)):
        lane = 0 if one_lane else bar.lane
        end = now if bar.end is None else bar.end
        prev = last.get(lane)
        if prev is not None and x(bar.queued) - x(prev.end) < MERGE_PX:
            prev.end = max(prev.end, end)
            prev.bars.append(bar)
            continue
        block = _Block(lane=lane, queued=bar.queued, start=bar.start, end=end, bars=[bar],
                       critical=critical)  # fmt: skip
        blocks.append(block)
        last[lane] = block
    return blocks


def _bar_title(row: Row, bar: Bar) -> str:
    what = {"fallback": "fallback", "cache": "cache hit", "hedge": "hedged attempt"}.get(
        bar.kind, "attempt"
    )
    lines = [f"{row.step_id} — {what} {bar.attempt or ''} {bar.outcome}".replace("  ", " ")]
    if bar.agent:
        lines.append(f"agent {bar.agent}")
    queued = bar.start - bar.queued
    if queued > 0:
        lines.append(f"queued {queued:.2f}s" + (f" for {bar.waited_for}" if bar.waited_for else ""))
    end = bar.end
    lines.append(f"ran {end - bar.start:.2f}s" if end is not None else "running")
    if bar.error:
        lines.append(bar.error)
    if bar.cost_usd:
        lines.append(f"cost ${bar.cost_usd:.4f}")
    return "\n".join(lines)


def _draw_block(out: list[str], row: Row, block: _Block, x: Any, y: float) -> None:
    bars = block.bars
    first = bars[0]
    outcome = max((b.outcome for b in bars), key=lambda o: OUTCOME_RANK.get(o, 0))
    kind = first.kind if len(bars) == 1 else "many"
    crit = " critical" if block.critical else ""
    yy = y + block.lane * LANE_H + 2
    h = LANE_H - 4
    x_q, x_s, x_e = x(block.queued), x(block.start), x(block.end)
    x_s = min(max(x_s, x_q), x_e)
    if len(bars) == 1:
        data = (
            f' data-step="{_e(row.step_id)}" data-attempt="{first.attempt}"'
            f' data-agent="{_e(first.agent)}" data-outcome="{_e(first.outcome)}"'
            f' data-kind="{_e(first.kind)}" data-waited-for="{_e(first.waited_for)}"'
            f' data-queued="{first.start - first.queued:.3f}"'
            f' data-ran="{"" if first.end is None else f"{first.end - first.start:.3f}"}"'
            f' data-error="{_e(first.error)}" data-cost="{first.cost_usd:.6f}"'
        )
        title = _bar_title(row, first)
    else:
        failed = sum(b.outcome == "failed" for b in bars)
        data = f' data-step="{_e(row.step_id)}" data-count="{len(bars)}" data-outcome="{outcome}"'
        title = f"{row.step_id}: {len(bars)} attempts merged at this zoom, {failed} failed"
    out.append(f'<g class="bar outcome-{_e(outcome)} kind-{kind}{crit}"{data} tabindex="0" '
               f'role="button" aria-label="{_e(title)}"><title>{_e(title)}</title>')  # fmt: skip
    if x_s - x_q >= 0.5:
        out.append(f'<rect class="queued" x="{_num(x_q)}" y="{_num(yy)}" '
                   f'width="{_num(x_s - x_q)}" height="{h}"/>')  # fmt: skip
    w = max(x_e - x_s, 1.0)
    out.append(f'<rect class="run" x="{_num(x_s)}" y="{_num(yy)}" width="{_num(w)}" height="{h}"/>')
    if outcome == "failed":
        out.append(f'<rect class="mark" x="{_num(x_s)}" y="{_num(yy)}" '
                   f'width="{_num(w)}" height="{h}"/>')  # fmt: skip
    tag = {"failed": "✗", "cancelled": "⊘", "interrupted": "⊘"}.get(outcome, "")
    if len(bars) > 1:
        tag = f"x{len(bars)}"
    elif first.kind == "fallback":
        tag = "fallback"
    elif first.kind == "hedge":
        tag = "hedge"
    if tag and w >= 10 * len(tag):
        out.append(f'<text class="tag" x="{_num(x_s + 2)}" y="{_num(yy + h - 3)}">{_e(tag)}</text>')
    out.append("</g>")


def _ticks(lo: float, hi: float) -> list[float]:
    span = max(hi - lo, 1e-6)
    step = 1e-3
    for candidate in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30,
                      60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400):  # fmt: skip
        step = candidate
        if span / candidate <= 10:
            break
    first = (lo // step) * step
    return [first + i * step for i in range(int(span / step) + 2) if lo <= first + i * step <= hi]


def _tick_label(value: float) -> str:
    if value >= 3600:
        return f"{int(value) // 3600}h{int(value) % 3600 // 60:02d}"
    if value >= 60:
        return f"{int(value) // 60}m{int(value) % 60:02d}s"
    return f"{value:g}s"


def _row_label(row: Row, *, is_group: bool, opened: bool) -> str:
    """The row's name (◆ on the critical path; ▸/▾ and a count for a ``for_each`` step)."""
    label = row.step_id if row.group is None else "  " + row.step_id
    if row.critical:
        label = "◆ " + label
    if is_group:
        label = f"{'▾' if opened else '▸'} {label} ({row.items:,} items)"
    if len(label) > 32:
        label = label[:31] + "…"
    toggle = f' data-toggle="{_e(row.step_id)}"' if is_group else ""
    title = f"{row.step_id}: {row.state}" + (" (critical path)" if row.critical else "")
    if row.reason and not is_group:  # a for_each step's reason lists its items: the table has it
        title += f" — {row.reason}"
    cls = "label group" if is_group else "label"
    return (
        f'<text class="{cls}" x="4" y="{LANE_H - 4}"{toggle}>'
        f"{_e(label)}<title>{_e(title)}</title></text>"
    )


def render_timeline_svg(timeline: Timeline, view: View | None = None) -> str:
    """The timeline as an SVG document (``<svg ...>...</svg>``) within ``view``."""
    view = view or View()
    now = timeline.now if view.now is None else max(view.now, timeline.now)
    lo = max(view.lo, 0.0)
    hi = now if view.hi is None else view.hi
    if hi <= lo:
        hi = lo + 1.0
    plot_w = max(view.width - LABEL_W - 10, 100)
    scale = plot_w / (hi - lo)

    def x(t: float) -> float:
        return LABEL_W + (min(max(t, lo), hi) - lo) * scale

    rows = visible_rows(timeline, view.open, critical_only=view.critical_only)
    page = rows[view.offset : view.offset + view.limit]
    crit_ids = set(timeline.critical_path)
    body: list[str] = []
    y = float(AXIS_H)
    for row in page:
        is_group = bool(row.items) and row.group is None
        opened = row.step_id in view.open
        own = row.bars
        if is_group and not opened:
            own = [b for item in timeline.items_of(row.step_id) for b in item.bars] + row.bars
        lanes = 1 if is_group and not opened else row.lanes
        height = lanes * LANE_H + ROW_GAP
        crit = " critical" if row.critical else ""
        body.append(
            f'<g class="row state-{_e(row.state)}{crit}" data-step="{_e(row.step_id)}"'
            f' data-group="{_e(row.group or "")}" data-items="{row.items}"'
            f' transform="translate(0,{_num(y)})">'
        )
        body.append(f'<rect class="band" x="0" y="0" width="{view.width}" height="{height}" '
                    f'fill="{"#f8fafc" if len(body) % 2 else "#ffffff"}"/>')  # fmt: skip
        body.append(_row_label(row, is_group=is_group, opened=opened))
        for block in _blocks(own, x, now, critical=row.step_id in crit_ids,
                             one_lane=is_group and not opened):  # fmt: skip
            if block.end < lo or block.queued > hi:
                continue
            _draw_block(body, row, block, x, 0.0)
        body.append("</g>")
        y += height
    total_h = y + 6
    axis = [f'<g class="axis"><line x1="{LABEL_W}" y1="{AXIS_H - 4}" x2="{view.width - 10}" '
            f'y2="{AXIS_H - 4}"/>']  # fmt: skip
    for t in _ticks(lo, hi):
        at = _num(x(t))
        axis.append(
            f'<line x1="{at}" y1="{AXIS_H - 8}" x2="{at}" y2="{_num(total_h)}" '
            f'stroke-opacity=".35"/><text x="{_num(x(t) + 2)}" y="{AXIS_H - 10}">'
            f"{_tick_label(t)}</text>"
        )
    axis.append("</g>")
    marker = ""
    if lo <= now <= hi and timeline.status == "running":
        marker = (f'<line class="now" x1="{_num(x(now))}" y1="{AXIS_H - 4}" x2="{_num(x(now))}" '
                  f'y2="{_num(total_h)}"/>')  # fmt: skip
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tl" width="{view.width}" '
        f'height="{_num(total_h)}" viewBox="0 0 {view.width} {_num(total_h)}" '
        f'data-run="{_e(timeline.run_id)}" data-status="{_e(timeline.status)}" '
        f'data-from="{lo:.3f}" data-to="{hi:.3f}" data-now="{now:.3f}" '
        f'data-rows="{len(rows)}" data-offset="{view.offset}" data-shown="{len(page)}" '
        f'data-critical="{_e(" ".join(timeline.critical_path))}" role="img" '
        f'aria-label="timeline of run {_e(timeline.run_id)}">'
        f"<title>Timeline of run {_e(timeline.run_id)}</title><style>{STYLE}</style>{DEFS}"
    )
    return head + "".join(axis) + "".join(body) + marker + "</svg>"


__all__ = ["ROWS_PER_PAGE", "View", "render_timeline_svg", "visible_rows"]
