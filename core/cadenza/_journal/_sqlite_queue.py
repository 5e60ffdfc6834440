"""The run queue in the SQLite journal: several workers on one host, no server needed.

The SQLite side of :class:`~cadenza._journal._queue.SupportsRunQueue`. Every
operation is one ``BEGIN IMMEDIATE`` transaction: SQLite lets one writer in
at a time across processes, so two workers claiming at once are serialised
and never get the same run (what ``SKIP LOCKED`` does in Postgres). Lease
times come from this host's clock, which every worker on it shares.

The tables are additive (as ``approval_decisions``): a journal from before
them gets them when first opened for writing, and an older Cadenza ignores
them, so the journal's schema version stays 1. The functions here take an
open connection; :class:`~cadenza._journal._sqlite.SqliteStore` holds the
lock and turns SQLite errors into store errors.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from .._errors import LeaseLostError, StoreError
from ._queue import Fence, QueuedRun, QueueEntry, QueueState, WorkerInfo

QUEUE_TABLES = (
    """CREATE TABLE IF NOT EXISTS queue (
    run_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    workflow TEXT NOT NULL,
    source TEXT NOT NULL,
    inputs TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    state TEXT NOT NULL,
    worker TEXT NOT NULL DEFAULT '',
    token INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0
)""",
    "CREATE INDEX IF NOT EXISTS queue_by_state ON queue (state, submitted_at)",
    """CREATE TABLE IF NOT EXISTS workers (
    worker TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
)""",
)

_COLUMNS = ", ".join(QueuedRun.COLUMNS)


def create_tables(db: sqlite3.Connection) -> None:
    """Add the queue's tables if missing (one transaction)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in QUEUE_TABLES:
            db.execute(statement)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def check_fence(db: sqlite3.Connection, fence: Fence, url: str) -> None:
    """Raise LeaseLostError unless ``fence`` is the run's current claim (in a transaction)."""
    row = db.execute(
        "SELECT state, worker, token FROM queue WHERE run_id = ?", (fence.run_id,)
    ).fetchone()
    if row != ("claimed", fence.worker, fence.token):
        raise LeaseLostError(fence.run_id, worker=fence.worker, token=fence.token, url=url)


def submit(db: sqlite3.Connection, entry: QueueEntry, url: str) -> None:
    try:
        db.execute(
            f"INSERT INTO queue ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'queued', '', 0, NULL, 0)",
            (
                entry.run_id,
                entry.path,
                entry.workflow,
                entry.source,
                json.dumps(dict(entry.inputs), default=str),
                entry.submitted_at,
            ),
        )
    except sqlite3.IntegrityError:
        raise StoreError(
            f"run {entry.run_id} is already in the queue of {url}; submit again for a new run id",
            url=url,
        ) from None


def claim(db: sqlite3.Connection, worker: str, lease_seconds: float) -> QueuedRun | None:
    db.execute("BEGIN IMMEDIATE")
    try:
        now = time.time()
        row = db.execute(
            "SELECT run_id FROM queue WHERE state = 'queued' "
            "OR (state = 'claimed' AND lease_until <= ?) "
            "ORDER BY submitted_at, rowid LIMIT 1",
            (now,),
        ).fetchone()
        if row is None:
            db.execute("COMMIT")
            return None
        db.execute(
            "UPDATE queue SET state = 'claimed', worker = ?, token = token + 1, "
            "lease_until = ?, attempts = attempts + 1 WHERE run_id = ?",
            (worker, now + lease_seconds, row[0]),
        )
        claimed = db.execute(f"SELECT {_COLUMNS} FROM queue WHERE run_id = ?", row).fetchone()
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return QueuedRun.from_row(claimed)


def _update_claim(db: sqlite3.Connection, fence: Fence, sets: str, args: tuple[Any, ...]) -> bool:
    cur = db.execute(
        f"UPDATE queue SET {sets} WHERE run_id = ? AND state = 'claimed' "
        "AND worker = ? AND token = ?",
        (*args, fence.run_id, fence.worker, fence.token),
    )
    return cur.rowcount > 0


def renew(db: sqlite3.Connection, fence: Fence, lease_seconds: float) -> bool:
    return _update_claim(db, fence, "lease_until = ?", (time.time() + lease_seconds,))


def finish(db: sqlite3.Connection, fence: Fence, state: QueueState) -> bool:
    if state not in ("done", "failed", "cancelled"):
        raise ValueError(f"finish: state must be done, failed or cancelled, not {state!r}")
    return _update_claim(db, fence, "state = ?, lease_until = NULL", (state,))


def release(db: sqlite3.Connection, fence: Fence) -> bool:
    return _update_claim(db, fence, "state = 'queued', worker = '', lease_until = NULL", ())


def cancel_queued(db: sqlite3.Connection, run_id: str) -> bool:
    cur = db.execute(
        "UPDATE queue SET state = 'cancelled' WHERE run_id = ? AND state = 'queued'", (run_id,)
    )
    return cur.rowcount > 0


def get_queued(db: sqlite3.Connection, run_id: str) -> QueuedRun | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM queue WHERE run_id = ?", (run_id,)).fetchone()
    return None if row is None else QueuedRun.from_row(row)


def list_queue(db: sqlite3.Connection, limit: int, state: str | None) -> list[QueuedRun]:
    where, args = ("WHERE state = ?", (state,)) if state is not None else ("", ())
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM queue {where} ORDER BY submitted_at DESC, rowid DESC LIMIT ?",
        (*args, limit),
    )
    return [QueuedRun.from_row(row) for row in rows]


def register_worker(db: sqlite3.Connection, worker: str, host: str, pid: int) -> None:
    now = time.time()
    db.execute(
        "INSERT OR REPLACE INTO workers VALUES (?, ?, ?, ?, ?)", (worker, host, pid, now, now)
    )


def heartbeat(db: sqlite3.Connection, worker: str) -> None:
    db.execute("UPDATE workers SET heartbeat_at = ? WHERE worker = ?", (time.time(), worker))


def list_workers(db: sqlite3.Connection) -> list[WorkerInfo]:
    rows = db.execute(
        "SELECT worker, host, pid, started_at, heartbeat_at FROM workers ORDER BY heartbeat_at DESC"
    )
    return [
        WorkerInfo(worker=w, host=h, pid=p, started_at=s, heartbeat_at=b) for w, h, p, s, b in rows
    ]
