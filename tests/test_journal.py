"""The journal (``_journal/_writer.py``): group commit, the durability barrier, and writer failures.

A :class:`GatedStore` holds one chosen write on a ``threading.Event`` the test
releases, so "while the batch is not yet durable" is a state the test controls
rather than a race it hopes to win.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import cadenza
import cadenza.events
import cadenza.store
from cadenza import _events as ev
from cadenza._journal import _limits as _journal_limits
from cadenza._journal import _writer as _journal
from cadenza._journal._bus import EventBus
from cadenza._journal._writer import Journal
from cadenza._scheduler import _runner
from cadenza.store import SqliteStore, StoreError
from cadenza.testing import ScriptedAgent

from .durability_helpers import (
    GATE_TIMEOUT,
    GatedStore,
    assert_seq_contiguous,
    has_event,
    store_url,
    successes,
)
from .scheduler_helpers import echo, make_workflow, plugins_with

HANG_GUARD = 20  # seconds; every wait below is bounded so a broken journal fails, not hangs


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(store_url(tmp_path / "journal.db"))
    yield store
    store.close()


@pytest.fixture
def journals(monkeypatch: pytest.MonkeyPatch) -> list[Journal]:
    """Every Journal that run_workflow creates during the test, to read its counters."""
    made: list[Journal] = []

    def make(**kwargs: Any) -> Journal:
        journal = Journal(**kwargs)
        made.append(journal)
        return journal

    monkeypatch.setattr(_runner, "Journal", make)
    return made


def recorder(agent_calls: list[str]) -> Callable[[cadenza.AgentRequest], Any]:
    async def behaviour(request: cadenza.AgentRequest) -> Any:
        agent_calls.append(request.step_id)
        return await echo(request)

    return behaviour


def succeeded(step_id: str, seq_hint: int = 0) -> dict[str, Any]:
    return {"step_id": step_id, "attempt": 1, "agent": "a", "output": seq_hint, "duration": 0.0}


async def test_events_queued_during_a_write_go_out_in_one_batch(sqlite: SqliteStore) -> None:
    """While one batch is being written, every new event waits and goes out in the next one."""
    store = GatedStore(sqlite, hold=lambda batch: True)
    journal = Journal(store=store, run_id="r1")
    bus = EventBus(run_id="r1", recorder=journal.observe)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run_writer)
        bus.emit(ev.StepSucceeded, **succeeded("s0"))
        try:
            await store.wait_held()
            for i in range(1, 100):
                bus.emit(ev.StepSucceeded, **succeeded(f"s{i}", i))
        finally:
            store.release()
        with trio.fail_after(HANG_GUARD):
            await journal.wait_durable(99)
        nursery.cancel_scope.cancel()
    assert journal.batches_written == 2 < 100
    assert [len(batch.events) for batch in store.batches] == [1, 99]
    assert [e["seq"] for e in sqlite.read_events("r1")] == list(range(100))


async def test_concurrent_successes_share_group_commits(
    sqlite: SqliteStore, journals: list[Journal]
) -> None:
    """Fifty steps finishing while a write is in flight are committed together, not one by one."""
    calls: list[str] = []
    agent = ScriptedAgent("a", recorder(calls))
    workflow = make_workflow({f"s{i}": {} for i in range(50)}, concurrency=50)
    store = GatedStore(sqlite, hold=has_event("step_succeeded"))
    all_done = trio.Event()
    done: list[str] = []

    def observe(event: cadenza.events.Event) -> None:
        if isinstance(event, cadenza.events.StepSucceeded):
            done.append(event.step_id)
            if len(done) == 50:
                all_done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: cadenza.run_workflow(
                workflow, plugins=plugins_with({"a": agent}), store=store, observers=[observe]
            )
        )
        try:
            await store.wait_held()
            with trio.fail_after(HANG_GUARD):
                await all_done.wait()  # every success is emitted while the first is still held
        finally:
            store.release()
    (journal,) = journals
    events = sqlite.read_events(journal.run_id)
    assert journal.batches_written == len(store.batches)
    assert journal.batches_written < len(events)
    per_batch = [sum(e["kind"] == "step_succeeded" for e in b.events) for b in store.batches]
    # The held batch carried the successes queued when it was taken; the next one, the rest.
    assert sum(per_batch) == 50
    assert len([n for n in per_batch if n]) <= 2, per_batch
    assert sorted(calls) == sorted(workflow.steps)


async def test_dependent_starts_only_after_its_needs_success_is_durable(
    sqlite: SqliteStore,
) -> None:
    """While a step's success is not yet committed, its dependent is not called."""
    calls: list[str] = []
    agent = ScriptedAgent("a", recorder(calls))
    workflow = make_workflow({"first": {}, "second": {"needs": ["first"]}})
    store = GatedStore(sqlite, hold=has_event("step_succeeded", "first"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: cadenza.run_workflow(
                workflow, plugins=plugins_with({"a": agent}), store=store, run_id="r-barrier"
            )
        )
        try:
            await store.wait_held()
            await trio.testing.wait_all_tasks_blocked()  # all that could start has started
            assert calls == ["first"]
            assert not any(e["kind"] == "step_succeeded" for e in sqlite.read_events("r-barrier"))
        finally:
            store.release()
    assert calls == ["first", "second"]


async def test_run_is_recorded_before_its_first_step_starts(sqlite: SqliteStore) -> None:
    """No step is called until the run's record and workflow text are committed."""
    seen: list[tuple[cadenza.store.RunRecord | None, str | None]] = []

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        record = await trio.to_thread.run_sync(sqlite.get_run, request.run_id)
        source = await trio.to_thread.run_sync(sqlite.read_source, request.run_id)
        seen.append((record, source))
        return await echo(request)

    agent = ScriptedAgent("a", behaviour)
    workflow = attrs.evolve(
        make_workflow({"only": {}}), source_text="steps: {only: {uses: a}}\n", source_hash="h1"
    )
    store = GatedStore(sqlite, hold=has_event("run_started"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: cadenza.run_workflow(
                workflow, plugins=plugins_with({"a": agent}), store=store, run_id="r-first"
            )
        )
        try:
            await store.wait_held()
            await trio.testing.wait_all_tasks_blocked()
            assert agent.calls == []
            assert sqlite.get_run("r-first") is None
        finally:
            store.release()
    ((record, source),) = seen
    assert record is not None
    assert record.status == "running"
    assert record.source_hash == "h1"
    assert source == "steps: {only: {uses: a}}\n"


def only_store_errors(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The group's leaves, after checking there is at least one and all are StoreErrors."""
    matched, rest = group.split(StoreError)
    assert rest is None, repr(rest)
    assert matched is not None
    leaves: list[BaseException] = []
    stack: list[BaseException] = [matched]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return leaves


@pytest.mark.parametrize(
    "failing",
    [
        pytest.param(has_event("run_started"), id="recording-the-run"),
        pytest.param(has_event("step_succeeded", "first"), id="recording-a-success"),
        pytest.param(has_event("run_finished"), id="recording-the-end"),
    ],
)
async def test_journal_write_failure_fails_the_run_loudly(
    failing: Callable[[cadenza.store.WriteBatch], bool], sqlite: SqliteStore
) -> None:
    """A store that refuses a write ends the run with that StoreError instead of hanging."""
    calls: list[str] = []
    agent = ScriptedAgent("a", recorder(calls))
    workflow = make_workflow({"first": {}, "second": {"needs": ["first"]}})
    store = GatedStore(sqlite, fail=failing)
    with trio.fail_after(HANG_GUARD), pytest.raises(BaseExceptionGroup) as info:
        await cadenza.run_workflow(workflow, plugins=plugins_with({"a": agent}), store=store)
    for leaf in only_store_errors(info.value):
        assert "disk full (simulated)" in str(leaf)
    if "second" in calls:  # a dependent started: its need's success must have been durable
        assert any(has_event("step_succeeded", "first")(b) for b in store.batches)


async def test_waiters_see_the_writer_failure(sqlite: SqliteStore) -> None:
    """wait_durable re-raises the writer's StoreError, to the first waiter and to later ones."""
    store = GatedStore(sqlite, fail=lambda batch: True)
    journal = Journal(store=store, run_id="r1")
    bus = EventBus(run_id="r1", recorder=journal.observe)
    seen: list[BaseException] = []

    async def write_and_wait() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run_writer)
            bus.emit(ev.StepSucceeded, **succeeded("s0"))
            for _ in range(2):
                try:
                    await journal.wait_durable(0)
                except StoreError as exc:
                    seen.append(exc)

    with trio.fail_after(HANG_GUARD), pytest.raises(BaseExceptionGroup) as info:
        await write_and_wait()
    only_store_errors(info.value)
    assert len(seen) == 2
    assert all("disk full (simulated)" in str(exc) for exc in seen)


@attrs.define(eq=False)
class BusyCancelCheck:
    """Wraps a store; the run's first cancel check (``get_run``) holds the journal's worker
    slot until :meth:`release`, so a write that follows must wait for it."""

    inner: SqliteStore
    entered: threading.Event = attrs.field(factory=threading.Event)
    _gate: threading.Event = attrs.field(factory=threading.Event)

    @property
    def url(self) -> str:
        return self.inner.url

    def get_run(self, run_id: str) -> cadenza.store.RunRecord | None:
        if not self.entered.is_set():
            self.entered.set()
            self._gate.wait(GATE_TIMEOUT)
        return self.inner.get_run(run_id)

    def release(self) -> None:
        self._gate.set()

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


async def test_batch_taken_for_writing_survives_a_cancel_of_the_run(
    sqlite: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A success queued for writing when the caller cancels the run still reaches the journal."""
    monkeypatch.setattr(_journal, "CANCEL_CHECK_INTERVAL", 0.001)
    store = BusyCancelCheck(sqlite)

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        with trio.fail_after(HANG_GUARD):  # answer while the cancel check holds the slot
            await trio.to_thread.run_sync(store.entered.wait, GATE_TIMEOUT)
        return "done"

    succeeded_event = trio.Event()

    def observe(event: cadenza.events.Event) -> None:
        if isinstance(event, cadenza.events.StepSucceeded):
            succeeded_event.set()

    workflow = make_workflow({"only": {}, "after": {"needs": ["only"]}})
    plugins = plugins_with({"a": ScriptedAgent("a", behaviour)})
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: cadenza.run_workflow(
                    workflow, plugins=plugins, store=store, run_id="r-cut", observers=[observe]
                )
            )
            try:
                with trio.fail_after(HANG_GUARD):
                    await succeeded_event.wait()
                await trio.testing.wait_all_tasks_blocked()  # the write waits for the slot
                scope.cancel()
            finally:
                store.release()
    events = sqlite.read_events("r-cut")
    assert_seq_contiguous(events)
    assert "only" in successes(events)
    assert events[-1]["kind"] == "run_finished"


async def run_journaled(
    sqlite: SqliteStore, steps: dict[str, Any], behaviour: Callable[..., Any]
) -> tuple[cadenza.RunResult, list[dict[str, Any]], ScriptedAgent]:
    agent = ScriptedAgent("a", behaviour)
    result = await cadenza.run_workflow(
        make_workflow(steps), plugins=plugins_with({"a": agent}), store=sqlite
    )
    return result, sqlite.read_events(result.run_id), agent


async def test_an_output_over_the_limit_fails_the_step_and_is_never_journaled(
    sqlite: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An output over CADENZA_MAX_OUTPUT_BYTES fails its step, unretried; no event holds it."""
    monkeypatch.setenv("CADENZA_MAX_OUTPUT_BYTES", "4096")

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        return "x" * 10_000 if request.step_id == "big" else "small"

    steps = {"big": {"retry": {"max_attempts": 3}}, "after": {"needs": ["big"]}, "other": {}}
    result, events, agent = await run_journaled(sqlite, steps, behaviour)
    assert result.steps["big"].status == "failed"
    assert result.steps["after"].status == "skipped"
    assert result.steps["other"].status == "succeeded"
    assert [call.step_id for call in agent.calls].count("big") == 1  # permanent: not retried
    assert "x" * 4096 not in str(events)
    assert "big" not in successes(events)
    [failed] = [e for e in events if e["kind"] == "step_failed"]
    assert failed["error_type"] == "PermanentError"
    assert "the output of agent 'a' is 10002 bytes as JSON" in failed["message"]
    assert "over the journal's limit for a step output (4096 bytes" in failed["message"]
    assert "raise CADENZA_MAX_OUTPUT_BYTES" in failed["message"]


async def test_outputs_up_to_the_limit_are_journaled_whole(
    sqlite: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raising CADENZA_MAX_OUTPUT_BYTES keeps a big output whole, as resume needs it."""
    monkeypatch.setenv("CADENZA_MAX_OUTPUT_BYTES", "20000")
    monkeypatch.setenv("CADENZA_MAX_EVENT_FIELD_BYTES", "2048")
    output = {"text": "x" * 10_000}

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        return output

    result, events, _ = await run_journaled(sqlite, {"big": {}}, behaviour)
    assert result.steps["big"].status == "succeeded"
    [success] = [e for e in events if e["kind"] == "step_succeeded"]
    assert success["output"] == output  # not capped at the (smaller) field limit


async def test_an_oversized_informational_field_is_journaled_with_a_marker(
    sqlite: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """step_ready inputs and error messages over the field limit become explicit markers."""
    monkeypatch.setenv("CADENZA_MAX_EVENT_FIELD_BYTES", "2048")
    received: list[Any] = []

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        received.append(dict(request.inputs))
        if request.step_id == "broken":
            raise cadenza.PermanentError("z" * 5000)
        return "done"

    steps = {"reader": {"with": {"text": "y" * 5000}}, "broken": {}}
    result, events, _ = await run_journaled(sqlite, steps, behaviour)
    assert {"text": "y" * 5000} in received  # the agent got its inputs whole
    [ready] = [e for e in events if e["kind"] == "step_ready" and e["step_id"] == "reader"]
    marker = ready["inputs"]
    assert marker["truncated"] is True
    assert marker["bytes"] == len('{"text":""}') + 5000
    assert marker["limit"] == 2048
    assert marker["preview"].startswith('{"text":"yyy')
    assert len(marker["preview"]) == _journal_limits.PREVIEW_CHARS
    [failed] = [e for e in events if e["kind"] == "step_failed"]
    assert failed["message"].startswith("z" * 100)
    assert failed["message"].endswith(
        "… [truncated by the journal: 5002 bytes, over the 2048-byte limit]"
    )
    assert result.steps["broken"].status == "failed"


def test_small_events_are_stored_as_they_are() -> None:
    """An event within the limits is passed through as the same object, not copied."""
    data = ev.StepReady(run_id="r", seq=0, at=0.0, step_id="s", inputs={"a": 1}).to_dict()
    assert _journal_limits.cap_event(data, _journal_limits.JournalLimits()) is data


@pytest.mark.parametrize("value", ["16MB", "-1", "100", "1.5"])
def test_a_bad_limit_in_the_environment_is_refused(value: str) -> None:
    """A limit that is not a whole number of bytes (1024 or more) is an error naming it."""
    environ = {"CADENZA_MAX_OUTPUT_BYTES": value}
    with pytest.raises(cadenza.CadenzaError, match="CADENZA_MAX_OUTPUT_BYTES=") as info:
        _journal_limits.JournalLimits.from_env(environ)
    assert "whole number of bytes" in str(info.value)
    assert "unset" in str(info.value)


async def test_a_success_nothing_needs_rides_with_a_later_commit(
    sqlite: SqliteStore, journals: list[Journal], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step no other step needs asks for no commit of its own: run_finished carries it."""
    monkeypatch.setattr(_journal, "LAZY_WRITE_DELAY", HANG_GUARD)  # no lazy write in between
    agent = ScriptedAgent("a", recorder([]))
    store = GatedStore(sqlite)
    workflow = make_workflow({"first": {}, "second": {"needs": ["first"]}})
    result = await cadenza.run_workflow(workflow, plugins=plugins_with({"a": agent}), store=store)
    assert result.status == "succeeded"
    kinds = [[(e["kind"], e.get("step_id")) for e in b.events] for b in store.batches]
    first_done = [i for i, b in enumerate(kinds) if ("step_succeeded", "first") in b]
    second_done = [i for i, b in enumerate(kinds) if ("step_succeeded", "second") in b]
    # first's success is committed for second to start; second's goes with run_finished.
    assert first_done == [1], kinds
    assert second_done == [2], kinds
    assert kinds[2][-1] == ("run_finished", None)
    assert journals[0].batches_written == 3


async def test_a_cancelled_writer_leaves_the_final_flush_to_write_the_queue(
    sqlite: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling the writer task is not a failed write: flush still commits what is queued."""
    monkeypatch.setattr(_journal, "LAZY_WRITE_DELAY", HANG_GUARD)
    journal = Journal(store=sqlite, run_id="r1")
    bus = EventBus(run_id="r1", recorder=journal.observe)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run_writer)
        bus.emit(ev.StepSucceeded, **succeeded("s0"))
        await trio.testing.wait_all_tasks_blocked()  # the writer waits out LAZY_WRITE_DELAY
        nursery.cancel_scope.cancel()
    assert sqlite.read_events("r1") == []
    with trio.fail_after(HANG_GUARD):
        await journal.flush()
    assert [e["kind"] for e in sqlite.read_events("r1")] == ["step_succeeded"]
    assert journal.durable_seq == 0
