"""Whole-process time of the ``cadenza`` command: start-up, validate, and a 1,000-step run.

Usage::

    python benchmarks/bench_startup.py [--quick] [--runs N] [--json out.json]
                                       [--only LABEL ...] [--importtime]
                                       [--breakdown] [--bytecode {cached,source}]

Issue 14, goal 3: ``cadenza --help``, ``--version`` and ``validate`` of a
small file within 1.5x of ``python -c "import trio, httpx"``; ``cadenza run``
of a 1,000-step no-op fan-out, process start to exit, in at most 0.4 s, shown
beside raw trio doing the same fan-out in its own process.

Every row is a new process, timed from ``subprocess.run`` to its exit
(``time.perf_counter`` in this process), exactly what a user waits for:

* baselines: ``python -c pass`` and ``python -c "import trio, httpx"``;
* ``cadenza --help`` and ``cadenza --version``;
* ``cadenza validate`` of a small workflow (three steps, one ``when:``
  expression, ``${{ }}`` in ``with:``) and of the same file without any
  expression (what must not import CEL);
* ``cadenza validate`` and ``cadenza run`` of a 1,000-step fan-out
  (1 root -> 1,000 -> 1 join, ``concurrency: 64``) served by the built-in
  ``template`` kind with no options (it echoes its inputs: no I/O, no
  network), as a user writes it in YAML; ``run`` with its defaults (the
  SQLite journal in ``.cadenza/`` of a new working directory each time, so
  the journal is created as on a first run; one progress line per step on
  stderr, which is a pipe here), then with ``--no-progress``, then also
  ``--no-journal``: the differences between these rows show what the
  progress lines and the journal cost;
* raw trio: a script doing the same fan-out (one nursery, a ``trio.Event``
  per step, a ``trio.CapacityLimiter(64)``, one checkpoint per step), in its
  own process.

Bytecode: by default (``--bytecode cached``) every process runs as on a
machine where Cadenza was installed from a wheel, whose installer compiles
the ``.pyc`` files: Python may write and read bytecode, in a cache of its own
(``PYTHONPYCACHEPREFIX`` in the benchmark's folder, so no ``__pycache__`` is
written beside the sources), filled by the untimed warm-up round that runs
even with ``--quick``. ``--bytecode source`` sets ``PYTHONDONTWRITEBYTECODE=1``
instead, as some sandboxes and CI images do: a source checkout without
``__pycache__`` is then compiled by every process (a third of a second for
``cadenza run``), while installed libraries keep their ``.pyc`` files.

The rows alternate (round 1: every command once, round 2: ...), after one
untimed warm-up round (which also fills the user cache: Cadenza keeps its
CEL parser tables there), and the table shows medians and the ratio to the
``import trio, httpx`` baseline, of wall-clock time and of CPU time (user +
system, from ``getrusage(RUSAGE_CHILDREN)``): on a loaded machine the CPU
ratio is the steadier one. ``--importtime`` then runs each Cadenza
command once under ``python -X importtime`` and lists, per command, what it
imported and the slowest top-level packages. ``--breakdown`` then runs a
script that times, in one process and through the public API, the phases of
the fan-out: imports, ``load_plugins()``, ``load_workflow``, ``run_workflow``
without a journal, opening a new ``SqliteStore``, a journaled run, closing it.

Only the ``cadenza`` command is used (the script beside this Python, else
``python -m cadenza``), no Cadenza module is imported here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

RUNS = 10
FAN_OUT = 1_000
CONCURRENCY = 64
BASELINE = "python -c 'import trio, httpx'"

SMALL = """\
name: small
inputs:
  topic: {default: trio, description: what to write about}
agents:
  echo:
    kind: template
  writer:
    kind: template
    options:
      output: "About {topic}"
steps:
  plan:
    uses: echo
    with: {topic: "${{ inputs.topic }}"}
  write:
    uses: writer
    needs: [plan]
    when: "steps.plan.output.inputs.topic != ''"
    with: {topic: "${{ inputs.topic }}"}
  publish:
    uses: echo
    needs: [write]
    with: {title: "Published: ${{ steps.write.output }}"}
"""

PLAIN = """\
name: plain
agents:
  echo:
    kind: template
  writer:
    kind: template
    options:
      output: "About {topic}"
steps:
  plan:
    uses: echo
    with: {topic: trio}
  write:
    uses: writer
    needs: [plan]
    with: {topic: trio}
  publish:
    uses: echo
    needs: [write]
"""

RAW_TRIO = """\
import trio

WIDTH, CONCURRENCY = {width}, {concurrency}


async def agent(step_id):
    await trio.lowlevel.checkpoint()


async def main():
    needs = {{"root": ()}}
    leaves = tuple(f"leaf{{i:04d}}" for i in range(WIDTH))
    for leaf in leaves:
        needs[leaf] = ("root",)
    needs["join"] = leaves
    limiter = trio.CapacityLimiter(CONCURRENCY)
    done = {{step_id: trio.Event() for step_id in needs}}

    async def step(step_id, wait_for):
        for need in wait_for:
            await done[need].wait()
        async with limiter:
            await agent(step_id)
        done[step_id].set()

    async with trio.open_nursery() as nursery:
        for step_id, wait_for in needs.items():
            nursery.start_soon(step, step_id, wait_for)
    assert all(event.is_set() for event in done.values())


trio.run(main)
"""


BREAKDOWN = """\
import json, sys, time

start = time.perf_counter()
import trio

import cadenza
import cadenza.store
from cadenza.plugins import load_plugins

cadenza.load_workflow  # the first public name imports the loader, scheduler, ...
imported = time.perf_counter()
plugins = load_plugins()
plugged = time.perf_counter()
workflow = cadenza.load_workflow(sys.argv[1], plugins=plugins).workflow
loaded = time.perf_counter()


async def run(store):
    return await cadenza.run_workflow(workflow, plugins=plugins, store=store)


result = trio.run(run, None)
assert result.status == "succeeded", result.reason
ran = time.perf_counter()
store = cadenza.store.SqliteStore(sys.argv[2])
opened = time.perf_counter()
result = trio.run(run, store)
assert result.status == "succeeded", result.reason
journaled = time.perf_counter()
store.close()
closed = time.perf_counter()
print(json.dumps({
    "imports (cadenza, trio, the public API)": imported - start,
    "load_plugins()": plugged - imported,
    "load_workflow (YAML, checks)": loaded - plugged,
    "run_workflow, no journal": ran - loaded,
    "SqliteStore(new file)": opened - ran,
    "run_workflow, SQLite journal (a second run)": journaled - opened,
    "store.close()": closed - journaled,
}))
"""
"""One process's phases, through the public API (``--breakdown``)."""


def fan_out_yaml(width: int, concurrency: int) -> str:
    """The fan-out as a user writes it: one agent of the built-in template kind."""
    lines = [
        "name: fan-out",
        f"concurrency: {concurrency}",
        "agents:",
        "  noop:",
        "    kind: template",
        "steps:",
        "  root:",
        "    uses: noop",
    ]
    leaves = [f"leaf{i:04d}" for i in range(width)]
    for leaf in leaves:
        lines += [f"  {leaf}:", "    uses: noop", "    needs: [root]"]
    lines += ["  join:", "    uses: noop", f"    needs: [{', '.join(leaves)}]"]
    return "\n".join(lines) + "\n"


def cadenza_command() -> list[str]:
    """The ``cadenza`` script installed beside this Python, else ``python -m cadenza``."""
    script = Path(sys.executable).parent / "cadenza"
    if script.is_file():
        return [str(script)]
    found = shutil.which("cadenza")
    return [found] if found else [sys.executable, "-m", "cadenza"]


class Command:
    """One row: what to run, where, and what its output must contain to count."""

    def __init__(
        self,
        label: str,
        argv: Sequence[str],
        *,
        expect: str = "",
        fresh_dir: bool = False,
        python_script: bool = False,
    ) -> None:
        self.label = label
        self.argv = list(argv)
        self.expect = expect
        self.fresh_dir = fresh_dir
        self.python_script = python_script  # argv[0] is a Python script (for -X importtime)
        self.times: list[float] = []
        self.cpu: list[float] = []


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


ENV: dict[str, str] = dict(os.environ)
"""The environment of every process this benchmark starts (see :func:`bytecode_env`)."""


def bytecode_env(mode: str, workdir: Path) -> dict[str, str]:
    """The environment for ``--bytecode cached`` (a bytecode cache of our own) or ``source``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env.pop("PYTHONPYCACHEPREFIX", None)
    if mode == "cached":
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(
    command: Command, workdir: Path, argv: Sequence[str] | None = None
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``command`` once in ``workdir`` (a new subfolder if it wants one).

    Returns its wall-clock seconds, the CPU seconds (user + system) it used,
    and what it printed.
    """
    cwd = workdir
    if command.fresh_dir:
        cwd = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        list(argv or command.argv), cwd=cwd, capture_output=True, text=True, check=False, env=ENV
    )
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if command.fresh_dir:
        shutil.rmtree(cwd, ignore_errors=True)
    if done.returncode != 0 or command.expect not in done.stdout + done.stderr:
        raise SystemExit(
            f"{command.label} failed (exit {done.returncode}, expected {command.expect!r}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return seconds, cpu, done


def commands(workdir: Path, width: int) -> list[Command]:
    (workdir / "small.yaml").write_text(SMALL, encoding="utf-8")
    (workdir / "plain.yaml").write_text(PLAIN, encoding="utf-8")
    (workdir / "fan-out.yaml").write_text(fan_out_yaml(width, CONCURRENCY), encoding="utf-8")
    (workdir / "raw_trio.py").write_text(
        RAW_TRIO.format(width=width, concurrency=CONCURRENCY), encoding="utf-8"
    )
    cadenza = cadenza_command()
    script = len(cadenza) == 1
    fan_out = str(workdir / "fan-out.yaml")
    steps = f"{width + 2:,}".replace(",", "")
    return [
        Command("python -c pass", [sys.executable, "-c", "pass"]),
        Command(BASELINE, [sys.executable, "-c", "import trio, httpx"]),
        Command("cadenza --help", [*cadenza, "--help"], expect="validate", python_script=script),
        Command(
            "cadenza --version", [*cadenza, "--version"], expect="cadenza", python_script=script
        ),
        Command(
            "cadenza validate small.yaml",
            [*cadenza, "validate", "small.yaml"],
            expect="ok (workflow small",
            python_script=script,
        ),
        Command(
            "cadenza validate plain.yaml (no expressions)",
            [*cadenza, "validate", "plain.yaml"],
            expect="ok (workflow plain",
            python_script=script,
        ),
        Command(
            f"cadenza validate fan-out ({width + 2:,} steps)",
            [*cadenza, "validate", fan_out],
            expect=f"{steps} steps",
            python_script=script,
        ),
        Command(
            f"raw trio fan-out ({width + 2:,} steps)",
            [sys.executable, str(workdir / "raw_trio.py")],
        ),
        Command(
            "cadenza run fan-out --no-journal --no-progress",
            [*cadenza, "run", fan_out, "--no-journal", "--no-progress"],
            expect=f"{steps} succeeded",
            fresh_dir=True,
            python_script=script,
        ),
        Command(
            "cadenza run fan-out --no-progress",
            [*cadenza, "run", fan_out, "--no-progress"],
            expect=f"{steps} succeeded",
            fresh_dir=True,
            python_script=script,
        ),
        Command(
            "cadenza run fan-out",
            [*cadenza, "run", fan_out],
            expect=f"{steps} succeeded",
            fresh_dir=True,
            python_script=script,
        ),
    ]


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, so the output can be pasted into docs as is."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def table(rows: Sequence[Command]) -> str:
    base = next(c for c in rows if c.label == BASELINE)
    wall, cpu = statistics.median(base.times), statistics.median(base.cpu)
    out = []
    for command in rows:
        median, median_cpu = statistics.median(command.times), statistics.median(command.cpu)
        out.append(
            [
                f"`{command.label}`",
                f"{median:.3f}",
                f"{min(command.times):.3f}",
                f"{median / wall:.2f}x",
                f"{median_cpu:.3f}",
                f"{median_cpu / cpu:.2f}x",
            ]
        )
    header = ["command", "wall s (median)", "wall s (min)", "wall ratio", "CPU s", "CPU ratio"]
    return render(header, out)


# -- -X importtime ----------------------------------------------------------------


def parse_importtime(stderr: str) -> list[tuple[int, int, str]]:
    """``(self µs, cumulative µs, module)`` per line of ``-X importtime`` output."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) == 3:
            rows.append((int(fields[0]), int(fields[1]), fields[2].strip()))
    return rows


def importtime_report(command: Command, workdir: Path, top: int) -> str:
    if not command.python_script:
        return f"{command.label}: not a Python script here, skipped"
    argv = [sys.executable, "-X", "importtime", *command.argv]
    _, _, done = _run(command, workdir, argv)
    rows = parse_importtime(done.stderr)
    by_package: dict[str, int] = {}
    for self_us, _, module in rows:
        root = module.split(".")[0]
        if root == "cadenza":
            root = ".".join(module.split(".")[:2])
        by_package[root] = by_package.get(root, 0) + self_us
    total = sum(self_us for self_us, _, _ in rows)
    heavy = ("celpy", "lark", "pendulum", "jsonschema", "httpx", "rich", "structlog", "trio")
    imported = sorted({m.split(".")[0] for _, _, m in rows} & set(heavy))
    lines = [
        f"{command.label}: {len(rows)} modules, {total / 1e3:.0f} ms of imports (self times "
        f"summed, -X importtime inflates them); of {', '.join(heavy)} it imports: "
        f"{', '.join(imported) or 'none'}"
    ]
    for name, micros in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {micros / 1e3:7.1f} ms  {name}")
    return "\n".join(lines)


def breakdown(workdir: Path, runs: int) -> str:
    """Where a run's time goes: ``runs`` processes timing their phases (medians)."""
    script = workdir / "breakdown.py"
    script.write_text(BREAKDOWN, encoding="utf-8")
    phases: dict[str, list[float]] = {}
    totals: list[float] = []
    for number in range(runs):
        journal = workdir / f"breakdown-{number}.db"
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(script), str(workdir / "fan-out.yaml"), str(journal)],
            capture_output=True,
            text=True,
            check=False,
            env=ENV,
        )
        totals.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"breakdown failed (exit {done.returncode}):\n{done.stderr}")
        for phase, seconds in json.loads(done.stdout.strip().splitlines()[-1]).items():
            phases.setdefault(phase, []).append(seconds)
    rows = [[phase, f"{statistics.median(times):.3f}"] for phase, times in phases.items()]
    inside = sum(statistics.median(times) for times in phases.values())
    rows.append(
        ["(interpreter start and exit: the rest)", f"{statistics.median(totals) - inside:.3f}"]
    )
    rows.append(["whole process", f"{statistics.median(totals):.3f}"])
    title = (
        f"Phases of the fan-out in one process, through the public API ({runs} processes, "
        "medians; the journaled run is the process's second, so it runs warm):"
    )
    return title + "\n\n" + render(["phase", "seconds"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds (the warm-up round only fills caches)"
    )
    parser.add_argument(
        "--bytecode",
        choices=("cached", "source"),
        default="cached",
        help="cached: bytecode as after a wheel install (default); source: "
        "PYTHONDONTWRITEBYTECODE=1, sources without __pycache__ compiled by every process",
    )
    parser.add_argument("--runs", type=int, help=f"rounds (default {RUNS})")
    parser.add_argument("--width", type=int, default=FAN_OUT, help="fan-out width")
    parser.add_argument(
        "--only", action="append", metavar="TEXT", help="only rows whose label contains TEXT"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every timing as JSON to PATH")
    parser.add_argument(
        "--importtime", action="store_true", help="then list each command's slowest imports"
    )
    parser.add_argument("--top", type=int, default=12, help="packages listed per command")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="then time the phases of the fan-out in one process, through the public API",
    )
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else RUNS)

    with tempfile.TemporaryDirectory(prefix="cadenza-bench-startup-") as tmp:
        workdir = Path(tmp)
        ENV.clear()
        ENV.update(bytecode_env(args.bytecode, workdir))
        rows = commands(workdir, args.width)
        if args.only:
            rows = [c for c in rows if c.label == BASELINE or any(t in c.label for t in args.only)]
        before = _loadavg()
        print(
            f"cadenza start-up benchmark: {' '.join(cadenza_command())}, "
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{platform.platform()}, {os.cpu_count()} CPUs, load average {before}",
            flush=True,
        )
        print(
            f"{runs} round(s) after a warm-up round, every command once per round, each in a "
            f"new process; medians; bytecode: {args.bytecode}",
            flush=True,
        )
        if not args.quick or args.bytecode == "cached":
            for command in rows:
                _run(command, workdir)
        for number in range(runs):
            print(f"round {number + 1}/{runs}", file=sys.stderr, flush=True)
            for command in rows:
                seconds, cpu, _ = _run(command, workdir)
                command.times.append(seconds)
                command.cpu.append(cpu)
        after = _loadavg()
        print()
        print(table(rows))
        print(f"\nload average after: {after}")
        if args.importtime:
            print()
            for command in rows:
                print(importtime_report(command, workdir, args.top), flush=True)
        if args.breakdown:
            print()
            print(breakdown(workdir, runs))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(
                    {
                        "environment": {
                            "command": cadenza_command(),
                            "python": platform.python_version(),
                            "platform": platform.platform(),
                            "cpu_count": os.cpu_count(),
                            "runs": runs,
                            "width": args.width,
                            "bytecode": args.bytecode,
                            "loadavg_before": before,
                            "loadavg_after": after,
                        },
                        "results": {c.label: {"wall": c.times, "cpu": c.cpu} for c in rows},
                    },
                    f,
                    indent=2,
                )
                f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
