"""One side of one workload in this process: build, warm up, time the runs, print JSON.

``run_peers.py`` starts this file once per side and workload, with the
interpreter that side needs (the project venv for raw trio and Cadenza, the
peers venv for asyncio, LangGraph and Dask), so no peer library is ever
imported next to Cadenza. Every side is an object with ``build_seconds``
(graph construction, timed once, ``None`` when there is no graph to build)
and ``prepare()`` / ``run()`` / ``finish()``; only ``run()`` is timed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

SIDES: dict[str, tuple[str, str, dict[str, Any]]] = {
    # side: (module, factory, keyword arguments)
    "trio": ("_side_kernel", "trio_side", {}),
    "cadenza": ("_side_kernel", "cadenza_side", {"journal": False}),
    "cadenza+journal": ("_side_kernel", "cadenza_side", {"journal": True}),
    "cadenza-httpx": ("_side_kernel", "cadenza_side", {"journal": False, "engine": "httpx"}),
    "asyncio": ("_side_asyncio", "AsyncioSide", {}),
    "langgraph": ("_side_langgraph", "LangGraphSide", {"checkpointer": False}),
    "langgraph+sqlite": ("_side_langgraph", "LangGraphSide", {"checkpointer": True}),
    "dask-sync": ("_side_dask", "DaskSide", {"scheduler": "sync"}),
    "dask-threads": ("_side_dask", "DaskSide", {"scheduler": "threads"}),
    "dask-distributed": ("_side_dask", "DaskSide", {"scheduler": "distributed"}),
    "dask-distributed-2proc": ("_side_dask", "DaskSide", {"scheduler": "distributed-processes"}),
}
"""Every side, in the order the table shows them; the first is the baseline."""

VERSIONED = (
    "trio",
    "cadenza",
    "httpx",
    "langgraph",
    "langgraph-checkpoint-sqlite",
    "dask",
    "distributed",
    "requests",
)


def peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``), in MB (2**20 bytes).

    ``ru_maxrss`` would carry the parent's high-water mark across ``exec``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def versions() -> dict[str, str]:
    """Versions of whichever of the compared libraries this interpreter has."""
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def timed(side: Any) -> tuple[float, float]:
    """One timed ``run()``, after an untimed ``prepare()`` and a full collection.

    Returns wall-clock and CPU seconds (this process, all its threads: Dask's
    worker processes are not counted).
    """
    side.prepare()
    try:
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        side.run()
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        side.finish()


def make_side(name: str, workload: dict[str, Any], args: argparse.Namespace) -> Any:
    module, factory, options = SIDES[name]
    cls: Callable[..., Any] = getattr(import_module(module), factory)
    return cls(workload, args, **options)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("side", choices=list(SIDES))
    parser.add_argument("workload", help="JSON file written by run_peers.py")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--journal-dir")
    args = parser.parse_args()
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    # Dask's worker processes unpickle the step function by its module's name.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    workload = json.loads(Path(args.workload).read_text(encoding="utf-8"))
    side = make_side(args.side, workload, args)
    try:
        if not args.no_warmup:
            timed(side)
        measured = [timed(side) for _ in range(args.runs)]
    finally:
        close = getattr(side, "close", None)
        if close is not None:
            close()
    print(
        json.dumps(
            {
                "side": args.side,
                "workload": workload["key"],
                "times": [wall for wall, _ in measured],
                "cpu_times": [cpu for _, cpu in measured],
                "build_seconds": side.build_seconds,
                "peak_rss_mb": peak_rss_mb(),
                "versions": versions(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
