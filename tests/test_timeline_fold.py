"""Folding a run's events in chunks gives what one build over all of them gives.

The dashboard keeps each run's step states, timeline and usage chart and
feeds them only the events journaled since the last view (``_run_models``).
For any split of a run's events into chunks, in ``seq`` order, with the
results read between chunks, the folds must end where a full rebuild does:
checked with hypothesis over real runs (retries, a ``for_each`` step) and a
journal with hedges, a fallback, a cache hit, costs, breaker changes and a
resume.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cadenza
from cadenza._insight._timeline import TimelineFold, run_timeline
from cadenza._insight._usage import UsageFold, build_usage
from cadenza._journal._readback import StepFold, step_states
from cadenza._journal._run_shape import RunShape
from cadenza._journal._store import RunRecord
from cadenza._load._loader import load_workflow_text
from cadenza._serve._run_models import RunModel
from cadenza._serve._views import model_detail, run_detail
from cadenza.testing import ScriptedAgent, run_captured
from tests.mapped_helpers import mapped_run
from tests.scheduler_helpers import plugins_with
from tests.test_timeline import LATENCY, NoJitter

DEMO = """
name: demo
concurrency: 4
budget: {usd: 5}
agents:
  w: {kind: prog, max_concurrent: 2}
  f: {kind: prog}
steps:
  a: {uses: w}
  b: {uses: w, needs: [a]}
  c: {uses: w, needs: [a]}
  d: {uses: w, needs: [a]}
  e: {uses: f, needs: [b], retry: {max_attempts: 3, backoff: 0.5}}
  g: {uses: w, needs: [c, d, e]}
"""


async def _behave(request: cadenza.AgentRequest) -> str:
    await trio.sleep(LATENCY[request.step_id])
    if request.step_id == "e" and request.attempt < 3:
        raise cadenza.RetryableError("busy (503)", agent="f")
    return request.step_id


@functools.cache
def demo() -> tuple[list[dict[str, Any]], RunShape]:
    """A real run with retries on trio's virtual clock: its events and its workflow's shape."""
    plugins = plugins_with({"w": ScriptedAgent("w", _behave), "f": ScriptedAgent("f", _behave)})
    run = trio.run(
        functools.partial(run_captured, DEMO, plugins=plugins, rng=NoJitter()),
        clock=trio.testing.MockClock(autojump_threshold=0),
    )
    workflow = load_workflow_text(DEMO, plugins=plugins).workflow
    return [e.to_dict() for e in run.events], RunShape.from_workflow(workflow)


@functools.cache
def mapped(tmp: str) -> list[dict[str, Any]]:
    """A real run with a 30-item ``for_each`` step, two items failing."""
    run = mapped_run(f"sqlite:///{tmp}/mapped.db", items=30, failing=(3, 7))
    return [e.to_dict() for e in run.events]


def _e(seq: int, at: float, kind: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "run_id": "r", "seq": seq, "at": 100.0 + at, **fields}


def crafted() -> list[dict[str, Any]]:
    """Hedges, a fallback, a cache hit, costs, breaker and health changes, then a resume."""
    events = [
        _e(0, 0, "run_started", steps=["s", "t", "u"], workflow="w", source="", source_hash="h",
           inputs={}),
        _e(1, 0, "step_ready", step_id="s", inputs={}),
        _e(2, 0, "attempt_started", step_id="s", attempt=1, agent="x", queue_wait=0.0),
        _e(3, 0, "attempt_started", step_id="s", attempt=1, agent="y", queue_wait=0.5),
        _e(4, 1, "attempt_failed", step_id="s", attempt=1, agent="x", error_type="E",
           message="no", retry_in=None),
        _e(5, 1, "circuit_changed", agent="x", state="open", previous="closed", reason="1"),
        _e(6, 2, "attempt_failed", step_id="s", attempt=1, agent="y", error_type="E",
           message="no", retry_in=None),
        _e(7, 2, "fallback_started", step_id="s", source="template", error="all failed"),
        _e(8, 2.5, "step_succeeded", step_id="s", attempt=0, agent="", output=1,
           degraded=True, source="template"),
        _e(9, 3, "step_ready", step_id="t", inputs={}),
        _e(10, 3, "step_cache_hit", step_id="t", source_run="old", source_step="t"),
        _e(11, 3, "step_succeeded", step_id="t", output=2, duration=0.0),
        _e(12, 3, "step_ready", step_id="u", inputs={}),
        _e(13, 3.5, "attempt_started", step_id="u", attempt=1, agent="y", queue_wait=0.1),
        _e(14, 4, "cost_incurred", step_id="u", attempt=1, agent="y", cost_usd=0.25),
        _e(15, 4, "agent_health_changed", agent="y", healthy=False),
        _e(16, 10, "run_resumed", workflow="w", source_hash="h", restored=["s", "t"],
           rerun=["u"]),
        _e(17, 10, "step_ready", step_id="u", inputs={}),
        _e(18, 10, "attempt_started", step_id="u", attempt=1, agent="x", queue_wait=0.0),
        _e(19, 11, "cost_incurred", step_id="u", attempt=1, agent="x", cost_usd=0.5),
        _e(20, 11, "step_succeeded", step_id="u", attempt=1, agent="x", output=3,
           duration=1.0, cost_usd=0.5),
        _e(21, 11, "run_finished", status="succeeded", duration=2.0, counts={}),
    ]  # fmt: skip
    return events


def _chunks(events: list[dict[str, Any]], cuts: list[int]) -> list[list[dict[str, Any]]]:
    bounds = sorted({c % (len(events) + 1) for c in cuts} | {0, len(events)})
    return [events[a:b] for a, b in itertools.pairwise(bounds)]


def _streams(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[list[Any], Any]]:
    events, shape = demo()
    tmp = str(tmp_path_factory.getbasetemp())
    return [(events, shape), (events, None), (mapped(tmp), None), (crafted(), None)]


CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


@SETTINGS
@given(cuts=CUTS, which=st.integers(min_value=0, max_value=3))
def test_folding_the_timeline_in_chunks_equals_one_build(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int], which: int
) -> None:
    """Timeline and usage folded chunk by chunk (read in between) equal a build over all events."""
    events, shape = _streams(tmp_path_factory)[which]
    timeline_fold, usage_fold = TimelineFold(), UsageFold()
    needs = shape.needs if shape is not None else None
    for chunk in _chunks(events, cuts):
        timeline_fold.feed(chunk)
        usage_fold.feed(chunk)
        usage_fold.usage(timeline_fold.timeline(needs), shape)  # read between chunks
    whole = run_timeline(events, workflow=_Workflow(shape) if shape is not None else None)
    folded = timeline_fold.timeline(needs)
    assert folded.to_dict() == whole.to_dict()
    assert [r.critical for r in folded.rows.values()] == [r.critical for r in whole.rows.values()]
    built = build_usage(events, timeline=whole)
    if shape is not None:
        built = usage_fold.usage(whole, shape)  # limits and budgets: compared just below
        assert built.budgets == {"run": 5.0}
        assert built.agents["w"].limit == 2
    assert usage_fold.usage(folded, shape).to_dict() == built.to_dict()


@SETTINGS
@given(cuts=CUTS, which=st.integers(min_value=0, max_value=3))
def test_folding_step_states_in_chunks_equals_one_build(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int], which: int
) -> None:
    """Step states folded chunk by chunk equal :func:`step_states` over all the events."""
    events, _ = _streams(tmp_path_factory)[which]
    fold = StepFold()
    for chunk in _chunks(events, cuts):
        fold.feed(chunk)
    whole = step_states(events)
    assert {k: v.to_dict() for k, v in fold.steps.items()} == {
        k: v.to_dict() for k, v in whole.items()
    }


class ChunkedSource:
    """An event source that hands out the run's events a chunk more on each read."""

    def __init__(self, chunks: list[list[dict[str, Any]]]) -> None:
        self.shown: list[dict[str, Any]] = []
        self.chunks = list(chunks)

    def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]:
        if self.chunks:
            self.shown += self.chunks.pop(0)
        return [e for e in self.shown if e["seq"] > after]


@SETTINGS
@given(cuts=CUTS, which=st.integers(min_value=0, max_value=3))
def test_a_kept_run_model_reads_as_a_fresh_one(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[int], which: int
) -> None:
    """A run's model updated view after view details the run as one built from all its events."""
    events, _ = _streams(tmp_path_factory)[which]
    record = RunRecord(run_id="r", workflow="w", source_hash="h", status="succeeded",
                       started_at=100.0)  # fmt: skip
    chunks = _chunks(events, cuts)
    source, model = ChunkedSource(chunks), RunModel("r")
    for _ in chunks:
        model.update(source)
        model_detail(model, record)  # read between chunks
    kept, fresh = model_detail(model, record), run_detail(ChunkedSource([events]), record)
    kept.pop("duration", None), fresh.pop("duration", None)
    assert kept == fresh


def test_the_shape_journaled_in_run_started_is_the_workflows(tmp_path: Path) -> None:
    """``run_started`` carries the needs, agents' limits and budgets the pictures use."""
    events, shape = demo()
    assert RunShape.from_run_started(events[0]) == shape
    assert shape.needs["g"] == ("c", "d", "e")


class _Workflow:
    """The parts of a workflow :func:`run_timeline` reads, from a shape."""

    def __init__(self, shape: RunShape) -> None:
        self.steps = {sid: _Step(shape.needs.get(sid, ())) for sid in shape.steps}


class _Step:
    def __init__(self, needs: tuple[str, ...]) -> None:
        self.needs = needs
