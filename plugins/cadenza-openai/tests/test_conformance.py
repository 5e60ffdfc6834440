"""cadenza.testing.AgentConformance, run on a real ``openai`` agent against the fake server.

The reply carries a named code block, so the suite's file test checks the
files the agent writes land inside the step's output folder; chunks are
streamed a few milliseconds apart, so the cancellation test cuts a real
stream mid-way. A prompt the server answers with 400 is the refusal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai_workflows import API_KEY

import cadenza
import cadenza.testing
from cadenza_openai._agent import OpenAIAgent
from cadenza_openai._options import OpenAIOptions
from cadenza_openai.testing import Call, FakeOpenAI, Reply, Status

REPLY = Reply(
    text="Here it is.\n\n```python hello.py\nprint('hello')\n```\n",
    pause=0.005,
)
REFUSED = "Please refuse this one."


def answer(call: Call) -> Status | None:
    """400 (a permanent failure) for the refused prompt; the default reply otherwise."""
    if REFUSED in call.prompt:
        return Status(400, message="this prompt is refused")
    return None


class TestOpenAIAgent(cadenza.testing.AgentConformance):
    @pytest.fixture
    async def agent(self, server: FakeOpenAI) -> AsyncIterator[OpenAIAgent]:
        server.default = REPLY
        server.handler = answer
        options = OpenAIOptions(model="fake-model", base_url=server.url, api_key=API_KEY)
        config = cadenza.AgentConfig(name="writer", kind="openai", options=options)
        agent = OpenAIAgent.from_config(config)
        yield agent
        await agent.aclose()  # its connection pool, so no socket outlives the test

    @pytest.fixture
    def failing_inputs(self) -> dict[str, Any]:
        return {"prompt": REFUSED}
