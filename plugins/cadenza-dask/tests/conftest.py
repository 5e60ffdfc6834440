"""Fixtures: one LocalCluster (two worker processes) per test session, the plugin set."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import cadenza_dask
import pytest
from cadenza_dask.testing import RunningCluster, running_cluster

import cadenza

HERE = Path(__file__).resolve().parent

# Worker processes are spawned with the coordinator's sys.path: this folder
# (dask_tasks) must be on it before the session cluster starts.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def cluster() -> Iterator[RunningCluster]:
    """A LocalCluster(processes=True) of two single-threaded workers, for the whole session."""
    with running_cluster(workers=2) as running:
        yield running


@pytest.fixture
def plugins() -> cadenza.plugins.Plugins:
    """Built-ins plus cadenza_dask, without scanning entry points (tests see only these)."""
    return cadenza.plugins.load_plugins(entry_points=False, extra=[cadenza_dask])
