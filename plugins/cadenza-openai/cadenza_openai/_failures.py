"""HTTP answers and transport failures, mapped onto Cadenza's typed errors.

The mapping follows the kernel's ``http`` kind (docs/agents.md), plus what
OpenAI-compatible servers add:

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
OpenAI error body, ``detail`` of a FastAPI one, else up to 200 characters of
the body), never the URL's credentials or query, and never a secret: every
secret of the agent, in every form :func:`redact` knows, is replaced by
``***`` before a message is built. The body of a 401 or 403 is not quoted at
all: it may echo the credentials.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

import cadenza

SNIPPET_LIMIT = 200
"""Characters of a server's message quoted in an error, at most."""

REDACTED = "***"
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")


# The forms below are the kernel's (cadenza/_redact.py); keep the two in step
# until the kernel offers them publicly.


def _base64_forms(raw: bytes) -> set[str]:
    """Base64 text any encoding of bytes containing ``raw`` holds, whatever its alignment."""
    forms: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw).decode("ascii")
        fragment = encoded[-(-8 * offset // 6) : 8 * (offset + len(raw)) // 6]
        if len(fragment) >= 8:  # shorter fragments occur by chance
            forms.add(fragment)
    for payload in (raw, b"Bearer " + raw, raw + b":"):
        encoded = base64.b64encode(payload).decode("ascii")
        forms.update((encoded, encoded.rstrip("=")))
    forms.update([f.replace("+", "-").replace("/", "_") for f in forms])
    return forms


def _text_forms(text: str) -> set[str]:
    forms = {text}
    for ensure_ascii in (True, False):
        escaped = json.dumps(text, ensure_ascii=ensure_ascii)[1:-1]
        forms.update((escaped, escaped.replace("/", "\\/")))
    forms.update((quote(text, safe=""), quote(text), quote_plus(text)))
    return forms


@functools.lru_cache(maxsize=256)
def secret_forms(secret: str) -> frozenset[str]:
    """Every form of ``secret`` that :func:`redact` hides; none for one under 4 characters.

    The text, upper- and lower-cased, each JSON-escaped (``\\/`` too) and
    URL-encoded, and base64 (standard or urlsafe, padded or not) of the secret
    wherever it sits in the encoded bytes (``Bearer KEY``, ``user:KEY``, ``KEY:``).
    """
    if len(secret) < 4:
        return frozenset()
    forms: set[str] = set()
    for text in (secret, secret.upper(), secret.lower()):
        forms |= _text_forms(text)
    for text in _text_forms(secret):
        forms |= _base64_forms(text.encode("utf-8"))
    return frozenset(f for f in forms if len(f) >= 4)


@functools.lru_cache(maxsize=64)
def _all_forms(secrets: frozenset[str]) -> tuple[str, ...]:
    forms: set[str] = set()
    for secret in secrets:
        forms |= secret_forms(secret)
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every secret of 4 or more characters replaced by ``***``.

    Longer forms first, so a key that contains another is hidden whole.
    Shorter secrets are left: redacting them would shred ordinary words.
    """
    key = secrets if isinstance(secrets, frozenset) else frozenset(secrets)
    for form in _all_forms(key):
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def safe_url(url: httpx.URL | str) -> str:
    """The URL without credentials, query string or fragment, fit for messages."""
    return str(httpx.URL(url).copy_with(userinfo=b"", query=None, fragment=None))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > SNIPPET_LIMIT:
        text = text[: SNIPPET_LIMIT - 1] + "…"
    return text


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
    return _clip(redact(text, secrets)) or "(empty body)", code


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

    In order: ``retry-after-ms``; ``Retry-After`` as seconds or an HTTP date
    (from ``now``, default the current UTC time; a past date means 0); the
    latest ``x-ratelimit-reset-requests`` / ``-tokens`` among the limits whose
    ``x-ratelimit-remaining-*`` is 0 (OpenAI writes them as ``1s``, ``6m0s``,
    ``20ms``). Unreadable values are ignored.
    """
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        if match := _SECONDS.match(retry_after):
            return float(match.group(1))
        try:
            when = parsedate_to_datetime(retry_after.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            now = now if now is not None else datetime.now(UTC)
            return max(0.0, (when - now).total_seconds())
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
    if status in (401, 403):
        sent = "credentials were sent" if has_key else "no api_key or Authorization was sent"
        return cadenza.PermanentError(
            f"{where}: HTTP {status}\n  The server refused the request ({sent}); its answer "
            "is not quoted, as it may echo the credentials. Check the agent's api_key "
            "option and the environment variable it comes from.",
            agent=agent,
            step_id=step_id,
        )
    message, code = server_message(response.content, secrets)
    text = f"{where}: HTTP {status}: {message}"
    if status == 429 and code == "insufficient_quota":
        return cadenza.PermanentError(
            text + "\n  The account is out of quota; retrying cannot help. Check its plan "
            "and billing, or use another api_key.",
            agent=agent,
            step_id=step_id,
        )
    if status in (408, 409, 429) or status >= 500:
        return cadenza.RetryableError(
            text,
            retry_after=parse_retry_after(response.headers),
            rate_limited=status == 429,
            agent=agent,
            step_id=step_id,
        )
    if status == 404:
        text += (
            "\n  Check base_url (usually ending in /v1) and that the server has the model "
            "named in model: (GET base_url/models lists them)."
        )
    elif response.is_redirect:
        location = response.headers.get("Location", "(no Location header)")
        text += f"\n  The server redirects to {safe_url(location)}; set base_url to the final URL."
    return cadenza.PermanentError(text, agent=agent, step_id=step_id)


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
    text = f"{where}: the server reported an error: {_clip(redact(message, secrets))}"
    if "rate_limit" in code or "rate_limit" in kind:
        return cadenza.RetryableError(text, rate_limited=True, agent=agent, step_id=step_id)
    if kind == "invalid_request_error" or code in ("context_length_exceeded", "invalid_request"):
        return cadenza.PermanentError(text, agent=agent, step_id=step_id)
    return cadenza.RetryableError(text, agent=agent, step_id=step_id)
