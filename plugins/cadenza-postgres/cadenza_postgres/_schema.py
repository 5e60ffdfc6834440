"""The journal's tables in PostgreSQL: creating them once, and refusing a newer layout.

Everything lives in one Postgres schema, ``cadenza``, so a journal can share a
database with other applications. ``cadenza.meta`` holds ``schema_version``:
opening creates the tables when the schema is missing (under an advisory
lock, so two processes opening a new database at once do not race), and
refuses a journal written by a newer Cadenza, as the SQLite store does.

Values are ``json``, not ``jsonb``: ``jsonb`` rewrites numbers (``1e300``
comes back as the integer 10**300) and refuses the ``\\u0000`` escape, so
values would not round-trip as JSON; ``json`` keeps the text the kernel
wrote, and Postgres still checks it and can query it (``data->>'kind'``).

Growing: new tables and columns are added by a migration from version N to
N+1 (:data:`MIGRATIONS`), run under the same advisory lock when a journal of
an older version is opened, each in one transaction with its version bump;
a reader refuses only a *newer* version. Version 2 added the run queue
(``cadenza.queue``, ``cadenza.workers``) for ``cadenza submit`` and
``cadenza worker``: a version-1 journal is upgraded the first time this
cadenza-postgres opens it (older ones keep reading and writing runs, and
ignore the new tables).
"""

from __future__ import annotations

from typing import Any

import psycopg

from cadenza.store import SCHEMA_VERSION as JOURNAL_VERSION

SCHEMA_VERSION = 2
"""Version of this plugin's table layout (``schema_version`` in ``cadenza.meta``).

Beside it, ``journal_version`` records the kernel's :data:`cadenza.store.SCHEMA_VERSION`
(the layout of events and records): a newer one of either is refused.
"""

SCHEMA = "cadenza"
"""The Postgres schema (namespace) holding the journal's tables."""

_LOCK_KEY = 0x6361_6465_6E7A_61  # "cadenza": serialises schema creation across processes

_TABLES = """
CREATE SCHEMA IF NOT EXISTS cadenza;
CREATE TABLE cadenza.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE cadenza.runs (
    run_id text PRIMARY KEY,
    workflow text NOT NULL,
    source text NOT NULL,
    source_hash text NOT NULL,
    status text NOT NULL,
    started_at double precision NOT NULL,
    finished_at double precision,
    counts json NOT NULL,
    inputs json NOT NULL,
    pid integer,
    host text NOT NULL,
    reason text NOT NULL,
    cancel_requested boolean NOT NULL DEFAULT false
);
CREATE INDEX runs_by_start ON cadenza.runs (started_at DESC, run_id DESC);
CREATE TABLE cadenza.run_sources (run_id text PRIMARY KEY, text text NOT NULL);
CREATE TABLE cadenza.events (
    run_id text NOT NULL,
    seq bigint NOT NULL,
    kind text NOT NULL,
    step_id text,
    at double precision NOT NULL,
    data json NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE cadenza.cache (
    key text PRIMARY KEY,
    output json NOT NULL,
    created_at double precision NOT NULL,
    expires_at double precision,
    run_id text NOT NULL,
    step_id text NOT NULL
);
CREATE TABLE cadenza.approval_decisions (
    run_id text NOT NULL,
    step_id text NOT NULL,
    request bigint NOT NULL,
    approved boolean NOT NULL,
    by_name text NOT NULL,
    reason text NOT NULL,
    decided_at double precision NOT NULL,
    recorded bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (run_id, step_id, request)
)
"""


_QUEUE_TABLES = """
CREATE TABLE cadenza.queue (
    run_id text PRIMARY KEY,
    path text NOT NULL,
    workflow text NOT NULL,
    source text NOT NULL,
    inputs json NOT NULL,
    submitted_at double precision NOT NULL,
    state text NOT NULL CHECK (state IN ('queued', 'claimed', 'done', 'failed', 'cancelled')),
    worker text NOT NULL DEFAULT '',
    token bigint NOT NULL DEFAULT 0,
    lease_until double precision,
    attempts integer NOT NULL DEFAULT 0
);
CREATE INDEX queue_claimable ON cadenza.queue (submitted_at)
    WHERE state IN ('queued', 'claimed');
CREATE TABLE cadenza.workers (
    worker text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at double precision NOT NULL,
    heartbeat_at double precision NOT NULL
)
"""

MIGRATIONS: dict[int, str] = {1: _QUEUE_TABLES}
"""From version N (key) to N+1: the statements, run in one transaction with the bump."""


class SchemaProblem(Exception):
    """The database holds what this Cadenza must not touch; ``problem`` and ``fix`` say so."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem, self.fix = problem, fix
        super().__init__(problem)


def _tables(conn: psycopg.Connection[Any]) -> set[str]:
    """The tables in schema ``cadenza``, read from one snapshot of the catalog."""
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (SCHEMA,))
    return {row[0] for row in rows}


def _version(conn: psycopg.Connection[Any], key: str) -> int:
    """The stored version ``key`` (-1 when missing or unreadable)."""
    row = conn.execute("SELECT value FROM cadenza.meta WHERE key = %s", (key,)).fetchone()
    try:
        return int(row[0]) if row else -1
    except ValueError:
        return -1


def ensure_schema(conn: psycopg.Connection[Any]) -> int:
    """Create the journal's tables if missing, check their version; return the version.

    ``conn`` is in autocommit mode; creation is one transaction under an
    advisory lock. Raises :class:`SchemaProblem` for a newer, missing or
    unreadable version, or a foreign ``cadenza`` schema.
    """
    if "meta" not in _tables(conn):
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            tables = _tables(conn)  # another process may have created them meanwhile
            if tables and "meta" not in tables:
                raise SchemaProblem(
                    f"the Postgres schema {SCHEMA!r} holds tables but no Cadenza journal "
                    "(no cadenza.meta table)",
                    "Point --store at another database; this one was left untouched.",
                )
            if not tables:
                for statement in (_TABLES + ";" + _QUEUE_TABLES).split(";"):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO cadenza.meta VALUES "
                    "('schema_version', %s), ('journal_version', %s)",
                    (str(SCHEMA_VERSION), str(JOURNAL_VERSION)),
                )
    version = _version(conn, "schema_version")
    if 0 <= version < SCHEMA_VERSION:
        version = _migrate(conn)
    if version < 0:
        raise SchemaProblem(
            "its schema version is missing or unreadable (cadenza.meta)",
            "Restore the database from a backup or point --store at another one; "
            "it was left untouched.",
        )
    journal = max(_version(conn, "journal_version"), 0)
    for name, found, known in (
        ("schema", version, SCHEMA_VERSION),
        ("journal", journal, JOURNAL_VERSION),
    ):
        if found > known:
            raise SchemaProblem(
                f"it was written by a newer Cadenza ({name} version {found} in cadenza.meta; "
                f"this cadenza-postgres reads up to {known})",
                "Upgrade Cadenza and cadenza-postgres to use it; the database was left untouched.",
            )
    return version


def _migrate(conn: psycopg.Connection[Any]) -> int:
    """Upgrade an older journal to :data:`SCHEMA_VERSION`, one version per transaction.

    Under the advisory lock, re-reading the version each time: two processes
    opening an old journal at once migrate it once.
    """
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            version = _version(conn, "schema_version")
            if version >= SCHEMA_VERSION or version not in MIGRATIONS:
                return version
            for statement in MIGRATIONS[version].split(";"):
                conn.execute(statement)
            conn.execute(
                "UPDATE cadenza.meta SET value = %s WHERE key = 'schema_version'",
                (str(version + 1),),
            )
