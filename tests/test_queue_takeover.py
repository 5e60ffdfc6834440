"""Two `cadenza worker` processes on one SQLite journal; one killed with SIGKILL mid-run.

The kernel's own check of takeover (workers on one host need no Postgres):
the survivor resumes the victim's runs once their leases expire, no journaled
success is called again, and every step succeeds once. The agent is a
loopback seed server in the test process, so it outlives the killed worker.
"""

from __future__ import annotations

import signal
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from cadenza.store import SqliteStore
from cadenza.testing import Ok, SeedAgentServer, SeedCall

from .durability_helpers import cadenza_argv, child_env, store_url

pytestmark = pytest.mark.slow

HANG_GUARD = 120
STEPS = ("a", "b", "c")

FLOW = """\
name: queued
agents:
  remote: {kind: http, options: {endpoint: "${SEED_ENDPOINT}", timeout: 60s}}
steps:
  a: {uses: remote, with: {step: a}}
  b: {uses: remote, needs: [a], with: {step: b}}
  c: {uses: remote, needs: [b], with: {step: c}}
"""


@attrs.define(eq=False)
class Agent:
    """Answers each call after ``delay``; ``calls`` are (run, step, key, arrival)."""

    delay: float = 0.3
    calls: list[tuple[str, str, str, float]] = attrs.field(factory=list)

    async def __call__(self, call: SeedCall) -> Ok:
        run_id = call.headers.get("x-cadenza-run", "")
        self.calls.append(
            (run_id, call.json["data"]["step"], call.idempotency_key or "", trio.current_time())
        )
        await trio.sleep(self.delay)
        return Ok({"output": {"n": len(self.calls)}})


@attrs.define(eq=False)
class Setup:
    tmp: Path
    url: str
    server: SeedAgentServer
    agent: Agent

    def env(self) -> dict[str, str]:
        return child_env(SEED_ENDPOINT=self.server.url)

    async def start_worker(self, name: str) -> trio.Process:
        with (self.tmp / f"{name}.log").open("wb") as log:
            return await trio.lowlevel.open_process(
                cadenza_argv(
                    "worker", "--store", self.url, "--name", name, "--lease", "1",
                    "--concurrency", "2", "--exit-when-idle",
                ),
                cwd=self.tmp, stdout=log, stderr=log, env=self.env(),
            )  # fmt: skip

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    async def read(self, fn: Any, *args: Any) -> Any:
        def call() -> Any:
            store = SqliteStore(self.url)
            try:
                return fn(store, *args)
            finally:
                store.close()

        return await trio.to_thread.run_sync(call)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    (tmp_path / "flow.yaml").write_text(FLOW)
    agent = Agent()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(SeedAgentServer(handler=agent).serve)
        yield Setup(tmp_path, store_url(tmp_path / "journal.db"), server, agent)
        nursery.cancel_scope.cancel()


def successes(store: SqliteStore, run_id: str) -> Counter[str]:
    return Counter(e["step_id"] for e in store.read_events(run_id) if e["kind"] == "step_succeeded")


async def test_a_killed_workers_runs_are_resumed_by_the_other(setup: Setup) -> None:
    """kill -9 of a worker mid-run: the other one takes its runs over and finishes every run,
    calling no step whose success was journaled, repeating only in-flight calls, same key."""
    with trio.fail_after(HANG_GUARD):
        submitted = await trio.run_process(
            cadenza_argv("submit", "flow.yaml", "--count", "8", "--store", setup.url),
            cwd=setup.tmp, capture_stdout=True, capture_stderr=True, env=setup.env(),
        )  # fmt: skip
    run_ids = submitted.stdout.decode().split()
    victim = await setup.start_worker("victim")

    def victim_mid_run(store: SqliteStore) -> str | None:
        for held in store.list_queue(limit=50, state="claimed"):
            done = successes(store, held.run_id)
            if held.worker == "victim" and done and len(done) < len(STEPS):
                return held.run_id
        return None

    with trio.fail_after(HANG_GUARD):
        # Another process's progress, seen only through the journal: polled.
        while await setup.read(victim_mid_run) is None:  # noqa: ASYNC110
            await trio.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    await victim.wait()
    killed_at = trio.current_time()
    held = await setup.read(lambda s: [q.run_id for q in s.list_queue(state="claimed")])
    journaled = {run_id: set(await setup.read(successes, run_id)) for run_id in held}
    assert any(journaled.values())

    survivor = await setup.start_worker("survivor")
    with trio.fail_after(HANG_GUARD):
        assert await survivor.wait() == 0, setup.log("survivor")

    for run_id in run_ids:
        row = await setup.read(SqliteStore.get_queued, run_id)
        record = await setup.read(SqliteStore.get_run, run_id)
        assert (row.state, record.status) == ("done", "succeeded"), setup.log("survivor")
        assert await setup.read(successes, run_id) == Counter(STEPS)
    for run_id in held:
        row = await setup.read(SqliteStore.get_queued, run_id)
        assert (row.worker, row.attempts) == ("survivor", 2)
    keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    for run_id, step, key, at in setup.agent.calls:
        keys[run_id, step].add(key)
        if step in journaled.get(run_id, ()):
            assert at < killed_at, f"{run_id}/{step} was journaled and called again"
    assert all(len(k) == 1 for k in keys.values())  # a repeated call kept its key
    assert "taken over" in setup.log("survivor")


async def test_sigterm_gives_the_runs_back_and_another_worker_finishes_them(setup: Setup) -> None:
    """SIGTERM: the worker cancels its runs cleanly, releases them (queued again, no lease to
    wait for) and exits 130; the next worker resumes them, re-running no journaled success."""
    with trio.fail_after(HANG_GUARD):
        submitted = await trio.run_process(
            cadenza_argv("submit", "flow.yaml", "--count", "4", "--store", setup.url),
            cwd=setup.tmp, capture_stdout=True, capture_stderr=True, env=setup.env(),
        )  # fmt: skip
    run_ids = submitted.stdout.decode().split()
    first = await setup.start_worker("first")

    def mid_run(store: SqliteStore) -> str | None:
        for held in store.list_queue(limit=50, state="claimed"):
            done = successes(store, held.run_id)
            if done and len(done) < len(STEPS):
                return held.run_id
        return None

    with trio.fail_after(HANG_GUARD):
        while (mid := await setup.read(mid_run)) is None:  # noqa: ASYNC110 (another process)
            await trio.sleep(0.02)
    first.send_signal(signal.SIGTERM)
    with trio.fail_after(HANG_GUARD):
        assert await first.wait() == 130, setup.log("first")
    assert f"run {mid} released" in setup.log("first")
    row = await setup.read(SqliteStore.get_queued, mid)
    assert (row.state, row.worker) == ("queued", "")
    kept = set(await setup.read(successes, mid))
    stopped_at = trio.current_time()

    second = await setup.start_worker("second")
    with trio.fail_after(HANG_GUARD):
        assert await second.wait() == 0, setup.log("second")
    for run_id in run_ids:
        row = await setup.read(SqliteStore.get_queued, run_id)
        assert row.state == "done"
        assert await setup.read(successes, run_id) == Counter(STEPS)
    assert (await setup.read(SqliteStore.get_queued, mid)).attempts == 2
    late = [c for c in setup.agent.calls if c[0] == mid and c[1] in kept and c[3] > stopped_at]
    assert late == []
