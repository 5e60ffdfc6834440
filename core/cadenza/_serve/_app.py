"""The dashboard's Starlette application: pages, JSON API, live event streams, metrics.

Runs under trio (hypercorn's trio worker; Starlette reaches trio through
anyio). The journal is a blocking Store: every read goes through
``trio.to_thread.run_sync``, behind one of three CapacityLimiters: pages and
the API share one, event streams have their own (a long replay never starves
a page), and drawings go one at a time (a big DAG takes much memory).

Requests are parsed strictly: a bad number is a 400 naming the parameter, an
unknown run or step a 404, and no path, however odd, makes a 500.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._journal_readback import effective_status
from .._store import RunRecord, Store, StoreError
from . import _views
from ._auth import TokenAuth
from ._graphs import GraphCache
from ._metrics import MetricsCollector, gauge
from ._streams import (
    MAX_STREAMS,
    MAX_STREAMS_PER_CLIENT,
    EventStream,
    StreamSlots,
    event_stream,
)

STATIC_DIR = Path(__file__).parent / "static"
STATE_CLASSES = (
    "pending", "ready", "running", "retrying", "succeeded", "restored", "failed", "skipped",
    "cancelled",
)  # fmt: skip
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
"""``/api/runs?limit=`` above this is served as this many runs."""
MAX_SEQ = 2**63 - 1
"""The largest event sequence number the journal can hold (SQLite INTEGER)."""
_DIGITS = re.compile(r"-?[0-9]+", re.ASCII)

T = TypeVar("T")


class BadRequest(Exception):
    """A request parameter that does not parse; answered with 400 and this message."""


class Dashboard:
    """What the routes share: the store, plugins (to draw graphs), limits, caches, stop signal."""

    def __init__(
        self,
        store: Store,
        *,
        plugins: Any = None,
        metrics_window: int = 50,
        max_streams: int = MAX_STREAMS,
        max_streams_per_client: int = MAX_STREAMS_PER_CLIENT,
    ) -> None:
        self.store = store
        self.plugins = plugins
        self.limiter = trio.CapacityLimiter(4)
        self.stream_limiter = trio.CapacityLimiter(2)
        self.draw_limiter = trio.CapacityLimiter(1)
        self.stopping = trio.Event()
        self.metrics = MetricsCollector(window=metrics_window, plugins=plugins)
        self.metrics_lock = trio.Lock()
        self.streams = StreamSlots(total=max_streams, per_client=max_streams_per_client)
        self.graphs = GraphCache()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def stream_call(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self.stream_limiter)

    async def record(self, run_id: str) -> RunRecord | None:
        return await self.call(self.store.get_run, run_id)

    async def graph_svg(self, record: RunRecord) -> str | None:
        """The run's drawing, from the cache or drawn once (see ``_graphs``)."""

        async def draw() -> str | None:
            return await trio.to_thread.run_sync(
                _views.graph_svg, self.store, record, self.plugins, limiter=self.draw_limiter
            )

        return await self.graphs.get((record.run_id, record.source_hash), draw)


def parse_int(text: str, name: str, *, minimum: int, maximum: int, clamp: bool = False) -> int:
    """``text`` as a whole number in [minimum, maximum]; above it, ``maximum`` if ``clamp``.

    Only ASCII digits count (``²`` and ``1e20`` do not). A number of more than
    30 digits is out of range without being converted.
    """
    if not _DIGITS.fullmatch(text):
        raise BadRequest(f"{name} must be a whole number, got {text[:40]!r}")
    value = int(text) if len(text) <= 30 else (maximum + 1 if text[0] != "-" else minimum - 1)
    shown = text if len(text) <= 30 else f"a number of {len(text.lstrip('-'))} digits"
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}, got {shown}")
    if value > maximum:
        if clamp:
            return maximum
        raise BadRequest(f"{name} must be at most {maximum}, got {shown}")
    return value


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, default=str, ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json")


def _page(title: str, body: str, *, script: bool = True) -> HTMLResponse:
    js = '<script src="/static/dashboard.js" defer></script>' if script else ""
    return HTMLResponse(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} \u2014 cadenza</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/static/dashboard.css">{js}</head>'
        f'<body><header><a href="/" class="home">cadenza</a></header><main>{body}</main>'
        "</body></html>\n",
        headers={"content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'"},
    )


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _secs(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.2f}s" if value < 60 else f"{int(value) // 60}m{int(value) % 60:02d}s"


def _not_found(what: str) -> Response:
    return _json({"error": f"no {what} in the journal"}, 404)


def _missing_page(title: str, text: str) -> HTMLResponse:
    response = _page(title, f"<h1>{_e(text)}</h1>", script=False)
    response.status_code = 404
    return response


def _run_href(run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def _step_href(run_id: str, step_id: str) -> str:
    """The step page's path: each part percent-encoded whole (a ``/`` in a step id too)."""
    return f"{_run_href(run_id)}/steps/{quote(step_id, safe='')}"


def build_app(dashboard: Dashboard, *, token: str | None = None) -> TokenAuth:
    """The ASGI app: Starlette routes wrapped in token/host checks (see ``_auth``)."""
    d = dashboard

    async def runs_api(request: Request) -> Response:
        q = request.query_params
        status = q.get("status") or None
        if status is not None and status not in _views.STATUSES:
            known = ", ".join(_views.STATUSES)
            return _json({"error": f"unknown status {status[:40]!r}: use one of {known}"}, 400)
        limit = DEFAULT_LIMIT
        if q.get("limit"):
            limit = parse_int(q["limit"], "limit", minimum=1, maximum=MAX_LIMIT, clamp=True)
        runs = await d.call(
            lambda: _views.list_runs(
                d.store, status=status, workflow=q.get("workflow") or None, limit=limit
            )
        )
        return _json(runs)

    async def runs_page(request: Request) -> Response:
        q = request.query_params
        status, workflow = q.get("status") or None, q.get("workflow") or None
        if status is not None and status not in _views.STATUSES:
            status = None
        runs = await d.call(
            lambda: _views.list_runs(d.store, status=status, workflow=workflow, limit=100)
        )
        options = "".join(
            f'<option value="{s}"{" selected" if s == status else ""}>{s}</option>'
            for s in _views.STATUSES
        )
        rows = "".join(
            f'<tr class="run state-{_e(r["status"])}"><td><a href="{_run_href(r["run_id"])}">'
            f"{_e(r['run_id'])}</a></td><td>{_e(r['workflow'])}</td>"
            f'<td><span class="badge state-{_e(r["status"])}">{_e(r["status"])}</span></td>'
            f"<td>{_e(r['started'])}</td><td>{_secs(r['duration'])}</td>"
            f"<td>{_e(', '.join(f'{n} {k}' for k, n in r['counts'].items() if n))}</td></tr>"
            for r in runs
        )
        body = (
            '<h1>Runs</h1><form class="filters" method="get">'
            f'<select name="status"><option value="">any status</option>{options}</select>'
            f'<input name="workflow" placeholder="workflow" value="{_e(workflow)}">'
            '<button type="submit">Filter</button></form>'
            '<table class="runs"><thead><tr><th>Run</th><th>Workflow</th><th>Status</th>'
            "<th>Started</th><th>Duration</th><th>Steps</th></tr></thead>"
            f"<tbody>{rows or '<tr><td colspan=6>no runs</td></tr>'}</tbody></table>"
        )
        return _page("runs", body, script=False)

    async def run_api(request: Request) -> Response:
        record = await d.record(request.path_params["run_id"])
        if record is None:
            return _not_found("such run")
        return _json(await d.call(_views.run_detail, d.store, record))

    async def run_page(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        record = await d.record(run_id)
        if record is None:
            return _missing_page("unknown run", f"No run {run_id} in the journal")
        data = await d.call(_views.run_detail, d.store, record)
        svg = await d.graph_svg(record)
        rows = "".join(
            f'<tr id="step-{_e(sid)}" data-step="{_e(sid)}" class="step state-{_e(s["state"])}">'
            f'<td><a href="{_e(_step_href(run_id, sid))}">{_e(sid)}</a></td>'
            f'<td class="state">{_e(s["state"])}</td><td class="attempts">{s["attempts"]}</td>'
            f'<td class="agent">{_e(s["agent"] or "-")}</td>'
            f'<td class="duration">{_secs(s["duration"])}</td>'
            f'<td class="flags">{"degraded" if s["degraded"] else ""}</td></tr>'
            for sid, s in data["steps"].items()
        )
        running = data["status"] == "running"
        cost = data["cost_usd"] if data["cost_usd"] is not None else "-"
        cancel = '<button id="cancel" type="button">Cancel run</button>' if running else ""
        graph = (
            f'<div class="graph" id="graph">{svg[svg.find("<svg") :]}</div>'
            if svg
            else '<p class="note">No graph: the stored workflow source did not load here.</p>'
        )
        body = (
            f'<section id="run" data-run="{_e(run_id)}" data-seq="{data["last_seq"]}"'
            f' data-status="{_e(data["status"])}">'
            f'<h1>Run {_e(run_id)} <span id="run-status" class="badge state-{_e(data["status"])}">'
            f"{_e(data['status'])}</span></h1>"
            f"<p>workflow <b>{_e(data['workflow'])}</b>, started {_e(data['started'])}, "
            f'cost <span id="run-cost">{_e(cost)}'
            f"</span> {cancel}</p>"
            f'{graph}<div class="columns"><table class="steps"><thead><tr><th>Step</th>'
            "<th>State</th><th>Attempts</th><th>Agent</th><th>Time</th><th></th></tr></thead>"
            f'<tbody>{rows}</tbody></table><aside id="panel" class="panel"></aside></div>'
            '<h2>Events</h2><ol id="events" class="events"></ol></section>'
        )
        return _page(f"run {run_id}", body)

    async def step_api(request: Request) -> Response:
        run_id, step_id = request.path_params["run_id"], request.path_params["step_id"]
        record = await d.record(run_id)
        if record is None:
            return _not_found("such run")
        events = await d.call(d.store.read_events, run_id)
        detail = _views.step_detail(events, step_id, run_status=effective_status(record))
        return _not_found("such step") if detail is None else _json(detail)

    async def step_page(request: Request) -> Response:
        run_id, step_id = request.path_params["run_id"], request.path_params["step_id"]
        record = await d.record(run_id)
        if record is None:
            return _missing_page("unknown run", f"No run {run_id} in the journal")
        events = await d.call(d.store.read_events, run_id)
        detail = _views.step_detail(events, step_id, run_status=effective_status(record))
        if detail is None:
            return _missing_page("unknown step", f"No step {step_id} in run {run_id}")
        attempts = "".join(
            f'<tr class="attempt outcome-{_e(a.get("outcome"))}"><td>{a["attempt"]}</td>'
            f"<td>{_e(a.get('agent'))}</td><td>{_e(a.get('outcome'))}</td>"
            f"<td>{_secs(a.get('queue_wait'))}</td><td>{_secs(a.get('duration'))}</td>"
            f"<td>{_e((a.get('route') or {}).get('strategy'))} "
            f"{_e((a.get('route') or {}).get('reason'))}</td>"
            f"<td>{_e(a.get('error_type'))} {_e(a.get('message'))}</td>"
            f"<td>{_e(a.get('cost_usd', ''))}</td></tr>"
            for a in detail["attempts_detail"]
        )
        output = json.dumps(detail.get("output"), indent=2, default=str, ensure_ascii=False)
        body = (
            f'<p><a href="{_run_href(run_id)}">\u2190 run {_e(run_id)}</a></p>'
            f'<h1>Step {_e(step_id)} <span class="badge state-{_e(detail["state"])}">'
            f"{_e(detail['state'])}</span>{' (degraded)' if detail['degraded'] else ''}</h1>"
            f"<p>agent {_e(detail['agent'] or '-')}, {detail['attempts']} attempt(s), "
            f"time {_secs(detail['duration'])}, cost {_e(detail['cost_usd'] or '-')}</p>"
            f"{'<p class=error>' + _e(detail['error_type']) + ': ' + _e(detail['last_error']) + '</p>' if detail['last_error'] else ''}"  # noqa: E501
            f"{'<p>' + _e(detail['reason']) + '</p>' if detail['reason'] else ''}"
            '<h2>Attempts</h2><table class="attempts"><thead><tr><th>#</th><th>Agent</th>'
            "<th>Outcome</th><th>Queue wait</th><th>Time</th><th>Route</th><th>Error</th>"
            f"<th>Cost</th></tr></thead><tbody>{attempts}</tbody></table>"
            f"<h2>Output</h2><pre>{_e(output)}</pre>"
        )
        return _page(f"step {step_id}", body, script=False)

    async def graph_api(request: Request) -> Response:
        record = await d.record(request.path_params["run_id"])
        if record is None:
            return _not_found("such run")
        svg = await d.graph_svg(record)
        if svg is None:
            return _not_found("loadable workflow source for this run")
        return Response(svg, media_type="image/svg+xml")

    async def cancel_api(request: Request) -> Response:
        # A custom header makes a cross-site request need a CORS preflight, which we never grant.
        if request.headers.get("x-cadenza") != "1":
            return _json({"error": "send the header X-Cadenza: 1"}, 403)
        run_id = request.path_params["run_id"]
        record = await d.record(run_id)
        if record is None:
            return _not_found("such run")
        state = effective_status(record)
        if state not in ("running",):
            return _json({"run_id": run_id, "status": state, "cancel_requested": False}, 409)
        try:
            await d.call(d.store.request_cancel, run_id)
        except StoreError as exc:  # a read-only or full journal: say so, as `cadenza cancel` does
            return _json({"run_id": run_id, "status": state, "error": str(exc)}, 503)
        return _json({"run_id": run_id, "status": state, "cancel_requested": True})

    async def events_stream(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        after = -1
        for name, text in (
            ("after", request.query_params.get("after")),
            ("Last-Event-ID", request.headers.get("last-event-id")),
        ):
            # A reconnecting browser sends the last id it got: resume after it, not from ?after=.
            if text:
                after = max(after, parse_int(text, name, minimum=-1, maximum=MAX_SEQ))
        if await d.record(run_id) is None:
            return _not_found("such run")
        client = request.client.host if request.client else "unknown"
        refused = d.streams.acquire(client)
        if refused is not None:
            return PlainTextResponse(refused, status_code=429, headers={"retry-after": "5"})
        return EventStream(
            event_stream(d.stream_call, d.store, run_id, after, d.stopping),
            release=functools.partial(d.streams.release, client),
        )

    async def metrics(request: Request) -> Response:
        async with d.metrics_lock:
            text = await d.call(d.metrics.collect, d.store)
        lines: list[str] = []
        gauge(lines, "cadenza_dashboard_streams", "Live event streams this dashboard serves.",
              [()], [d.streams.open])  # fmt: skip
        text += "\n".join(lines) + "\n"
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    routes = [
        Route("/", runs_page),
        Route("/runs/{run_id}", run_page),
        Route("/runs/{run_id}/steps/{step_id:path}", step_page),
        Route("/api/runs", runs_api),
        Route("/api/runs/{run_id}", run_api),
        Route("/api/runs/{run_id}/graph.svg", graph_api),
        Route("/api/runs/{run_id}/steps/{step_id:path}", step_api),
        Route("/api/runs/{run_id}/events", events_stream),
        Route("/api/runs/{run_id}/cancel", cancel_api, methods=["POST"]),
        Route("/metrics", metrics),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={BadRequest: _bad_request})
    return TokenAuth(app, token=token)


async def _bad_request(request: Request, exc: Exception) -> Response:
    return _json({"error": str(exc)}, 400)


__all__ = ["STATE_CLASSES", "Dashboard", "build_app"]
