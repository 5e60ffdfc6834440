"""Validation in real runs: low scores retry on another agent, then fail with the findings."""

from __future__ import annotations

from typing import Any

import trio

import cadenza
from cadenza.testing import ScriptedAgent, run_captured
from tests.scheduler_helpers import plugins_with


def returning(value: Any) -> ScriptedAgent:
    async def behaviour(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        await trio.sleep(1)
        return cadenza.AgentResult(output=value)

    return ScriptedAgent("x", behaviour)


def coder_workflow(members: dict[str, ScriptedAgent], /, **step: Any) -> dict[str, Any]:
    return {
        "name": "coder",
        "agents": {name: {"kind": "prog", "capabilities": ["code"]} for name in members},
        "steps": {"write": {"uses": "code", **step}},
    }


async def test_a_low_score_retries_on_another_agent(autojump_clock: Any) -> None:
    agents = {
        "sloppy": returning({"code": "def f(:\n    pass"}),
        "careful": returning({"code": "def f():\n    return 1\n"}),
    }
    data = coder_workflow(
        agents,
        validate=[{"validator": "python_parses", "field": "code"}],
        retry={"max_attempts": 2, "backoff": 0},
    )
    run = await run_captured(data, plugins=plugins_with(agents))
    outcome = run.result.steps["write"]
    assert outcome.status == "succeeded"
    assert outcome.agent == "careful"
    first, second = run.of("output_validated")
    assert (first.agent, first.passed, first.score) == ("sloppy", False, 0.0)
    assert first.findings
    assert "line 1" in first.findings[0]
    assert (second.agent, second.passed) == ("careful", True)
    (failed,) = run.of("attempt_failed")
    assert failed.error_type == "QualityError"
    assert failed.retryable
    # A weak answer is not an outage: the breaker and health stats see no failure from it.
    assert run.result.agents["sloppy"]["quality"] == 0.0


async def test_the_last_low_score_fails_the_step_with_its_findings(autojump_clock: Any) -> None:
    agents = {"only": returning({"name": "x"})}
    data = coder_workflow(
        agents,
        validate=[{"validator": "required_keys", "keys": ["name", "version", "license"]}],
        min_quality=0.5,
        retry={"max_attempts": 2, "backoff": 0},
    )
    run = await run_captured(data, plugins=plugins_with(agents))
    outcome = run.result.steps["write"]
    assert outcome.status == "failed"
    assert outcome.attempts == 2
    assert "below min_quality 0.5" in (outcome.error or "")
    assert "version" in (outcome.error or "")


async def test_min_quality_accepts_a_partial_score(autojump_clock: Any) -> None:
    agents = {"only": returning({"name": "x", "version": "1"})}
    data = coder_workflow(
        agents,
        validate=[{"validator": "required_keys", "keys": ["name", "version", "license"]}],
        min_quality=0.6,
    )
    run = await run_captured(data, plugins=plugins_with(agents))
    assert run.result.steps["write"].status == "succeeded"
    (scored,) = run.of("output_validated")
    assert abs(scored.score - 2 / 3) < 1e-9
    assert scored.passed


async def test_scores_weigh_votes_in_a_multi_agent_step(autojump_clock: Any) -> None:
    agents = {
        "a": returning({"code": "x = 1", "note": "A"}),
        "b": returning({"code": "x = (", "note": "B"}),
    }
    data = coder_workflow(
        agents,
        agents=2,
        aggregate="highest_confidence",
        validate=[{"validator": "python_parses", "field": "code"}],
        min_quality=0.0,
    )
    run = await run_captured(data, plugins=plugins_with(agents))
    outcome = run.result.steps["write"]
    assert outcome.status == "succeeded"
    assert outcome.output["note"] == "A"  # equal confidence: the better-scored answer wins
    answers = {a["agent"]: a for a in outcome.provenance["answers"]}
    assert answers["a"]["quality"] == 1.0
    assert answers["b"]["quality"] == 0.0
