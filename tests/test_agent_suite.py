"""cadenza.testing.AgentConformance, run on the built-in agent kinds and the testing fake.

The http kind runs against a real loopback server (the seed agent server),
so the suite's cancellation test cuts off a real HTTP call; a broken agent
(one that swallows cancellation) must fail the suite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from cadenza import AgentConfig
from cadenza._agents._http import HttpAgent, HttpOptions
from cadenza._agents._template import TemplateAgent, TemplateOptions
from cadenza._spec._workflow import Duration
from cadenza.testing import (
    AgentConformance,
    ScriptedAgent,
    SeedAgentServer,
    Status,
    serve_seed_agent,
)

pytest_plugins = ["pytester"]


class TestTemplateAgent(AgentConformance):
    @pytest.fixture
    def agent(self) -> TemplateAgent:
        config = AgentConfig(
            name="writer", kind="template", options=TemplateOptions(output="note on {prompt}")
        )
        return TemplateAgent.from_config(config)

    @pytest.fixture
    def failing_inputs(self) -> dict[str, Any]:
        return {"other": 1}  # no `prompt` for the {prompt} placeholder: a PermanentError


class TestHttpAgent(AgentConformance):
    @pytest.fixture
    async def server(self, nursery: trio.Nursery) -> SeedAgentServer:
        started: SeedAgentServer = await nursery.start(serve_seed_agent)
        return started

    @pytest.fixture
    async def agent(self, server: SeedAgentServer) -> AsyncIterator[HttpAgent]:
        options = HttpOptions(
            endpoint=server.url + "/v1/tasks",
            api_key="sk-conformance-0123456789",
            timeout=Duration(5.0),
            connect_timeout=Duration(5.0),
        )
        agent = HttpAgent.from_config(AgentConfig(name="api", kind="http", options=options))
        yield agent
        await agent.aclose()

    @pytest.fixture
    def failing_inputs(self, server: SeedAgentServer) -> dict[str, Any]:
        server.faults.append(Status(403, body="forbidden"))
        return {"prompt": "refused"}


class TestScriptedAgent(AgentConformance):
    @pytest.fixture
    def agent(self) -> ScriptedAgent:
        return ScriptedAgent(name="scripted", default={"ok": True})


def test_an_agent_that_ignores_cancellation_fails_the_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(
        test_broken="""
import pytest
import trio
from cadenza import AgentResult
from cadenza.testing import AgentConformance


class Stubborn:
    name = "stubborn"
    capabilities = frozenset()

    async def run(self, request):
        with trio.CancelScope(shield=True):  # ignores cancellation: a broken agent
            await trio.sleep(2.5)
        return AgentResult(output="done anyway")

    async def aclose(self):
        pass


class TestStubborn(AgentConformance):
    @pytest.fixture
    def agent(self):
        return Stubborn()
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "cancelled")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1, result.stdout.str()
    assert "the call went on for 2 s after it was cancelled" in result.stdout.str()


def test_the_refusal_skip_says_why(pytester: pytest.Pytester) -> None:
    """Without ``failing_inputs`` the refusal test is skipped with its reason, under pytest-trio."""
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(
        test_polite="""
import pytest
from cadenza.testing import AgentConformance, ScriptedAgent


class TestPolite(AgentConformance):
    @pytest.fixture
    def agent(self):
        return ScriptedAgent(name="polite", default={"ok": True})


class TestPoliteToo(AgentConformance):
    @pytest.fixture
    def agent(self):
        return ScriptedAgent(name="polite", default={"ok": True})

    @pytest.fixture
    def failing_inputs(self):
        return None
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "-k", "refusals")
    result.assert_outcomes(skipped=2)
    reason = "no failing_inputs fixture: nothing this agent must refuse"
    assert result.stdout.str().count(reason) == 1  # -rs folds identical skips into one line
    result.stdout.fnmatch_lines([f"SKIPPED [[]2[]] *: {reason}"])
