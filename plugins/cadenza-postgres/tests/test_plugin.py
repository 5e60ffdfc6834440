"""The plugin is found through its entry point and opens for both URL schemes."""

from __future__ import annotations

import cadenza_postgres
import pytest
from cadenza_postgres import PostgresStore
from cadenza_postgres.testing import Server

import cadenza
import cadenza.testing
from cadenza.store import open_store


def test_entry_point_registers_both_schemes() -> None:
    """``load_plugins()`` finds distribution cadenza-postgres and its two URL schemes."""
    plugins = cadenza.plugins.load_plugins(only=["postgres"])
    info = next(i for i in plugins.infos if i.name == "postgres")
    assert info.status == "loaded", info.error
    assert (info.distribution, info.version) == ("cadenza-postgres", cadenza_postgres.__version__)
    assert info.hooks == ("cadenza_stores",)
    assert set(info.registrations) == {
        ("cadenza_stores", "postgresql"),
        ("cadenza_stores", "postgres"),
    }


def test_cadenza_plugins_command_lists_it() -> None:
    """`cadenza plugins --json` shows the plugin as loaded."""
    listed = cadenza.testing.listed_plugins("postgres")
    assert listed["postgres"]["distribution"] == "cadenza-postgres"
    assert listed["postgres"]["status"] == "loaded"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_open_store_picks_it_by_scheme(
    scheme: str, database_url: str, plugins: cadenza.plugins.Plugins
) -> None:
    """``open_store`` opens a PostgresStore for either scheme."""
    url = database_url.replace("postgresql://", f"{scheme}://", 1)
    store = open_store(url, plugins.registered("cadenza_stores"))
    try:
        assert isinstance(store, PostgresStore)
        assert isinstance(store, cadenza.store.SupportsApprovals)
        assert store.list_runs() == []
    finally:
        store.close()


def test_tables_live_in_the_cadenza_schema(database_url: str, server: Server) -> None:
    """Opening creates the journal's tables in schema ``cadenza``, versioned in its meta table."""
    PostgresStore(database_url).close()
    database = database_url.rsplit("/", 1)[1]
    tables = server.sql(
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
        "WHERE schemaname = 'cadenza'",
        database=database,
    )
    assert tables == "approval_decisions,cache,events,meta,queue,run_sources,runs,workers"
    version = server.sql(
        "SELECT value FROM cadenza.meta WHERE key = 'schema_version'", database=database
    )
    assert version == str(cadenza_postgres.SCHEMA_VERSION)
