"""Fixtures: one throwaway PostgreSQL server per test session, a fresh database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import cadenza_postgres
import pytest
from cadenza_postgres.testing import Server, require_binaries, throwaway_server

import cadenza

_names = itertools.count()


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """A running server for the whole session (skipped, with a notice, without Postgres)."""
    bin_dir = require_binaries()
    with throwaway_server(bin_dir) as running:
        yield running


@pytest.fixture
def database_url(server: Server) -> str:
    """The URL of a new, empty database on the session's server."""
    return server.create_database(f"test_{next(_names)}")


@pytest.fixture
def plugins() -> cadenza.plugins.Plugins:
    """Built-ins plus cadenza_postgres, without scanning entry points (tests see only these)."""
    return cadenza.plugins.load_plugins(entry_points=False, extra=[cadenza_postgres])
