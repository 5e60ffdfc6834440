"""Cancellation latency: from ``RunHandle.cancel()`` to the run's end, 100 HTTP calls in flight.

Usage::

    python benchmarks/bench_cancel.py [--quick] [--repeats N] [--calls N]
                                      [--settle SECONDS] [--journal-dir DIR]
                                      [--no-watch] [--json out.json]

Everything runs in one process and one ``trio.run`` per repeat. A loopback
seed-protocol server (``cadenza.testing.SeedAgentServer``) answers every task
call with ``Stall(3600)``, so calls hang. Three sides are measured, repeats
interleaved:

* **kernel**: a workflow of ``--calls`` independent steps, each served by the
  built-in ``http`` agent pointed at the server (``max_concurrent`` and the
  workflow's ``concurrency`` both equal to the number of calls), loaded with
  ``load_workflow_text`` and started with ``nursery.start(run_workflow, ...)``.
  Once the server holds every call, ``handle.cancel("bench")``;
* **kernel + journal**: the same with ``store=SqliteStore(...)``, a new file in a
  new temporary directory per repeat (opened before, closed after the timed
  region), so the final flush is part of the run's end;
* **baseline**: raw trio + httpx: one ``httpx.AsyncClient``, one task per call
  doing a ``POST`` in one nursery; once the server holds every call, the
  nursery's scope is cancelled.

Times are ``time.perf_counter()`` from just before the cancel to: the run
returning (the baseline: the nursery exiting, and ``client.aclose()``
returning), and the server seeing the last connection closed. For the kernel,
an observer also stamps the first ``step_cancelled`` event (emitted once every
attempt has unwound) and ``run_finished`` (emitted after the agents are
closed), which splits the time into unwinding, closing agents and, journaled,
the final flush.

How the server sees a close: the seed server stalls without reading, so it
never notices a client going away. A subclass keeps each connection's
stream, and once a request has fully arrived (the ``handler`` hook) its socket
joins an epoll set (Linux) watched for ``EPOLLRDHUP``/``EPOLLHUP``: the
client sends nothing after a complete HTTP/1.1 request, so those mean it
closed the connection. One task waits on the epoll descriptor and stamps
every close it finds. It runs on the same trio loop as everything else, so a
close is stamped when the loop gets to that task: up to one scheduler batch
(a few ms here) after the FIN arrived. ``--no-watch`` leaves it out, to check
that it does not slow down what it measures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import select
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio
import trio.testing
from _quiet_logs import LOGGED_ERRORS

import cadenza
from cadenza import RunHandle, RunResult, Workflow
from cadenza.events import Event
from cadenza.plugins import Plugins
from cadenza.store import SqliteStore
from cadenza.testing import SeedAgentServer, SeedCall, Stall

CALLS = 100
REPEATS = 20
QUICK_REPEATS = 3
STALL_SECONDS = 3600.0
RUN_LIMIT_SECONDS = 60.0
"""A repeat that has not ended this long after starting is a failure, not a sample."""
CLOSE_WAIT_SECONDS = 5.0
"""How long to wait, after the run ends, for the server to see every connection closed."""


# -- the server side: in-flight and close detection ------------------------------------


HAVE_EPOLL = hasattr(select, "epoll")
"""The server-side close detection needs epoll (Linux); elsewhere it is left out."""
_CLOSED = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR if HAVE_EPOLL else 0


@attrs.define(eq=False)
class CloseWatch:
    """Counts calls as they arrive and stamps when the server sees each connection close.

    One task watches every connection: the sockets are registered (once their
    request is in) with an epoll object of its own, whose descriptor trio waits
    on. So the closes cost one wake-up per scheduler batch, not one task each.
    """

    expected: int
    watch: bool = True
    server: WatchedServer | None = None
    arrived: int = 0
    all_arrived: trio.Event = attrs.field(factory=trio.Event)
    closed_at: list[float] = attrs.field(factory=list)
    all_closed: trio.Event = attrs.field(factory=trio.Event)
    _epoll: select.epoll | None = None

    def on_call(self, call: SeedCall) -> None:
        """The server's ``handler``: runs in the connection's task once the request is in."""
        self.arrived += 1
        if self._epoll is not None and self.server is not None:
            stream = self.server.streams.get(trio.lowlevel.current_task())
            if stream is not None:
                self._epoll.register(stream.socket.fileno(), select.EPOLLIN | _CLOSED)
        if self.arrived == self.expected:
            self.all_arrived.set()
        # None: fall through to the server's default, Stall(3600)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Stamp closes until cancelled (the end of the repeat)."""
        with select.epoll() as epoll:
            self._epoll = epoll
            task_status.started()
            try:
                while True:
                    await trio.lowlevel.wait_readable(epoll.fileno())
                    now = time.perf_counter()
                    for fd, mask in epoll.poll(0):
                        epoll.unregister(fd)
                        if mask & _CLOSED:  # not just data: the client closed
                            self.closed_at.append(now)
                    if len(self.closed_at) >= self.expected:
                        self.all_closed.set()
            finally:
                self._epoll = None


@attrs.define(eq=False)
class WatchedServer(SeedAgentServer):
    """The seed server, keeping each connection's stream so a watcher can see it close.

    Overrides the private ``_connection``: this benchmark measures this one server.
    """

    streams: dict[trio.lowlevel.Task, trio.SocketStream] = attrs.field(factory=dict, init=False)

    async def _connection(self, stream: trio.SocketStream) -> None:
        task = trio.lowlevel.current_task()
        self.streams[task] = stream
        try:
            await super()._connection(stream)
        finally:
            self.streams.pop(task, None)


async def start_server(nursery: trio.Nursery, watch: CloseWatch) -> WatchedServer:
    server = WatchedServer(default=Stall(STALL_SECONDS), handler=watch.on_call)
    watch.server = server
    if watch.watch:
        await nursery.start(watch.run)
    started: WatchedServer = await nursery.start(server.serve)
    return started


# -- one repeat ----------------------------------------------------------------------


@attrs.define
class Sample:
    """One repeat: seconds from the cancel to each point (None: not reached)."""

    end: float  # run_workflow returned / the baseline's nursery exited
    closed: float | None  # the server saw the last connection closed
    first_closed: float | None
    unclosed: int  # connections still open CLOSE_WAIT_SECONDS after the end
    unwound: float | None = None  # kernel: first step_cancelled (every attempt has unwound)
    finished: float | None = None  # kernel: run_finished (agents closed)
    client_closed: float | None = None  # baseline: client.aclose() returned


def workflow_text(url: str, calls: int) -> str:
    lines = [
        "name: bench-cancel",
        f"concurrency: {calls}",
        "agents:",
        "  remote:",
        "    kind: http",
        f"    max_concurrent: {calls}",
        f"    options: {{endpoint: {json.dumps(url + '/task')}}}",
        "steps:",
    ]
    lines += [f"  s{i:03d}: {{uses: remote, with: {{i: {i}}}}}" for i in range(calls)]
    return "\n".join(lines) + "\n"


@attrs.define(eq=False)
class Stamps:
    """An observer stamping the first ``step_cancelled`` and ``run_finished``."""

    unwound: float | None = None
    finished: float | None = None

    def __call__(self, event: Event) -> None:
        if event.kind == "step_cancelled" and self.unwound is None:
            self.unwound = time.perf_counter()
        elif event.kind == "run_finished":
            self.finished = time.perf_counter()


async def _settle(watch: CloseWatch, settle: float) -> None:
    await watch.all_arrived.wait()
    # Every client task is parked waiting for its response (nothing left to run),
    # so the cancel starts from a quiet loop.
    await trio.testing.wait_all_tasks_blocked()
    if settle:
        await trio.sleep(settle)


async def _closes(watch: CloseWatch, start: float) -> tuple[float | None, float | None, int]:
    if not watch.watch:
        return None, None, 0
    with trio.move_on_after(CLOSE_WAIT_SECONDS):
        await watch.all_closed.wait()
    unclosed = watch.expected - len(watch.closed_at)
    last = max(watch.closed_at) - start if not unclosed else None
    first = min(watch.closed_at) - start if watch.closed_at else None
    return last, first, unclosed


@attrs.define(eq=False)
class KernelRepeat:
    """One kernel run: server, workflow, run, cancel, measure."""

    plugins: Plugins
    calls: int
    settle: float
    watch: bool
    journal_dir: str | None = None  # None: no journal
    journaled: bool = False

    async def __call__(self) -> Sample:
        watch = CloseWatch(expected=self.calls, watch=self.watch)
        store: SqliteStore | None = None
        tmp: tempfile.TemporaryDirectory[str] | None = None
        if self.journaled:
            tmp = tempfile.TemporaryDirectory(prefix="bench-cancel-", dir=self.journal_dir)
            store = SqliteStore(str(Path(tmp.name) / "journal.db"))
        try:
            with trio.fail_after(RUN_LIMIT_SECONDS):
                async with trio.open_nursery() as nursery:
                    server = await start_server(nursery, watch)
                    text = workflow_text(server.url, self.calls)
                    workflow = cadenza.load_workflow_text(text, plugins=self.plugins).workflow
                    sample, result = await self._run(workflow, watch, store)
                    nursery.cancel_scope.cancel()
            _check(result, self.calls, store)
            return sample
        finally:
            if store is not None:
                store.close()
            if tmp is not None:
                tmp.cleanup()

    async def _run(
        self,
        workflow: Workflow,
        watch: CloseWatch,
        store: SqliteStore | None,
    ) -> tuple[Sample, RunResult]:
        stamps = Stamps()
        ended: list[tuple[float, RunResult]] = []

        async def run(*, task_status: trio.TaskStatus[RunHandle]) -> None:
            result = await cadenza.run_workflow(
                workflow,
                plugins=self.plugins,
                observers=[stamps],
                store=store,
                task_status=task_status,
            )
            ended.append((time.perf_counter(), result))

        async with trio.open_nursery() as run_nursery:
            handle: RunHandle = await run_nursery.start(run)
            await _settle(watch, self.settle)
            assert server_in_flight(watch) == self.calls, "server does not hold every call"
            start = time.perf_counter()
            handle.cancel("bench")
        end, result = ended[0]
        closed, first, unclosed = await _closes(watch, start)

        def since(t: float | None) -> float | None:
            return None if t is None else t - start

        sample = Sample(
            end=end - start,
            closed=closed,
            first_closed=first,
            unclosed=unclosed,
            unwound=since(stamps.unwound),
            finished=since(stamps.finished),
        )
        return sample, result


def server_in_flight(watch: CloseWatch) -> int:
    assert watch.server is not None
    return watch.server.in_flight


def _check(result: RunResult, calls: int, store: SqliteStore | None) -> None:
    if LOGGED_ERRORS:
        raise SystemExit("a run logged an error:\n  " + "\n  ".join(LOGGED_ERRORS))
    cancelled = sum(1 for o in result.steps.values() if o.status == "cancelled")
    if result.status != "cancelled" or cancelled != calls:
        raise SystemExit(f"expected a cancelled run, got {result.status} ({result.counts})")
    if store is not None:
        record = store.get_run(result.run_id)
        if record is None or record.status != "cancelled":
            raise SystemExit(f"the journal does not record the run as cancelled: {record}")


@attrs.define(eq=False)
class BaselineRepeat:
    """Raw trio + httpx: ``calls`` POSTs in one nursery, then cancel its scope."""

    calls: int
    settle: float
    watch: bool

    async def __call__(self) -> Sample:
        watch = CloseWatch(expected=self.calls, watch=self.watch)
        with trio.fail_after(RUN_LIMIT_SECONDS):
            async with trio.open_nursery() as nursery:
                server = await start_server(nursery, watch)
                sample = await self._run(server.url + "/task", watch)
                nursery.cancel_scope.cancel()
        return sample

    async def _run(self, url: str, watch: CloseWatch) -> Sample:
        # The same timeouts as the http agent's defaults (cadenza/_agents/_clients.py).
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(300.0, connect=10.0), follow_redirects=False
        )

        async def post(i: int) -> None:
            await client.post(url, json={"task_id": f"s{i:03d}", "data": {"i": i}})

        try:
            async with trio.open_nursery() as calls:
                for i in range(self.calls):
                    calls.start_soon(post, i)
                await _settle(watch, self.settle)
                assert server_in_flight(watch) == self.calls, "server does not hold every call"
                start = time.perf_counter()
                calls.cancel_scope.cancel()
            end = time.perf_counter()
        finally:
            await client.aclose()
        client_closed = time.perf_counter()
        closed, first, unclosed = await _closes(watch, start)
        return Sample(
            end=end - start,
            closed=closed,
            first_closed=first,
            unclosed=unclosed,
            client_closed=client_closed - start,
        )


# -- driving and reporting -----------------------------------------------------------


def run_sides(
    repeats: int, calls: int, settle: float, watch: bool, journal_dir: str | None
) -> dict[str, list[Sample]]:
    plugins = cadenza.plugins.load_plugins(entry_points=False)
    runners: dict[str, Callable[[], Any]] = {
        "kernel": KernelRepeat(plugins, calls, settle, watch),
        "kernel + journal": KernelRepeat(plugins, calls, settle, watch, journal_dir, True),
        "baseline": BaselineRepeat(calls, settle, watch),
    }
    for name, runner in runners.items():  # warm-up, untimed
        print(f"warm-up: {name}", file=sys.stderr, flush=True)
        trio.run(runner)
    samples: dict[str, list[Sample]] = {name: [] for name in runners}
    for i in range(repeats):
        for name, runner in runners.items():
            gc.collect()
            samples[name].append(trio.run(runner))
        line = "  ".join(f"{n} {samples[n][-1].end * 1e3:.1f}" for n in runners)
        print(f"repeat {i + 1}/{repeats} (ms to end): {line}", file=sys.stderr, flush=True)
    return samples


MEASURES: tuple[tuple[str, str, Callable[[Sample], float | None]], ...] = (
    ("kernel", "server saw the first connection closed", lambda s: s.first_closed),
    ("kernel", "server saw all connections closed", lambda s: s.closed),
    ("kernel", "attempts unwound (first step_cancelled)", lambda s: s.unwound),
    ("kernel", "agents closed (run_finished)", lambda s: s.finished),
    ("kernel", "run_workflow returns", lambda s: s.end),
    ("kernel + journal", "server saw the first connection closed", lambda s: s.first_closed),
    ("kernel + journal", "server saw all connections closed", lambda s: s.closed),
    ("kernel + journal", "attempts unwound (first step_cancelled)", lambda s: s.unwound),
    ("kernel + journal", "agents closed (run_finished)", lambda s: s.finished),
    ("kernel + journal", "run_workflow returns (final flush done)", lambda s: s.end),
    ("baseline", "server saw the first connection closed", lambda s: s.first_closed),
    ("baseline", "server saw all connections closed", lambda s: s.closed),
    ("baseline", "nursery exits", lambda s: s.end),
    ("baseline", "client.aclose() returns", lambda s: s.client_closed),
)
"""(side, from the cancel to what, which time of a ``Sample``), in the order of the table."""


def summary(samples: dict[str, list[Sample]]) -> list[dict[str, Any]]:
    rows = []
    for side, what, pick in MEASURES:
        values = [v for v in map(pick, samples[side]) if v is not None]
        if not values:
            continue
        rows.append(
            {
                "side": side,
                "measure": what,
                "n": len(values),
                "min_ms": min(values) * 1e3,
                "median_ms": statistics.median(values) * 1e3,
                "max_ms": max(values) * 1e3,
            }
        )
    return rows


def render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        out = [c.ljust(w) for c, w in zip(cells[:2], widths[:2], strict=True)]
        out += [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
        return "| " + " | ".join(out) + " |"

    sep = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i > 1 else ("-" * (w + 2)) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(header), sep, *(line(row) for row in rows)])


def table(rows: Sequence[dict[str, Any]]) -> str:
    header = ("side", "from cancel to", "n", "min ms", "median ms", "max ms")
    cells = [
        (
            r["side"],
            r["measure"],
            str(r["n"]),
            f"{r['min_ms']:.1f}",
            f"{r['median_ms']:.1f}",
            f"{r['max_ms']:.1f}",
        )
        for r in rows
    ]
    return render(header, cells)


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment(journal_dir: str | None) -> dict[str, Any]:
    directory = journal_dir or tempfile.gettempdir()
    return {
        "cadenza": cadenza.__version__,
        "python": platform.python_version(),
        "trio": trio.__version__,
        "httpx": httpx.__version__,
        "httpcore": version("httpcore"),
        "sqlite": sqlite3.sqlite_version,
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu_count": os.cpu_count(),
        "journal_dir": directory,
        "loadavg_before": _loadavg(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REPEATS} repeats")
    parser.add_argument("--repeats", type=int, help=f"timed repeats per side (default {REPEATS})")
    parser.add_argument("--calls", type=int, default=CALLS, help="calls in flight at the cancel")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long after every call is in flight before cancelling (default 0)",
    )
    parser.add_argument(
        "--journal-dir", metavar="DIR", help="where the journal files go (default: temp dir)"
    )
    parser.add_argument(
        "--no-watch",
        action="store_true",
        help="do not watch for the server-side closes (checks the watchers' own cost)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every sample as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.calls <= CALLS:
        parser.error(f"--calls: 1 to {CALLS} (httpx's default pool holds {CALLS} connections)")
    if not HAVE_EPOLL:
        args.no_watch = True
    repeats = args.repeats or (QUICK_REPEATS if args.quick else REPEATS)

    env = environment(args.journal_dir)
    print(
        f"Cadenza {env['cadenza']} cancellation benchmark: Python {env['python']}, "
        f"trio {env['trio']}, httpx {env['httpx']} (httpcore {env['httpcore']}), "
        f"SQLite {env['sqlite']}, {env['platform']}, {env['cpu_count']} CPUs, "
        f"load average {env['loadavg_before']}",
        flush=True,
    )
    print(
        f"{args.calls} calls in flight, {repeats} repeat(s) per side, settle {args.settle:g}s, "
        f"journal under {env['journal_dir']}"
        + ("" if not args.no_watch else ", server-side closes not watched"),
        flush=True,
    )
    samples = run_sides(repeats, args.calls, args.settle, not args.no_watch, args.journal_dir)
    env["loadavg_after"] = _loadavg()
    rows = summary(samples)
    print()
    print(table(rows))
    unclosed = {side: sum(s.unclosed for s in ss) for side, ss in samples.items()}
    if any(unclosed.values()):
        print(f"\nconnections the server never saw closed (within {CLOSE_WAIT_SECONDS:g}s):")
        for side, n in unclosed.items():
            print(f"  {side}: {n}")
    print(f"\nload average after: {env['loadavg_after']}")
    if args.json:
        data = {
            "environment": env,
            "summary": rows,
            "samples": {side: [attrs.asdict(s) for s in ss] for side, ss in samples.items()},
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
