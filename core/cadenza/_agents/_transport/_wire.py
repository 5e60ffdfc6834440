"""HTTP/1.1 on the wire: request heads and chunked bodies out, responses in.

Writing a request head is a join of already-validated bytes; reading a
response is llhttp's job (through httptools, the C parser uvicorn uses), so
the hard part of HTTP/1.1 parsing -- chunk sizes and extensions, trailers,
obsolete line folding, header syntax, smuggling-prone duplicates -- is done by
a parser that millions of Node.js servers exercise, at ~3 µs per response
instead of h11's ~140 µs per exchange. What llhttp cannot know (the request
was a ``HEAD``; whether a body without length ends at EOF) is decided here.
"""

from __future__ import annotations

import re
from collections import deque

import httptools
import httpx

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_known_names: set[bytes] = set()
"""Header names already checked: they repeat on every request, so each is matched once."""


def encode_head(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytearray:
    """``METHOD target HTTP/1.1`` and the header lines, checked as h11 checks them.

    A name that is not an HTTP token or a value holding CR, LF or NUL would let
    a caller split the message, so it raises ``httpx.LocalProtocolError``.
    """
    head = bytearray(method)
    head += b" "
    head += target
    head += b" HTTP/1.1\r\n"
    for name, value in headers:
        if name not in _known_names:
            if _TOKEN.fullmatch(name) is None:
                raise httpx.LocalProtocolError(f"Illegal header name {name!r}")
            if len(_known_names) < 1024:
                _known_names.add(name)
        if _BAD_VALUE.search(value) is not None:
            raise httpx.LocalProtocolError(
                f"Illegal header value in {name.decode('ascii')!r}: CR, LF or NUL"
            )
        head += name
        head += b": "
        head += value
        head += b"\r\n"
    head += b"\r\n"
    return head


def encode_chunk(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` request body (empty data: nothing)."""
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


class ResponseReader:
    """Parses one response from the bytes fed to it; the connection owns the socket.

    After :meth:`feed` the head is known once ``head_done``; body bytes wait in
    ``chunks``; ``complete`` says the message ended. ``reusable`` is false when
    the connection cannot carry another request (``Connection: close``, HTTP/1.0,
    a body that ends at EOF, bytes after the end of the message).
    """

    __slots__ = (
        "_head_only",
        "_parser",
        "_reason",
        "chunks",
        "complete",
        "head_done",
        "headers",
        "http_version",
        "received",
        "reusable",
        "status",
        "until_eof",
    )

    def __init__(self, *, head_only: bool) -> None:
        self._head_only = head_only
        self._parser = httptools.HttpResponseParser(self)
        self._reason = b""
        self.chunks: deque[bytes] = deque()
        self.complete = False
        self.head_done = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.http_version = b"HTTP/1.1"
        self.received = False
        self.reusable = True
        self.status = 0
        self.until_eof = False

    @property
    def reason(self) -> bytes:
        return self._reason

    # -- fed by the connection ---------------------------------------------------

    def feed(self, data: bytes | bytearray) -> None:
        """Parse ``data``; a malformed response raises ``httpx.RemoteProtocolError``."""
        self.received = True
        if self.complete:  # bytes after the end of the message: nothing we asked for
            self.reusable = False
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self._done():  # garbage after a complete message: just do not reuse
                self.reusable = False
                return
            cause = exc.__cause__ or exc.__context__
            self._fail(f"malformed HTTP response: {cause or exc}")

    def feed_eof(self) -> None:
        """The peer closed: the end of a body without length, or an error."""
        self.reusable = False
        if self.complete:
            return
        if not self.head_done:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if self.until_eof:
            self.complete = True
            return
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )

    def _done(self) -> bool:
        return self.complete  # (a method: the callbacks change it during feed_data)

    def _fail(self, message: str) -> None:
        self.reusable = False
        raise httpx.RemoteProtocolError(message)

    # -- llhttp's callbacks ------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self.reusable = False

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if 100 <= status < 200:  # informational (100 Continue): the real answer follows
            if status == 101:
                raise ValueError("101 Switching Protocols, which Cadenza does not support")
            self.headers = []
            self._reason = b""
            return
        self.status = status
        self.head_done = True
        version = parser.get_http_version()
        if version != "1.1":  # HTTP/1.0: one request per connection
            self.http_version = b"HTTP/" + version.encode("ascii")
            self.reusable = False
        framed = False
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or lowered == b"transfer-encoding":
                framed = True
            elif lowered == b"connection" and b"close" in value.lower():
                self.reusable = False
        if self._head_only or status in (204, 304):
            self.complete = True
        elif not framed:
            self.until_eof = True
            self.reusable = False

    def on_body(self, body: bytes) -> None:
        if self.complete:  # a body after HEAD, 204 or 304: nothing we can trust after it
            self.reusable = False
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.head_done:
            self.complete = True
