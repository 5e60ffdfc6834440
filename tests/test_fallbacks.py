"""Fallbacks: other agents and named strategies, always marked degraded; --strict refuses them."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing

import cadenza
import cadenza.store
from cadenza import _events as ev
from cadenza._scheduler._runner import run_workflow
from cadenza._spec._workflow import FallbackSpec
from cadenza.testing import ScriptedAgent

from .scheduler_helpers import make_workflow, plugins_with


async def failing(request: cadenza.AgentRequest) -> Any:
    await trio.lowlevel.checkpoint()
    raise cadenza.RetryableError("provider down")


async def answering(request: cadenza.AgentRequest) -> Any:
    await trio.lowlevel.checkpoint()
    return {"answer": request.inputs.get("q")}


def with_fallback(workflow: cadenza.Workflow, step_id: str, *entries: FallbackSpec) -> Any:
    steps = dict(workflow.steps)
    steps[step_id] = attrs.evolve(steps[step_id], fallback=entries)
    return attrs.evolve(workflow, steps=steps)


async def run(workflow: Any, agents: dict[str, ScriptedAgent], **kw: Any) -> Any:
    events: list[ev.Event] = []
    result = await run_workflow(
        workflow, plugins=plugins_with(agents), observers=[events.append], **kw
    )
    return result, events


async def test_fallback_agent_serves_the_step_marked_degraded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """When every attempt failed, the next fallback agent answers; the output is degraded."""
    main, backup = ScriptedAgent("main", failing), ScriptedAgent("backup", answering)
    wf = make_workflow(
        {"s": {"uses": "main", "with": {"q": 1}, "retry": {"max_attempts": 2, "backoff": 0}}},
        agents={"main": {}, "backup": {}},
    )
    wf = with_fallback(wf, "s", FallbackSpec(agent="backup"))
    result, events = await run(wf, {"main": main, "backup": backup})
    outcome = result.steps["s"]
    assert outcome.status == "succeeded"
    assert outcome.degraded
    assert outcome.output == {"answer": 1}
    assert len(main.calls) == 2
    assert len(backup.calls) == 1
    assert result.degraded == ["s"]
    (started,) = [e for e in events if isinstance(e, ev.FallbackStarted)]
    assert started.source == "agent backup"
    assert "provider down" in started.error
    (done,) = [e for e in events if isinstance(e, ev.StepSucceeded)]
    assert done.degraded
    assert done.source == "fallback agent backup"


async def test_template_strategy_after_failed_fallback_agent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Fallbacks are tried in order; a template strategy renders the inputs, degraded."""
    main, backup = ScriptedAgent("main", failing), ScriptedAgent("backup", failing)
    wf = make_workflow(
        {"s": {"uses": "main", "with": {"q": "why"}}}, agents={"main": {}, "backup": {}}
    )
    wf = with_fallback(
        wf,
        "s",
        FallbackSpec(agent="backup"),
        FallbackSpec(strategy="template", options={"output": "no answer to {q} today"}),
    )
    result, events = await run(wf, {"main": main, "backup": backup})
    outcome = result.steps["s"]
    assert outcome.status == "succeeded"
    assert outcome.degraded
    assert outcome.output == "no answer to why today"
    sources = [e.source for e in events if isinstance(e, ev.FallbackStarted)]
    assert sources == ["agent backup", "template"]


async def test_strict_mode_fails_instead_of_degrading(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With strict, no fallback runs and the failure says why."""
    main, backup = ScriptedAgent("main", failing), ScriptedAgent("backup", answering)
    wf = make_workflow({"s": {"uses": "main"}}, agents={"main": {}, "backup": {}})
    wf = with_fallback(wf, "s", FallbackSpec(agent="backup"))
    result, _ = await run(wf, {"main": main, "backup": backup}, strict=True)
    assert result.steps["s"].status == "failed"
    assert "fallback not used: strict mode" in (result.steps["s"].error or "")
    assert backup.calls == []


async def test_every_fallback_failing_fails_the_step_with_all_reasons(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """When the last fallback fails too, the step fails naming each failure; dependents skip."""
    main = ScriptedAgent("main", failing)
    wf = make_workflow({"s": {"uses": "main"}, "after": {"uses": "main", "needs": ["s"]}},
                       agents={"main": {}})  # fmt: skip
    wf = with_fallback(wf, "s", FallbackSpec(strategy="cached"))
    result, _ = await run(wf, {"main": main})
    assert result.steps["s"].status == "failed"
    assert "provider down; fallback cached failed: no journal" in (result.steps["s"].error or "")
    assert result.steps["after"].status == "skipped"


async def test_cached_strategy_serves_the_last_good_output(
    tmp_path: Any, autojump_clock: trio.testing.MockClock
) -> None:
    """A step that once succeeded can fall back on that output, from the journal, degraded."""
    store = cadenza.store.SqliteStore(f"sqlite:///{tmp_path}/j.db")
    wf = make_workflow({"s": {"uses": "main", "with": {"q": 7}}}, agents={"main": {}})
    wf = with_fallback(wf, "s", FallbackSpec(strategy="cached"))
    good, _ = await run(wf, {"main": ScriptedAgent("main", answering)}, store=store)
    assert good.steps["s"].output == {"answer": 7}
    assert not good.steps["s"].degraded
    later, _ = await run(wf, {"main": ScriptedAgent("main", failing)}, store=store)
    outcome = later.steps["s"]
    assert outcome.status == "succeeded"
    assert outcome.degraded
    assert outcome.output == {"answer": 7}
    store.close()


@pytest.mark.parametrize(
    ("fallback", "message"),
    [
        ("[nobody]", "unknown fallback 'nobody'"),
        ("[{strategy: template, outptu: x}]", "unknown option(s) outptu"),
        ("[{strategy: cached, ttl: 1h}]", "takes no options"),
        ("[3]", "a fallback must be an agent name"),
    ],
)
def test_bad_fallback_entries_are_validation_problems(fallback: str, message: str) -> None:
    """A fallback entry that names nothing known, or has bad options, is reported with its path."""
    text = (
        "agents:\n  a: {kind: template, options: {output: x}}\n"
        f"steps:\n  s: {{uses: a, fallback: {fallback}}}\n"
    )
    with pytest.raises(cadenza.WorkflowError) as info:
        cadenza.load_workflow_text(text, plugins=cadenza.plugins.load_plugins(entry_points=False))
    (problem,) = info.value.problems
    assert problem.path == "steps.s.fallback[0]"
    assert message in problem.message


def test_fallback_entries_load() -> None:
    """Agent names, strategy names and strategy mappings load in order."""
    text = (
        "agents:\n  a: {kind: template, options: {output: x}}\n"
        "  b: {kind: template, options: {output: y}}\n"
        "steps:\n  s: {uses: a, fallback: [b, cached, {strategy: template, output: z}]}\n"
    )
    loaded = cadenza.load_workflow_text(
        text, plugins=cadenza.plugins.load_plugins(entry_points=False)
    )
    assert loaded.workflow.steps["s"].fallback == (
        FallbackSpec(agent="b"),
        FallbackSpec(strategy="cached"),
        FallbackSpec(strategy="template", options={"output": "z"}),
    )
