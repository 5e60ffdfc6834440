"""Property tests of ``for_each`` on random DAGs (hypothesis, trio's virtual clock).

Random DAGs mix plain steps and mapped steps with lists of random length (0
included) and random failing items; every run must call each item exactly
once, keep item order in the output, and skip exactly the dependents of
what failed.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cadenza
from cadenza._graph._dag import descendants
from cadenza._ids import split_item_id
from cadenza._plugins._registry import load_plugins
from cadenza.testing import Delay, ScriptedAgent, run_captured, scripted_agent_kind


@attrs.frozen
class MapDag:
    needs: dict[str, list[str]]
    lists: dict[str, list[int]]  # mapped steps only
    failing: frozenset[tuple[str, int]]  # (step, index); index -1: a plain step fails
    skip_mode: frozenset[str]  # mapped steps with on_item_failure: skip
    max_parallel: dict[str, int | None]
    concurrency: int


@st.composite
def map_dags(draw: Any) -> MapDag:
    n = draw(st.integers(1, 8))
    ids = [f"s{i}" for i in range(n)]
    needs: dict[str, list[str]] = {}
    for i, sid in enumerate(ids):
        picks = draw(st.lists(st.integers(0, max(0, i - 1)), max_size=2)) if i else []
        needs[sid] = sorted({ids[p] for p in picks})
    mapped = [sid for sid in ids if draw(st.booleans())]
    lists = {sid: list(range(draw(st.integers(0, 6)))) for sid in mapped}
    failing: set[tuple[str, int]] = set()
    for sid in ids:
        if sid in lists:
            for index in lists[sid]:
                if draw(st.integers(0, 9)) == 0:
                    failing.add((sid, index))
        elif draw(st.integers(0, 7)) == 0:
            failing.add((sid, -1))
    skip_mode = frozenset(sid for sid in mapped if draw(st.booleans()))
    max_parallel = {sid: draw(st.one_of(st.none(), st.integers(1, 3))) for sid in mapped}
    return MapDag(
        needs, lists, frozenset(failing), skip_mode, max_parallel, draw(st.integers(1, 4))
    )


def _data(dag: MapDag) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for sid, needs in dag.needs.items():
        step: dict[str, Any] = {"uses": "worker", "needs": needs, "retry": 1}
        if sid in dag.lists:
            step["for_each"] = dag.lists[sid]
            step["with"] = {"item": "${{ item }}", "index": "${{ index }}"}
            if sid in dag.skip_mode:
                step["on_item_failure"] = "skip"
            if dag.max_parallel[sid] is not None:
                step["max_parallel"] = dag.max_parallel[sid]
        steps[sid] = step
    return {
        "name": "random-maps",
        "concurrency": dag.concurrency,
        "agents": {"worker": {"kind": "scripted"}},
        "steps": steps,
    }


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(dag=map_dags(), seed=st.integers(0, 2**16))
def test_items_run_once_in_order_and_failures_skip_exactly_the_dependents(
    dag: MapDag, seed: int
) -> None:
    calls: list[str] = []

    def answer(request: cadenza.AgentRequest) -> Any:
        calls.append(request.step_id)
        parts = split_item_id(request.step_id)
        key = (parts[0], parts[1]) if parts else (request.step_id, -1)
        delay = (hash((seed, request.step_id)) % 4) / 2
        if key in dag.failing:
            return Delay(delay, then=cadenza.PermanentError(f"{request.step_id} fails"))
        return Delay(delay, then={"from": request.step_id, **request.inputs})

    worker = ScriptedAgent("worker", answer)
    plugins = load_plugins(extra=[scripted_agent_kind(worker)], entry_points=False)

    async def main() -> Any:
        return await run_captured(_data(dag), plugins=plugins)

    run = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    steps = run.result.steps

    failed_steps = {sid for sid, i in dag.failing if i == -1}
    for sid, values in dag.lists.items():
        if sid not in dag.skip_mode and any((sid, i) in dag.failing for i in values):
            failed_steps.add(sid)
    expected_skipped: set[str] = set()
    for sid in failed_steps:
        expected_skipped |= descendants(dag.needs, sid)
    # A step that fails itself is failed, not skipped, even below another failure.
    expected_failed = {sid for sid in failed_steps if sid not in expected_skipped}

    assert {s for s, o in steps.items() if o.status == "skipped"} == expected_skipped
    assert {s for s, o in steps.items() if o.status == "failed"} == expected_failed
    ran = {s for s in dag.needs if s not in expected_skipped}
    for sid in ran:
        if sid not in dag.lists:
            assert calls.count(sid) == 1
            continue
        values = dag.lists[sid]
        for index in values:  # every item of a step that ran is called exactly once
            assert calls.count(f"{sid}[{index}]") == 1
        outcome = steps[sid]
        assert [i.step_id for i in outcome.items] == [f"{sid}[{i}]" for i in values]
        if outcome.status == "succeeded":
            expected = [
                None if (sid, i) in dag.failing else {"from": f"{sid}[{i}]", "item": i, "index": i}
                for i in values
            ]
            assert outcome.output == expected  # item order, whatever order they finished in
            assert outcome.degraded == any((sid, i) in dag.failing for i in values)
    for sid in expected_skipped:  # a skipped mapped step never expanded
        assert not any(c.startswith(f"{sid}[") or c == sid for c in calls)
