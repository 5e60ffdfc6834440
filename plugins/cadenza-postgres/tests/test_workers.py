"""Several coordinators on one Postgres journal: `cadenza submit`, two `cadenza worker` processes.

The agent is a loopback seed-protocol server in this (the test) process, so it
outlives a worker killed with SIGKILL and records every call with its run and
idempotency key (``cadenza.testing.CallLog``). Workers are real ``python -m
cadenza worker`` subprocesses (``cadenza.testing.WorkerHarness``); kill -9 and
SIGTERM takeover is the kernel's ``WorkerTakeoverConformance``, run on Postgres.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from cadenza_postgres import PostgresStore

from cadenza.store import Store
from cadenza.testing import CallLog, SeedAgentServer, WorkerHarness, WorkerTakeoverConformance

pytestmark = pytest.mark.slow

LEASE = "2"
FLOW = WorkerTakeoverConformance.workflow  # a -> b -> c, each call sending {step: <id>}
STEPS = WorkerTakeoverConformance.steps


@pytest.fixture
async def cluster(tmp_path: Path, database_url: str) -> AsyncIterator[WorkerHarness]:
    (tmp_path / "flow.yaml").write_text(FLOW)
    calls = CallLog()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(SeedAgentServer(handler=calls).serve)
        env = {"SEED_ENDPOINT": server.url}
        yield WorkerHarness(tmp_path, database_url, PostgresStore, env, calls)
        nursery.cancel_scope.cancel()


class TestPostgresTakeover(WorkerTakeoverConformance):
    """kill -9 and SIGTERM of a worker mid-run: the kernel's suite, on Postgres."""

    lease = float(LEASE)

    @pytest.fixture
    def store_url(self, database_url: str) -> str:
        return database_url

    def open_store(self, url: str) -> Store:
        return PostgresStore(url)


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


async def test_two_workers_run_fifty_queued_runs_each_exactly_once(cluster: WorkerHarness) -> None:
    """50 runs submitted with `cadenza submit`, two workers: every run done once, every step
    succeeded once and was called once, and `cadenza runs` names the worker of each run."""
    run_ids = await cluster.submit("flow.yaml", 50)
    assert len(set(run_ids)) == 50
    first = await cluster.start_worker("alpha", lease=float(LEASE))
    second = await cluster.start_worker("beta", lease=float(LEASE))
    await cluster.wait_exit(first, "alpha")
    await cluster.wait_exit(second, "beta")

    runs = await cluster.read(finished_runs, run_ids)
    for run_id, run in runs.items():
        assert run["queue"].state == "done", run_id
        assert run["queue"].attempts == 1
        assert run["record"].status == "succeeded"
        assert run["successes"] == Counter(STEPS)
        assert run["finished"] == 1
    keys = cluster.calls.keys()
    assert sorted(keys) == sorted((r, s) for r in run_ids for s in STEPS)
    assert all(list(counted.values()) == [1] for counted in keys.values())
    by_worker = Counter(run["queue"].worker for run in runs.values())
    assert set(by_worker) == {"alpha", "beta"}, by_worker  # both took part

    listed = await cluster.cadenza("runs", "--store", cluster.store_url, "--json", "--limit", "50")
    assert listed.returncode == 0, listed.stderr.decode()
    shown = {r["run_id"]: r for r in json.loads(listed.stdout)}
    assert sorted(shown) == sorted(run_ids)
    assert {r["worker"] for r in shown.values()} == {"alpha", "beta"}
    assert all(r["queue_state"] == "done" for r in shown.values())
    table = await cluster.cadenza("runs", "--store", cluster.store_url, "--limit", "5")
    assert "WORKER" in table.stdout.decode()


GATED = """\
name: gated
agents:
  remote: {kind: http, options: {endpoint: "${SEED_ENDPOINT}", timeout: 60s}}
steps:
  a: {uses: remote, with: {step: a}}
  publish: {uses: remote, needs: [a], approval: "Publish?", with: {step: publish}}
"""


async def test_submit_of_a_bad_file_exits_2_and_queues_nothing(cluster: WorkerHarness) -> None:
    """An invalid workflow is reported with file:line and exit 2; the queue stays empty."""
    (cluster.project / "bad.yaml").write_text(FLOW.replace("needs: [a]", "needs: [nope]"))
    done = await cluster.cadenza("submit", "bad.yaml", "--store", cluster.store_url)
    assert done.returncode == 2
    assert "bad.yaml:" in done.stderr.decode()
    assert done.stdout == b""
    assert await cluster.read(lambda s: s.list_queue()) == []


async def test_cancel_and_approve_reach_runs_on_a_worker(cluster: WorkerHarness) -> None:
    """A queued run is cancelled before it starts; of two runs waiting at an approval gate on
    a worker, `cadenza approve` from another process lets one finish, `cadenza cancel` stops
    the other; the queue records each outcome."""
    (cluster.project / "gated.yaml").write_text(GATED)
    dropped = (await cluster.submit("flow.yaml", 1))[0]
    cancelled = await cluster.cadenza("cancel", dropped, "--store", cluster.store_url)
    assert cancelled.returncode == 0, cancelled.stderr.decode()
    assert "cancelled before any worker started it" in cancelled.stdout.decode()
    done = await cluster.cadenza(
        "submit", "gated.yaml", "--count", "2", "--store", cluster.store_url
    )
    approved, stopped = done.stdout.decode().split()
    proc = await cluster.start_worker("gatekeeper", lease=float(LEASE))

    def waiting_at_gate(store: PostgresStore) -> bool:
        return all(
            any(e["kind"] == "approval_requested" for e in store.read_events(run_id))
            for run_id in (approved, stopped)
        )

    await cluster.wait_for(waiting_at_gate, every=0.05)
    listed = await cluster.cadenza("runs", "--store", cluster.store_url, "--json")
    shown = {r["run_id"]: r for r in json.loads(listed.stdout)}
    assert shown[approved]["worker"] == "gatekeeper"
    assert shown[approved]["status"] == "running"
    assert shown[dropped]["status"] == "cancelled"
    yes = await cluster.cadenza("approve", approved, "publish", "--store", cluster.store_url)
    assert yes.returncode == 0, yes.stderr.decode()
    no = await cluster.cadenza("cancel", stopped, "--store", cluster.store_url, "--wait")
    assert no.returncode == 0, no.stderr.decode()
    await cluster.wait_exit(proc, "gatekeeper")

    def outcome(store: PostgresStore, run_id: str) -> tuple[str, str]:
        return store.get_queued(run_id).state, store.get_run(run_id).status

    assert await cluster.read(outcome, approved) == ("done", "succeeded")
    assert await cluster.read(outcome, stopped) == ("cancelled", "cancelled")
    assert [call for call in cluster.calls.calls if call.run_id == dropped] == []
    assert [c.step for c in cluster.calls.calls if c.run_id == approved] == ["a", "publish"]
