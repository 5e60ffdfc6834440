"""How fast ``cadenza serve`` serves a 20,000-step run's page: first view, later views, live.

Usage::

    python benchmarks/bench_dashboard.py [--quick] [--layers N] [--width N] [--views N]
                                         [--rounds N] [--older-journal]
                                         [--side NAME=PYTHONPATH ...] [--json out.json]

Builds a journal of one finished run (``--layers`` layers of ``--width``
steps, each step needing one of the layer before, each succeeding in one
attempt on one of four agents: 60,000 events for the default 200 x 100),
written through the public ``cadenza.store`` API into a real SQLite file,
as the runner journals it (``run_started`` carries the steps' needs, the
agents' limits and the budgets; ``--older-journal`` leaves them out, as
journals written before 0.2: the dashboard then loads the stored workflow).

Then, per round and per side, starts ``cadenza serve --store FILE --port P``
(a real process on 127.0.0.1) and, over HTTP with httpx:

* **first view**: ``GET /runs/big`` once the server answers ``GET /`` (so
  server start-up is not counted, the run's first read and fold is);
* **first charts**: then ``/api/runs/big/timeline.svg`` and
  ``/api/runs/big/usage.svg``, which a big run's page asks for once loaded
  (the timeline and usage folds happen here);
* **later view**: ``GET /runs/big`` again, ``--views`` times (median);
* **live refresh**: what the open page's scripts ask for when events
  arrive: ``/api/runs/big?page=1``, ``/api/runs/big/timeline.svg`` and
  ``/api/runs/big/usage.svg``, ``--views`` times (median of the three's sum);
* **live run**: the same journal with its last ``LIVE_LAYERS`` layers not yet
  written and the run still running; before each view one more layer's
  events (3 per step) are appended, then ``GET /runs/big`` (median).

Baselines measured in the same server, same run: ``GET /static/dashboard.css``
(a request's floor) and, in this process, ``SqliteStore.read_events`` of the
whole run (what every view read and decoded before the dashboard kept runs).

Sides: ``--side NAME=PYTHONPATH`` runs the server with that ``PYTHONPATH``
first (another checkout's ``core/``, to compare two versions in one run,
rounds alternating); without, one side ``this`` (the installed Cadenza).
The load average is printed before and after: on a shared machine, read it
before trusting the table.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cadenza.store import RunRecord, SqliteStore, WriteBatch

AGENTS = ("a0", "a1", "a2", "a3")
LIVE_LAYERS = 10
RUN = "big"


def workflow_text(layers: int, width: int) -> str:
    lines = ["name: big", "agents:"]
    lines += [f"  {a}: {{kind: template, capabilities: [work], max_concurrent: 50, "
              "options: {output: ok}}" for a in AGENTS]  # fmt: skip
    lines.append("steps:")
    for layer in range(layers):
        for i in range(width):
            needs = f", needs: [s{layer - 1}_{i}]" if layer else ""
            lines.append(f"  s{layer}_{i}: {{uses: work{needs}}}")
    return "\n".join(lines) + "\n"


def run_events(layers: int, width: int, *, shape: bool) -> list[dict[str, Any]]:
    """The run's events, ``run_started`` to ``run_finished``, as the runner journals them."""
    steps = [f"s{layer}_{i}" for layer in range(layers) for i in range(width)]
    t0 = 1_800_000_000.0
    started: dict[str, Any] = {
        "kind": "run_started", "run_id": RUN, "seq": 0, "at": t0, "workflow": "big",
        "source": "", "source_hash": "h", "inputs": {}, "steps": steps, "output_dir": None,
    }  # fmt: skip
    if shape:
        started["needs"] = {f"s{layer}_{i}": [f"s{layer - 1}_{i}"]
                            for layer in range(1, layers) for i in range(width)}  # fmt: skip
        started["agents"] = {a: {"max_concurrent": 50} for a in AGENTS}
        started["budgets"] = {}
    events = [started]
    for n, sid in enumerate(steps):
        at = t0 + (n // width) * 1.0 + (n % width) * 0.001
        agent = AGENTS[n % len(AGENTS)]
        for kind, extra, when in (
            ("step_ready", {"inputs": {}}, at),
            ("attempt_started", {"attempt": 1, "agent": agent, "idempotency_key": "k",
                                 "queue_wait": 0.0, "waited_for": ""}, at),
            ("step_succeeded", {"attempt": 1, "agent": agent, "output": sid, "duration": 0.9,
                                "degraded": False, "source": "", "input_tokens": 0,
                                "output_tokens": 0, "cost_usd": None}, at + 0.9),
        ):  # fmt: skip
            events.append({"kind": kind, "run_id": RUN, "seq": len(events), "at": when,
                           "step_id": sid, **extra})  # fmt: skip
    end = t0 + layers + 1.0
    events.append({"kind": "run_finished", "run_id": RUN, "seq": len(events), "at": end,
                   "status": "succeeded", "duration": end - t0,
                   "counts": {"succeeded": len(steps), "failed": 0, "skipped": 0,
                              "cancelled": 0}, "reason": ""})  # fmt: skip
    return events


def write_journal(
    path: Path, layers: int, width: int, *, shape: bool, live: bool
) -> list[dict[str, Any]]:
    """Journal the run at ``path``; the events held back (``live``: the last layers and the end)."""
    events = run_events(layers, width, shape=shape)
    held: list[dict[str, Any]] = []
    if live:
        cut = len(events) - 1 - LIVE_LAYERS * width * 3
        events, held = events[:cut], events[cut:]
    record = RunRecord(
        run_id=RUN, workflow="big", source_hash="h",
        status="running" if live else "succeeded", started_at=events[0]["at"],
        finished_at=None if live else events[-1]["at"], counts={},
        pid=os.getpid() if live else None, host=socket.gethostname(),
    )  # fmt: skip
    store = SqliteStore(f"sqlite:///{path}")
    try:
        store.write(WriteBatch(runs=[record], sources=[(RUN, workflow_text(layers, width))]))
        for start in range(0, len(events), 5000):
            store.write(WriteBatch(events=events[start : start + 5000]))
    finally:
        store.close()
    return held


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``cadenza serve`` over ``path`` in its own process, ``PYTHONPATH`` first if given."""

    def __init__(self, path: Path, pythonpath: str | None) -> None:
        self.port = free_port()
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cadenza", "serve", "--store", str(path),
             "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=600)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.client.get("/").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("cadenza serve did not answer within 60 s")

    def timed(self, *paths: str) -> float:
        t = time.perf_counter()
        for path in paths:
            response = self.client.get(path)
            response.raise_for_status()
        return time.perf_counter() - t

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)


REFRESH = (f"/api/runs/{RUN}?page=1", f"/api/runs/{RUN}/timeline.svg",
           f"/api/runs/{RUN}/usage.svg")  # fmt: skip
PAGE = f"/runs/{RUN}"
CHARTS = (f"/api/runs/{RUN}/timeline.svg", f"/api/runs/{RUN}/usage.svg")


def one_round(side: str, pythonpath: str | None, args: argparse.Namespace, tmp: Path,
              results: dict[str, dict[str, list[float]]]) -> None:  # fmt: skip
    """Measure one side once: a fresh server per journal, so the first view is a first view."""
    got = results.setdefault(side, {})

    def add(name: str, value: float) -> None:
        got.setdefault(name, []).append(value)

    path = tmp / f"done-{side}.db"
    server = Server(path, pythonpath)
    try:
        server.wait_ready()
        add("first view", server.timed(PAGE))
        # What a browser asks for next: a big run's page comes without its drawings.
        add("first charts", server.timed(*CHARTS))
        add("later view", statistics.median(server.timed(PAGE) for _ in range(args.views)))
        add("live refresh", statistics.median(server.timed(*REFRESH) for _ in range(args.views)))
        add("static file", statistics.median(
            server.timed("/static/dashboard.css") for _ in range(args.views)))  # fmt: skip
    finally:
        server.close()
    live = tmp / f"live-{side}.db"
    live.unlink(missing_ok=True)
    held = write_journal(live, args.layers, args.width, shape=not args.older_journal, live=True)
    server = Server(live, pythonpath)
    store = SqliteStore(f"sqlite:///{live}")
    try:
        server.wait_ready()
        server.timed(PAGE)
        step = args.width * 3
        times = []
        for start in range(0, min(len(held) - 1, args.views * step), step):
            store.write(WriteBatch(events=held[start : start + step]))
            times.append(server.timed(PAGE))
        add("live run view", statistics.median(times))
    finally:
        store.close()
        server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--views", type=int, default=7, help="later views per round (median)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--older-journal",
        action="store_true",
        help="run_started without needs/agents/budgets (journals before 0.2)",
    )
    parser.add_argument("--side", action="append", default=[], metavar="NAME=PYTHONPATH")
    parser.add_argument("--quick", action="store_true", help="1 round, 3 views")
    parser.add_argument("--json", type=Path, help="also write every timing here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.views = 1, 3
    sides: list[tuple[str, str | None]] = [
        (s.split("=", 1)[0], s.split("=", 1)[1]) for s in args.side
    ] or [("this", None)]  # fmt: skip
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        steps = args.layers * args.width
        for side, _ in sides:
            write_journal(tmp / f"done-{side}.db", args.layers, args.width,
                          shape=not args.older_journal, live=False)  # fmt: skip
        store = SqliteStore(f"sqlite:///{tmp / f'done-{sides[0][0]}.db'}")
        try:
            read: Callable[[], object] = lambda: store.read_events(RUN)  # noqa: E731
            raw = []
            for _ in range(3):
                t = time.perf_counter()
                read()
                raw.append(time.perf_counter() - t)
        finally:
            store.close()
        for r in range(args.rounds):
            for side, pythonpath in sides if r % 2 == 0 else sides[::-1]:
                print(f"round {r + 1}/{args.rounds}: {side}", file=sys.stderr)
                one_round(side, pythonpath, args, tmp, results)
    raw_read = statistics.median(raw)
    journal = "older journal (no shape in run_started)" if args.older_journal else "shape journaled"
    print(f"\n{steps:,}-step run ({args.layers} x {args.width}), {journal}; "
          f"medians of {args.rounds} rounds, {args.views} views each; seconds\n")  # fmt: skip
    names = ["first view", "first charts", "later view", "live refresh", "live run view",
             "static file"]  # fmt: skip
    print("| side | " + " | ".join(names) + " | later view / raw read |")
    print("|---" * (len(names) + 2) + "|")
    for side, _ in sides:
        med = {n: statistics.median(results[side][n]) for n in names}
        cells = " | ".join(f"{med[n]:.3f}" for n in names)
        print(f"| {side} | {cells} | {med['later view'] / raw_read:.2f}x |")
    print(f"\nraw read of the run's {steps * 3 + 2:,} events (SqliteStore.read_events): "
          f"{raw_read:.3f} s")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps({"raw_read": raw, "results": results}, indent=2))


if __name__ == "__main__":
    main()
