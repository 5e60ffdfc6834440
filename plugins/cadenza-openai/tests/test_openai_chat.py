"""The wire format: request bodies, whole replies, and server-sent event streams."""

from __future__ import annotations

import json

import pytest

from cadenza_openai._chat import (
    ChatFormatError,
    SSEDecoder,
    StreamAccumulator,
    StreamErrorEvent,
    TokenUsage,
    build_body,
    parse_reply,
)


def chunk(content: str | None = None, finish: str | None = None, **extra: object) -> str:
    delta = {} if content is None else {"content": content}
    body = {"model": "m-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return json.dumps({**body, **extra})


def test_build_body_streams_with_usage() -> None:
    """A streamed request asks for the usage chunk; unset options are left out."""
    body = build_body(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_build_body_options_and_extra() -> None:
    """temperature, max_tokens and extra_body keys are sent when set."""
    body = build_body(
        model="m",
        messages=[],
        stream=False,
        temperature=0.2,
        max_tokens=64,
        extra={"seed": 7, "top_p": 0.9},
    )
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 64
    assert body["seed"] == 7
    assert body["top_p"] == 0.9
    assert body["stream"] is False
    assert "stream_options" not in body


def test_sse_decoder_events() -> None:
    """data: lines are joined per event; comments and other fields are ignored."""
    decoder = SSEDecoder()
    lines = [": keep-alive", "event: message", "data: a", "data:b", "id: 1", "", "", "data: c"]
    events = [e for line in lines if (e := decoder.feed(line)) is not None]
    assert events == ["a\nb"]
    assert decoder.flush() == "c"
    assert decoder.flush() is None


def test_accumulator_collects_a_stream() -> None:
    """Deltas accumulate; finish_reason, usage, model and [DONE] are recorded."""
    acc = StreamAccumulator()
    added = [
        acc.add(chunk("")),
        acc.add(chunk("Hel")),
        acc.add(chunk("lo")),
        acc.add(chunk(finish="stop")),
        acc.add(json.dumps({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}})),
        acc.add("[DONE]"),
    ]
    assert added == [False, True, True, False, False, False]
    reply = acc.reply()
    assert (reply.text, reply.model, reply.finish_reason) == ("Hello", "m-1", "stop")
    assert reply.usage == TokenUsage(prompt_tokens=9, completion_tokens=2)
    assert reply.chunks == 2
    assert acc.done


def test_accumulator_ignores_other_choices() -> None:
    """Only choice 0 is kept."""
    acc = StreamAccumulator()
    acc.add(json.dumps({"choices": [{"index": 1, "delta": {"content": "no"}}]}))
    acc.add(chunk("yes"))
    assert acc.text == "yes"


def test_accumulator_error_event() -> None:
    """An error object in the stream raises with its message and code."""
    acc = StreamAccumulator()
    with pytest.raises(StreamErrorEvent) as caught:
        acc.add(json.dumps({"error": {"message": "overloaded", "type": "server_error"}}))
    assert (caught.value.message, caught.value.kind) == ("overloaded", "server_error")


def test_accumulator_malformed_chunk() -> None:
    """A chunk that is not JSON is a format error."""
    with pytest.raises(ChatFormatError, match="not valid JSON"):
        StreamAccumulator().add('{"choices": [')


def test_parse_reply() -> None:
    """A whole reply gives text, model, finish_reason and usage."""
    reply = parse_reply(
        {
            "model": "m-2",
            "choices": [{"message": {"content": "hi"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }
    )
    assert (reply.text, reply.model, reply.finish_reason) == ("hi", "m-2", "length")
    assert reply.usage == TokenUsage(prompt_tokens=3, completion_tokens=1)


@pytest.mark.parametrize("body", [[], {}, {"choices": []}, {"choices": [{"text": "x"}]}])
def test_parse_reply_refuses_other_shapes(body: object) -> None:
    """Anything without choices[0].message is a format error."""
    with pytest.raises(ChatFormatError):
        parse_reply(body)


def test_parse_reply_refusal() -> None:
    """A refusal is reported as such."""
    reply = parse_reply({"choices": [{"message": {"content": None, "refusal": "I can't."}}]})
    assert (reply.text, reply.refusal) == ("", "I can't.")
