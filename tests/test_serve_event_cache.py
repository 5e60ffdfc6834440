"""The dashboard's event cache: decoded events kept per run, topped up incrementally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cadenza._journal._sqlite import SqliteStore
from cadenza._journal._store import RunRecord, WriteBatch
from cadenza._serve._event_cache import EventCache


class CountingStore:
    """A real SQLite store that records each ``read_events`` call's ``after``."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.reads: list[tuple[str, int]] = []

    def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]:
        self.reads.append((run_id, after))
        return self.store.read_events(run_id, after=after)


def _events(run_id: str, seqs: range) -> list[dict[str, Any]]:
    return [
        {"kind": "step_ready", "run_id": run_id, "seq": seq, "at": 1.0 + seq, "step_id": f"s{seq}"}
        for seq in seqs
    ]


def _store(tmp_path: Path, *runs: str) -> SqliteStore:
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    records = [
        RunRecord(run_id=run, workflow="w", source_hash="h", status="running", started_at=1.0)
        for run in runs
    ]
    store.write(WriteBatch(runs=records))
    return store


def test_a_second_read_asks_the_store_only_for_new_events(tmp_path: Path) -> None:
    store = _store(tmp_path, "r")
    counting = CountingStore(store)
    cache = EventCache(counting)  # type: ignore[arg-type]
    try:
        store.write(WriteBatch(events=_events("r", range(5))))
        assert [e["seq"] for e in cache.read_events("r")] == [0, 1, 2, 3, 4]
        store.write(WriteBatch(events=_events("r", range(5, 8))))
        assert [e["seq"] for e in cache.read_events("r")] == list(range(8))
        assert [e["seq"] for e in cache.read_events("r", after=5)] == [6, 7]
        assert cache.read_events("r", after=7) == []
        assert counting.reads == [("r", -1), ("r", 4), ("r", 7), ("r", 7)]
        assert cache.read_events("r") == store.read_events("r")  # the same data as the store
    finally:
        store.close()


def test_a_reader_keeps_its_list_when_more_events_arrive(tmp_path: Path) -> None:
    store = _store(tmp_path, "r")
    cache = EventCache(store)
    try:
        store.write(WriteBatch(events=_events("r", range(3))))
        first = cache.read_events("r")
        store.write(WriteBatch(events=_events("r", range(3, 6))))
        assert len(cache.read_events("r")) == 6
        assert len(first) == 3
    finally:
        store.close()


def test_least_recently_read_runs_are_dropped_beyond_the_bound(tmp_path: Path) -> None:
    store = _store(tmp_path, "a", "b", "c")
    counting = CountingStore(store)
    cache = EventCache(counting, max_events=10)  # type: ignore[arg-type]
    try:
        for run in ("a", "b", "c"):
            store.write(WriteBatch(events=_events(run, range(4))))
        cache.read_events("a")
        cache.read_events("b")
        cache.read_events("c")  # 12 events kept > 10: "a" goes
        counting.reads.clear()
        assert len(cache.read_events("c")) == 4
        assert len(cache.read_events("a")) == 4  # read again from the start
        assert counting.reads == [("c", 3), ("a", -1)]
    finally:
        store.close()
