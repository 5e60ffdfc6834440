"""WorkerTakeoverConformance: workers on your store take over a dead worker's runs.

:class:`~cadenza.testing.RunQueueConformance` proves the queue's operations in
one process; this suite proves what they are for, with real processes: two
``python -m cadenza worker`` subprocesses on one store, one killed with
SIGKILL (or stopped with SIGTERM) in the middle of a run. Subclass it and give
the store's URL and how to open it::

    class TestMyTakeover(cadenza.testing.WorkerTakeoverConformance):
        @pytest.fixture
        def store_url(self, tmp_path):
            return f"mystore://{tmp_path}/journal"

        def open_store(self, url):
            return MyStore(url)

The workers are separate interpreters, so the plugin that registers the
store's URL scheme must be installed (its entry point found) where the tests
run. ``child_env`` adds environment variables for them. What the suite pins:

* after SIGKILL, once the lease expires, the survivor claims the victim's
  runs (attempt 2), resumes those that had started (one ``run_resumed``) and
  finishes every run once; no step whose success
  was journaled before the kill is called again; a repeated call (one that was
  in flight) keeps its idempotency key;
* after SIGTERM, the worker gives its runs back (queued again, no lease to
  wait for), exits 130, and the next worker finishes them without re-running
  a journaled success.

Each test takes a few seconds (real processes and a lease): mark the subclass's
module ``pytestmark = pytest.mark.slow`` if your suite separates slow tests.

.. versionadded:: 0.2
"""

from __future__ import annotations

import signal
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
import trio

from .._journal._queue import SupportsRunQueue
from .._journal._store import Store
from ._seed_server import SeedAgentServer
from ._workers import CallLog, WorkerHarness, successes

STEPS = ("a", "b", "c")

FLOW = """\
name: queued
agents:
  remote: {kind: http, options: {endpoint: "${SEED_ENDPOINT}", timeout: 60s}}
steps:
  a: {uses: remote, with: {step: a}}
  b: {uses: remote, needs: [a], with: {step: b, prev: "${{ steps.a.output.n }}"}}
  c: {uses: remote, needs: [b], with: {step: c, prev: "${{ steps.b.output.n }}"}}
"""


def _claimed_mid_run(store: Store, worker: str | None) -> str | None:
    """A run claimed (by ``worker``, or anyone) with a journaled success and steps to go."""
    assert isinstance(store, SupportsRunQueue)
    for held in store.list_queue(limit=100, state="claimed"):
        done = successes(store, held.run_id)
        if (worker is None or held.worker == worker) and done and len(done) < len(STEPS):
            return held.run_id
    return None


def _claimed(store: Store) -> list[str]:
    assert isinstance(store, SupportsRunQueue)
    return [q.run_id for q in store.list_queue(limit=100, state="claimed")]


def _outcome(store: Store, run_id: str) -> tuple[str, str, int, Counter[str]]:
    """(queue state, run status, claim attempts, successes per step) of ``run_id``."""
    assert isinstance(store, SupportsRunQueue)
    row = store.get_queued(run_id)
    record = store.get_run(run_id)
    assert row is not None, run_id
    assert record is not None, run_id
    return row.state, record.status, row.attempts, successes(store, run_id)


def _started(store: Store, run_id: str) -> bool:
    return store.get_run(run_id) is not None


def _count(store: Store, run_id: str, kind: str) -> int:
    return sum(e["kind"] == kind for e in store.read_events(run_id))


def _holder(store: Store, run_id: str) -> tuple[str, str, int]:
    assert isinstance(store, SupportsRunQueue)
    row = store.get_queued(run_id)
    assert row is not None, run_id
    return row.state, row.worker, row.attempts


class WorkerTakeoverConformance:
    """Subclass with a ``store_url`` fixture and :meth:`open_store` (see the module doc)."""

    lease: float = 1.0
    """Seconds of each worker's lease: how long a killed worker's runs wait for takeover."""

    workflow: str = FLOW
    """The workflow the suite submits: a chain ``a -> b -> c`` of calls to ``${SEED_ENDPOINT}``
    (a :class:`~cadenza.testing.CallLog` server), each sending ``{step: <id>}``."""

    steps: tuple[str, ...] = STEPS

    @pytest.fixture
    def store_url(self) -> str:
        raise NotImplementedError("override the store_url fixture: your store's URL for a test")

    def open_store(self, url: str) -> Store:
        """Open your store at ``url`` in the test process (to read what the workers did)."""
        raise NotImplementedError("override open_store(url) to open your store")

    def child_env(self) -> Mapping[str, str]:
        """Environment variables added for the ``cadenza`` subprocesses."""
        return {}

    @pytest.fixture
    async def workers(self, tmp_path: Path, store_url: str) -> AsyncIterator[WorkerHarness]:
        (tmp_path / "flow.yaml").write_text(self.workflow)
        log = CallLog(delay=0.3)
        async with trio.open_nursery() as nursery:
            server = await nursery.start(SeedAgentServer(handler=log).serve)
            env = {**self.child_env(), "SEED_ENDPOINT": server.url}
            yield WorkerHarness(tmp_path, store_url, self.open_store, env, log)
            nursery.cancel_scope.cancel()

    async def test_a_killed_workers_runs_are_taken_over(self, workers: WorkerHarness) -> None:
        log = workers.calls
        run_ids = await workers.submit("flow.yaml", 8)
        victim = await workers.start_worker("victim", lease=self.lease)
        await workers.wait_for(_claimed_mid_run, "victim")
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        killed_at = trio.current_time()
        held = await workers.read(_claimed)
        journaled = {run_id: set(await workers.read(successes, run_id)) for run_id in held}
        assert any(journaled.values()), "the victim was killed before any success was journaled"
        started = [run_id for run_id in held if await workers.read(_started, run_id)]

        survivor = await workers.start_worker("survivor", lease=self.lease)
        await workers.wait_exit(survivor, "survivor")

        for run_id in run_ids:
            state, status, _, done = await workers.read(_outcome, run_id)
            assert (state, status) == ("done", "succeeded"), workers.log("survivor")
            assert done == Counter(STEPS), run_id  # each step succeeded once
        for run_id in held:  # taken over: claimed a second time, by the survivor
            assert await workers.read(_holder, run_id) == ("done", "survivor", 2)
            resumed = 1 if run_id in started else 0  # a run never started just starts
            assert await workers.read(_count, run_id, "run_resumed") == resumed, run_id
            assert await workers.read(_count, run_id, "run_finished") == 1, run_id
        assert "taken over" in workers.log("survivor")
        keys: dict[tuple[str, str], set[str]] = defaultdict(set)
        for call in log.calls:
            keys[call.run_id, call.step].add(call.key)
            if call.step in journaled.get(call.run_id, ()):
                assert call.at < killed_at, f"{call.run_id}/{call.step} journaled, called again"
        assert sorted(keys) == sorted((r, s) for r in run_ids for s in STEPS)
        assert all(len(k) == 1 for k in keys.values())  # a repeated call kept its key

    async def test_sigterm_gives_the_runs_back(self, workers: WorkerHarness) -> None:
        log = workers.calls
        run_ids = await workers.submit("flow.yaml", 4)
        first = await workers.start_worker("first", lease=self.lease)
        mid = await workers.wait_for(_claimed_mid_run, None)
        first.send_signal(signal.SIGTERM)
        await workers.wait_exit(first, "first", expect=130)
        assert f"run {mid} released" in workers.log("first")
        assert await workers.read(_holder, mid) == ("queued", "", 1)
        kept = set(await workers.read(successes, mid))
        stopped_at = trio.current_time()

        second = await workers.start_worker("second", lease=self.lease)
        await workers.wait_exit(second, "second")
        for run_id in run_ids:
            state, status, _, done = await workers.read(_outcome, run_id)
            assert (state, status) == ("done", "succeeded"), workers.log("second")
            assert done == Counter(STEPS), run_id
        assert (await workers.read(_holder, mid))[2] == 2
        late = [c for c in log.calls if c.run_id == mid and c.step in kept and c.at > stopped_at]
        assert late == []
