"""RunQueueConformance: the tests a store implementing the run queue must pass.

For stores that implement :class:`~cadenza.store.SupportsRunQueue` (what
``cadenza submit`` and ``cadenza worker`` need). Subclass it beside
:class:`~cadenza.testing.StoreConformance`, with the same ``store`` fixture::

    class TestMyQueue(cadenza.testing.RunQueueConformance):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(f"mystore://{tmp_path}")

The store closes at the end of each test. What the suite pins:

* ``claim`` takes the oldest ``queued`` run, or a ``claimed`` one whose lease
  expired (a takeover), incrementing ``token`` and ``attempts``; a run under a
  live lease, and a finished run, are never claimed; concurrent claimers
  never get the same run;
* ``renew``, ``finish`` and ``release`` act only for the current claim
  (worker and token) and answer False otherwise; a released run is claimable
  at once;
* a :class:`~cadenza.store.WriteBatch` with a ``fence`` is written only when
  the fence is the run's current claim; otherwise it raises
  :class:`~cadenza.store.LeaseLostError` and writes nothing;
* ``cancel_queued`` cancels only a run still ``queued``; a run id is queued once;
* ``list_queue`` gives the most recently submitted first, filtered by state;
  workers are registered, heartbeat and are listed.

Leases are given as ``lease_seconds=0`` where a test needs one expired: the
store's own clock decides, so the suite never sleeps.

.. versionadded:: 0.2
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .._errors import LeaseLostError, StoreError
from .._journal._queue import Fence, QueueEntry, SupportsRunQueue
from .._journal._store import Store, WriteBatch
from ._store_suite import step_event

LONG = 3600.0
"""A lease that does not expire during a test."""


def queue_entry(run_id: str, *, at: float = 0.0, **changes: Any) -> QueueEntry:
    """A queued run of ``/srv/flows/flow.yaml`` submitted at ``at`` (default: now)."""
    data: dict[str, Any] = {
        "run_id": run_id,
        "path": "/srv/flows/flow.yaml",
        "source": "name: flow\n",
        "workflow": "flow",
        "inputs": {"topic": "trio", "n": 3},
        "submitted_at": at or time.time(),
    }
    data.update(changes)
    return QueueEntry(**data)


class RunQueueConformance:
    """Tests of the :class:`~cadenza.store.SupportsRunQueue` contract; define ``store``."""

    @pytest.fixture
    def store(self) -> Store:
        """An empty store; override this fixture in your subclass."""
        pytest.fail(f"{type(self).__name__} must override the store fixture", pytrace=False)

    @pytest.fixture
    def queue(self, store: Store) -> Iterator[Any]:
        """``store``, checked to implement the queue, closed after the test."""
        assert isinstance(store, SupportsRunQueue), "the store does not implement SupportsRunQueue"
        yield store
        store.close()

    def test_store_satisfies_the_queue_protocol(self, queue: Any) -> None:
        """The store has every SupportsRunQueue method."""
        assert isinstance(queue, SupportsRunQueue)

    def test_claim_of_an_empty_queue_is_none(self, queue: Any) -> None:
        """Nothing queued: claim answers None."""
        assert queue.claim("w1", lease_seconds=LONG) is None

    def test_claim_takes_the_submitted_run(self, queue: Any) -> None:
        """A claim returns the entry as submitted, held by the worker, token and attempts 1."""
        entry = queue_entry("r1")
        queue.submit(entry)
        claimed = queue.claim("w1", lease_seconds=LONG)
        assert claimed is not None
        assert claimed.entry == entry
        assert (claimed.state, claimed.worker, claimed.token, claimed.attempts) == (
            "claimed", "w1", 1, 1,
        )  # fmt: skip
        assert claimed.lease_until is not None
        assert queue.get_queued("r1") == claimed

    def test_claims_take_the_oldest_run_first(self, queue: Any) -> None:
        """Runs are claimed in submission order."""
        now = time.time()
        for i, run_id in enumerate(["b", "a", "c"]):
            queue.submit(queue_entry(run_id, at=now + i))
        order = [queue.claim("w", lease_seconds=LONG).run_id for _ in range(3)]
        assert order == ["b", "a", "c"]
        assert queue.claim("w", lease_seconds=LONG) is None

    def test_a_live_claim_is_not_claimed_again(self, queue: Any) -> None:
        """While its lease lasts, a claimed run is nobody else's."""
        queue.submit(queue_entry("r1"))
        queue.claim("w1", lease_seconds=LONG)
        assert queue.claim("w2", lease_seconds=LONG) is None

    def test_an_expired_claim_is_taken_over(self, queue: Any) -> None:
        """A claim whose lease expired goes to the next claimer, with a new token."""
        queue.submit(queue_entry("r1"))
        first = queue.claim("w1", lease_seconds=0)
        second = queue.claim("w2", lease_seconds=LONG)
        assert second is not None
        assert second.run_id == "r1"
        assert (second.worker, second.token, second.attempts) == ("w2", first.token + 1, 2)

    def test_a_stale_fence_writes_nothing(self, queue: Any) -> None:
        """After a takeover, the old claim's batch is refused whole; the new claim's lands."""
        queue.submit(queue_entry("r1"))
        old = queue.claim("w1", lease_seconds=0)
        new = queue.claim("w2", lease_seconds=LONG)
        with pytest.raises(LeaseLostError) as caught:
            queue.write(WriteBatch(events=[step_event("r1", 0)], fence=old.fence))
        assert (caught.value.run_id, caught.value.worker) == ("r1", "w1")
        assert "lease lost" in str(caught.value)
        assert queue.read_events("r1") == []
        queue.write(WriteBatch(events=[step_event("r1", 0)], fence=new.fence))
        assert [e["seq"] for e in queue.read_events("r1")] == [0]

    def test_a_fence_for_a_run_never_claimed_is_refused(self, queue: Any) -> None:
        """A fence naming no claim (unknown run, or still queued) writes nothing."""
        queue.submit(queue_entry("r1"))
        for fence in (
            Fence(run_id="r1", worker="w", token=1),
            Fence(run_id="x", worker="w", token=1),
        ):
            with pytest.raises(LeaseLostError):
                queue.write(WriteBatch(events=[step_event(fence.run_id, 0)], fence=fence))
        assert queue.read_events("r1") == []
        assert queue.read_events("x") == []

    def test_renew_keeps_only_the_current_claim(self, queue: Any) -> None:
        """Renewing works for the holder and answers False for a claim taken over."""
        queue.submit(queue_entry("r1"))
        old = queue.claim("w1", lease_seconds=0)
        assert queue.renew(old.fence, lease_seconds=LONG) is True  # not taken over yet
        assert queue.claim("w2", lease_seconds=LONG) is None  # the renewal holds it
        assert queue.renew(old.fence, lease_seconds=0) is True
        new = queue.claim("w2", lease_seconds=LONG)
        assert queue.renew(old.fence, lease_seconds=LONG) is False
        assert queue.renew(new.fence, lease_seconds=LONG) is True

    def test_finish_ends_the_run_for_good(self, queue: Any) -> None:
        """A finished run keeps its state and is never claimed again; a stale finish is False."""
        queue.submit(queue_entry("r1"))
        old = queue.claim("w1", lease_seconds=0)
        new = queue.claim("w2", lease_seconds=0)
        assert queue.finish(old.fence, "failed") is False
        assert queue.finish(new.fence, "done") is True
        assert queue.get_queued("r1").state == "done"
        assert queue.claim("w3", lease_seconds=LONG) is None
        assert queue.renew(new.fence, lease_seconds=LONG) is False

    def test_release_makes_the_run_claimable_at_once(self, queue: Any) -> None:
        """A released run is queued again and the next claim gets it with a new token."""
        queue.submit(queue_entry("r1"))
        claimed = queue.claim("w1", lease_seconds=LONG)
        assert queue.release(claimed.fence) is True
        assert queue.get_queued("r1").state == "queued"
        again = queue.claim("w2", lease_seconds=LONG)
        assert (again.worker, again.token, again.attempts) == ("w2", 2, 2)
        assert queue.release(claimed.fence) is False
        with pytest.raises(LeaseLostError):
            queue.write(WriteBatch(events=[step_event("r1", 0)], fence=claimed.fence))

    def test_cancel_queued_cancels_only_waiting_runs(self, queue: Any) -> None:
        """A queued run is cancelled (never claimed after); a claimed one is not."""
        now = time.time()
        queue.submit(queue_entry("waiting", at=now))
        queue.submit(queue_entry("held", at=now - 1))
        queue.claim("w1", lease_seconds=LONG)
        assert queue.cancel_queued("held") is False
        assert queue.cancel_queued("waiting") is True
        assert queue.cancel_queued("waiting") is False
        assert queue.cancel_queued("unknown") is False
        assert queue.get_queued("waiting").state == "cancelled"
        assert queue.claim("w2", lease_seconds=0) is None

    def test_a_run_id_is_queued_once(self, queue: Any) -> None:
        """Submitting a run id already queued is a StoreError; the first entry stays."""
        queue.submit(queue_entry("r1", path="/first.yaml"))
        with pytest.raises(StoreError, match="already in the queue"):
            queue.submit(queue_entry("r1", path="/second.yaml"))
        assert queue.get_queued("r1").entry.path == "/first.yaml"

    def test_list_queue_is_newest_first_and_filters_by_state(self, queue: Any) -> None:
        """list_queue orders by submission (newest first), stops at limit, filters state."""
        now = time.time()
        for i in range(4):
            queue.submit(queue_entry(f"r{i}", at=now + i))
        queue.claim("w", lease_seconds=LONG)  # r0
        assert [q.run_id for q in queue.list_queue()] == ["r3", "r2", "r1", "r0"]
        assert [q.run_id for q in queue.list_queue(limit=2)] == ["r3", "r2"]
        assert [q.run_id for q in queue.list_queue(state="claimed")] == ["r0"]
        assert queue.get_queued("nope") is None

    def test_workers_register_and_heartbeat(self, queue: Any) -> None:
        """A registered worker is listed with its host and pid; a heartbeat moves it first."""
        queue.register_worker("w1", host="h1", pid=11)
        queue.register_worker("w2", host="h2", pid=22)
        queue.heartbeat("w1")
        workers = queue.list_workers()
        assert [(w.worker, w.host, w.pid) for w in workers] == [("w1", "h1", 11), ("w2", "h2", 22)]
        assert workers[0].heartbeat_at >= workers[0].started_at

    def test_concurrent_claims_never_share_a_run(self, queue: Any) -> None:
        """Four threads claiming 40 runs at once get each run exactly once."""
        now = time.time()
        for i in range(40):
            queue.submit(queue_entry(f"r{i:02d}", at=now + i))
        got: list[str] = []
        lock = threading.Lock()

        def claimer(name: str) -> None:
            while (claimed := queue.claim(name, lease_seconds=LONG)) is not None:
                with lock:
                    got.append(claimed.run_id)

        threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(got) == [f"r{i:02d}" for i in range(40)]
