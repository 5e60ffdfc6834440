"""Executors: CPU-bound steps on local threads, the process executor and Dask; per-call overhead.

Usage::

    python benchmarks/bench_executors.py [--quick] [--steps N] [--seconds S]
                                         [--calls N] [--workers N] [--json out.json]

Two measurements, each side in the same process run, sides alternated:

* **throughput**: a workflow of ``--steps`` independent ``python`` steps
  (default 200), each burning ``--seconds`` (default 0.2) of CPU time in pure
  Python, run with ``cadenza.run_workflow`` once with ``executor: local``
  (today's worker threads, ``max_concurrent`` = workers) and once with
  ``executor: process`` (``workers`` = CPU count unless ``--workers``). The
  baseline is the serial sum of CPU time (steps x seconds). Ratios are
  wall time against that serial time: the GIL keeps threads near 1x; worker
  processes approach the core count. When cadenza-dask is installed, a third
  side runs the steps on ``executor: cluster`` (kind ``dask``, a LocalCluster
  of ``workers`` single-threaded worker processes started by the run: its
  start-up, a few seconds, is inside the wall time, as a user pays it).
* **overhead**: ``--calls`` no-op calls awaited one after the other through
  each executor's public ``run`` (got from ``load_plugins().registered(
  "cadenza_executors")``), against the raw baselines ``trio.to_thread.run_sync``
  (for local) and a plain call; the first call of the process executor (its
  worker start) is measured apart. With cadenza-dask: the dask executor
  (one worker) against the raw baseline of a plain synchronous
  ``distributed.Client`` submitting the same no-op to the same cluster
  (``client.submit(noop, pure=False).result()``), and its first call (the
  LocalCluster start).

Only public API: the executors come from the plugin registry.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import trio

import cadenza
from cadenza.plugins import load_plugins

HERE = Path(__file__).resolve().parent
DASK = importlib.util.find_spec("cadenza_dask") is not None
"""Whether the dask side runs: cadenza-dask (and so dask.distributed) is installed."""


def _plugins() -> cadenza.plugins.Plugins:
    """The built-in executors, plus cadenza-dask's when it is installed."""
    if not DASK:
        return load_plugins(entry_points=False)
    return load_plugins(entry_points=False, extra=[importlib.import_module("cadenza_dask")])


def crunch(seconds: float) -> int:
    """Burn ``seconds`` of this thread's CPU time in pure Python (threads count apart)."""
    start = time.thread_time()
    n = 0
    while time.thread_time() - start < seconds:
        n += sum(i * i for i in range(200))
    return os.getpid()


def noop() -> None:
    """A call that does nothing: what remains is the executor's own cost."""


def _workflow(executor: str, steps: int, seconds: float, workers: int) -> cadenza.Workflow:
    dask = f"cluster: {{kind: dask, options: {{workers: {workers}}}}}" if DASK else ""
    step_lines = "\n".join(
        f"  s{i}: {{uses: crunch, with: {{seconds: {seconds}}}}}" for i in range(steps)
    )
    text = (
        textwrap.dedent(
            f"""
        concurrency: {max(workers, 1) * 4}
        executors:
          process: {{options: {{workers: {workers}}}}}
          {dask}
        agents:
          crunch:
            kind: python
            executor: {executor}
            max_concurrent: {workers}
            options: {{function: "bench_executors:crunch", search_path: "."}}
        """
        )
        + "steps:\n"
        + step_lines
        + "\n"
    )
    return cadenza.load_workflow_text(
        text, plugins=_plugins(), filename="bench.yaml", base_dir=HERE
    ).workflow


async def _throughput(executor: str, steps: int, seconds: float, workers: int) -> dict[str, Any]:
    workflow = _workflow(executor, steps, seconds, workers)
    plugins = _plugins()
    start = time.perf_counter()
    result = await cadenza.run_workflow(workflow, plugins=plugins)
    wall = time.perf_counter() - start
    assert result.status == "succeeded", result.reason
    pids = {o.output for o in result.steps.values()}
    return {"wall": wall, "processes": len(pids)}


async def _overhead(calls: int) -> dict[str, float]:
    registered = _plugins().registered("cadenza_executors")
    # By module name, not __main__'s: worker processes do not run this script.
    sys.path.insert(0, str(HERE))
    noop = importlib.import_module("bench_executors").noop
    out: dict[str, float] = {}
    start = time.perf_counter()
    for _ in range(calls):
        noop()
    out["plain call"] = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    for _ in range(calls):
        await trio.to_thread.run_sync(noop)
    out["raw trio.to_thread"] = (time.perf_counter() - start) / calls
    for name in ("local", "process"):
        executor = registered[name].obj({"workers": 1} if name == "process" else {})
        try:
            start = time.perf_counter()
            await executor.run(noop)
            out[f"{name}: first call"] = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(calls):
                await executor.run(noop)
            out[f"{name}: per call"] = (time.perf_counter() - start) / calls
        finally:
            await executor.aclose()
    if DASK:
        out.update(await _dask_overhead(calls, noop))
    return out


async def _dask_overhead(calls: int, noop: Any) -> dict[str, float]:
    """The dask executor against a plain synchronous Client on the same one-worker cluster."""
    from distributed import Client

    out: dict[str, float] = {}
    executor = _plugins().registered("cadenza_executors")["dask"].obj({"workers": 1})
    try:
        start = time.perf_counter()
        await executor.run(noop)
        out["dask: first call (LocalCluster start)"] = time.perf_counter() - start

        def raw() -> float:
            with Client(executor.scheduler_address) as client:
                client.submit(noop, pure=False).result()  # connect and warm up
                begin = time.perf_counter()
                for _ in range(calls):
                    client.submit(noop, pure=False).result()
                return (time.perf_counter() - begin) / calls

        for round_ in range(2):  # alternated: raw, executor, raw, executor
            out[f"raw distributed.Client #{round_ + 1}"] = await trio.to_thread.run_sync(raw)
            start = time.perf_counter()
            for _ in range(calls):
                await executor.run(noop)
            out[f"dask: per call #{round_ + 1}"] = (time.perf_counter() - start) / calls
    finally:
        await executor.aclose()
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workers = args.workers or os.cpu_count() or 1
    serial = args.steps * args.seconds
    report: dict[str, Any] = {
        "steps": args.steps,
        "seconds": args.seconds,
        "workers": workers,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "serial_seconds": serial,
        "throughput": {},
    }
    for round_ in range(args.rounds):
        sides = ["local", "process", *(["cluster"] if DASK else [])]
        for side in sides if round_ % 2 == 0 else sides[::-1]:
            print(f"round {round_ + 1}: {side} ...", file=sys.stderr)
            got = await _throughput(side, args.steps, args.seconds, workers)
            report["throughput"].setdefault(side, []).append(got)
    report["overhead"] = await _overhead(args.calls)
    return report


def _print(report: dict[str, Any]) -> None:
    serial = report["serial_seconds"]
    print(
        f"\n{report['steps']} steps x {report['seconds']} s CPU, {report['workers']} workers, "
        f"{report['cpus']} CPUs, load average {report['load_average'][0]:.2f}"
    )
    print("\n| executor | wall (best) | serial / wall | processes |")
    print("|---|---|---|---|")
    for side, runs in report["throughput"].items():
        best = min(r["wall"] for r in runs)
        print(f"| {side} | {best:.2f} s | {serial / best:.2f}x | {runs[0]['processes']} |")
    print("\n| no-op call | time per call |")
    print("|---|---|")
    for name, value in report["overhead"].items():
        print(f"| {name} | {value * 1e6:.1f} µs |")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 steps, 1 round, 200 calls")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=0.2)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.steps, args.rounds, args.calls = 20, 1, 200
    return args


if __name__ == "__main__":
    arguments = _parse()
    result = trio.run(main, arguments)
    _print(result)
    if arguments.json:
        arguments.json.write_text(json.dumps(result, indent=2))
