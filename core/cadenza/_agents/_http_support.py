"""What every agent that talks HTTP needs besides a client: option checks, bounded reads, health.

Public through :mod:`cadenza.http` (docs/http.md), so the ``http`` kind and
plugins share one copy: :func:`check_headers` and :func:`header_names` for a
``headers:`` option, :func:`read_at_most` to read a body without letting a
runaway server cost unbounded memory, :func:`check_health` for a ``health()``
that is a ``GET``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # imported where used: the options check runs without httpx (fast CLI start)
    import httpx

from .._logging import get_logger
from .._redact import redact

log = get_logger()

ERROR_BODY_LIMIT = 64 * 1024
"""Bytes read of a non-2xx body (to quote from it) or a health check's; the rest is never read."""

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def check_headers(
    instance: object, attribute: attrs.Attribute[Any], value: Mapping[str, str]
) -> None:
    """An attrs validator for a mapping of extra HTTP headers; raises ``ValueError``.

    Each name must be an HTTP token and each value printable (no newlines,
    which would split the header). The message starts with the field's name
    (``"headers: ..."``), so the loader reports it at the option's file:line;
    it never quotes a value, which may be a credential (``X-Api-Key``).
    """
    for name, header in value.items():
        if not _TOKEN.match(name):
            raise ValueError(f"{attribute.name}: {name!r} is not a valid HTTP header name")
        if not header.isprintable():
            raise ValueError(
                f"{attribute.name}: the value of {name!r} contains control characters or newlines"
            )


def header_names(headers: Mapping[str, str]) -> str:
    """A repr of ``headers`` that shows their names only: ``attrs.field(repr=header_names)``."""
    return repr(sorted(headers))


async def read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of a streamed response's (decoded) body, and whether it had more.

    Use it inside ``async with client.stream(...) as response:``. When the body
    has more, the connection is closed there: the rest is never read.
    """
    body = bytearray()
    chunks = response.aiter_bytes()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            break
    else:
        return bytes(body), False
    await response.aclose()  # closes the connection, since the body was not read to its end
    # httpx reads the body through nested async generators; abandoning them
    # mid-way leaves the inner ones to the garbage collector, which trio reports
    # as a ResourceWarning (encode/httpx#3686). With the connection closed they
    # end at once with a ReadError, each cleaning up after itself.
    import httpx

    with contextlib.suppress(httpx.HTTPError):
        async for _ in chunks:
            pass
    return bytes(body[:limit]), True


async def check_health(
    client: httpx.AsyncClient, url: str, *, agent: str, secrets: Iterable[str] = ()
) -> bool:
    """``GET url``: True on 2xx; False on any other answer or transport error, logged.

    Only the status matters: up to ``ERROR_BODY_LIMIT`` bytes of the body are
    read (so the connection can be reused), a longer one is not. A failure is
    logged once as ``agent_health_check_failed`` with ``agent`` and either the
    ``status`` or the ``error`` type and its ``detail``, redacted of
    ``secrets``.
    """
    import httpx

    try:
        async with client.stream("GET", url) as response:
            await read_at_most(response, ERROR_BODY_LIMIT)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        log.info(
            "agent_health_check_failed",
            agent=agent,
            error=type(exc).__name__,
            detail=str(redact(str(exc), secrets)),
        )
        return False
    if not response.is_success:
        log.info("agent_health_check_failed", agent=agent, status=response.status_code)
    return response.is_success
