"""The run queue in the SQLite journal: RunQueueConformance, and journals from before it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import cadenza.testing
from cadenza.store import SqliteStore, SupportsRunQueue


class TestSqliteQueue(cadenza.testing.RunQueueConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteStore:
        return SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")


def test_a_journal_from_before_the_queue_gets_its_tables(tmp_path: Path) -> None:
    """A journal without the queue tables gains them when opened for writing."""
    path = tmp_path / "journal.db"
    SqliteStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE queue")
        db.execute("DROP TABLE workers")
    store = SqliteStore(f"sqlite:///{path}")
    try:
        assert isinstance(store, SupportsRunQueue)
        assert store.list_queue() == []
        assert store.list_workers() == []
        store.register_worker("w", host="h", pid=1)
        assert [w.worker for w in store.list_workers()] == ["w"]
    finally:
        store.close()


def test_a_read_only_journal_from_before_the_queue_lists_nothing(tmp_path: Path) -> None:
    """Read-only, a journal without the queue tables lists an empty queue instead of failing."""
    path = tmp_path / "journal.db"
    SqliteStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE queue")
        db.execute("DROP TABLE workers")
    store = SqliteStore(f"sqlite:///{path}", read_only=True)
    try:
        assert store.list_queue() == []
        assert store.get_queued("r") is None
        assert store.list_workers() == []
    finally:
        store.close()
