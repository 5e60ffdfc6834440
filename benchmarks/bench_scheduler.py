"""Scheduler overhead through the public API: Cadenza against raw trio, in separate processes.

Usage::

    python benchmarks/bench_scheduler.py [--quick] [--json out.json]
                                         [--only fan-out-1k ...]
                                         [--processes N] [--runs N]
                                         [--no-journal] [--journal-dir DIR]
                                         [--profile WORKLOAD]

Every workload (benchmarks/_workloads.py) is run three ways, each in its own
Python process, the processes alternating (trio, cadenza, cadenza + journal,
trio, ...):

* **trio**: the least a correct trio program does for the same DAG -- one
  nursery, one ``trio.Event`` per step, a task per step that waits for its
  needs' events, holds a shared ``trio.CapacityLimiter`` and awaits the same
  no-op agent, then sets its event;
* **cadenza**: what a user writes -- a plugin *object* registers agent kind
  ``noop`` (``cadenza.plugins.load_plugins(extra=[...])``), a native-format
  dict is loaded with ``cadenza.load_workflow_data(..., plugins=...)`` and run
  with ``cadenza.run_workflow`` inside ``trio.run``;
* **cadenza + journal**: the same with ``store=cadenza.store.SqliteStore`` on
  a new file in a new temporary directory for every run.

Each process builds its side (untimed), does one untimed warm-up run, then
``--runs`` timed runs (``time.perf_counter`` around one ``trio.run``, after a
``gc.collect()``), and reports its times and its peak RSS (``VmHWM``, the
whole process: interpreter, imports, warm-up and runs). The tables show the
median of all runs of all ``--processes`` processes (3 x 3 by default).

Only public names are used (``import cadenza``, ``cadenza.plugins``,
``cadenza.store``), no private module.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio
from _workloads import WORKLOADS, Workload, noop_agent_class

CONCURRENCY = 64
PROCESSES = 3
RUNS = 3
AGENT = "noop"
SIDES = ("trio", "cadenza", "cadenza+journal")
DEFAULT_WORKLOADS = ("fan-out-1k", "fan-out-10k", "chain-200", "layered-20x50")
"""What runs without ``--only`` (fan-out-100k, minutes per run, only on request)."""
HERE = Path(__file__).resolve().parent


# -- the no-op agent (shared by both sides) --------------------------------------


class RawNoopAgent:
    """The trio side's agent: the same single checkpoint, no Cadenza types."""

    async def run(self, request: Mapping[str, Any]) -> None:
        await trio.lowlevel.checkpoint()


def workflow_data(workload: Workload, concurrency: int) -> dict[str, Any]:
    """The workload as a native-format workflow, as a user would write it."""
    return {
        "name": workload.name.replace(" ", "-").replace(",", ""),
        "concurrency": concurrency,
        "agents": {AGENT: {"kind": AGENT}},
        "steps": {
            step_id: ({"uses": AGENT, "needs": list(needs)} if needs else {"uses": AGENT})
            for step_id, needs in workload.needs.items()
        },
    }


# -- the sides, inside a child process -------------------------------------------


async def trio_main(workload: Workload, concurrency: int) -> int:
    agent = RawNoopAgent()
    limiter = trio.CapacityLimiter(concurrency)
    done = {step_id: trio.Event() for step_id in workload.needs}
    finished = 0

    async def step(step_id: str, needs: tuple[str, ...]) -> None:
        nonlocal finished
        for need in needs:
            await done[need].wait()
        async with limiter:
            await agent.run({"step_id": step_id, "inputs": {}})
        finished += 1
        done[step_id].set()

    async with trio.open_nursery() as nursery:
        for step_id, needs in workload.needs.items():
            nursery.start_soon(step, step_id, needs)
    return finished


class TrioSide:
    def __init__(self, workload: Workload, concurrency: int, journal_dir: str | None) -> None:
        self.workload = workload
        self.concurrency = concurrency

    def prepare(self) -> None:
        pass

    def run(self) -> None:
        finished = trio.run(trio_main, self.workload, self.concurrency)
        if finished != self.workload.steps:
            raise SystemExit(f"trio {self.workload.name}: {finished}/{self.workload.steps} steps")

    def finish(self) -> None:
        pass


class CadenzaSide:
    """``load_workflow_data`` once (untimed), then one ``run_workflow`` per ``run``."""

    def __init__(
        self, workload: Workload, concurrency: int, journal_dir: str | None, *, journal: bool
    ) -> None:
        import _quiet_logs  # noqa: F401  (configures structlog as an application would)

        import cadenza
        from cadenza.plugins import load_plugins

        agent_class = noop_agent_class()

        class NoopPlugin:
            """Registers agent kind ``noop``."""

            @cadenza.hookimpl
            def cadenza_agent_kinds(self, register: Any) -> None:
                register(AGENT, lambda config: agent_class(name=config.name))

        self.workload = workload
        self.plugins = load_plugins(extra=[NoopPlugin()], entry_points=False)
        start = time.perf_counter()
        loaded = cadenza.load_workflow_data(
            workflow_data(workload, concurrency), plugins=self.plugins
        )
        self.load_seconds = time.perf_counter() - start
        self.workflow = loaded.workflow
        self.journal = journal
        self.journal_dir = journal_dir
        self.store: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._run_id: str | None = None
        self.commits: list[int] = []
        """Journal transactions of each run (warm-up included), with a journal."""

    def prepare(self) -> None:
        if not self.journal:
            return
        from cadenza.store import SqliteStore

        class CountingStore(SqliteStore):
            """Counts the transactions (group commits) the journal writes."""

            commits = 0

            def write(self, batch: Any) -> None:
                super().write(batch)
                if batch:
                    self.commits += 1

        self._tmp = tempfile.TemporaryDirectory(prefix="cadenza-bench-", dir=self.journal_dir)
        self.store = CountingStore(str(Path(self._tmp.name) / "journal.db"))

    def run(self) -> None:
        from _quiet_logs import LOGGED_ERRORS

        import cadenza

        workflow, plugins, store = self.workflow, self.plugins, self.store
        result = trio.run(
            lambda: cadenza.run_workflow(
                workflow, plugins=plugins, rng=random.Random(0), store=store
            )
        )
        if LOGGED_ERRORS:
            raise SystemExit(
                f"cadenza run of {self.workload.name} logged errors, so its timing would be "
                "meaningless:\n  " + "\n  ".join(dict.fromkeys(LOGGED_ERRORS))
            )
        ok = sum(1 for o in result.steps.values() if o.status == "succeeded")
        if result.status != "succeeded" or ok != self.workload.steps:
            raise SystemExit(
                f"cadenza run of {self.workload.name} ended {result.status} with "
                f"{ok}/{self.workload.steps} steps succeeded: {result.reason}"
            )
        self._run_id = result.run_id

    def finish(self) -> None:
        store, self.store = self.store, None
        if store is None:
            return
        try:
            assert self._run_id is not None
            record = store.get_run(self._run_id)
            if record is None or record.status != "succeeded":
                raise SystemExit(
                    f"journaled run of {self.workload.name}: the store records "
                    f"{record.status if record else 'no run'!r}, not 'succeeded'"
                )
            self.commits.append(store.commits)
        finally:
            store.close()
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None


def peak_rss_mb() -> float:
    """This process's peak resident set, in MB (2**20 bytes).

    ``VmHWM`` from /proc/self/status where there is one: Linux carries the
    pre-``exec`` high-water mark (a copy of the parent) into ``ru_maxrss``, so a
    small child of a large parent would report the parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(side: str, key: str, runs: int, warmup: bool, args: argparse.Namespace) -> int:
    """Run one side of one workload ``runs`` times; print one JSON line."""
    workload = WORKLOADS[key]()
    runner: TrioSide | CadenzaSide
    if side == "trio":
        runner = TrioSide(workload, args.concurrency, args.journal_dir)
    else:
        runner = CadenzaSide(
            workload, args.concurrency, args.journal_dir, journal=side == "cadenza+journal"
        )

    def once() -> float:
        runner.prepare()
        try:
            gc.collect()
            start = time.perf_counter()
            runner.run()
            return time.perf_counter() - start
        finally:
            runner.finish()

    if warmup:
        once()
    times = [once() for _ in range(runs)]
    report = {
        "side": side,
        "workload": key,
        "times": times,
        "peak_rss_mb": peak_rss_mb(),
        "load_seconds": getattr(runner, "load_seconds", None),
        "commits": getattr(runner, "commits", []),
    }
    print(json.dumps(report))
    return 0


# -- the parent: alternate processes, collect, print -----------------------------


@attrs.define
class Result:
    key: str
    workload: Workload
    times: dict[str, list[float]] = attrs.field(factory=dict)
    rss: dict[str, list[float]] = attrs.field(factory=dict)
    load_seconds: list[float] = attrs.field(factory=list)
    commits: list[int] = attrs.field(factory=list)
    """Journal transactions per run (the journaled side)."""

    def median(self, side: str) -> float:
        return statistics.median(self.times[side])

    def us_per_step(self, side: str) -> float:
        return self.median(side) / self.workload.steps * 1e6

    def ratio(self, side: str) -> float:
        return self.median(side) / self.median("trio")

    def peak_mb(self, side: str) -> float:
        return max(self.rss[side])

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.key,
            "steps": self.workload.steps,
            "times": self.times,
            "peak_rss_mb": self.rss,
            "load_seconds": self.load_seconds,
            "commits_per_run": self.commits,
            "median_seconds": {side: self.median(side) for side in self.times},
            "us_per_step": {side: self.us_per_step(side) for side in self.times},
            "ratio_to_trio": {side: self.ratio(side) for side in self.times},
        }


def spawn(side: str, key: str, runs: int, warmup: bool, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        side,
        key,
        "--runs",
        str(runs),
        "--concurrency",
        str(args.concurrency),
    ]
    if not warmup:
        command.append("--no-warmup")
    if args.journal_dir:
        command += ["--journal-dir", args.journal_dir]
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} {key} failed (exit {done.returncode}):\n{done.stderr.strip()}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def measure(key: str, sides: Sequence[str], args: argparse.Namespace) -> Result:
    result = Result(key=key, workload=WORKLOADS[key]())
    print(f"{result.workload.name}: process", end="", flush=True, file=sys.stderr)
    for number in range(args.processes):
        print(f" {number + 1}", end="", flush=True, file=sys.stderr)
        for side in sides:  # alternate: trio, cadenza, cadenza+journal, trio, ...
            data = spawn(side, key, args.runs, not args.quick, args)
            result.times.setdefault(side, []).extend(data["times"])
            result.rss.setdefault(side, []).append(data["peak_rss_mb"])
            if data["load_seconds"] is not None and side == "cadenza":
                result.load_seconds.append(data["load_seconds"])
            result.commits.extend(data.get("commits", []))
    print(file=sys.stderr)
    return result


def render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, so the output can be pasted into the README as is."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def table(results: Sequence[Result], journal: bool) -> str:
    header = ["workload", "steps", "raw trio µs/step", "cadenza µs/step", "ratio"]
    if journal:
        header += ["cadenza + journal µs/step", "ratio", "commits/run"]
    header += ["peak RSS MB (trio / cadenza" + (" / journal)" if journal else ")")]
    rows = []
    for r in results:
        row = [
            r.workload.name,
            f"{r.workload.steps:,}",
            f"{r.us_per_step('trio'):.1f}",
            f"{r.us_per_step('cadenza'):.1f}",
            f"{r.ratio('cadenza'):.2f}x",
        ]
        if journal:
            row += [
                f"{r.us_per_step('cadenza+journal'):.1f}",
                f"{r.ratio('cadenza+journal'):.2f}x",
                _span(r.commits),
            ]
        sides = ("trio", "cadenza", "cadenza+journal") if journal else ("trio", "cadenza")
        row.append(" / ".join(f"{r.peak_mb(side):.0f}" for side in sides))
        rows.append(row)
    return render(header, rows)


def _span(values: Sequence[int]) -> str:
    """``7`` or ``6-7``: the range of a count over runs."""
    if not values:
        return "n/a"
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def profile(key: str, concurrency: int) -> None:
    """cProfile one ``run_workflow`` of ``key`` (no journal) after a warm-up run."""
    import cProfile
    import pstats

    runner = CadenzaSide(WORKLOADS[key](), concurrency, None, journal=False)
    runner.run()
    profiler = cProfile.Profile()
    profiler.runcall(runner.run)
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 process x 1 run per side, no warm-up"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every timing as JSON to PATH")
    parser.add_argument(
        "--only", action="append", choices=list(WORKLOADS), help="only this workload (repeatable)"
    )
    parser.add_argument("--processes", type=int, help=f"processes per side (default {PROCESSES})")
    parser.add_argument("--runs", type=int, help=f"timed runs per process (default {RUNS})")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--no-journal", action="store_true", help="skip the journaled side")
    parser.add_argument(
        "--journal-dir",
        metavar="DIR",
        help="create the journal files under DIR (default: the system temp dir); "
        "its filesystem decides what an fsync costs",
    )
    parser.add_argument(
        "--profile",
        choices=list(WORKLOADS),
        help="instead of benchmarking, cProfile one run_workflow of this workload",
    )
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "WORKLOAD"), help=argparse.SUPPRESS)
    parser.add_argument("--no-warmup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.processes = args.processes or (1 if args.quick else PROCESSES)
    args.runs = args.runs or (1 if args.quick else RUNS)

    if args.child:
        side, key = args.child
        if side not in SIDES or key not in WORKLOADS:
            parser.error(f"--child: unknown side {side!r} or workload {key!r}")
        return child(side, key, args.runs, not args.no_warmup, args)
    if args.profile:
        profile(args.profile, args.concurrency)
        return 0

    import cadenza

    journal = not args.no_journal
    sides = SIDES if journal else SIDES[:2]
    before = _loadavg()
    print(
        f"Cadenza {cadenza.__version__} scheduler benchmark (public API): "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"trio {trio.__version__}, {platform.platform()}, {os.cpu_count()} CPUs, "
        f"load average {before}",
        flush=True,
    )
    print(
        f"concurrency {args.concurrency}, no-op agent, {args.processes} process(es) x "
        f"{args.runs} run(s) per side{'' if args.quick else ' after a warm-up'}, "
        f"medians; journal: {'a fresh SqliteStore per run' if journal else 'off'}",
        flush=True,
    )
    results = [measure(key, sides, args) for key in args.only or DEFAULT_WORKLOADS]
    after = _loadavg()
    print()
    print(table(results, journal))
    loads = [
        f"{r.workload.name} {statistics.median(r.load_seconds) * 1e3:,.0f} ms"
        for r in results
        if r.load_seconds
    ]
    if loads:
        print("\ncadenza.load_workflow_data, once per process, untimed above (median):")
        print("  " + ", ".join(loads))
    print(f"\nload average after: {after}")
    if args.json:
        environment = {
            "cadenza": cadenza.__version__,
            "python": platform.python_version(),
            "trio": trio.__version__,
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "processes": args.processes,
            "runs": args.runs,
            "concurrency": args.concurrency,
            "loadavg_before": before,
            "loadavg_after": after,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {"environment": environment, "results": [r.to_dict() for r in results]},
                f,
                indent=2,
            )
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
