"""The ``openai`` agent kind: one chat completion per attempt, against any compatible server.

A call renders the messages (:mod:`._messages`), POSTs ``{base_url}/chat/completions``
and turns the reply into the step's output (:mod:`._output`): text, or for
code and tests tasks the files its fenced code blocks became, or with
``reply: json`` the JSON value it holds (:mod:`._json_reply`). Streaming
(the default) reports progress as tokens arrive. Usage is reported so the
kernel prices the call from the agent's ``price:``; the agent never invents a
cost. Failures are typed as :mod:`._failures` describes.
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import httpx
import trio

import cadenza
from cadenza.http import clip, open_http_client, read_at_most, redact, safe_url, user_agent
from cadenza.plugins import get_logger

from ._chat import (
    ChatFormatError,
    ChatReply,
    SSEDecoder,
    StreamAccumulator,
    StreamErrorEvent,
    build_body,
    parse_reply,
)
from ._failures import error_body_error, status_error, transport_error
from ._files import UnsafePathError
from ._json_reply import JSON_MODE, NotJSONError, parse_json_reply, rejects_response_format
from ._messages import Prompts
from ._options import OpenAIOptions
from ._output import FileMode, reply_output
from ._version import __version__

log = get_logger()
"""Silent unless the application configures logging (the CLI does)."""

CODE_TASKS = frozenset({"code", "tests", "testing", "code_generator"})
"""Task types (a step's ``uses:``) whose replies are written to files by default."""

CAPABILITIES = ("code", "documentation", "tests", "testing")
"""What every ``openai`` agent can do (it also serves steps that name it directly)."""

_DRAIN_SECONDS = 1.0
_HEALTH_BODY_LIMIT = 64 * 1024
_NO_MODELS_ENDPOINT = frozenset({404, 405})
"""Answers to ``GET /models`` that mean the server has no such endpoint: health unknown."""
_AUTH_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})


class _JSONModeRejected(Exception):
    """The server answered 400/422 naming ``response_format``: ask again without it."""


@attrs.define(eq=False)
class OpenAIAgent:
    """An agent served by an OpenAI-compatible chat-completions server.

    One connection pool per agent, opened at the first call and closed by
    :meth:`aclose`; concurrent calls share it.
    """

    name: str
    options: OpenAIOptions
    prompts: Prompts = attrs.field(repr=False)
    capabilities: frozenset[str] = frozenset()
    secrets: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    _client: httpx.AsyncClient | None = attrs.field(default=None, init=False, repr=False)
    _json_mode: bool = attrs.field(default=True, init=False, repr=False)
    """False once the server refused ``response_format``: later calls leave it out."""
    _health_unknown_logged: bool = attrs.field(default=False, init=False, repr=False)

    @classmethod
    def from_config(cls, config: cadenza.AgentConfig) -> OpenAIAgent:
        """Build the agent; no I/O happens until the first call."""
        options = config.options_as(OpenAIOptions)
        secrets = set(config.secrets)
        if options.api_key:
            secrets.add(options.api_key)
        for header, value in options.headers.items():
            if header.lower() in _AUTH_HEADERS:
                secrets.add(value)
                secrets.add(value.split(None, 1)[-1])  # "Bearer KEY": the key alone too
        return cls(
            name=config.name,
            options=options,
            capabilities=config.capabilities,
            secrets=frozenset(secrets),
            prompts=Prompts.from_options(config.name, options),
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = httpx.Headers({"User-Agent": user_agent(f"cadenza-openai/{__version__}")})
            if self.options.api_key:
                headers["Authorization"] = f"Bearer {self.options.api_key}"
            headers.update(self.options.headers)  # case-insensitive: configured headers win
            self._client = open_http_client(
                timeout=self.options.timeout,
                connect_timeout=self.options.connect_timeout,
                headers=headers,
            )
        return self._client

    def file_mode(self, task_type: str) -> FileMode:
        """Which fenced blocks of a reply become files for a step with ``task_type``."""
        if self.options.write_files is False:
            return "none"
        if self.options.write_files or task_type in CODE_TASKS:
            return "all"
        return "named"

    async def run(self, request: cadenza.AgentRequest) -> cadenza.AgentResult:
        """Ask the model; return its reply as the output, with usage (see the module doc)."""
        if self.options.missing_key:
            raise cadenza.PermanentError(
                f"openai agent {self.name!r}: no API key for {safe_url(self.options.base_url)} "
                "(api_key is empty). Set the variable it names (e.g. OPENAI_API_KEY), or "
                "point base_url at a local server (Ollama, vLLM, llama.cpp).",
                agent=self.name,
                step_id=request.step_id,
            )
        options = self.options
        json_reply = options.reply == "json"
        mode: FileMode = "none" if json_reply else self.file_mode(request.task_type)
        messages = self.prompts.messages(request, files=mode == "all", json_reply=json_reply)
        where = f"openai agent {self.name!r}: POST {safe_url(options.chat_url)}"
        json_mode = json_reply and self._json_mode and "response_format" not in options.extra_body
        try:
            reply = await self._send(request, messages, where, json_mode=json_mode)
        except _JSONModeRejected:
            log.warning("openai_json_mode_unsupported", agent=self.name, step_id=request.step_id)
            self._json_mode = False
            reply = await self._send(request, messages, where, json_mode=False)
        if reply.refusal and not reply.text:
            raise cadenza.PermanentError(
                f"{where}: the model refused: {redact(reply.refusal, self.secrets)[:200]}",
                agent=self.name,
                step_id=request.step_id,
            )
        if reply.finish_reason == "length":
            log.warning("openai_reply_truncated", agent=self.name, max_tokens=options.max_tokens)
        output = (
            self._json_output(reply, request, where)
            if json_reply
            else await self._output(reply, request, mode, where)
        )
        return cadenza.AgentResult(output=output, usage=self._usage(reply, messages))

    async def _send(
        self,
        request: cadenza.AgentRequest,
        messages: list[dict[str, str]],
        where: str,
        *,
        json_mode: bool,
    ) -> ChatReply:
        """One POST of ``messages``; with ``json_mode`` it asks for JSON mode too.

        Raises :class:`_JSONModeRejected` when the server refuses JSON mode,
        so the caller can ask again without it.
        """
        options = self.options
        extra = {**options.extra_body, "response_format": JSON_MODE} if json_mode else None
        body = build_body(
            model=options.model,
            messages=messages,
            stream=options.stream,
            temperature=options.temperature,
            max_tokens=options.max_tokens,
            extra=extra or options.extra_body,
        )
        try:
            content = json.dumps(body, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise cadenza.PermanentError(
                f"{where}: the request is not JSON-serialisable: {exc}",
                agent=self.name,
                step_id=request.step_id,
            ) from exc
        try:
            if options.stream:
                return await self._stream(request, content, where, json_mode)
            return await self._complete(request, content, where, json_mode)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, where, request) from exc

    def _json_output(self, reply: ChatReply, request: cadenza.AgentRequest, where: str) -> Any:
        """The JSON value of a ``reply: json`` call's reply, or the error its text means."""
        try:
            return parse_json_reply(reply.text)
        except NotJSONError as exc:
            began = clip(reply.text, self.secrets) or "(empty)"
            if reply.finish_reason == "length":
                raise cadenza.PermanentError(
                    f"{where}: the reply was cut at max_tokens={self.options.max_tokens} before "
                    f"its JSON ended: {began!r}\n  Raise max_tokens, or ask for less.",
                    agent=self.name,
                    step_id=request.step_id,
                ) from None
            raise cadenza.RetryableError(
                f"{where}: reply: json, but {exc}; the reply began: {began!r}",
                agent=self.name,
                step_id=request.step_id,
            ) from None

    def _transport_error(
        self, exc: httpx.HTTPError, where: str, request: cadenza.AgentRequest
    ) -> cadenza.AgentError:
        return transport_error(
            exc,
            where=where,
            agent=self.name,
            step_id=request.step_id,
            secrets=self.secrets,
            timeout=self.options.timeout,
        )

    async def _complete(
        self, request: cadenza.AgentRequest, content: str, where: str, json_mode: bool
    ) -> ChatReply:
        response = await self._http().post(
            self.options.chat_url,
            content=content,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        return self._parse_whole(response, request, where, json_mode)

    def _parse_whole(
        self, response: httpx.Response, request: cadenza.AgentRequest, where: str, json_mode: bool
    ) -> ChatReply:
        """A reply read whole (not streamed), or the error its status or body means."""
        if not response.is_success:
            if json_mode and rejects_response_format(response):
                raise _JSONModeRejected
            raise self._status_error(response, request, where)
        try:
            return parse_reply(json.loads(response.content))
        except StreamErrorEvent as exc:
            raise self._event_error(exc, request, where) from None
        except (ValueError, ChatFormatError) as exc:
            snippet = redact(response.content[:120].decode("utf-8", "replace"), self.secrets)
            raise cadenza.RetryableError(
                f"{where}: HTTP {response.status_code} with a body that is not a chat "
                f"completion ({exc}): {snippet!r}",
                agent=self.name,
                step_id=request.step_id,
            ) from None

    async def _stream(
        self, request: cadenza.AgentRequest, content: str, where: str, json_mode: bool
    ) -> ChatReply:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        client = self._http()
        async with client.stream(
            "POST", self.options.chat_url, content=content, headers=headers
        ) as response:
            streamed = response.headers.get("content-type", "").startswith("text/event-stream")
            if not response.is_success or not streamed:
                await response.aread()  # an error, or a server that ignored stream: true
                return self._parse_whole(response, request, where, json_mode)
            accumulated = StreamAccumulator()
            try:
                await self._read_events(response, accumulated, request, where)
            except httpx.HTTPError as exc:
                if accumulated.done:  # the reply was complete; only the drain failed
                    log.debug(
                        "openai_stream_drain_failed", agent=self.name, error=type(exc).__name__
                    )
                elif isinstance(exc, httpx.ReadTimeout):
                    raise
                else:
                    raise cadenza.RetryableError(
                        f"{where}: the stream was cut after {accumulated.chunks} chunks "
                        f"({type(exc).__name__}: {redact(str(exc), self.secrets)})",
                        agent=self.name,
                        step_id=request.step_id,
                    ) from exc
        if not (accumulated.done or accumulated.finished):
            raise cadenza.RetryableError(
                f"{where}: the stream ended after {accumulated.chunks} chunks without "
                "a finish_reason or [DONE]; the reply is incomplete",
                agent=self.name,
                step_id=request.step_id,
            )
        if accumulated.usage is not None:
            tokens = accumulated.usage.completion_tokens
            request.report_progress(f"{tokens} tokens", tokens=tokens)
        return accumulated.reply()

    async def _read_events(
        self,
        response: httpx.Response,
        accumulated: StreamAccumulator,
        request: cadenza.AgentRequest,
        where: str,
    ) -> None:
        """Feed the stream's events to ``accumulated``, reporting progress as content arrives.

        To stop early (an error event, or ``[DONE]``) this cancels its own
        scope rather than leaving the loop: the cancellation unwinds httpx's
        nested async generators, which a ``break`` would leave half-run for the
        garbage collector. After ``[DONE]`` it reads on for up to a second, so a
        connection whose body ends normally goes back to the pool.
        """
        decoder = SSEDecoder()
        failure: cadenza.AgentError | None = None
        with trio.CancelScope() as stop:
            async for line in response.aiter_lines():
                if failure is not None or accumulated.done:
                    continue  # stopping: discard what is still buffered
                data = decoder.feed(line)
                if data is None:
                    continue
                try:
                    self._take(accumulated, data, request, where)
                except cadenza.AgentError as exc:
                    failure = exc
                    stop.cancel()
                else:
                    if accumulated.done:
                        stop.deadline = trio.current_time() + _DRAIN_SECONDS
        if failure is not None:
            raise failure
        if not accumulated.done and (data := decoder.flush()) is not None:
            self._take(accumulated, data, request, where)

    def _take(
        self,
        accumulated: StreamAccumulator,
        data: str,
        request: cadenza.AgentRequest,
        where: str,
    ) -> None:
        """Add one event's data; raise the AgentError a bad or error event means."""
        try:
            if accumulated.add(data):
                n = accumulated.chunks
                request.report_progress(f"{n} tokens", tokens=n)
        except StreamErrorEvent as exc:
            raise self._event_error(exc, request, where) from None
        except ChatFormatError as exc:
            raise cadenza.RetryableError(
                f"{where}: {redact(str(exc), self.secrets)} (after {accumulated.chunks} chunks)",
                agent=self.name,
                step_id=request.step_id,
            ) from None

    def _status_error(
        self, response: httpx.Response, request: cadenza.AgentRequest, where: str
    ) -> cadenza.AgentError:
        return status_error(
            response,
            where=where,
            agent=self.name,
            step_id=request.step_id,
            secrets=self.secrets,
            has_key=self.options.api_key is not None
            or any(h.lower() in _AUTH_HEADERS for h in self.options.headers),
        )

    def _event_error(
        self, exc: StreamErrorEvent, request: cadenza.AgentRequest, where: str
    ) -> cadenza.AgentError:
        return error_body_error(
            exc.code,
            exc.kind,
            exc.message,
            where=where,
            agent=self.name,
            step_id=request.step_id,
            secrets=self.secrets,
        )

    async def _output(
        self, reply: ChatReply, request: cadenza.AgentRequest, mode: FileMode, where: str
    ) -> Any:
        try:
            return await reply_output(
                reply,
                mode=mode,
                output_dir=request.output_dir,
                stem=request.step_id,
                layout=self.options.layout,
            )
        except (OSError, UnsafePathError) as exc:
            raise cadenza.PermanentError(
                f"{where}: could not write the reply's files under {request.output_dir}: {exc}",
                agent=self.name,
                step_id=request.step_id,
            ) from exc

    def _usage(self, reply: ChatReply, messages: list[dict[str, str]]) -> cadenza.Usage:
        """The server's token counts; an estimate (logged as such) when it sent none."""
        if reply.usage is not None:
            return cadenza.Usage(
                input_tokens=reply.usage.prompt_tokens,
                output_tokens=reply.usage.completion_tokens,
            )
        characters = sum(len(m["content"]) for m in messages)
        estimate = cadenza.Usage(
            input_tokens=math.ceil(characters / 4),
            output_tokens=reply.chunks or math.ceil(len(reply.text) / 4),
        )
        log.warning(
            "openai_usage_estimated",
            agent=self.name,
            input_tokens=estimate.input_tokens,
            output_tokens=estimate.output_tokens,
        )
        return estimate

    async def health(self) -> bool:
        """``GET {base_url}/models``: True on 2xx, and on 404 or 405; False otherwise.

        A server without a ``/models`` endpoint (fakellm, some gateways and
        proxies: 404, or 405 where the path exists for POST only) says
        nothing about its health, and ``False`` would take the agent out of
        service for good: a ``health_check:`` would never pass, a breaker's
        probe would reopen it forever. So such an answer means "unknown,
        usable" (logged once per agent as ``openai_health_unknown``) and the
        next real call decides. Any other non-2xx answer or a transport
        error is unhealthy, logged as ``agent_health_check_failed``. At most
        64 KiB of the answer is read.
        """
        url = self.options.models_url
        try:
            async with self._http().stream("GET", url) as response:
                await read_at_most(response, _HEALTH_BODY_LIMIT)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.info(
                "agent_health_check_failed",
                agent=self.name,
                error=type(exc).__name__,
                detail=redact(str(exc), self.secrets),
            )
            return False
        if response.status_code in _NO_MODELS_ENDPOINT:
            if not self._health_unknown_logged:
                self._health_unknown_logged = True
                log.info(
                    "openai_health_unknown",
                    agent=self.name,
                    status=response.status_code,
                    url=safe_url(url),
                )
            return True
        if not response.is_success:
            log.info("agent_health_check_failed", agent=self.name, status=response.status_code)
        return response.is_success

    async def aclose(self) -> None:
        """Close the connection pool; a later call opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
