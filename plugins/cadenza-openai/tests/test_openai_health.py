"""health() where /models is missing: unknown, so usable; real failures stay unhealthy."""

from __future__ import annotations

import pytest
import structlog.testing
import trio
from openai_workflows import ENV, workflow

import cadenza
from cadenza.testing import run_captured
from cadenza_openai._agent import OpenAIAgent
from cadenza_openai.testing import FakeOpenAI, Status


async def agent_for(url: str, plugins: cadenza.plugins.Plugins) -> OpenAIAgent:
    loaded = cadenza.load_workflow_text(workflow(url), plugins=plugins, environ=ENV)
    return OpenAIAgent.from_config(loaded.workflow.agents["writer"])


@pytest.mark.parametrize(
    ("status", "healthy"),
    [(200, True), (404, True), (405, True), (401, False), (500, False), (503, False)],
)
async def test_models_answer_decides_health(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, status: int, healthy: bool
) -> None:
    """2xx is healthy; 404/405 (no /models endpoint) is unknown, so usable; others are not."""
    server.models_status = status
    agent = await agent_for(server.url, plugins)
    try:
        with structlog.testing.capture_logs() as logs:
            assert await agent.health() is healthy
            assert await agent.health() is healthy
    finally:
        await agent.aclose()
    events = [e["event"] for e in logs]
    if status in (404, 405):
        assert events == ["openai_health_unknown"]  # once per agent, not per check
    elif healthy:
        assert events == []
    else:
        assert events == ["agent_health_check_failed", "agent_health_check_failed"]


async def test_breaker_probe_on_a_server_without_models_closes_it(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A breaker opened by a 500 closes again when its probe meets a 404 on /models."""
    server.models_status = 404
    server.replies = [Status(500, message="The server had an error")]
    text = workflow(server.url, agent="breaker: {failures: 1, cooldown: 50ms}")
    with trio.fail_after(30):  # before the fix, the probe reopened the breaker forever
        captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.status == "succeeded", captured.result.error
    assert [e.state for e in captured.of("circuit_changed")] == ["open", "half_open", "closed"]
    assert [c.path for c in server.calls] == [
        "/v1/chat/completions",
        "/v1/models",
        "/v1/chat/completions",
    ]
