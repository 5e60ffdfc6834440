"""A run whose *caller* cancels it still journals its end (run_finished, cancelled steps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

import cadenza
from cadenza._journal._sqlite import SqliteStore
from cadenza._plugins._registry import load_plugins
from cadenza.testing import Delay, ScriptedAgent, scripted_agent_kind


async def test_the_callers_cancel_scope_still_journals_run_finished(tmp_path: Path) -> None:
    started = trio.Event()

    def slow(request: cadenza.AgentRequest) -> Any:
        started.set()
        return Delay(1000)

    plugins = load_plugins(
        extra=[scripted_agent_kind(ScriptedAgent("a", slow))], entry_points=False
    )
    data = {"name": "w", "agents": {"a": {"kind": "scripted"}}, "steps": {"s": {"uses": "a"}}}
    workflow = cadenza.load_workflow_data(data, plugins=plugins).workflow
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    with trio.CancelScope() as scope:  # not RunHandle.cancel(): the caller's own scope
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: cadenza.run_workflow(workflow, plugins=plugins, store=store, run_id="r")
            )
            await started.wait()
            scope.cancel()
    events = store.read_events("r")
    assert [e["kind"] for e in events][-2:] == ["step_cancelled", "run_finished"]
    record = store.get_run("r")
    assert record is not None
    assert record.status == "cancelled"
    store.close()
