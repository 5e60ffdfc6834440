"""PostgresStore: the journal in a PostgreSQL database, shared by every process that reaches it.

The same contract as the SQLite store (``cadenza.store.Store``,
``SupportsApprovals`` and ``SupportsRunQueue``: the run queue, see
:mod:`._queue`): each :meth:`PostgresStore.write` is one transaction,
committed before it returns, so a step's success is durable before its
dependants start; a batch that repeats an event writes nothing. Commits wait
for the server's WAL flush: a server configured with ``synchronous_commit =
off`` is switched back to ``on`` for our sessions.

Thread-safe: calls borrow a connection each from a small pool (:mod:`._pool`),
so the journal writer, cache lookups and readers run side by side.
``url`` is the URL with its password shown as ``***``: it is what messages,
``cadenza runs`` and logs show.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import psycopg
import psycopg.errors

from cadenza.store import (
    ApprovalDecision,
    CacheEntry,
    Fence,
    QueuedRun,
    QueueEntry,
    RunRecord,
    StoreError,
    WorkerInfo,
    WriteBatch,
)

from . import _queue as q
from ._errors import connect_error, query_error
from ._pool import Closed, Pool
from ._schema import SchemaProblem, ensure_schema
from ._url import conninfo, password_of, redact

_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


_UPSERT_RUN = """
INSERT INTO cadenza.runs (run_id, workflow, source, source_hash, status, started_at,
    finished_at, counts, inputs, pid, host, reason)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (run_id) DO UPDATE SET
    status = excluded.status, finished_at = excluded.finished_at, counts = excluded.counts,
    pid = excluded.pid, host = excluded.host, reason = excluded.reason,
    cancel_requested = CASE
        WHEN excluded.status = 'running' AND (
            runs.status <> 'running' OR runs.pid IS DISTINCT FROM excluded.pid
        )
        THEN false ELSE runs.cancel_requested END
"""

_T = TypeVar("_T")


class _Sent:
    """Set ``done`` once a call sent what may have changed data (it must not be repeated)."""

    done = False


_RUN_COLUMNS = (
    "run_id, workflow, source, source_hash, status, started_at, finished_at, "
    "counts, inputs, pid, host, reason, cancel_requested"
)


class PostgresStore:
    """A :class:`~cadenza.store.Store` in a PostgreSQL database (``postgresql://`` URLs).

    Opening connects once, creates the journal's tables in the ``cadenza``
    schema if the database has none, and checks their version; every
    problem is a :class:`~cadenza.store.StoreError` naming the redacted URL.
    """

    read_only = False

    def __init__(self, url: str) -> None:
        self.url = redact(url)
        self._password = password_of(url)
        self._conninfo = conninfo(url)
        self._pool = Pool(self._connect)
        with self._pool.connection() as conn:
            try:
                ensure_schema(conn)
            except SchemaProblem as exc:
                self._pool.close()
                raise StoreError(
                    f"journal {self.url}: {exc.problem}. {exc.fix}", url=self.url
                ) from None
            except psycopg.Error as exc:
                self._pool.close()
                raise query_error(exc, self.url, self._password, "creating its tables") from None

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise connect_error(exc, self.url, self._password) from None
        try:
            if conn.execute("SHOW synchronous_commit").fetchone() == ("off",):
                conn.execute("SET synchronous_commit = on")  # a returned write must be durable
        except psycopg.Error as exc:
            conn.close()
            raise connect_error(exc, self.url, self._password) from None
        return conn

    @contextmanager
    def _connection(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                try:
                    yield conn
                except psycopg.Error as exc:
                    if conn.closed:
                        self._pool.discard_idle()
                    raise query_error(exc, self.url, self._password, doing) from None
        except Closed:
            raise StoreError(f"journal {self.url} is closed", url=self.url) from None

    def _call(self, doing: str, fn: Callable[[psycopg.Connection[Any], _Sent], _T]) -> _T:
        """``fn(conn, sent)`` on a borrowed connection, again on a new one if the first was stale.

        After a server restart or an idle timeout, pooled connections are dead
        and only using one tells. ``fn`` sets ``sent.done`` just before it
        sends what may commit a change (a COMMIT, an autocommit write); a
        connection that breaks before that point changed nothing, so the call
        is repeated once on a fresh connection. Errors become StoreErrors.
        """
        sent = _Sent()
        try:
            with self._pool.connection() as conn:
                try:
                    return fn(conn, sent)
                except psycopg.OperationalError as exc:
                    if not conn.closed or sent.done:
                        if conn.closed:
                            self._pool.discard_idle()
                        raise query_error(exc, self.url, self._password, doing) from None
                except psycopg.Error as exc:
                    raise query_error(exc, self.url, self._password, doing) from None
        except Closed:
            raise StoreError(f"journal {self.url} is closed", url=self.url) from None
        self._pool.discard_idle()
        with self._connection(doing) as conn:
            return fn(conn, _Sent())

    # -- writing -----------------------------------------------------------------

    def write(self, batch: WriteBatch) -> None:
        if batch:
            self._call("writing a batch", partial(_write, batch, self.url))

    # -- the run queue (SupportsRunQueue; the SQL and why it is safe: _queue) -----

    def _change(self, doing: str, query: str, args: Any) -> bool:
        def run(conn: psycopg.Connection[Any], sent: _Sent) -> bool:
            sent.done = True  # a repeat could answer False for a change that was made
            return conn.execute(query, args).rowcount > 0

        return self._call(doing, run)

    def submit(self, entry: QueueEntry) -> None:
        def insert(conn: psycopg.Connection[Any], sent: _Sent) -> None:
            sent.done = True
            try:
                conn.execute(q.SUBMIT, q.entry_args(entry))
            except psycopg.errors.UniqueViolation:
                raise StoreError(
                    f"run {entry.run_id} is already in the queue of {self.url}; "
                    "submit again for a new run id",
                    url=self.url,
                ) from None

        self._call("queueing a run", insert)

    def claim(self, worker: str, *, lease_seconds: float) -> QueuedRun | None:
        def take(conn: psycopg.Connection[Any], sent: _Sent) -> QueuedRun | None:
            sent.done = True  # a claim made twice would skip the first run it took
            row = conn.execute(q.CLAIM, {"worker": worker, "lease": lease_seconds}).fetchone()
            return None if row is None else QueuedRun.from_row(row)

        return self._call("claiming a run", take)

    def renew(self, fence: Fence, *, lease_seconds: float) -> bool:
        return self._change("renewing a lease", q.RENEW, q.fence_args(fence, lease=lease_seconds))

    def finish(self, fence: Fence, state: str) -> bool:
        if state not in ("done", "failed", "cancelled"):
            raise ValueError(f"finish: state must be done, failed or cancelled, not {state!r}")
        return self._change("finishing a queued run", q.FINISH, q.fence_args(fence, state=state))

    def release(self, fence: Fence) -> bool:
        return self._change("releasing a queued run", q.RELEASE, q.fence_args(fence))

    def cancel_queued(self, run_id: str) -> bool:
        return self._change("cancelling a queued run", q.CANCEL_QUEUED, (run_id,))

    def register_worker(self, worker: str, *, host: str, pid: int) -> None:
        self._change("registering a worker", q.REGISTER, (worker, host, pid))

    def heartbeat(self, worker: str) -> None:
        self._change("recording a heartbeat", q.HEARTBEAT, (worker,))

    def get_queued(self, run_id: str) -> QueuedRun | None:
        rows = self._rows("reading the queue", q.GET, (run_id,))
        return QueuedRun.from_row(rows[0]) if rows else None

    def list_queue(self, *, limit: int = 20, state: str | None = None) -> list[QueuedRun]:
        rows = self._rows("listing the queue", q.LIST, {"state": state, "limit": limit})
        return [QueuedRun.from_row(row) for row in rows]

    def list_workers(self) -> list[WorkerInfo]:
        return [q.worker_info(row) for row in self._rows("listing workers", q.WORKERS, ())]

    def request_cancel(self, run_id: str) -> bool:
        def flag(conn: psycopg.Connection[Any], sent: _Sent) -> bool:
            cur = conn.execute(  # setting a flag twice is harmless: no ``sent.done``
                "UPDATE cadenza.runs SET cancel_requested = true WHERE run_id = %s", (run_id,)
            )
            return cur.rowcount > 0

        return self._call("requesting a cancel", flag)

    def record_decision(self, decision: ApprovalDecision) -> bool:
        d = decision

        def insert(conn: psycopg.Connection[Any], sent: _Sent) -> bool:
            sent.done = True  # a repeat would answer False for a decision that was kept
            cur = conn.execute(
                "INSERT INTO cadenza.approval_decisions (run_id, step_id, request, approved, "
                "by_name, reason, decided_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (d.run_id, d.step_id, d.request, d.approved, d.by, d.reason, d.decided_at),
            )
            return cur.rowcount > 0

        return self._call("recording an approval decision", insert)

    # -- reading -----------------------------------------------------------------

    def _rows(self, doing: str, query: str, args: Any) -> list[tuple[Any, ...]]:
        def select(conn: psycopg.Connection[Any], sent: _Sent) -> list[tuple[Any, ...]]:
            return conn.execute(query, args).fetchall()

        return self._call(doing, select)

    def read_decisions(self, run_id: str) -> list[ApprovalDecision]:
        rows = self._rows(
            "reading approval decisions",
            "SELECT run_id, step_id, request, approved, by_name, reason, decided_at "
            "FROM cadenza.approval_decisions WHERE run_id = %s ORDER BY decided_at, recorded",
            (run_id,),
        )
        return [
            ApprovalDecision(
                run_id=r[0],
                step_id=r[1],
                request=r[2],
                approved=r[3],
                by=r[4],
                reason=r[5],
                decided_at=r[6],
            )
            for r in rows
        ]

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._rows(
            "reading a run",
            f"SELECT {_RUN_COLUMNS} FROM cadenza.runs WHERE run_id = %s",
            (run_id,),
        )
        return _record(rows[0]) if rows else None

    def list_runs(
        self, *, limit: int = 20, status: str | None = None, workflow: str | None = None
    ) -> list[RunRecord]:
        rows = self._rows(
            "listing runs",
            f"SELECT {_RUN_COLUMNS} FROM cadenza.runs "
            "WHERE (%(status)s::text IS NULL OR status = %(status)s) "
            "AND (%(workflow)s::text IS NULL OR workflow = %(workflow)s) "
            "ORDER BY started_at DESC, run_id DESC LIMIT %(limit)s",
            {"status": status, "workflow": workflow, "limit": limit},
        )
        return [_record(row) for row in rows]

    def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]:
        rows = self._rows(
            "reading events",
            "SELECT data FROM cadenza.events WHERE run_id = %s AND seq > %s ORDER BY seq",
            (run_id, after),
        )
        return [row[0] for row in rows]

    def read_source(self, run_id: str) -> str | None:
        rows = self._rows(
            "reading a run's source",
            "SELECT text FROM cadenza.run_sources WHERE run_id = %s",
            (run_id,),
        )
        return str(rows[0][0]) if rows else None

    def get_cache(self, key: str, *, now: float) -> CacheEntry | None:
        rows = self._rows(
            "reading the cache",
            "SELECT key, output, created_at, expires_at, run_id, step_id FROM cadenza.cache "
            "WHERE key = %s AND (expires_at IS NULL OR expires_at > %s)",
            (key, now),
        )
        if not rows:
            return None
        key, output, created_at, expires_at, run_id, step_id = rows[0]
        return CacheEntry(
            key=key,
            output=output,
            created_at=created_at,
            expires_at=expires_at,
            run_id=run_id,
            step_id=step_id,
        )

    def close(self) -> None:
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"


def _write(batch: WriteBatch, url: str, conn: psycopg.Connection[Any], sent: _Sent) -> None:
    """Apply ``batch`` in one transaction; ``sent.done`` just before its COMMIT."""
    with conn.transaction(), conn.cursor() as cur:
        if batch.fence is not None:  # first, in the batch's transaction: see _queue
            q.check_fence(cur, batch.fence, url)
        if batch.events:
            # COPY, not INSERT per row: a big fan-out's batch holds thousands of events,
            # and COPY takes them in one stream (~3x faster). A repeated (run_id, seq)
            # still fails the whole COPY, and so the transaction.
            with cur.copy(
                "COPY cadenza.events (run_id, seq, kind, step_id, at, data) FROM STDIN"
            ) as copy:
                for e in batch.events:
                    copy.write_row(
                        (e["run_id"], e["seq"], e["kind"], e.get("step_id"), e["at"], _dumps(e))
                    )
        if batch.runs:
            cur.executemany(_UPSERT_RUN, [_run_row(r) for r in batch.runs])
        if batch.sources:
            cur.executemany(
                "INSERT INTO cadenza.run_sources (run_id, text) VALUES (%s, %s) "
                "ON CONFLICT (run_id) DO NOTHING",
                list(batch.sources),
            )
        if batch.cache:
            cur.executemany(
                "INSERT INTO cadenza.cache VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET output = excluded.output, "
                "created_at = excluded.created_at, expires_at = excluded.expires_at, "
                "run_id = excluded.run_id, step_id = excluded.step_id",
                [
                    (c.key, _dumps(c.output), c.created_at, c.expires_at, c.run_id, c.step_id)
                    for c in batch.cache
                ],
            )
        sent.done = True


def _run_row(r: RunRecord) -> tuple[Any, ...]:
    return (
        r.run_id, r.workflow, r.source, r.source_hash, r.status, r.started_at, r.finished_at,
        _dumps(dict(r.counts)), _dumps(dict(r.inputs)), r.pid, r.host, r.reason,
    )  # fmt: skip


def _record(row: tuple[Any, ...]) -> RunRecord:
    (run_id, workflow, source, source_hash, status, started_at, finished_at, counts, inputs,
     pid, host, reason, cancel_requested) = row  # fmt: skip
    return RunRecord(
        run_id=run_id, workflow=workflow, source=source, source_hash=source_hash,
        status=status, started_at=started_at, finished_at=finished_at, counts=counts,
        inputs=inputs, pid=pid, host=host, reason=reason, cancel_requested=cancel_requested,
    )  # fmt: skip
