"""The built-in journal store: one SQLite file (stdlib ``sqlite3``, WAL mode).

URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (the
SQLAlchemy convention), or a plain file path. The default is
``.cadenza/journal.db`` under the working directory.

Durability: every :meth:`SqliteStore.write` is one transaction committed with
``synchronous=FULL``, so a committed batch survives a crash of the process
(kill -9) and of the machine. Opening never overwrites a file it does not
recognise: a foreign or truncated file, or a journal written by a newer
Cadenza, is a :class:`StoreError` and the file is left untouched.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._store import SCHEMA_VERSION, CacheEntry, RunRecord, StoreError, WriteBatch

DEFAULT_PATH = Path(".cadenza") / "journal.db"
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE cadenza_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    source TEXT NOT NULL,
    source_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    counts TEXT NOT NULL,
    inputs TEXT NOT NULL,
    pid INTEGER,
    host TEXT NOT NULL,
    reason TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_start ON runs (started_at DESC);
CREATE TABLE run_sources (run_id TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    step_id TEXT,
    at REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE cache (
    key TEXT PRIMARY KEY,
    output TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL
);
"""


def path_from_url(url: str) -> Path:
    """The database file a ``sqlite:`` URL (or a plain path) names."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :])
    if url.startswith("sqlite:"):
        raise StoreError(
            f"cannot read the store URL {url!r}: write sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db",
            url=url,
        )
    return Path(url)


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


class SqliteStore:
    """A :class:`~cadenza._store.Store` in one SQLite file. Thread-safe (one lock)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = path_from_url(url)
        self._lock = threading.Lock()
        self._closed = False
        self._db = self._open()

    # -- opening -----------------------------------------------------------------

    def _fail(self, problem: str, fix: str) -> StoreError:
        return StoreError(f"journal {self.path}: {problem}. {fix}", url=self.url)

    def _open(self) -> sqlite3.Connection:
        exists = self.path.exists()
        if exists:
            self._check_header()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._fail(f"cannot open it ({exc})", "Check the path and permissions.") from exc
        try:
            db.execute("PRAGMA busy_timeout=5000")
            tables = self._tables(db)
            if not tables:
                tables = self._create(db)
            if "cadenza_meta" not in tables:
                raise self._fail(
                    "this is an SQLite database, but not a Cadenza journal",
                    "Point --store at another file; this one was left untouched.",
                )
            self._check_version(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise self._fail(
                f"the file is damaged or truncated ({exc})",
                "Restore it from a backup or move it aside; it was left untouched.",
            ) from exc
        except BaseException:
            db.close()
            raise
        return db

    def _check_header(self) -> None:
        try:
            with self.path.open("rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise self._fail(f"cannot read it ({exc})", "Check the path and permissions.") from exc
        if 0 < len(head) < len(_SQLITE_MAGIC) and _SQLITE_MAGIC.startswith(head):
            raise self._fail(
                "the file is truncated",
                "Restore it from a backup or move it aside; it was left untouched.",
            )
        if head and head != _SQLITE_MAGIC:
            raise self._fail(
                "this file is not an SQLite database",
                "Point --store at another file; this one was left untouched.",
            )

    @staticmethod
    def _tables(db: sqlite3.Connection) -> set[str]:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master")}

    def _create(self, db: sqlite3.Connection) -> set[str]:
        """Create the schema, unless another process did since we looked; return the tables."""
        db.execute("BEGIN IMMEDIATE")  # serialises concurrent creators
        try:
            tables = self._tables(db)
            if tables:
                db.execute("ROLLBACK")
                return tables
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(
                "INSERT INTO cadenza_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return self._tables(db)

    def _check_version(self, db: sqlite3.Connection) -> None:
        row = db.execute("SELECT value FROM cadenza_meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row[0]) if row else None
        except ValueError:
            version = None
        if version is None:
            raise self._fail(
                "its schema version is missing or unreadable",
                "Restore it from a backup or move it aside; it was left untouched.",
            )
        if version > SCHEMA_VERSION:
            raise self._fail(
                f"it was written by a newer Cadenza (journal schema {version}; this "
                f"Cadenza reads up to {SCHEMA_VERSION})",
                "Upgrade Cadenza to read it; the file was left untouched.",
            )

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreError(f"journal {self.path} is closed", url=self.url)
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:
                raise self._fail(
                    f"database error ({exc})",
                    "If the file is damaged, restore it from a backup or move it aside.",
                ) from exc

    # -- writing -----------------------------------------------------------------

    def write(self, batch: WriteBatch) -> None:
        if not batch:
            return
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO events (run_id, seq, kind, step_id, at, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (e["run_id"], e["seq"], e["kind"], e.get("step_id"), e["at"], _dumps(e))
                        for e in batch.events
                    ],
                )
                db.executemany(
                    """INSERT INTO runs (run_id, workflow, source, source_hash, status,
                           started_at, finished_at, counts, inputs, pid, host, reason)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (run_id) DO UPDATE SET
                           status = excluded.status, finished_at = excluded.finished_at,
                           counts = excluded.counts, pid = excluded.pid, host = excluded.host,
                           reason = excluded.reason,
                           cancel_requested = CASE
                               WHEN excluded.status = 'running' AND (
                                   runs.status != 'running' OR runs.pid IS NOT excluded.pid
                               )
                               THEN 0 ELSE runs.cancel_requested END""",
                    [
                        (
                            r.run_id,
                            r.workflow,
                            r.source,
                            r.source_hash,
                            r.status,
                            r.started_at,
                            r.finished_at,
                            _dumps(dict(r.counts)),
                            _dumps(dict(r.inputs)),
                            r.pid,
                            r.host,
                            r.reason,
                        )
                        for r in batch.runs
                    ],
                )
                db.executemany(
                    "INSERT OR IGNORE INTO run_sources (run_id, text) VALUES (?, ?)",
                    list(batch.sources),
                )
                db.executemany(
                    "INSERT OR REPLACE INTO cache VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (c.key, _dumps(c.output), c.created_at, c.expires_at, c.run_id, c.step_id)
                        for c in batch.cache
                    ],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def request_cancel(self, run_id: str) -> bool:
        with self._locked() as db:
            cur = db.execute("UPDATE runs SET cancel_requested = 1 WHERE run_id = ?", (run_id,))
            return cur.rowcount > 0

    # -- reading -----------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._locked() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            return None if row is None else _record(row)

    def list_runs(
        self, *, limit: int = 20, status: str | None = None, workflow: str | None = None
    ) -> list[RunRecord]:
        query = "SELECT * FROM runs"
        where, args = [], []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if workflow is not None:
            where.append("workflow = ?")
            args.append(workflow)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY started_at DESC, run_id DESC LIMIT ?"
        with self._locked() as db:
            return [_record(row) for row in db.execute(query, (*args, limit))]

    def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]:
        with self._locked() as db:
            rows = db.execute(
                "SELECT data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq",
                (run_id, after),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def read_source(self, run_id: str) -> str | None:
        with self._locked() as db:
            row = db.execute("SELECT text FROM run_sources WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else str(row[0])

    def get_cache(self, key: str, *, now: float) -> CacheEntry | None:
        with self._locked() as db:
            row = db.execute("SELECT * FROM cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        key, output, created_at, expires_at, run_id, step_id = row
        if expires_at is not None and expires_at <= now:
            return None
        return CacheEntry(
            key=key,
            output=json.loads(output),
            created_at=created_at,
            expires_at=expires_at,
            run_id=run_id,
            step_id=step_id,
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._db.close()


_RUN_COLUMNS = (
    "run_id", "workflow", "source", "source_hash", "status", "started_at", "finished_at",
    "counts", "inputs", "pid", "host", "reason", "cancel_requested",
)  # fmt: skip


def _record(row: tuple[Any, ...]) -> RunRecord:
    data = dict(zip(_RUN_COLUMNS, row, strict=True))
    data["counts"] = json.loads(data["counts"])
    data["inputs"] = json.loads(data["inputs"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return RunRecord(**data)
