"""The httpx transport: requests in, ``httpx.Response`` objects with streamed bodies out.

``httpx.AsyncClient(transport=CadenzaTransport())`` keeps all of httpx above
the wire (URLs, headers, cookies, auth, content decoding, ``client.stream``)
and replaces httpcore below it with :mod:`._pool`, :mod:`._connection` and
:mod:`._wire`. A response's connection goes back to the pool when its body
has been read to the end; closed early, failed or cancelled, the connection
is closed instead and its slot freed at once.
"""

from __future__ import annotations

import ssl
import typing

import httpx

from ._connection import Connection, Origin, StaleConnectionError
from ._pool import Pool
from ._tls import default_ssl_context
from ._wire import ResponseReader

DEFAULT_PORTS = {"http": 80, "https": 443}


@typing.final
class CadenzaTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive, over trio; ``max_per_origin`` connections per origin.

    ``ssl_context`` defaults to ``httpx.create_ssl_context()`` (certifi's CAs,
    or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` as httpx reads them), one for the
    whole process, built in a worker thread on the first https request
    (:mod:`._tls`).
    """

    def __init__(
        self,
        *,
        max_per_origin: int = 100,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._ssl = ssl_context
        self.pool = Pool(
            max_per_origin=max_per_origin,
            keepalive_expiry=keepalive_expiry,
            ssl_context=self._ssl_context,
        )

    async def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            return await default_ssl_context()
        return self._ssl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://': use http:// or https://."
            )
        if not url.host:
            raise httpx.UnsupportedProtocol(f"Request URL {url} has no host.")
        origin: Origin = (scheme, url.host, url.port or DEFAULT_PORTS[scheme])
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        pool = self.pool
        connection = await pool.acquire(
            origin, pool_timeout=timeouts.get("pool"), connect_timeout=timeouts.get("connect")
        )
        try:
            reader = await connection.start(request, timeouts)
        except StaleConnectionError as stale:
            pool.release(connection, reusable=False)
            if not isinstance(request.stream, httpx.ByteStream):  # a streamed body is spent
                raise stale.error from stale.error.__cause__
            connection = await pool.acquire(
                origin,
                pool_timeout=timeouts.get("pool"),
                connect_timeout=timeouts.get("connect"),
                fresh=True,
            )
            try:
                reader = await connection.start(request, timeouts)
            except BaseException:
                pool.release(connection, reusable=False)
                raise
        except BaseException:
            pool.release(connection, reusable=False)
            raise
        stream = ResponseStream(pool, connection, reader, timeouts.get("read"))
        extensions = {"http_version": reader.http_version, "reason_phrase": reader.reason}
        return httpx.Response(
            reader.status, headers=reader.headers, stream=stream, extensions=extensions
        )

    async def aclose(self) -> None:
        self.pool.close()


@typing.final
class ResponseStream(httpx.AsyncByteStream):
    """A response body read from its connection as the caller iterates it.

    The connection is released as soon as the message is complete (reusable)
    or the stream is closed before that, fails or is cancelled (closed).
    """

    __slots__ = ("_connection", "_pool", "_reader", "_timeout")

    def __init__(
        self, pool: Pool, connection: Connection, reader: ResponseReader, timeout: float | None
    ) -> None:
        self._pool = pool
        self._connection: Connection | None = connection
        self._reader = reader
        self._timeout = timeout
        if reader.complete:
            self._release(reusable=reader.reusable)

    def _release(self, *, reusable: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.release(connection, reusable=reusable)

    def __aiter__(self) -> ResponseStream:
        return self

    async def __anext__(self) -> bytes:
        reader = self._reader
        while True:
            if reader.chunks:
                return reader.chunks.popleft()
            connection = self._connection
            if connection is None:  # complete (or closed early: httpx stops reading then)
                raise StopAsyncIteration
            try:
                data = await connection.receive(self._timeout)
                if data:
                    reader.feed(data)
                else:
                    reader.feed_eof()
            except BaseException:
                self._release(reusable=False)
                raise
            if reader.complete:
                self._release(reusable=reader.reusable)

    async def aclose(self) -> None:
        self._release(reusable=False)  # a no-op once the body was read to its end
