"""A throwaway dask cluster for tests: a LocalCluster with worker processes, and its pids.

The executor's tests (and a plugin author's, or a benchmark's) need a real
scheduler to connect to by ``address``: :func:`running_cluster` starts a
``LocalCluster(processes=True)`` on loopback, yields a :class:`RunningCluster`
(its scheduler address, each worker's pid, and a synchronous client for
inspecting the scheduler) and shuts it all down afterwards. Worker processes
start with multiprocessing's spawn, so a script using it needs an
``if __name__ == "__main__":`` guard, as any dask LocalCluster does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import attrs

__all__ = ["RunningCluster", "running_cluster", "scheduler_task_count"]


@attrs.frozen(kw_only=True)
class RunningCluster:
    """A running LocalCluster: where its scheduler listens, its workers' pids, a client."""

    address: str
    client: Any

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid, asked now (a restarted worker has a new pid)."""
        pids: dict[str, int] = self.client.run(os.getpid)
        return pids


@contextlib.contextmanager
def running_cluster(workers: int = 2, threads_per_worker: int = 1) -> Iterator[RunningCluster]:
    """Start a LocalCluster of ``workers`` processes on 127.0.0.1; stop it on the way out."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        client.wait_for_workers(workers)
        yield RunningCluster(address=str(cluster.scheduler_address), client=client)


def _task_count(dask_scheduler: Any) -> int:
    return len(dask_scheduler.tasks)


def scheduler_task_count(cluster: RunningCluster) -> int:
    """How many tasks the scheduler holds (0 once every submitted call is done or cancelled)."""
    count: int = cluster.client.run_on_scheduler(_task_count)
    return count
