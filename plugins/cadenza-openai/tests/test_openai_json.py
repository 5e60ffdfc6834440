"""``reply: json``: JSON mode asked for, fences stripped, bad replies retried, old servers work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog.testing
from openai_workflows import API_KEY, ENV, workflow

import cadenza
from cadenza.testing import run_captured
from cadenza_openai._json_reply import NotJSONError, parse_json_reply
from cadenza_openai._messages import JSON_INSTRUCTIONS
from cadenza_openai.testing import Call, FakeOpenAI, Reply, Status

PLAN = {"files": [{"path": "Assets/Scripts/Health.cs", "class": "Health"}]}
JSON_REPLY = ", reply: json"


async def test_json_reply_is_the_parsed_value(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """The reply's JSON becomes the output; the request asks for JSON mode and says JSON."""
    server.default = Reply(text=json.dumps(PLAN))
    text = workflow(server.url, options=JSON_REPLY + ', system: "You plan."')
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.status == "succeeded"
    assert captured.result.steps["write"].output == PLAN
    (call,) = server.chat_calls
    assert call.json["response_format"] == {"type": "json_object"}
    assert call.message("system") == f"You plan.\n\n{JSON_INSTRUCTIONS}"
    assert "JSON" in call.message("system")  # OpenAI's JSON mode refuses a request without it


async def test_whole_reply_without_streaming(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """stream: false reads the JSON from a whole reply just the same."""
    server.default = Reply(text='[1, 2, {"three": 3}]')
    text = workflow(server.url, options=JSON_REPLY + ", stream: false")
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.steps["write"].output == [1, 2, {"three": 3}]
    (call,) = server.chat_calls
    assert call.json["stream"] is False
    assert call.json["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    "reply",
    [
        "```json\n" + json.dumps(PLAN, indent=2) + "\n```",
        "Here is the plan:\n\n```JSON\n" + json.dumps(PLAN) + "\n```\n\nGood luck!",
        "```\n" + json.dumps(PLAN) + "\n```\n",
        "  \n" + json.dumps(PLAN) + "\n\n",
    ],
    ids=["fenced", "fenced-in-prose", "unlabelled-fence", "whitespace"],
)
async def test_fenced_json_is_unwrapped(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, reply: str
) -> None:
    """A model that wraps its JSON in a fence (with or without prose) still gives the value."""
    server.default = Reply(text=reply)
    captured = await run_captured(
        workflow(server.url, options=JSON_REPLY), plugins=plugins, environ=ENV
    )
    assert captured.result.steps["write"].output == PLAN
    assert not captured.of("attempt_failed")


async def test_non_json_reply_is_retried_with_what_came_back(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """Prose instead of JSON fails the attempt retryably, quoting its start, secrets redacted."""
    prose = f"Sure! I would plan Health.cs first (key {API_KEY}). " + "Then more words. " * 30
    server.replies = [Reply(text=prose), Reply(text=json.dumps(PLAN))]
    with structlog.testing.capture_logs() as logs:
        captured = await run_captured(
            workflow(server.url, options=JSON_REPLY), plugins=plugins, environ=ENV
        )
    assert captured.result.status == "succeeded"
    assert captured.result.steps["write"].output == PLAN
    (failed,) = captured.of("attempt_failed")
    assert failed.retryable
    assert failed.error_type == "RetryableError"
    assert "reply: json, but it does not parse as JSON" in failed.message
    assert "the reply began: 'Sure! I would plan Health.cs first (key ***)." in failed.message
    assert len(failed.message) < 500  # the reply is quoted, clipped to 200 characters
    assert API_KEY not in repr(captured.events)
    assert API_KEY not in repr(logs)
    assert len(server.chat_calls) == 2


async def test_json_cut_at_max_tokens_is_not_retried(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """JSON cut off at max_tokens fails at once: asking again would cut it again."""
    server.default = Reply(text='{"files": [{"path": "Assets/Scr', finish_reason="length")
    text = workflow(server.url, options=JSON_REPLY + ", max_tokens: 8")
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.status == "failed"
    (failed,) = captured.of("attempt_failed")
    assert not failed.retryable
    assert "cut at max_tokens=8 before its JSON ended" in failed.message
    assert "Raise max_tokens" in failed.message
    assert len(server.chat_calls) == 1


def reject_response_format(status: int, body: object) -> object:
    """A handler: the server refuses any request carrying response_format, serves the rest."""

    def handler(call: Call) -> object:
        if "response_format" in call.json:
            return Status(status, body=body)
        return Reply(text=json.dumps(PLAN))

    return handler


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            400,
            {
                "error": {
                    "message": "Invalid parameter: 'response_format' of type 'json_object' is "
                    "not supported with this model.",
                    "type": "invalid_request_error",
                    "param": "response_format",
                    "code": None,
                }
            },
        ),
        (422, {"detail": [{"loc": ["body", "response_format"], "msg": "extra fields forbidden"}]}),
        (400, "Unrecognized request argument supplied: response_format"),
    ],
    ids=["openai-400", "fastapi-422", "plain-400"],
)
async def test_server_that_rejects_response_format(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, status: int, body: object
) -> None:
    """A 400/422 naming response_format: the same attempt asks again without it, and so do
    later calls of that agent."""
    server.handler = reject_response_format(status, body)  # type: ignore[assignment]
    text = workflow(
        server.url,
        options=JSON_REPLY,
        step="\n  again: {uses: writer, needs: [write], with: {prompt: Again.}}",
    )
    with structlog.testing.capture_logs() as logs:
        captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.status == "succeeded"
    assert captured.result.steps["write"].output == PLAN
    assert captured.result.steps["again"].output == PLAN
    assert not captured.of("attempt_failed")
    first, second, third = server.chat_calls
    assert "response_format" in first.json
    assert "response_format" not in second.json
    assert "response_format" not in third.json  # remembered for the agent's later calls
    assert second.message("system") == JSON_INSTRUCTIONS  # the prompt still asks for JSON
    assert [e["event"] for e in logs if e["event"] == "openai_json_mode_unsupported"] == [
        "openai_json_mode_unsupported"
    ]


async def test_other_bad_requests_still_fail(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A 400 that does not name response_format is a bad request as before: no second call."""
    server.default = Status(400, message="messages: too long")
    captured = await run_captured(
        workflow(server.url, options=JSON_REPLY), plugins=plugins, environ=ENV
    )
    assert captured.result.status == "failed"
    (failed,) = captured.of("attempt_failed")
    assert not failed.retryable
    assert "HTTP 400: messages: too long" in failed.message
    assert len(server.chat_calls) == 1


async def test_extra_body_response_format_is_kept(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A response_format in extra_body (a JSON schema, say) is sent instead of JSON mode."""
    schema = {"type": "json_schema", "json_schema": {"name": "plan", "schema": {"type": "object"}}}
    server.default = Reply(text=json.dumps(PLAN))
    options = JSON_REPLY + ", extra_body: {response_format: " + json.dumps(schema) + "}"
    captured = await run_captured(
        workflow(server.url, options=options), plugins=plugins, environ=ENV
    )
    assert captured.result.steps["write"].output == PLAN
    (call,) = server.chat_calls
    assert call.json["response_format"] == schema


def listing(folder: Path) -> list[Path]:
    """Everything under ``folder`` (sync: the async tests call it on their own tmp folder)."""
    return sorted(folder.rglob("*"))


async def test_code_step_with_json_reply_writes_no_files(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """reply: json wins over a code task's files: the output is the value, nothing is written."""
    server.default = Reply(text="```json\n" + json.dumps(PLAN) + "\n```")
    text = workflow(server.url, options=JSON_REPLY, uses="code")
    captured = await run_captured(text, plugins=plugins, environ=ENV, output_dir=tmp_path)
    assert captured.result.steps["write"].output == PLAN
    assert listing(tmp_path) == []
    (call,) = server.chat_calls
    assert "fenced code block" not in call.message("system")  # no file-naming instructions


def test_reply_option_is_checked_when_the_file_loads(plugins: cadenza.plugins.Plugins) -> None:
    """An unknown reply: value, or write_files: true beside reply: json, is a load error."""
    for options, path, message in [
        (", reply: yaml", "agents.writer.options.reply", "one of 'text', 'json'"),
        (
            ", reply: json, write_files: true",
            "agents.writer.options.write_files",
            "cannot be true with reply: json",
        ),
    ]:
        text = workflow("http://127.0.0.1:9/v1", options=options)
        with pytest.raises(cadenza.WorkflowError) as caught:
            cadenza.load_workflow_text(text, plugins=plugins, environ=ENV)
        (problem,) = caught.value.problems
        assert problem.path == path, problem
        assert message in problem.message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", [1, 2]),
        ('"just a string"', "just a string"),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ("Plan:\n```js\nnot this\n```\n```json\n[3]\n```", [3]),
        ("```json\n{broken\n```\n```json\n[4]\n```", [4]),
    ],
)
def test_parse_json_reply(text: str, value: object) -> None:
    """The whole text, else the first fenced JSON (or unlabelled) block that parses."""
    assert parse_json_reply(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the reply is empty"),
        ("I cannot do that.", "it does not parse as JSON"),
        ('```json\n{"a": 1}', "it does not parse as JSON"),  # a fence never closed
        ("```python\n[1]\n```", "it does not parse as JSON"),
    ],
)
def test_parse_json_reply_refuses(text: str, reason: str) -> None:
    """Text holding no JSON value raises NotJSONError saying why."""
    with pytest.raises(NotJSONError, match=reason):
        parse_json_reply(text)
