"""Cadenza beside its peers: the same workloads on raw trio, Cadenza, asyncio, LangGraph and Dask.

Usage (from the project's venv, where cadenza is installed)::

    python benchmarks/peers/run_peers.py [--quick] [--only WORKLOAD ...] [--sides SIDE ...]
                                         [--processes N] [--runs N] [--json out.json]

The first run builds ``benchmarks/peers/.venv`` from the pinned requirements.txt
(LangGraph, Dask); Cadenza's own venv never sees a peer library. Every side of
every workload runs in its own Python process, the processes alternating (raw
trio, Cadenza, ..., LangGraph, Dask, raw trio, ...). Each process builds its
graph (timed once: Cadenza's ``load_workflow_data``, LangGraph's ``StateGraph``
+ ``compile``, Dask's ``delayed`` calls), does one untimed warm-up run, then
``--runs`` timed runs. The table shows medians over all runs of all
``--processes`` processes and the ratio to raw trio's median in the same
invocation. README.md here says what each side does per step.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
if importlib.util.find_spec("cadenza") is None or importlib.util.find_spec("attrs") is None:
    raise SystemExit(
        f"run_peers.py: {sys.executable} cannot import cadenza. Run it with the project's "
        "interpreter (activate the venv where `pip install -e .` installed cadenza); the "
        "peers get their own venv, benchmarks/peers/.venv, automatically."
    )

import _venv  # noqa: E402
from _child import SIDES  # noqa: E402
from _workloads import WORKLOADS  # noqa: E402

KERNEL_SIDES = tuple(side for side, (module, _, _) in SIDES.items() if module == "_side_kernel")
"""Sides that run in the project's venv; every other side runs in the peers' venv."""
IO = "io-2000"
"""The io workload: 2,000 independent steps, one HTTP POST each, 100 in flight, 20 ms answers."""
IO_STEPS, IO_CONCURRENCY, IO_DELAY = 2_000, 100, 0.02
IO_SIDES = (
    "trio",
    "cadenza",
    "cadenza-httpx",
    "asyncio",
    "langgraph",
    "dask-threads",
    "dask-distributed",
)
"""Sides that run the io workload (journals, checkpointers and single-threaded Dask do not)."""
IO_ONLY = ("cadenza-httpx",)
"""Sides that only the io workload runs (an HTTP engine means nothing to a no-op step)."""
TOO_SLOW = {
    ("fan-out-10k", "dask-distributed"): "Dask distributed's time grows with the square of "
    "the fan-out's width, join or no join (1,000: ~5 s, 2,000: ~22 s, 4,000: 70-180 s a run "
    "here): ~10 minutes a run",
    ("fan-out-10k", "dask-distributed-2proc"): "as dask-distributed",
}
"""Sides left out of a workload unless ``--sides`` names them, and why."""
DEFAULT_WORKLOADS = ("fan-out-1k", "fan-out-10k", "chain-200", "layered-20x50", IO)
DEFAULT_SIDES = tuple(SIDES)
PROCESSES = 3
RUNS = 3
BASELINE = "trio"


def workload_data(key: str, url: str | None) -> dict[str, Any]:
    """The workload as JSON data, for the peers' interpreter (which has neither attrs nor trio)."""
    if key == IO:
        assert url is not None
        return {
            "key": key,
            "name": f"io: {IO_STEPS:,} HTTP calls, {IO_CONCURRENCY} in flight, "
            f"{IO_DELAY * 1e3:.0f} ms answers",
            "needs": {f"call{i:05d}": [] for i in range(IO_STEPS)},
            "io": {"url": url, "concurrency": IO_CONCURRENCY, "delay": IO_DELAY},
        }
    workload = WORKLOADS[key]()
    return {
        "key": key,
        "name": workload.name,
        "needs": {step: list(needs) for step, needs in workload.needs.items()},
    }


@contextlib.contextmanager
def io_server(peers_python: Path) -> Iterator[str]:
    """The loopback server (_io_server.py) in its own process; yields its URL."""
    server = subprocess.Popen(
        [str(peers_python), str(HERE / "_io_server.py"), "--delay", str(IO_DELAY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        if not port.isdigit():
            raise SystemExit(
                f"the io server did not start: {server.stderr.read() if server.stderr else ''}"
            )
        yield f"http://127.0.0.1:{port}/v1/tasks"
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
        print(f"io server: {errors.strip()}", file=sys.stderr)


def spawn(side: str, path: Path, peers_python: Path, args: argparse.Namespace) -> dict[str, Any]:
    python = sys.executable if side in KERNEL_SIDES else str(peers_python)
    command = [python, str(HERE / "_child.py"), side, str(path), "--runs", str(args.runs)]
    command += ["--concurrency", str(args.concurrency)]
    if args.quick:
        command.append("--no-warmup")
    if args.journal_dir:
        command += ["--journal-dir", args.journal_dir]
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} on {path.stem} failed (exit {done.returncode}):\n{done.stderr}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def measure(
    key: str, sides: Sequence[str], path: Path, peers_python: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Every side of one workload, processes alternating; all reports, by side."""
    reports: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    print(f"{key}: process", end="", flush=True, file=sys.stderr)
    for number in range(args.processes):
        print(f" {number + 1}", end="", flush=True, file=sys.stderr)
        for side in sides:
            reports[side].append(spawn(side, path, peers_python, args))
    print(file=sys.stderr)
    data = json.loads(path.read_text(encoding="utf-8"))
    result: dict[str, Any] = {
        "workload": key,
        "name": data["name"],
        "steps": len(data["needs"]),
        "sides": list(sides),
    }
    if "io" in data:
        io = data["io"]
        result["ideal_seconds"] = -(-result["steps"] // io["concurrency"]) * io["delay"]
    for side, runs in reports.items():
        times = [t for report in runs for t in report["times"]]
        cpu_times = [t for report in runs for t in report["cpu_times"]]
        builds = [r["build_seconds"] for r in runs if r["build_seconds"] is not None]
        result[side] = {
            "times": times,
            "cpu_times": cpu_times,
            "median_seconds": statistics.median(times),
            "median_cpu_seconds": statistics.median(cpu_times),
            "build_seconds": statistics.median(builds) if builds else None,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "versions": runs[0]["versions"],
        }
    return result


def render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, to paste as is."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def table(results: Sequence[dict[str, Any]]) -> str:
    """One row per workload and side: medians, ratio to raw trio, CPU, build time, memory."""
    header = [
        "workload",
        "side",
        "µs/step",
        "vs raw trio",
        "CPU µs/step",
        "run ms",
        "build ms",
        "peak RSS MB",
    ]
    rows = []
    for r in results:
        base = r[BASELINE]["median_seconds"]
        for side in r["sides"]:
            s = r[side]
            build = s["build_seconds"]
            rows.append(
                [
                    r["name"],
                    side,
                    f"{s['median_seconds'] / r['steps'] * 1e6:,.1f}",
                    f"{s['median_seconds'] / base:.2f}x",
                    f"{s['median_cpu_seconds'] / r['steps'] * 1e6:,.1f}",
                    f"{s['median_seconds'] * 1e3:,.1f}",
                    f"{build * 1e3:,.1f}" if build is not None else "-",
                    f"{s['peak_rss_mb']:.0f}",
                ]
            )
    return render(header, rows)


def summary(results: Sequence[dict[str, Any]], sides: Sequence[str]) -> str:
    """One row per workload: each side's ratio to raw trio (io: also to the ideal time)."""
    header = ["workload", *sides]
    rows = []
    for r in results:
        base = r[BASELINE]["median_seconds"]
        row = [r["name"]]
        for side in sides:
            if side not in r:
                row.append("-")
                continue
            seconds = r[side]["median_seconds"]
            cell = f"{seconds / base:.1f}x"
            if "ideal_seconds" in r:
                cell = f"{seconds:.2f} s, {cell} ({seconds / r['ideal_seconds']:.1f}x ideal)"
            row.append(cell)
        rows.append(row)
    return render(header, rows)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 process x 1 run, no warm-up")
    parser.add_argument(
        "--only",
        action="append",
        choices=[*WORKLOADS, IO],
        metavar="WORKLOAD",
        help=f"only this workload (repeatable; default {', '.join(DEFAULT_WORKLOADS)})",
    )
    parser.add_argument(
        "--sides",
        nargs="+",
        choices=list(SIDES),
        metavar="SIDE",
        help=f"only these sides (default all: {', '.join(SIDES)})",
    )
    parser.add_argument("--processes", type=int, help=f"processes per side (default {PROCESSES})")
    parser.add_argument("--runs", type=int, help=f"timed runs per process (default {RUNS})")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=64,
        help="steps in flight: Cadenza's and trio's limiter, LangGraph's "
        "max_concurrency, asyncio's semaphore (default 64)",
    )
    parser.add_argument(
        "--journal-dir",
        metavar="DIR",
        help="where the SQLite files go (default: the system temp dir)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every timing to PATH")
    args = parser.parse_args(argv)
    args.processes = args.processes or (1 if args.quick else PROCESSES)
    args.runs = args.runs or (1 if args.quick else RUNS)
    sides = list(args.sides or DEFAULT_SIDES)
    if BASELINE not in sides:
        sides.insert(0, BASELINE)
    peers_python = _venv.ensure()
    before = loadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        for key in args.only or DEFAULT_WORKLOADS:
            path = Path(tmp) / f"{key}.json"
            with contextlib.ExitStack() as stack:
                url = stack.enter_context(io_server(peers_python)) if key == IO else None
                path.write_text(json.dumps(workload_data(key, url)), encoding="utf-8")
                chosen = [
                    side
                    for side in sides
                    if (side in IO_SIDES if key == IO else side not in IO_ONLY)
                    and (args.sides or (key, side) not in TOO_SLOW)
                ]
                results.append(measure(key, chosen, path, peers_python, args))
    after = loadavg()
    versions: dict[str, str] = {}
    for r in results:
        for side in r["sides"]:
            versions.update(r[side]["versions"])
    print(
        f"{args.processes} process(es) x {args.runs} run(s) per side, concurrency "
        f"{args.concurrency}; load average {before} before, {after} after; "
        + ", ".join(f"{name} {v}" for name, v in versions.items())
    )
    print()
    print(table(results))
    print()
    print(summary(results, sides))
    for r in results:
        for side in sides:
            if (r["workload"], side) in TOO_SLOW and side not in r:
                reason = TOO_SLOW[r["workload"], side]
                print(f"\n{side} on {r['name']}: not run ({reason}; --sides runs it).")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"load_before": before, "load_after": after, "results": results}, indent=1),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
