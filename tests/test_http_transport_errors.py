"""The HTTP engine's failures: timeouts, refusals, broken answers and cancellation, as httpx's.

Tests run with Cadenza's engine and httpx's stock transport (the ``engine``
fixture) where both must behave alike; pool internals are checked on
Cadenza's transport directly.
"""

from __future__ import annotations

import socket

import httpx
import pytest
import trio

from cadenza._agents._transport._transport import CadenzaTransport

from .http_transport_helpers import (
    Reader,
    ServerState,
    client,
    engine,
    keep_alive,
    open_raw_server,
    response,
)

__all__ = ["engine"]  # the fixture, imported to be used here


async def silent(stream: trio.SocketStream, state: ServerState) -> None:
    """Read the request, never answer (until the client hangs up)."""
    reader = Reader(stream)
    await reader.request(state)
    await reader.request(state)


async def test_connection_refused_is_a_connect_error(engine: str) -> None:
    """Nothing listening: ``httpx.ConnectError``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_tls_handshake_that_never_ends_is_a_connect_timeout(
    engine: str, autojump_clock: trio.abc.Clock
) -> None:
    """The connect timeout covers the TLS handshake: a silent server gives ConnectTimeout."""
    async with open_raw_server(silent) as (url, _), client(connect_timeout=3) as http:
        with pytest.raises(httpx.ConnectTimeout):
            await http.get(url.replace("http://", "https://"))


async def test_no_answer_is_a_read_timeout(engine: str, autojump_clock: trio.abc.Clock) -> None:
    """A server that reads the request and says nothing: ``httpx.ReadTimeout``."""
    async with open_raw_server(silent) as (url, _), client(timeout=2) as http:
        start = trio.current_time()
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url)
        assert trio.current_time() - start == pytest.approx(2, abs=0.1)


async def test_a_server_that_stops_reading_is_a_write_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A body the server never reads fills the socket buffers: ``httpx.WriteTimeout``.

    (Cadenza's engine only: httpx's stock transport raises the same, but leaves
    the request body's generator to the garbage collector, which trio reports.)
    """

    async def never_reads(stream: trio.SocketStream, state: ServerState) -> None:
        await trio.sleep_forever()

    async with open_raw_server(never_reads) as (url, _), client(timeout=2) as http:
        with pytest.raises(httpx.WriteTimeout):
            await http.post(url, content=b"x" * 50_000_000)


async def test_waiting_too_long_for_a_connection_is_a_pool_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    """All connections to an origin busy past the pool timeout: ``httpx.PoolTimeout``."""
    transport = CadenzaTransport(max_per_origin=1)
    timeout = httpx.Timeout(10, pool=1)
    async with (
        open_raw_server(silent) as (url, _),
        httpx.AsyncClient(transport=transport, timeout=timeout) as http,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(http.get, url)  # holds the only connection
        await trio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(url)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "answer",
    [
        b"HELLO THERE\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot hex\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
    ],
    ids=["not-http", "bad-status", "bad-header", "bad-chunk", "two-lengths"],
)
async def test_malformed_answers_are_remote_protocol_errors(engine: str, answer: bytes) -> None:
    """Whatever is not HTTP/1.1 raises ``httpx.RemoteProtocolError``."""

    async def garbage(stream: trio.SocketStream, state: ServerState) -> None:
        await Reader(stream).request(state)
        await stream.send_all(answer)
        await Reader(stream).request(state)  # keep the connection open

    async with open_raw_server(garbage) as (url, _), client(timeout=2) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url)


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_a_server_closing_mid_body_is_a_remote_protocol_error(
    engine: str, framing: str
) -> None:
    """The connection ending before the announced body did: ``httpx.RemoteProtocolError``."""
    if framing == "length":
        partial = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten.."
    else:
        partial = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"

    async def cut(stream: trio.SocketStream, state: ServerState) -> None:
        await Reader(stream).request(state)
        await stream.send_all(partial)

    async with open_raw_server(cut) as (url, _), client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
            await http.get(url)


async def test_an_unsupported_url_is_refused_before_any_io(engine: str) -> None:
    """``ftp://`` is ``httpx.UnsupportedProtocol``, as with httpx."""
    async with client() as http:
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("ftp://127.0.0.1/file")


# -- cancellation ----------------------------------------------------------------------


async def _slot_is_free(http: httpx.AsyncClient, url: str) -> None:
    """With one connection per origin, a new request gets through within the pool timeout."""
    assert (await http.get(url)).text == "ok"


@pytest.mark.parametrize("where", ["connect", "head", "body"])
async def test_cancelling_a_request_closes_its_connection_and_frees_its_slot(
    where: str, autojump_clock: trio.abc.Clock
) -> None:
    """Cancelled while connecting, awaiting the head or reading the body: nothing is kept."""

    async def stalls(stream: trio.SocketStream, state: ServerState) -> None:
        reader = Reader(stream)
        request = await reader.request(state)
        if request is None:
            return
        if b"/stall" not in request:
            await stream.send_all(response())
            return
        if where == "body":
            await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
        await reader.request(state)  # until the client hangs up

    transport = CadenzaTransport(max_per_origin=1)
    timeout = httpx.Timeout(60, pool=1)
    async with (
        open_raw_server(stalls) as (url, state),
        httpx.AsyncClient(transport=transport, timeout=timeout) as http,
    ):
        target = url + "/stall"
        if where == "connect":
            target = url.replace("http://", "https://") + "/stall"  # a handshake that stalls
        with trio.move_on_after(5) as scope:
            await http.get(target)
        assert scope.cancelled_caught
        await trio.sleep(0.1)
        assert state.closed_by_client == 1  # the cancelled connection was closed
        await _slot_is_free(http, url)
    assert transport.pool.idle_count(("http", "127.0.0.1", int(url.rsplit(":", 1)[1]))) == 0


async def test_cancelling_a_stream_mid_body_closes_its_connection(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A ``client.stream`` block cancelled half-way leaves no half-read connection in the pool."""

    async def slow_body(stream: trio.SocketStream, state: ServerState) -> None:
        reader = Reader(stream)
        while await reader.request(state) is not None:
            if state.connections > 1:
                await stream.send_all(response())
                continue
            await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nfirst")
            await trio.sleep(100)
            await stream.send_all(b"...rest........")

    transport = CadenzaTransport(max_per_origin=1)
    async with (
        open_raw_server(slow_body) as (url, state),
        httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(600, pool=1)) as http,
    ):
        with trio.move_on_after(5):
            async with http.stream("GET", url) as answer:
                async for _ in answer.aiter_raw():
                    pass
        assert (await http.get(url)).text == "ok"
    assert state.connections == 2


async def test_many_cancelled_requests_leave_the_pool_usable(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Fifty requests cancelled at random points, then fifty more that all succeed."""
    transport = CadenzaTransport(max_per_origin=4)

    async def slowish(stream: trio.SocketStream, state: ServerState) -> None:
        reader = Reader(stream)
        while await reader.request(state) is not None:
            await trio.sleep(0.5)
            await stream.send_all(response())

    async with (
        open_raw_server(slowish) as (url, _),
        httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(60, pool=30)) as http,
    ):
        async with trio.open_nursery() as nursery:
            for i in range(50):

                async def cancelled(delay: float = i * 0.037) -> None:
                    with trio.move_on_after(delay):
                        await http.get(url)

                nursery.start_soon(cancelled)
        answers: list[int] = []
        async with trio.open_nursery() as nursery:
            for _ in range(50):

                async def call() -> None:
                    answers.append((await http.get(url)).status_code)

                nursery.start_soon(call)
    assert answers == [200] * 50


async def test_the_pool_works_after_keep_alive_traffic(engine: str) -> None:
    """A sanity check that the helpers serve both engines: 10 calls, 10 answers."""
    async with open_raw_server(keep_alive) as (url, state), client() as http:
        for _ in range(10):
            await http.get(url)
    assert len(state.requests) == 10
