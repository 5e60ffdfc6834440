"""cadenza.testing.StoreConformance, unchanged, on a real PostgreSQL server."""

from __future__ import annotations

import pytest
from cadenza_postgres import PostgresStore

import cadenza.testing


class TestPostgresStore(cadenza.testing.StoreConformance):
    @pytest.fixture
    def store(self, database_url: str) -> PostgresStore:
        return PostgresStore(database_url)
