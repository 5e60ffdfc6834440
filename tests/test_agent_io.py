"""What the kernel gives an agent besides inputs: an output folder and a progress channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

import cadenza
import cadenza.events
from cadenza import load_workflow_data, run_workflow
from cadenza.store import SqliteStore
from cadenza.testing import ScriptedAgent
from tests.scheduler_helpers import plugins_with


async def writer(request: cadenza.AgentRequest) -> cadenza.AgentResult:
    assert request.output_dir is not None
    for i in range(5):
        request.report_progress(f"chunk {i}", tokens=10 * (i + 1))
        await trio.sleep(0.1)
    await trio.Path(request.output_dir).mkdir(parents=True, exist_ok=True)
    target = trio.Path(request.output_dir) / "hello.txt"
    await target.write_text(f"from {request.step_id}")
    return cadenza.AgentResult(output={"file": str(target)})


async def test_each_step_writes_into_its_own_folder_of_the_run(
    tmp_path: Path, autojump_clock: Any
) -> None:
    agent = ScriptedAgent("w", writer)
    plugins = plugins_with({"w": agent})
    flow = load_workflow_data(
        {
            "name": "io",
            "agents": {"w": {"kind": "prog"}},
            "steps": {"a": {"uses": "w"}, "b": {"uses": "w"}},
        },
        plugins=plugins,
    ).workflow
    seen: list[cadenza.events.Event] = []
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        result = await run_workflow(
            flow,
            plugins=plugins,
            store=store,
            observers=[seen.append],
            output_dir=tmp_path / "out" / "{run_id}",
        )
        journaled = store.read_events(result.run_id)
    finally:
        store.close()
    run_dir = tmp_path / "out" / result.run_id
    assert result.output_dir == str(run_dir)
    assert (run_dir / "a" / "hello.txt").read_text() == "from a"
    assert (run_dir / "b" / "hello.txt").read_text() == "from b"
    progress = [e for e in seen if isinstance(e, cadenza.events.AttemptProgress)]
    # Five reports 0.1 s apart per call, passed on at most every 0.25 s: at 0 and 0.3.
    assert all(e.seq == -1 for e in progress)
    assert [(e.message, e.tokens) for e in progress if e.step_id == "a"] == [
        ("chunk 0", 10),
        ("chunk 3", 40),
    ]
    assert not [e for e in journaled if e["kind"] == "attempt_progress"]
    seqs = [e["seq"] for e in journaled]
    assert seqs == list(range(len(seqs)))  # progress left no gaps


async def test_without_an_output_folder_agents_get_none(autojump_clock: Any) -> None:
    async def check(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        request.report_progress("still fine")
        return cadenza.AgentResult(output=request.output_dir)

    plugins = plugins_with({"c": ScriptedAgent("c", check)})
    flow = load_workflow_data(
        {"name": "io", "agents": {"c": {"kind": "prog"}}, "steps": {"a": {"uses": "c"}}},
        plugins=plugins,
    ).workflow
    result = await run_workflow(flow, plugins=plugins)
    assert result.steps["a"].output is None
    assert result.output_dir is None


async def test_an_agent_can_ask_another_agent_of_the_run(autojump_clock: Any) -> None:
    async def lead(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        summary = await request.ask("helper", {"text": "long text"}, task_type="summary")
        try:
            await request.ask("nobody", {})
        except cadenza.PermanentError as exc:
            missing = str(exc)
        return cadenza.AgentResult(output={"summary": summary.output, "missing": missing})

    async def helper(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        await trio.sleep(1)
        usage = cadenza.Usage(input_tokens=100, output_tokens=20)
        return cadenza.AgentResult(
            output=f"{request.task_type}: {request.inputs['text']}", usage=usage
        )

    agents = {
        "lead": ScriptedAgent("lead", lead),
        "helper": ScriptedAgent("helper", helper),
    }
    plugins = plugins_with(agents)
    flow = load_workflow_data(
        {
            "name": "ask",
            "agents": {
                "lead": {"kind": "prog"},
                "helper": {"kind": "prog", "price": {"input_per_1k": 1.0, "output_per_1k": 5.0}},
            },
            "steps": {
                "write": {
                    "uses": "lead",
                    "validate": [{"validator": "required_keys", "keys": ["summary"]}],
                }
            },
        },
        plugins=plugins,
    ).workflow
    seen: list[cadenza.events.Event] = []
    result = await run_workflow(flow, plugins=plugins, observers=[seen.append])
    outcome = result.steps["write"]
    assert outcome.status == "succeeded", outcome.error
    assert outcome.output["summary"] == "summary: long text"
    assert "does not define" in outcome.output["missing"]
    assert outcome.cost_usd == 0.2  # 100 input tokens at $1/1k + 20 output at $5/1k
    asked = [
        e for e in seen if isinstance(e, cadenza.events.AttemptStarted) and e.agent == "helper"
    ]
    assert len(asked) == 1
    # Validators judged the step's output once, not the helper's answer.
    assert len([e for e in seen if isinstance(e, cadenza.events.OutputValidated)]) == 1
