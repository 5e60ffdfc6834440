"""Helpers for the dashboard tests: a served dashboard, journaled runs, stream readers."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import trio

import cadenza
from cadenza._journal._sqlite import SqliteStore
from cadenza._journal._store import RunRecord, Store, WriteBatch
from cadenza._scheduler._runner import run_workflow
from cadenza._serve import serve_dashboard
from cadenza.testing import ScriptedAgent

from .scheduler_helpers import make_workflow, plugins_with

TOKEN = "test-token-0123456789abcdef"


@asynccontextmanager
async def served(
    store: Store, *, token: str | None = None, host: str = "127.0.0.1", **options: Any
) -> AsyncIterator[str]:
    """The dashboard over ``store``, served on 127.0.0.1 (port 0) until the block ends; its URL."""
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(
            partial(serve_dashboard, store, host=host, port=0, token=token, stop=stop, **options)
        )
        try:
            yield urls[0].replace("0.0.0.0", "127.0.0.1")
        finally:
            stop.set()


@asynccontextmanager
async def dashboard(
    url: str, *, token: str | None = None, host: str = "127.0.0.1", **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A served dashboard over the journal at ``url`` (its own store, as another process would)."""
    store = SqliteStore(url)
    try:
        async with (
            served(store, token=token, host=host, **options) as base,
            httpx.AsyncClient(base_url=base, timeout=10) as client,
        ):
            yield client
    finally:
        store.close()


async def until(probe: Callable[[], bool]) -> None:
    """Wait for ``probe()`` to hold; it checks another component, which cannot signal us."""
    while not probe():  # noqa: ASYNC110 - nothing to wait on but the condition itself
        await trio.sleep(0.02)


def sleeper(seconds: float) -> Any:
    async def behaviour(request: cadenza.AgentRequest) -> Any:
        await trio.sleep(seconds)
        return {"step": request.step_id}

    return behaviour


async def finished_run(url: str, steps: dict[str, Any] | None = None) -> str:
    """Run a small workflow to the end, journaled at ``url``; its run id."""
    agent = ScriptedAgent("a", sleeper(0.01))
    workflow = make_workflow(steps or {"first": {}, "second": {"needs": ["first"]}})
    store = SqliteStore(url)
    try:
        result = await run_workflow(workflow, plugins=plugins_with({"a": agent}), store=store)
    finally:
        store.close()
    return result.run_id


def live_run(url: str, run_id: str = "live-run") -> str:
    """Journal a run that stays ``running`` (its pid is this process) with one event; its id."""
    store = SqliteStore(url)
    try:
        now = time.time()
        record = RunRecord(
            run_id=run_id, workflow="live", started_at=now, pid=os.getpid(),
            host=socket.gethostname(),
        )  # fmt: skip
        started = {"run_id": run_id, "seq": 0, "kind": "run_started", "at": now, "steps": ["s"]}
        store.write(WriteBatch(events=[started], runs=[record]))
    finally:
        store.close()
    return run_id


async def read_stream(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Every (event, data) of a server-sent event stream, until the server ends it."""
    return [(kind, data) for kind, data, _ in await read_stream_ids(client, path, headers)]


async def read_stream_ids(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> list[tuple[str, dict[str, Any], str | None]]:
    """Every (event, data, id) of a server-sent event stream, until the server ends it."""
    out: list[tuple[str, dict[str, Any], str | None]] = []
    async with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind, event_id = "message", None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                out.append((kind, json.loads(line[6:]), event_id))
                kind, event_id = "message", None
    return out
