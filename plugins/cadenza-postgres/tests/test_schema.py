"""The journal's tables: created once, versioned, and never touched when not ours or newer."""

from __future__ import annotations

import threading

import pytest
from cadenza_postgres import SCHEMA_VERSION, PostgresStore
from cadenza_postgres.testing import Server

from cadenza.store import StoreError, WriteBatch
from cadenza.testing._store_suite import run_record


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_newer_schema_is_refused_and_left_untouched(server: Server, database_url: str) -> None:
    """A journal whose schema version is newer than ours is refused; its data stays as it was."""
    store = PostgresStore(database_url)
    store.write(WriteBatch(runs=[run_record("r")]))
    store.close()
    newer = SCHEMA_VERSION + 1
    server.sql(
        f"UPDATE cadenza.meta SET value = '{newer}' WHERE key = 'schema_version'",
        database=_db(database_url),
    )
    with pytest.raises(StoreError) as caught:
        PostgresStore(database_url)
    message = str(caught.value)
    assert f"written by a newer Cadenza (schema version {newer}" in message
    assert "Upgrade Cadenza and cadenza-postgres" in message
    assert server.sql("SELECT count(*) FROM cadenza.runs", database=_db(database_url)) == "1"


def test_newer_journal_version_is_refused(server: Server, database_url: str) -> None:
    """A journal written with a newer kernel data layout is refused too."""
    PostgresStore(database_url).close()
    server.sql(
        "UPDATE cadenza.meta SET value = '99' WHERE key = 'journal_version'",
        database=_db(database_url),
    )
    with pytest.raises(StoreError, match=r"newer Cadenza \(journal version 99"):
        PostgresStore(database_url)


def test_unreadable_version_is_refused(server: Server, database_url: str) -> None:
    """A meta table without a readable schema version is refused, not overwritten."""
    PostgresStore(database_url).close()
    server.sql("DELETE FROM cadenza.meta", database=_db(database_url))
    with pytest.raises(StoreError, match="schema version is missing or unreadable"):
        PostgresStore(database_url)
    assert server.sql("SELECT count(*) FROM cadenza.meta", database=_db(database_url)) == "0"


def test_foreign_cadenza_schema_is_refused(server: Server, database_url: str) -> None:
    """A schema named ``cadenza`` holding other tables is not ours: refused, left untouched."""
    server.sql(
        "CREATE SCHEMA cadenza; CREATE TABLE cadenza.orders (id int)", database=_db(database_url)
    )
    with pytest.raises(StoreError) as caught:
        PostgresStore(database_url)
    assert "holds tables but no Cadenza journal" in str(caught.value)
    tables = server.sql(
        "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'cadenza'",
        database=_db(database_url),
    )
    assert tables == "orders"


def test_concurrent_first_opens_create_the_tables_once(database_url: str) -> None:
    """Several processes' stores opening a new database at once all succeed (advisory lock)."""
    errors: list[Exception] = []
    stores: list[PostgresStore] = []

    def open_one() -> None:
        try:
            stores.append(PostgresStore(database_url))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert len(stores) == 6
