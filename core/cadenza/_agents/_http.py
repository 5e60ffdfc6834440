"""The ``http`` agent kind: the seed's JSON-over-HTTP protocol.

A call is ``POST <endpoint>`` with the JSON body ``{"task_id", "task_type",
"data", "priority"}``, ``Authorization: Bearer <api_key>`` when a key is set,
``Idempotency-Key`` (stable across retries) and ``X-Cadenza-Run`` /
``X-Cadenza-Attempt``. A 2xx JSON answer is the result: either
``{"output": ..., "confidence": 0.9, "usage": {"input_tokens": 1,
"output_tokens": 2}, "cost_usd": 0.01}`` or any other JSON value, which is the
output as a whole. Health is ``GET <endpoint>/health`` (``health_path``).

Failures map onto the kernel's error classes:

=====================================================  ==================================
what happened                                          raised
=====================================================  ==================================
429, 503 (``Retry-After`` honoured), other 5xx, 408    ``RetryableError``
connection refused or dropped, protocol error,         ``RetryableError``
malformed JSON in a 2xx answer
read or write timeout (``timeout``)                    ``AgentTimeoutError`` (retryable)
a body longer than ``max_response_bytes``              ``PermanentError`` (reading stops there)
other 4xx, 3xx, inputs that are not JSON               ``PermanentError``
=====================================================  ==================================

The body is streamed: a 2xx body is read up to ``max_response_bytes`` (10 MiB
by default), an error body only up to ``ERROR_BODY_LIMIT``, so a runaway
provider costs bounded memory. The API key and every other secret of the
agent are redacted from messages (in every form :mod:`cadenza._redact` knows);
they are never logged, and the body of a 401 or 403 is never quoted.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from cadenza._agents._contract import AgentRequest, AgentResult, Usage
from cadenza._errors import AgentTimeoutError, PermanentError, RetryableError
from cadenza._redact import redact
from cadenza._spec._workflow import AgentConfig, Duration

from .._logging import get_logger
from ._http_support import (
    ERROR_BODY_LIMIT,
    check_headers,
    check_health,
    header_names,
    read_at_most,
)

if TYPE_CHECKING:
    import httpx

# httpx (and the modules built on it) are imported where used, not here: the
# built-in plugin registers this kind with its options class in every CLI
# command, and most never make a call (``cadenza validate`` starts faster).

log = get_logger()

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
"""Default ``max_response_bytes``: the largest 2xx body an ``http`` agent reads (10 MiB)."""

_ENCODER = json.JSONEncoder(allow_nan=False)
"""Encodes request bodies; built once (``json.dumps(allow_nan=False)`` builds one per call)."""
_NO_USAGE = Usage()
_CONTENT_TYPE = (b"Content-Type", b"application/json")
_ACCEPT = (b"Accept", b"application/json")
_DEFAULT_TIMEOUT = Duration(300.0)
_DEFAULT_CONNECT_TIMEOUT = Duration(10.0)


def _check_endpoint(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    import httpx

    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"endpoint: expected an http:// or https:// URL, got {value!r}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"endpoint: expected an absolute http:// or https:// URL such as "
            f"'https://agents.example.com/v1/tasks', got {value!r}"
        )


def _check_api_key(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    # Never quote the value: it is a secret.
    if value is not None and (
        not value or not value.isprintable() or any(c.isspace() for c in value)
    ):
        raise ValueError(
            "api_key: expected a non-empty key without spaces or control characters "
            "(check for a trailing newline in the environment variable or file it came from)"
        )


def _check_max_response_bytes(
    instance: object, attribute: attrs.Attribute[Any], value: int
) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"max_response_bytes: expected a positive number of bytes such as 52428800 "
            f"(50 MiB), got {value!r}"
        )


def _check_health_path(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.startswith("/"):
        raise ValueError(f"health_path: expected a path starting with '/', got {value!r}")


@attrs.frozen(kw_only=True)
class HttpOptions:
    """``options:`` of an ``http`` agent.

    ``timeout`` bounds each read and write on the connection, ``connect_timeout``
    opening it; the whole call is bounded by the step's ``timeout``. ``headers``
    are sent with every request (their values are hidden from reprs, since
    they may hold credentials). ``health_path`` is appended to the endpoint
    for ``health()``. ``max_response_bytes`` is the largest 2xx body read; a
    longer one fails the attempt, permanently.
    """

    endpoint: str = attrs.field(validator=_check_endpoint)
    api_key: str | None = attrs.field(default=None, repr=False, validator=_check_api_key)
    timeout: Duration = _DEFAULT_TIMEOUT
    connect_timeout: Duration = _DEFAULT_CONNECT_TIMEOUT
    headers: dict[str, str] = attrs.field(factory=dict, validator=check_headers, repr=header_names)
    health_path: str = attrs.field(default="/health", validator=_check_health_path)
    max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES, validator=_check_max_response_bytes
    )


def _redact(text: str, secrets: Iterable[str]) -> str:
    return str(redact(text, secrets))


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MiB"


def _declared_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return 0


@attrs.define(eq=False)
class HttpAgent:
    """An agent served by a remote endpoint speaking the seed protocol.

    One connection pool per agent, opened on first use and closed by
    :meth:`aclose`; concurrent calls share it.
    """

    name: str
    options: HttpOptions
    capabilities: frozenset[str] = frozenset()
    secrets: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    _client: httpx.AsyncClient | None = attrs.field(default=None, init=False, repr=False)
    # Worked out once, on first use (httpx is imported lazily), not per call:
    # the parsed endpoint and the "http agent 'x': POST <url>" message prefix.
    _url: httpx.URL | None = attrs.field(default=None, init=False, repr=False)
    _where: str = attrs.field(default="", init=False, repr=False)
    # The client's headers (without those each call sets) and request extensions.
    _base: list[tuple[bytes, bytes]] | None = attrs.field(default=None, init=False, repr=False)
    _extensions: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False)

    @classmethod
    def from_config(cls, config: AgentConfig) -> HttpAgent:
        """Build the agent; no I/O happens until the first call."""
        options = config.options_as(HttpOptions)
        secrets = set(config.secrets)
        if options.api_key:
            secrets.add(options.api_key)
        return cls(
            name=config.name,
            options=options,
            capabilities=config.capabilities,
            secrets=frozenset(secrets),
        )

    async def _http(self) -> httpx.AsyncClient:
        """The agent's client, built in a worker thread on first use (see ``_clients``).

        Calls racing to be first may each build one: the first kept wins, the
        others are closed unused (they opened no connection).
        """
        if self._client is not None:
            return self._client
        import trio

        from ._clients import open_http_client

        headers = dict(self.options.headers)
        if self.options.api_key:
            headers["Authorization"] = f"Bearer {self.options.api_key}"
        build = functools.partial(
            open_http_client,
            timeout=self.options.timeout,
            connect_timeout=self.options.connect_timeout,
            headers=headers,
            cookies=False,  # the seed protocol has no sessions: calls share no state
        )
        return await self._adopt(await trio.to_thread.run_sync(build))

    async def _adopt(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        """Keep ``client``, unless a racing first call kept one already (then close it)."""
        if self._client is None:
            self._client = client
            return client
        await client.aclose()
        return self._client

    def _endpoint(self) -> tuple[httpx.URL, str]:
        """The endpoint parsed once, and the prefix of every message about a call to it."""
        if self._url is None:
            import httpx

            from ._http_errors import safe_url

            url = httpx.URL(self.options.endpoint)
            self._where = f"http agent {self.name!r}: POST {safe_url(url)}"
            self._url = url
        return self._url, self._where

    def _post(
        self, client: httpx.AsyncClient, content: str, headers: list[tuple[bytes, bytes]]
    ) -> httpx.Request:
        """The ``POST`` that ``client.build_request`` would make, with its per-call work done once.

        The client's headers (User-Agent, the configured ones, Authorization)
        come first, those of the call replace any of the same name; the
        client's timeouts ride along as its requests' do. The client has no
        cookies, auth or base URL to merge (it keeps no cookies).
        """
        import httpx

        if self._base is None:
            per_call = {name.lower() for name, _ in headers}
            self._base = [pair for pair in client.headers.raw if pair[0].lower() not in per_call]
            self._extensions = {"timeout": client.timeout.as_dict()}
        url, _ = self._endpoint()
        return httpx.Request(
            "POST", url, content=content, headers=self._base + headers, extensions=self._extensions
        )

    @property
    def health_url(self) -> str:
        """Where :meth:`health` sends its ``GET``."""
        return self.options.endpoint.rstrip("/") + self.options.health_path

    async def run(self, request: AgentRequest) -> AgentResult:
        """POST the request; return the result or raise a typed error (see the module doc)."""
        import httpx

        payload = {
            "task_id": request.step_id,
            "task_type": request.task_type,
            "data": dict(request.inputs),
            "priority": request.priority,
        }
        try:
            content = _ENCODER.encode(payload)
        except (TypeError, ValueError) as exc:
            raise PermanentError(
                f"http agent {self.name!r}: the step's inputs are not JSON-serialisable: {exc}",
                agent=self.name,
                step_id=request.step_id,
            ) from exc
        # As (bytes, bytes) pairs: httpx takes them as they are, where it would
        # encode and re-check each name and value of a dict (as ASCII, as here).
        headers = [
            _CONTENT_TYPE,
            _ACCEPT,
            (b"Idempotency-Key", request.idempotency_key.encode("ascii")),
            (b"X-Cadenza-Run", request.run_id.encode("ascii")),
            (b"X-Cadenza-Attempt", b"%d" % request.attempt),
        ]
        where = self._endpoint()[1]
        try:
            # What ``client.stream()`` does, without its context-manager layer.
            client = await self._http()
            response = await client.send(self._post(client, content, headers), stream=True)
            try:
                body = await self._read(response, where, request)
            finally:
                await response.aclose()
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise AgentTimeoutError(
                f"{where}: no answer within timeout={self.options.timeout:g}s "
                f"({type(exc).__name__})",
                agent=self.name,
                step_id=request.step_id,
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
            raise PermanentError(
                f"{where}: cannot send the request: {_redact(str(exc), self.secrets)}",
                agent=self.name,
                step_id=request.step_id,
            ) from exc
        except httpx.HTTPError as exc:
            detail = _redact(str(exc), self.secrets) or "no details"
            raise RetryableError(
                f"{where}: {type(exc).__name__}: {detail}",
                agent=self.name,
                step_id=request.step_id,
            ) from exc
        return self._result(response, body, where, request)

    async def _read(self, response: httpx.Response, where: str, request: AgentRequest) -> bytes:
        """The body, streamed: a 2xx one up to ``max_response_bytes``, else a prefix to quote.

        Reading stops as soon as the limit is passed (or, when ``Content-Length``
        announces more, before it starts); closing the response then
        closes the connection instead of draining it.
        """
        if response.status_code in (401, 403):
            return b""  # never quoted: it may echo the credentials
        if not response.is_success:
            body, _ = await read_at_most(response, ERROR_BODY_LIMIT)
            return body
        limit = self.options.max_response_bytes
        declared = _declared_length(response)
        if declared is not None and declared > limit:
            size = f"announces {declared} bytes ({_mib(declared)}); nothing was read"
            raise self._too_large(where, request, response.status_code, size)
        headers = response.headers
        if (
            declared is not None
            and "Content-Encoding" not in headers
            and "Transfer-Encoding" not in headers
        ):
            # The body is exactly ``declared`` bytes (within the limit) as sent:
            # read it whole, without the decoding and bounding layers.
            return b"".join([chunk async for chunk in response.aiter_raw()])
        body, more = await read_at_most(response, limit)
        if more:
            size = f"is longer; reading stopped after {limit} bytes"
            raise self._too_large(where, request, response.status_code, size)
        return body

    def _too_large(
        self, where: str, request: AgentRequest, status: int, size: str
    ) -> PermanentError:
        limit = self.options.max_response_bytes
        return PermanentError(
            f"{where}: HTTP {status} answer over max_response_bytes={limit} "
            f"({_mib(limit)}): the body {size}.\n"
            f"  If answers this large are expected, raise the agent's max_response_bytes "
            f"option (e.g. max_response_bytes: {4 * limit}); otherwise have the provider "
            "return less, for instance files' paths instead of their contents.",
            agent=self.name,
            step_id=request.step_id,
        )

    def _result(
        self, response: httpx.Response, body: bytes, where: str, request: AgentRequest
    ) -> AgentResult:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204:
                return AgentResult(output=None)
            try:
                parsed = json.loads(body)
            except ValueError as exc:
                from ._http_errors import snippet

                raise RetryableError(
                    f"{where}: HTTP {status} with a body that is not valid JSON: "
                    f"{snippet(response, body, self.secrets)}",
                    agent=self.name,
                    step_id=request.step_id,
                ) from exc
            return self._parse_body(parsed)
        from ._http_errors import error_for_status

        raise error_for_status(
            response,
            where=where,
            agent=self.name,
            step_id=request.step_id,
            secrets=self.secrets,
            body=body,
            credentials="an api_key is set" if self.options.api_key else "no api_key is set",
        )

    def _parse_body(self, body: Any) -> AgentResult:
        if not (isinstance(body, dict) and "output" in body):
            return AgentResult(output=body)
        raw_confidence = body.get("confidence")
        raw_cost = body.get("cost_usd")
        confidence = None if raw_confidence is None else _number(raw_confidence)
        cost = None if raw_cost is None else _number(raw_cost)
        if raw_confidence is not None and confidence is None:
            log.warning("agent_response_field_ignored", agent=self.name, field="confidence")
        if raw_cost is not None and cost is None:
            log.warning("agent_response_field_ignored", agent=self.name, field="cost_usd")
        usage = body.get("usage")
        if usage is None:
            tokens = _NO_USAGE
        elif isinstance(usage, dict):
            tokens = Usage(
                input_tokens=_count(usage.get("input_tokens")),
                output_tokens=_count(usage.get("output_tokens")),
            )
        else:
            log.warning("agent_response_field_ignored", agent=self.name, field="usage")
            tokens = _NO_USAGE
        return AgentResult(
            output=body["output"], confidence=confidence, usage=tokens, cost_usd=cost
        )

    async def health(self) -> bool:
        """``GET`` :attr:`health_url`: True on 2xx; False on any other answer or transport error."""
        return await check_health(
            await self._http(), self.health_url, agent=self.name, secrets=self.secrets
        )

    async def aclose(self) -> None:
        """Close the connection pool; a later call opens a new one."""
        client, self._client = self._client, None
        self._base = None
        if client is not None:
            await client.aclose()
