"""Routing, budgets and multi-agent steps: what they cost the kernel per step and per call.

Usage::

    python benchmarks/bench_routing.py [--quick] [--repeats N] [--json out.json]
                                       [--only fan-out-1k ...] [--variant adaptive ...]
    python benchmarks/bench_routing.py --profile VARIANT [--profile-workload WORKLOAD]
                                       [--profile-against VARIANT] [--profile-no-gc]

For each workload (fan-out 1k, fan-out 10k, layered 20x50 from
benchmarks/_workloads.py), one process runs these, repeats interleaved, journal
off, concurrency 64, every agent a no-op (one ``trio.lowlevel.checkpoint()``):

* **raw trio**: ``_inprocess.baseline_main`` (nursery, one ``Event`` per
  step, a shared ``CapacityLimiter``);
* **1 agent**: the kernel, every step ``uses:`` one agent (as bench_scheduler);
* **4 agents, least_busy**: ``uses:`` a capability four agents serve, the
  default router;
* **4 agents, round_robin + price + budget**: the same with ``route:
  round_robin``, every agent with a ``price:`` and the run with a ``budget:``
  far above what it spends, so every call reserves before it starts and
  settles after it (and emits ``cost_incurred``), but no call ever waits for
  the budget; the run's spend must equal calls x ``per_call``;
* **4 agents, adaptive**: ``route: adaptive`` (a Beta draw per candidate per
  call; no journal, so no history from past runs);
* **fan_out 3, majority_vote**: every step asks 3 of the 4 agents (chosen by
  least_busy) and votes; the vote is decided once two agree, which cancels the
  third call if it has not finished yet (``calls (N done)`` in the table);
* **hedged, no hedge fires**: ``fan_out: 2`` with ``aggregate: hedged``, a
  one-hour delay and ``min_samples`` above any sample count, so each step
  makes one call: what differs from 4 agents, least_busy is the multi-agent
  attempt (a nursery and a task per call, a ``move_on_after`` waiting for the
  hedge delay, the aggregator and its ``answers_combined`` event).

Workflows are built from the spec classes, not YAML, in each run's untimed
setup (so only one variant's workflow is alive at a time). Times are the
median of ``--repeats`` runs of ``trio.run`` (``time.perf_counter``); peak
memory is ``tracemalloc``'s peak in one extra untimed run of each (also the
warm-up). ``calls`` counts ``agent.run`` invocations (the agents count them);
``GC s`` is the wall time of the cyclic GC's collections inside the run
(``gc.callbacks``). Every run must succeed with every step, with the calls
(and for the priced run, the spend) expected, or the benchmark stops.

``--profile VARIANT`` cProfiles one run of fan-out 10k instead (top 25 by
tottime); with ``--profile-against OTHER`` it also lists the functions and
modules whose tottime grew most over OTHER's, and ``--profile-no-gc`` turns
the GC off for the profiled runs so its pauses are not charged to whichever
function happened to allocate.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import pstats
import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import _inprocess as bs
import attrs
import trio
from _quiet_logs import LOGGED_ERRORS
from _workloads import WORKLOADS, Workload

import cadenza
from cadenza import (
    AgentConfig,
    AgentRequest,
    AgentResult,
    Budget,
    Price,
    RetryPolicy,
    Step,
    Workflow,
)
from cadenza.strategies import StrategySpec

CONCURRENCY = 64
REPEATS = 5
DEFAULT_WORKLOADS = ("fan-out-1k", "fan-out-10k", "layered-20x50")
KIND = "counting-noop"
CAPABILITY = "work"
PANEL = 4
PRICE = Price(input_per_1k=0.0005, output_per_1k=0.0015, per_call=0.001)
"""No-op agents report no usage, so each call costs exactly ``per_call``; the
reservation is ``per_call`` + the estimate for 256 output tokens."""
GENEROUS = Budget(usd=1e9, tokens=10**15)


class GcClock:
    """Wall time the cyclic garbage collector takes inside ``measuring()`` blocks.

    ``_inprocess.timed`` collects before it starts the clock; that
    collection is outside the block and not counted.
    """

    def __init__(self) -> None:
        self.armed = False
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if not self.armed:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.collections[info["generation"]] += 1

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        self.seconds, self.collections = 0.0, [0, 0, 0]
        self.armed = True
        try:
            yield
        finally:
            self.armed = False


GC = GcClock()


# -- the agent: a no-op that counts its calls -----------------------------------------


@attrs.define(eq=False)
class CountingNoopAgent:
    """``_inprocess.NoopAgent`` that also counts its calls (into a shared list cell)."""

    name: str
    counter: list[int]

    async def run(self, request: AgentRequest) -> AgentResult:
        self.counter[0] += 1
        await trio.lowlevel.checkpoint()
        return AgentResult(output=None)

    async def aclose(self) -> None:
        pass


class CountingPlugin:
    """Registers agent kind ``counting-noop``; every agent of it counts into ``counter``."""

    def __init__(self) -> None:
        self.counter = [0]

    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        register(KIND, lambda config: CountingNoopAgent(name=config.name, counter=self.counter))


def make_plugins(plugin: CountingPlugin) -> cadenza.plugins.Plugins:
    try:
        return cadenza.plugins.load_plugins(extra=[plugin], entry_points=False)
    except TypeError:  # an older loader without ``entry_points=``
        return cadenza.plugins.load_plugins(extra=[plugin])


# -- the variants ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Variant:
    """How the workflow differs from the single-agent one."""

    key: str
    label: str
    agents: int = PANEL
    route: StrategySpec | None = None  # the workflow's default route; None: least_busy
    priced: bool = False  # agents get PRICE and the run GENEROUS
    fan_out: int | None = None
    aggregate: StrategySpec | None = None
    calls_per_step: tuple[int, int] = (1, 1)  # least and most calls per step
    balanced: bool = False  # round robin: every agent within one call of the others


NO_HEDGE = StrategySpec(
    name="hedged", options={"delay": 3600.0, "min_samples": 10**9, "max_requests": 2}
)

VARIANTS: dict[str, Variant] = {
    v.key: v
    for v in (
        Variant(key="single", label="1 agent", agents=1),
        Variant(key="least_busy", label="4 agents, least_busy"),
        Variant(
            key="round_robin_budget",
            label="4 agents, round_robin + price + budget",
            route=StrategySpec(name="round_robin"),
            priced=True,
            balanced=True,
        ),
        Variant(key="adaptive", label="4 agents, adaptive", route=StrategySpec(name="adaptive")),
        Variant(
            key="majority3",
            label="fan_out 3, majority_vote",
            fan_out=3,
            aggregate=StrategySpec(name="majority_vote"),
            calls_per_step=(2, 3),
        ),
        Variant(key="hedged", label="hedged, no hedge fires", fan_out=2, aggregate=NO_HEDGE),
    )
}


def make_workflow(workload: Workload, variant: Variant, concurrency: int) -> Workflow:
    inputs = bs.empty_inputs()
    retry = RetryPolicy(max_attempts=1)
    if variant.agents == 1:
        names = ["noop"]
        uses = "noop"
    else:
        names = [f"noop{i}" for i in range(variant.agents)]
        uses = CAPABILITY
    agents = {
        name: AgentConfig(
            name=name,
            kind=KIND,
            capabilities=frozenset({CAPABILITY}),
            price=PRICE if variant.priced else None,
        )
        for name in names
    }
    extra: dict[str, Any] = {}
    if variant.fan_out is not None:
        extra["fan_out"] = variant.fan_out
    if variant.aggregate is not None:
        extra["aggregate"] = variant.aggregate
    steps = {
        step_id: Step(id=step_id, uses=uses, inputs=inputs, needs=needs, retry=retry, **extra)
        for step_id, needs in workload.needs.items()
    }
    options: dict[str, Any] = {}
    if variant.route is not None:
        options["route"] = variant.route
    if variant.priced:
        options["budget"] = GENEROUS
    return Workflow(
        name=f"{workload.name} {variant.key}",
        steps=steps,
        agents=agents,
        concurrency=concurrency,
        **options,
    )


# -- runners (the prepare / __call__ / finish protocol of _inprocess.timed) -------


class VariantRunner:
    """One ``trio.run`` of the workload through the kernel, configured as ``variant``."""

    def __init__(self, workload: Workload, variant: Variant, concurrency: int) -> None:
        self.workload = workload
        self.variant = variant
        self.concurrency = concurrency
        self.plugin = CountingPlugin()
        self.plugins = make_plugins(self.plugin)
        # Built in prepare() and dropped in finish(), so that only the running
        # variant's 10,000 steps are alive: the others would make every full
        # collection of the cyclic GC longer.
        self.workflow: Workflow | None = None
        self.calls: list[int] = []  # agent.run invocations per run
        self.completed: list[int] = []  # calls the kernel saw finish (RunResult.agents)
        self.gc_seconds: list[float] = []  # the cyclic GC's share of each run
        self.per_agent: dict[str, int] = {}  # of the last run

    def prepare(self) -> None:
        self.plugin.counter[0] = 0
        self.workflow = make_workflow(self.workload, self.variant, self.concurrency)

    def __call__(self) -> None:
        workflow = self.workflow
        assert workflow is not None, "prepare() first"
        with GC.measuring():
            result = trio.run(
                lambda: cadenza.run_workflow(
                    workflow, plugins=self.plugins, rng=random.Random(0), store=None
                )
            )
        self.gc_seconds.append(GC.seconds)
        self.check(result)

    def finish(self) -> None:
        self.workflow = None

    def check(self, result: cadenza.RunResult) -> None:
        """Fail loudly unless every step succeeded with the calls and spend expected."""
        name = f"{self.variant.label} on {self.workload.name}"
        if LOGGED_ERRORS:
            raise SystemExit(
                f"{name} logged errors, so its timing would be meaningless:\n  "
                + "\n  ".join(dict.fromkeys(LOGGED_ERRORS))
            )
        steps = self.workload.steps
        ok = sum(1 for o in result.steps.values() if o.status == "succeeded")
        if result.status != "succeeded" or ok != steps:
            bad = [f"{k}: {o.status} {o.reason}" for k, o in result.steps.items()]
            bad = [b for b in bad if not b.split(": ", 1)[1].startswith("succeeded")]
            raise SystemExit(
                f"{name} ended {result.status} with {ok}/{steps} steps succeeded: "
                f"{result.reason}\n  " + "\n  ".join(bad[:5])
            )
        calls = self.plugin.counter[0]
        least, most = self.variant.calls_per_step
        if not least * steps <= calls <= most * steps:
            raise SystemExit(
                f"{name}: {calls} agent calls for {steps} steps, expected "
                f"{least * steps}-{most * steps} (a hedge fired, or a call went missing)"
            )
        per_agent = {agent: int(stats["calls"]) for agent, stats in result.agents.items()}
        used = [n for n, c in per_agent.items() if c]
        if len(used) != self.variant.agents:
            raise SystemExit(f"{name}: only {used} of {self.variant.agents} agents served calls")
        if self.variant.balanced and max(per_agent.values()) - min(per_agent.values()) > 1:
            raise SystemExit(f"{name}: round robin spread calls unevenly: {per_agent}")
        if self.variant.priced:
            expected = calls * PRICE.per_call
            spent = result.cost.get("budgets", {}).get("run", {}).get("spent_usd")
            if (
                spent is None
                or abs(spent - expected) > 1e-6
                or abs(result.cost_usd - expected) > 1e-6
            ):
                raise SystemExit(
                    f"{name}: spent ${result.cost_usd} (run budget: {spent}), "
                    f"expected ${expected:.3f} for {calls} calls: {result.cost}"
                )
        self.calls.append(calls)
        self.completed.append(sum(per_agent.values()))
        self.per_agent = per_agent


class BaselineRunner(bs.BaselineRunner):
    """``_inprocess``'s raw-trio run, with the GC's share measured."""

    def __init__(self, workload: Workload, concurrency: int) -> None:
        super().__init__(workload, concurrency)
        self.gc_seconds: list[float] = []

    def __call__(self) -> None:
        with GC.measuring():
            super().__call__()
        self.gc_seconds.append(GC.seconds)


# -- measuring ------------------------------------------------------------------------

Runner = BaselineRunner | VariantRunner


def timed(runner: Runner) -> float:
    """``_inprocess.timed``: seconds of one run, setup and teardown excluded."""
    return bs.timed(runner)[0]  # type: ignore[arg-type]  # same protocol, other classes


def peak_memory(runner: Runner) -> int:
    return bs.peak_memory(runner)  # type: ignore[arg-type]


@attrs.define
class Row:
    variant: str
    label: str
    workload: str
    steps: int
    times: list[float]
    baseline_times: list[float]
    single_times: list[float]
    peak: int
    calls: float  # median agent calls per run
    completed: float  # median calls that finished (not cancelled by a decided vote)
    gc_seconds: list[float]  # per timed run
    per_agent: dict[str, int] = attrs.field(factory=dict)

    @property
    def seconds(self) -> float:
        return statistics.median(self.times)

    @property
    def baseline(self) -> float:
        return statistics.median(self.baseline_times)

    @property
    def single(self) -> float:
        return statistics.median(self.single_times)

    @property
    def ratio(self) -> float:
        return self.seconds / self.baseline

    @property
    def min_ratio(self) -> float:
        return min(self.times) / min(self.baseline_times)

    @property
    def vs_single(self) -> float:
        return self.seconds / self.single

    @property
    def paired_vs_single(self) -> float:
        """Median over repeats of this run / the single-agent run right before it."""
        return statistics.median(t / s for t, s in zip(self.times, self.single_times, strict=True))

    @property
    def gc(self) -> float:
        return statistics.median(self.gc_seconds)

    @property
    def us_per_step(self) -> float:
        return self.seconds / self.steps * 1e6

    @property
    def extra_us_per_step(self) -> float:
        return (self.seconds - self.single) / self.steps * 1e6

    @property
    def us_per_call(self) -> float:
        return self.seconds / self.calls * 1e6

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data.update(
            median=self.seconds,
            baseline_median=self.baseline,
            single_median=self.single,
            ratio=self.ratio,
            min_ratio=self.min_ratio,
            vs_single=self.vs_single,
            paired_vs_single=self.paired_vs_single,
            us_per_step=self.us_per_step,
            extra_us_per_step_vs_single=self.extra_us_per_step,
            us_per_call=self.us_per_call,
            gc_median=self.gc,
        )
        return data


def measure(
    workload: Workload, variants: Sequence[Variant], *, concurrency: int, repeats: int
) -> list[Row]:
    runners = {v.key: VariantRunner(workload, v, concurrency) for v in variants}
    baseline = BaselineRunner(workload, concurrency)
    order: list[tuple[str, Runner]] = [
        ("baseline", baseline),
        *runners.items(),
    ]
    times: dict[str, list[float]] = {key: [] for key, _ in order}
    peaks: dict[str, int] = {}
    print(f"{workload.name}: memory runs, repeat", end="", flush=True, file=sys.stderr)
    try:
        for key, runner in order:
            peaks[key] = peak_memory(runner)
        for _, runner in order:  # the memory runs are not timed runs
            runner.gc_seconds.clear()
            if isinstance(runner, VariantRunner):
                runner.calls.clear()
                runner.completed.clear()
        for i in range(repeats):
            print(f" {i + 1}", end="", flush=True, file=sys.stderr)
            for key, runner in order:
                times[key].append(timed(runner))
    finally:
        print(file=sys.stderr)
    single = times.get("single", times["baseline"])
    rows = [
        Row(
            variant="baseline",
            label="raw trio",
            workload=workload.name,
            steps=workload.steps,
            times=times["baseline"],
            baseline_times=times["baseline"],
            single_times=single,
            peak=peaks["baseline"],
            calls=workload.steps,
            completed=workload.steps,
            gc_seconds=baseline.gc_seconds,
        )
    ]
    for key, runner in runners.items():
        rows.append(
            Row(
                variant=key,
                label=runner.variant.label,
                workload=workload.name,
                steps=workload.steps,
                times=times[key],
                baseline_times=times["baseline"],
                single_times=single,
                peak=peaks[key],
                calls=statistics.median(runner.calls),
                completed=statistics.median(runner.completed),
                gc_seconds=runner.gc_seconds,
                per_agent=runner.per_agent,
            )
        )
    return rows


# -- reporting ------------------------------------------------------------------------


def render(header: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> str:
    """A markdown table; the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(out) + " |"

    sep = (
        "|"
        + "|".join("-" * (w + 2) if i < left else "-" * (w + 1) + ":" for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([line(header), sep, *(line(row) for row in rows)])


def table(rows: Sequence[Row]) -> str:
    header = (
        "variant",
        "workload",
        "steps",
        "calls",
        "kernel s",
        "baseline s",
        "vs raw trio",
        "ratio of mins",
        "vs 1 agent",
        "µs/step",
        "+µs/step vs 1 agent",
        "µs/call",
        "GC s",
        "peak MiB",
    )
    out = []
    for r in rows:
        raw = r.variant == "baseline"
        calls = f"{r.calls:,.0f}"
        if r.completed != r.calls:
            calls += f" ({r.completed:,.0f} done)"
        out.append(
            (
                r.label,
                r.workload,
                f"{r.steps:,}",
                calls,
                "-" if raw else f"{r.seconds:.4f}",
                f"{r.baseline:.4f}",
                f"{r.ratio:.2f}x",
                f"{r.min_ratio:.2f}x",
                "-" if raw else f"{r.vs_single:.2f}x",
                f"{r.us_per_step:.1f}",
                "-" if raw or r.variant == "single" else f"{r.extra_us_per_step:+.1f}",
                f"{r.us_per_call:.1f}",
                f"{r.gc:.3f}",
                bs.mib(r.peak),
            )
        )
    return render(header, out, left=2)


def _profiled(
    variant: Variant, workload: Workload, concurrency: int, *, collect: bool
) -> tuple[pstats.Stats, float, float, str]:
    """One cProfile'd run: its stats, the unprofiled best of 3, the profiled time, GC note."""
    runner = VariantRunner(workload, variant, concurrency)
    timed(runner)  # warm-up
    best = min(timed(runner) for _ in range(3))
    runner.prepare()
    profiler = cProfile.Profile()
    gc.collect()
    if not collect:
        gc.disable()
    try:
        start = time.perf_counter()
        profiler.runcall(runner)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
        runner.finish()
    note = (
        f"GC {GC.seconds:.3f}s in {sum(GC.collections)} collections "
        f"(by generation: {GC.collections})"
        if collect
        else "GC disabled during the profiled run"
    )
    return pstats.Stats(profiler), best, elapsed, note


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    parts = Path(filename).parts
    for anchor in ("cadenza", "benchmarks", "trio", "site-packages", "lib"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            filename = "/".join(parts[i:])
            break
    return f"{filename}:{line}({name})"


def profile(
    variant: Variant,
    workload_key: str,
    concurrency: int,
    *,
    against: Variant | None,
    collect: bool,
    top: int = 25,
) -> None:
    """cProfile one run of ``variant``: top functions by tottime, and what it adds over another."""
    workload = WORKLOADS[workload_key]()
    stats, best, elapsed, note = _profiled(variant, workload, concurrency, collect=collect)
    print(
        f"{variant.label} on {workload.name}: unprofiled best of 3 {best:.4f}s "
        f"({best / workload.steps * 1e6:.1f} µs/step); profiled run {elapsed:.4f}s; {note}"
    )
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats("cadenza", top)
    if against is None:
        return
    base, base_best, base_elapsed, base_note = _profiled(
        against, workload, concurrency, collect=collect
    )
    print(
        f"against {against.label}: unprofiled best of 3 {base_best:.4f}s "
        f"({base_best / workload.steps * 1e6:.1f} µs/step); profiled run {base_elapsed:.4f}s; "
        f"{base_note}"
    )
    ours: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    theirs: dict[Any, Any] = base.stats  # type: ignore[attr-defined]
    rows = []
    for key in ours.keys() | theirs.keys():
        _, n1, tt1, _, _ = ours.get(key, (0, 0, 0.0, 0.0, {}))
        _, n0, tt0, _, _ = theirs.get(key, (0, 0, 0.0, 0.0, {}))
        rows.append((tt1 - tt0, n1, n0, tt1, tt0, key))
    rows.sort(key=lambda r: r[0], reverse=True)
    total = sum(r[3] for r in rows) - sum(r[4] for r in rows)
    print(
        f"\nWhat {variant.label} adds over {against.label} (profiled tottime, "
        f"{total:+.3f}s in all; top {top} by the difference):\n"
    )
    header = ("function", "calls", f"calls ({against.key})", "tottime s", "+tottime s", "µs/step")
    body: list[tuple[str, ...]] = [
        (
            _where(key),
            f"{n1:,}",
            f"{n0:,}",
            f"{tt1:.3f}",
            f"{d:+.3f}",
            f"{d / workload.steps * 1e6:+.1f}",
        )
        for d, n1, n0, tt1, _, key in rows[:top]
    ]
    print(render(header, body, left=1))
    groups: dict[str, list[float]] = {}
    for d, _, _, tt1, tt0, key in rows:
        group = groups.setdefault(_module(key), [0.0, 0.0, 0.0])
        group[0] += d
        group[1] += tt1
        group[2] += tt0
    print(f"\nThe same by module (top {top}):\n")
    by_module = ("module", "tottime s", f"tottime s ({against.key})", "+tottime s", "µs/step")
    body = [
        (name, f"{tt1:.3f}", f"{tt0:.3f}", f"{d:+.3f}", f"{d / workload.steps * 1e6:+.1f}")
        for name, (d, tt1, tt0) in sorted(groups.items(), key=lambda g: -g[1][0])[:top]
    ]
    print(render(by_module, body, left=1))


def _module(key: tuple[str, int, str]) -> str:
    """``cadenza/_calls.py`` for the kernel, the top-level package for everything else."""
    where = _where(key)
    if where.startswith(("cadenza/", "benchmarks/")):
        return where.split(":", 1)[0]
    if where.startswith(("trio/", "site-packages/")):
        parts = where.split("/")
        return parts[1] if parts[0] == "site-packages" else "trio"
    if where.startswith("lib/"):
        return where.split("/")[2].split(".py")[0].split(":")[0]
    if where.startswith("<attrs generated"):
        return "attrs-generated methods (__init__ of events, Candidate, ...)"
    return "builtins" if where.startswith("<") else where.split(":", 1)[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"1 repeat instead of {REPEATS}")
    parser.add_argument("--repeats", type=int, help="timed repeats per workload (median shown)")
    parser.add_argument("--json", metavar="PATH", help="also write results as JSON to PATH")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument(
        "--only",
        action="append",
        choices=list(WORKLOADS),
        help=f"run only this workload (repeatable; default: {', '.join(DEFAULT_WORKLOADS)})",
    )
    parser.add_argument(
        "--variant",
        action="append",
        choices=list(VARIANTS),
        help="run only this variant (repeatable; 'single' is always run for the comparison)",
    )
    parser.add_argument(
        "--profile",
        choices=list(VARIANTS),
        metavar="VARIANT",
        help=f"instead of benchmarking, cProfile one run of VARIANT ({', '.join(VARIANTS)})",
    )
    parser.add_argument(
        "--profile-workload",
        choices=list(WORKLOADS),
        default="fan-out-10k",
        help="the workload --profile runs (default: fan-out-10k)",
    )
    parser.add_argument(
        "--profile-against",
        choices=list(VARIANTS),
        metavar="VARIANT",
        help="with --profile: also profile VARIANT and list the functions whose tottime grew most",
    )
    parser.add_argument(
        "--profile-no-gc",
        action="store_true",
        help="with --profile: disable the cyclic GC during the profiled runs, so its pauses "
        "are not charged to whichever function allocated when one started",
    )
    args = parser.parse_args(argv)

    if args.profile:
        against = VARIANTS[args.profile_against] if args.profile_against else None
        profile(
            VARIANTS[args.profile],
            args.profile_workload,
            args.concurrency,
            against=against,
            collect=not args.profile_no_gc,
        )
        return 0

    repeats = args.repeats or (1 if args.quick else REPEATS)
    keys = ["single", *(k for k in args.variant or VARIANTS if k != "single")]
    variants = [VARIANTS[k] for k in keys]
    env = bs.environment(args.concurrency, repeats, None)
    print(
        f"Cadenza {env['cadenza']} routing benchmark: {env['implementation']} {env['python']}, "
        f"trio {env['trio']}, {env['platform']}, {env['cpu_count']} CPUs "
        f"({env['cpus_usable']} usable), load average {env['loadavg_before']}",
        flush=True,
    )
    print(
        f"concurrency {args.concurrency}, journal off, no-op agents, median of {repeats} "
        "repeat(s), repeats interleaved across raw trio and every variant",
        flush=True,
    )
    rows: list[Row] = []
    for key in args.only or DEFAULT_WORKLOADS:
        rows += measure(WORKLOADS[key](), variants, concurrency=args.concurrency, repeats=repeats)
    env["loadavg_after"] = bs._loadavg()
    print()
    print(table(rows))
    print(f"\nload average after: {env['loadavg_after']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"environment": env, "results": [r.to_dict() for r in rows]}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
