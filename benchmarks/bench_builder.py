"""What writing a workflow in Python costs next to loading its YAML, through the public API.

For a layered DAG of N steps (each reading the outputs of the steps it needs),
three ways to the same validated ``Workflow`` are timed, alternating in one
process so load and noise hit all three alike:

- ``yaml``: ``cadenza.load_workflow_text`` of the YAML file (the baseline);
- ``data``: ``cadenza.load_workflow_data`` of the parsed mapping;
- ``builder``: the ``cadenza.workflow()`` calls, then ``build()``.

The table gives medians and each one's ratio to ``yaml``::

    python benchmarks/bench_builder.py                # 200 and 2000 steps, 7 rounds
    python benchmarks/bench_builder.py --steps 500 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import yaml

import cadenza
from cadenza.plugins import load_plugins

WIDTH = 10
"""Steps per layer; each step needs two steps of the layer before."""


def builder(steps: int) -> cadenza.WorkflowBuilder:
    wf = cadenza.workflow("bench", base_dir=os.getcwd())  # where the YAML text resolves paths
    worker = wf.agent("worker", kind="template", options={"output": "{x}"})
    seed = wf.input("seed", 1)
    handles: list[Any] = []
    for i in range(steps):
        layer = i // WIDTH
        needs = [handles[(layer - 1) * WIDTH + (i + k) % WIDTH] for k in (0, 1)] if layer else []
        x = [h.output for h in needs] if needs else seed
        handles.append(wf.step(f"s{i}", uses=worker, needs=needs or None, with_={"x": x}))
    return wf


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(steps: int, rounds: int) -> dict[str, list[float]]:
    plugins = load_plugins(entry_points=False)
    text = builder(steps).to_yaml()
    data = yaml.safe_load(text)
    ways: dict[str, Callable[[], object]] = {
        "yaml": lambda: cadenza.load_workflow_text(text, plugins=plugins),
        "data": lambda: cadenza.load_workflow_data(data, plugins=plugins),
        "builder": lambda: builder(steps).build(plugins=plugins),
    }
    assert ways["builder"]() == cadenza.load_workflow_text(text, plugins=plugins).workflow
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, fn in ways.items():
            times[name].append(timed(fn))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print("| steps | way | median ms | ratio to yaml |")
    print("|---|---|---|---|")
    for steps in args.steps or [200, 2000]:
        times = measure(steps, args.rounds)
        base = statistics.median(times["yaml"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"| {steps} | {name} | {median * 1000:.1f} | {median / base:.2f}x |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
