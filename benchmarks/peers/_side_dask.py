"""Dask: a ``dask.delayed`` graph, one task per step, each taking its needs as arguments.

Built as Dask's docs build task graphs: ``delayed(step, pure=False)(*needs,
dask_key_name=step_id)``, then ``dask.compute`` of every sink (a step nobody
needs), which runs every step exactly once. The step is a plain function that
returns ``None`` (Dask runs functions, not coroutines; there is no checkpoint to
yield). It counts itself, so each run proves every step ran.

Schedulers, as the docs recommend for one machine: ``sync`` (single-threaded,
the floor of Dask's own overhead), ``threads`` (the default for delayed, a
thread pool of one thread per core), ``distributed`` (``distributed.Client``
on a ``LocalCluster(processes=False)``: one in-process worker, its threads one
per core) and ``distributed-processes`` (``LocalCluster(n_workers=2,
processes=True, threads_per_worker=1)``). The cluster starts, untimed, when
the side is built.

For the io workload each step POSTs to the loopback server with one
``httpx.Client`` (thread-safe) shared by the threads, built inside the timed
run; the threaded scheduler gets ``num_workers`` and the in-process cluster
``threads_per_worker`` equal to the calls in flight (100).
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

import dask
from dask import delayed

_executed = itertools.count()
"""Steps run in this process (``next`` on a ``count`` is atomic under the GIL)."""


def step(*needs: Any) -> None:
    """The step: nothing, counted."""
    next(_executed)


_http: Any = None
"""The io workload's ``httpx.Client`` (thread-safe), one per run, shared by the threads."""
_url = ""


def post(*needs: Any) -> None:
    """The io workload's step: one POST to the loopback server, counted."""
    response = _http.post(_url, json={"task_id": "step"})
    response.raise_for_status()
    response.json()
    next(_executed)


def executed() -> int:
    """How many steps this process ran, without counting this call."""
    global _executed
    seen = next(_executed)
    _executed = itertools.count(seen)
    return seen


def build(needs: dict[str, list[str]], *, io: bool = False, suffix: str = "") -> list[Any]:
    """The delayed graph, each key ``step_id + suffix``; returns its sinks."""
    nodes: dict[str, Any] = {}
    needed: set[str] = set()
    function = post if io else step
    for step_id, step_needs in needs.items():
        nodes[step_id] = delayed(function, pure=False)(
            *(nodes[need] for need in step_needs), dask_key_name=step_id + suffix
        )
        needed.update(step_needs)
    return [node for step_id, node in nodes.items() if step_id not in needed]


class DaskSide:
    def __init__(self, data: dict[str, Any], args: argparse.Namespace, *, scheduler: str) -> None:
        global _url
        self.needs: dict[str, list[str]] = data["needs"]
        self.io: dict[str, Any] | None = data.get("io")
        # Threads, for the io workload: the docs' advice for I/O-bound tasks.
        self.threads: int | None = self.io["concurrency"] if self.io else None
        if self.io:
            if scheduler not in ("threads", "distributed"):
                raise SystemExit("the io workload runs on dask-threads and dask-distributed only")
            _url = self.io["url"]
        start = time.perf_counter()
        self.sinks = build(self.needs, io=bool(self.io))
        self.build_seconds = time.perf_counter() - start
        self.scheduler = scheduler
        self.client: Any = None
        self.cluster: Any = None
        if scheduler.startswith("distributed"):
            from distributed import Client, LocalCluster

            if scheduler == "distributed":
                self.cluster = LocalCluster(
                    processes=False, threads_per_worker=self.threads, dashboard_address=None
                )
            else:
                self.cluster = LocalCluster(
                    n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
                )
            self.client = Client(self.cluster)
        self._before = 0
        self._runs = 0

    def _executed(self) -> int:
        if self.scheduler == "distributed-processes":
            return sum(self.client.run(executed).values())
        return executed()

    def prepare(self) -> None:
        if self.client is not None and self._runs:
            # A distributed scheduler may still hold the last run's results under the same
            # keys (releasing them is asynchronous) and would hand them back without
            # running anything: every run after the first gets a graph with new keys.
            self.sinks = build(self.needs, io=bool(self.io), suffix=f"-{self._runs}")
        self._runs += 1
        self._before = self._executed()

    def run(self) -> None:
        global _http
        if not self.io:
            self._compute()
            return
        import httpx

        limits = httpx.Limits(max_connections=self.threads, max_keepalive_connections=self.threads)
        with httpx.Client(limits=limits, timeout=30) as _http:
            self._compute()

    def _compute(self) -> None:
        if self.client is not None:
            dask.compute(*self.sinks, scheduler=self.client)
        else:
            dask.compute(*self.sinks, scheduler=self.scheduler, num_workers=self.threads)

    def finish(self) -> None:
        ran = self._executed() - self._before
        if ran != len(self.needs):
            raise SystemExit(f"dask {self.scheduler}: {ran}/{len(self.needs)} steps ran")

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.cluster.close()
