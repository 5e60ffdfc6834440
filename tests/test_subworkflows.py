"""``workflow: other.yaml``: a step that runs a sub-workflow as a child run of its run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza
from cadenza import PermanentError
from cadenza._ids import child_run_id
from cadenza._journal._sqlite import SqliteStore
from cadenza._plugins._registry import load_plugins
from cadenza._scheduler._resume import plan_resume
from cadenza.testing import Delay, ScriptedAgent, scripted_agent_kind

CHILD = """\
name: digest
inputs:
  topic: {required: true}
  style: {default: short}
agents:
  writer: {kind: scripted}
steps:
  draft: {uses: writer, with: {topic: "${{ inputs.topic }}", style: "${{ inputs.style }}"}}
  polish: {uses: writer, needs: [draft], with: {text: "${{ steps.draft.output }}"}}
"""

PARENT = """\
name: main
inputs:
  topics: {default: [trio, httpx]}
agents:
  fetcher: {kind: scripted}
steps:
  fetch: {uses: fetcher}
  digest:
    needs: [fetch]
    workflow: sub/digest.yaml
    with: {topic: "${{ steps.fetch.output }}"}
  after:
    needs: [digest]
    uses: fetcher
    with: {got: "${{ steps.digest.output }}"}
"""


def _files(tmp_path: Path, parent: str = PARENT, child: str = CHILD) -> Path:
    (tmp_path / "sub").mkdir(exist_ok=True)
    (tmp_path / "sub" / "digest.yaml").write_text(child)
    (tmp_path / "main.yaml").write_text(parent)
    return tmp_path / "main.yaml"


def _writer(script: Any = None) -> ScriptedAgent:
    def answer(request: cadenza.AgentRequest) -> Any:
        if request.step_id == "draft":
            return f"draft of {request.inputs['topic']} ({request.inputs['style']})"
        return f"polished {request.inputs['text']}"

    return ScriptedAgent("writer", script or answer)


def _fetcher() -> ScriptedAgent:
    return ScriptedAgent("fetcher", lambda r: "news" if r.step_id == "fetch" else {"ok": True})


def _plugins(*agents: ScriptedAgent) -> Any:
    return load_plugins(extra=[scripted_agent_kind(*agents)], entry_points=False)


def _store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")


async def _run(workflow: cadenza.Workflow, plugins: Any, **kw: Any) -> cadenza.RunResult:
    return await cadenza.run_workflow(
        workflow, plugins=plugins, inputs=cadenza.resolve_inputs(workflow, {}), **kw
    )


async def test_the_step_runs_the_sub_workflow_and_outputs_its_leaves(tmp_path: Path) -> None:
    fetcher, writer = _fetcher(), _writer()
    plugins = _plugins(fetcher, writer)
    workflow = cadenza.load_workflow(_files(tmp_path), plugins=plugins).workflow
    assert workflow.steps["digest"].workflow is not None
    assert workflow.steps["digest"].workflow.name == "digest"
    store = _store(tmp_path)
    result = await _run(workflow, plugins, store=store, run_id="parent-1")
    assert result.status == "succeeded"
    expected = {"polish": "polished draft of news (short)"}
    assert result.steps["digest"].output == expected
    assert fetcher.calls[-1].inputs == {"got": expected}
    child_id = child_run_id("parent-1", "digest")
    assert child_id == "parent-1.digest"
    record = store.get_run(child_id)
    assert record is not None
    assert record.status == "succeeded"
    (started,) = [e for e in store.read_events(child_id) if e["kind"] == "run_started"]
    assert (started["parent_run_id"], started["parent_step_id"]) == ("parent-1", "digest")
    # Each child step's call carries the child run's idempotency keys, not the parent's.
    assert {c.run_id for c in writer.calls} == {child_id}
    store.close()


async def test_for_each_runs_one_child_per_item(tmp_path: Path) -> None:
    parent = PARENT.replace(
        """    needs: [fetch]
    workflow: sub/digest.yaml
    with: {topic: "${{ steps.fetch.output }}"}""",
        """    needs: [fetch]
    for_each: "${{ inputs.topics }}"
    workflow: sub/digest.yaml
    with: {topic: "${{ item }}", style: "n${{ index }}"}""",
    )
    writer = _writer()
    plugins = _plugins(_fetcher(), writer)
    workflow = cadenza.load_workflow(_files(tmp_path, parent), plugins=plugins).workflow
    result = await _run(workflow, plugins, run_id="p2")
    assert result.status == "succeeded"
    assert result.steps["digest"].output == [
        {"polish": "polished draft of trio (n0)"},
        {"polish": "polished draft of httpx (n1)"},
    ]
    assert {c.run_id for c in writer.calls} == {"p2.digest.0", "p2.digest.1"}


async def test_a_failing_sub_workflow_fails_the_step_and_skips_dependents(
    tmp_path: Path,
) -> None:
    writer = _writer(lambda r: PermanentError("the model is down"))
    fetcher = _fetcher()
    plugins = _plugins(fetcher, writer)
    workflow = cadenza.load_workflow(_files(tmp_path), plugins=plugins).workflow
    result = await _run(workflow, plugins, run_id="p3")
    assert result.status == "failed"
    digest = result.steps["digest"]
    assert digest.status == "failed"
    assert "sub-workflow 'digest' (run p3.digest) failed: draft: the model is down" in (
        digest.error or ""
    )
    assert result.steps["after"].status == "skipped"


async def test_resume_continues_inside_the_child(tmp_path: Path) -> None:
    """The parent stops while its child is half done; resume runs only the child's rest."""
    started_polish = trio.Event()

    def first(request: cadenza.AgentRequest) -> Any:
        if request.step_id == "draft":
            return "the draft"
        started_polish.set()
        return Delay(1000)

    writer = _writer(first)
    plugins = _plugins(_fetcher(), writer)
    workflow = cadenza.load_workflow(_files(tmp_path), plugins=plugins).workflow
    store = _store(tmp_path)
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(
            lambda task_status: cadenza.run_workflow(
                workflow,
                plugins=plugins,
                inputs=cadenza.resolve_inputs(workflow, {}),
                store=store,
                run_id="p4",
                task_status=task_status,
            )
        )
        await started_polish.wait()
        handle.cancel("test: stop the parent")
    child = store.get_run("p4.digest")
    assert child is not None
    assert child.status == "cancelled", "cancel reached the child"

    writer.script = lambda r: "polished for real"
    writer.calls.clear()
    result = await cadenza.run_workflow(
        workflow, plugins=plugins, store=store, resume=plan_resume(store, "p4", workflow)
    )
    assert result.status == "succeeded"
    assert [c.step_id for c in writer.calls] == ["polish"], "draft was kept from the journal"
    assert result.steps["digest"].output == {"polish": "polished for real"}
    store.close()


async def test_a_child_that_already_succeeded_is_read_back_not_rerun(tmp_path: Path) -> None:
    writer = _writer()
    plugins = _plugins(_fetcher(), writer)
    workflow = cadenza.load_workflow(_files(tmp_path), plugins=plugins).workflow
    child = workflow.steps["digest"].workflow
    assert child is not None
    store = _store(tmp_path)
    # As if the parent died after its child finished but before recording the step.
    await cadenza.run_workflow(
        child, plugins=plugins, inputs={"topic": "news", "style": "short"}, store=store,
        run_id="p5.digest",
    )  # fmt: skip
    calls = len(writer.calls)
    result = await _run(workflow, plugins, store=store, run_id="p5")
    assert result.status == "succeeded"
    assert len(writer.calls) == calls
    assert result.steps["digest"].output == {"polish": "polished draft of news (short)"}
    store.close()


async def test_the_parent_deadline_flows_down(tmp_path: Path, autojump_clock: Any) -> None:
    writer = _writer(lambda r: Delay(100, then="late"))
    plugins = _plugins(_fetcher(), writer)
    path = _files(tmp_path, "deadline: 5s\n" + PARENT)
    workflow = cadenza.load_workflow(path, plugins=plugins).workflow
    result = await _run(workflow, plugins)
    assert result.status == "failed"
    assert "deadline of 5s exceeded" in result.reason
    assert trio.current_time() < 10


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("{workflow: sub/digest.yaml, with: {topc: x, topic: y}}", "has no input 'topc'"),
        ("{workflow: sub/digest.yaml}", "needs input 'topic'"),
        ("{workflow: sub/digest.yaml, uses: fetcher, with: {topic: x}}", "not both"),
        ("{workflow: sub/digest.yaml, retry: 3, with: {topic: x}}", "retry applies to agent"),
        ("{workflow: sub/nope.yaml}", "cannot load sub-workflow 'sub/nope.yaml'"),
        ("{workflow: 3}", "workflow must be the path of a workflow file"),
    ],
)
def test_load_errors_name_the_step(tmp_path: Path, step: str, message: str) -> None:
    parent = f"name: m\nagents: {{fetcher: {{kind: scripted}}}}\nsteps:\n  s: {step}\n"
    path = _files(tmp_path, parent)
    with pytest.raises(cadenza.WorkflowError) as caught:
        cadenza.load_workflow(path, plugins=_plugins(_fetcher(), _writer()))
    problems = [p.render() for p in caught.value.problems]
    assert any(message in p and "main.yaml:4" in p for p in problems), problems


def test_a_cycle_between_files_is_a_load_error_with_the_chain(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nsteps:\n  s: {workflow: b.yaml}\n")
    (tmp_path / "b.yaml").write_text("name: b\nsteps:\n  s: {workflow: c.yaml}\n")
    (tmp_path / "c.yaml").write_text("name: c\nsteps:\n  s: {workflow: a.yaml}\n")
    with pytest.raises(cadenza.WorkflowError) as caught:
        cadenza.load_workflow(tmp_path / "a.yaml", plugins=_plugins())
    text = str(caught.value)
    assert "sub-workflows form a cycle: a.yaml -> b.yaml -> c.yaml -> a.yaml" in text
    assert "c.yaml:3" in text


@pytest.mark.slow
def test_cadenza_status_shows_the_sub_runs_as_a_tree(tmp_path: Path) -> None:
    """The CLI end to end: run a parent with a plain and a mapped sub-workflow, then status."""
    import json
    import subprocess
    import sys

    child = "name: digest\ninputs: {topic: {required: true}}\nagents: {w: {kind: template}}\n"
    child += 'steps:\n  draft: {uses: w, with: {t: "${{ inputs.topic }}"}}\n'
    parent = (
        "name: main\nsteps:\n  one: {workflow: sub/digest.yaml, with: {topic: a}}\n"
        '  many: {for_each: [x, y], workflow: sub/digest.yaml, with: {topic: "${{ item }}"}}\n'
    )
    path = _files(tmp_path, parent, child)
    store = f"sqlite:///{tmp_path / 'j.db'}"

    def cadenza(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "cadenza", *args, "--store", store],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    summary = json.loads(cadenza("run", str(path), "--json", "--no-progress"))
    assert summary["status"] == "succeeded"
    run_id = summary["run_id"]
    text = cadenza("status", run_id)
    assert "sub-runs" in text
    for child in ("one", "many.0", "many.1"):
        assert f"{run_id}.{child}" in text
    data = json.loads(cadenza("status", run_id, "--json"))
    expected = [f"{run_id}.{c}" for c in ("many.0", "many.1", "one")]
    assert [r["run_id"] for r in data["sub_runs"]] == expected


async def test_the_parents_budget_flows_down_and_the_child_spend_counts(
    tmp_path: Path, autojump_clock: Any
) -> None:
    """The child may spend only what the parent has left; what it spends is the parent's."""
    child = """\
name: digest
inputs: {topic: {required: true}}
agents:
  writer: {kind: scripted}
steps:
  a: {uses: writer}
  b: {uses: writer, needs: [a]}
  c: {uses: writer, needs: [b]}
"""
    parent = """\
name: main
budget: {usd: 0.5}
agents:
  fetcher: {kind: scripted}
steps:
  fetch: {uses: fetcher}
  digest: {needs: [fetch], workflow: sub/digest.yaml, with: {topic: x}}
"""
    fetcher = ScriptedAgent("fetcher", lambda r: cadenza.AgentResult(output="x", cost_usd=0.3))
    writer = ScriptedAgent("writer", lambda r: cadenza.AgentResult(output="w", cost_usd=0.15))
    plugins = _plugins(fetcher, writer)
    workflow = cadenza.load_workflow(_files(tmp_path, parent, child), plugins=plugins).workflow
    result = await _run(workflow, plugins, run_id="p6")
    # 0.2 left for the child: a (0.15) fits, b runs while 0.05 is left, c cannot.
    assert [c.step_id for c in writer.calls] == ["a", "b"]
    digest = result.steps["digest"]
    assert digest.status == "failed"
    assert "c: no agent can serve the call within its budgets: run budget of $0.2" in (
        digest.error or ""
    )
    assert result.cost_usd == pytest.approx(0.6)
    assert digest.cost_usd == pytest.approx(0.3)


async def test_a_resumed_parent_counts_what_its_finished_child_spent(tmp_path: Path) -> None:
    """The child's costs are in the child's journal: a resumed parent that keeps the
    sub-workflow step still counts them in its total and in its budget."""
    parent = "budget: {usd: 0.35}\n" + PARENT
    writer = ScriptedAgent("writer", lambda r: cadenza.AgentResult(output="w", cost_usd=0.15))
    fetcher = ScriptedAgent("fetcher", lambda r: cadenza.AgentResult(output="news", cost_usd=0.1))
    plugins = _plugins(fetcher, writer)
    workflow = cadenza.load_workflow(_files(tmp_path, parent), plugins=plugins).workflow
    store = _store(tmp_path)
    first = await _run(workflow, plugins, store=store, run_id="p9")
    # fetch 0.1, then the child's draft and polish 0.3: over the 0.35, so `after` is refused.
    assert first.cost_usd == pytest.approx(0.4)
    assert "within its budgets" in (first.steps["after"].error or "")

    resumed = await cadenza.run_workflow(
        workflow, plugins=plugins, store=store, resume=plan_resume(store, "p9", workflow)
    )
    assert resumed.cost_usd == pytest.approx(0.4)  # the child's 0.3 is not forgotten
    assert "within its budgets" in (resumed.steps["after"].error or "")
    assert [c.step_id for c in fetcher.calls] == ["fetch"]  # `after` was never called
    store.close()
