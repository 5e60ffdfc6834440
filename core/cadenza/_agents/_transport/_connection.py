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
from collections.abc import Callable

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
    origin: Origin, connect_timeout: float | None, ssl_context: Callable[[], ssl.SSLContext]
) -> Connection:
    """A new connection to ``origin``: TCP (and the TLS handshake for https) within the timeout."""
    scheme, host, port = origin
    tcp: trio.SocketStream | None = None
    try:
        with trio.move_on_after(_limit(connect_timeout)):
            tcp = await trio.open_tcp_stream(host, port)
            if scheme != "https":
                return Connection(origin, tcp, tcp)
            tls = trio.SSLStream(tcp, ssl_context(), server_hostname=host, https_compatible=True)
            await tls.do_handshake()
            return Connection(origin, tls, tcp)
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


class Connection:
    """A socket that carries one request at a time, and what the pool needs to know of it."""

    __slots__ = ("_socket", "closed", "expires_at", "origin", "reused", "stream")

    def __init__(self, origin: Origin, stream: trio.abc.Stream, tcp: trio.SocketStream) -> None:
        self.origin = origin
        self.stream = stream
        self._socket = tcp.socket
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

    async def send(self, data: bytes | bytearray, within: float | None) -> None:
        """Write ``data`` within ``within`` seconds; else ``WriteTimeout``/``WriteError``.

        ``within`` is httpx's per-operation write timeout, not a deadline for
        the call (callers set those with cancel scopes).
        """
        try:
            with trio.move_on_after(_limit(within)) as scope:
                await self.stream.send_all(data)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise httpx.WriteError(_reason(exc)) from exc
        if scope.cancelled_caught:
            raise httpx.WriteTimeout(f"could not send the request within {within:g}s")

    async def receive(self, within: float | None) -> bytes | bytearray:
        """Some bytes (``b""`` at EOF) within ``within`` s; else ``ReadTimeout``/``ReadError``."""
        try:
            with trio.move_on_after(_limit(within)):
                return await self.stream.receive_some(RECEIVE_SIZE)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise httpx.ReadError(_reason(exc)) from exc
        raise httpx.ReadTimeout(f"no data from the server within {within:g}s")

    async def start(
        self, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> ResponseReader:
        """Send ``request`` and read until the response's head is complete.

        On a reused connection, a failure before any byte of the answer raises
        :class:`StaleConnectionError` (the server closed the idle connection
        while we were sending).
        """
        reader = ResponseReader(head_only=request.method == "HEAD")
        try:
            await self._send_request(request, timeouts.get("write"))
            read_timeout = timeouts.get("read")
            while not reader.head_done:
                data = await self.receive(read_timeout)
                if data:
                    reader.feed(data)
                else:
                    reader.feed_eof()
        except (httpx.WriteError, httpx.ReadError) as exc:
            if self.reused and not reader.received and _refused(exc):
                raise StaleConnectionError(exc) from exc
            raise
        return reader

    async def _send_request(self, request: httpx.Request, write_timeout: float | None) -> None:
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
            await self.send(head, write_timeout)
            return
        await self.send(head, write_timeout)
        assert isinstance(stream, httpx.AsyncByteStream), "an async client sends async bodies"
        chunks = aiter(stream)
        try:
            async for chunk in chunks:
                if chunk:
                    await self.send(encode_chunk(chunk) if chunked else chunk, write_timeout)
        finally:  # a failed write leaves the body's generator unfinished: end it here
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        if chunked:
            await self.send(LAST_CHUNK, write_timeout)
