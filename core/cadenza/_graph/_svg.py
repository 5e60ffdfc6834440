"""Draw a workflow's DAG as SVG or a self-contained HTML page.

Two engines: Graphviz's ``dot`` when it is installed (``engine="graphviz"``,
or ``"auto"`` finding ``dot`` on PATH), else the built-in renderer: a layered
layout from :mod:`cadenza._graph._layout`, boxes sized by their text, edges as
cubic Béziers with arrowheads, colours by what a step ``uses`` (an agent or a
capability) and a legend. Output is deterministic: the same workflow gives the
same bytes. Nothing is fetched: the HTML page embeds its SVG, style and script.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import zlib
from typing import TYPE_CHECKING, Literal

import attrs

from .._errors import GraphvizError
from ._dag import _dot_string, _label_lines, workflow_needs
from ._layout import Direction, Layout, layered_layout

if TYPE_CHECKING:
    from .._spec._workflow import Workflow

Engine = Literal["auto", "graphviz", "builtin"]

GRAPHVIZ_TIMEOUT = 60.0
"""Seconds ``dot`` may take before the drawing fails (or, with ``auto``, falls back)."""

FONT_SIZE = 12.0
CHAR_WIDTH = 7.2  # a monospace glyph at FONT_SIZE
LINE_HEIGHT = 16.0
PAD = 8.0
BADGE_FONT_SIZE = 10.0
BADGE_CHAR_WIDTH = 6.0
MAX_LABEL_CHARS = 40
FONT_FAMILY = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace"

PALETTE = (
    ("#dbeafe", "#1d4ed8"),
    ("#dcfce7", "#15803d"),
    ("#fef3c7", "#b45309"),
    ("#fce7f3", "#be185d"),
    ("#ede9fe", "#6d28d9"),
    ("#cffafe", "#0e7490"),
    ("#fee2e2", "#b91c1c"),
    ("#ecfccb", "#4d7c0f"),
    ("#ffedd5", "#c2410c"),
    ("#e0e7ff", "#4338ca"),
    ("#f5f5f4", "#57534e"),
    ("#fae8ff", "#a21caf"),
)
"""(fill, stroke) pairs; a name keeps its pair as long as no other name claims it first."""


@attrs.frozen(kw_only=True)
class Rendered:
    """A drawing: its ``text``, the ``engine`` that made it, and ``warnings`` to show."""

    text: str
    engine: Literal["graphviz", "builtin"]
    warnings: tuple[str, ...] = ()


# -- text ---------------------------------------------------------------------


def _xml(text: str, *, newlines: bool = False) -> str:
    """Escape ``text`` for XML content or a double-quoted attribute.

    Characters XML 1.0 cannot hold become U+FFFD; line breaks become spaces
    unless ``newlines`` keeps ``\\n`` (for element content such as a tooltip).
    """
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch == "\n" and newlines:
            out.append(ch)
        elif ch in "\n\r\t":
            out.append(" ")
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            out.append("\ufffd")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"':
            out.append("&quot;")
        else:
            out.append(ch)
    return "".join(out)


def _clip(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _n(value: float) -> str:
    """A coordinate with at most one decimal, no ``-0``."""
    text = f"{round(value, 1) + 0.0:.1f}"
    return text[:-2] if text.endswith(".0") else text


# -- colours and legend -------------------------------------------------------


def colours(names: list[str]) -> dict[str, tuple[str, str]]:
    """A (fill, stroke) pair per name, stable by name: sorted names claim their hashed slot.

    A taken slot passes to the next free one; once every slot is taken they are reused.
    """
    taken: set[int] = set()
    out: dict[str, tuple[str, str]] = {}
    for name in sorted(set(names)):
        slot = zlib.crc32(name.encode()) % len(PALETTE)
        if len(taken) < len(PALETTE):
            while slot in taken:
                slot = (slot + 1) % len(PALETTE)
        taken.add(slot)
        out[name] = PALETTE[slot]
    return out


def legend_entries(workflow: Workflow) -> list[tuple[str, str]]:
    """(uses, what it is) per distinct ``uses``, sorted: an agent and its kind, or a capability."""
    entries: list[tuple[str, str]] = []
    for uses in sorted({step.uses for step in workflow.steps.values()}):
        agent = workflow.agents.get(uses)
        if agent is not None:
            entries.append((uses, f"agent ({agent.kind})"))
        else:
            served = ", ".join(workflow.agents_for(uses)) or "no agent"
            entries.append((uses, f"capability: {served}"))
    return entries


# -- the built-in renderer ----------------------------------------------------


def _lines(workflow: Workflow, step_id: str) -> list[str]:
    return [_clip(line) for line in _label_lines(workflow, step_id)]


def _badge(workflow: Workflow, step_id: str) -> str:
    priority = workflow.steps[step_id].priority
    return f"p{priority}" if priority else ""


def _badge_width(badge: str) -> float:
    return len(badge) * BADGE_CHAR_WIDTH + 8.0 if badge else 0.0


def node_size(workflow: Workflow, step_id: str) -> tuple[float, float]:
    """Width and height of a step's box: its longest line, plus the priority badge."""
    lines = _lines(workflow, step_id)
    badge = _badge(workflow, step_id)
    widths = [len(line) * CHAR_WIDTH for line in lines]
    if badge:
        widths[0] += 6.0 + _badge_width(badge)
    return (max(widths) + 2 * PAD, len(lines) * LINE_HEIGHT + 2 * PAD)


def builtin_layout(workflow: Workflow, *, direction: Direction = "TB") -> Layout:
    """The layered layout of ``workflow`` with boxes sized by :func:`node_size`."""
    sizes = {step_id: node_size(workflow, step_id) for step_id in workflow.steps}
    return layered_layout(workflow_needs(workflow), sizes, direction=direction)


def _edge_path(points: tuple[tuple[float, float], ...], direction: Direction) -> str:
    parts = [f"M{_n(points[0][0])},{_n(points[0][1])}"]
    for i, ((x0, y0), (x1, y1)) in enumerate(itertools.pairwise(points)):
        if i % 2:
            parts.append(f"L{_n(x1)},{_n(y1)}")
        elif direction == "TB":
            mid = (y1 - y0) / 2
            parts.append(f"C{_n(x0)},{_n(y0 + mid)} {_n(x1)},{_n(y1 - mid)} {_n(x1)},{_n(y1)}")
        else:
            mid = (x1 - x0) / 2
            parts.append(f"C{_n(x0 + mid)},{_n(y0)} {_n(x1 - mid)},{_n(y1)} {_n(x1)},{_n(y1)}")
    return " ".join(parts)


SVG_STYLE = (
    ".edge{fill:none;stroke:#64748b;stroke-width:1.4}"
    ".node text{fill:#0f172a}"
    ".node .step-id{font-weight:bold}"
    ".node .detail,.node .for-each{fill:#334155}"
    ".badge text{font-size:10px;fill:#ffffff;font-weight:bold}"
    ".legend text{fill:#0f172a}"
)


def builtin_svg(workflow: Workflow, *, direction: Direction = "TB", legend: bool = True) -> str:
    """The workflow drawn by the built-in renderer, as a standalone SVG document."""
    layout = builtin_layout(workflow, direction=direction)
    palette = colours([step.uses for step in workflow.steps.values()])
    entries = legend_entries(workflow) if legend else []
    legend_rows = [f"{uses} \u2014 {what}" for uses, what in entries]
    legend_width = (
        max(len(_clip(row, 60)) for row in legend_rows) * CHAR_WIDTH + 48.0 if entries else 0.0
    )
    legend_height = (len(entries) + 1) * 20.0 + 16.0 if entries else 0.0
    width = max(layout.width, legend_width, 80.0)
    height = max(layout.height, 40.0) + legend_height

    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}"'
            f' viewBox="0 0 {_n(width)} {_n(height)}" font-family="{_xml(FONT_FAMILY)}"'
            f' font-size="{_n(FONT_SIZE)}" role="img">'
        ),
        f"<title>{_xml(workflow.name)}</title>",
    ]
    if workflow.description:
        out.append(f"<desc>{_xml(workflow.description)}</desc>")
    out += [
        f"<style>{SVG_STYLE}</style>",
        "<defs>",
        (
            '<marker id="cadenza-arrow" viewBox="0 0 10 10" refX="10" refY="5"'
            ' markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
            '<path d="M0,0 L10,5 L0,10 z" fill="#64748b"/></marker>'
        ),
        "</defs>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        '<g class="edges">',
    ]
    for edge in layout.edges:
        out.append(
            f'<path class="edge" data-need="{_xml(edge.need)}" data-step="{_xml(edge.step)}"'
            f' d="{_edge_path(edge.points, direction)}" marker-end="url(#cadenza-arrow)"/>'
        )
    out += ["</g>", '<g class="nodes">']
    for step_id, box in layout.boxes.items():
        step = workflow.steps[step_id]
        fill, stroke = palette[step.uses]
        full = "\n".join(_label_lines(workflow, step_id))
        if step.priority:
            full += f"\npriority: {step.priority}"
        out.append(f'<g class="node" data-step="{_xml(step_id)}" data-uses="{_xml(step.uses)}">')
        out.append(f"<title>{_xml(full, newlines=True)}</title>")
        out.append(
            f'<rect class="box" x="{_n(box.left)}" y="{_n(box.top)}" width="{_n(box.w)}"'
            f' height="{_n(box.h)}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        )
        for i, line in enumerate(_lines(workflow, step_id)):
            # The for_each line is not the detail line the dashboard rewrites with counts.
            cls = "step-id" if i == 0 else "for-each" if line.startswith("for_each:") else "detail"
            y = box.top + PAD + (i + 1) * LINE_HEIGHT - 4.0
            out.append(
                f'<text class="{cls}" x="{_n(box.left + PAD)}" y="{_n(y)}">{_xml(line)}</text>'
            )
        badge = _badge(workflow, step_id)
        if badge:
            bw = _badge_width(badge)
            bx = box.right - PAD - bw
            by = box.top + PAD + 1.0
            out.append(
                f'<g class="badge"><rect x="{_n(bx)}" y="{_n(by)}" width="{_n(bw)}" height="13"'
                f' rx="6.5" fill="{stroke}"/><text x="{_n(bx + bw / 2)}" y="{_n(by + 10)}"'
                f' text-anchor="middle">{_xml(badge)}</text></g>'
            )
        out.append("</g>")
    out.append("</g>")
    if entries:
        top = max(layout.height, 40.0)
        out.append(f'<g class="legend" transform="translate(16,{_n(top)})">')
        out.append('<text class="legend-title" x="0" y="14" font-weight="bold">uses</text>')
        for i, ((uses, _), row) in enumerate(zip(entries, legend_rows, strict=True)):
            fill, stroke = palette[uses]
            y = 20.0 * (i + 1)
            out.append(
                f'<rect x="0" y="{_n(y + 3)}" width="22" height="13" rx="3" fill="{fill}"'
                f' stroke="{stroke}"/><text x="30" y="{_n(y + 14)}">{_xml(_clip(row, 60))}</text>'
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -- Graphviz -----------------------------------------------------------------


def styled_dot(workflow: Workflow, *, direction: Direction = "TB") -> str:
    """DOT for Graphviz with the built-in renderer's colours and priority lines."""
    palette = colours([step.uses for step in workflow.steps.values()])
    lines = [
        f"digraph {_dot_string(workflow.name)} {{",
        f"    rankdir={direction};",
        '    node [shape=box, style="rounded,filled", fontname="monospace", fontsize=10];',
        '    edge [color="#64748b"];',
    ]
    for step_id, step in workflow.steps.items():
        label_lines = _label_lines(workflow, step_id)
        if step.priority:
            label_lines.append(f"priority: {step.priority}")
        label = "\\n".join(_dot_string(line)[1:-1] for line in label_lines)
        fill, stroke = palette[step.uses]
        lines.append(
            f'    {_dot_string(step_id)} [label="{label}", fillcolor="{fill}", color="{stroke}"];'
        )
    for step_id, step in workflow.steps.items():
        for dep in dict.fromkeys(step.needs):
            if dep in workflow.steps:
                lines.append(f"    {_dot_string(dep)} -> {_dot_string(step_id)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def find_graphviz() -> str | None:
    """The path of Graphviz's ``dot`` on PATH, or None."""
    return shutil.which("dot")


def graphviz_svg(workflow: Workflow, executable: str, *, direction: Direction = "TB") -> str:
    """Run ``executable -Tsvg`` on the workflow's DOT; raise :class:`GraphvizError` on failure."""
    try:
        proc = subprocess.run(
            [executable, "-Tsvg"],
            input=styled_dot(workflow, direction=direction).encode(),
            capture_output=True,
            timeout=GRAPHVIZ_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GraphvizError(
            f"graphviz: {executable} took more than {GRAPHVIZ_TIMEOUT:g}s; "
            "use --engine builtin to draw without it."
        ) from None
    except OSError as exc:
        raise GraphvizError(
            f"graphviz: cannot run {executable}: {exc}; use --engine builtin to draw without it."
        ) from exc
    text = proc.stdout.decode("utf-8", errors="replace")
    if proc.returncode != 0 or "<svg" not in text:
        detail = proc.stderr.decode("utf-8", errors="replace").strip() or "no SVG on stdout"
        raise GraphvizError(
            f"graphviz: {executable} exited with {proc.returncode}: {detail}; "
            "use --engine builtin to draw without it."
        )
    return text


def render_svg(
    workflow: Workflow,
    *,
    engine: Engine = "auto",
    direction: Direction = "TB",
    legend: bool = True,
) -> Rendered:
    """Draw ``workflow`` as SVG with the chosen engine.

    ``auto`` uses Graphviz when ``dot`` is on PATH and falls back to the
    built-in renderer (with a warning) if it fails; ``graphviz`` raises
    :class:`GraphvizError` instead. ``legend`` only affects the built-in renderer.
    """
    if engine != "builtin":
        executable = find_graphviz()
        if executable is None and engine == "graphviz":
            raise GraphvizError(
                "graphviz: `dot` is not on PATH; install Graphviz or use --engine builtin."
            )
        if executable is not None:
            try:
                return Rendered(
                    text=graphviz_svg(workflow, executable, direction=direction),
                    engine="graphviz",
                )
            except GraphvizError as exc:
                if engine == "graphviz":
                    raise
                text = builtin_svg(workflow, direction=direction, legend=legend)
                return Rendered(
                    text=text,
                    engine="builtin",
                    warnings=(f"warning: {exc}; drew with the built-in renderer instead.",),
                )
    return Rendered(
        text=builtin_svg(workflow, direction=direction, legend=legend), engine="builtin"
    )


# -- HTML ---------------------------------------------------------------------

HTML_STYLE = """\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#0f172a}
h1{font-size:20px;margin:0 0 4px}
p.description{margin:0 0 16px;color:#334155}
.graph{overflow:auto;border:1px solid #e2e8f0;border-radius:8px;padding:8px}
.graph svg{display:block;max-width:none}
ul.legend{list-style:none;padding:0;margin:16px 0 0;font-size:13px}
ul.legend li{margin:4px 0}
ul.legend .swatch{display:inline-block;width:22px;height:13px;border:1px solid;
border-radius:3px;vertical-align:middle;margin-right:8px}
svg.focus .node:not(.on){opacity:.25}
svg.focus .edge:not(.on){opacity:.12}
svg .edge.on{stroke:#dc2626;stroke-width:2.2}
svg .node{cursor:default}
"""

HTML_SCRIPT = """\
(function () {
  var svg = document.querySelector(".graph svg");
  if (!svg) { return; }
  var nodes = new Map(), ups = new Map(), downs = new Map(), edges = [];
  svg.querySelectorAll("g.node[data-step]").forEach(function (g) {
    var id = g.getAttribute("data-step");
    nodes.set(id, g); ups.set(id, []); downs.set(id, []);
  });
  svg.querySelectorAll("path.edge[data-need]").forEach(function (p) {
    var a = p.getAttribute("data-need"), b = p.getAttribute("data-step");
    edges.push([a, b, p]); ups.get(b).push(a); downs.get(a).push(b);
  });
  function reach(start, next) {
    var seen = new Set([start]), todo = [start];
    while (todo.length) {
      next.get(todo.pop()).forEach(function (t) {
        if (!seen.has(t)) { seen.add(t); todo.push(t); }
      });
    }
    return seen;
  }
  function clear() {
    svg.classList.remove("focus");
    svg.querySelectorAll(".on").forEach(function (e) { e.classList.remove("on"); });
  }
  nodes.forEach(function (g, id) {
    g.addEventListener("mouseenter", function () {
      var before = reach(id, ups), after = reach(id, downs);
      clear();
      svg.classList.add("focus");
      before.forEach(function (s) { nodes.get(s).classList.add("on"); });
      after.forEach(function (s) { nodes.get(s).classList.add("on"); });
      edges.forEach(function (e) {
        if ((before.has(e[0]) && before.has(e[1])) || (after.has(e[0]) && after.has(e[1]))) {
          e[2].classList.add("on");
        }
      });
    });
    g.addEventListener("mouseleave", clear);
  });
})();
"""


def _svg_element(svg: str) -> str:
    """The ``<svg>`` element of an SVG document, without XML declaration or doctype."""
    start = svg.find("<svg")
    return svg[start:].strip() if start >= 0 else svg.strip()


def html_page(workflow: Workflow, svg: str) -> str:
    """A self-contained HTML page: title, description, the SVG inline, a legend, hover script."""
    palette = colours([step.uses for step in workflow.steps.values()])
    title = _xml(workflow.name)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8"/>',
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
        '<meta name="generator" content="cadenza graph"/>',
        f"<title>{title}</title>",
        f"<style>\n{HTML_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
    ]
    if workflow.description:
        out.append(f'<p class="description">{_xml(workflow.description)}</p>')
    out += ['<div class="graph">', _svg_element(svg), "</div>", '<ul class="legend">']
    for uses, what in legend_entries(workflow):
        fill, stroke = palette[uses]
        out.append(
            f'<li><span class="swatch" style="background:{fill};border-color:{stroke}"></span>'
            f"<code>{_xml(uses)}</code> \u2014 {_xml(what)}</li>"
        )
    out += ["</ul>", f"<script>\n{HTML_SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def render_html(
    workflow: Workflow, *, engine: Engine = "auto", direction: Direction = "TB"
) -> Rendered:
    """The workflow as a self-contained HTML page (see :func:`html_page`)."""
    drawn = render_svg(workflow, engine=engine, direction=direction, legend=False)
    return attrs.evolve(drawn, text=html_page(workflow, drawn.text))
