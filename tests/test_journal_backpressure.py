"""The journal's queue is bounded: agents faster than commits wait for the store.

A :class:`SlowStore` is a real :class:`~cadenza.store.SqliteStore` whose every
write first sleeps in its worker thread, so no-op agents outpace commits by
far. Each write takes the whole queue, so the size of every batch written is
the queue's size at that moment: the batches prove the bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza
from cadenza import _events as ev
from cadenza._journal import _writer
from cadenza._journal._bus import EventBus
from cadenza._journal._writer import Journal
from cadenza._scheduler import _runner
from cadenza.store import SqliteStore, StoreError, WriteBatch
from cadenza.testing import ScriptedAgent

from .durability_helpers import GatedStore, assert_seq_contiguous, store_url, successes
from .scheduler_helpers import echo, make_workflow, plugins_with

HANG_GUARD = 30  # seconds
MAX_QUEUED = 40
CONCURRENCY = 8
WIDTH = 300
BOUND = MAX_QUEUED + 2 * CONCURRENCY + 2
"""The limit, plus what calls already in flight emit (attempt_started, step_succeeded each)."""


class SlowStore(SqliteStore):
    """A real SQLite journal whose writes take ``delay`` seconds more; records batch sizes.

    ``sizes`` counts each batch's events but ``step_cancelled`` (see :meth:`write`).
    """

    def __init__(self, url: str, *, delay: float) -> None:
        super().__init__(url)
        self.delay = delay
        self.sizes: list[int] = []
        self._sizes_lock = threading.Lock()

    def write(self, batch: WriteBatch) -> None:
        time.sleep(self.delay)  # in the journal's worker thread, never the trio thread
        # A cancelled run's end marks every step it never ran cancelled at once:
        # bounded by the workflow, not by speed, so not counted against the queue.
        size = sum(e["kind"] != "step_cancelled" for e in batch.events)
        with self._sizes_lock:
            self.sizes.append(size)
        super().write(batch)


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[SlowStore]:
    store = SlowStore(store_url(tmp_path / "journal.db"), delay=0.005)
    yield store
    store.close()


@pytest.fixture
def small_queue(monkeypatch: pytest.MonkeyPatch) -> list[Journal]:
    """Every journal run_workflow makes gets ``max_queued=MAX_QUEUED``; returns them."""
    made: list[Journal] = []

    def make(**kwargs: Any) -> Journal:
        journal = Journal(max_queued=MAX_QUEUED, **kwargs)
        made.append(journal)
        return journal

    monkeypatch.setattr(_runner, "Journal", make)
    return made


def fan_out(width: int) -> Any:
    steps: dict[str, dict[str, Any]] = {"root": {}}
    steps.update({f"leaf{i:03d}": {"needs": ["root"]} for i in range(width)})
    steps["join"] = {"needs": [f"leaf{i:03d}" for i in range(width)]}
    return make_workflow(steps, concurrency=CONCURRENCY)


async def test_queue_stays_bounded_when_agents_outpace_commits(
    slow: SlowStore, small_queue: list[Journal]
) -> None:
    """A wide fan-out on a slow store never queues more than the bound, and completes."""
    workflow = fan_out(WIDTH)
    plugins = plugins_with({"a": ScriptedAgent("a", echo)})
    with trio.fail_after(HANG_GUARD):
        result = await cadenza.run_workflow(workflow, plugins=plugins, store=slow)
    assert result.status == "succeeded"
    assert result.counts["succeeded"] == WIDTH + 2
    (journal,) = small_queue
    events = slow.read_events(result.run_id)
    assert_seq_contiguous(events)
    assert successes(events) == dict.fromkeys(workflow.steps, 1)
    # Without backpressure the root's success alone readies WIDTH steps at once.
    assert len(events) > 3 * WIDTH > BOUND
    assert max(slow.sizes) <= BOUND, slow.sizes
    assert journal.queued == 0


async def test_run_cut_off_under_backpressure_resumes_correctly(
    slow: SlowStore, small_queue: list[Journal]
) -> None:
    """Cut off mid-way on a slow store, the run resumes, calling only what did not succeed."""
    workflow = fan_out(WIDTH)
    first_calls: list[str] = []
    enough = trio.Event()

    async def first(request: cadenza.AgentRequest) -> Any:
        first_calls.append(request.step_id)
        if len(first_calls) >= WIDTH // 2:
            enough.set()
        return await echo(request)

    async def runner(*, task_status: trio.TaskStatus[cadenza.RunHandle]) -> None:
        box.append(
            await cadenza.run_workflow(
                workflow,
                plugins=plugins_with({"a": ScriptedAgent("a", first)}),
                store=slow,
                task_status=task_status,
            )
        )

    box: list[cadenza.RunResult] = []
    with trio.fail_after(HANG_GUARD):
        async with trio.open_nursery() as nursery:
            handle: cadenza.RunHandle = await nursery.start(runner)
            await enough.wait()
            handle.cancel("stopped by the test")
    (cut,) = box
    assert cut.status == "cancelled"
    done = successes(slow.read_events(cut.run_id))
    assert "root" in done
    assert "join" not in done

    again: list[str] = []

    async def second(request: cadenza.AgentRequest) -> Any:
        again.append(request.step_id)
        return await echo(request)

    plan = cadenza.plan_resume(slow, cut.run_id, workflow)
    with trio.fail_after(HANG_GUARD):
        result = await cadenza.run_workflow(
            workflow,
            plugins=plugins_with({"a": ScriptedAgent("a", second)}),
            store=slow,
            resume=plan,
        )
    assert result.status == "succeeded"
    assert sorted(again) == sorted(set(workflow.steps) - set(done))
    events = slow.read_events(cut.run_id)
    assert_seq_contiguous(events)
    assert successes(events) == dict.fromkeys(workflow.steps, 1)
    assert max(slow.sizes) <= BOUND, slow.sizes


def succeeded(i: int) -> dict[str, Any]:
    return {"step_id": f"s{i}", "attempt": 1, "agent": "a", "output": i, "duration": 0.0}


async def test_wait_room_writes_at_once_and_returns_when_below_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A congested journal asks for a write and lets the waiter go once the queue drained.

    The lazy write delay is made an hour: if wait_room did not ask for the write, it
    would hit the hang guard. (No wall-clock bound: a loaded machine's fsync is slow.)
    """
    monkeypatch.setattr(_writer, "LAZY_WRITE_DELAY", 3600.0)
    store = SqliteStore(store_url(tmp_path / "journal.db"))
    journal = Journal(store=store, run_id="r1", max_queued=10)
    bus = EventBus(run_id="r1", recorder=journal.observe)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run_writer)
            for i in range(10):
                bus.emit(ev.StepSucceeded, **succeeded(i))
            assert journal.congested
            with trio.fail_after(HANG_GUARD):
                await journal.wait_room()
            assert not journal.congested
            nursery.cancel_scope.cancel()
        assert len(store.read_events("r1")) == 10
    finally:
        store.close()


async def test_wait_room_raises_the_writer_failure(tmp_path: Path) -> None:
    """When the store refuses a write, whoever waits for room gets that error, not a hang."""
    sqlite = SqliteStore(store_url(tmp_path / "journal.db"))
    store = GatedStore(sqlite, fail=lambda batch: True)
    journal = Journal(store=store, run_id="r1", max_queued=5)
    bus = EventBus(run_id="r1", recorder=journal.observe)
    seen: list[BaseException] = []

    async def waiter() -> None:
        try:
            await journal.wait_room()
        except StoreError as exc:
            seen.append(exc)

    try:
        with pytest.RaisesGroup(StoreError), trio.fail_after(HANG_GUARD):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(journal.run_writer)
                for i in range(5):
                    bus.emit(ev.StepSucceeded, **succeeded(i))
                nursery.start_soon(waiter)
        assert len(seen) == 1
        assert "disk full" in str(seen[0])
    finally:
        sqlite.close()
