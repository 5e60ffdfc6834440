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
assert credentials were sent. h11 over trio sockets: keep-alive and concurrent
connections are served; cancelling the server's nursery stops everything.
"""

from __future__ import annotations

import enum
import inspect
import json
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any, NoReturn

import attrs
import h11
import trio


class _Echo(enum.Enum):
    ECHO = "echo"

    def __repr__(self) -> str:
        return "ECHO"


ECHO: Any = _Echo.ECHO
"""``Ok()``'s body: the deterministic echo of the call."""
_REASONS = {status.value: status.phrase for status in HTTPStatus}


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
class SeedCall:
    """One request the server received, and the response chosen for it."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names; values as sent (not redacted)
    body: bytes
    json: Any  # the parsed body; None if empty or not JSON
    at: float  # trio.current_time() when the request had fully arrived
    response: Response | None = None

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


Handler = Callable[[SeedCall], Any]
"""``(call) -> Response | None``, sync or async; ``None`` falls through to the fault plan."""


@attrs.define(eq=False)
class SeedAgentServer:
    """The state and fault plan of one server; :meth:`serve` runs it (see the module doc)."""

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
    connections: int = attrs.field(default=0, init=False)
    in_flight: int = attrs.field(default=0, init=False)
    max_in_flight: int = attrs.field(default=0, init=False)
    url: str = attrs.field(default="", init=False)  # http://127.0.0.1:<port> once listening
    _rng: random.Random = attrs.field(init=False)

    @_rng.default
    def _make_rng(self) -> random.Random:
        if sum(p for p, _ in self.chaos) > 1:
            raise ValueError("chaos: the probabilities add up to more than 1")
        return random.Random(self.seed)

    async def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        task_status: trio.TaskStatus[SeedAgentServer] = trio.TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Listen on ``host:port`` (0: any free port), report ``self`` as started, serve forever."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        self.url = f"http://{host}:{listeners[0].socket.getsockname()[1]}"
        task_status.started(self)
        await trio.serve_listeners(self._connection, listeners)

    async def wait_abandoned(self, count: int) -> None:
        """Wait until ``count`` calls have been abandoned by their clients."""
        while len(self.abandoned) < count:
            await self._abandon.wait()

    async def _choose(self, call: SeedCall) -> Response:
        if self.handler is not None:
            answer = self.handler(call)
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is not None:
                return answer  # type: ignore[no-any-return]
        if self.faults:
            return self.faults.pop(0)
        draw, total = self._rng.random(), 0.0
        for probability, response in self.chaos:
            total += probability
            if draw < total:
                return response
        return self.default

    async def _connection(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        self.connections += 1
        try:
            async with stream:
                while await self._exchange(stream, conn):
                    conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError, OSError):
            pass  # the client went away or spoke nonsense: drop this connection only

    async def _exchange(self, stream: trio.SocketStream, conn: h11.Connection) -> bool:
        """Serve one request; True if the connection can take another."""
        request = await _next_event(stream, conn)
        if not isinstance(request, h11.Request):
            return False
        body = bytearray()
        while isinstance(event := await _next_event(stream, conn), h11.Data):
            body += event.data
        if not isinstance(event, h11.EndOfMessage):
            return False
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        call = SeedCall(
            method=request.method.decode("ascii"),
            path=request.target.decode("latin-1"),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers},
            body=bytes(body),
            json=parsed,
            at=trio.current_time(),
        )
        if call.method == "GET":
            response = self.health_faults.pop(0) if self.health_faults else self.health_default
            self.health_checks.append(attrs.evolve(call, response=response))
            return bool(await _answer(stream, conn, call, response, HEALTHY))
        if call.method != "POST":
            return bool(
                await _answer(stream, conn, call, Status(405, body="use POST or GET"), Ok())
            )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._choose(call)
            self.calls.append(attrs.evolve(call, response=response))
            answered = await _answer(stream, conn, call, response, Ok())
            if answered is None:
                self.abandoned.append(attrs.evolve(call, response=response))
                self._abandon.set()
                self._abandon = trio.Event()
            return bool(answered)
        finally:
            self.in_flight -= 1


async def _next_event(stream: trio.SocketStream, conn: h11.Connection) -> Any:
    while (event := conn.next_event()) is h11.NEED_DATA:
        conn.receive_data(await stream.receive_some(65536))
    return event


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
    headers.setdefault("content-type", "application/json")
    return status, headers, json.dumps(body).encode()


async def _stall(stream: trio.SocketStream, seconds: float) -> bool:
    """Wait ``seconds``; False as soon as the client closes the connection instead.

    HTTP/1.1 clients send nothing more on a connection while they wait for its
    response, so any read that returns here means the client hung up.
    """
    gone = False
    async with trio.open_nursery() as nursery:

        async def watch() -> None:
            nonlocal gone
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.receive_some(65536)
            gone = True
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    return not gone


async def _answer(
    stream: trio.SocketStream, conn: h11.Connection, call: SeedCall, response: Response, usual: Ok
) -> bool | None:
    """Send the response; False if the connection cannot be reused, None if the client left."""
    while isinstance(response, Stall):
        if not await _stall(stream, response.seconds):
            return None
        response = usual if response.then is None else response.then
    if isinstance(response, Drop):
        return False
    status, headers, body = _render(call, response)
    headers["content-length"] = str(len(body))
    reason = _REASONS.get(status, "").encode()
    head = h11.Response(status_code=status, headers=list(headers.items()), reason=reason)
    for event in (head, h11.Data(data=body), h11.EndOfMessage()):
        await stream.send_all(conn.send(event) or b"")
    return conn.our_state is h11.DONE and conn.their_state is h11.DONE


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
