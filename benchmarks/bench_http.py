"""HTTP engine through the public API: many agent calls against a slow loopback server.

Usage::

    python benchmarks/bench_http.py [--quick] [--calls N] [--in-flight N]
                                    [--delay SECONDS] [--processes N] [--runs N]
                                    [--engines cadenza,httpx] [--sides ...]
                                    [--json out.json] [--profile SIDE]

The *io workload* of issue 14: ``--calls`` (2,000) independent calls, at most
``--in-flight`` (100) at a time, to a server that answers each after
``--delay`` (20 ms). Ideal wall time is ``calls / in_flight * delay`` (0.4 s):
what is left above it is client CPU (the server runs in its own process, a
small trio server speaking keep-alive HTTP/1.1, so its CPU is not the
client's). Sides, each in its own Python process, the processes alternating:

* **sockets**: the floor for any trio client -- raw trio sockets, one
  hand-written keep-alive HTTP/1.1 exchange per call (no library at all);
* **httpx in memory**: the floor for anything keeping httpx's API -- the same
  calls through ``httpx.AsyncClient`` over ``httpx.MockTransport``, whose
  handler sleeps ``--delay`` and answers (no sockets, no server);
* **httpx**: the baseline -- raw trio, one stock ``httpx.AsyncClient()``, a
  ``trio.CapacityLimiter``, one ``POST`` per call, the JSON body read;
* **httpx x10**: the same over 10 stock clients (pool sharding, a candidate);
* **httpx2**, **httpx2 x10**: the same with httpx2, the maintained fork of
  httpx (a candidate; only when it is installed);
* **client[ENGINE]**: the same through ``cadenza.http.open_http_client``,
  with ``CADENZA_HTTP_ENGINE=ENGINE`` (the engine alone, no scheduler);
* **cadenza[ENGINE]**: what a user writes -- a native-format workflow of
  ``--calls`` steps using the built-in ``http`` agent kind, ``concurrency:
  in_flight``, loaded with ``cadenza.load_workflow_data`` and run with
  ``cadenza.run_workflow``;
* **openai[ENGINE]**: the same with the ``openai`` agent kind of the
  cadenza-openai plugin (only when it is installed), against the same
  server answering ``/chat/completions``.

Each process does one untimed warm-up run (unless ``--quick``), then
``--runs`` timed runs, each a fresh ``trio.run`` (new client, new
connections). Reported: the median wall time, its ratio to ideal, and client
CPU per call (``time.process_time()`` of the client process over the run,
divided by the calls). Only public names are used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio

CALLS = 2000
IN_FLIGHT = 100
DELAY = 0.02
PROCESSES = 2
RUNS = 3
ENGINES = ("cadenza", "httpx")
HERE = Path(__file__).resolve().parent
SEED_ANSWER = b'{"output": {"ok": true}, "confidence": 0.9}'
CHAT_ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
).encode()


# -- the server (its own process) ---------------------------------------------------


async def _serve_connection(stream: trio.SocketStream, delay: float) -> None:
    """Keep-alive HTTP/1.1: read a request (head + Content-Length body), answer after ``delay``."""
    buffer = bytearray()
    async with stream:
        while True:
            end = buffer.find(b"\r\n\r\n")
            while end < 0:
                data = await stream.receive_some(65536)
                if not data:
                    return
                buffer += data
                end = buffer.find(b"\r\n\r\n")
            head = bytes(buffer[:end]).decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            while len(buffer) < end + 4 + length:
                data = await stream.receive_some(65536)
                if not data:
                    return
                buffer += data
            del buffer[: end + 4 + length]
            target = head.split(" ", 2)[1]
            body = CHAT_ANSWER if target.endswith("/chat/completions") else SEED_ANSWER
            await trio.sleep(delay)
            await stream.send_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%b" % (len(body), body)
            )


async def _serve(delay: float) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    print(port, flush=True)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, lambda s: _serve_connection(s, delay), listeners)
        await trio.to_thread.run_sync(sys.stdin.read)  # until the parent closes our stdin
        nursery.cancel_scope.cancel()


def start_server(delay: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", "--delay", str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    if not port:
        raise SystemExit("the benchmark server did not start")
    return process, f"http://127.0.0.1:{port}"


# -- the sides (inside a child process) ---------------------------------------------


async def _raw_calls(url: str, calls: int, in_flight: int, clients: list[Any]) -> int:
    """POST ``calls`` times through ``clients`` (round robin), ``in_flight`` at a time."""
    limiter = trio.CapacityLimiter(in_flight)
    ok = 0

    async def call(i: int) -> None:
        nonlocal ok
        async with limiter:
            response = await clients[i % len(clients)].post(url, json={"task_id": f"s{i}"})
            if response.status_code == 200 and json.loads(response.content):
                ok += 1

    async with trio.open_nursery() as nursery:
        for i in range(calls):
            nursery.start_soon(call, i)
    for client in clients:
        await client.aclose()
    return ok


class SocketsSide:
    """The floor: raw trio sockets, a hand-written keep-alive HTTP/1.1 exchange per call."""

    def __init__(self, url: str, args: argparse.Namespace) -> None:
        self.port, self.args = int(url.rsplit(":", 1)[1]), args
        body = b'{"task_id": "s0"}'
        self.request = (
            b"POST /v1/tasks HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body)
        )

    async def main(self) -> int:
        idle: list[trio.SocketStream] = []
        limiter = trio.CapacityLimiter(self.args.in_flight)
        ok = 0

        async def call() -> None:
            nonlocal ok
            async with limiter:
                stream = idle.pop() if idle else await trio.open_tcp_stream("127.0.0.1", self.port)
                await stream.send_all(self.request)
                answer = bytearray()
                while (end := answer.find(b"\r\n\r\n")) < 0:
                    answer += await stream.receive_some(65536)
                length = int(answer.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(answer) < end + 4 + length:
                    answer += await stream.receive_some(65536)
                if answer.startswith(b"HTTP/1.1 200") and json.loads(answer[end + 4 :]):
                    ok += 1
                idle.append(stream)

        async with trio.open_nursery() as nursery:
            for _ in range(self.args.calls):
                nursery.start_soon(call)
        for stream in idle:
            await stream.aclose()
        return ok

    def run(self) -> None:
        ok = trio.run(self.main)
        if ok != self.args.calls:
            raise SystemExit(f"sockets side: {ok}/{self.args.calls} calls succeeded")


class RawSide:
    """Raw trio: stock httpx clients (``shards`` of them) or ``open_http_client``."""

    def __init__(
        self,
        url: str,
        args: argparse.Namespace,
        *,
        shards: int = 1,
        cadenza: bool = False,
        in_memory: bool = False,
        httpx2: bool = False,
    ) -> None:
        self.url, self.args, self.shards, self.cadenza = url + "/v1/tasks", args, shards, cadenza
        self.in_memory, self.httpx2 = in_memory, httpx2

    def _clients(self) -> list[Any]:
        if self.cadenza:
            from cadenza.http import open_http_client

            return [open_http_client(timeout=30, connect_timeout=10, headers={})]
        import httpx

        if self.httpx2:  # the maintained fork, same API (only when installed)
            import httpx2

            return [httpx2.AsyncClient(timeout=30) for _ in range(self.shards)]
        if self.in_memory:  # httpx's own cost: no sockets, the server's delay kept
            delay = self.args.delay

            async def answer(request: httpx.Request) -> httpx.Response:
                await trio.sleep(delay)
                return httpx.Response(200, content=SEED_ANSWER)

            return [httpx.AsyncClient(transport=httpx.MockTransport(answer), timeout=30)]
        return [httpx.AsyncClient(timeout=30) for _ in range(self.shards)]

    def run(self) -> None:
        calls = self.args.calls

        async def main() -> int:
            return await _raw_calls(self.url, calls, self.args.in_flight, self._clients())

        ok = trio.run(main)
        if ok != calls:
            raise SystemExit(f"raw side: {ok}/{calls} calls succeeded")


class WorkflowSide:
    """``load_workflow_data`` once (untimed), then one ``run_workflow`` per ``run``."""

    def __init__(self, url: str, args: argparse.Namespace, *, kind: str) -> None:
        import _quiet_logs  # noqa: F401  (configures structlog as an application would)

        import cadenza
        from cadenza.plugins import load_plugins

        extra: list[Any] = []
        if kind == "openai":
            import cadenza_openai

            extra.append(cadenza_openai)
            agent = {
                "kind": "openai",
                "options": {"base_url": url + "/v1", "api_key": "sk-bench", "model": "m"},
            }
            step_with = {"prompt": "Say ok."}
        else:
            agent = {"kind": "http", "options": {"endpoint": url + "/v1/tasks"}}
            step_with = {"text": "hello"}
        data = {
            "name": f"io-{kind}",
            "concurrency": args.in_flight,
            "agents": {"remote": agent},
            "steps": {
                f"s{i:05d}": {"uses": "remote", "with": step_with} for i in range(args.calls)
            },
        }
        self.kind = kind
        self.calls = args.calls
        self.plugins = load_plugins(extra=extra, entry_points=False)
        self.workflow = cadenza.load_workflow_data(data, plugins=self.plugins).workflow

    def run(self) -> None:
        from _quiet_logs import LOGGED_ERRORS

        import cadenza

        workflow, plugins = self.workflow, self.plugins
        result = trio.run(
            lambda: cadenza.run_workflow(workflow, plugins=plugins, rng=random.Random(0))
        )
        if LOGGED_ERRORS:
            raise SystemExit(
                f"{self.kind} run logged errors, so its timing would be meaningless:\n  "
                + "\n  ".join(dict.fromkeys(LOGGED_ERRORS))
            )
        ok = sum(1 for o in result.steps.values() if o.status == "succeeded")
        if result.status != "succeeded" or ok != self.calls:
            raise SystemExit(
                f"{self.kind} run ended {result.status} with {ok}/{self.calls} steps "
                f"succeeded: {result.reason}"
            )


def make_side(
    side: str, url: str, args: argparse.Namespace
) -> SocketsSide | RawSide | WorkflowSide:
    base, _, engine = side.partition("[")
    if engine:
        os.environ["CADENZA_HTTP_ENGINE"] = engine.rstrip("]")
    if base == "sockets":
        return SocketsSide(url, args)
    if base == "httpx in memory":
        return RawSide(url, args, in_memory=True)
    if base == "httpx":
        return RawSide(url, args)
    if base == "httpx x10":
        return RawSide(url, args, shards=10)
    if base in ("httpx2", "httpx2 x10"):
        return RawSide(url, args, shards=10 if base.endswith("x10") else 1, httpx2=True)
    if base == "client":
        return RawSide(url, args, cadenza=True)
    if base in ("cadenza", "openai"):
        return WorkflowSide(url, args, kind="http" if base == "cadenza" else "openai")
    raise SystemExit(f"unknown side {side!r}")


def child(side: str, url: str, args: argparse.Namespace) -> int:
    runner = make_side(side, url, args)
    if not args.quick:
        runner.run()
    walls, cpus = [], []
    for _ in range(args.runs):
        cpu, wall = time.process_time(), time.perf_counter()
        runner.run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(json.dumps({"side": side, "walls": walls, "cpus": cpus}))
    return 0


# -- the parent ---------------------------------------------------------------------


def spawn(side: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", side, url]
    command += ["--runs", str(args.runs), "--calls", str(args.calls)]
    command += ["--in-flight", str(args.in_flight), "--delay", str(args.delay)]
    if args.quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} failed (exit {done.returncode}):\n{done.stderr.strip()}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def default_sides(engines: Sequence[str]) -> list[str]:
    sides = ["sockets", "httpx in memory", "httpx", "httpx x10"]
    try:
        import httpx2  # noqa: F401
    except ImportError:
        pass
    else:
        sides += ["httpx2", "httpx2 x10"]
    sides += [f"client[{engine}]" for engine in engines]
    sides += [f"cadenza[{engine}]" for engine in engines]
    try:
        import cadenza_openai  # noqa: F401
    except ImportError:
        print("cadenza-openai is not installed: no openai sides", file=sys.stderr)
    else:
        sides += [f"openai[{engine}]" for engine in engines]
    return sides


def render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def profile(side: str, args: argparse.Namespace) -> None:
    """cProfile one run of ``side`` (after a warm-up run) against a fresh server."""
    import cProfile
    import pstats

    server, url = start_server(args.delay)
    try:
        runner = make_side(side, url, args)
        runner.run()
        profiler = cProfile.Profile()
        profiler.runcall(runner.run)
    finally:
        server.communicate("")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 process x 1 run per side, no warm-up"
    )
    parser.add_argument("--calls", type=int, default=CALLS, help=f"default {CALLS}")
    parser.add_argument("--in-flight", type=int, default=IN_FLIGHT, help=f"default {IN_FLIGHT}")
    parser.add_argument(
        "--delay", type=float, default=DELAY, help=f"server delay, seconds (default {DELAY})"
    )
    parser.add_argument("--processes", type=int, help=f"processes per side (default {PROCESSES})")
    parser.add_argument("--runs", type=int, help=f"timed runs per process (default {RUNS})")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="CADENZA_HTTP_ENGINE values to compare (default cadenza,httpx)",
    )
    parser.add_argument(
        "--sides", help="comma list of sides (default: all), e.g. 'httpx,cadenza[cadenza]'"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every timing as JSON to PATH")
    parser.add_argument("--profile", metavar="SIDE", help="cProfile one run of SIDE instead")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.processes = args.processes or (1 if args.quick else PROCESSES)
    args.runs = args.runs or (1 if args.quick else RUNS)
    if args.serve:
        trio.run(_serve, args.delay)
        return 0
    if args.child:
        return child(args.child[0], args.child[1], args)
    if args.profile:
        profile(args.profile, args)
        return 0

    import cadenza

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    sides = args.sides.split(",") if args.sides else default_sides(engines)
    ideal = args.calls / args.in_flight * args.delay
    before = _loadavg()
    print(
        f"Cadenza {cadenza.__version__} HTTP benchmark (public API): "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"trio {trio.__version__}, {platform.platform()}, {os.cpu_count()} CPUs, "
        f"load average {before}",
        flush=True,
    )
    print(
        f"{args.calls:,} calls, {args.in_flight} in flight, server delay "
        f"{args.delay * 1e3:g} ms (ideal {ideal:.2f} s); {args.processes} process(es) x "
        f"{args.runs} run(s) per side{'' if args.quick else ' after a warm-up'}, medians",
        flush=True,
    )
    walls: dict[str, list[float]] = {side: [] for side in sides}
    cpus: dict[str, list[float]] = {side: [] for side in sides}
    server, url = start_server(args.delay)
    try:
        print("process", end="", flush=True, file=sys.stderr)
        for number in range(args.processes):
            print(f" {number + 1}", end="", flush=True, file=sys.stderr)
            for side in sides:  # alternate the sides
                data = spawn(side, url, args)
                walls[side] += data["walls"]
                cpus[side] += data["cpus"]
        print(file=sys.stderr)
    finally:
        server.communicate("")
    after = _loadavg()
    rows = []
    for side in sides:
        wall = statistics.median(walls[side])
        cpu = statistics.median(cpus[side])
        rows.append(
            [
                side,
                f"{wall:.2f}",
                f"{wall / ideal:.1f}x",
                f"{cpu / args.calls * 1e3:.2f}",
            ]
        )
    print()
    print(render(["side", "wall s", "ratio to ideal", "client CPU ms/call"], rows))
    print(f"\nload average after: {after}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "environment": {
                        "cadenza": cadenza.__version__,
                        "python": platform.python_version(),
                        "calls": args.calls,
                        "in_flight": args.in_flight,
                        "delay": args.delay,
                        "loadavg_before": before,
                        "loadavg_after": after,
                    },
                    "walls": walls,
                    "cpus": cpus,
                },
                f,
                indent=2,
            )
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
