"""PostgresStore beyond the conformance suite: durability settings and broken connections."""

from __future__ import annotations

import pytest
from cadenza_postgres import PostgresStore
from cadenza_postgres._url import conninfo
from cadenza_postgres.testing import Server

from cadenza.store import StoreError, WriteBatch
from cadenza.testing._store_suite import run_record, step_event


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _kill_connections(server: Server, database: str) -> None:
    """Terminate every session on ``database``, as a server restart would."""
    server.sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )


def test_commits_wait_for_the_wal_even_when_the_server_says_off(
    server: Server, database_url: str
) -> None:
    """A database set to ``synchronous_commit = off`` still gets durable commits from us."""
    server.sql(f'ALTER DATABASE "{_db(database_url)}" SET synchronous_commit = off')
    store = PostgresStore(database_url)
    try:
        with store._pool.connection() as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
    finally:
        store.close()


def test_reads_and_writes_survive_dropped_connections(server: Server, database_url: str) -> None:
    """After the server dropped the pooled connections, the next calls reconnect and work."""
    store = PostgresStore(database_url)
    try:
        store.write(WriteBatch(events=[step_event("r", 0)], runs=[run_record("r")]))
        _kill_connections(server, _db(database_url))
        assert [e["seq"] for e in store.read_events("r")] == [0]
        _kill_connections(server, _db(database_url))
        store.write(WriteBatch(events=[step_event("r", 1)]))
        assert [e["seq"] for e in store.read_events("r")] == [0, 1]
    finally:
        store.close()


def test_a_server_gone_for_good_is_a_store_error(database_url: str, server: Server) -> None:
    """When reconnecting fails too, the call raises StoreError saying what to check."""
    store = PostgresStore(database_url)
    try:
        store._conninfo = conninfo("postgresql://postgres@127.0.0.1:1/journal")  # nothing there
        _kill_connections(server, _db(database_url))
        with pytest.raises(StoreError, match="cannot connect to the PostgreSQL server"):
            store.read_events("r")
    finally:
        store.close()
