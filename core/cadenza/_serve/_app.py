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
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._errors import StoreError
from .._journal._items import ITEM_STATES
from .._journal._readback import effective_status
from .._journal._run_shape import RunShape
from .._journal._store import RunRecord, Store
from . import _approvals, _pages, _timelines, _views
from ._auth import TokenAuth
from ._event_cache import EventCache
from ._graphs import GraphCache
from ._metrics import MetricsCollector, gauge
from ._run_models import RunModel, RunModels
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
        approver: str | None = None,
    ) -> None:
        self.store = store
        self.approver = approver
        """The name decisions are recorded under; None: approvals are read-only (_approvals)."""
        self.plugins = plugins
        self.limiter = trio.CapacityLimiter(4)
        self.stream_limiter = trio.CapacityLimiter(2)
        self.draw_limiter = trio.CapacityLimiter(1)
        self.stopping = trio.Event()
        self.metrics = MetricsCollector(window=metrics_window, plugins=plugins)
        self.metrics_lock = trio.Lock()
        self.streams = StreamSlots(total=max_streams, per_client=max_streams_per_client)
        self.graphs = GraphCache()
        self.workflows = _timelines.WorkflowCache()
        self.events = EventCache(store)
        """Each run's decoded events, read incrementally (``_event_cache``)."""
        self.models = RunModels(self.events)
        """Each run's steps, timeline and charts, folded incrementally (``_run_models``)."""

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def stream_call(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self.stream_limiter)

    async def record(self, run_id: str) -> RunRecord | None:
        return await self.call(self.store.get_run, run_id)

    async def graph_svg(self, record: RunRecord) -> str | None:
        """The run's drawing, from the cache or drawn once (see ``_graphs``)."""

        async def draw() -> str | None:
            workflow = await self.workflow(record)  # loaded once, shared with the timeline
            if workflow is None:
                return None
            return await trio.to_thread.run_sync(
                _views.draw_graph, workflow, limiter=self.draw_limiter
            )

        return await self.graphs.get((record.run_id, record.source_hash), draw)

    async def in_model(
        self, record: RunRecord, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """``fn(model, record, *args, **kwargs)`` in a worker thread, on the run's model brought
        up to date (its new events folded) and locked."""
        model = self.models.get(record.run_id)

        def locked() -> T:
            with model.lock:
                model.update(self.events)
                return fn(model, record, *args, **kwargs)

        return await self.call(locked)

    async def shape(self, record: RunRecord) -> RunShape | None:
        """The run's needs, agents' limits and budgets: from its ``run_started`` event, else
        from its workflow, loaded from the stored source (an older journal), else None."""
        model: RunModel = await self.in_model(record, lambda m, r: m)
        if model.shape is not None:
            return model.shape
        if model.loaded_shape is None:
            workflow = await self.workflow(record)
            if workflow is not None:
                model.loaded_shape = RunShape.from_workflow(workflow)
        return model.loaded_shape

    async def workflow(self, record: RunRecord) -> Any:
        """The run's workflow loaded from its stored source (kept), or None."""
        return await trio.to_thread.run_sync(
            self.workflows.get, self.store, record, self.plugins, limiter=self.draw_limiter
        )


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


def parse_number(
    text: str, name: str, *, minimum: float, maximum: float, clamp: bool = False
) -> float:
    """``text`` as a finite number in [minimum, maximum] (``1.5``, ``20``; not ``nan``)."""
    try:
        value = float(text) if len(text) <= 40 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be a number, got {text[:40]!r}")
    if value < minimum or (value > maximum and not clamp):
        raise BadRequest(f"{name} must be between {minimum:g} and {maximum:g}, got {text[:40]}")
    return min(value, maximum)


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, default=str, ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json")


def _page(title: str, body: _pages.Html, *, script: bool = True, status: int = 200) -> Response:
    return HTMLResponse(
        _pages.page(title, body, script=script),
        status_code=status,
        headers={"content-security-policy": _pages.CSP},
    )


def _not_found(what: str) -> Response:
    return _json({"error": f"no {what} in the journal"}, 404)


def _missing_page(title: str, text: str) -> Response:
    return _page(title, _pages.missing(text), script=False, status=404)


class _Routes:
    """The route handlers, one method each, over one :class:`Dashboard`."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.d = dashboard

    async def runs_api(self, request: Request) -> Response:
        d, q = self.d, request.query_params
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

    async def runs_page(self, request: Request) -> Response:
        d, q = self.d, request.query_params
        status, workflow = q.get("status") or None, q.get("workflow") or None
        if status is not None and status not in _views.STATUSES:
            status = None
        runs = await d.call(
            lambda: _views.list_runs(d.store, status=status, workflow=workflow, limit=100)
        )
        return _page(
            "runs", _pages.runs_body(runs, _views.STATUSES, status, workflow), script=False
        )

    async def run_api(self, request: Request) -> Response:
        record = await self.d.record(request.path_params["run_id"])
        if record is None:
            return _not_found("such run")
        page, shape = None, None
        if request.query_params.get("page"):  # one page of steps (a big run's page asks so)
            page = parse_int(request.query_params["page"], "page", minimum=1, maximum=10**9,
                             clamp=True)  # fmt: skip
            shape = await self.d.shape(record)  # a big run's layers come along
        data = await self.d.in_model(record, _views.model_detail, page=page, shape=shape)
        return _json(data)

    async def run_page(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        record = await self.d.record(run_id)
        if record is None:
            return _missing_page("unknown run", f"No run {run_id} in the journal")
        query = request.query_params
        page = parse_int(query.get("page") or "1", "page", minimum=1, maximum=10**9, clamp=True)
        shape = await self.d.shape(record)

        def parts(model: Any, record: RunRecord) -> tuple[dict[str, Any], str | None, str | None]:
            data = _views.model_detail(model, record, page=page, only_big=True, shape=shape)
            if "steps_page" in data:  # big: the page's script asks for the charts next
                return data, None, None
            return data, *_timelines.charts(model, record, shape)

        data, timeline, usage = await self.d.in_model(record, parts)
        big = "steps_page" in data
        svg = None if big else await self.d.graph_svg(record)  # a big DAG: its layers instead
        can_decide = self.d.approver is not None
        gates = _pages.approvals_body(run_id, data["approvals"], can_decide=can_decide)
        charts = _pages.charts_body(timeline, usage)
        return _page(f"run {run_id}", _pages.run_body(run_id, data, svg, gates, charts))

    async def _step_detail(
        self, record: RunRecord, step_id: str, request: Request
    ) -> dict[str, Any] | None:
        """The step's detail; a ``for_each`` step's items paged by ``?page=N&state=S``."""
        query = request.query_params
        page = parse_int(query.get("page", "1"), "page", minimum=1, maximum=10**9, clamp=True)
        state = query.get("state") or None
        if state is not None and state not in ITEM_STATES:
            raise BadRequest(f"state must be one of {', '.join(ITEM_STATES)}, got {state[:40]!r}")

        def detail(model: RunModel, record: RunRecord) -> dict[str, Any] | None:
            return _views.step_detail(
                model.events, step_id, run_status=effective_status(record), page=page,
                item_state=state, steps=model.steps.steps,
            )  # fmt: skip

        return await self.d.in_model(record, detail)

    async def step_api(self, request: Request) -> Response:
        run_id, step_id = request.path_params["run_id"], request.path_params["step_id"]
        record = await self.d.record(run_id)
        if record is None:
            return _not_found("such run")
        detail = await self._step_detail(record, step_id, request)
        return _not_found("such step") if detail is None else _json(detail)

    async def step_page(self, request: Request) -> Response:
        run_id, step_id = request.path_params["run_id"], request.path_params["step_id"]
        record = await self.d.record(run_id)
        if record is None:
            return _missing_page("unknown run", f"No run {run_id} in the journal")
        detail = await self._step_detail(record, step_id, request)
        if detail is None:
            return _missing_page("unknown step", f"No step {step_id} in run {run_id}")
        body = _pages.step_body(run_id, step_id, detail)
        return _page(f"step {step_id}", body, script=False)

    async def graph_api(self, request: Request) -> Response:
        record = await self.d.record(request.path_params["run_id"])
        if record is None:
            return _not_found("such run")
        svg = await self.d.graph_svg(record)
        if svg is None:
            return _not_found("loadable workflow source for this run")
        return Response(svg, media_type="image/svg+xml")

    async def timeline_api(self, request: Request) -> Response:
        record = await self.d.record(request.path_params["run_id"])
        if record is None:
            return _not_found("such run")
        view, follow = _timelines.view_from_query(request.query_params, parse_number)
        shape = await self.d.shape(record)
        svg = await self.d.in_model(record, _timelines.timeline_svg, shape, view, follow=follow)
        return Response(svg, media_type="image/svg+xml", headers={"cache-control": "no-store"})

    async def usage_api(self, request: Request) -> Response:
        record = await self.d.record(request.path_params["run_id"])
        if record is None:
            return _not_found("such run")
        query = request.query_params
        width = int(parse_number(query.get("width") or "1100", "width", minimum=400,
                                 maximum=8000))  # fmt: skip
        shape = await self.d.shape(record)
        svg = await self.d.in_model(record, _timelines.usage_svg, shape, width=width)
        return Response(svg, media_type="image/svg+xml", headers={"cache-control": "no-store"})

    async def cancel_api(self, request: Request) -> Response:
        # A custom header makes a cross-site request need a CORS preflight, which we never grant.
        if request.headers.get("x-cadenza") != "1":
            return _json({"error": "send the header X-Cadenza: 1"}, 403)
        run_id = request.path_params["run_id"]
        record = await self.d.record(run_id)
        if record is None:
            return _not_found("such run")
        state = effective_status(record)
        if state not in ("running",):
            return _json({"run_id": run_id, "status": state, "cancel_requested": False}, 409)
        try:
            await self.d.call(self.d.store.request_cancel, run_id)
        except StoreError as exc:  # a read-only or full journal: say so, as `cadenza cancel` does
            return _json({"run_id": run_id, "status": state, "error": str(exc)}, 503)
        return _json({"run_id": run_id, "status": state, "cancel_requested": True})

    async def approval_api(self, request: Request) -> Response:
        return await _approvals.decide(self.d, request)

    async def events_stream(self, request: Request) -> Response:
        d, run_id = self.d, request.path_params["run_id"]
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

    async def metrics(self, request: Request) -> Response:
        d = self.d
        async with d.metrics_lock:
            text = await d.call(d.metrics.collect, d.store)
        lines: list[str] = []
        gauge(lines, "cadenza_dashboard_streams", "Live event streams this dashboard serves.",
              [()], [d.streams.open])  # fmt: skip
        text += "\n".join(lines) + "\n"
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def build_app(dashboard: Dashboard, *, token: str | None = None) -> TokenAuth:
    """The ASGI app: Starlette routes wrapped in token/host checks (see ``_auth``)."""
    r = _Routes(dashboard)
    routes = [
        Route("/", r.runs_page),
        Route("/runs/{run_id}", r.run_page),
        Route("/runs/{run_id}/steps/{step_id:path}", r.step_page),
        Route("/api/runs", r.runs_api),
        Route("/api/runs/{run_id}", r.run_api),
        Route("/api/runs/{run_id}/graph.svg", r.graph_api),
        Route("/api/runs/{run_id}/timeline.svg", r.timeline_api),
        Route("/api/runs/{run_id}/usage.svg", r.usage_api),
        Route("/api/runs/{run_id}/steps/{step_id:path}", r.step_api),
        Route("/api/runs/{run_id}/events", r.events_stream),
        Route("/api/runs/{run_id}/cancel", r.cancel_api, methods=["POST"]),
        Route("/api/runs/{run_id}/approvals/{step_id:path}", r.approval_api, methods=["POST"]),
        Route("/metrics", r.metrics),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={BadRequest: _bad_request})
    return TokenAuth(app, token=token)


async def _bad_request(request: Request, exc: Exception) -> Response:
    return _json({"error": str(exc)}, 400)


__all__ = ["STATE_CLASSES", "Dashboard", "build_app"]
