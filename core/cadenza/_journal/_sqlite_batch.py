"""The statements that write one batch into the SQLite journal, encoded, as few as possible.

Why few: the journal writer runs in a worker thread beside the trio thread,
and Python's ``sqlite3`` releases the GIL around every step of a statement.
With ``executemany`` over events that is one release and one re-acquisition
*per event*, each of which may wait for the busy trio thread (up to the
interpreter's switch interval): a batch of a thousand events took tens of
milliseconds of ping-pong, and slowed the scheduler it competed with.

So events are encoded as one JSON array (one call into the C encoder) and
inserted by one ``INSERT ... SELECT ... FROM json_each(?)`` statement per
chunk: SQLite splits the array and fills the columns itself, without the
GIL. The stored text is the same as one ``json.dumps`` per event: SQLite's
``json_each`` gives each element's JSON exactly as encoded (compact,
ASCII-only, numbers as written). Events this path cannot take -- a float that
is not finite (JSON has no ``NaN``), or a chunk too big for one SQL value --
go through the per-event statement, as does everything when the SQLite
library lacks JSON functions.

A batch that comes down to one single-row statement (the common case while
steps run: only step events) needs no ``BEGIN``/``COMMIT`` around it: SQLite
commits a lone statement as its own transaction, atomically and with the
same ``synchronous=FULL`` durability, and the writer saves two statements'
worth of GIL hand-offs (:attr:`Statement.alone`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._store import WriteBatch

CHUNK_EVENTS = 1024
"""Events per ``json_each`` statement: bounds the size of one SQL value."""

MAX_CHUNK_CHARS = 64 * 1024 * 1024
"""A chunk whose JSON is longer goes through the per-event statement instead."""

ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
"""How the journal writes a value as JSON (compact, ASCII-only; ``str()`` for the unknown)."""

_ARRAY_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str, allow_nan=False)
"""The same, refusing ``NaN``/``Infinity`` (not JSON, so SQLite would not keep them as written)."""

_INSERT_EVENT = (
    "INSERT INTO events (run_id, seq, kind, step_id, at, data) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENTS = """INSERT INTO events (run_id, seq, kind, step_id, at, data)
    SELECT json_extract(value, '$.run_id'), json_extract(value, '$.seq'),
           json_extract(value, '$.kind'), json_extract(value, '$.step_id'),
           json_extract(value, '$.at'), value
    FROM json_each(?)"""
_UPSERT_RUN = """INSERT INTO runs (run_id, workflow, source, source_hash, status,
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
            THEN 0 ELSE runs.cancel_requested END"""
_INSERT_SOURCE = "INSERT OR IGNORE INTO run_sources (run_id, text) VALUES (?, ?)"
_PUT_CACHE = "INSERT OR REPLACE INTO cache VALUES (?, ?, ?, ?, ?, ?)"


def dumps(value: Any) -> str:
    """``value`` as the journal stores it (see :data:`ENCODER`)."""
    return ENCODER.encode(value)


@attrs.frozen
class Statement:
    """One SQL statement of a batch: ``rows`` of parameters for ``sql``."""

    sql: str
    rows: Sequence[Sequence[Any]]

    @property
    def alone(self) -> bool:
        """Whether it is one statement execution (atomic on its own, without BEGIN)."""
        return len(self.rows) == 1

    def run(self, db: sqlite3.Connection) -> None:
        if len(self.rows) == 1:
            db.execute(self.sql, self.rows[0])
        else:
            db.executemany(self.sql, self.rows)


def has_json(db: sqlite3.Connection) -> bool:
    """Whether this SQLite library has the JSON functions the batched event insert uses."""
    try:
        row = db.execute("SELECT json_extract(value, '$.a') FROM json_each('[{\"a\":1}]')")
        return bool(row.fetchone() == (1,))
    except sqlite3.Error:
        return False


def statements(batch: WriteBatch, *, use_json: bool) -> list[Statement]:
    """What writing ``batch`` takes, encoded (no database needed), empty parts left out."""
    plan = _event_statements(batch.events, use_json=use_json)
    if batch.runs:
        rows = [
            (
                r.run_id,
                r.workflow,
                r.source,
                r.source_hash,
                r.status,
                r.started_at,
                r.finished_at,
                dumps(dict(r.counts)),
                dumps(dict(r.inputs)),
                r.pid,
                r.host,
                r.reason,
            )
            for r in batch.runs
        ]
        plan.append(Statement(_UPSERT_RUN, rows))
    if batch.sources:
        plan.append(Statement(_INSERT_SOURCE, list(batch.sources)))
    if batch.cache:
        entries = [
            (c.key, dumps(c.output), c.created_at, c.expires_at, c.run_id, c.step_id)
            for c in batch.cache
        ]
        plan.append(Statement(_PUT_CACHE, entries))
    return plan


def _event_statements(events: Sequence[Mapping[str, Any]], *, use_json: bool) -> list[Statement]:
    if not use_json:
        return [_each(events)] if events else []
    plan: list[Statement] = []
    for start in range(0, len(events), CHUNK_EVENTS):
        chunk = events[start : start + CHUNK_EVENTS]
        try:
            text = _ARRAY_ENCODER.encode(chunk)
        except ValueError:  # NaN or Infinity somewhere: store them as the per-event path does
            plan.append(_each(chunk))
            continue
        if len(text) > MAX_CHUNK_CHARS:
            plan.append(_each(chunk))
        else:
            plan.append(Statement(_INSERT_EVENTS, [(text,)]))
    return plan


def _each(events: Sequence[Mapping[str, Any]]) -> Statement:
    """One row per event: the path for what :data:`_INSERT_EVENTS` cannot take."""
    rows = [(e["run_id"], e["seq"], e["kind"], e.get("step_id"), e["at"], dumps(e)) for e in events]
    return Statement(_INSERT_EVENT, rows)
