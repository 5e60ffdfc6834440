"""The chat-completions wire format: request bodies, replies, and server-sent event streams.

Pure functions and small state machines, no I/O, so each is tested on its own
and the agent only moves bytes. A streamed reply is a series of SSE events
whose ``data:`` is a JSON chunk::

    data: {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": null}]}

    data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}

    data: {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5}}

    data: [DONE]

:class:`SSEDecoder` turns lines into event data (joining multi-line
``data:`` fields, skipping comments and other fields, as the SSE spec says);
:class:`StreamAccumulator` turns event data into a :class:`ChatReply`. The
usage chunk arrives only because requests ask for it
(``stream_options: {include_usage: true}``); servers that ignore the option
send none, and the reply then says ``usage is None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs


class ChatFormatError(ValueError):
    """The server's answer is not the chat-completions format (malformed JSON, no choices)."""


class StreamErrorEvent(Exception):
    """The server answered with an error object: ``{"error": {"message", "type", "code"}}``."""

    def __init__(self, message: str, *, code: str = "", kind: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.kind = kind


@attrs.frozen(kw_only=True)
class TokenUsage:
    """Token counts the server reported."""

    prompt_tokens: int
    completion_tokens: int


@attrs.frozen(kw_only=True)
class ChatReply:
    """A complete reply: its text, the model that wrote it, why it stopped, what it cost.

    ``chunks`` counts the content deltas of a stream (about one token each;
    0 for a non-streamed reply). ``refusal`` is the model's refusal text, if
    it refused instead of answering.
    """

    text: str
    model: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    chunks: int = 0
    refusal: str | None = None


def build_body(
    *,
    model: str,
    messages: Sequence[Mapping[str, str]],
    stream: bool,
    temperature: float | None = None,
    max_tokens: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions``; unset options are left out."""
    body: dict[str, Any] = dict(extra or {})
    body["model"] = model
    body["messages"] = [dict(m) for m in messages]
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def parse_usage(value: Any) -> TokenUsage | None:
    """``usage`` of a reply or chunk, or None if absent or unreadable."""
    if not isinstance(value, Mapping):
        return None
    prompt = _count(value.get("prompt_tokens"))
    completion = _count(value.get("completion_tokens"))
    if prompt is None and completion is None:
        return None
    return TokenUsage(prompt_tokens=prompt or 0, completion_tokens=completion or 0)


def error_event(body: Any) -> StreamErrorEvent | None:
    """The error an error body carries (``{"error": {...}}`` or ``{"error": "..."}``), if any."""
    if not isinstance(body, Mapping) or "error" not in body:
        return None
    error = body["error"]
    if isinstance(error, Mapping):
        return StreamErrorEvent(
            str(error.get("message") or error.get("type") or "unknown error"),
            code=str(error.get("code") or ""),
            kind=str(error.get("type") or ""),
        )
    return StreamErrorEvent(str(error))


def parse_reply(body: Any) -> ChatReply:
    """A non-streamed reply (``choices[0].message``); raise ChatFormatError if it is not one."""
    if (error := error_event(body)) is not None:
        raise error
    if not isinstance(body, Mapping):
        raise ChatFormatError(f"expected a JSON object, got {type(body).__name__}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise ChatFormatError("the reply has no choices")
    message = choices[0].get("message")
    if not isinstance(message, Mapping):
        raise ChatFormatError("choices[0] has no message")
    content = message.get("content")
    refusal = message.get("refusal")
    finish = choices[0].get("finish_reason")
    return ChatReply(
        text=content if isinstance(content, str) else "",
        model=str(body.get("model") or ""),
        finish_reason=finish if isinstance(finish, str) else None,
        usage=parse_usage(body.get("usage")),
        refusal=refusal if isinstance(refusal, str) and refusal else None,
    )


@attrs.define
class SSEDecoder:
    """Server-sent events, line by line: :meth:`feed` returns an event's data when it ends.

    An event ends at a blank line; its ``data:`` lines are joined with
    newlines. Comments (``:``) and other fields (``event:``, ``id:``,
    ``retry:``) are ignored. :meth:`flush` returns the data of a last event
    the server did not end with a blank line.
    """

    _data: list[str] = attrs.field(factory=list)

    def feed(self, line: str) -> str | None:
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def flush(self) -> str | None:
        if not self._data:
            return None
        data, self._data = "\n".join(self._data), []
        return data


@attrs.define
class StreamAccumulator:
    """Collects a streamed reply from its chunks' data (see the module doc).

    :meth:`add` returns True when a chunk added content, so the caller can
    report progress. ``done`` is set by ``[DONE]``; ``finished`` once a chunk
    gave a ``finish_reason``. Only choice 0 is kept (the agent asks for one).
    """

    parts: list[str] = attrs.field(factory=list)
    refusal_parts: list[str] = attrs.field(factory=list)
    model: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    chunks: int = 0
    done: bool = False

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, data: str) -> bool:
        """Take one event's data; raise StreamErrorEvent or ChatFormatError on a bad one."""
        if data.strip() == "[DONE]":
            self.done = True
            return False
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise ChatFormatError(f"a stream chunk is not valid JSON: {data[:80]!r}") from exc
        if (error := error_event(chunk)) is not None:
            raise error
        if not isinstance(chunk, Mapping):
            raise ChatFormatError(f"a stream chunk is not a JSON object: {data[:80]!r}")
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self.model = chunk["model"]
        if (usage := parse_usage(chunk.get("usage"))) is not None:
            self.usage = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return False
        added = False
        for choice in choices:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, Mapping):
                content = delta.get("content")
                if isinstance(content, str) and content:
                    self.parts.append(content)
                    self.chunks += 1
                    added = True
                refusal = delta.get("refusal")
                if isinstance(refusal, str) and refusal:
                    self.refusal_parts.append(refusal)
            finish = choice.get("finish_reason")
            if isinstance(finish, str) and finish:
                self.finish_reason = finish
        return added

    def reply(self) -> ChatReply:
        return ChatReply(
            text=self.text,
            model=self.model,
            finish_reason=self.finish_reason,
            usage=self.usage,
            chunks=self.chunks,
            refusal="".join(self.refusal_parts) or None,
        )
