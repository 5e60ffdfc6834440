"""The statements that write one batch into the SQLite journal, encoded, as few as possible.

Why few: the journal writer runs in a worker thread beside the trio thread,
and Python's ``sqlite3`` releases the GIL around every step of a statement.
With ``executemany`` over events that is one release and one re-acquisition
*per event*, each of which may wait for the busy trio thread (up to the
interpreter's switch interval): a batch of a thousand events took tens of
milliseconds of ping-pong, and slowed the scheduler it competed with.

So each event is encoded once (``json.dumps`` as the journal always stored
it; the journal writer hands over events already encoded, see ``_encoded``)
and a chunk of events goes in as one multi-row ``INSERT ... VALUES
(...), (...), ...`` statement: one step, one GIL hand-off, and SQLite gets
the columns as bound values. (The previous way, one JSON array split by
``json_each`` with a ``json_extract`` per column, parsed every event's JSON
five more times inside SQLite: about 9 µs per event, most of a layer's write.)
Chunks have power-of-two sizes (:func:`chunk_sizes`), so the few statements
there are stay prepared in the connection's statement cache (preparing a
150-row statement took 1.3 ms here, running it prepared 0.3 ms).

A batch that comes down to one single-row statement (the common case while
steps run: only step events) needs no ``BEGIN``/``COMMIT`` around it: SQLite
commits a lone statement as its own transaction, atomically and with the
same ``synchronous=FULL`` durability, and the writer saves two statements'
worth of GIL hand-offs (:attr:`Statement.alone`).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._encoded import ENCODER as ENCODER
from ._encoded import EncodedEvent, encode_json
from ._store import WriteBatch

CHUNK_EVENTS = 128
"""Most events per ``INSERT`` statement (6 bound values each; SQLite allows 999 at least)."""

_INSERT_EVENTS = "INSERT INTO events (run_id, seq, kind, step_id, at, data) VALUES "
_EVENT_VALUES = "(?, ?, ?, ?, ?, ?)"
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


def statements(batch: WriteBatch) -> list[Statement]:
    """What writing ``batch`` takes, encoded (no database needed), empty parts left out."""
    plan = _event_statements(batch.events)
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


def chunk_sizes(count: int) -> list[int]:
    """How ``count`` events split into statements: ``CHUNK_EVENTS`` each, then powers of two.

    150 events are 128 + 16 + 4 + 2: only a few shapes of statement ever
    exist, each prepared once per connection and then taken from its cache.
    """
    rest = count % CHUNK_EVENTS
    powers = [1 << bit for bit in reversed(range(rest.bit_length())) if rest >> bit & 1]
    return [CHUNK_EVENTS] * (count // CHUNK_EVENTS) + powers


@functools.cache
def _insert_sql(rows: int) -> str:
    return _INSERT_EVENTS + ", ".join([_EVENT_VALUES] * rows)


def _event_statements(events: Sequence[Mapping[str, Any]]) -> list[Statement]:
    encode = encode_json
    plan: list[Statement] = []
    start = 0
    for size in chunk_sizes(len(events)):
        values: list[Any] = []
        for e in events[start : start + size]:
            if e.__class__ is EncodedEvent:  # encoded as it was queued (see _encoded)
                values += (e.run_id, e.seq, e.kind, e.step_id, e.at, e.text)
            else:
                values += (e["run_id"], e["seq"], e["kind"], e.get("step_id"), e["at"], encode(e))
        plan.append(Statement(_insert_sql(size), [values]))
        start += size
    return plan
