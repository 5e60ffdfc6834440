"""One HTTP/1.1 connection over a trio stream: open it, send a request, read the answer.

Every failure leaves as the httpx exception httpx's own transport raises for
it (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``, ``WriteError``,
...), so callers keep catching httpx types. Closing is synchronous (the socket
is closed at once, no TLS goodbye), so a cancelled request closes its
connection without awaiting anything.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Awaitable, Callable

import httpx
import trio

from ._wire import LAST_CHUNK, ResponseReader, encode_chunk, encode_head

RECEIVE_SIZE = 65536
Origin = tuple[str, str, int]
"""``(scheme, host, port)``: what a pooled connection can serve."""


class StaleConnectionError(Exception):
    """A reused connection was closed by the server before it could read our request.

    That is the case when writing fails, or the answer is a connection reset
    before any byte (a socket closed with our request unread answers with a
    reset). The transport retries such a request once on a new connection (when
    its body can be sent again); ``error`` is what to raise otherwise. A clean
    close after the request (EOF, no answer) is not retried, as with httpx: the
    server may have acted on the request.
    """

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(str(error))
        self.error = error


def _refused(exc: httpx.TransportError) -> bool:
    """Whether a write error, or a read error that is a reset: the request was not read."""
    if isinstance(exc, httpx.WriteError):
        return True
    cause: BaseException | None = exc.__cause__
    while cause is not None:
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _limit(value: float | None) -> float:
    return math.inf if value is None else value


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return str(exc) or (str(cause) if cause is not None else "") or type(exc).__name__


async def open_connection(
    origin: Origin,
    connect_timeout: float | None,
    ssl_context: Callable[[], Awaitable[ssl.SSLContext]],
) -> Connection:
    """A new connection to ``origin``: TCP (and the TLS handshake for https) within the timeout."""
    scheme, host, port = origin
    tcp: trio.SocketStream | None = None
    try:
        with trio.move_on_after(_limit(connect_timeout)):
            tcp = await trio.open_tcp_stream(host, port)
            if scheme != "https":
                return Connection(origin, tcp, None)
            context = await ssl_context()  # built off the trio thread (see _tls)
            tls = trio.SSLStream(tcp, context, server_hostname=host, https_compatible=True)
            await tls.do_handshake()
            return Connection(origin, tcp, tls)
    except (OSError, trio.BrokenResourceError, ssl.SSLError) as exc:
        if tcp is not None:
            tcp.socket.close()
        raise httpx.ConnectError(_reason(exc)) from exc
    except BaseException:
        if tcp is not None:
            tcp.socket.close()
        raise
    if tcp is not None:
        tcp.socket.close()
    raise httpx.ConnectTimeout(f"no connection to {host}:{port} within {connect_timeout:g}s")


_STREAM_ERRORS = (OSError, trio.BrokenResourceError, trio.ClosedResourceError)


class Connection:
    """A socket that carries one request at a time, and what the pool needs to know of it.

    Plain http reads and writes the trio socket directly (``SocketStream``'s
    per-call bookkeeping is a measurable part of a loopback exchange); https
    goes through the ``SSLStream``. Per-operation timeouts share one cancel
    scope per request, its deadline moved before each operation.
    """

    __slots__ = ("_socket", "_tls", "closed", "expires_at", "origin", "reused")

    def __init__(
        self,
        origin: Origin,
        tcp: trio.SocketStream,
        tls: trio.SSLStream[trio.SocketStream] | None,
    ) -> None:
        self.origin = origin
        self._socket = tcp.socket
        self._tls = tls
        self.closed = False
        self.expires_at = 0.0
        self.reused = False

    def close(self) -> None:
        """Close the socket now (idempotent)."""
        if not self.closed:
            self.closed = True
            self._socket.close()

    def is_readable(self) -> bool:
        """Whether the peer sent something (EOF included) while the connection was idle.

        An idle HTTP/1.1 connection has nothing to read; anything readable means
        the server closed it or broke the protocol, so it must not be reused.
        """
        return self._socket.is_readable()

    async def _write(self, data: bytes | bytearray) -> None:
        try:
            if self._tls is not None:
                await self._tls.send_all(data)
                return
            sent = await self._socket.send(data)
            if sent < len(data):
                view = memoryview(data)[sent:]
                while view:
                    sent = await self._socket.send(view)
                    view = view[sent:]
        except _STREAM_ERRORS as exc:
            raise httpx.WriteError(_reason(exc)) from exc

    async def _read(self) -> bytes | bytearray:
        try:
            if self._tls is not None:
                return await self._tls.receive_some(RECEIVE_SIZE)
            return await self._socket.recv(RECEIVE_SIZE)
        except _STREAM_ERRORS as exc:
            raise httpx.ReadError(_reason(exc)) from exc

    async def receive(self, within: float | None) -> bytes | bytearray:
        """Some bytes (``b""`` at EOF) within ``within`` s; else ``ReadTimeout``/``ReadError``."""
        with trio.CancelScope(deadline=trio.current_time() + _limit(within)):
            return await self._read()
        raise httpx.ReadTimeout(f"no data from the server within {within:g}s")

    async def start(
        self, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> ResponseReader:
        """Send ``request`` and read until the response's head is complete.

        ``timeouts["write"]`` bounds each write, ``timeouts["read"]`` each read
        (``WriteTimeout``, ``ReadTimeout``). On a reused connection that the
        server had closed before reading the request, raises
        :class:`StaleConnectionError`.
        """
        reader = ResponseReader(head_only=request.method == "HEAD")
        write_within = timeouts.get("write")
        read_within = timeouts.get("read")
        reading = False
        try:
            with trio.CancelScope(deadline=trio.current_time() + _limit(write_within)) as scope:
                await self._send_request(request, scope, _limit(write_within))
                reading = True
                read_limit = _limit(read_within)
                while not reader.head_done:
                    scope.deadline = trio.current_time() + read_limit
                    data = await self._read()
                    if data:
                        reader.feed(data)
                    else:
                        reader.feed_eof()
        except (httpx.WriteError, httpx.ReadError) as exc:
            if self.reused and not reader.received and _refused(exc):
                raise StaleConnectionError(exc) from exc
            raise
        if scope.cancelled_caught:
            if reading:
                raise httpx.ReadTimeout(f"no answer from the server within {read_within:g}s")
            raise httpx.WriteTimeout(f"could not send the request within {write_within:g}s")
        return reader

    async def _send_request(
        self, request: httpx.Request, scope: trio.CancelScope, write_limit: float
    ) -> None:
        url = request.url
        headers = request.headers.raw
        chunked = False
        for name, value in headers:
            if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
                chunked = True
        head = encode_head(request.method.encode("ascii"), url.raw_path, headers)
        stream = request.stream
        if isinstance(stream, httpx.ByteStream):  # a body known in full: one write
            body = b"".join(stream)
            head += encode_chunk(body) + LAST_CHUNK if chunked else body
            await self._write(head)
            return
        await self._write(head)
        assert isinstance(stream, httpx.AsyncByteStream), "an async client sends async bodies"
        chunks = aiter(stream)
        try:
            scope.deadline = math.inf  # producing the body is the caller's time, not a write
            async for chunk in chunks:
                if chunk:
                    scope.deadline = trio.current_time() + write_limit
                    await self._write(encode_chunk(chunk) if chunked else chunk)
                    scope.deadline = math.inf
        finally:  # a failed write leaves the body's generator unfinished: end it here
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        if chunked:
            scope.deadline = trio.current_time() + write_limit
            await self._write(LAST_CHUNK)
