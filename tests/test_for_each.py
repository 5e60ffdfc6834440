"""``for_each``: a step that runs once per list item, each item a journaled unit of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza
from cadenza import PermanentError, RetryableError
from cadenza._journal._sqlite import SqliteStore
from cadenza._plugins._registry import load_plugins
from cadenza._scheduler._resume import plan_resume
from cadenza.testing import Delay, ScriptedAgent, run_captured, scripted_agent_kind


def _workflow(steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "name": "mapped",
        "inputs": {"files": {"default": ["a.py", "b.py", "c.py"]}},
        "agents": {
            "planner": {"kind": "scripted"},
            "coder": {"kind": "scripted", "max_concurrent": 8},
        },
        "steps": steps,
        **top,
    }


def _coder(script: Any = None) -> ScriptedAgent:
    def answer(request: cadenza.AgentRequest) -> Any:
        return {"wrote": request.inputs["path"], "n": request.inputs["n"]}

    return ScriptedAgent("coder", script or answer)


def _plugins(*agents: ScriptedAgent) -> Any:
    return load_plugins(extra=[scripted_agent_kind(*agents)], entry_points=False)


PLAN = {"uses": "planner"}
BUILD = {
    "needs": ["plan"],
    "for_each": "${{ steps.plan.output.files }}",
    "uses": "coder",
    "with": {"path": "${{ item }}", "n": "${{ index }}"},
}


async def test_each_item_runs_once_and_the_output_keeps_item_order(autojump_clock: Any) -> None:
    files = [f"f{i}.py" for i in range(7)]
    planner = ScriptedAgent("planner", [{"files": files}])
    # Later items finish first: the output must still follow the list's order.
    coder = _coder(lambda r: Delay(10 - r.inputs["n"], then={"wrote": r.inputs["path"]}))
    review = {"needs": ["build"], "uses": "planner", "with": {"got": "${{ steps.build.output }}"}}
    planner.script.append({"ok": True})
    run = await run_captured(
        _workflow({"plan": PLAN, "build": BUILD, "review": review}),
        plugins=_plugins(planner, coder),
    )
    assert run.result.status == "succeeded"
    build = run.result.steps["build"]
    assert build.output == [{"wrote": f} for f in files]
    assert sorted(c.inputs["path"] for c in coder.calls) == files
    assert [i.step_id for i in build.items] == [f"build[{i}]" for i in range(7)]
    assert planner.calls[1].inputs["got"] == build.output
    (mapped,) = run.of("step_mapped")
    assert (mapped.items, mapped.max_parallel, mapped.restored) == (7, None, 0)
    # Each item has its own idempotency key, as a step has.
    keys = {c.idempotency_key for c in coder.calls}
    assert len(keys) == 7
    assert "build[3]" not in run.result.steps, "items are reported inside their step"


async def test_max_parallel_bounds_items_in_flight(autojump_clock: Any) -> None:
    planner = ScriptedAgent("planner", [{"files": [str(i) for i in range(20)]}])
    coder = _coder(lambda r: Delay(1, then={"n": r.inputs["n"]}))
    build = {**BUILD, "max_parallel": 3}
    run = await run_captured(
        _workflow({"plan": PLAN, "build": build}), plugins=_plugins(planner, coder)
    )
    assert run.result.status == "succeeded"
    assert coder.max_in_flight == 3
    assert run.result.steps["build"].output == [{"n": i} for i in range(20)]


async def test_the_run_concurrency_bounds_items_too(autojump_clock: Any) -> None:
    planner = ScriptedAgent("planner", [{"files": [str(i) for i in range(10)]}])
    coder = _coder(lambda r: Delay(1, then={"n": r.inputs["n"]}))
    run = await run_captured(
        _workflow({"plan": PLAN, "build": BUILD}, concurrency=2), plugins=_plugins(planner, coder)
    )
    assert run.result.status == "succeeded"
    assert coder.max_in_flight == 2


async def test_an_empty_list_succeeds_with_an_empty_output(autojump_clock: Any) -> None:
    planner = ScriptedAgent("planner", [{"files": []}])
    coder = _coder()
    after = {
        "needs": ["build"],
        "uses": "planner",
        "with": {"n": "${{ size(steps.build.output) }}"},
    }
    planner.script.append({"done": True})
    run = await run_captured(
        _workflow({"plan": PLAN, "build": BUILD, "after": after}), plugins=_plugins(planner, coder)
    )
    assert run.result.status == "succeeded"
    assert run.result.steps["build"].output == []
    assert coder.calls == []
    assert planner.calls[1].inputs == {"n": 0}


async def test_a_failed_item_fails_the_step_after_the_others_finish(autojump_clock: Any) -> None:
    planner = ScriptedAgent("planner", lambda r: {"files": ["a", "bad", "c", "d"]})

    def answer(request: cadenza.AgentRequest) -> Any:
        if request.inputs["path"] == "bad":
            return PermanentError("cannot write bad")
        return Delay(5, then={"wrote": request.inputs["path"]})

    coder = ScriptedAgent("coder", answer)
    after = {"needs": ["build"], "uses": "planner"}
    independent = {"uses": "planner"}
    run = await run_captured(
        _workflow(
            {"plan": PLAN, "build": {**BUILD, "max_parallel": 2}, "after": after, "x": independent}
        ),
        plugins=_plugins(planner, coder),
    )
    result = run.result
    assert result.status == "failed"
    build = result.steps["build"]
    assert build.status == "failed"
    assert "1 of 4 items failed: build[1]: cannot write bad" in (build.error or "")
    # The other items ran to the end, and are journaled as succeeded.
    assert [i.status for i in build.items] == ["succeeded", "failed", "succeeded", "succeeded"]
    assert result.steps["after"].status == "skipped"
    assert result.steps["x"].status == "succeeded"
    (failed,) = [e for e in run.of("step_failed") if e.step_id == "build"]
    assert failed.error_type == "ItemFailed"


async def test_on_item_failure_skip_leaves_null_and_marks_degraded(autojump_clock: Any) -> None:
    planner = ScriptedAgent("planner", [{"files": ["a", "bad", "c"]}])

    def answer(request: cadenza.AgentRequest) -> Any:
        if request.inputs["path"] == "bad":
            return PermanentError("cannot write bad")
        return {"wrote": request.inputs["path"]}

    coder = ScriptedAgent("coder", answer)
    after = {"needs": ["build"], "uses": "planner", "with": {"got": "${{ steps.build.output }}"}}
    planner.script.append({"ok": True})
    run = await run_captured(
        _workflow({"plan": PLAN, "build": {**BUILD, "on_item_failure": "skip"}, "after": after}),
        plugins=_plugins(planner, coder),
    )
    assert run.result.status == "succeeded"
    build = run.result.steps["build"]
    assert build.output == [{"wrote": "a"}, None, {"wrote": "c"}]
    assert build.degraded
    assert "item 1" in build.source
    assert planner.calls[1].inputs["got"] == build.output


async def test_items_retry_on_their_own(autojump_clock: Any) -> None:
    planner = ScriptedAgent("planner", [{"files": ["a", "b"]}])
    tries: dict[str, int] = {}

    def answer(request: cadenza.AgentRequest) -> Any:
        path = request.inputs["path"]
        tries[path] = tries.get(path, 0) + 1
        if path == "b" and tries[path] < 3:
            return RetryableError("busy")
        return {"wrote": path, "attempt": request.attempt}

    coder = ScriptedAgent("coder", answer)
    build = {**BUILD, "retry": {"max_attempts": 3, "backoff": 0.1}}
    run = await run_captured(
        _workflow({"plan": PLAN, "build": build}), plugins=_plugins(planner, coder)
    )
    assert run.result.status == "succeeded"
    assert run.result.steps["build"].output == [
        {"wrote": "a", "attempt": 1},
        {"wrote": "b", "attempt": 3},
    ]
    keys_b = {c.idempotency_key for c in coder.calls if c.inputs["path"] == "b"}
    assert len(keys_b) == 1, "retries of an item keep its idempotency key"
    assert run.result.steps["build"].items[1].attempts == 3


async def test_when_with_item_filters_items_and_without_it_gates_the_step(
    autojump_clock: Any,
) -> None:
    planner = ScriptedAgent("planner", [{"files": ["a", "b", "c"]}, {"files": ["a"]}])
    coder = _coder()
    steps = {
        "plan": PLAN,
        "build": {**BUILD, "when": "index != 1"},
        "again": {**BUILD, "needs": ["plan"], "when": "inputs.files.size() > 5"},
    }
    run = await run_captured(_workflow(steps), plugins=_plugins(planner, coder))
    assert run.result.status == "succeeded"
    build = run.result.steps["build"]
    assert build.output == [{"wrote": "a", "n": 0}, None, {"wrote": "c", "n": 2}]
    assert not build.degraded, "an item skipped by its when: is no failure"
    assert build.items[1].status == "skipped"
    assert run.result.steps["again"].status == "skipped"
    assert not [e for e in run.of("step_mapped") if e.step_id == "again"]


async def test_a_list_from_inputs_and_a_literal_list(autojump_clock: Any) -> None:
    coder = _coder()
    steps = {
        "from_inputs": {"for_each": "inputs.files", "uses": "coder", "with": BUILD["with"]},
        "literal": {
            "for_each": ["x", "${{ inputs.files[0] }}"],
            "uses": "coder",
            "with": BUILD["with"],
        },
    }
    run = await run_captured(_workflow(steps), plugins=_plugins(coder, ScriptedAgent("planner")))
    assert run.result.steps["from_inputs"].output == [
        {"wrote": f, "n": i} for i, f in enumerate(["a.py", "b.py", "c.py"])
    ]
    assert run.result.steps["literal"].output == [
        {"wrote": "x", "n": 0},
        {"wrote": "a.py", "n": 1},
    ]


async def test_a_list_that_is_not_a_list_fails_the_step(autojump_clock: Any) -> None:
    planner = ScriptedAgent("planner", [{"files": "a.py"}])
    run = await run_captured(
        _workflow({"plan": PLAN, "build": BUILD}), plugins=_plugins(planner, _coder())
    )
    build = run.result.steps["build"]
    assert build.status == "failed"
    assert "for_each must give a list, got str" in (build.error or "")


async def test_resume_runs_only_unfinished_items(tmp_path: Path) -> None:
    """A run stopped after some items: resume keeps those, runs the rest.

    On the real clock: the journal commits in a thread, which the autojump clock
    would not wait for.
    """
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    planner = ScriptedAgent("planner", [{"files": [str(i) for i in range(10)]}])

    all_started = trio.Event()

    def first(request: cadenza.AgentRequest) -> Any:
        if len(coder.calls) == 10:  # every item started; 0-3 answer at once
            all_started.set()
        if request.inputs["n"] >= 4:
            return Delay(1000)  # still in flight when the run is cancelled
        return {"n": request.inputs["n"], "run": 1}

    coder = ScriptedAgent("coder", first)
    data = _workflow({"plan": PLAN, "build": {**BUILD, "max_parallel": 10}})
    plugins = _plugins(planner, coder)
    loaded = cadenza.load_workflow_data(data, plugins=plugins)
    workflow = loaded.workflow
    inputs = cadenza.resolve_inputs(workflow, {})
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(
            lambda task_status: cadenza.run_workflow(
                workflow,
                plugins=plugins,
                inputs=inputs,
                store=store,
                task_status=task_status,
            )
        )
        await all_started.wait()
        await trio.sleep(0.1)  # let items 0-3 record their success
        handle.cancel("test: the process dies")
    first_keys = {c.inputs["n"]: c.idempotency_key for c in coder.calls}

    coder.script = lambda r: {"n": r.inputs["n"], "run": 2}
    coder.calls.clear()
    plan = plan_resume(store, handle.run_id, workflow)
    assert {f"build[{i}]" for i in range(4)} <= set(plan.outputs)
    result = await cadenza.run_workflow(
        workflow, plugins=plugins, inputs=inputs, store=store, resume=plan
    )
    assert result.status == "succeeded"
    assert sorted(c.inputs["n"] for c in coder.calls) == list(range(4, 10))
    for call in coder.calls:  # an unfinished item keeps its idempotency key
        assert call.idempotency_key == first_keys[call.inputs["n"]]
    output = result.steps["build"].output
    assert output == [{"n": i, "run": 1 if i < 4 else 2} for i in range(10)]
    mapped = [e for e in store.read_events(handle.run_id) if e["kind"] == "step_mapped"]
    assert [m["restored"] for m in mapped] == [0, 4]
    store.close()


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"uses": "coder", "with": {"p": "${{ item }}"}}, "with: reads item, which exists only"),
        ({"uses": "coder", "when": "index > 1"}, "when: reads index, which exists only"),
        ({"uses": "coder", "max_parallel": 2}, "max_parallel applies only to a step with for_each"),
        ({"uses": "coder", "for_each": "inputs.files", "max_parallel": 0}, "at least 1"),
        ({"uses": "coder", "for_each": "inputs.files", "on_item_failure": "x"}, "'fail' or 'skip'"),
        ({"uses": "coder", "for_each": "a ${{ inputs.files }}"}, "one expression giving a list"),
        ({"uses": "coder", "for_each": 3}, "an expression giving a list, or a list"),
        ({"uses": "coder", "for_each": "${{ item }}"}, "for_each cannot read item"),
        ({"uses": "coder", "for_each": "steps.plan.output"}, "which step 'bad' does not need"),
        ({"uses": "coder", "for_each": "inputs.nope"}, "for_each: refers to unknown input"),
    ],
)
def test_load_errors_say_what_and_where(step: dict[str, Any], message: str) -> None:
    data = _workflow({"plan": PLAN, "bad": step})
    plugins = _plugins(_coder(), ScriptedAgent("planner"))
    with pytest.raises(cadenza.WorkflowError) as caught:
        cadenza.load_workflow_data(data, plugins=plugins)
    problems = [p.render() for p in caught.value.problems]
    assert any(message in p and "steps.bad" in p for p in problems), problems


def test_a_step_id_that_reads_as_an_item_is_refused() -> None:
    data = _workflow({"plan": PLAN, "build": {**BUILD}, "build[2]": {"uses": "coder"}})
    with pytest.raises(cadenza.WorkflowError) as caught:
        cadenza.load_workflow_data(data, plugins=_plugins(_coder(), ScriptedAgent("planner")))
    assert "reads as item 2 of for_each step 'build'" in str(caught.value)


async def test_items_share_their_steps_output_folder(tmp_path: Path, autojump_clock: Any) -> None:
    planner = ScriptedAgent("planner", [{"files": ["a.cs", "b.cs"]}])
    folders: list[Path | None] = []

    def write(request: cadenza.AgentRequest) -> Any:
        folders.append(request.output_dir)
        assert request.output_dir is not None
        request.output_dir.mkdir(parents=True, exist_ok=True)
        (request.output_dir / request.inputs["path"]).write_text(request.step_id)
        return {"wrote": request.inputs["path"]}

    run = await run_captured(
        _workflow({"plan": PLAN, "build": BUILD}),
        plugins=_plugins(planner, ScriptedAgent("coder", write)),
        output_dir=tmp_path / "out",
    )
    assert run.result.status == "succeeded"
    assert set(folders) == {tmp_path / "out" / "build"}
    assert (tmp_path / "out" / "build" / "b.cs").read_text() == "build[1]"


async def test_a_fallback_item_writes_in_the_steps_folder_and_says_why_degraded(
    tmp_path: Path, autojump_clock: Any
) -> None:
    planner = ScriptedAgent("planner", [{"files": ["a", "b"]}])
    coder = ScriptedAgent("coder", lambda r: PermanentError("model down"))
    build = {**BUILD, "fallback": [{"strategy": "template", "output": "stub for {path}"}]}
    run = await run_captured(
        _workflow({"plan": PLAN, "build": build}),
        plugins=_plugins(planner, coder),
        output_dir=tmp_path / "out",
    )
    outcome = run.result.steps["build"]
    assert outcome.output == ["stub for a", "stub for b"]
    assert outcome.degraded
    assert outcome.source == "2 of 2 items degraded (build[0]: fallback template)"
