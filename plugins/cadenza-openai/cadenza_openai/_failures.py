"""HTTP answers and transport failures, mapped onto Cadenza's typed errors.

The mapping is the kernel's (:func:`cadenza.http.error_for_status`, docs/http.md),
plus what OpenAI-compatible servers add:

=====================================================  ==========================================
what happened                                          raised
=====================================================  ==========================================
429 (``retry-after-ms``, ``Retry-After``, or the       ``RetryableError(rate_limited=True,
``x-ratelimit-reset-*`` of an exhausted limit)         retry_after=...)``
429 with code ``insufficient_quota`` (billing)         ``PermanentError``: waiting cannot help
408, 409, 5xx (``Retry-After`` honoured)               ``RetryableError``
connection refused or dropped, a stream cut short,     ``RetryableError``
malformed JSON, an error event inside a stream
read or write slower than ``timeout``                  ``AgentTimeoutError`` (retryable)
401, 403 (whether credentials were sent; no body)     ``PermanentError``
404 (the hint names base_url and model), other 4xx     ``PermanentError``
3xx (the hint names the ``Location``)                  ``PermanentError``
=====================================================  ==========================================

Messages quote the server's own error message (``error.message`` of an
OpenAI error body, ``detail`` of a FastAPI one, else the body), clipped to
200 characters by :func:`cadenza.http.clip`, never the URL's credentials or
query, and never a secret: every secret of the agent, in every form
:func:`cadenza.http.redact` knows, is replaced by ``***`` before a message is
built. The body of a 401 or 403 is not quoted at all: it may echo the
credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import httpx

import cadenza
import cadenza.http
from cadenza.http import clip, error_for_status, redact

_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
_NOT_FOUND_HINT = (
    "Check base_url (usually ending in /v1) and that the server has the model "
    "named in model: (GET base_url/models lists them)."
)


def server_message(body: bytes, secrets: Iterable[str]) -> tuple[str, str]:
    """``(message, code)`` from an error body: OpenAI's ``error``, FastAPI's ``detail``, or text."""
    code = ""
    text = body.decode("utf-8", errors="replace")
    try:
        parsed: Any = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping):
        error = parsed.get("error")
        if isinstance(error, Mapping):
            code = str(error.get("code") or error.get("type") or "")
            text = str(error.get("message") or text)
        elif isinstance(error, str):
            text = error
        elif "detail" in parsed:
            detail = parsed["detail"]
            text = detail if isinstance(detail, str) else json.dumps(detail)
        elif isinstance(parsed.get("message"), str):
            text = parsed["message"]
    return clip(text, secrets) or "(empty body)", code


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    if match := _SECONDS.match(value):
        return float(match.group(1))
    try:
        return float(cadenza.parse_duration(value.strip()))
    except ValueError:
        return None


def parse_retry_after(headers: httpx.Headers, *, now: datetime | None = None) -> float | None:
    """Seconds to wait before retrying, from the response's headers; None when they say nothing.

    :func:`cadenza.http.parse_retry_after` (``retry-after-ms``, then
    ``Retry-After`` as seconds or an HTTP date), else the latest
    ``x-ratelimit-reset-requests`` / ``-tokens`` among the limits whose
    ``x-ratelimit-remaining-*`` is 0 (OpenAI writes them as ``1s``, ``6m0s``,
    ``20ms``). Unreadable values are ignored.
    """
    seconds = cadenza.http.parse_retry_after(headers, now=now)
    if seconds is not None:
        return seconds
    resets = [
        seconds
        for limit in ("requests", "tokens")
        if headers.get(f"x-ratelimit-remaining-{limit}", "").strip() == "0"
        and (seconds := _seconds(headers.get(f"x-ratelimit-reset-{limit}"))) is not None
    ]
    return max(resets) if resets else None


def status_error(
    response: httpx.Response,
    *,
    where: str,
    agent: str,
    step_id: str,
    secrets: Iterable[str],
    has_key: bool,
) -> cadenza.AgentError:
    """The error for a non-2xx answer whose body has been read (see the module doc)."""
    status = response.status_code
    message, code = server_message(response.content, secrets)
    if status == 429 and code == "insufficient_quota":
        return cadenza.PermanentError(
            f"{where}: HTTP {status}: {message}\n  The account is out of quota; retrying "
            "cannot help. Check its plan and billing, or use another api_key.",
            agent=agent,
            step_id=step_id,
        )
    return error_for_status(
        response,
        where=where,
        agent=agent,
        step_id=step_id,
        secrets=secrets,
        detail=message,
        credentials="credentials were sent" if has_key else "no api_key or Authorization was sent",
        url_option="base_url",
        hint=_NOT_FOUND_HINT if status == 404 else "",
        retry_after=parse_retry_after(response.headers),
        retryable=(409,),
    )


def transport_error(
    exc: httpx.HTTPError,
    *,
    where: str,
    agent: str,
    step_id: str,
    secrets: Iterable[str],
    timeout: float,
) -> cadenza.AgentError:
    """The error for a request that got no complete answer."""
    detail = redact(str(exc), secrets) or "no details"
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
        return cadenza.AgentTimeoutError(
            f"{where}: nothing received within timeout={timeout:g}s ({type(exc).__name__})",
            agent=agent,
            step_id=step_id,
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return cadenza.PermanentError(
            f"{where}: cannot send the request: {detail}", agent=agent, step_id=step_id
        )
    return cadenza.RetryableError(
        f"{where}: {type(exc).__name__}: {detail}", agent=agent, step_id=step_id
    )


def error_body_error(
    code: str,
    kind: str,
    message: str,
    *,
    where: str,
    agent: str,
    step_id: str,
    secrets: Iterable[str],
) -> cadenza.AgentError:
    """The error for an error object in a 2xx answer or inside a stream.

    Rate limits are retryable and marked so; a request the server calls
    invalid (``invalid_request_error``, ``context_length_exceeded``) is
    permanent; anything else (``server_error``, an overloaded model, ...) is
    retryable, since the server accepted the request and failed serving it.
    """
    text = f"{where}: the server reported an error: {clip(message, secrets)}"
    if "rate_limit" in code or "rate_limit" in kind:
        return cadenza.RetryableError(text, rate_limited=True, agent=agent, step_id=step_id)
    if kind == "invalid_request_error" or code in ("context_length_exceeded", "invalid_request"):
        return cadenza.PermanentError(text, agent=agent, step_id=step_id)
    return cadenza.RetryableError(text, agent=agent, step_id=step_id)
