"""Raw trio (the baseline) and Cadenza: bench_scheduler.py's own sides, reused unchanged.

Runs in the project's venv; the io workload's sides are in _side_kernel_io.py.
The DAG comes from benchmarks/_workloads.py by its key, and is checked against
the mapping the peers receive, so every side runs the very same graph.
"""

from __future__ import annotations

import argparse
from typing import Any

import bench_scheduler
from _workloads import WORKLOADS, Workload


def _workload(data: dict[str, Any]) -> Workload:
    workload = WORKLOADS[data["key"]]()
    same = {step: list(needs) for step, needs in workload.needs.items()} == data["needs"]
    if not same:
        raise SystemExit(f"{data['key']}: the peers' graph differs from benchmarks/_workloads.py")
    return workload


def trio_side(data: dict[str, Any], args: argparse.Namespace) -> Any:
    """Raw trio: the no-op DAG, or raw trio + httpx for the io workload."""
    if "io" in data:
        from _side_kernel_io import TrioHttpSide

        return TrioHttpSide(data, args)
    return TrioSide(data, args)


def cadenza_side(
    data: dict[str, Any], args: argparse.Namespace, *, journal: bool, engine: str | None = None
) -> Any:
    """Cadenza: a no-op agent kind for a DAG, the built-in ``http`` agent for the io workload.

    ``engine`` (io only) sets ``CADENZA_HTTP_ENGINE`` in this process: ``"httpx"``
    puts the agent on httpx's stock transport, the one every other side uses.
    """
    if "io" in data:
        from _side_kernel_io import CadenzaHttpSide

        return CadenzaHttpSide(data, args, journal=journal, engine=engine)
    if engine is not None:
        raise SystemExit("an HTTP engine only matters to the io workload")
    return CadenzaSide(data, args, journal=journal)


class TrioSide:
    """A nursery, a ``trio.Event`` per step, a ``CapacityLimiter``: see bench_scheduler.py."""

    build_seconds = None

    def __init__(self, data: dict[str, Any], args: argparse.Namespace) -> None:
        self._side = bench_scheduler.TrioSide(_workload(data), args.concurrency, None)
        self.prepare, self.run, self.finish = (
            self._side.prepare,
            self._side.run,
            self._side.finish,
        )


class CadenzaSide:
    """``load_workflow_data`` (timed as the build) then ``run_workflow`` in ``trio.run``."""

    def __init__(self, data: dict[str, Any], args: argparse.Namespace, *, journal: bool) -> None:
        self._side = bench_scheduler.CadenzaSide(
            _workload(data), args.concurrency, args.journal_dir, journal=journal
        )
        self.build_seconds = self._side.load_seconds
        self.prepare, self.run, self.finish = (
            self._side.prepare,
            self._side.run,
            self._side.finish,
        )
