"""What goes wrong, said clearly: an unreachable server, a refused login, a missing database.

Every message names the journal by its URL with the password as ``***``.
"""

from __future__ import annotations

import socket

import pytest
from cadenza_postgres import PostgresStore
from cadenza_postgres.testing import Server

from cadenza.store import StoreError, WriteBatch
from cadenza.testing._store_suite import run_record, step_event

SECRET = "hunter2-secret"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_unreachable_server_says_what_to_check() -> None:
    """No server at the address: what failed, the redacted URL, and what to check."""
    url = f"postgresql://ada:{SECRET}@127.0.0.1:{_closed_port()}/journal"
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    message = str(caught.value)
    assert message.startswith("journal postgresql://ada:***@127.0.0.1:")
    assert "cannot connect to the PostgreSQL server" in message
    assert "Check that the PostgreSQL server is running" in message
    assert SECRET not in message
    assert SECRET not in caught.value.url


def test_wrong_password_is_refused_login_without_the_password(server: Server) -> None:
    """A wrong password says the login was refused and where to set it; it never shows."""
    server.sql(f"CREATE ROLE ada LOGIN PASSWORD 'right-{SECRET}'")
    try:
        with pytest.raises(StoreError) as caught:
            PostgresStore(server.url(user="ada", password=SECRET))
        message = str(caught.value)
        assert "the server refused the login" in message
        assert 'password authentication failed for user "ada"' in message
        assert "PGPASSWORD" in message
        assert SECRET not in message
        assert "***" in message
    finally:
        server.sql("DROP ROLE ada")


def test_right_password_opens_and_url_hides_it(server: Server, database_url: str) -> None:
    """With the right password the store opens; its ``url`` (shown by the CLI) hides it."""
    database = database_url.rsplit("/", 1)[1]
    server.sql(f"CREATE ROLE bea LOGIN PASSWORD '{SECRET}'")
    server.sql(f'ALTER DATABASE "{database}" OWNER TO bea')
    try:
        store = PostgresStore(server.url(database, user="bea", password=SECRET))
        try:
            store.write(WriteBatch(runs=[run_record("r")]))
            assert store.get_run("r") is not None
            assert SECRET not in store.url
            assert SECRET not in repr(store)
            assert store.url == server.url(database, user="bea", password="***")
        finally:
            store.close()
    finally:
        server.sql(f'DROP DATABASE "{database}"')
        server.sql("DROP ROLE bea")


def test_missing_database_says_how_to_create_it(server: Server) -> None:
    """A database that does not exist is named, with createdb as the fix."""
    with pytest.raises(StoreError) as caught:
        PostgresStore(server.url("no_such_db"))
    message = str(caught.value)
    assert "there is no such database" in message
    assert 'database "no_such_db" does not exist' in message
    assert "createdb" in message


def test_repeated_event_names_the_contract(database_url: str) -> None:
    """A batch repeating a journaled event fails saying events are unique by (run_id, seq)."""
    store = PostgresStore(database_url)
    try:
        store.write(WriteBatch(events=[step_event("r", 0)]))
        with pytest.raises(StoreError, match=r"unique by \(run_id, seq\)"):
            store.write(WriteBatch(events=[step_event("r", 0)]))
    finally:
        store.close()


def test_read_only_user_is_told_it_needs_write_access(server: Server, database_url: str) -> None:
    """A user that may read but not write the journal gets a clear error on writing."""
    database = database_url.rsplit("/", 1)[1]
    PostgresStore(database_url).close()  # the tables exist, made by the owner
    server.sql(f"CREATE ROLE reader LOGIN PASSWORD '{SECRET}'")
    server.sql(
        "GRANT USAGE ON SCHEMA cadenza TO reader; "
        "GRANT SELECT ON ALL TABLES IN SCHEMA cadenza TO reader",
        database=database,
    )
    try:
        store = PostgresStore(server.url(database, user="reader", password=SECRET))
        try:
            assert store.list_runs() == []
            with pytest.raises(StoreError) as caught:
                store.write(WriteBatch(runs=[run_record("r")]))
            message = str(caught.value)
            assert "writing a batch needs write access" in message
            assert SECRET not in message
        finally:
            store.close()
    finally:
        server.sql("DROP OWNED BY reader; DROP ROLE reader", database=database)
