"""Property tests of the scheduler on random DAGs (hypothesis, trio's virtual clock)."""

from __future__ import annotations

from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cadenza
from cadenza import _events as ev
from cadenza._graph._dag import descendants
from cadenza._scheduler._runner import run_workflow
from cadenza.testing import Delay, ScriptedAgent

from .scheduler_helpers import make_workflow, plugins_with


@attrs.frozen
class Dag:
    needs: dict[str, list[str]]
    priority: dict[str, int]
    duration: dict[str, int]
    failing: frozenset[str]
    concurrency: int
    gated: frozenset[str] = frozenset()  # when: false
    run_anyway: frozenset[str] = frozenset()  # if_needs_skipped: run


def _subset(draw: Any, ids: list[str], max_size: int) -> frozenset[str]:
    """Up to ``max_size`` of ``ids``: indexes drawn as a list, duplicates merged.

    Cheaper than ``st.sets(st.sampled_from(ids))``, whose uniqueness filter retries
    every collision and made drawing a DAG cost more than running it.
    """
    picks = draw(st.lists(st.integers(0, len(ids) - 1), max_size=max_size))
    return frozenset(ids[i] for i in picks)


@st.composite
def dags(draw: Any, *, max_steps: int = 25, with_when: bool = False) -> Dag:
    n = draw(st.integers(1, max_steps))
    ids = [f"s{i}" for i in range(n)]
    needs = {sid: sorted(_subset(draw, ids[:i], 3)) if i else [] for i, sid in enumerate(ids)}
    priorities = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    durations = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    priority = dict(zip(ids, priorities, strict=True))
    duration = dict(zip(ids, durations, strict=True))
    failing = _subset(draw, ids, max(1, n // 4))
    concurrency = draw(st.integers(1, 4))
    gated: frozenset[str] = frozenset()
    run_anyway: frozenset[str] = frozenset()
    if with_when:
        gated = _subset(draw, ids, max(1, n // 4))
        run_anyway = _subset(draw, ids, n // 2)
    return Dag(needs, priority, duration, failing, concurrency, gated, run_anyway)


def run_dag(dag: Dag) -> list[ev.Event]:
    def answer(request: cadenza.AgentRequest) -> Delay:
        failure = cadenza.PermanentError("planned failure")
        then = failure if request.step_id in dag.failing else request.step_id
        return Delay(dag.duration[request.step_id], then=then)

    agent = ScriptedAgent("a", answer)
    workflow = make_workflow(
        {
            sid: {
                "needs": dag.needs[sid],
                "priority": dag.priority[sid],
                **({"when": "false"} if sid in dag.gated else {}),
                "if_needs_skipped": "run" if sid in dag.run_anyway else "skip",
            }
            for sid in dag.needs
        },
        concurrency=dag.concurrency,
    )
    events: list[ev.Event] = []

    async def main() -> None:
        await run_workflow(workflow, plugins=plugins_with({"a": agent}), observers=[events.append])

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return events


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TERMINAL = (ev.StepSucceeded, ev.StepFailed, ev.StepSkipped, ev.StepCancelled)


@SETTINGS
@given(dags())
def test_no_step_starts_before_its_needs_succeed(dag: Dag) -> None:
    """Every attempt starts after each of its step's needs emitted step_succeeded."""
    succeeded: set[str] = set()
    for event in run_dag(dag):
        if isinstance(event, ev.StepSucceeded):
            succeeded.add(event.step_id)
        if isinstance(event, ev.AttemptStarted):
            assert set(dag.needs[event.step_id]) <= succeeded


@SETTINGS
@given(dags(with_when=True))
def test_every_step_ends_exactly_once(dag: Dag) -> None:
    """Each step is readied at most once, ends exactly once, and the run finishes last."""
    events = run_dag(dag)
    ended = [e.step_id for e in events if isinstance(e, TERMINAL)]
    assert sorted(ended) == sorted(dag.needs)
    readied = [e.step_id for e in events if isinstance(e, ev.StepReady)]
    assert len(readied) == len(set(readied))
    assert isinstance(events[-1], ev.RunFinished)


@SETTINGS
@given(dags(with_when=True))
def test_when_skips_follow_if_needs_skipped(dag: Dag) -> None:
    """A step runs iff its needs succeeded or were skipped with if_needs_skipped: run."""
    events = run_dag(dag)
    status: dict[str, str] = {}
    for event in events:
        if isinstance(event, ev.AttemptStarted):
            for need in dag.needs[event.step_id]:
                assert status[need] == "succeeded" or (
                    status[need] == "skipped" and event.step_id in dag.run_anyway
                )
            assert event.step_id not in dag.gated
        if isinstance(event, TERMINAL):
            status[event.step_id] = event.kind.removeprefix("step_")


@SETTINGS
@given(dags())
def test_a_failure_skips_exactly_its_descendants(dag: Dag) -> None:
    """Skipped steps are exactly the descendants of failed steps; the rest succeed."""
    events = run_dag(dag)
    failed = {e.step_id for e in events if isinstance(e, ev.StepFailed)}
    skipped = {e.step_id for e in events if isinstance(e, ev.StepSkipped)}
    expected_skipped: set[str] = set()
    for step_id in failed:
        expected_skipped |= descendants(dag.needs, step_id)
    assert skipped == expected_skipped
    assert failed == dag.failing - expected_skipped
    succeeded = {e.step_id for e in events if isinstance(e, ev.StepSucceeded)}
    assert succeeded == set(dag.needs) - failed - skipped


@SETTINGS
@given(dags())
def test_with_concurrency_one_highest_priority_ready_step_starts_first(dag: Dag) -> None:
    """With one slot, each start picks the highest priority among ready steps (FIFO on ties)."""
    dag = attrs.evolve(dag, concurrency=1)
    ready: list[str] = []
    for event in run_dag(dag):
        if isinstance(event, ev.StepReady):
            ready.append(event.step_id)
        elif isinstance(event, ev.AttemptStarted):
            best = max(dag.priority[s] for s in ready)
            first_best = next(s for s in ready if dag.priority[s] == best)
            assert event.step_id == first_best
            ready.remove(event.step_id)
