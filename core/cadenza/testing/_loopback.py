"""A loopback HTTP/1.1 server to build fake providers on: listen, read, record, answer.

:class:`LoopbackServer` owns the sockets and the HTTP: it listens on
127.0.0.1 (port 0: any free port), reads each request whole into a
:class:`LoopbackRequest`, records it in ``requests`` and hands it, with an
:class:`Exchange` to answer through, to :meth:`LoopbackServer.respond`, which a
subclass overrides. The exchange sends a whole response, streams one, waits
while watching for the client hanging up, or drops the connection.
:meth:`LoopbackServer.next_scripted` is the usual order of a scripted fake: a
``handler(request)`` first, then a queue consumed in arrival order, then a
default. ``cadenza.testing.SeedAgentServer`` and ``cadenza_openai.testing.FakeOpenAI``
are built on it. h11 over trio sockets: keep-alive and concurrent connections
are served; cancelling the server's nursery stops everything.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from contextlib import suppress
from http import HTTPStatus
from typing import Any, ClassVar, Generic, NoReturn, Self, TypeVar

import attrs
import h11
import trio

_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_RECEIVE = 65536


@attrs.frozen(kw_only=True)
class LoopbackRequest:
    """One request a :class:`LoopbackServer` received, read whole."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names; values as sent (not redacted)
    body: bytes
    json: Any  # the parsed body; None if empty or not JSON
    at: float  # trio.current_time() when the request had fully arrived

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


RequestT = TypeVar("RequestT", bound=LoopbackRequest)
T = TypeVar("T")
D = TypeVar("D")


@attrs.define(eq=False)
class Exchange:
    """The connection one request arrived on, to answer it through.

    Answer once: :meth:`send` (whole), or :meth:`start`, :meth:`write`\\ s and
    :meth:`end` (streamed, chunked), or :meth:`drop`. Each answer returns
    whether the connection can take another request.
    """

    stream: trio.SocketStream
    conn: h11.Connection

    async def send(self, status: int, body: bytes = b"", headers: Mapping[str, str] = {}) -> bool:
        """Send a whole response; ``content-type`` is ``application/json`` unless given."""
        await self.start(status, {**headers, "content-length": str(len(body))})
        await self.write(body)
        return await self.end()

    async def send_json(self, status: int, payload: Any, headers: Mapping[str, str] = {}) -> bool:
        """Send ``payload`` as a JSON body."""
        return await self.send(status, json.dumps(payload).encode(), headers)

    async def start(self, status: int, headers: Mapping[str, str] = {}) -> None:
        """Send the head; without a ``content-length`` the body is sent chunked."""
        lower = {name.lower(): value for name, value in headers.items()}
        lower.setdefault("content-type", "application/json")
        head = h11.Response(
            status_code=status, headers=list(lower.items()), reason=_REASONS.get(status, b"")
        )
        await self._put(head)

    async def write(self, data: bytes) -> None:
        """Send part of the body."""
        await self._put(h11.Data(data=data))

    async def end(self) -> bool:
        """End the body; True if the connection can take another request."""
        await self._put(h11.EndOfMessage())
        return self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE

    async def drop(self) -> bool:
        """Close the connection now, answered or mid-body; always False."""
        await self.stream.aclose()
        return False

    async def wait(self, seconds: float) -> bool:
        """Wait ``seconds`` on the trio clock; False as soon as the client hangs up instead.

        HTTP/1.1 clients send nothing more on a connection while they wait for its
        response, so any read that returns here means the client hung up.
        """
        gone = False
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                nonlocal gone
                with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await self.stream.receive_some(_RECEIVE)
                gone = True
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            await trio.sleep(seconds)
            nursery.cancel_scope.cancel()
        return not gone

    async def _put(self, event: Any) -> None:
        await self.stream.send_all(self.conn.send(event) or b"")

    async def _next(self) -> Any:
        while (event := self.conn.next_event()) is h11.NEED_DATA:
            self.conn.receive_data(await self.stream.receive_some(_RECEIVE))
        return event


@attrs.define(eq=False)
class LoopbackServer(Generic[RequestT]):
    """A loopback HTTP/1.1 server; subclasses answer in :meth:`respond` (see the module doc).

    ``request_type`` is the :class:`LoopbackRequest` subclass requests are read
    into; ``url_path`` is appended to ``url`` (``"/v1"``: the base URL a client
    is given).
    """

    request_type: ClassVar[type[LoopbackRequest]] = LoopbackRequest
    url_path: ClassVar[str] = ""

    requests: list[RequestT] = attrs.field(factory=list, init=False)
    """Every request received, in arrival order."""
    connections: int = attrs.field(default=0, init=False)
    url: str = attrs.field(default="", init=False)  # http://127.0.0.1:<port><url_path>

    async def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        task_status: trio.TaskStatus[Self] = trio.TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Listen on ``host:port`` (0: any free port), report ``self`` as started, serve forever.

        Start it with ``server = await nursery.start(server.serve)``.
        """
        listeners = await trio.open_tcp_listeners(port, host=host)
        self.url = f"http://{host}:{listeners[0].socket.getsockname()[1]}{self.url_path}"
        task_status.started(self)
        await trio.serve_listeners(self._connection, listeners)

    async def respond(self, request: RequestT, exchange: Exchange) -> bool:
        """Answer ``request`` through ``exchange``; return what the answer returned."""
        raise NotImplementedError(f"{type(self).__name__} must override respond()")

    async def next_scripted(
        self,
        request: RequestT,
        handler: Callable[[RequestT], Any] | None,
        queue: list[T],
        default: D,
    ) -> T | D:
        """``handler(request)`` if it answers (sync or async; None falls through), else
        the first of ``queue`` (removed), else ``default``."""
        if handler is not None:
            answer = handler(request)
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is not None:
                return answer  # type: ignore[no-any-return]
        return queue.pop(0) if queue else default

    async def _connection(self, stream: trio.SocketStream) -> None:
        exchange = Exchange(stream, h11.Connection(h11.SERVER))
        self.connections += 1
        try:
            async with stream:
                while await self._exchange(exchange):
                    exchange.conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError, OSError):
            pass  # the client went away or spoke nonsense: drop this connection only

    async def _exchange(self, exchange: Exchange) -> bool:
        """Serve one request; True if the connection can take another."""
        request = await exchange._next()
        if not isinstance(request, h11.Request):
            return False
        body = bytearray()
        while isinstance(event := await exchange._next(), h11.Data):
            body += event.data
        if not isinstance(event, h11.EndOfMessage):
            return False
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        received: Any = self.request_type(
            method=request.method.decode("ascii"),
            path=request.target.decode("latin-1"),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers},
            body=bytes(body),
            json=parsed,
            at=trio.current_time(),
        )
        self.requests.append(received)
        return bool(await self.respond(received, exchange))
