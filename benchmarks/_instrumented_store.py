"""A journal store for benchmarking: the real ``SqliteStore``, counted and timed.

``run_workflow`` creates its ``Journal`` internally, so ``Journal.batches_written``
is not reachable from outside a run. :class:`CountingStore` wraps the store the
run is given and sees the same thing from the other side: the journal calls
``store.write`` exactly once per non-empty batch (``Journal._write_pending``), so
the number of ``write`` calls *is* ``batches_written``.

Inside ``write`` the time is split three ways by swapping the store's SQLite
connection for :class:`TimedConnection` (a private attribute, ``_db``; this is a
benchmark of this one store, and it degrades to "total only" if the attribute
goes away):

* **insert**: ``BEGIN IMMEDIATE`` and the ``executemany`` of the event rows
  (and runs/sources/cache rows): taking SQLite's write lock and the B-tree
  work in its page cache; ``sqlite3`` releases the GIL around each statement
  step and takes it back for the next row;
* **commit**: ``COMMIT``: writing the dirty pages to the WAL file and, with
  ``synchronous=FULL``, the ``fsync`` that makes the batch durable (plus, every
  1,000 WAL pages, an automatic checkpoint into the main file, which fsyncs too);
* **encode**: the rest of ``write``, which is building the row tuples on the
  Python side: ``json.dumps`` of every event, under the GIL.

All three are wall-clock times measured in the writer's worker thread, so
they include waiting for the GIL while the trio thread runs Python code.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import trio

from cadenza.store import RunRecord, SqliteStore, WriteBatch

SYNCHRONOUS = ("FULL", "NORMAL", "OFF")
"""``PRAGMA synchronous`` values ``--synchronous`` accepts; Cadenza uses FULL."""


@attrs.define
class JournalStats:
    """What one journaled run wrote, and where the writer thread spent its time."""

    batches: int = 0
    events: int = 0
    largest_batch: int = 0
    write_seconds: float = 0.0
    insert_seconds: float = 0.0
    commit_seconds: float = 0.0
    cancel_polls: int = 0
    file_bytes: int = 0
    trio_idle_seconds: float = 0.0
    """Time the trio thread sat in ``epoll`` with nothing runnable (see :class:`IdleClock`)."""

    @property
    def encode_seconds(self) -> float:
        return max(0.0, self.write_seconds - self.insert_seconds - self.commit_seconds)

    @property
    def events_per_batch(self) -> float:
        return self.events / self.batches if self.batches else 0.0


class TimedConnection:
    """Forwards to an ``sqlite3.Connection``, timing what ``SqliteStore.write`` runs."""

    def __init__(self, db: Any, stats: JournalStats) -> None:
        self._db = db
        self._stats = stats

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("SELECT"):  # get_run (the cancel watcher): not part of write
            return self._db.execute(sql, *args)
        start = time.perf_counter()
        try:
            return self._db.execute(sql, *args)
        finally:
            elapsed = time.perf_counter() - start
            if sql == "COMMIT":
                self._stats.commit_seconds += elapsed
            else:  # BEGIN IMMEDIATE (and ROLLBACK)
                self._stats.insert_seconds += elapsed

    def executemany(self, sql: str, rows: Iterable[Any]) -> Any:
        start = time.perf_counter()
        try:
            return self._db.executemany(sql, rows)
        finally:
            self._stats.insert_seconds += time.perf_counter() - start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class CountingStore:
    """A ``SqliteStore`` that counts the journal's batches and times its writes."""

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.stats = JournalStats()
        self.inner = SqliteStore(str(path))
        self.url = self.inner.url
        db = getattr(self.inner, "_db", None)
        if synchronous != "FULL":  # an experiment: Cadenza itself always uses FULL
            if synchronous not in SYNCHRONOUS or db is None:
                raise SystemExit(f"cannot set PRAGMA synchronous={synchronous} on this store")
            db.execute(f"PRAGMA synchronous={synchronous}")
        if db is not None:
            self.inner._db = TimedConnection(db, self.stats)  # type: ignore[assignment]

    def write(self, batch: WriteBatch) -> None:
        start = time.perf_counter()
        self.inner.write(batch)
        stats = self.stats
        stats.write_seconds += time.perf_counter() - start
        if batch:
            stats.batches += 1
            stats.events += len(batch.events)
            stats.largest_batch = max(stats.largest_batch, len(batch.events))

    def get_run(self, run_id: str) -> Any:
        self.stats.cancel_polls += 1  # Journal.watch_cancel, every 0.5 s
        return self.inner.get_run(run_id)

    def close(self) -> None:
        """Close the store (SQLite checkpoints the WAL into the file) and measure it."""
        self.inner.close()
        self.stats.file_bytes = sum(
            p.stat().st_size
            for p in (self.path, self.path.with_name(self.path.name + "-wal"))
            if p.exists()
        )

    def __getattr__(self, name: str) -> Any:  # read_events, list_runs, ...: not timed
        return getattr(self.inner, name)


class NullStore:
    """Keeps nothing: ``write`` returns at once (EXPERIMENT, ``--store null``).

    With it, a journaled run pays everything the journal costs inside the
    kernel (copying each event with ``to_dict``, the writer task, a thread hop
    per batch, the durability waits) and nothing SQLite costs.
    """

    url = "null:"

    def __init__(self) -> None:
        self.stats = JournalStats()
        self._runs: dict[str, RunRecord] = {}

    def write(self, batch: WriteBatch) -> None:
        start = time.perf_counter()
        for record in batch.runs:
            self._runs[record.run_id] = record
        stats = self.stats
        stats.write_seconds += time.perf_counter() - start
        if batch:
            stats.batches += 1
            stats.events += len(batch.events)
            stats.largest_batch = max(stats.largest_batch, len(batch.events))

    def get_run(self, run_id: str) -> RunRecord | None:
        self.stats.cancel_polls += 1
        return self._runs.get(run_id)

    def list_runs(
        self, *, limit: int = 20, status: str | None = None, workflow: str | None = None
    ) -> list[RunRecord]:
        return list(self._runs.values())[:limit]

    def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]:
        return []

    def read_source(self, run_id: str) -> str | None:
        return None

    def request_cancel(self, run_id: str) -> bool:
        return False

    def get_cache(self, key: str, *, now: float) -> Any:
        return None

    def close(self) -> None:
        pass


class IdleClock(trio.abc.Instrument):
    """Adds up the time the trio thread blocks in ``epoll`` with no task runnable.

    With no-op agents nothing else ever blocks, so in a journaled run this is
    time spent waiting for the writer thread: commits on the critical path.
    """

    def __init__(self, stats: JournalStats) -> None:
        self.stats = stats
        self._since: float | None = None

    def before_io_wait(self, timeout: float) -> None:
        self._since = time.perf_counter() if timeout > 0 else None

    def after_io_wait(self, timeout: float) -> None:
        if self._since is not None:
            self.stats.trio_idle_seconds += time.perf_counter() - self._since
            self._since = None
