"""The worker loop in-process on an SQLite queue: a lost lease stops the run, stop releases it.

The agent is a loopback seed server in the test's own trio loop, holding the
second step's call until the test lets it go, so each test acts while a step
is in flight.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
import trio

from cadenza._plugins._registry import load_plugins
from cadenza._workers._loop import Worker
from cadenza.store import QueueEntry, SqliteStore
from cadenza.testing import Ok, SeedAgentServer, SeedCall

GUARD = 30.0
"""Seconds before a wait gives up: a hang guard, never a timing assertion."""

FLOW = """\
name: held
agents:
  remote: {kind: http, options: {endpoint: "ENDPOINT", timeout: 60s}}
steps:
  a: {uses: remote, with: {step: a}}
  b: {uses: remote, needs: [a], with: {step: b}}
"""


@attrs.define(eq=False)
class Agent:
    """Answers at once, except step ``b`` while ``hold`` is set (``b_arrived`` fires)."""

    hold: bool = True
    calls: list[str] = attrs.field(factory=list)
    b_arrived: trio.Event = attrs.field(factory=trio.Event)
    gate: trio.Event = attrs.field(factory=trio.Event)

    async def __call__(self, call: SeedCall) -> Ok:
        step = call.json["data"]["step"]
        self.calls.append(step)
        if step == "b" and self.hold:
            self.b_arrived.set()
            await self.gate.wait()
        return Ok({"output": {"step": step}})


@attrs.define(eq=False)
class Setup:
    store: SqliteStore
    agent: Agent
    path: Path
    lines: list[str] = attrs.field(factory=list)
    said: trio.Event = attrs.field(factory=trio.Event)

    def report(self, line: str) -> None:
        self.lines.append(line)
        self.said.set()

    async def wait_said(self, text: str) -> None:
        with trio.fail_after(GUARD):
            while not any(text in line for line in self.lines):
                await self.said.wait()
                self.said = trio.Event()

    def worker(self, name: str, **options: object) -> Worker:
        return Worker(
            store=self.store,
            plugins=load_plugins(entry_points=False),
            name=name,
            report=self.report,
            output_dir=str(self.path.parent / "out" / "{run_id}"),
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    agent = Agent()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(SeedAgentServer(handler=agent).serve)
        path = tmp_path / "flow.yaml"
        source = FLOW.replace("ENDPOINT", server.url)
        path.write_text(source)
        store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
        store.submit(
            QueueEntry(
                run_id="r1", path=str(path), source=source, workflow="held",
                submitted_at=time.time(),
            )
        )  # fmt: skip
        try:
            yield Setup(store, agent, path)
        finally:
            agent.gate.set()
            nursery.cancel_scope.cancel()
            store.close()


async def test_a_lost_lease_stops_the_run_and_it_writes_nothing_more(setup: Setup) -> None:
    """Once another worker holds the run, the first one's renewal fails: it cancels the run
    locally, and nothing it tries to write (cancelled steps, run_finished) reaches the journal."""
    worker = setup.worker("w1", lease=0.3)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker.serve)
        with trio.fail_after(GUARD):
            await setup.agent.b_arrived.wait()
        held = setup.store.get_queued("r1")
        assert held is not None
        assert held.worker == "w1"
        setup.store.release(held.fence)  # as a takeover after expiry would: a new claim
        thief = setup.store.claim("thief", lease_seconds=3600)
        assert thief is not None
        before = setup.store.read_events("r1")
        await setup.wait_said("lease lost")
        worker.stop()
    after = setup.store.read_events("r1")
    assert after == before
    assert "run_finished" not in {e["kind"] for e in after}
    row = setup.store.get_queued("r1")
    assert row is not None
    assert (row.state, row.worker, row.token) == ("claimed", "thief", thief.token)


async def test_stop_releases_the_run_and_another_worker_resumes_it_at_once(setup: Setup) -> None:
    """stop() cancels the local run and gives it back; the next worker resumes it without
    calling the step that had succeeded, and finishes it."""
    first = setup.worker("w1", lease=60)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(first.serve)
        with trio.fail_after(GUARD):
            await setup.agent.b_arrived.wait()
        first.stop()
    await setup.wait_said("released")
    row = setup.store.get_queued("r1")
    assert row is not None
    assert (row.state, row.worker) == ("queued", "")
    setup.agent.hold = False
    second = setup.worker("w2", lease=60, exit_when_idle=True)
    with trio.fail_after(GUARD):
        await second.serve()
    row = setup.store.get_queued("r1")
    assert row is not None
    assert (row.state, row.worker, row.attempts) == ("done", "w2", 2)
    record = setup.store.get_run("r1")
    assert record is not None
    assert record.status == "succeeded"
    assert setup.agent.calls == ["a", "b", "b"]  # a kept; b was in flight, so called again
    kinds = [e["kind"] for e in setup.store.read_events("r1")]
    assert kinds.count("run_resumed") == 1
