"""First-party plugins on their executors: cadenza-assets and cadenza-docgen, local vs process.

Usage (cadenza-assets, cadenza-docgen and Pillow installed beside the kernel)::

    python benchmarks/bench_plugin_executors.py [--quick] [--textures N] [--size PX]
                                                [--rounds N] [--json out.json]

Two workloads, each run with ``cadenza.run_workflow`` once per side per round
(sides alternated, all in this process, so the machine's load hits both):

* **assets**: a folder of ``--textures`` real images made here with Pillow
  (half photo-like RGB textures of ``--size`` px, half RGBA sprites of half
  that size, seeded), optimized with the ``desktop`` preset by one ``assets``
  agent with ``workers`` = CPU count, on ``executor: local`` (threads of this
  process) and ``executor: process`` (the kind's default: worker processes,
  as many as CPUs, started by the run). The baseline is ``local``: ratio =
  local wall / process wall.
* **docgen**: the Python sources of this repository (core/ and plugins/,
  ~2 MB) documented by one ``docgen`` agent on ``local`` and on ``process``
  (parsing in chunks of 128 KiB per call; the worker start is in the time,
  as in a real run).

Each side's wall time (best and all rounds), the CPU time it spent in this
process (the coordinator) and in worker processes, and the load average
before and after are printed as a Markdown table. Only public API.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import trio

import cadenza
from cadenza.plugins import load_plugins

ROOT = Path(__file__).resolve().parents[1]


def make_textures(folder: Path, count: int, size: int) -> int:
    """Write ``count`` seeded PNGs (photos and sprites) into ``folder``; their total bytes."""
    from PIL import Image, ImageDraw, ImageFilter

    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(count):
        rng = random.Random(i)
        if i % 2 == 0:
            small = Image.new("RGB", (max(2, size // 25), max(2, size // 25)))
            small.putdata(
                [
                    (60 + rng.randint(0, 120), 50 + rng.randint(0, 100), 30 + rng.randint(0, 80))
                    for _ in range(small.width * small.height)
                ]
            )
            field = small.resize((size, size), Image.Resampling.BICUBIC)
            grain = Image.effect_noise((size, size), 20).convert("RGB")
            image = Image.blend(field, grain, 0.15).filter(ImageFilter.SMOOTH)
            path = folder / f"terrain{i}.png"
        else:
            side = size // 2
            image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
            draw = ImageDraw.Draw(image)
            for r in range(side * 2 // 5, 0, -2):
                c = int(255 * r / (side * 2 / 5))
                centre = side / 2
                draw.ellipse(
                    [centre - r, centre - r, centre + r, centre + r],
                    fill=(255 - c // 2, 80 + c // 3, (c + i * 17) % 256, 255),
                )
            image = image.filter(ImageFilter.GaussianBlur(1.5))
            path = folder / f"sprite{i}.png"
        image.save(path, compress_level=1)
        total += path.stat().st_size
    return total


def _workflow(text: str, base_dir: Path, plugins: cadenza.plugins.Plugins) -> cadenza.Workflow:
    return cadenza.load_workflow_text(
        textwrap.dedent(text), plugins=plugins, filename="bench.yaml", base_dir=base_dir
    ).workflow


def assets_workflow(executor: str, workers: int) -> str:
    return f"""
        executors:
          process: {{options: {{workers: {workers}}}}}
        agents:
          optimizer:
            kind: assets
            executor: {executor}
            options: {{preset: desktop, workers: {workers}}}
        steps:
          optimize: {{uses: optimizer, with: {{files: [textures]}}}}
        """


def docgen_workflow(executor: str, workers: int) -> str:
    return f"""
        executors:
          process: {{options: {{workers: {workers}}}}}
        agents:
          docgen: {{kind: docgen, executor: {executor}, options: {{title: Cadenza}}}}
        steps:
          docs: {{uses: docgen, with: {{files: [core, plugins], languages: [python]}}}}
        """


async def _timed(
    workflow: cadenza.Workflow, plugins: cadenza.plugins.Plugins, out: Path
) -> dict[str, float]:
    cpu = time.process_time()
    children = _children_cpu()
    start = time.perf_counter()
    result = await cadenza.run_workflow(workflow, plugins=plugins, output_dir=out)
    wall = time.perf_counter() - start
    if result.status != "succeeded":
        raise SystemExit(f"the benchmark's run failed: {result.steps}")
    return {
        "wall": wall,
        "coordinator_cpu": time.process_time() - cpu,
        # Worker processes are reaped when the run closes its executor, so their CPU
        # time is in this process's children times by now.
        "workers_cpu": _children_cpu() - children,
    }


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


async def main(args: argparse.Namespace) -> dict[str, Any]:
    plugins = load_plugins(only={"assets", "docgen"})
    missing = {"assets", "docgen"} - set(plugins.agent_kinds)
    if missing:
        raise SystemExit(
            f"install the plugins first: pip install -e plugins/cadenza-assets "
            f"-e plugins/cadenza-docgen (missing kinds: {', '.join(sorted(missing))})"
        )
    workers = args.workers or os.cpu_count() or 1
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "workers": workers,
        "textures": args.textures,
        "size": args.size,
        "load_average_before": os.getloadavg(),
        "assets": {},
        "docgen": {},
    }
    with tempfile.TemporaryDirectory(prefix="cadenza-bench-") as tmp:
        base = Path(tmp)
        report["texture_bytes"] = make_textures(base / "textures", args.textures, args.size)
        workloads = {
            "assets": (assets_workflow, base),
            "docgen": (docgen_workflow, ROOT),
        }
        for name, (make, base_dir) in workloads.items():
            if args.only and name != args.only:
                continue
            for round_ in range(args.rounds):
                sides = ("local", "process") if round_ % 2 == 0 else ("process", "local")
                for side in sides:
                    print(f"{name}, round {round_ + 1}: {side} ...", file=sys.stderr)
                    workflow = _workflow(make(side, workers), base_dir, plugins)
                    out = base / "out" / f"{name}-{side}-{round_}"
                    got = await _timed(workflow, plugins, out)
                    report[name].setdefault(side, []).append(got)
    report["load_average_after"] = os.getloadavg()
    return report


def _print(report: dict[str, Any]) -> None:
    before, after = report["load_average_before"][0], report["load_average_after"][0]
    print(
        f"\n{report['cpus']} CPUs, {report['workers']} workers; {report['textures']} textures "
        f"({report['texture_bytes'] / 1e6:.1f} MB, {report['size']} px photos and half-size "
        f"sprites); load average {before:.2f} before, {after:.2f} after"
    )
    print(
        "\n| workload | executor | wall (best) | all rounds | local / this "
        "| CPU here + in workers (best round) |"
    )
    print("|---|---|---|---|---|---|")
    for name in ("assets", "docgen"):
        sides = report[name]
        if not sides:
            continue
        local = min(r["wall"] for r in sides["local"])
        for side, runs in sides.items():
            best = min(runs, key=lambda r: r["wall"])
            rounds = ", ".join(f"{r['wall']:.2f}" for r in runs)
            print(
                f"| {name} | {side} | {best['wall']:.2f} s | {rounds} | "
                f"{local / best['wall']:.2f}x | "
                f"{best['coordinator_cpu']:.2f} s + {best['workers_cpu']:.2f} s |"
            )


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 textures of 512 px, 1 round")
    parser.add_argument("--textures", type=int, default=24)
    parser.add_argument("--size", type=int, default=1536)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("assets", "docgen"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.textures, args.size, args.rounds = 6, 512, 1
    return args


if __name__ == "__main__":
    arguments = _parse()
    result = trio.run(main, arguments)
    _print(result)
    if arguments.json:
        arguments.json.write_text(json.dumps(result, indent=2))
