"""Journal cost per step: the Postgres store against SQLite, in the same run.

Usage::

    python benchmarks/bench_journal_stores.py [--only fan-out-1k ...] [--processes N]
                                              [--runs N] [--url postgresql://...]
                                              [--fast-server] [--json out.json]

Needs cadenza-postgres installed beside the kernel. Every workload
(benchmarks/_workloads.py, fan-out-1k by default) is run three ways, each in
its own Python process, the processes alternating (none, sqlite, postgres,
none, ...), with the public API only (``cadenza.run_workflow`` with
``store=``):

* **none**: no journal, the baseline;
* **sqlite**: ``cadenza.store.SqliteStore`` on a new file per run (WAL,
  ``synchronous=FULL``: every batch is fsynced);
* **postgres**: ``cadenza_postgres.PostgresStore`` on a new database per run,
  on a server this script starts with ``cadenza_postgres.testing`` (initdb +
  pg_ctl in a temporary folder; default settings, so ``fsync=on`` and
  ``synchronous_commit=on``: as durable as SQLite's), or on ``--url``'s server
  (the script creates and drops its databases there). ``--fast-server``
  starts it with ``fsync=off`` instead, to see the cost without disk flushes.

The journal cost per step is ``(median(store) - median(none)) / steps``; the
table gives it per store and the ratio Postgres / SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _workloads import WORKLOADS
from bench_scheduler import CONCURRENCY, CadenzaSide, peak_rss_mb

SIDES = ("none", "sqlite", "postgres")
HERE = Path(__file__).resolve().parent


class PostgresSide(CadenzaSide):
    """bench_scheduler's journaled Cadenza side, its store a new Postgres database per run."""

    def __init__(self, key: str, url: str) -> None:
        super().__init__(WORKLOADS[key](), CONCURRENCY, None, journal=True)
        self.url = url
        self._names = itertools.count()
        self._database = ""

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]  # names made here

    def prepare(self) -> None:
        from cadenza_postgres import PostgresStore

        self._database = f"bench_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{self._database}"')
        base = self.url.rsplit("/", 1)[0]
        self.store = PostgresStore(f"{base}/{self._database}")

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._database:
                self._admin(f'DROP DATABASE "{self._database}"')
                self._database = ""


def child(side: str, key: str, runs: int, url: str) -> int:
    """Run one side of one workload ``runs`` times after a warm-up; print one JSON line."""
    runner: CadenzaSide
    if side == "postgres":
        runner = PostgresSide(key, url)
    else:
        runner = CadenzaSide(WORKLOADS[key](), CONCURRENCY, None, journal=side == "sqlite")

    def once() -> float:
        runner.prepare()
        try:
            start = time.perf_counter()
            runner.run()
            return time.perf_counter() - start
        finally:
            runner.finish()

    once()
    times = [once() for _ in range(runs)]
    print(json.dumps({"side": side, "workload": key, "times": times, "rss": peak_rss_mb()}))
    return 0


@contextlib.contextmanager
def server_url(args: argparse.Namespace) -> Iterator[str]:
    if args.url:
        yield args.url
        return
    from cadenza_postgres.testing import TEST_SETTINGS, throwaway_server

    with throwaway_server(settings=TEST_SETTINGS if args.fast_server else {}) as server:
        yield server.url()


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=["fan-out-1k"], choices=sorted(WORKLOADS))
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default="", help="an existing server (its postgres database)")
    parser.add_argument("--fast-server", action="store_true", help="fsync=off on our server")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.runs, args.url)
    report: dict[str, Any] = {"load_before": load_average(), "workloads": {}}
    with server_url(args) as url:
        for key in args.only:
            times: dict[str, list[float]] = {side: [] for side in SIDES}
            for _ in range(args.processes):
                for side in SIDES:  # alternate: none, sqlite, postgres, none, ...
                    command = [sys.executable, str(Path(__file__).resolve()), "--child", side, key]
                    command += ["--runs", str(args.runs), "--url", url]
                    done = subprocess.run(command, capture_output=True, text=True, check=False)
                    if done.returncode != 0:
                        sys.exit(f"{side} {key} failed:\n{done.stdout}{done.stderr}")
                    times[side] += json.loads(done.stdout.splitlines()[-1])["times"]
            steps = WORKLOADS[key]().steps
            median = {side: statistics.median(t) for side, t in times.items()}
            cost = {s: (median[s] - median["none"]) / steps * 1e6 for s in ("sqlite", "postgres")}
            report["workloads"][key] = {"steps": steps, "times": times, "journal_us_per_step": cost}
            print(f"{key} ({steps} steps), medians of {args.processes}x{args.runs} runs:")
            for side in SIDES:
                ms, us = median[side] * 1000, median[side] / steps * 1e6
                print(f"  {side:9s} {ms:9.1f} ms  {us:7.1f} µs/step")
            print(
                f"  journal cost per step: sqlite {cost['sqlite']:.1f} µs, postgres "
                f"{cost['postgres']:.1f} µs, "
                f"postgres/sqlite {cost['postgres'] / cost['sqlite']:.2f}x"
            )
    report["load_after"] = load_average()
    print(f"load average before: {report['load_before']}, after: {report['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
