"""Benchmark workloads: DAG shapes as plain ``{step_id: needs}`` mappings.

Each workload lists its steps in a topological order (every need comes before
the step that needs it), so both the kernel run and the raw-trio baseline can
be built from the same mapping.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

import attrs
import trio


@attrs.frozen(kw_only=True)
class Workload:
    """A named DAG: ``needs[step_id]`` is the tuple of steps it waits for."""

    name: str
    description: str
    needs: Mapping[str, tuple[str, ...]]

    @property
    def steps(self) -> int:
        return len(self.needs)


def fan_out(width: int) -> Workload:
    """One root, ``width`` independent steps that need it, one join that needs them all."""
    needs: dict[str, tuple[str, ...]] = {"root": ()}
    leaves = tuple(f"leaf{i:05d}" for i in range(width))
    for leaf in leaves:
        needs[leaf] = ("root",)
    needs["join"] = leaves
    return Workload(
        name=f"fan-out {width:,}",
        description=f"1 root -> {width:,} parallel steps -> 1 join",
        needs=needs,
    )


def chain(length: int) -> Workload:
    """``length`` steps, each needing the one before: no parallelism at all."""
    needs: dict[str, tuple[str, ...]] = {}
    previous: tuple[str, ...] = ()
    for i in range(length):
        step = f"s{i:05d}"
        needs[step] = previous
        previous = (step,)
    return Workload(
        name=f"chain {length}",
        description=f"{length} steps in a line, each needs the previous one",
        needs=needs,
    )


def layered(layers: int, width: int, fan_in: int, *, seed: int = 42) -> Workload:
    """``layers`` x ``width`` steps; each needs ``fan_in`` random steps of the layer above.

    The first layer needs nothing. The choice is drawn from ``random.Random(seed)``
    so every run (and the baseline) sees the same graph.
    """
    rng = random.Random(seed)
    needs: dict[str, tuple[str, ...]] = {}
    above: list[str] = []
    for layer in range(layers):
        current = [f"l{layer:03d}s{i:03d}" for i in range(width)]
        for step in current:
            needs[step] = tuple(sorted(rng.sample(above, fan_in))) if above else ()
        above = current
    return Workload(
        name=f"layered {layers}x{width}",
        description=(
            f"{layers} layers x {width} steps, each needs {fan_in} random steps "
            f"of the previous layer (random.Random({seed}))"
        ),
        needs=needs,
    )


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "fan-out-1k": lambda: fan_out(1_000),
    "fan-out-10k": lambda: fan_out(10_000),
    "chain-200": lambda: chain(200),
    "layered-20x50": lambda: layered(20, 50, 3, seed=42),
    "fan-out-100k": lambda: fan_out(100_000),
}
"""Every workload, by the key ``--only`` accepts, in the order the table shows them.

``fan-out-100k`` (issue 14's memory goal) takes minutes; the scripts run it
only when asked with ``--only``.
"""


def noop_agent_class() -> type:
    """The agent class, built on first use so the trio side never imports cadenza."""
    from cadenza import AgentRequest, AgentResult

    @attrs.define(eq=False)
    class NoopAgent:
        """Yields to the scheduler once and returns an empty result."""

        name: str
        capabilities: frozenset[str] = frozenset()

        async def run(self, request: AgentRequest) -> AgentResult:
            await trio.lowlevel.checkpoint()
            return AgentResult(output=None)

        async def aclose(self) -> None:
            pass

    return NoopAgent
