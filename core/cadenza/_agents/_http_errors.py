"""HTTP answers mapped onto Cadenza's typed errors, for the ``http`` kind and plugins.

Public through :mod:`cadenza.http`. One mapping for every agent that talks
HTTP: 429 is a rate-limited :class:`RetryableError` carrying the server's
requested delay, 408 and 5xx are retryable, 401 and 403 are permanent and
never quote the body (it may echo the credentials), every other status is
permanent. Messages never hold a secret, in any form :func:`redact` knows,
nor a URL's credentials or query string.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from .._errors import AgentError, PermanentError, RetryableError
from .._redact import redact

SNIPPET_LIMIT = 200
"""Characters of a response body (or a server's message) quoted in an error, at most."""

_DELTA_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")


def _seconds(value: str | None) -> float | None:
    match = _DELTA_SECONDS.match(value) if value is not None else None
    return float(match.group(1)) if match else None


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait before retrying, from a response's headers; ``None`` when they say nothing.

    ``retry-after-ms`` (milliseconds) wins; then ``Retry-After`` as
    delta-seconds (``"120"``) or an HTTP-date (``"Wed, 21 Oct 2015 07:28:00
    GMT"``, measured from ``now``, default the current UTC time; a date in the
    past means 0). Header names are case-insensitive; unreadable values are
    ignored.
    """
    headers = httpx.Headers(headers)
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def safe_url(url: httpx.URL | str) -> str:
    """The URL without credentials, query string or fragment, fit for messages and logs."""
    try:
        return str(httpx.URL(url).copy_with(userinfo=b"", query=None, fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "(an unreadable URL)"


def clip(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with whitespace collapsed, secrets redacted, cut to ``SNIPPET_LIMIT`` characters.

    What an error message quotes of a server's answer (at most 200
    characters; ``…`` ends a cut text).
    """
    text = redact(" ".join(text.split()), secrets)
    if len(text) > SNIPPET_LIMIT:
        text = text[: SNIPPET_LIMIT - 1] + "…"
    return str(text)


def snippet(response: httpx.Response, body: bytes, secrets: Iterable[str]) -> str:
    """The start of ``body``, decoded, redacted and clipped; ``(empty body)`` for none."""
    try:
        text = body.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    return clip(text, secrets) or "(empty body)"


def error_for_status(
    response: httpx.Response,
    *,
    where: str,
    agent: str,
    step_id: str | None = None,
    secrets: Iterable[str] = (),
    body: bytes | None = None,
    detail: str | None = None,
    credentials: str = "",
    url_option: str = "endpoint",
    hint: str = "",
    retry_after: float | None = None,
    retryable: Collection[int] = (),
) -> AgentError:
    """The error a non-2xx answer means; the caller raises it.

    ``where`` starts the message (``"http agent 'x': POST https://..."``).
    429 gives a :class:`RetryableError` with ``rate_limited=True``; 408, 5xx
    and the statuses in ``retryable`` a :class:`RetryableError`; each carries
    ``retry_after`` (default: :func:`parse_retry_after` of the headers). 401
    and 403 give a :class:`PermanentError` that names the ``api_key`` option
    and says ``credentials`` (what was sent, e.g. ``"an api_key is set"``),
    never quoting the body. Any other status gives a :class:`PermanentError`;
    for a 3xx it names the ``Location`` (via :func:`safe_url`) and the
    ``url_option`` to change. Messages quote ``detail`` (the server's own
    message, when the caller parsed one) or the start of ``body`` (default
    ``response.content``), redacted of every ``secrets`` form and clipped;
    ``hint`` (a line of advice) is appended to permanent 4xx and 3xx messages.
    """
    status = response.status_code
    if status in (401, 403):
        sent = f" ({credentials})" if credentials else ""
        return PermanentError(
            f"{where}: HTTP {status}: the provider refused the credentials{sent}.\n"
            "  Check the agent's api_key option and the environment variable it "
            "comes from (the response body is not shown: it may echo the credentials).",
            agent=agent,
            step_id=step_id,
        )
    if detail is not None:
        quoted = clip(detail, secrets) or "(empty body)"
    else:
        quoted = snippet(response, response.content if body is None else body, secrets)
    message = f"{where}: HTTP {status}: {quoted}"
    if status in (408, 429) or status >= 500 or status in retryable:
        return RetryableError(
            message,
            retry_after=retry_after
            if retry_after is not None
            else parse_retry_after(response.headers),
            rate_limited=status == 429,
            agent=agent,
            step_id=step_id,
        )
    if response.is_redirect:
        location = response.headers.get("Location")
        target = safe_url(location) if location else "(no Location header)"
        message += f"\n  The server redirects to {target}; set {url_option} to the final URL."
    if hint:
        message += f"\n  {hint}"
    return PermanentError(message, agent=agent, step_id=step_id)
