"""Priorities hold with the journal on (issue 18, item 1), on a real SQLite journal.

A success's dependants are released only once it is durable; a slot freed
in between must not go to a lower-priority step that was already waiting.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings

import cadenza
from cadenza import _events as ev
from cadenza._journal._sqlite import SqliteStore
from cadenza._scheduler._runner import run_workflow
from cadenza.testing import Delay, ScriptedAgent

from .scheduler_helpers import make_workflow, plugins_with
from .test_scheduler_properties import Dag, dags


def _started(
    steps: dict[str, dict[str, Any]], path: Path, *, concurrency: int = 1, clock: Any = None
) -> list[ev.Event]:
    """Run ``steps`` on one agent, journaled to the SQLite file ``path``; every event."""

    def answer(request: cadenza.AgentRequest) -> Delay:
        return Delay(steps[request.step_id].get("duration", 0), then=request.step_id)

    workflow = make_workflow(
        {sid: {k: v for k, v in spec.items() if k != "duration"} for sid, spec in steps.items()},
        concurrency=concurrency,
    )
    events: list[ev.Event] = []
    store = SqliteStore(f"sqlite:///{path}")

    async def main() -> None:
        plugins = plugins_with({"a": ScriptedAgent("a", answer)})
        await run_workflow(workflow, plugins=plugins, observers=[events.append], store=store)

    try:
        trio.run(main, clock=clock)
    finally:
        store.close()
    return events


def test_a_released_high_priority_step_takes_the_freed_slot(tmp_path: Path) -> None:
    """g -> hi (high) while l1, l2 (low) wait: with one slot the order is g, hi, l1, l2."""
    steps: dict[str, dict[str, Any]] = {
        "g": {"priority": 10, "duration": 0.01},
        "l1": {"priority": 0},
        "l2": {"priority": 0},
        "hi": {"priority": 10, "needs": ["g"]},
    }
    events = _started(steps, tmp_path / "journal.db")
    order = [e.step_id for e in events if isinstance(e, ev.AttemptStarted)]
    assert order[:2] == ["g", "hi"]
    assert sorted(order[2:]) == ["l1", "l2"]
    assert isinstance(events[-1], ev.RunFinished)
    assert events[-1].status == "succeeded"


def test_equal_priorities_hold_nothing(tmp_path: Path) -> None:
    """A dependant that would not outrank what is ready does not hold the slot."""
    steps: dict[str, dict[str, Any]] = {
        "g": {"priority": 1, "duration": 0.01},
        "l1": {"priority": 0},
        "next": {"priority": 0, "needs": ["g"]},
    }
    events = _started(steps, tmp_path / "journal.db")
    order = [e.step_id for e in events if isinstance(e, ev.AttemptStarted)]
    assert order == ["g", "l1", "next"]


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(dags())
def test_with_concurrency_one_and_a_journal_the_best_ready_step_starts(dag: Dag) -> None:
    """Each start has the best priority among steps whose needs all succeeded (journal on).

    "Ready" is what it is without a journal: every need has succeeded. The
    journal delays a dependant until its need's success is durable, but no
    step of a lower priority may take the slot meanwhile.
    """
    dag = attrs.evolve(dag, concurrency=1, failing=frozenset())
    steps = {
        sid: {"needs": dag.needs[sid], "priority": dag.priority[sid], "duration": dag.duration[sid]}
        for sid in dag.needs
    }
    with tempfile.TemporaryDirectory() as tmp:
        events = _started(
            steps, Path(tmp) / "journal.db", clock=trio.testing.MockClock(autojump_threshold=0)
        )
    succeeded: set[str] = set()
    started: set[str] = set()
    for event in events:
        if isinstance(event, ev.StepSucceeded):
            succeeded.add(event.step_id)
        elif isinstance(event, ev.AttemptStarted):
            ready = [
                s for s, needs in dag.needs.items() if s not in started and set(needs) <= succeeded
            ]
            best = max(dag.priority[s] for s in ready)
            assert dag.priority[event.step_id] == best, (event.step_id, ready)
            started.add(event.step_id)
    assert succeeded == set(dag.needs)
