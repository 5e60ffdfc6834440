"""Who may use the dashboard: a token for every request when it listens beyond loopback.

Bound to a loopback address without a token, requests must name a loopback
host (``Host: 127.0.0.1:port``, ``localhost``, ``[::1]``): a web page elsewhere
cannot reach the dashboard through a DNS name pointed at 127.0.0.1. With a
token, every request, stream and scrape must carry it: ``Authorization:
Bearer <token>``, the ``cadenza_token`` cookie, or (for a browser's first
visit) a ``token`` query parameter, answered with a redirect to the same URL
without it that sets the cookie (HttpOnly, SameSite=Strict). Anything else
gets 401. The token is compared in constant time and never logged.

The redirect never leaves the dashboard: its Location is the request's path,
percent-encoded, and ``/`` when that path would read as another host
(``//host/``, ``/\\host/``). A token may hold only :data:`TOKEN_CHARACTERS`, so
it travels unchanged in a cookie, a header and a URL (see :func:`token_problem`).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

COOKIE = "cadenza_token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
TOKEN_MIN_LENGTH = 16
TOKEN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
"""What a token may hold: URL-safe base64 (``secrets.token_urlsafe``) plus ``.`` and ``~``."""
PATH_SAFE = "/!$&'()*+,;=:@-._~"
"""Characters a redirect's path keeps as they are; everything else is percent-encoded."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    import ipaddress

    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be the dashboard's token, or None when it can.

    A token travels in a cookie, an ``Authorization`` header and a ``?token=``
    query: a space, ``;``, a quote or a non-ASCII character breaks at least one
    of them, so such a token could never log in. The message names the
    characters, never the token.
    """
    if len(token) < TOKEN_MIN_LENGTH:
        return f"it must be at least {TOKEN_MIN_LENGTH} characters long (it has {len(token)})"
    bad = sorted(set(token) - TOKEN_CHARACTERS)
    if bad:
        shown = ", ".join(repr(c) for c in bad[:8]) + (", ..." if len(bad) > 8 else "")
        return (
            f"it contains characters that cannot travel in a cookie or header ({shown}); "
            "use only letters, digits and - . _ ~ (for example the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    return None


def local_location(path: str, query: str = "") -> str:
    """A redirect target on this server: ``path`` percent-encoded, ``/`` if it names a host.

    ``//evil.example/`` and ``/\\evil.example/`` are read by browsers as another
    host (an open redirect); CR, LF and non-ASCII characters would break the
    header. Only a path that starts with a single ``/`` is kept.
    """
    if not path.startswith("/") or path[1:2] in ("/", "\\"):
        path = "/"
    return quote(path, safe=PATH_SAFE) + (f"?{query}" if query else "")


def _host_name(value: str) -> str:
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class TokenAuth:
    """ASGI middleware enforcing the rules in the module docstring."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token

    def _matches(self, candidate: str | None) -> bool:
        if self.token is None or not candidate:
            return False
        return secrets.compare_digest(candidate.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.token is None:
            if not is_loopback(_host_name(headers.get("host", ""))):
                await _plain(send, 403, "forbidden: use http://127.0.0.1 to reach this dashboard\n")
                return
            await self.app(scope, receive, send)
            return
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and self._matches(auth[7:].strip()):
            await self.app(scope, receive, send)
            return
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is the same as none
            cookie = SimpleCookie()
        if COOKIE in cookie and self._matches(cookie[COOKIE].value):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given and self._matches(given[-1]):
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            location = local_location(scope.get("root_path", "") + scope["path"], rest)
            await _login_redirect(send, location, self.token)
            return
        await _plain(
            send,
            401,
            "unauthorized: this dashboard needs its token (Authorization: Bearer TOKEN, "
            "or open it once with ?token=TOKEN)\n",
            extra=[(b"www-authenticate", b"Bearer")],
        )


async def _login_redirect(send: Send, location: str, token: str) -> None:
    """303 to ``location`` (the URL without ``?token=``), setting the login cookie."""
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", location.encode("latin-1")),
                (b"set-cookie", f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/".encode()),
                (b"cache-control", b"no-store"),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _plain(
    send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
