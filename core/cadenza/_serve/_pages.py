"""The dashboard's HTML pages, filled from the template files in ``templates/``.

A template is ``string.Template`` text (``$name`` placeholders). Its lines are
stripped and joined with nothing between them, so a template can put one
element on each line without adding whitespace to the page: break a line only
where the page has no space.

Every value put into a template is HTML-escaped unless it is an :class:`Html`,
which only :func:`render` makes; so pre-rendered rows go in as they are, and
anything from the journal is escaped.
"""

from __future__ import annotations

import functools
import html
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote, urlencode

TEMPLATE_DIR = Path(__file__).parent / "templates"
CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'"
RECENT_EVENTS = 500
"""A big run's events list starts with this many of its latest events, not its whole history."""
MAPPED_OUTPUT_CHARS = 20_000
"""A ``for_each`` step's output (every item's) is shown up to this many characters."""


class Html(str):
    """Markup that goes into a template as it is (every other value is escaped)."""


@functools.cache
def _template(name: str) -> Template:
    text = (TEMPLATE_DIR / name).read_text(encoding="utf-8")
    return Template("".join(line.strip() for line in text.splitlines()))


def _escape(value: Any) -> str:
    if isinstance(value, Html):
        return value
    return html.escape("" if value is None else str(value))


def render(name: str, /, **values: Any) -> Html:
    """Template ``name`` filled with ``values``, each escaped unless it is an :class:`Html`."""
    return Html(_template(name).substitute({k: _escape(v) for k, v in values.items()}))


def join(parts: Iterable[Html]) -> Html:
    return Html("".join(parts))


def page(title: str, body: Html, *, script: bool = True) -> str:
    """A whole page: the common head and header around ``body``."""
    js = render("script.html") if script else Html("")
    return "<!doctype html>\n" + render("page.html", title=title, script=js, body=body) + "\n"


def missing(text: str) -> Html:
    return render("missing.html", text=text)


def secs(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.2f}s" if value < 60 else f"{int(value) // 60}m{int(value) % 60:02d}s"


def run_href(run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def step_href(run_id: str, step_id: str) -> str:
    """The step page's path: each part percent-encoded whole (a ``/`` in a step id too)."""
    return f"{run_href(run_id)}/steps/{quote(step_id, safe='')}"


def runs_body(
    runs: Iterable[Mapping[str, Any]],
    statuses: Iterable[str],
    status: str | None,
    workflow: str | None,
) -> Html:
    """The runs list: the filter form and one row per run."""
    options = join(
        render("runs_option.html", status=s, selected=" selected" if s == status else "")
        for s in statuses
    )
    rows = join(
        render(
            "runs_row.html",
            status=r["status"],
            href=run_href(r["run_id"]),
            run_id=r["run_id"],
            workflow=r["workflow"],
            started=r["started"],
            duration=secs(r["duration"]),
            counts=", ".join(f"{n} {k}" for k, n in r["counts"].items() if n),
        )
        for r in runs
    )
    return render("runs.html", options=options, workflow=workflow,
                  rows=rows or render("runs_empty.html"))  # fmt: skip


DRAWING = '<p class="muted drawing">drawing…</p>'
"""In place of a big run's charts: the page is served with its steps, its script asks for
the drawings (``timeline.js``), which fold all of the run's events."""


def charts_body(timeline: str | None, usage: str | None) -> Html:
    """The timeline (with its controls) and the agents' utilization and cost, as drawn;
    ``None``: drawn after the page (a big run)."""
    return render(
        "run_charts.html", timeline=Html(timeline or DRAWING), usage=Html(usage or DRAWING)
    )


def run_body(
    run_id: str,
    data: Mapping[str, Any],
    svg: str | None,
    approvals: Html | None = None,
    charts: Html | None = None,
) -> Html:
    """One run: its header, its drawing (when the source loads), its steps, the events list."""
    rows = join(
        render(
            "run_step_row.html",
            step_id=sid,
            state=s["state"],
            href=step_href(run_id, sid),
            attempts=s["attempts"],
            agent=s["agent"] or "-",
            duration=secs(s["duration"]),
            items=_items_cell(s.get("items")),
            flags="degraded" if s["degraded"] else "",
        )
        for sid, s in data["steps"].items()
    )
    graph = (
        render("run_graph.html", svg=Html(svg[svg.find("<svg") :]))
        if svg
        else render("run_no_graph.html")
    )
    where = data.get("steps_page")
    pager, page, after = Html(""), "", -1
    if where is not None:  # a big run: its layers instead of its drawing, a page of steps
        graph = _layers(data.get("layers"), where["total"])
        pager = _steps_pager(run_id, where)
        page = str(where["page"])
        after = max(int(data["last_seq"]) - RECENT_EVENTS, -1)
    return render(
        "run.html",
        run_id=run_id,
        last_seq=data["last_seq"],
        status=data["status"],
        workflow=data["workflow"],
        started=data["started"],
        cost=data["cost_usd"] if data["cost_usd"] is not None else "-",
        cancel=render("run_cancel.html") if data["status"] == "running" else Html(""),
        graph=graph,
        rows=rows,
        approvals=approvals or Html(""),
        charts=charts or Html(""),
        pager=pager,
        page=page,
        after=after,
    )


def _layers(layers: Sequence[Mapping[str, Any]] | None, total: int) -> Html:
    """A big run's DAG collapsed: one row per layer, its steps counted by state."""
    if not layers:
        return render("run_big_no_layers.html", total=f"{total:,}")
    rows = join(
        render(
            "run_layer_row.html",
            layer=layer["layer"],
            steps=f"{layer['steps']:,}",
            done=layer["counts"].get("succeeded", 0),
            total=layer["steps"],
            counts=", ".join(f"{n:,} {k}" for k, n in layer["counts"].items()),
            names=", ".join(layer["names"])
            + (", ..." if layer["steps"] > len(layer["names"]) else ""),
        )
        for layer in layers
    )
    return render("run_layers.html", total=f"{total:,}", count=len(layers), rows=rows)


def _steps_pager(run_id: str, where: Mapping[str, int]) -> Html:
    """``steps 201-400 of 20,000`` with links to the pages around."""
    page, pages = where["page"], where["pages"]
    first = (page - 1) * where["per_page"] + 1
    last = min(page * where["per_page"], where["total"])
    links = [
        render("step_link.html", href=f"{run_href(run_id)}?page={n}", text=label)
        for n, label in ((1, "first"), (page - 1, "previous"), (page + 1, "next"), (pages, "last"))
        if 1 <= n <= pages and n != page
    ]
    text = f"steps {first:,}-{last:,} of {where['total']:,} (page {page} of {pages})"
    return render("run_steps_pager.html", text=text, links=Html(" ".join(links)))


def items_text(t: Mapping[str, Any]) -> str:
    """``1,234/10,000 done (3 failed, 8 in flight)``, as the run page's script writes it too."""
    extra = [
        f"{t[k]:,} {label}"
        for k, label in (("failed", "failed"), ("skipped", "skipped"),
                         ("cancelled", "cancelled"), ("running", "in flight"))
        if t.get(k)
    ]  # fmt: skip
    return f"{t['done']:,}/{t['total']:,} done" + (f" ({', '.join(extra)})" if extra else "")


def _items_cell(t: Mapping[str, Any] | None) -> Html:
    """A mapped step's progress bar and counts; nothing for another step."""
    if t is None:
        return Html("")
    return render("run_step_items.html", total=t["total"], done=t["done"], text=items_text(t))


def _items_section(run_id: str, step_id: str, detail: Mapping[str, Any]) -> Html:
    """A mapped step's items: tally, state filter, one page of rows, and the pager."""
    t, p = detail["items"], detail["items_page"]
    here = step_href(run_id, step_id)

    def href(page: int, state: str | None) -> str:
        query = {"page": str(page), **({"state": state} if state else {})}
        return f"{here}?{urlencode(query)}"

    choices = [("all", None)] + [(k, k) for k in ("failed", "running", "succeeded", "skipped",
                                                   "cancelled", "pending") if t.get(k)]  # fmt: skip
    filters = Html(" ".join(
        render("step_link.html", href=href(1, state), text=label)
        if state != p["state"] else _escape(label)
        for label, state in choices
    ))  # fmt: skip
    rows = join(
        render(
            "step_item_row.html",
            state=i["state"],
            href=step_href(run_id, i["step_id"]),
            step_id=i["step_id"],
            attempts=i["attempts"],
            agent=i["agent"] or "-",
            duration=secs(i["duration"]),
            error=f"{i['error_type']}: {i['last_error']}" if i["last_error"] else "",
        )
        for i in p["rows"]
    )
    pager = [f"page {p['page']} of {p['pages']} ({p['matching']:,} items)"]
    links = [
        render("step_link.html", href=href(p["page"] + step, p["state"]), text=label)
        for step, label, shown in (
            (-1, "previous", p["page"] > 1),
            (1, "next", p["page"] < p["pages"]),
        )
        if shown
    ]
    return render(
        "step_items.html",
        total=t["total"],
        done=t["done"],
        text=items_text(t),
        filters=filters,
        rows=rows,
        pager=Html(" ".join([_escape(pager[0]), *links])),
    )


def approvals_body(
    run_id: str, gates: Sequence[Mapping[str, Any]], *, can_decide: bool, now: float | None = None
) -> Html:
    """The run page's open gates: prompt, approvers, expiry, and the buttons when allowed."""
    if not gates:
        return Html("")
    now = time.time() if now is None else now
    items = []
    for gate in gates:
        expires = gate.get("expires_at")
        if expires is None:
            when = "never expires"
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(expires))
            when = f"expired {stamp}" if expires <= now else f"expires {stamp}"
        step_id = str(gate["step_id"])
        buttons = (
            render("run_approval_buttons.html")
            if can_decide
            else render("run_approval_cli.html", run_id=run_id, step_id=step_id)
        )
        items.append(
            render(
                "run_approval.html",
                step_id=step_id,
                prompt=gate.get("prompt", ""),
                approvers=", ".join(gate.get("approvers") or ()) or "anyone",
                expires=when,
                buttons=buttons,
            )
        )
    return render("run_approvals.html", gates=join(items))


def _attempt_row(a: Mapping[str, Any]) -> Html:
    route = a.get("route") or {}
    return render(
        "step_attempt_row.html",
        outcome=a.get("outcome"),
        attempt=a["attempt"],
        agent=a.get("agent"),
        queue_wait=secs(a.get("queue_wait"))
        + (f" ({a['waited_for'].replace('_', ' ')})" if a.get("waited_for") else ""),
        duration=secs(a.get("duration")),
        strategy=route.get("strategy"),
        reason=route.get("reason"),
        error_type=a.get("error_type"),
        message=a.get("message"),
        cost=a.get("cost_usd", ""),
    )


def step_body(run_id: str, step_id: str, detail: Mapping[str, Any]) -> Html:
    """One step: its state, every attempt, its output as JSON."""
    error = Html("")
    if detail["last_error"]:
        error = render("step_error.html", error_type=detail["error_type"],
                       message=detail["last_error"])  # fmt: skip
    reason = render("step_reason.html", reason=detail["reason"]) if detail["reason"] else Html("")
    output = json.dumps(detail.get("output"), indent=2, default=str, ensure_ascii=False)
    if detail.get("items") and len(output) > MAPPED_OUTPUT_CHARS:
        output = output[:MAPPED_OUTPUT_CHARS] + "\n... (cut here; the step's API has it whole)"
    return render(
        "step.html",
        run_href=run_href(run_id),
        run_id=run_id,
        step_id=step_id,
        state=detail["state"],
        degraded=" (degraded)" if detail["degraded"] else "",
        agent=detail["agent"] or "-",
        attempts=detail["attempts"],
        duration=secs(detail["duration"]),
        cost=detail["cost_usd"] or "-",
        error=error,
        reason=reason,
        rows=join(_attempt_row(a) for a in detail["attempts_detail"]),
        items=_items_section(run_id, step_id, detail) if detail.get("items") else Html(""),
        output=output,
    )


__all__ = [
    "CSP", "Html", "approvals_body", "charts_body", "page", "render", "run_body", "runs_body",
    "step_body",
]  # fmt: skip
