"""Live event streams (server-sent events): how many may be open, and what each one sends.

Every stream polls the journal, so each open one costs reads and memory: the
dashboard caps them per client address and in total (:class:`StreamSlots`),
answering 429 beyond either cap. A stream's reads go through their own
CapacityLimiter, so replaying a long history never starves pages and the API
of the shared one. Each event carries ``id: <seq>``: a browser that reconnects
sends it back as ``Last-Event-ID`` and the stream resumes after it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import trio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .._journal._readback import FINISHED, effective_status
from .._journal._store import Store

POLL_INTERVAL = 0.5
"""Seconds between journal reads of a live stream (the journal writer commits within 0.2 s)."""
KEEPALIVE = 15.0
"""Seconds without events after which a stream sends a comment, to notice gone clients."""
MAX_STREAMS = 64
"""Default cap on open event streams, all clients together (``cadenza serve --max-streams``)."""
MAX_STREAMS_PER_CLIENT = 8
"""Default cap per client address (``cadenza serve --max-streams-per-client``)."""
CHUNK_CHARS = 256 * 1024
"""A replay is sent in pieces of about this many characters."""


@attrs.define(eq=False)
class StreamSlots:
    """Open event streams, counted per client address; refuses beyond the caps."""

    total: int = MAX_STREAMS
    per_client: int = MAX_STREAMS_PER_CLIENT
    by_client: dict[str, int] = attrs.field(factory=dict)

    @property
    def open(self) -> int:
        return sum(self.by_client.values())

    def acquire(self, client: str) -> str | None:
        """Take a slot for ``client``; or, when a cap is reached, the 429 message saying which."""
        mine = self.by_client.get(client, 0)
        if mine >= self.per_client:
            return (
                f"too many event streams: {client} already has {mine} open, the most one "
                f"client address may have (cadenza serve --max-streams-per-client). "
                "Close other dashboard tabs, then reload.\n"
            )
        if self.open >= self.total:
            return (
                f"too many event streams: the dashboard already serves {self.open}, its limit "
                "(cadenza serve --max-streams). Try again when fewer pages are open.\n"
            )
        self.by_client[client] = mine + 1
        return None

    def release(self, client: str) -> None:
        left = self.by_client.get(client, 0) - 1
        if left > 0:
            self.by_client[client] = left
        else:
            self.by_client.pop(client, None)


class EventStream(StreamingResponse):
    """A server-sent event stream that gives back its slot and closes its generator, always."""

    def __init__(self, content: AsyncIterator[str], *, release: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()

    async def stream_response(self, send: Send) -> None:
        iterator = self.body_iterator
        try:
            await super().stream_response(send)
        finally:
            if isinstance(iterator, AsyncGenerator):
                await iterator.aclose()


@attrs.frozen
class Batch:
    """What one poll found: the events as SSE text, the last seq, and whether the run ended."""

    text: str
    after: int
    count: int
    finished: bool


def read_batch(store: Store, run_id: str, after: int) -> Batch:
    """Events with ``seq > after``, formatted in the worker thread (the dicts never leave it)."""
    events = store.read_events(run_id, after=after)
    parts, finished = [], False
    for event in events:
        after = int(event["seq"])
        kind = str(event.get("kind", "event"))
        data = json.dumps(event, default=str, ensure_ascii=False)
        parts.append(f"id: {after}\nevent: {kind}\ndata: {data}\n\n")
        finished = finished or kind == "run_finished"
    return Batch(text="".join(parts), after=after, count=len(events), finished=finished)


def run_ended(store: Store, run_id: str) -> bool:
    """True when the run is gone or will write nothing more (finished or interrupted)."""
    record = store.get_run(run_id)
    return record is None or effective_status(record) in (*FINISHED, "interrupted")


async def event_stream(
    call: Callable[..., Awaitable[Any]], store: Store, run_id: str, after: int, stopping: trio.Event
) -> AsyncIterator[str]:
    """Server-sent events of the run: each journaled event with ``seq > after``, as it lands.

    ``call(fn, *args)`` runs a blocking read in a worker thread (the streams'
    own limiter). Polling is deliberate: the journal is another process's
    SQLite file, with no way to be notified of its writes; the writer commits
    within 0.2 s, so a read every POLL_INTERVAL keeps the page live. Ends after
    ``run_finished`` (or once a run that is no longer running has nothing
    new), or when the server stops (``stopping``), with an ``end`` event either way.
    """
    idle, final_pass = 0.0, False
    yield "retry: 2000\n\n"
    while not stopping.is_set():
        batch: Batch = await call(read_batch, store, run_id, after)
        after = batch.after
        for start in range(0, len(batch.text), CHUNK_CHARS):
            yield batch.text[start : start + CHUNK_CHARS]
        if batch.count:
            idle = 0.0
        if batch.finished:
            break
        if not batch.count and await call(run_ended, store, run_id):
            if final_pass:
                break
            final_pass = True  # read once more: its last events may have landed meanwhile
            continue
        with trio.move_on_after(POLL_INTERVAL):
            await stopping.wait()
        idle += POLL_INTERVAL
        if idle >= KEEPALIVE:
            idle = 0.0
            yield ": keepalive\n\n"
    reason = "stopping" if stopping.is_set() else "finished"
    yield f"event: end\ndata: {json.dumps({'reason': reason})}\n\n"
