"""Approval gates in a run: wait holding no slot, then queue, fail, skip or time out."""

from __future__ import annotations

import time
import types
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza
from cadenza import events as ev
from cadenza._plugins._registry import load_plugins
from cadenza._scheduler import _approvals as approvals_module
from cadenza._scheduler._approvals import APPROVAL_CHECK_INTERVAL
from cadenza._scheduler._resume import plan_resume
from cadenza.store import ApprovalDecision, SqliteStore
from cadenza.testing import ScriptedAgent, scripted_agent_kind

PLUGINS = load_plugins(entry_points=False)


def _workflow(approval: dict[str, Any], *, other: bool = False, **top: Any) -> dict[str, Any]:
    steps: dict[str, Any] = {
        "draft": {"uses": "t", "with": {"name": "draft"}},
        "publish": {
            "uses": "t",
            "needs": ["draft"],
            "with": {"name": "publish"},
            "approval": approval,
        },
        "announce": {"uses": "t", "needs": ["publish"], "with": {"name": "announce"}},
    }
    if other:
        steps["other"] = {"uses": "t", "needs": ["draft"], "with": {"name": "other"}}
    return {
        "name": "gated",
        "agents": {"t": {"kind": "template", "max_concurrent": 1, "options": {"output": "{name}"}}},
        "steps": steps,
        **top,
    }


class Run:
    """A run started in a nursery, with its events as they come."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.result: cadenza.RunResult | None = None
        self.handle: Any = None
        self._waiting: dict[tuple[str, str | None], trio.Event] = {}

    def observe(self, event: ev.Event) -> None:
        self.events.append(event)
        for key in ((event.kind, None), (event.kind, getattr(event, "step_id", None))):
            if key in self._waiting:
                self._waiting[key].set()

    def of(self, kind: str) -> list[ev.Event]:
        return [e for e in self.events if e.kind == kind]

    async def until(self, kind: str, step_id: str | None = None) -> ev.Event:
        """The first event of ``kind`` (about ``step_id``), once it was emitted."""

        def found() -> list[ev.Event]:
            return [e for e in self.of(kind) if step_id in (None, getattr(e, "step_id", None))]

        if not found():
            await self._waiting.setdefault((kind, step_id), trio.Event()).wait()
        return found()[0]


async def _start(
    nursery: trio.Nursery, data: dict[str, Any], store: SqliteStore | None, **kw: Any
) -> Run:
    loaded = cadenza.load_workflow_data(data, plugins=PLUGINS)
    run = Run()

    async def go(task_status: trio.TaskStatus[None]) -> None:
        async def inner(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            run.result = await cadenza.run_workflow(
                loaded.workflow,
                plugins=PLUGINS,
                store=store,
                observers=[run.observe],
                task_status=task_status,
                **kw,
            )

        run.handle = await nursery.start(inner)
        task_status.started()

    await nursery.start(go)
    return run


def _decide(store: SqliteStore, run: Run, *, approved: bool, by: str, reason: str = "") -> None:
    (request,) = run.of("approval_requested")
    decision = ApprovalDecision(
        run_id=run.handle.run_id, step_id=request.step_id, request=request.seq,
        approved=approved, by=by, reason=reason, decided_at=time.time(),
    )  # fmt: skip
    assert store.record_decision(decision)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    yield opened
    opened.close()


async def test_approved_gate_queues_the_step(store: SqliteStore, autojump_clock: Any) -> None:
    """The gate opens after the needs, with the prompt rendered; approval runs the step."""
    gate = {"prompt": "Publish ${{ steps.draft.output }}?", "approvers": ["alice"]}
    async with trio.open_nursery() as nursery:
        run = await _start(nursery, _workflow(gate), store)
        request = await run.until("approval_requested")
        assert isinstance(request, ev.ApprovalRequested)
        assert (request.step_id, request.prompt, request.approvers) == (
            "publish", "Publish draft?", ("alice",),
        )  # fmt: skip
        assert request.expires_at is None
        assert run.handle.step_status("publish") == "approval"
        _decide(store, run, approved=True, by="alice", reason="ship it")
    assert run.result is not None
    assert run.result.status == "succeeded"
    (decided,) = run.of("approval_decided")
    assert isinstance(decided, ev.ApprovalDecided)
    assert (decided.approved, decided.by, decided.reason) == (True, "alice", "ship it")
    kinds = [(e.kind, getattr(e, "step_id", None)) for e in run.events]
    assert kinds.index(("approval_decided", "publish")) < kinds.index(("step_ready", "publish"))
    journaled = [e["kind"] for e in store.read_events(run.handle.run_id)]
    assert "approval_requested" in journaled
    assert "approval_decided" in journaled


async def test_rejection_fails_the_step_and_skips_dependents(
    store: SqliteStore, autojump_clock: Any
) -> None:
    """Rejected: approval_decided (false, by, reason), the step fails, its dependents skip."""
    async with trio.open_nursery() as nursery:
        run = await _start(nursery, _workflow({"prompt": "Go?"}), store)
        await run.until("approval_requested")
        _decide(store, run, approved=False, by="bob", reason="typo in the title")
    assert run.result is not None
    assert run.result.status == "failed"
    publish, announce = run.result.steps["publish"], run.result.steps["announce"]
    assert publish.status == "failed"
    assert announce.status == "skipped"
    (failed,) = [e for e in run.of("step_failed") if e.step_id == "publish"]
    assert failed.error_type == "ApprovalRejected"
    assert failed.message == "approval rejected by bob: typo in the title"
    (decided,) = run.of("approval_decided")
    assert (decided.approved, decided.by, decided.reason) == (False, "bob", "typo in the title")
    assert not [e for e in run.of("attempt_started") if e.step_id == "publish"]


async def test_timeout_fails_the_step(autojump_clock: Any) -> None:
    """An undecided gate times out: decided by "timeout", the step fails ApprovalTimedOut."""
    async with trio.open_nursery() as nursery:
        run = await _start(nursery, _workflow({"prompt": "Go?", "timeout": "1s"}), None)
        request = await run.until("approval_requested")
        assert request.expires_at == pytest.approx(time.time() + 1.0, abs=1.0)
    assert run.result is not None
    assert run.result.steps["publish"].status == "failed"
    assert run.result.steps["announce"].status == "skipped"
    (decided,) = run.of("approval_decided")
    assert (decided.approved, decided.by) == (False, "timeout")
    (failed,) = [e for e in run.of("step_failed") if e.step_id == "publish"]
    assert failed.error_type == "ApprovalTimedOut"


async def test_a_waiting_gate_holds_no_slot(store: SqliteStore, autojump_clock: Any) -> None:
    """With concurrency 1 and an agent of max_concurrent 1, another step runs while a gate waits."""
    data = _workflow({"prompt": "Go?"}, other=True, concurrency=1)
    async with trio.open_nursery() as nursery:
        run = await _start(nursery, data, store)
        await run.until("approval_requested")
        await run.until("step_succeeded", "other")
        assert not run.of("approval_decided")
        _decide(store, run, approved=True, by="carol")
    assert run.result is not None
    assert run.result.status == "succeeded"


async def test_a_decision_by_someone_not_listed_is_ignored(
    store: SqliteStore, autojump_clock: Any
) -> None:
    """The run applies only decisions by a listed approver, even one written to the store."""
    gate = {"prompt": "Go?", "approvers": ["alice"], "timeout": "30s"}
    async with trio.open_nursery() as nursery:
        run = await _start(nursery, _workflow(gate), store)
        await run.until("approval_requested")
        _decide(store, run, approved=True, by="mallory")
        await trio.sleep(3 * APPROVAL_CHECK_INTERVAL)
        assert not run.of("approval_decided")
    assert run.result is not None
    (decided,) = run.of("approval_decided")
    assert decided.by == "timeout"


async def test_a_gate_not_reached_asks_nothing(autojump_clock: Any) -> None:
    """A gated step skipped by its when: never opens its gate."""
    data = _workflow({"prompt": "Go?"})
    data["steps"]["publish"]["when"] = "false"
    async with trio.open_nursery() as nursery:
        run = await _start(nursery, data, None)
    assert run.result is not None
    assert run.result.steps["publish"].status == "skipped"
    assert not run.of("approval_requested")


async def test_resume_keeps_the_request_and_applies_a_decision_made_meanwhile(
    store: SqliteStore, autojump_clock: Any
) -> None:
    """Cancelled while waiting, approved meanwhile: the resume applies it without asking again."""
    data = _workflow({"prompt": "Go?", "timeout": "1h"})
    async with trio.open_nursery() as nursery:
        run = await _start(nursery, data, store)
        request = await run.until("approval_requested")
        run.handle.cancel("stopped for the night")
    assert run.result is not None
    assert run.result.status == "cancelled"
    _decide(store, run, approved=True, by="dave", reason="morning")
    loaded = cadenza.load_workflow_data(data, plugins=PLUGINS)
    plan = plan_resume(store, run.handle.run_id, loaded.workflow)
    async with trio.open_nursery() as nursery:
        again = await _start(nursery, data, store, resume=plan)
    assert again.result is not None
    assert again.result.status == "succeeded"
    assert not again.of("approval_requested"), "the journaled request is reused"
    (decided,) = again.of("approval_decided")
    assert (decided.by, decided.reason) == ("dave", "morning")
    events = store.read_events(run.handle.run_id)
    requests = [e for e in events if e["kind"] == "approval_requested"]
    assert [r["seq"] for r in requests] == [request.seq]


async def test_resume_of_an_approved_step_does_not_ask_again(
    store: SqliteStore, autojump_clock: Any
) -> None:
    """A step approved, then failed for another reason, reruns on resume without a new gate."""
    agent = ScriptedAgent("t", [cadenza.PermanentError("down"), {"ok": 1}])
    plugins = load_plugins(extra=[scripted_agent_kind(agent)], entry_points=False)
    data = {
        "name": "approved-once",
        "agents": {"t": {"kind": "scripted"}},
        "steps": {"publish": {"uses": "t", "approval": "Go?"}},
    }
    loaded = cadenza.load_workflow_data(data, plugins=plugins)
    watched = Run()

    async def decide_when_asked() -> None:
        request = await watched.until("approval_requested")
        store.record_decision(
            ApprovalDecision(
                run_id=request.run_id, step_id="publish", request=request.seq, approved=True,
                by="erin", decided_at=time.time(),
            )
        )  # fmt: skip

    async with trio.open_nursery() as nursery:
        nursery.start_soon(decide_when_asked)
        first = await cadenza.run_workflow(
            loaded.workflow, plugins=plugins, store=store, observers=[watched.observe]
        )
    assert first.status == "failed"
    plan = plan_resume(store, first.run_id, loaded.workflow)
    again: list[ev.Event] = []
    second = await cadenza.run_workflow(
        loaded.workflow, plugins=plugins, store=store, resume=plan, observers=[again.append]
    )
    assert second.status == "succeeded"
    assert not [e for e in again if e.kind.startswith("approval_")]


async def test_resume_after_the_gate_expired_times_it_out_at_once(
    store: SqliteStore, autojump_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journaled expires_at holds across a restart: past it, the resumed gate times out."""
    data = _workflow({"prompt": "Go?", "timeout": "1h"})
    async with trio.open_nursery() as nursery:
        run = await _start(nursery, data, store)
        request = await run.until("approval_requested")
        run.handle.cancel("stopped for the night")

    # The wall clock two hours on, as the gates module reads it.
    later = types.SimpleNamespace(
        time=lambda: time.time() + 7200, strftime=time.strftime, gmtime=time.gmtime
    )
    monkeypatch.setattr(approvals_module, "time", later)
    loaded = cadenza.load_workflow_data(data, plugins=PLUGINS)
    plan = plan_resume(store, run.handle.run_id, loaded.workflow)
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        again = await _start(nursery, data, store, resume=plan)
    assert trio.current_time() - started < 60, "it did not wait for a new hour"
    assert again.result is not None
    assert again.result.steps["publish"].status == "failed"
    assert not again.of("approval_requested")
    (decided,) = again.of("approval_decided")
    assert decided.by == "timeout"
    assert request.expires_at is not None
