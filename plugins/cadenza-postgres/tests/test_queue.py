"""The run queue in Postgres: RunQueueConformance, claims across pools, the upgrade from v1."""

from __future__ import annotations

import threading
import time

import pytest
from cadenza_postgres import SCHEMA_VERSION, PostgresStore
from cadenza_postgres.testing import Server

import cadenza.testing
from cadenza.store import LeaseLostError, QueueEntry, StoreError, SupportsRunQueue, WriteBatch
from cadenza.testing._queue_suite import queue_entry
from cadenza.testing._store_suite import run_record, step_event


class TestPostgresQueue(cadenza.testing.RunQueueConformance):
    @pytest.fixture
    def store(self, database_url: str) -> PostgresStore:
        return PostgresStore(database_url)


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_claims_from_many_stores_never_share_a_run(database_url: str) -> None:
    """Six stores (six pools, as six worker processes) claiming 60 runs get each once."""
    stores = [PostgresStore(database_url) for _ in range(6)]
    try:
        now = time.time()
        for i in range(60):
            stores[0].submit(queue_entry(f"r{i:02d}", at=now + i))
        got: list[str] = []
        lock = threading.Lock()

        def claimer(store: PostgresStore, name: str) -> None:
            while (claimed := store.claim(name, lease_seconds=3600)) is not None:
                with lock:
                    got.append(claimed.run_id)

        threads = [
            threading.Thread(target=claimer, args=(store, f"w{i}"))
            for i, store in enumerate(stores)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(got) == [f"r{i:02d}" for i in range(60)]
    finally:
        for store in stores:
            store.close()


def test_a_worker_taken_over_cannot_write_through_another_connection(database_url: str) -> None:
    """Worker A's lease expires, B claims the run from its own store: A's next batch is refused
    and nothing of it lands, while B writes the run's journal."""
    a, b = PostgresStore(database_url), PostgresStore(database_url)
    try:
        a.submit(queue_entry("r1"))
        mine = a.claim("A", lease_seconds=0.2)
        assert mine is not None
        a.write(WriteBatch(runs=[run_record("r1")], events=[step_event("r1", 0)], fence=mine.fence))
        time.sleep(0.3)  # the server's clock decides: let the lease run out
        theirs = b.claim("B", lease_seconds=3600)
        assert theirs is not None
        assert theirs.token == mine.token + 1
        with pytest.raises(LeaseLostError, match="lease lost"):
            a.write(WriteBatch(events=[step_event("r1", 1)], fence=mine.fence))
        assert a.renew(mine.fence, lease_seconds=3600) is False
        b.write(WriteBatch(events=[step_event("r1", 1, output="B")], fence=theirs.fence))
        assert [e["output"] for e in b.read_events("r1")] == ["ok", "B"]
    finally:
        a.close()
        b.close()


def test_a_version_1_journal_is_upgraded_and_keeps_its_runs(
    server: Server, database_url: str
) -> None:
    """A journal made before the queue (schema 1) gains the queue tables on opening."""
    store = PostgresStore(database_url)
    store.write(WriteBatch(runs=[run_record("old")]))
    store.close()
    db = _db(database_url)
    server.sql("DROP TABLE cadenza.queue; DROP TABLE cadenza.workers", database=db)
    server.sql("UPDATE cadenza.meta SET value = '1' WHERE key = 'schema_version'", database=db)
    store = PostgresStore(database_url)
    try:
        assert server.sql(
            "SELECT value FROM cadenza.meta WHERE key = 'schema_version'", database=db
        ) == str(SCHEMA_VERSION)
        assert store.get_run("old") is not None
        assert isinstance(store, SupportsRunQueue)
        store.submit(QueueEntry(run_id="new", path="/f.yaml", source="", submitted_at=time.time()))
        assert [q.run_id for q in store.list_queue()] == ["new"]
    finally:
        store.close()


def test_submitting_a_run_id_twice_names_the_run(database_url: str) -> None:
    """A duplicate run id is a StoreError about the queue, not about events."""
    store = PostgresStore(database_url)
    try:
        store.submit(queue_entry("dup"))
        with pytest.raises(StoreError, match="run dup is already in the queue"):
            store.submit(queue_entry("dup"))
    finally:
        store.close()
