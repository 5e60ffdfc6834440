"""Servers for the HTTP engine's tests: scripted raw trio sockets that misbehave on purpose.

``open_raw_server(handler)`` serves every accepted connection with
``handler(stream, state)``; helpers read one request off a stream and write
raw bytes, so a test can answer with anything (no framing, garbage, a reset).
``engine`` parametrises a test over Cadenza's engine and httpx's stock
transport (``CADENZA_HTTP_ENGINE``), to show both behave alike.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import attrs
import httpx
import pytest
import trio

from cadenza.http import open_http_client

ENGINES = ("cadenza", "httpx")


@attrs.define
class ServerState:
    """What a raw server saw: connections accepted, requests read, connections that ended."""

    connections: int = 0
    requests: list[bytes] = attrs.field(factory=list)
    closed_by_client: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


Handler = Callable[[trio.SocketStream, ServerState], Awaitable[None]]


@asynccontextmanager
async def open_raw_server(handler: Handler) -> AsyncIterator[tuple[str, ServerState]]:
    """``(base_url, state)`` of a loopback server running ``handler`` per connection."""
    state = ServerState()

    async def serve(stream: trio.SocketStream) -> None:
        state.connections += 1
        try:
            await handler(stream, state)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            stream.socket.close()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        yield f"http://127.0.0.1:{port}", state
        nursery.cancel_scope.cancel()


class Reader:
    """Reads HTTP/1.1 requests (head, then a Content-Length or chunked body) off a stream."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def _fill(self) -> bool:
        data = await self.stream.receive_some(65536)
        self.buffer += data
        return bool(data)

    async def request(self, state: ServerState | None = None) -> bytes | None:
        """One whole request (head and decoded body), or None when the client hung up."""
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if not await self._fill():
                if state is not None:
                    state.closed_by_client += 1
                return None
        head = bytes(self.buffer[: end + 4])
        del self.buffer[: end + 4]
        lowered = head.lower()
        body = b""
        if b"transfer-encoding: chunked" in lowered:
            body = await self._chunked()
        elif b"content-length:" in lowered:
            length = int(lowered.split(b"content-length:")[1].split(b"\r\n")[0])
            while len(self.buffer) < length:
                await self._fill()
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
        request = head + body
        if state is not None:
            state.requests.append(request)
        return request

    async def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            while (end := self.buffer.find(b"\r\n")) < 0:
                await self._fill()
            size = int(self.buffer[:end], 16)
            while len(self.buffer) < end + 2 + size + 2:
                await self._fill()
            body += self.buffer[end + 2 : end + 2 + size]
            del self.buffer[: end + 2 + size + 2]
            if size == 0:
                return bytes(body)


def response(body: bytes = b"ok", status: str = "200 OK", *headers: str) -> bytes:
    """A whole response with a Content-Length."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def keep_alive(stream: trio.SocketStream, state: ServerState) -> None:
    """Answer every request on the connection with ``ok``, keeping it open."""
    reader = Reader(stream)
    while await reader.request(state) is not None:
        await stream.send_all(response())


def reset(stream: trio.SocketStream) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a server that drops a connection abruptly."""
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with Cadenza's engine and with httpx's stock transport."""
    monkeypatch.setenv("CADENZA_HTTP_ENGINE", request.param)
    return str(request.param)


def client(timeout: float = 5, connect_timeout: float = 5) -> httpx.AsyncClient:
    """``open_http_client`` with the test's engine and no extra headers."""
    return open_http_client(timeout=timeout, connect_timeout=connect_timeout, headers={})
