"""Scheduler overhead: the Cadenza kernel against a hand-written trio program.

Usage::

    python benchmarks/bench_scheduler.py [--quick] [--json out.json]
                                         [--only fan-out-1k ...] [--repeats N]
                                         [--no-journal] [--journal-dir DIR]
                                         [--profile WORKLOAD]
                                         [--profile-journal WORKLOAD]

Every workload (benchmarks/_workloads.py) runs three ways per repeat, in one
process:

* **kernel**: ``run_workflow`` on a ``Workflow`` built directly (no YAML
  loader), every step served by a no-op agent kind, no journal;
* **kernel + journal**: the same with ``store=``: a fresh ``SqliteStore`` file
  in a new temporary directory for every run (opened before and closed after
  the timed region), wrapped to count the journal's batches and time its
  writes (benchmarks/_instrumented_store.py);
* **baseline**: the least a correct trio program must do for the same DAG --
  one nursery, one ``trio.Event`` per step, each step task waits for its needs'
  events, holds a shared ``trio.CapacityLimiter`` and awaits the same no-op
  agent call, then sets its event.

All run at the same concurrency (64 unless ``--concurrency``). Times are the
median of ``--repeats`` runs of ``trio.run`` measured with
``time.perf_counter`` (the three sides' repeats interleave). Peak memory is
``tracemalloc``'s peak during one extra, untimed run of each (which also serves
as warm-up). The no-op agent only does ``await trio.lowlevel.checkpoint()``, so
the difference between kernel and baseline is the kernel's own cost per step:
readiness tracking, dispatch, events, request and outcome objects; the
difference between kernel + journal and kernel is the journal's.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import trio
from _instrumented_store import SYNCHRONOUS, CountingStore, IdleClock, JournalStats, NullStore
from _quiet_logs import LOGGED_ERRORS
from _workloads import WORKLOADS, Workload

import cadenza
from cadenza import (
    AgentConfig,
    AgentRequest,
    AgentResult,
    RetryPolicy,
    Step,
    Workflow,
    run_workflow,
)
from cadenza._scheduler._run import idempotency_key
from cadenza.plugins import Plugins, load_plugins

CONCURRENCY = 64
REPEATS = 5
BUDGET_SECONDS = 120.0
AGENT = "noop"


# -- the no-op agent -------------------------------------------------------------


@attrs.define(eq=False)
class NoopAgent:
    """Yields to the scheduler once and returns an empty result."""

    name: str
    capabilities: frozenset[str] = frozenset()

    async def run(self, request: AgentRequest) -> AgentResult:
        await trio.lowlevel.checkpoint()
        return AgentResult(output=None)

    async def aclose(self) -> None:
        pass


class NoopPlugin:
    """Registers agent kind ``noop``."""

    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        register("noop", lambda config: NoopAgent(name=config.name))


def make_plugins() -> Plugins:
    try:
        return load_plugins(extra=[NoopPlugin()], entry_points=False)
    except TypeError:  # an older loader without ``entry_points=``
        return load_plugins(extra=[NoopPlugin()])


def empty_inputs() -> Any:
    """A compiled, constant ``with: {}``."""
    from cadenza._expr import _expressions as _expr

    static = getattr(_expr.ValueTemplate, "static", None)
    if static is not None:
        return static({})
    template, issues = _expr.compile_value({}, path="steps.with")
    assert not issues, issues
    return template


def make_workflow(workload: Workload, concurrency: int) -> Workflow:
    inputs = empty_inputs()
    retry = RetryPolicy(max_attempts=1)
    steps = {
        step_id: Step(id=step_id, uses=AGENT, inputs=inputs, needs=needs, retry=retry)
        for step_id, needs in workload.needs.items()
    }
    return Workflow(
        name=workload.name,
        steps=steps,
        agents={AGENT: AgentConfig(name=AGENT, kind="noop")},
        concurrency=concurrency,
    )


# -- the three sides -------------------------------------------------------------


@attrs.frozen
class JournalOptions:
    """Where journaled runs put their store, and (experiments only) its fsync policy."""

    directory: str | None = None
    synchronous: str = "FULL"
    store: str = "sqlite"  # or "null" (EXPERIMENT: no store cost at all)


class KernelRunner:
    """One ``trio.run`` of the workflow through the Cadenza scheduler, journaled or not.

    ``prepare`` (untimed) opens a fresh store when journaling, ``__call__`` is the
    timed run, ``finish`` (untimed) closes the store, deletes its directory and
    returns what the journal wrote.
    """

    def __init__(
        self, workload: Workload, concurrency: int, journal: JournalOptions | None = None
    ) -> None:
        self.workload = workload
        self.plugins = make_plugins()
        self.workflow = make_workflow(workload, concurrency)
        self.journal = journal
        self.store: CountingStore | NullStore | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._run_id: str | None = None

    def prepare(self) -> None:
        self._run_id = None
        if self.journal is None:
            return
        if self.journal.store == "null":
            self.store = NullStore()
            return
        self._tmp = tempfile.TemporaryDirectory(prefix="cadenza-bench-", dir=self.journal.directory)
        self.store = CountingStore(
            Path(self._tmp.name) / "journal.db", synchronous=self.journal.synchronous
        )

    def __call__(self) -> None:
        store = self.store
        workload = self.workload
        result = trio.run(
            lambda: run_workflow(
                self.workflow, plugins=self.plugins, rng=random.Random(0), store=store
            ),
            instruments=[IdleClock(store.stats)] if store is not None else [],
        )
        if LOGGED_ERRORS:
            raise SystemExit(
                f"kernel run of {workload.name} logged errors, so its timing would be "
                "meaningless:\n  " + "\n  ".join(dict.fromkeys(LOGGED_ERRORS))
            )
        ok = sum(1 for o in result.steps.values() if o.status == "succeeded")
        if result.status != "succeeded" or ok != workload.steps:
            raise SystemExit(
                f"kernel run of {workload.name} ended {result.status} with "
                f"{ok}/{workload.steps} steps succeeded: {result.reason}"
            )
        self._run_id = result.run_id

    def finish(self) -> JournalStats | None:
        store, self.store = self.store, None
        if store is None:
            return None
        try:
            self._check_journal(store)
            store.close()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None
        return store.stats

    def _check_journal(self, store: CountingStore | NullStore) -> None:
        """The journal holds every event of the run, and the run is recorded as succeeded."""
        if self._run_id is None:  # the run itself failed; its error is on its way
            return
        polls = store.stats.cancel_polls
        record = store.get_run(self._run_id)
        store.stats.cancel_polls = polls  # that was us, not the cancel watcher
        expected = 3 * self.workload.steps + 2  # run_started, 3 per step, run_finished
        if record is None or record.status != "succeeded" or store.stats.events != expected:
            raise SystemExit(
                f"journaled run of {self.workload.name}: the store holds "
                f"{store.stats.events}/{expected} events and run status "
                f"{record.status if record else None!r}"
            )


async def baseline_main(workload: Workload, concurrency: int) -> int:
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
                idempotency_key=idempotency_key(run_id, step_id),
            )
            await agent.run(request)
        finished += 1
        done[step_id].set()

    async with trio.open_nursery() as nursery:
        for step_id, needs in workload.needs.items():
            nursery.start_soon(step, step_id, needs)
    return finished


class BaselineRunner:
    """One ``trio.run`` of the same DAG as plain trio tasks."""

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


Runner = KernelRunner | BaselineRunner


# -- measuring -------------------------------------------------------------------


def timed(runner: Runner) -> tuple[float, JournalStats | None]:
    """Seconds of one run (setup and teardown excluded) and what its journal wrote."""
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


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


@attrs.define
class Result:
    key: str
    workload: str
    description: str
    steps: int
    repeats: int
    kernel_times: list[float]
    baseline_times: list[float]
    kernel_peak: int
    baseline_peak: int
    journal_times: list[float] = attrs.field(factory=list)
    journal_peak: int | None = None
    journal_stats: list[JournalStats] = attrs.field(factory=list)
    note: str = ""

    @property
    def kernel(self) -> float:
        return statistics.median(self.kernel_times)

    @property
    def baseline(self) -> float:
        return statistics.median(self.baseline_times)

    @property
    def ratio(self) -> float:
        return self.kernel / self.baseline

    @property
    def min_ratio(self) -> float:
        """Ratio of the fastest runs: less sensitive to other load on the machine."""
        return min(self.kernel_times) / min(self.baseline_times)

    @property
    def overhead_us(self) -> float:
        """Extra wall time per step the kernel costs over the baseline, in µs."""
        return (self.kernel - self.baseline) / self.steps * 1e6

    @property
    def kernel_us_per_step(self) -> float:
        return self.kernel / self.steps * 1e6

    # -- journal on --

    @property
    def journal(self) -> float:
        return _median(self.journal_times)

    @property
    def journal_ratio(self) -> float:
        """Kernel + journal against the raw-trio baseline."""
        return self.journal / self.baseline

    @property
    def journal_min_ratio(self) -> float:
        return min(self.journal_times) / min(self.baseline_times)

    @property
    def journal_cost(self) -> float:
        """The journal's own ratio: kernel + journal / kernel (journal off)."""
        return self.journal / self.kernel

    @property
    def journal_min_cost(self) -> float:
        return min(self.journal_times) / min(self.kernel_times)

    @property
    def journal_us(self) -> float:
        """Extra wall time per step the journal costs, in µs."""
        return (self.journal - self.kernel) / self.steps * 1e6

    @property
    def journal_us_per_step(self) -> float:
        return self.journal / self.steps * 1e6

    def stat(self, name: str) -> float:
        """Median over repeats of one ``JournalStats`` field or property."""
        return _median([getattr(s, name) for s in self.journal_stats])

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data.update(
            kernel_median=self.kernel,
            baseline_median=self.baseline,
            ratio=self.ratio,
            overhead_us_per_step=self.overhead_us,
            kernel_us_per_step=self.kernel_us_per_step,
            min_ratio=self.min_ratio,
            kernel_min=min(self.kernel_times),
            baseline_min=min(self.baseline_times),
        )
        if self.journal_times:
            data.update(
                journal_median=self.journal,
                journal_min=min(self.journal_times),
                journal_ratio=self.journal_ratio,
                journal_min_ratio=self.journal_min_ratio,
                journal_cost=self.journal_cost,
                journal_min_cost=self.journal_min_cost,
                journal_us_per_step=self.journal_us,
                journal_median_stats={
                    name: self.stat(name)
                    for name in (
                        *attrs.fields_dict(JournalStats),
                        "encode_seconds",
                        "events_per_batch",
                    )
                },
            )
        return data


def measure(
    key: str,
    workload: Workload,
    *,
    concurrency: int,
    repeats: int,
    budget: float,
    journal: JournalOptions | None,
) -> Result:
    kernel = KernelRunner(workload, concurrency)
    journaled = KernelRunner(workload, concurrency, journal) if journal is not None else None
    baseline = BaselineRunner(workload, concurrency)
    kernel_times: list[float] = []
    journal_times: list[float] = []
    baseline_times: list[float] = []
    journal_stats: list[JournalStats] = []
    journal_peak = None
    note = ""
    print(f"{workload.name}: memory run, repeat", end="", flush=True, file=sys.stderr)
    try:
        kernel_peak = peak_memory(kernel)
        if journaled is not None:
            journal_peak = peak_memory(journaled)
        baseline_peak = peak_memory(baseline)
        for i in range(repeats):
            print(f" {i + 1}", end="", flush=True, file=sys.stderr)
            kernel_times.append(timed(kernel)[0])
            slowest = kernel_times[-1]
            if journaled is not None:
                seconds, stats = timed(journaled)
                assert stats is not None
                journal_times.append(seconds)
                journal_stats.append(stats)
                slowest = max(slowest, seconds)
            baseline_times.append(timed(baseline)[0])
            if slowest > budget and i + 1 < repeats:
                note = f"{i + 1} of {repeats} repeats: a kernel run took > {budget:g}s"
                break
    finally:
        print(file=sys.stderr)
    return Result(
        key=key,
        workload=workload.name,
        description=workload.description,
        steps=workload.steps,
        repeats=len(kernel_times),
        kernel_times=kernel_times,
        baseline_times=baseline_times,
        kernel_peak=kernel_peak,
        baseline_peak=baseline_peak,
        journal_times=journal_times,
        journal_peak=journal_peak,
        journal_stats=journal_stats,
        note=note,
    )


# -- reporting -------------------------------------------------------------------


def filesystem(path: str) -> str:
    """``type (device)`` of the mount holding ``path``, from /proc/self/mounts (Linux)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return "?"
    real = os.path.realpath(path)
    best: list[str] | None = None
    for fields in mounts:
        point = fields[1]
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best[1])):
            best = fields
    return f"{best[2]} ({best[0]})" if best else "?"


def environment(concurrency: int, repeats: int, journal: JournalOptions | None) -> dict[str, Any]:
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    import sqlite3

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "trio": trio.__version__,
        "cadenza": getattr(cadenza, "__version__", "?"),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "concurrency": concurrency,
        "repeats": repeats,
        "loadavg_before": _loadavg(),
    }
    if journal is not None:
        directory = journal.directory or tempfile.gettempdir()
        env["journal_dir"] = directory
        env["journal_filesystem"] = filesystem(directory)
        env["synchronous"] = journal.synchronous
        env["store"] = journal.store
    return env


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def mib(n: int | float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f}"


def render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        out = [cells[0].ljust(widths[0])]
        out += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join(out) + " |"

    sep = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([line(header), sep, *(line(row) for row in rows)])


def _name(r: Result) -> str:
    return r.workload + (" *" if r.note else "")


def table(results: Sequence[Result]) -> str:
    """Journal off: the kernel against raw trio."""
    header = (
        "workload",
        "steps",
        "kernel s",
        "baseline s",
        "ratio",
        "ratio of mins",
        "overhead µs/step",
        "kernel µs/step",
        "kernel peak MiB",
        "baseline peak MiB",
    )
    rows = [
        (
            _name(r),
            f"{r.steps:,}",
            f"{r.kernel:.4f}",
            f"{r.baseline:.4f}",
            f"{r.ratio:.2f}x",
            f"{r.min_ratio:.2f}x",
            f"{r.overhead_us:.1f}",
            f"{r.kernel_us_per_step:.1f}",
            mib(r.kernel_peak),
            mib(r.baseline_peak),
        )
        for r in results
    ]
    notes = [f"* {r.workload}: {r.note}" for r in results if r.note]
    return "\n".join([render(header, rows), *notes])


def journal_table(results: Sequence[Result]) -> str:
    """Journal on: the journaled kernel against raw trio and against itself unjournaled."""
    header = (
        "workload",
        "steps",
        "journal on s",
        "ratio",
        "ratio of mins",
        "on/off",
        "on/off of mins",
        "journal µs/step",
        "kernel+journal µs/step",
        "peak MiB",
    )
    rows = [
        (
            _name(r),
            f"{r.steps:,}",
            f"{r.journal:.4f}",
            f"{r.journal_ratio:.2f}x",
            f"{r.journal_min_ratio:.2f}x",
            f"{r.journal_cost:.2f}x",
            f"{r.journal_min_cost:.2f}x",
            f"{r.journal_us:.1f}",
            f"{r.journal_us_per_step:.1f}",
            mib(r.journal_peak),
        )
        for r in results
        if r.journal_times
    ]
    return render(header, rows)


def writes_table(results: Sequence[Result]) -> str:
    """What the journal wrote and where its writer thread spent the time (medians)."""
    header = (
        "workload",
        "batches",
        "events",
        "events/batch",
        "largest batch",
        "trio idle s",
        "writer busy s",
        "encode s",
        "insert s",
        "commit s",
        "file MiB",
        "bytes/event",
    )
    rows = [
        (
            _name(r),
            f"{r.stat('batches'):,.0f}",
            f"{r.stat('events'):,.0f}",
            f"{r.stat('events_per_batch'):,.1f}",
            f"{r.stat('largest_batch'):,.0f}",
            f"{r.stat('trio_idle_seconds'):.4f}",
            f"{r.stat('write_seconds'):.4f}",
            f"{r.stat('encode_seconds'):.4f}",
            f"{r.stat('insert_seconds'):.4f}",
            f"{r.stat('commit_seconds'):.4f}",
            mib(r.stat("file_bytes")),
            f"{r.stat('file_bytes') / max(r.stat('events'), 1):.0f}",
        )
        for r in results
        if r.journal_times
    ]
    return render(header, rows)


def profile(key: str, concurrency: int) -> None:
    """Run one kernel repeat of ``key`` under cProfile and print the top functions."""
    import cProfile
    import pstats

    run = KernelRunner(WORKLOADS[key](), concurrency)
    run()  # warm-up
    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def _hop_seconds(samples: int = 2000) -> float:
    """Mean round trip of ``trio.to_thread.run_sync`` (one-slot limiter, a no-op call)."""

    async def main() -> float:
        limiter = trio.CapacityLimiter(1)
        for _ in range(100):
            await trio.to_thread.run_sync(int, limiter=limiter)
        start = time.perf_counter()
        for _ in range(samples):
            await trio.to_thread.run_sync(int, limiter=limiter)
        return (time.perf_counter() - start) / samples

    return trio.run(main)


def profile_journal(key: str, concurrency: int, journal: JournalOptions) -> None:
    """cProfile one journaled run: the trio thread, and (separately) the writer thread.

    cProfile only sees the thread that enables it, so each ``store.write`` call is
    profiled on its own in the worker thread and the profiles are merged.
    """
    import cProfile
    import pstats

    workload = WORKLOADS[key]()
    plain = KernelRunner(workload, concurrency)
    run = KernelRunner(workload, concurrency, journal)
    timed(run)  # warm-up
    off = min(timed(plain)[0] for _ in range(3))
    on = min(timed(run)[0] for _ in range(3))

    writer_profiles: list[cProfile.Profile] = []
    run.prepare()
    assert run.store is not None
    store = run.store
    inner_write = store.write

    def profiled_write(batch: Any) -> None:
        profiler = cProfile.Profile()
        profiler.runcall(inner_write, batch)
        writer_profiles.append(profiler)

    store.write = profiled_write  # type: ignore[method-assign]
    main_profiler = cProfile.Profile()
    try:
        start = time.perf_counter()
        main_profiler.runcall(run)
        profiled = time.perf_counter() - start
    finally:
        stats = run.finish()
    assert stats is not None
    hop = _hop_seconds()

    what = "null store" if journal.store == "null" else f"synchronous={journal.synchronous}"
    print(f"{workload.name}, journal on ({what}), one profiled run:")
    print(
        f"  unprofiled best of 3: journal off {off:.4f}s, on {on:.4f}s "
        f"(+{(on - off) / workload.steps * 1e6:.1f} µs/step); profiled run {profiled:.4f}s"
    )
    print(
        f"  {stats.batches} batches, {stats.events} events ({stats.events_per_batch:.1f}/batch, "
        f"largest {stats.largest_batch}), journal file {mib(stats.file_bytes)} MiB"
    )
    print(
        f"  writer thread busy {stats.write_seconds:.4f}s: encode {stats.encode_seconds:.4f}s, "
        f"insert {stats.insert_seconds:.4f}s, commit {stats.commit_seconds:.4f}s "
        f"({stats.commit_seconds / max(stats.batches, 1) * 1e3:.3f} ms/commit)"
    )
    print(
        f"  trio.to_thread.run_sync round trip (idle, no-op): {hop * 1e6:.1f} µs; "
        f"x {stats.batches} batches = {hop * stats.batches:.4f}s"
    )
    print("\n== trio thread (scheduler, observers, journal feeding) ==")
    main_stats = pstats.Stats(main_profiler)
    main_stats.sort_stats("tottime").print_stats(25)
    main_stats.sort_stats("cumulative").print_stats("_journal|to_thread|_events|_bus", 20)
    if writer_profiles:
        print("== writer thread (SqliteStore.write, all batches merged) ==")
        writer_stats = pstats.Stats(writer_profiles[0])
        for extra in writer_profiles[1:]:
            writer_stats.add(extra)
        writer_stats.sort_stats("tottime").print_stats(15)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat instead of 5")
    parser.add_argument("--json", metavar="PATH", help="also write results as JSON to PATH")
    parser.add_argument("--repeats", type=int, help="timed repeats per workload (median shown)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument(
        "--only",
        action="append",
        choices=list(WORKLOADS),
        help="run only this workload (repeatable)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=BUDGET_SECONDS,
        help="stop repeating a workload once one kernel run exceeds this many seconds",
    )
    parser.add_argument("--no-journal", action="store_true", help="skip the journaled kernel runs")
    parser.add_argument(
        "--journal-dir",
        metavar="DIR",
        help="create the journal files under DIR (default: the system temp dir); "
        "its filesystem decides what an fsync costs",
    )
    parser.add_argument(
        "--synchronous",
        choices=SYNCHRONOUS,
        default="FULL",
        help="EXPERIMENT: PRAGMA synchronous for the journal (Cadenza uses FULL)",
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "null"),
        default="sqlite",
        help="EXPERIMENT: 'null' journals to a store that keeps nothing, to separate the "
        "journal's cost inside the kernel from SQLite's",
    )
    parser.add_argument(
        "--profile",
        choices=list(WORKLOADS),
        help="instead of benchmarking, cProfile one kernel run of this workload",
    )
    parser.add_argument(
        "--profile-journal",
        choices=list(WORKLOADS),
        metavar="WORKLOAD",
        help="instead of benchmarking, cProfile one journaled run (trio and writer threads)",
    )
    args = parser.parse_args(argv)
    options = JournalOptions(
        directory=args.journal_dir, synchronous=args.synchronous, store=args.store
    )
    journal = None if args.no_journal else options

    if args.profile:
        profile(args.profile, args.concurrency)
        return 0
    if args.profile_journal:
        profile_journal(args.profile_journal, args.concurrency, options)
        return 0

    repeats = args.repeats or (1 if args.quick else REPEATS)
    env = environment(args.concurrency, repeats, journal)
    print(
        f"Cadenza {env['cadenza']} scheduler benchmark: {env['implementation']} {env['python']}, "
        f"trio {env['trio']}, SQLite {env['sqlite']}, {env['platform']}, "
        f"{env['cpu_count']} CPUs ({env['cpus_usable']} usable), "
        f"load average {env['loadavg_before']}",
        flush=True,
    )
    print(
        f"concurrency {args.concurrency} (kernel: workflow concurrency; baseline: "
        f"CapacityLimiter), median of {repeats} repeat(s), no-op agent",
        flush=True,
    )
    if journal is not None:
        if journal.store == "null":
            where = "a null store that keeps nothing -- EXPERIMENT"
        else:
            experiment = "" if journal.synchronous == "FULL" else " -- EXPERIMENT, not Cadenza's"
            where = (
                f"a fresh SqliteStore per run under {env['journal_dir']} "
                f"[{env['journal_filesystem']}], synchronous={journal.synchronous}{experiment}"
            )
        print(f"journal: {where}", flush=True)
    results = []
    for key in args.only or list(WORKLOADS):
        workload = WORKLOADS[key]()
        results.append(
            measure(
                key,
                workload,
                concurrency=args.concurrency,
                repeats=repeats,
                budget=args.budget,
                journal=journal,
            )
        )
    env["loadavg_after"] = _loadavg()
    print()
    print("Journal off: kernel against raw trio")
    print()
    print(table(results))
    if journal is not None:
        print()
        print("Journal on: kernel + journal against raw trio (ratio) and against journal off")
        print()
        print(journal_table(results))
        print()
        print("Journal writes (medians over repeats; writer-thread wall times)")
        print()
        print(writes_table(results))
    print(f"\nload average after: {env['loadavg_after']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"environment": env, "results": [r.to_dict() for r in results]}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
