"""Several coordinators on one Postgres journal: `cadenza submit`, two `cadenza worker` processes.

The agent is a loopback seed-protocol server in this (the test) process, so it
outlives a worker killed with SIGKILL and records every call with its run and
idempotency key. Workers are real ``python -m cadenza worker`` subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from cadenza_postgres import PostgresStore

from cadenza.testing import Ok, SeedAgentServer, SeedCall

pytestmark = pytest.mark.slow

HANG_GUARD = 180
STEPS = ("a", "b", "c")
LEASE = "2"

FLOW = """\
name: queued
agents:
  remote: {kind: http, options: {endpoint: "${SEED_ENDPOINT}", timeout: 60s}}
steps:
  a: {uses: remote, with: {step: a}}
  b: {uses: remote, needs: [a], with: {step: b, prev: "${{ steps.a.output.n }}"}}
  c: {uses: remote, needs: [b], with: {step: c, prev: "${{ steps.b.output.n }}"}}
"""


@attrs.define(eq=False)
class Agent:
    """Answers each call after ``delay`` seconds; ``calls`` are (run, step, key, arrival)."""

    delay: float = 0.05
    calls: list[tuple[str, str, str, float]] = attrs.field(factory=list)

    async def __call__(self, call: SeedCall) -> Ok:
        run_id = call.headers.get("x-cadenza-run", "")
        step = call.json["data"]["step"]
        self.calls.append((run_id, step, call.idempotency_key or "", trio.current_time()))
        await trio.sleep(self.delay)
        return Ok({"output": {"n": len(self.calls)}})

    def keys(self) -> dict[tuple[str, str], Counter[str]]:
        """Per (run, step): how many calls each idempotency key got."""
        out: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for run_id, step, key, _ in self.calls:
            out[run_id, step][key] += 1
        return out


@attrs.define(eq=False)
class Cluster:
    project: Path
    url: str
    server: SeedAgentServer
    agent: Agent

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update({"SEED_ENDPOINT": self.server.url, "NO_PROXY": "127.0.0.1"})
        return env

    async def cadenza(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        with trio.fail_after(HANG_GUARD):
            return await trio.run_process(
                [sys.executable, "-m", "cadenza", *args],
                cwd=self.project,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                env=self.env(),
            )

    async def submit(self, count: int) -> list[str]:
        done = await self.cadenza("submit", "flow.yaml", "--count", str(count), "--store", self.url)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode().split()

    async def start_worker(self, name: str) -> trio.Process:
        with (self.project / f"{name}.log").open("wb") as log:  # the child keeps its copy
            return await trio.lowlevel.open_process(
                [
                    sys.executable, "-m", "cadenza", "worker", "--store", self.url,
                    "--name", name, "--lease", LEASE, "--concurrency", "2", "--exit-when-idle",
                ],
                cwd=self.project, stdout=log, stderr=log, env=self.env(),
            )  # fmt: skip

    def log(self, name: str) -> str:
        return (self.project / f"{name}.log").read_text()

    async def store_call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            store = PostgresStore(self.url)
            try:
                return fn(store, *args, **kwargs)
            finally:
                store.close()

        return await trio.to_thread.run_sync(call)


@pytest.fixture
async def cluster(tmp_path: Path, database_url: str) -> AsyncIterator[Cluster]:
    (tmp_path / "flow.yaml").write_text(FLOW)
    agent = Agent()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(SeedAgentServer(handler=agent).serve)
        yield Cluster(tmp_path, database_url, server, agent)
        nursery.cancel_scope.cancel()


async def wait_exit(proc: trio.Process, name: str, cluster: Cluster) -> None:
    with trio.fail_after(HANG_GUARD):
        code = await proc.wait()
    assert code == 0, cluster.log(name)


def successes(store: PostgresStore, run_id: str) -> Counter[str]:
    return Counter(e["step_id"] for e in store.read_events(run_id) if e["kind"] == "step_succeeded")


def finished_runs(store: PostgresStore, run_ids: list[str]) -> dict[str, Any]:
    """Per run: its queue row, record, successes per step and run_finished count."""
    out = {}
    for run_id in run_ids:
        events = store.read_events(run_id)
        out[run_id] = {
            "queue": store.get_queued(run_id),
            "record": store.get_run(run_id),
            "successes": Counter(e["step_id"] for e in events if e["kind"] == "step_succeeded"),
            "finished": sum(e["kind"] == "run_finished" for e in events),
            "resumed": sum(e["kind"] == "run_resumed" for e in events),
        }
    return out


async def test_two_workers_run_fifty_queued_runs_each_exactly_once(cluster: Cluster) -> None:
    """50 runs submitted with `cadenza submit`, two workers: every run done once, every step
    succeeded once and was called once, and `cadenza runs` names the worker of each run."""
    run_ids = await cluster.submit(50)
    assert len(set(run_ids)) == 50
    first = await cluster.start_worker("alpha")
    second = await cluster.start_worker("beta")
    await wait_exit(first, "alpha", cluster)
    await wait_exit(second, "beta", cluster)

    runs = await cluster.store_call(finished_runs, run_ids)
    for run_id, run in runs.items():
        assert run["queue"].state == "done", run_id
        assert run["queue"].attempts == 1
        assert run["record"].status == "succeeded"
        assert run["successes"] == Counter(STEPS)
        assert run["finished"] == 1
    keys = cluster.agent.keys()
    assert sorted(keys) == sorted((r, s) for r in run_ids for s in STEPS)
    assert all(list(counted.values()) == [1] for counted in keys.values())
    by_worker = Counter(run["queue"].worker for run in runs.values())
    assert set(by_worker) == {"alpha", "beta"}, by_worker  # both took part

    listed = await cluster.cadenza("runs", "--store", cluster.url, "--json", "--limit", "50")
    assert listed.returncode == 0, listed.stderr.decode()
    shown = {r["run_id"]: r for r in json.loads(listed.stdout)}
    assert sorted(shown) == sorted(run_ids)
    assert {r["worker"] for r in shown.values()} == {"alpha", "beta"}
    assert all(r["queue_state"] == "done" for r in shown.values())
    table = await cluster.cadenza("runs", "--store", cluster.url, "--limit", "5")
    assert "WORKER" in table.stdout.decode()


async def test_a_killed_workers_runs_are_taken_over_without_rerunning_successes(
    cluster: Cluster,
) -> None:
    """kill -9 of a worker mid-run: after its lease expires the other worker resumes its runs;
    no journaled success is called again, and only in-flight calls repeat, with their key."""
    cluster.agent.delay = 0.3
    run_ids = await cluster.submit(12)
    victim = await cluster.start_worker("victim")

    # Kill the victim once it holds a run with a journaled success and more to do.
    def victim_mid_run(store: PostgresStore) -> str | None:
        for held in store.list_queue(limit=50, state="claimed"):
            done = successes(store, held.run_id)
            if held.worker == "victim" and done and len(done) < len(STEPS):
                return held.run_id
        return None

    with trio.fail_after(HANG_GUARD):
        # Another process's progress, seen only through the database: polled.
        while (mid := await cluster.store_call(victim_mid_run)) is None:  # noqa: ASYNC110
            await trio.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    await victim.wait()
    killed_at = trio.current_time()
    held = await cluster.store_call(
        lambda s: [q.run_id for q in s.list_queue(limit=50, state="claimed")]
    )
    assert mid in held
    journaled = {
        run_id: set(await cluster.store_call(successes, run_id)) for run_id in held
    }  # what the victim made durable: never to be called again
    started = {r for r in held if await cluster.store_call(PostgresStore.get_run, r) is not None}

    survivor = await cluster.start_worker("survivor")
    await wait_exit(survivor, "survivor", cluster)

    runs = await cluster.store_call(finished_runs, run_ids)
    for run_id, run in runs.items():
        assert run["queue"].state == "done", (run_id, cluster.log("survivor"))
        assert run["record"].status == "succeeded"
        assert run["successes"] == Counter(STEPS), run_id  # each step succeeded once
        assert run["finished"] == 1
    for run_id in held:  # taken over: claimed twice, resumed once, by the survivor
        assert runs[run_id]["queue"].attempts == 2
        assert runs[run_id]["queue"].worker == "survivor"
        assert runs[run_id]["resumed"] == (1 if run_id in started else 0)
    assert "taken over" in cluster.log("survivor")
    for (run_id, step), counted in cluster.agent.keys().items():
        assert len(counted) == 1, (run_id, step, counted)  # one idempotency key per step
        if run_id in journaled and step in journaled[run_id]:
            late = [c for c in cluster.agent.calls if c[:2] == (run_id, step) and c[3] > killed_at]
            assert late == [], f"{run_id}/{step} succeeded before the kill and was called again"
        elif sum(counted.values()) > 1:  # repeated: only a call in flight at the kill
            assert run_id in held, (run_id, step)


GATED = """\
name: gated
agents:
  remote: {kind: http, options: {endpoint: "${SEED_ENDPOINT}", timeout: 60s}}
steps:
  a: {uses: remote, with: {step: a}}
  publish: {uses: remote, needs: [a], approval: "Publish?", with: {step: publish}}
"""


async def test_submit_of_a_bad_file_exits_2_and_queues_nothing(cluster: Cluster) -> None:
    """An invalid workflow is reported with file:line and exit 2; the queue stays empty."""
    (cluster.project / "bad.yaml").write_text(FLOW.replace("needs: [a]", "needs: [nope]"))
    done = await cluster.cadenza("submit", "bad.yaml", "--store", cluster.url)
    assert done.returncode == 2
    assert "bad.yaml:" in done.stderr.decode()
    assert done.stdout == b""
    assert await cluster.store_call(lambda s: s.list_queue()) == []


async def test_cancel_and_approve_reach_runs_on_a_worker(cluster: Cluster) -> None:
    """A queued run is cancelled before it starts; of two runs waiting at an approval gate on
    a worker, `cadenza approve` from another process lets one finish, `cadenza cancel` stops
    the other; the queue records each outcome."""
    (cluster.project / "gated.yaml").write_text(GATED)
    dropped = (await cluster.submit(1))[0]
    cancelled = await cluster.cadenza("cancel", dropped, "--store", cluster.url)
    assert cancelled.returncode == 0, cancelled.stderr.decode()
    assert "cancelled before any worker started it" in cancelled.stdout.decode()
    done = await cluster.cadenza("submit", "gated.yaml", "--count", "2", "--store", cluster.url)
    approved, stopped = done.stdout.decode().split()
    proc = await cluster.start_worker("gatekeeper")

    def waiting_at_gate(store: PostgresStore) -> bool:
        return all(
            any(e["kind"] == "approval_requested" for e in store.read_events(run_id))
            for run_id in (approved, stopped)
        )

    with trio.fail_after(HANG_GUARD):
        while not await cluster.store_call(waiting_at_gate):  # noqa: ASYNC110 (another process)
            await trio.sleep(0.05)
    listed = await cluster.cadenza("runs", "--store", cluster.url, "--json")
    shown = {r["run_id"]: r for r in json.loads(listed.stdout)}
    assert shown[approved]["worker"] == "gatekeeper"
    assert shown[approved]["status"] == "running"
    assert shown[dropped]["status"] == "cancelled"
    yes = await cluster.cadenza("approve", approved, "publish", "--store", cluster.url)
    assert yes.returncode == 0, yes.stderr.decode()
    no = await cluster.cadenza("cancel", stopped, "--store", cluster.url, "--wait")
    assert no.returncode == 0, no.stderr.decode()
    await wait_exit(proc, "gatekeeper", cluster)

    def outcome(store: PostgresStore, run_id: str) -> tuple[str, str]:
        return store.get_queued(run_id).state, store.get_run(run_id).status

    assert await cluster.store_call(outcome, approved) == ("done", "succeeded")
    assert await cluster.store_call(outcome, stopped) == ("cancelled", "cancelled")
    assert [call for call in cluster.agent.calls if call[0] == dropped] == []
    assert [s for r, s, _, _ in cluster.agent.calls if r == approved] == ["a", "publish"]
