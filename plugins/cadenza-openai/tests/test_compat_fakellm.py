"""The openai agent against fakellm, an independent mock server started on loopback.

fakellm (``fakellm serve``) answers from YAML rules matched on the messages
and on the turn of a conversation (requests with the same first user
message), so a rule failing turns 1-2 and the next one answering is a fault
that a retry gets past. What it can do and not, as these tests rely on it:
errors have OpenAI's JSON shape and no ``Retry-After``; a streamed request
always gets a 200 stream (its rules' error statuses apply to whole replies
only), one chunk per word, without a usage chunk; ``GET /v1/models`` is 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog.testing
import trio
from compat_servers import Server, assert_priced, compat_workflow, require, started
from openai_workflows import ENV

import cadenza
from cadenza.testing import CapturedRun, run_captured

RULES = """\
version: 1
rules:
  - name: hello
    when: {messages_contain: "compat-hello"}
    respond: {content: "Hello from fakellm."}
  - name: slow
    when: {messages_contain: "compat-slow"}
    respond: {content: "This reply streams one word every ten milliseconds: it takes a while."}
  - name: r429-fail
    when: {messages_contain: "compat-429", turn_in: [1, 2]}
    respond: {status: 429, error: "Rate limit exceeded (mock)"}
  - {name: r429-ok, when: {messages_contain: "compat-429"}, respond: {content: "after 429"}}
  - name: r500-fail
    when: {messages_contain: "compat-500", turn: 1}
    respond: {status: 500, error: "The server had an error (mock)"}
  - {name: r500-ok, when: {messages_contain: "compat-500"}, respond: {content: "after 500"}}
  - name: r503-fail
    when: {messages_contain: "compat-503", turn_in: [1, 2]}
    respond: {status: 503, error: "Service unavailable (mock)"}
  - {name: r503-ok, when: {messages_contain: "compat-503"}, respond: {content: "after 503"}}
  - name: r429-forever
    when: {messages_contain: "compat-always-429"}
    respond: {status: 429, error: "Rate limit exceeded (mock)"}
  - name: r400
    when: {messages_contain: "compat-400"}
    respond: {status: 400, error: "Invalid value for 'messages' (mock)"}
  - name: r401
    when: {messages_contain: "compat-401"}
    respond: {status: 401, error: "Incorrect API key provided (mock)"}
  - name: breaker-fail
    when: {messages_contain: "compat-breaker", turn: 1}
    respond: {status: 500, error: "The server had an error (mock)"}
  - {name: breaker-ok, when: {messages_contain: "compat-breaker"}, respond: {content: "back"}}
"""

PRICE = "price: {input_per_1k: 0.5, output_per_1k: 1.5}"


@pytest.fixture(scope="module")
def fakellm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One fakellm server for the module, its rules in ``fakellm.yaml``."""
    require("fakellm")
    folder = tmp_path_factory.mktemp("fakellm")
    (folder / "fakellm.yaml").write_text(RULES)
    args = ["--config", "fakellm.yaml"]
    with started("fakellm", args, folder=folder, ready_path="/_fakellm/stats") as server:
        yield server


async def stats(server: Server) -> dict[str, int]:
    """How many requests each fakellm rule answered so far."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.root}/_fakellm/stats")
    by_rule: dict[str, int] = response.json()["by_rule"]
    return by_rule


async def run(
    server: Server, plugins: cadenza.plugins.Plugins, prompt: str, **kwargs: Any
) -> CapturedRun:
    text = compat_workflow(server.base_url, prompt, **kwargs)
    with trio.fail_after(60):
        return await run_captured(text, plugins=plugins, environ=ENV)


async def test_whole_reply_with_its_usage_and_cost(
    fakellm: Server, plugins: cadenza.plugins.Plugins
) -> None:
    """stream: false gets the rule's content; fakellm's usage is the step's, priced."""
    with structlog.testing.capture_logs() as logs:
        captured = await run(
            fakellm, plugins, "compat-hello whole", options=", stream: false", agent=PRICE
        )
    assert captured.result.status == "succeeded", captured.result.error
    assert captured.result.steps["write"].output == "Hello from fakellm."
    assert_priced(captured)
    assert not [e for e in logs if e["event"] == "openai_usage_estimated"]


async def test_streamed_reply_estimates_the_usage_it_lacks(
    fakellm: Server, plugins: cadenza.plugins.Plugins
) -> None:
    """A streamed reply arrives whole; fakellm sends no usage chunk, so it is estimated (logged)."""
    with structlog.testing.capture_logs() as logs:
        captured = await run(fakellm, plugins, "compat-hello streamed", agent=PRICE)
    assert captured.result.status == "succeeded", captured.result.error
    assert captured.result.steps["write"].output == "Hello from fakellm."
    _, output_tokens = assert_priced(captured)
    assert output_tokens == 3  # one chunk per word: "Hello", " from", " fakellm."
    (estimated,) = [e for e in logs if e["event"] == "openai_usage_estimated"]
    assert estimated["output_tokens"] == 3


@pytest.mark.parametrize(
    ("marker", "failures", "message"),
    [
        ("compat-429", 2, "HTTP 429: Rate limit exceeded (mock)"),
        ("compat-500", 1, "HTTP 500: The server had an error (mock)"),
        ("compat-503", 2, "HTTP 503: Service unavailable (mock)"),
    ],
)
async def test_error_answers_are_retried_until_the_server_answers(
    fakellm: Server, plugins: cadenza.plugins.Plugins, marker: str, failures: int, message: str
) -> None:
    """429 (no Retry-After from fakellm), 500 and 503 are retried; the step gets the answer."""
    before = await stats(fakellm)
    captured = await run(fakellm, plugins, marker, options=", stream: false")
    assert captured.result.status == "succeeded", captured.result.error
    assert captured.result.steps["write"].output == f"after {marker.removeprefix('compat-')}"
    failed = captured.of("attempt_failed")
    assert len(failed) == failures
    for event in failed:
        assert event.retryable
        assert event.retry_in is not None
        assert message in event.message
    after = await stats(fakellm)
    name = marker.removeprefix("compat-")
    assert after.get(f"r{name}-fail", 0) - before.get(f"r{name}-fail", 0) == failures
    assert after.get(f"r{name}-ok", 0) - before.get(f"r{name}-ok", 0) == 1


async def test_rate_limited_answers_use_up_no_attempt(
    fakellm: Server, plugins: cadenza.plugins.Plugins
) -> None:
    """With max_attempts: 1, two 429s and an answer still succeed: 429s are not counted."""
    captured = await run(
        fakellm,
        plugins,
        "compat-429 uncounted",
        options=", stream: false",
        retry="{max_attempts: 1, backoff: 10ms}",
    )
    assert captured.result.status == "succeeded", captured.result.error
    assert len(captured.of("attempt_failed")) == 2


async def test_endless_rate_limits_fail_with_the_reason(
    fakellm: Server, plugins: cadenza.plugins.Plugins
) -> None:
    """A server that only answers 429 fails the step after max_rate_limited, saying why."""
    before = await stats(fakellm)
    captured = await run(
        fakellm,
        plugins,
        "compat-always-429",
        options=", stream: false",
        retry="{max_attempts: 3, backoff: 10ms, max_rate_limited: 2}",
    )
    assert captured.result.status == "failed"
    (failed,) = captured.of("step_failed")
    assert "HTTP 429: Rate limit exceeded (mock)" in failed.message
    assert "gave up after 3 rate-limited attempts" in failed.message
    after = await stats(fakellm)
    assert after["r429-forever"] - before.get("r429-forever", 0) == 3


@pytest.mark.parametrize(
    ("marker", "rule", "message"),
    [
        ("compat-400", "r400", "HTTP 400: Invalid value for 'messages' (mock)"),
        ("compat-401", "r401", "HTTP 401"),
    ],
)
async def test_client_errors_fail_at_once_with_the_reason(
    fakellm: Server, plugins: cadenza.plugins.Plugins, marker: str, rule: str, message: str
) -> None:
    """400 and 401 fail the step on the first answer, with a message saying what and where."""
    before = await stats(fakellm)
    captured = await run(fakellm, plugins, marker, options=", stream: false")
    assert captured.result.status == "failed"
    (failed,) = captured.of("step_failed")
    assert message in failed.message
    assert f"POST {fakellm.base_url}/chat/completions" in failed.message
    assert not captured.of("attempt_failed")[0].retryable
    after = await stats(fakellm)
    assert after[rule] - before.get(rule, 0) == 1


async def test_health_check_without_models_endpoint_keeps_the_agent_usable(
    fakellm: Server, plugins: cadenza.plugins.Plugins
) -> None:
    """fakellm answers 404 on /models: a health_check: must not take the agent out of service.

    Two steps, each streaming for a while, so the agent is checked (every
    20 ms) while the first is served and before the second starts.
    """
    with structlog.testing.capture_logs() as logs:
        captured = await run(
            fakellm,
            plugins,
            "compat-slow health",
            agent="health_check: {interval: 20ms}",
            steps=2,
        )
    assert captured.result.status == "succeeded", captured.result.error
    assert not captured.of("agent_health_changed")
    (unknown,) = [e for e in logs if e["event"] == "openai_health_unknown"]  # logged once
    assert unknown["status"] == 404
    assert not [e for e in logs if e["event"] == "agent_health_check_failed"]


async def test_breaker_probe_without_models_endpoint_lets_the_agent_recover(
    fakellm: Server, plugins: cadenza.plugins.Plugins
) -> None:
    """A breaker opened by a 500 is probed with health(); fakellm's 404 on /models lets it close."""
    captured = await run(
        fakellm,
        plugins,
        "compat-breaker",
        options=", stream: false",
        agent="breaker: {failures: 1, cooldown: 100ms}",
    )
    assert captured.result.status == "succeeded", captured.result.error
    assert captured.result.steps["write"].output == "back"
    states = [e.state for e in captured.of("circuit_changed")]
    assert states == ["open", "half_open", "closed"]
