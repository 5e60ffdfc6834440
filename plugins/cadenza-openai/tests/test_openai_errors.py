"""Failures are typed: what is retried, what is not, and secrets never leak."""

from __future__ import annotations

import pytest
import structlog.testing
import trio
from openai_workflows import API_KEY, ENV, workflow

import cadenza
from cadenza.testing import CapturedRun, run_captured
from cadenza_openai._agent import OpenAIAgent
from cadenza_openai.testing import (
    Cut,
    Drop,
    FakeOpenAI,
    Malformed,
    Reply,
    Status,
    StreamError,
    Unauthorized,
)


async def run(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, options: str = ""
) -> CapturedRun:
    return await run_captured(workflow(server.url, options=options), plugins=plugins, environ=ENV)


async def test_rate_limit_waits_for_retry_after(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A 429 is retried after its Retry-After, marked rate limited."""
    server.replies = [Status(429, headers={"retry-after": "0.3"}, message="Rate limit reached")]
    captured = await run(server, plugins)
    assert captured.result.steps["write"].output == "Hello from the fake model."
    (failed,) = captured.of("attempt_failed")
    assert failed.retryable
    assert failed.retry_in == pytest.approx(0.3)
    assert "HTTP 429: Rate limit reached" in failed.message
    first, second = server.chat_calls
    assert second.at - first.at >= 0.3


async def test_rate_limit_reset_headers(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """Without Retry-After, the reset time of the exhausted limit decides the wait."""
    headers = {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "150ms"}
    server.replies = [Status(429, headers=headers)]
    captured = await run(server, plugins)
    (failed,) = captured.of("attempt_failed")
    assert failed.retry_in == pytest.approx(0.15)
    assert captured.result.status == "succeeded"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Status(500, message="The server had an error"), "HTTP 500: The server had an error"),
        (Status(503, body="upstream unavailable"), "HTTP 503: upstream unavailable"),
        (Drop(), "RemoteProtocolError"),
        (Cut(after=2), "the stream was cut after 2 chunks"),
        (Malformed(), "a stream chunk is not valid JSON"),
        (StreamError(message="model overloaded"), "the server reported an error: model overloaded"),
    ],
)
async def test_transient_failures_are_retried(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, fault: object, message: str
) -> None:
    """5xx, dropped connections, cut streams, bad chunks and error events are retried."""
    server.replies = [fault]  # type: ignore[list-item]
    captured = await run(server, plugins)
    assert captured.result.status == "succeeded"
    assert captured.result.steps["write"].output == "Hello from the fake model."
    (failed,) = captured.of("attempt_failed")
    assert failed.retryable
    assert failed.error_type == "RetryableError"
    assert message in failed.message


async def test_finished_stream_without_done_is_accepted(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A stream with a finish_reason but no [DONE] (some local servers) is complete."""
    server.default = Reply(text="no done marker", done=False)
    captured = await run(server, plugins)
    assert captured.result.steps["write"].output == "no done marker"
    assert len(server.chat_calls) == 1


async def test_connection_lost_after_done_is_harmless(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A connection dropped after [DONE] loses nothing: the reply is complete."""
    server.default = Reply(text="all here", drop_after_done=True)
    with structlog.testing.capture_logs() as logs:
        captured = await run(server, plugins)
    assert captured.result.steps["write"].output == "all here"
    assert len(server.chat_calls) == 1
    assert any(entry["event"] == "openai_stream_drain_failed" for entry in logs)


async def test_stream_without_an_end_is_retried(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A stream that ends cleanly but with no finish_reason or [DONE] is incomplete."""
    server.replies = [Reply(text="a partial", finish_reason=None, done=False)]
    server.default = Reply(text="complete")
    captured = await run(server, plugins)
    assert captured.result.steps["write"].output == "complete"
    (failed,) = captured.of("attempt_failed")
    assert "the stream ended after 2 chunks without a finish_reason or [DONE]" in failed.message


async def test_malformed_json_whole_reply_is_retried(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A truncated JSON body (stream: false) is retried."""
    server.replies = [Malformed()]
    captured = await run(server, plugins, options=", stream: false")
    (failed,) = captured.of("attempt_failed")
    assert failed.retryable
    assert "not a chat completion" in failed.message
    assert captured.result.status == "succeeded"


async def test_silence_longer_than_timeout(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A stream silent for longer than timeout: fails the attempt as a timeout, retried."""
    server.replies = [Reply(text="slow reply", pause=0.5)]
    captured = await run(server, plugins, options=", timeout: 100ms")
    (failed,) = captured.of("attempt_failed")
    assert failed.error_type == "AgentTimeoutError"
    assert failed.retryable
    assert "timeout=0.1s" in failed.message
    assert captured.result.status == "succeeded"


async def test_connection_refused_is_retried(plugins: cadenza.plugins.Plugins) -> None:
    """No server listening: every attempt fails retryably, then the step fails."""
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # a port nobody listens on
    text = workflow(f"http://127.0.0.1:{port}/v1")
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    outcome = captured.result.steps["write"]
    assert outcome.status == "failed"
    assert outcome.attempts == 3
    assert all(e.retryable for e in captured.of("attempt_failed"))
    assert "ConnectError" in (outcome.error or "")


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (400, "HTTP 400: fake failure"),
        (403, "HTTP 403: the provider refused the credentials (credentials were sent)"),
        (404, "Check base_url"),
        (422, "HTTP 422"),
    ],
)
async def test_client_errors_fail_permanently(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, status: int, hint: str
) -> None:
    """4xx answers fail the step at once, quoting the server's message."""
    server.replies = [Status(status)]
    captured = await run(server, plugins)
    outcome = captured.result.steps["write"]
    assert outcome.status == "failed"
    assert outcome.attempts == 1
    assert hint in (outcome.error or "")
    assert len(server.chat_calls) == 1


async def test_unauthorized_never_shows_the_key(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A 401 whose body quotes the key fails permanently; no event or log holds the key."""
    server.default = Unauthorized()
    with structlog.testing.capture_logs() as logs:
        captured = await run(server, plugins)
    outcome = captured.result.steps["write"]
    assert outcome.status == "failed"
    assert outcome.attempts == 1
    assert "HTTP 401" in (outcome.error or "")
    assert "Incorrect API key provided" not in (outcome.error or "")  # the body is not quoted
    assert "credentials were sent" in (outcome.error or "")
    assert server.chat_calls[0].authorization == f"Bearer {API_KEY}"  # it was sent
    assert API_KEY not in str(outcome)
    for event in captured.events:
        assert API_KEY not in repr(event)
        assert API_KEY not in str(event.to_dict())
    assert logs
    assert all(API_KEY not in repr(entry) for entry in logs)


async def test_quota_exhausted_fails_permanently(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """insufficient_quota is a 429 that is not retried."""
    server.default = Status(429, message="You exceeded your quota", error_code="insufficient_quota")
    captured = await run(server, plugins)
    outcome = captured.result.steps["write"]
    assert outcome.status == "failed"
    assert outcome.attempts == 1
    assert "out of quota" in (outcome.error or "")


async def test_invalid_request_in_stream_fails_permanently(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """An invalid_request_error event (context too long) is not retried."""
    server.default = StreamError(
        message="maximum context length exceeded", kind="invalid_request_error"
    )
    captured = await run(server, plugins)
    outcome = captured.result.steps["write"]
    assert outcome.status == "failed"
    assert outcome.attempts == 1
    assert "maximum context length exceeded" in (outcome.error or "")


async def agent_for(server_url: str, plugins: cadenza.plugins.Plugins) -> OpenAIAgent:
    loaded = cadenza.load_workflow_text(workflow(server_url), plugins=plugins, environ=ENV)
    return OpenAIAgent.from_config(loaded.workflow.agents["writer"])


async def test_health_check(server: FakeOpenAI, plugins: cadenza.plugins.Plugins) -> None:
    """health() is GET {base_url}/models: True on 200, False otherwise."""
    agent = await agent_for(server.url, plugins)
    try:
        assert isinstance(agent, cadenza.SupportsHealth)
        assert await agent.health() is True
        server.models_status = 500
        assert await agent.health() is False
    finally:
        await agent.aclose()
    (check, _) = server.calls
    assert (check.method, check.path) == ("GET", "/v1/models")
    assert check.authorization == f"Bearer {API_KEY}"


async def test_health_check_without_a_server(plugins: cadenza.plugins.Plugins) -> None:
    """health() is False when nothing answers."""
    agent = await agent_for("http://127.0.0.1:9/v1", plugins)
    try:
        assert await agent.health() is False
    finally:
        await agent.aclose()


async def test_agent_is_an_agent(server: FakeOpenAI, plugins: cadenza.plugins.Plugins) -> None:
    """The agent satisfies cadenza.Agent; its repr shows no secret; aclose() may repeat."""
    agent = await agent_for(server.url, plugins)
    assert isinstance(agent, cadenza.Agent)
    assert agent.capabilities == frozenset({"code", "documentation", "tests", "testing"})
    assert API_KEY not in repr(agent)
    await agent.aclose()
    await agent.aclose()


async def test_credentials_in_headers_are_redacted(plugins: cadenza.plugins.Plugins) -> None:
    """A token given in headers: is a secret of the agent, but the scheme word is not."""
    text = workflow(
        "http://127.0.0.1:8000/v1", options=', headers: {Authorization: "Bearer tok-99887766"}'
    )
    loaded = cadenza.load_workflow_text(text, plugins=plugins, environ=ENV)
    agent = OpenAIAgent.from_config(loaded.workflow.agents["writer"])
    assert "tok-99887766" in agent.secrets
    assert "Bearer" not in agent.secrets
