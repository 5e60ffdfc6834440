"""What a psycopg error means for the journal: a StoreError that says what, where and how to fix.

Every message names the journal by its redacted URL (never its password) and
the server's own words, scrubbed of the password too, then the fix. A full
disk on the server is a :class:`~cadenza.store.StoreFullError`, as with SQLite.
"""

from __future__ import annotations

import psycopg
import psycopg.errors

from cadenza.store import StoreError, StoreFullError

from ._url import scrub


def _detail(exc: BaseException, password: str) -> str:
    text = " ".join(str(exc).split())  # libpq's messages span lines with tabs
    return scrub(text, password) or type(exc).__name__


def connect_error(exc: psycopg.Error, shown: str, password: str) -> StoreError:
    """Why connecting to the server at ``shown`` failed, and what to check."""
    detail = _detail(exc, password)
    state = exc.sqlstate or ""
    if state == "28P01" or "password authentication failed" in detail:
        fix = (
            "Check the user name and password: in the URL (postgresql://user:password@...), "
            "in PGPASSWORD or in ~/.pgpass."
        )
        problem = "the server refused the login"
    elif state == "3D000" or ("database" in detail and "does not exist" in detail):
        fix = "Create the database (createdb NAME) or name an existing one in the URL."
        problem = "there is no such database"
    elif state.startswith("28"):
        fix = "Check the server's pg_hba.conf allows this user from this host, and the user name."
        problem = "the server refused the connection"
    else:
        fix = (
            "Check that the PostgreSQL server is running and that the host and port in "
            "--store are right (a firewall, or listen_addresses on the server, may block it)."
        )
        problem = "cannot connect to the PostgreSQL server"
    return StoreError(f"journal {shown}: {problem} ({detail}). {fix}", url=shown)


def query_error(exc: psycopg.Error, shown: str, password: str, doing: str) -> StoreError:
    """The StoreError for an error while ``doing`` something (``writing a batch``)."""
    detail = _detail(exc, password)
    if isinstance(exc, psycopg.errors.DiskFull):
        return StoreFullError(shown, detail=detail, url=shown)
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return StoreError(
            f"journal {shown}: {doing} failed and wrote nothing: it repeats an event "
            f"already journaled ({detail}). Events are unique by (run_id, seq); this is a bug "
            "in the caller, not in the journal.",
            url=shown,
        )
    if isinstance(
        exc, psycopg.errors.ReadOnlySqlTransaction | psycopg.errors.InsufficientPrivilege
    ):
        return StoreError(
            f"journal {shown}: {doing} needs write access, which the server refused "
            f"({detail}). Connect as a user that may write the schema 'cadenza', to the "
            "primary server rather than a read-only standby.",
            url=shown,
        )
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(
            f"journal {shown}: lost the connection to the PostgreSQL server while {doing} "
            f"({detail}); what was being written was not committed. Check the server is up, "
            "then finish the run with `cadenza resume RUN`.",
            url=shown,
        )
    return StoreError(
        f"journal {shown}: database error while {doing} ({detail}). Check the server's log.",
        url=shown,
    )
