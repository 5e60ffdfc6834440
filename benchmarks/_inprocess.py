"""In-process pieces shared by bench_routing.py: the no-op agent, raw trio, timing.

bench_scheduler.py measures in separate processes; bench_routing.py compares
routing variants against each other in one process and reuses these. Public
API only: the compiled ``with: {}`` a hand-built ``Step`` needs comes from
``cadenza.load_workflow_data`` of a one-step workflow, not from a private
module.
"""

from __future__ import annotations

import gc
import os
import platform
import sqlite3
import time
import tracemalloc
from typing import Any, Protocol

import trio
from _workloads import Workload, noop_agent_class

import cadenza
from cadenza import AgentRequest
from cadenza.plugins import Plugins, load_plugins

AGENT = "noop"


NoopAgent = noop_agent_class()
"""Yields to the scheduler once and returns an empty result (shared with bench_scheduler)."""


class NoopPlugin:
    """Registers agent kind ``noop``."""

    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        register(AGENT, lambda config: NoopAgent(name=config.name))


def make_plugins() -> Plugins:
    return load_plugins(extra=[NoopPlugin()], entry_points=False)


def empty_inputs() -> Any:
    """A compiled, constant ``with: {}``, taken from a workflow loaded the public way."""
    data = {"name": "empty", "agents": {AGENT: {"kind": AGENT}}, "steps": {"s": {"uses": AGENT}}}
    return cadenza.load_workflow_data(data, plugins=make_plugins()).workflow.steps["s"].inputs


async def baseline_main(workload: Workload, concurrency: int) -> int:
    """Raw trio: one nursery, one ``Event`` per step, a shared ``CapacityLimiter``."""
    agent = NoopAgent(name=AGENT)
    run_id = "baseline"
    limiter = trio.CapacityLimiter(concurrency)
    done = {step_id: trio.Event() for step_id in workload.needs}
    finished = 0

    async def step(step_id: str, needs: tuple[str, ...]) -> None:
        nonlocal finished
        for need in needs:
            await done[need].wait()
        async with limiter:
            request = AgentRequest(
                run_id=run_id,
                step_id=step_id,
                task_type=AGENT,
                inputs={},
                attempt=1,
                idempotency_key=f"{run_id}:{step_id}",
            )
            await agent.run(request)
        finished += 1
        done[step_id].set()

    async with trio.open_nursery() as nursery:
        for step_id, needs in workload.needs.items():
            nursery.start_soon(step, step_id, needs)
    return finished


class Runner(Protocol):
    def prepare(self) -> None: ...
    def __call__(self) -> None: ...
    def finish(self) -> Any: ...


class BaselineRunner:
    """One ``trio.run`` of the DAG as plain trio tasks."""

    def __init__(self, workload: Workload, concurrency: int) -> None:
        self.workload = workload
        self.concurrency = concurrency

    def prepare(self) -> None:
        pass

    def __call__(self) -> None:
        finished = trio.run(baseline_main, self.workload, self.concurrency)
        if finished != self.workload.steps:
            raise SystemExit(
                f"baseline of {self.workload.name}: {finished}/{self.workload.steps} steps"
            )

    def finish(self) -> None:
        return None


def timed(runner: Runner) -> tuple[float, Any]:
    """Seconds of one run (setup and teardown excluded) and what ``finish`` returned."""
    runner.prepare()
    try:
        gc.collect()
        start = time.perf_counter()
        runner()
        elapsed = time.perf_counter() - start
    finally:
        stats = runner.finish()
    return elapsed, stats


def peak_memory(runner: Runner) -> int:
    """Peak bytes allocated (tracemalloc) during one run."""
    runner.prepare()
    try:
        gc.collect()
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            runner()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        runner.finish()


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment(concurrency: int, repeats: int, journal: object = None) -> dict[str, Any]:
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "trio": trio.__version__,
        "cadenza": cadenza.__version__,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "concurrency": concurrency,
        "repeats": repeats,
        "loadavg_before": _loadavg(),
    }


def mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f}"
