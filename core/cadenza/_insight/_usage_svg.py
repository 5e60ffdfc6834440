"""Agent utilization and spend drawn as one standalone SVG (the dashboard's and the html report's).

One strip per agent: calls in flight over the run as a filled step line,
its ``max_concurrent`` as a dashed line labelled with the number, breaker
and health changes as marked, labelled ticks. Then the run's cumulative
spend as a step line, each budget in US dollars a dashed, labelled line
(the chart's scale reaches the highest budget, so headroom shows). Same
palette and no-colour-only rule as the timeline (``_timeline_svg``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import attrs

from ._usage import AgentUsage, Usage

LABEL_W = 200
STRIP_H = 46
COST_H = 110
MAX_AGENTS = 40
"""Agents drawn; more are counted in a note (a run rarely has so many)."""

STYLE = """
.us text{font:11px system-ui,sans-serif;fill:#0f172a}
.us .inflight{fill:#0072B2;fill-opacity:.35;stroke:#0072B2;stroke-width:1.5}
.us .limit{stroke:#D55E00;stroke-dasharray:6 3;stroke-width:1.5}
.us .spend{fill:none;stroke:#009E73;stroke-width:2}
.us .budget{stroke:#D55E00;stroke-dasharray:6 3;stroke-width:1.2}
.us .change line{stroke:#CC79A7;stroke-width:2}
.us .change.open text{fill:#b91c1c}
.us .frame{fill:#fff;stroke:#e2e8f0}
.us .muted{fill:#64748b}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _f(value: float) -> str:
    return f"{value:.1f}"


def per_pixel(series: Sequence[tuple[float, float]], x: Any) -> list[tuple[float, float, float]]:
    """A step series folded to one point per drawn pixel: (x, highest, last) of its values.

    20,000 calls draw as at most one point per pixel of width, and a spike
    narrower than a pixel still shows at its height.
    """
    out: list[tuple[float, float, float]] = []
    if isinstance(x, Axis):  # x(t) computed inline: no call per point (40,000 of them)
        left, end, width = x.left, x.end, x.width
        pixels = [float(round(left + (end if t > end else t if t > 0.0 else 0.0) / end * width))
                  for t, _ in series]  # fmt: skip
    else:
        pixels = [float(round(x(t))) for t, _ in series]
    at: float | None = None
    high = last = 0.0
    for px, (_, value) in zip(pixels, series, strict=True):
        if px == at:
            high = value if value > high else high
        else:
            if at is not None:
                out.append((at, high, last))
            at, high = px, value
        last = value
    if at is not None:
        out.append((at, high, last))
    return out


@attrs.frozen
class Axis:
    """Seconds to x: ``left`` + ``t`` clamped to [0, ``end``] over ``end``, times ``width``."""

    left: float
    end: float
    width: float

    def __call__(self, t: float | None) -> float:
        end = self.end
        return self.left + (end if t is None else min(max(t, 0.0), end)) / end * self.width


def _agent_strip(out: list[str], a: AgentUsage, y: float, x: Any, plot_w: float) -> None:
    highest = a.peak  # (a max over the profile: once)
    top = max(a.limit or 0, highest, 1)
    h = STRIP_H - 14

    def ya(n: float) -> float:
        return y + 4 + h - n / top * h

    limit = f"max_concurrent {a.limit}" if a.limit is not None else "no max_concurrent"
    label = f"{a.name}: {a.calls} calls, {a.failures} failed"
    out.append(
        f'<g class="agent" data-agent="{_e(a.name)}" data-calls="{a.calls}" '
        f'data-failures="{a.failures}" data-limit="{a.limit if a.limit is not None else ""}" '
        f'data-peak="{highest}">'
        f'<rect class="frame" x="{LABEL_W}" y="{_f(y + 4)}" width="{_f(plot_w)}" height="{h}"/>'
        f'<text x="4" y="{_f(y + 16)}">{_e(label)}</text>'
        f'<text class="muted" x="4" y="{_f(y + 30)}">{_e(limit)}, peak {highest}</text>'
    )
    if a.profile:
        points = [f"{_f(x(0.0))},{_f(ya(0))}"]
        level: float = 0
        for px, peak, last in per_pixel(a.profile, x):
            points += [f"{_f(px)},{_f(ya(level))}", f"{_f(px)},{_f(ya(peak))}"]
            if last != peak:
                points.append(f"{_f(px)},{_f(ya(last))}")
            level = last
        points.append(f"{_f(x(None))},{_f(ya(level))}")
        points.append(f"{_f(x(None))},{_f(ya(0))}")
        out.append(f'<polygon class="inflight" points="{" ".join(points)}"><title>calls in '
                   f"flight over time (peak {highest})</title></polygon>")  # fmt: skip
    if a.limit is not None:
        out.append(
            f'<line class="limit" x1="{LABEL_W}" y1="{_f(ya(a.limit))}" x2="{_f(x(None))}" '
            f'y2="{_f(ya(a.limit))}"><title>max_concurrent {a.limit}</title></line>'
        )
    for t, what, why in a.changes:
        tip = f"{a.name}: {what} at {t:.2f}s" + (f" ({why})" if why else "")
        out.append(
            f'<g class="change {_e(what)}" data-state="{_e(what)}"><title>{_e(tip)}</title>'
            f'<line x1="{_f(x(t))}" y1="{_f(y + 2)}" x2="{_f(x(t))}" y2="{_f(y + 4 + h)}"/>'
            f'<text x="{_f(x(t) + 3)}" y="{_f(y + 14)}">{_e(what)}</text></g>'
        )
    out.append("</g>")


def _cost_chart(out: list[str], usage: Usage, y: float, x: Any, plot_w: float) -> None:
    spent = usage.spend[-1][1] if usage.spend else 0.0
    top = max([spent, *usage.budgets.values(), 1e-9])
    h = COST_H - 20

    def yc(usd: float) -> float:
        return y + 4 + h - usd / top * h

    out.append(
        f'<g class="cost" data-spent="{spent:.6f}">'
        f'<rect class="frame" x="{LABEL_W}" y="{_f(y + 4)}" width="{_f(plot_w)}" height="{h}"/>'
        f'<text x="4" y="{_f(y + 16)}">cost: ${spent:.4f}</text>'
        f'<text class="muted" x="4" y="{_f(y + 30)}">cumulative, against budgets</text>'
    )
    if usage.spend:
        points = [f"{_f(x(0.0))},{_f(yc(0.0))}"]
        level = 0.0
        for px, _peak, usd in per_pixel(usage.spend, x):
            points += [f"{_f(px)},{_f(yc(level))}", f"{_f(px)},{_f(yc(usd))}"]
            level = usd
        points.append(f"{_f(x(None))},{_f(yc(level))}")
        out.append(f'<polyline class="spend" points="{" ".join(points)}"><title>spent so far'
                   "</title></polyline>")  # fmt: skip
    for i, (label, usd) in enumerate(sorted(usage.budgets.items(), key=lambda kv: -kv[1])):
        yy = yc(usd)
        out.append(
            f'<g class="budget-line" data-budget="{_e(label)}" data-usd="{usd}">'
            f'<line class="budget" x1="{LABEL_W}" y1="{_f(yy)}" x2="{_f(x(None))}" y2="{_f(yy)}"/>'
            f'<text x="{_f(LABEL_W + 4 + 150 * (i % 4))}" y="{_f(yy - 2)}">'
            f"{_e(label)} budget ${usd:g}</text></g>"
        )
    if not usage.spend and not usage.budgets:
        out.append(f'<text class="muted" x="{LABEL_W + 8}" y="{_f(y + 40)}">no cost reported'
                   "</text>")  # fmt: skip
    out.append("</g>")


def render_usage_svg(usage: Usage, *, width: int = 1100) -> str:
    """The agents' strips and the spend chart, as one SVG document."""
    plot_w = max(width - LABEL_W - 10, 100)
    end = max(usage.now, 1e-6)

    x = Axis(LABEL_W, end, plot_w)

    body: list[str] = []
    y = 4.0
    agents = sorted(usage.agents.values(), key=lambda a: a.name)
    for a in agents[:MAX_AGENTS]:
        _agent_strip(body, a, y, x, plot_w)
        y += STRIP_H
    if len(agents) > MAX_AGENTS:
        body.append(f'<text class="muted" x="4" y="{_f(y + 12)}">and {len(agents) - MAX_AGENTS}'
                    " more agents (see cadenza report --json)</text>")  # fmt: skip
        y += 18
    _cost_chart(body, usage, y, x, plot_w)
    y += COST_H
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="us" width="{width}" height="{_f(y)}" '
        f'viewBox="0 0 {width} {_f(y)}" role="img" aria-label="agent utilization and cost">'
        f"<title>Agent utilization and cost</title><style>{STYLE}</style>"
        + "".join(body)
        + "</svg>"
    )


__all__ = ["render_usage_svg"]
