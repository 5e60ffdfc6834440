"""The run queue in Postgres: claims with row locks, leases on the server's clock, fencing.

The SQL behind :class:`~cadenza.store.SupportsRunQueue` for
:class:`~cadenza_postgres.PostgresStore` (tables ``cadenza.queue`` and
``cadenza.workers``, added in schema version 2). Why it is safe with many
workers on many hosts:

- **Claims never collide.** ``claim`` picks the oldest claimable row with
  ``SELECT ... FOR UPDATE SKIP LOCKED``: a row another worker is claiming
  (or whose journal is being written, see below) is skipped, not waited on,
  so claimers never block one another nor get the same run.
- **One clock.** Lease times are set and compared with the *server's*
  ``clock_timestamp()``, so workers with skewed clocks agree on expiry.
- **Fencing.** Each claim increments ``token``. A worker's journal writes
  check, in their own transaction, that its (worker, token) is still the
  run's claim, reading the row ``FOR SHARE``: a concurrent takeover waits
  for (or skips) that write's commit, and every write after the takeover
  sees the new token and is refused (:class:`~cadenza.store.LeaseLostError`).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from cadenza.store import Fence, LeaseLostError, QueuedRun, QueueEntry, WorkerInfo

NOW = "extract(epoch from clock_timestamp())"
"""The server's clock, as epoch seconds: every lease time comes from it."""

COLUMNS = ", ".join(QueuedRun.COLUMNS)

SUBMIT = (
    f"INSERT INTO cadenza.queue ({COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s, 'queued', '', 0, NULL, 0)"
)

CLAIM = f"""
UPDATE cadenza.queue SET state = 'claimed', worker = %(worker)s, token = token + 1,
    lease_until = {NOW} + %(lease)s, attempts = attempts + 1
WHERE run_id = (
    SELECT run_id FROM cadenza.queue
    WHERE state = 'queued' OR (state = 'claimed' AND lease_until <= {NOW})
    ORDER BY submitted_at, run_id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING {COLUMNS}
"""

_CLAIMED = "run_id = %(run_id)s AND state = 'claimed' AND worker = %(worker)s AND token = %(token)s"

RENEW = f"UPDATE cadenza.queue SET lease_until = {NOW} + %(lease)s WHERE {_CLAIMED}"
FINISH = f"UPDATE cadenza.queue SET state = %(state)s, lease_until = NULL WHERE {_CLAIMED}"
RELEASE = (
    f"UPDATE cadenza.queue SET state = 'queued', worker = '', lease_until = NULL WHERE {_CLAIMED}"
)
CANCEL_QUEUED = (
    "UPDATE cadenza.queue SET state = 'cancelled' WHERE run_id = %s AND state = 'queued'"
)
GET = f"SELECT {COLUMNS} FROM cadenza.queue WHERE run_id = %s"
LIST = (
    f"SELECT {COLUMNS} FROM cadenza.queue WHERE (%(state)s::text IS NULL OR state = %(state)s) "
    "ORDER BY submitted_at DESC, run_id DESC LIMIT %(limit)s"
)
REGISTER = f"""
INSERT INTO cadenza.workers VALUES (%s, %s, %s, {NOW}, {NOW})
ON CONFLICT (worker) DO UPDATE SET host = excluded.host, pid = excluded.pid,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at
"""
HEARTBEAT = f"UPDATE cadenza.workers SET heartbeat_at = {NOW} WHERE worker = %s"
WORKERS = (
    "SELECT worker, host, pid, started_at, heartbeat_at FROM cadenza.workers "
    "ORDER BY heartbeat_at DESC"
)


def fence_args(fence: Fence, **more: Any) -> dict[str, Any]:
    return {"run_id": fence.run_id, "worker": fence.worker, "token": fence.token, **more}


def entry_args(entry: QueueEntry) -> tuple[Any, ...]:
    inputs = json.dumps(dict(entry.inputs), separators=(",", ":"), default=str)
    return (entry.run_id, entry.path, entry.workflow, entry.source, inputs, entry.submitted_at)


def worker_info(row: tuple[Any, ...]) -> WorkerInfo:
    worker, host, pid, started_at, heartbeat_at = row
    return WorkerInfo(
        worker=worker, host=host, pid=pid, started_at=started_at, heartbeat_at=heartbeat_at
    )


def check_fence(cur: psycopg.Cursor[Any], fence: Fence, url: str) -> None:
    """Refuse the batch being written unless ``fence`` is the run's current claim."""
    cur.execute(
        "SELECT state, worker, token FROM cadenza.queue WHERE run_id = %s FOR SHARE",
        (fence.run_id,),
    )
    if cur.fetchone() != ("claimed", fence.worker, fence.token):
        raise LeaseLostError(fence.run_id, worker=fence.worker, token=fence.token, url=url)
