"""Two `cadenza worker` processes on one SQLite journal: WorkerTakeoverConformance.

The kernel's own check of takeover (workers on one host need no Postgres):
kill -9 and SIGTERM of a worker mid-run, and the other finishes its runs
without calling a journaled success again. The suite lives in
``cadenza.testing`` so other stores (cadenza-postgres) prove the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

import cadenza.testing
from cadenza.store import SqliteStore, Store

from .durability_helpers import store_url

pytestmark = pytest.mark.slow


class TestSqliteTakeover(cadenza.testing.WorkerTakeoverConformance):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return store_url(tmp_path / "journal.db")

    def open_store(self, url: str) -> Store:
        return SqliteStore(url)

    def child_env(self) -> Mapping[str, str]:
        return {"CADENZA_LOAD_PLUGINS": ""}  # the kernel alone, whatever is installed
