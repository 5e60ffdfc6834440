"""A loopback HTTP/1.1 server speaking the seed agent protocol, with scripted faults.

Start it with ``server = await nursery.start(serve_seed_agent)`` (options via
``functools.partial``) or ``async with open_seed_agent_server(faults=[Drop()]) as
server:``, and point an ``http`` agent at ``server.url``. ``POST`` (any path) is a
task call, answered by the first that applies: ``handler(call)`` if it returns a
response; the next of ``faults`` (consumed in arrival order, appendable while
running); a draw from ``chaos`` (``[(probability, response)]``,
``random.Random(seed)``); ``default``, by default the deterministic echo
``{"output": {"task_id": <task_id>, "echo": <data>}}``. ``GET`` (any path,
normally ``/health``) uses ``health_faults``, then ``health_default``. ``calls``
and ``health_checks`` record requests with headers unredacted, so tests can
assert credentials were sent. Built on :class:`cadenza.testing.LoopbackServer`:
keep-alive and concurrent connections are served; cancelling the server's
nursery stops everything.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from email.utils import format_datetime
from typing import Any, NoReturn

import attrs
import trio

from ._loopback import Exchange, LoopbackRequest, LoopbackServer


class _Echo(enum.Enum):
    ECHO = "echo"

    def __repr__(self) -> str:
        return "ECHO"


ECHO: Any = _Echo.ECHO
"""``Ok()``'s body: the deterministic echo of the call."""


@attrs.frozen
class Ok:
    """Answer 200 with ``json`` as the body (default: the echo of the call)."""

    json: Any = ECHO


HEALTHY = Ok({"status": "ok"})
"""The default answer to a health check."""


@attrs.frozen
class Status:
    """Answer ``code`` with ``body`` (str: text, else JSON); ``retry_after`` as a number of
    seconds, an HTTP-date (a ``datetime``) or verbatim (a ``str``, to test bad values)."""

    code: int
    retry_after: float | datetime | str | None = None
    body: Any = ""
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Stall:
    """Wait ``seconds`` on the trio clock, then answer ``then`` (default: the echo, or healthy)."""

    seconds: float
    then: Response | None = None


@attrs.frozen
class Drop:
    """Close the connection without answering."""


@attrs.frozen
class MalformedJson:
    """Answer 200 with a truncated JSON body."""


Response = Ok | Status | Stall | Drop | MalformedJson


@attrs.frozen(kw_only=True)
class SeedCall(LoopbackRequest):
    """One request the server received, and the response chosen for it."""

    response: Response | None = None

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


Handler = Callable[[SeedCall], Any]
"""``(call) -> Response | None``, sync or async; ``None`` falls through to the fault plan."""


@attrs.define(eq=False)
class SeedAgentServer(LoopbackServer[SeedCall]):
    """The state and fault plan of one server; :meth:`serve` runs it (see the module doc)."""

    request_type = SeedCall

    faults: list[Response] = attrs.field(factory=list, converter=list)
    default: Response = Ok()
    health_faults: list[Response] = attrs.field(factory=list, converter=list)
    health_default: Response = HEALTHY
    chaos: Sequence[tuple[float, Response]] = ()
    seed: int = 0
    handler: Handler | None = None
    calls: list[SeedCall] = attrs.field(factory=list, init=False)
    health_checks: list[SeedCall] = attrs.field(factory=list, init=False)
    abandoned: list[SeedCall] = attrs.field(factory=list, init=False)
    """Calls whose client hung up while the server stalled (cancelled callers show up here)."""
    _abandon: trio.Event = attrs.field(factory=trio.Event, init=False)
    in_flight: int = attrs.field(default=0, init=False)
    max_in_flight: int = attrs.field(default=0, init=False)
    _rng: random.Random = attrs.field(init=False)

    @_rng.default
    def _make_rng(self) -> random.Random:
        if sum(p for p, _ in self.chaos) > 1:
            raise ValueError("chaos: the probabilities add up to more than 1")
        return random.Random(self.seed)

    async def wait_abandoned(self, count: int) -> None:
        """Wait until ``count`` calls have been abandoned by their clients."""
        while len(self.abandoned) < count:
            await self._abandon.wait()

    async def _choose(self, call: SeedCall) -> Response:
        scripted = await self.next_scripted(call, self.handler, self.faults, None)
        if scripted is not None:
            return scripted
        draw, total = self._rng.random(), 0.0
        for probability, response in self.chaos:
            total += probability
            if draw < total:
                return response
        return self.default

    async def respond(self, request: SeedCall, exchange: Exchange) -> bool:
        """Answer a health check (``GET``) or a task (``POST``), recording it."""
        if request.method == "GET":
            response = self.health_faults.pop(0) if self.health_faults else self.health_default
            self.health_checks.append(attrs.evolve(request, response=response))
            return bool(await _answer(exchange, request, response, HEALTHY))
        if request.method != "POST":
            return bool(await _answer(exchange, request, Status(405, body="use POST or GET"), Ok()))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._choose(request)
            self.calls.append(attrs.evolve(request, response=response))
            answered = await _answer(exchange, request, response, Ok())
            if answered is None:
                self.abandoned.append(attrs.evolve(request, response=response))
                self._abandon.set()
                self._abandon = trio.Event()
            return bool(answered)
        finally:
            self.in_flight -= 1


def _render(
    call: SeedCall, response: Ok | Status | MalformedJson
) -> tuple[int, dict[str, str], bytes]:
    if isinstance(response, MalformedJson):
        return 200, {"content-type": "application/json"}, b'{"output": {"task_id": '
    status, headers, body = 200, {}, response.json if isinstance(response, Ok) else response.body
    if isinstance(response, Status):
        status, headers, retry = response.code, dict(response.headers), response.retry_after
        if isinstance(retry, datetime):
            retry = format_datetime(retry, usegmt=True)
        if retry is not None:
            headers["retry-after"] = f"{retry:g}" if isinstance(retry, int | float) else retry
    elif body is ECHO and not isinstance(call.json, dict):
        status, body = 400, {"error": "expected a JSON object: task_id, task_type, data, priority"}
    elif body is ECHO:
        body = {"output": {"task_id": call.json.get("task_id"), "echo": call.json.get("data")}}
    if isinstance(response, Status) and isinstance(body, str | bytes):
        headers.setdefault("content-type", "text/plain; charset=utf-8")
        return status, headers, body.encode() if isinstance(body, str) else body
    return status, headers, json.dumps(body).encode()


async def _answer(exchange: Exchange, call: SeedCall, response: Response, usual: Ok) -> bool | None:
    """Send the response; False if the connection cannot be reused, None if the client left."""
    while isinstance(response, Stall):
        if not await exchange.wait(response.seconds):
            return None
        response = usual if response.then is None else response.then
    if isinstance(response, Drop):
        return False
    status, headers, body = _render(call, response)
    return await exchange.send(status, body, headers)


async def serve_seed_agent(
    *, task_status: trio.TaskStatus[SeedAgentServer] = trio.TASK_STATUS_IGNORED, **options: Any
) -> NoReturn:
    """Run a :class:`SeedAgentServer` built from ``options``: ``await nursery.start(...)``."""
    await SeedAgentServer(**options).serve(task_status=task_status)


@asynccontextmanager
async def open_seed_agent_server(**options: Any) -> AsyncIterator[SeedAgentServer]:
    """Run a :class:`SeedAgentServer` built from ``options`` for the ``async with`` block."""
    async with trio.open_nursery() as nursery:
        server: SeedAgentServer = await nursery.start(SeedAgentServer(**options).serve)
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()
