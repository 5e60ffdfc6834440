"""The HTTP engine against real loopback servers: keep-alive, pooling and message framing.

Most tests run twice (the ``engine`` fixture): with Cadenza's engine and with
httpx's stock transport, so each shows the engine behaves as httpx does.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio

from cadenza._agents._transport._transport import CadenzaTransport
from cadenza.http import open_http_client, read_at_most
from cadenza.testing import Exchange, LoopbackRequest, LoopbackServer

from .http_transport_helpers import (
    Reader,
    ServerState,
    client,
    engine,
    keep_alive,
    open_raw_server,
    reset,
    response,
)

__all__ = ["engine"]  # the fixture, imported to be used here


class Scripted(LoopbackServer[LoopbackRequest]):
    """Answers each request with the next of ``answers``: ``(status, body, headers)``."""

    def __init__(self, *answers: tuple[int, bytes, dict[str, str]]) -> None:
        super().__init__()
        self.answers = list(answers)

    async def respond(self, request: LoopbackRequest, exchange: Exchange) -> bool:
        status, body, headers = self.answers.pop(0) if self.answers else (200, b"{}", {})
        if headers.get("transfer-encoding") == "chunked":
            await exchange.start(status, {})
            for piece in (body[: len(body) // 2], body[len(body) // 2 :]):
                await exchange.write(piece)
            return await exchange.end()
        return await exchange.send(status, body, headers)


async def _started(nursery: trio.Nursery, server: LoopbackServer[Any]) -> str:
    await nursery.start(server.serve)
    return server.url


async def test_keep_alive_reuses_one_connection(engine: str) -> None:
    """Sequential requests to one origin share one connection."""
    async with open_raw_server(keep_alive) as (url, state), client() as http:
        for _ in range(20):
            assert (await http.get(url + "/x")).text == "ok"
    assert state.connections == 1
    assert len(state.requests) == 20


async def test_connections_per_origin_are_limited() -> None:
    """At most ``max_per_origin`` connections serve an origin; the rest wait their turn."""

    async def slow(stream: trio.SocketStream, state: ServerState) -> None:
        reader = Reader(stream)
        while await reader.request(state) is not None:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            await trio.sleep(0.05)
            state.in_flight -= 1
            await stream.send_all(response())

    transport = CadenzaTransport(max_per_origin=2)
    async with (
        open_raw_server(slow) as (url, state),
        httpx.AsyncClient(transport=transport) as http,
        trio.open_nursery() as nursery,
    ):
        for _ in range(6):
            nursery.start_soon(http.get, url)
    assert state.connections == 2
    assert state.max_in_flight == 2
    assert len(state.requests) == 6


async def test_idle_connections_expire(autojump_clock: trio.abc.Clock) -> None:
    """A connection idle for longer than ``keepalive_expiry`` is closed, not reused."""
    transport = CadenzaTransport(keepalive_expiry=5)
    async with (
        open_raw_server(keep_alive) as (url, state),
        httpx.AsyncClient(transport=transport) as http,
    ):
        await http.get(url)
        await trio.sleep(1)
        await http.get(url)
        assert state.connections == 1
        await trio.sleep(6)
        await http.get(url)
        await trio.sleep(0.1)
    assert state.connections == 2
    assert state.closed_by_client >= 1


async def test_a_connection_the_server_closed_while_idle_is_not_reused(engine: str) -> None:
    """The server closing an idle connection costs nothing: the next request opens a new one."""

    async def one_request(stream: trio.SocketStream, state: ServerState) -> None:
        await Reader(stream).request(state)
        await stream.send_all(response())  # keep-alive announced, then closed

    async with open_raw_server(one_request) as (url, state), client() as http:
        for _ in range(3):
            assert (await http.get(url)).text == "ok"
            await trio.sleep(0.05)  # the server's FIN arrives while the connection is idle
    assert state.connections == 3


async def test_a_request_reset_on_a_reused_connection_is_sent_again_once() -> None:
    """A reused connection reset before the server read the request: retried on a new one."""

    async def reset_second(stream: trio.SocketStream, state: ServerState) -> None:
        reader = Reader(stream)
        await reader.request(state)
        await stream.send_all(response())
        if state.connections == 1:  # the first connection: reset when the next request comes
            await trio.lowlevel.wait_readable(stream.socket)
            reset(stream)
            return
        while await reader.request(state) is not None:
            await stream.send_all(response())

    async with open_raw_server(reset_second) as (url, state), client() as http:
        assert (await http.get(url)).text == "ok"
        assert (await http.post(url, content=b"again")).text == "ok"
    assert state.connections == 2


async def test_a_streamed_body_is_not_sent_again_after_a_reset() -> None:
    """A body that was streamed cannot be replayed: the reset is reported instead."""

    async def reset_second(stream: trio.SocketStream, state: ServerState) -> None:
        await Reader(stream).request(state)
        await stream.send_all(response())
        await trio.lowlevel.wait_readable(stream.socket)
        reset(stream)

    async def body() -> AsyncIterator[bytes]:
        yield b"once"

    async with open_raw_server(reset_second) as (url, state), client() as http:
        await http.get(url)
        with pytest.raises((httpx.ReadError, httpx.WriteError)):
            await http.post(url, content=body())
    assert state.connections == 1


async def test_a_server_closing_after_reading_the_request_is_an_error(engine: str) -> None:
    """EOF instead of an answer is not retried (the server may have acted): as with httpx."""

    async def close_second(stream: trio.SocketStream, state: ServerState) -> None:
        reader = Reader(stream)
        await reader.request(state)
        await stream.send_all(response())
        await reader.request(state)

    async with open_raw_server(close_second) as (url, state), client() as http:
        await http.get(url)
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await http.post(url, content=b"x")
    assert state.connections == 1


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_response_bodies_by_length_and_chunked(engine: str, framing: str) -> None:
    """Content-Length and chunked bodies arrive whole, and the connection is reused."""
    body = json.dumps({"text": "x" * 100_000}).encode()
    headers = {"transfer-encoding": "chunked"} if framing == "chunked" else {}
    server = Scripted((200, body, headers), (200, body, headers))
    async with trio.open_nursery() as nursery:
        url = await _started(nursery, server)
        async with client() as http:
            for _ in range(2):
                answer = await http.get(url)
                assert answer.json() == {"text": "x" * 100_000}
        nursery.cancel_scope.cancel()
    assert server.connections == 1


async def test_a_body_without_length_ends_when_the_server_closes(engine: str) -> None:
    """``Connection: close`` and no length: the body is everything up to EOF."""

    async def to_eof(stream: trio.SocketStream, state: ServerState) -> None:
        await Reader(stream).request(state)
        await stream.send_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfirst part, ")
        await trio.sleep(0.01)
        await stream.send_all(b"second part")

    async with open_raw_server(to_eof) as (url, state), client() as http:
        assert (await http.get(url)).text == "first part, second part"
        assert (await http.get(url)).text == "first part, second part"
    assert state.connections == 2


@pytest.mark.parametrize(
    ("method", "status"), [("HEAD", "200 OK"), ("GET", "204 No Content"), ("GET", "304 No")]
)
async def test_answers_without_body(engine: str, method: str, status: str) -> None:
    """HEAD, 204 and 304 have no body whatever their headers say; the connection is reused."""

    async def no_body(stream: trio.SocketStream, state: ServerState) -> None:
        reader = Reader(stream)
        while await reader.request(state) is not None:
            await stream.send_all(f"HTTP/1.1 {status}\r\nContent-Length: 50\r\n\r\n".encode())

    async with open_raw_server(no_body) as (url, state), client() as http:
        for _ in range(3):
            answer = await http.request(method, url)
            assert answer.content == b""
            assert answer.headers["content-length"] == "50"
    assert state.connections == 1


async def test_informational_answers_are_skipped(engine: str) -> None:
    """A ``100 Continue`` before the answer is not the answer."""

    async def continue_first(stream: trio.SocketStream, state: ServerState) -> None:
        await Reader(stream).request(state)
        await stream.send_all(b"HTTP/1.1 100 Continue\r\n\r\n" + response(b"done"))

    async with open_raw_server(continue_first) as (url, _), client() as http:
        answer = await http.post(url, content=b"x")
    assert (answer.status_code, answer.text) == (200, "done")


async def test_request_bodies_of_known_length_and_streamed(engine: str) -> None:
    """Known bodies go with a Content-Length; streamed ones chunked; the server reads both."""

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one ", b"", b"two ", b"three"):
            yield part

    async with open_raw_server(keep_alive) as (url, state), client() as http:
        await http.post(url, content=b"known body")
        await http.post(url, content=parts())
    known, streamed = state.requests
    assert b"content-length: 10\r\n" in known.lower()
    assert known.endswith(b"\r\n\r\nknown body")
    assert b"transfer-encoding: chunked\r\n" in streamed.lower()
    assert streamed.endswith(b"\r\n\r\none two three")


async def test_request_headers_arrive_as_given(engine: str) -> None:
    """Headers reach the server with their values; a value with a newline is refused."""
    async with open_raw_server(keep_alive) as (url, state), client() as http:
        await http.get(url + "/p?q=1", headers={"X-Trace": "a b", "Authorization": "Bearer k"})
        with pytest.raises(httpx.LocalProtocolError):
            await http.get(url, headers={"X-Bad": "a\r\nX-Injected: 1"})
    (request,) = state.requests
    assert request.startswith(b"GET /p?q=1 HTTP/1.1\r\n")
    assert b"\r\nX-Trace: a b\r\n" in request
    assert b"\r\nAuthorization: Bearer k\r\n" in request


async def test_a_stream_read_to_its_end_returns_its_connection(engine: str) -> None:
    """``client.stream`` read whole keeps the connection; closed early, it is discarded."""
    body = b"y" * 200_000
    server = Scripted(*[(200, body, {"transfer-encoding": "chunked"})] * 3)
    async with trio.open_nursery() as nursery:
        url = await _started(nursery, server)
        async with client() as http:
            async with http.stream("GET", url) as answer:
                assert await answer.aread() == body
            async with http.stream("GET", url) as answer:
                assert await read_at_most(answer, 10) == (b"y" * 10, True)  # closed early
            async with http.stream("GET", url) as answer:
                assert await answer.aread() == body
        nursery.cancel_scope.cancel()
    assert server.connections == 2


async def test_closing_a_stream_early_frees_its_slot() -> None:
    """A response closed mid-body releases its connection slot at once."""
    server = Scripted(*[(200, b"z" * 500_000, {"transfer-encoding": "chunked"})] * 2)
    transport = CadenzaTransport(max_per_origin=1)
    async with trio.open_nursery() as nursery:
        url = await _started(nursery, server)
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, pool=1)) as http:
            for _ in range(2):
                async with http.stream("GET", url) as answer:
                    assert (await read_at_most(answer, 10))[1]
        nursery.cancel_scope.cancel()
    assert transport.pool.idle_count(("http", "127.0.0.1", int(url.rsplit(":", 1)[1]))) == 0


async def test_gzip_bodies_are_decoded(engine: str) -> None:
    """Content decoding stays httpx.Response's job, and works over the engine."""
    packed = gzip.compress(b'{"answer": 42}')

    async def gzipped(stream: trio.SocketStream, state: ServerState) -> None:
        await Reader(stream).request(state)
        await stream.send_all(response(packed, "200 OK", "Content-Encoding: gzip"))

    async with open_raw_server(gzipped) as (url, _), client() as http:
        assert (await http.get(url)).json() == {"answer": 42}


async def test_aclose_closes_every_connection(engine: str) -> None:
    """After ``aclose()`` the server sees each idle connection end."""
    async with open_raw_server(keep_alive) as (url, state):
        http = client()
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(http.get, url)
        await http.aclose()
        await trio.sleep(0.2)  # the server notices the connections end
    assert state.connections >= 1
    assert state.closed_by_client == state.connections


def test_the_engine_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """CADENZA_HTTP_ENGINE picks the transport; an unknown value says what is allowed."""
    http = open_http_client(timeout=1, connect_timeout=1, headers={})
    assert type(http._transport).__name__ == "CadenzaTransport"
    monkeypatch.setenv("CADENZA_HTTP_ENGINE", "httpx")
    http = open_http_client(timeout=1, connect_timeout=1, headers={})
    assert isinstance(http._transport, httpx.AsyncHTTPTransport)
    monkeypatch.setenv("CADENZA_HTTP_ENGINE", "curl")
    with pytest.raises(ValueError, match="CADENZA_HTTP_ENGINE='curl' is not an HTTP engine"):
        open_http_client(timeout=1, connect_timeout=1, headers={})
