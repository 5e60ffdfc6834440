"""fair_share routing a real workflow, run with cadenza.testing.run_captured."""

import collections

import cadenza_legacy_router
import pytest

import cadenza
from cadenza.testing import ScriptedAgent, run_captured, scripted_agent_kind

WORKFLOW = """
name: summaries
route: {strategy: fair_share, weights: {fast: 3}}
agents:
  fast: {kind: template, capabilities: [summarise], options: {output: "fast: {doc}"}}
  careful: {kind: template, capabilities: [summarise], options: {output: "careful: {doc}"}}
steps:
  intro: {uses: summarise, with: {doc: intro}}
  body: {uses: summarise, with: {doc: body}}
  appendix: {uses: summarise, with: {doc: appendix}}
  index: {uses: summarise, with: {doc: index}}
"""


async def test_calls_are_shared_in_proportion_to_the_weights():
    """Four calls with weights 3 and 1 go three to `fast` and one to `careful`."""
    captured = await run_captured(WORKFLOW, extra_plugins=[cadenza_legacy_router])
    assert captured.result.status == "succeeded"
    routes = captured.of("route_chosen")
    assert {route.strategy for route in routes} == {"fair_share"}
    assert all(route.reason.startswith("fair share: ") for route in routes)
    agents = collections.Counter(step.agent for step in captured.result.steps.values())
    assert agents == {"fast": 3, "careful": 1}


async def test_a_retry_goes_to_the_other_agent(autojump_clock):
    """The router only ranks the candidates the kernel offers: a retry avoids the failed agent."""
    first = ScriptedAgent("first", [cadenza.RetryableError("busy")])
    second = ScriptedAgent("second", default="done")
    workflow = """
route: fair_share
agents:
  first: {kind: scripted, capabilities: [summarise]}
  second: {kind: scripted, capabilities: [summarise]}
steps:
  only: {uses: summarise, retry: {max_attempts: 2, backoff: 1s}}
"""
    captured = await run_captured(
        workflow, extra_plugins=[cadenza_legacy_router, scripted_agent_kind(first, second)]
    )
    assert captured.result.steps["only"].output == "done"
    first_route, retry_route = captured.of("route_chosen")
    assert first_route.agent == "first"
    assert first_route.reason.startswith("fair share: ")
    assert (retry_route.agent, retry_route.candidates) == ("second", ("second",))
    assert [call.attempt for call in second.calls] == [2]


async def test_bad_options_are_a_workflow_error_with_the_line():
    """A bad `route:` option is reported when the workflow loads, with its line."""
    with pytest.raises(cadenza.WorkflowError) as caught:
        await run_captured(
            WORKFLOW.replace("{fast: 3}", "{fast: -3}"), extra_plugins=[cadenza_legacy_router]
        )
    message = str(caught.value)
    assert ":3:" in message
    assert "weights.fast must be a number >= 0, got -3" in message
