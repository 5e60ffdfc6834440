"""A loopback OpenAI-compatible server for tests, with scripted faults (public, for any test).

``server = await nursery.start(FakeOpenAI(...).serve)`` listens on
127.0.0.1 (port 0) and sets ``server.url`` to ``http://127.0.0.1:PORT/v1``,
the ``base_url`` to give an ``openai`` agent (or ``OPENAI_BASE_URL``).
``POST /v1/chat/completions`` is answered by ``handler(call)`` if it returns
a response, else the next of ``replies`` (consumed in arrival order), else
``default``; a :class:`Reply` is streamed as server-sent events when the
request says ``stream: true`` (with a final usage chunk when it asks for
``stream_options.include_usage``), else sent whole. With ``api_key`` set, a
chat request without ``Authorization: Bearer <api_key>`` gets a 401 instead.
``GET /v1/models`` answers ``models_status``. Every request is recorded in
``calls``, headers unredacted, so tests can check what was sent.

The responses: :class:`Reply` (a completion), :class:`Status` (any status
and body), :class:`Unauthorized` (a 401 quoting the key sent),
:class:`Drop` (no answer), :class:`Cut` (a stream dropped mid-way),
:class:`Malformed` (broken JSON) and :class:`StreamError` (an error event
mid-stream).

Built on :class:`cadenza.testing.LoopbackServer`, like
``cadenza.testing.SeedAgentServer`` (so it needs ``cadenza[testing]``: pytest,
pytest-trio, h11); ``requests``, ``connections`` and ``serve(host=, port=)``
come from there. Run tests that use it on the real clock and keep pauses tiny.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from cadenza.testing import Exchange, LoopbackRequest, LoopbackServer

__all__ = [
    "Call",
    "Cut",
    "Drop",
    "FakeOpenAI",
    "Malformed",
    "Reply",
    "Response",
    "Status",
    "StreamError",
    "Unauthorized",
]


@attrs.frozen
class Reply:
    """A successful completion: ``text`` split into ``chunks`` when streamed (default: words)."""

    text: str = "Hello from the fake model."
    chunks: tuple[str, ...] | None = None
    usage: tuple[int, int] | None = (12, 7)
    finish_reason: str | None = "stop"  # None: no final chunk (a stream that just stops)
    model: str = "fake-model"
    pause: float = 0.0
    done: bool = True
    whole: bool = False  # answer with one JSON body even when asked to stream
    drop_after_done: bool = False  # close the connection after [DONE], mid-body

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        words = self.text.split(" ")
        return [w + " " for w in words[:-1]] + [words[-1]] if self.text else []


@attrs.frozen
class Status:
    """Answer ``code`` with ``body`` (None: an OpenAI error object; str: text; else JSON)."""

    code: int
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    message: str = "fake failure"
    error_code: str | None = None


@attrs.frozen
class Unauthorized:
    """401 whose message quotes the key that was sent, as OpenAI's does."""


@attrs.frozen
class Drop:
    """Close the connection without answering."""


@attrs.frozen
class Cut:
    """Stream ``after`` chunks of ``text``, then drop the connection mid-body."""

    text: str = "def half(x):\n    return x / 2\n"
    after: int = 2


@attrs.frozen
class Malformed:
    """200 with a truncated JSON body, or a broken chunk in a stream."""


@attrs.frozen
class StreamError:
    """Stream ``after`` chunks, then an error event ``{"error": {...}}``."""

    message: str = "The server had an error while processing your request."
    kind: str = "server_error"
    code: str | None = None
    after: int = 1


Response = Reply | Status | Unauthorized | Drop | Cut | Malformed | StreamError


@attrs.frozen(kw_only=True)
class Call(LoopbackRequest):
    """One request the server received."""

    @property
    def prompt(self) -> str:
        """The last user message's content."""
        users = [m for m in self.json["messages"] if m["role"] == "user"]
        return str(users[-1]["content"])

    def message(self, role: str) -> str:
        """The content of the request's first message with ``role`` ("" if none)."""
        found = [m["content"] for m in self.json["messages"] if m["role"] == role]
        return str(found[0]) if found else ""


@attrs.define(eq=False)
class FakeOpenAI(LoopbackServer[Call]):
    """The state and script of one server (see the module doc)."""

    request_type = Call
    url_path = "/v1"

    replies: list[Response] = attrs.field(factory=list, converter=list)
    default: Response = Reply()
    handler: Callable[[Call], Any] | None = None
    models_status: int = 200
    api_key: str | None = attrs.field(default=None, repr=False)

    @property
    def calls(self) -> list[Call]:
        """Every request received, in arrival order (``requests``)."""
        return self.requests

    @property
    def chat_calls(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST"]

    async def respond(self, request: Call, exchange: Exchange) -> bool:
        """Answer ``GET /v1/models`` and ``POST /v1/chat/completions``; 404 elsewhere."""
        if request.method == "GET" and request.path == "/v1/models":
            models = {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
            return await exchange.send_json(self.models_status, models)
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return await exchange.send_json(404, {"error": {"message": "no such path"}})
        return await _answer(exchange, request, await self._choose(request))

    async def _choose(self, call: Call) -> Response:
        if self.api_key is not None and call.authorization != f"Bearer {self.api_key}":
            return Unauthorized()
        return await self.next_scripted(call, self.handler, self.replies, self.default)


async def _answer(exchange: Exchange, call: Call, response: Response) -> bool:
    streamed = bool(call.json.get("stream"))
    if isinstance(response, Reply) and response.whole:
        streamed = False
    if isinstance(response, Drop):
        return False
    if isinstance(response, Unauthorized):
        key = (call.authorization or "").removeprefix("Bearer ")
        error: dict[str, str | None] = {
            "message": f"Incorrect API key provided: {key}. You can find your API key "
            "at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
        return await exchange.send_json(401, {"error": error})
    if isinstance(response, Status):
        body = response.body
        if body is None:
            error = {"message": response.message, "type": "fake", "code": response.error_code}
            body = {"error": error}
        if isinstance(body, str):
            headers = {"content-type": "text/plain; charset=utf-8", **response.headers}
            return await exchange.send(response.code, body.encode(), headers)
        return await exchange.send_json(response.code, body, response.headers)
    if isinstance(response, Malformed) and not streamed:
        return await exchange.send(200, b'{"choices": [{"message": ')
    if not streamed:
        assert isinstance(response, Reply), f"{response!r} needs stream: true"
        return await exchange.send_json(200, _completion(response))
    return await _stream(exchange, call, response)


def _completion(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if reply.usage is not None:
        prompt, completion = reply.usage
        out["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return out


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _event(payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


async def _stream(exchange: Exchange, call: Call, response: Response) -> bool:
    headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
    await exchange.start(200, headers)

    async def send(payload: Any) -> None:
        await exchange.write(_event(payload))

    model = response.model if isinstance(response, Reply) else "fake-model"
    await send(_chunk(model, {"role": "assistant", "content": ""}))
    if isinstance(response, Malformed):
        await send('{"choices": [{"delta": ')
    elif isinstance(response, Cut | StreamError):
        text = response.text if isinstance(response, Cut) else "partial answer "
        for piece in text.split(" ")[: response.after]:
            await send(_chunk(model, {"content": piece + " "}))
        if isinstance(response, Cut):
            return await exchange.drop()  # mid-body: no terminating chunk
        await send(
            {"error": {"message": response.message, "type": response.kind, "code": response.code}}
        )
    else:
        assert isinstance(response, Reply)
        for piece in response.pieces():
            if response.pause:
                await trio.sleep(response.pause)
            await send(_chunk(model, {"content": piece}))
        if response.finish_reason is not None:
            await send(_chunk(model, {}, response.finish_reason))
        options = call.json.get("stream_options") or {}
        if response.usage is not None and options.get("include_usage"):
            prompt, completion = response.usage
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
            await send({**_chunk(model, {}), "choices": [], "usage": usage})
        if response.done:
            await send("[DONE]")
        if response.drop_after_done:
            return await exchange.drop()
    return await exchange.end()
