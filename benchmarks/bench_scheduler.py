"""Scheduler overhead: the Cadenza kernel against a hand-written trio program.

Usage::

    python benchmarks/bench_scheduler.py [--quick] [--json out.json]
                                         [--only fan-out-1k ...] [--repeats N]
                                         [--profile WORKLOAD]

Every workload (benchmarks/_workloads.py) runs twice per repeat, in one process:

* **kernel**: ``run_workflow`` on a ``Workflow`` built directly (no YAML
  loader), every step served by a no-op agent kind;
* **baseline**: the least a correct trio program must do for the same DAG --
  one nursery, one ``trio.Event`` per step, each step task waits for its needs'
  events, holds a shared ``trio.CapacityLimiter`` and awaits the same no-op
  agent call, then sets its event.

Both run at the same concurrency (64 unless ``--concurrency``). Times are the
median of ``--repeats`` runs of ``trio.run`` measured with
``time.perf_counter`` (kernel and baseline repeats interleave). Peak memory is
``tracemalloc``'s peak during one extra, untimed run of each (which also serves
as warm-up). The no-op agent only does ``await trio.lowlevel.checkpoint()``, so
the difference between the two is the kernel's own cost per step: readiness
tracking, dispatch, events, request and outcome objects.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import structlog
import trio
from _workloads import WORKLOADS, Workload

import cadenza
from cadenza import (
    AgentConfig,
    AgentRequest,
    AgentResult,
    Plugins,
    RetryPolicy,
    Step,
    Workflow,
    load_plugins,
    run_workflow,
)
from cadenza._scheduler import idempotency_key

# The scheduler logs every event at debug/info; measuring log rendering would
# swamp the kernel's own cost. Configure before anything logs (structlog
# loggers are lazy proxies, so importing cadenza first is fine). Errors are
# recorded (and not rendered): a kernel run that logs one has misbehaved, e.g.
# dropped a failing observer, and its time would mean nothing.
_LOGGED_ERRORS: list[str] = []


def _record_errors(logger: Any, method_name: str, event_dict: Any) -> Any:
    if method_name in ("error", "exception", "critical"):
        fields = " ".join(f"{k}={v}" for k, v in event_dict.items() if k != "event")
        exc = sys.exc_info()[1] if event_dict.get("exc_info") else None
        cause = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        _LOGGED_ERRORS.append(f"{event_dict.get('event')} {fields}{cause}")
        raise structlog.DropEvent
    return event_dict


structlog.configure(
    processors=[_record_errors, *structlog.get_config()["processors"]],
    wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
)

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
    from cadenza import _expr

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


# -- the two implementations -----------------------------------------------------


def kernel_runner(workload: Workload, concurrency: int) -> Callable[[], None]:
    """One ``trio.run`` of the workflow through the Cadenza scheduler."""
    plugins = make_plugins()
    workflow = make_workflow(workload, concurrency)

    def run() -> None:
        result = trio.run(lambda: run_workflow(workflow, plugins=plugins, rng=random.Random(0)))
        if _LOGGED_ERRORS:
            raise SystemExit(
                f"kernel run of {workload.name} logged errors, so its timing would be "
                "meaningless:\n  " + "\n  ".join(dict.fromkeys(_LOGGED_ERRORS))
            )
        ok = sum(1 for o in result.steps.values() if o.status == "succeeded")
        if result.status != "succeeded" or ok != workload.steps:
            raise SystemExit(
                f"kernel run of {workload.name} ended {result.status} with "
                f"{ok}/{workload.steps} steps succeeded: {result.reason}"
            )

    return run


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


def baseline_runner(workload: Workload, concurrency: int) -> Callable[[], None]:
    """One ``trio.run`` of the same DAG as plain trio tasks."""

    def run() -> None:
        finished = trio.run(baseline_main, workload, concurrency)
        if finished != workload.steps:
            raise SystemExit(f"baseline of {workload.name}: {finished}/{workload.steps} steps")

    return run


# -- measuring -------------------------------------------------------------------


def timed(fn: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_memory(fn: Callable[[], None]) -> int:
    """Peak bytes allocated (tracemalloc) during one call of ``fn``."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


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
        return data


def measure(
    key: str, workload: Workload, *, concurrency: int, repeats: int, budget: float
) -> Result:
    kernel = kernel_runner(workload, concurrency)
    baseline = baseline_runner(workload, concurrency)
    kernel_times: list[float] = []
    baseline_times: list[float] = []
    note = ""
    print(f"{workload.name}: memory run, repeat", end="", flush=True, file=sys.stderr)
    try:
        kernel_peak = peak_memory(kernel)
        baseline_peak = peak_memory(baseline)
        for i in range(repeats):
            print(f" {i + 1}", end="", flush=True, file=sys.stderr)
            kernel_times.append(timed(kernel))
            baseline_times.append(timed(baseline))
            if kernel_times[-1] > budget and i + 1 < repeats:
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
        note=note,
    )


# -- reporting -------------------------------------------------------------------


def environment(concurrency: int, repeats: int) -> dict[str, Any]:
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "trio": trio.__version__,
        "cadenza": getattr(cadenza, "__version__", "?"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "concurrency": concurrency,
        "repeats": repeats,
    }


def mib(n: int) -> str:
    return f"{n / 2**20:.1f}"


def table(results: Sequence[Result]) -> str:
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
            r.workload + (" *" if r.note else ""),
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
    lines = [line(header), sep, *(line(row) for row in rows)]
    lines += [f"* {r.workload}: {r.note}" for r in results if r.note]
    return "\n".join(lines)


def profile(key: str, concurrency: int) -> None:
    """Run one kernel repeat of ``key`` under cProfile and print the top functions."""
    import cProfile
    import pstats

    run = kernel_runner(WORKLOADS[key](), concurrency)
    run()  # warm-up
    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


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
    parser.add_argument(
        "--profile",
        choices=list(WORKLOADS),
        help="instead of benchmarking, cProfile one kernel run of this workload",
    )
    args = parser.parse_args(argv)

    if args.profile:
        profile(args.profile, args.concurrency)
        return 0

    repeats = args.repeats or (1 if args.quick else REPEATS)
    env = environment(args.concurrency, repeats)
    print(
        f"Cadenza {env['cadenza']} scheduler benchmark: {env['implementation']} {env['python']}, "
        f"trio {env['trio']}, {env['platform']}, "
        f"{env['cpu_count']} CPUs ({env['cpus_usable']} usable)",
        flush=True,
    )
    print(
        f"concurrency {args.concurrency} (kernel: workflow concurrency; baseline: "
        f"CapacityLimiter), median of {repeats} repeat(s), no-op agent",
        flush=True,
    )
    results = []
    for key in args.only or list(WORKLOADS):
        workload = WORKLOADS[key]()
        results.append(
            measure(
                key, workload, concurrency=args.concurrency, repeats=repeats, budget=args.budget
            )
        )
    print()
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"environment": env, "results": [r.to_dict() for r in results]}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
