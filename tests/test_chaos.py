"""Chaos: a 200-step workflow against two flaky loopback providers still completes, exactly once.

Real sockets cannot use the autojump clock, so backoffs and Retry-After values are
tens of milliseconds; the test takes a couple of seconds.
"""

from __future__ import annotations

import collections
import functools
import random
from typing import Any

import trio

from cadenza import _events as ev
from cadenza._scheduler._run import idempotency_key
from cadenza.testing import (
    Drop,
    MalformedJson,
    Response,
    SeedAgentServer,
    Status,
    run_captured,
    serve_seed_agent,
)

LAYERS = 10
WIDTH = 20
CHAOS: list[tuple[float, Response]] = [
    (0.06, Status(500, body="internal error")),
    (0.06, Status(503, retry_after=0)),
    (0.06, Status(429, retry_after=0.02)),
    (0.06, MalformedJson()),
    (0.06, Drop()),
]
"""A 30 % chance of a fault per call: server errors, rate limits, bad bodies, lost connections."""


def layered(endpoints: list[str], seed: int = 7) -> dict[str, Any]:
    """LAYERS x WIDTH steps; each needs two steps of the layer before and passes one's id on."""
    rng = random.Random(seed)
    steps: dict[str, Any] = {}
    for layer in range(LAYERS):
        for i in range(WIDTH):
            step: dict[str, Any] = {"uses": "summarise", "with": {"layer": layer, "i": i}}
            if layer:
                needs = sorted(rng.sample([f"l{layer - 1}s{j:02}" for j in range(WIDTH)], 2))
                step["needs"] = needs
                step["with"]["after"] = "${{ steps." + needs[0] + ".output.task_id }}"
            steps[f"l{layer}s{i:02}"] = step
    agent = {
        "kind": "http",
        "capabilities": ["summarise"],
        "max_concurrent": 8,
        "breaker": {"failures": 8, "window": "1s", "cooldown": "50ms"},
    }
    return {
        "name": "chaos",
        "concurrency": 16,
        "defaults": {
            "retry": {"max_attempts": 12, "backoff": "10ms", "max_backoff": "50ms"},
            "timeout": "10s",
        },
        "agents": {
            f"p{n}": {**agent, "options": {"endpoint": url, "timeout": "5s"}}
            for n, url in enumerate(endpoints)
        },
        "steps": steps,
    }


async def test_chaotic_providers_complete_every_step_exactly_once() -> None:
    """Under 30 % injected faults on both providers every step succeeds once, each call of a
    step carries that step's idempotency key, and outputs flow between steps intact."""
    async with trio.open_nursery() as nursery:
        servers: list[SeedAgentServer] = [
            await nursery.start(functools.partial(serve_seed_agent, chaos=CHAOS, seed=seed))
            for seed in (1, 2)
        ]
        source = layered([s.url for s in servers])
        started = trio.current_time()
        run = await run_captured(source, rng=random.Random(3))
        took = trio.current_time() - started
        nursery.cancel_scope.cancel()

    result = run.result
    steps = LAYERS * WIDTH
    assert result.status == "succeeded", result.reason
    assert result.counts["succeeded"] == steps

    successes = collections.Counter(e.step_id for e in run.of("step_succeeded"))
    assert set(successes.values()) == {1}
    assert len(successes) == steps

    calls = [c for s in servers for c in s.calls]
    keys: dict[str, set[str | None]] = collections.defaultdict(set)
    for call in calls:
        keys[call.json["task_id"]].add(call.idempotency_key)
    run_id = result.run_id
    assert keys == {step: {idempotency_key(run_id, step)} for step in result.steps}
    attempts = [e for e in run.events if isinstance(e, ev.AttemptStarted)]
    assert {e.idempotency_key for e in attempts} == set().union(*keys.values())

    for step_id, outcome in result.steps.items():
        assert outcome.output["task_id"] == step_id
        needs = source["steps"][step_id].get("needs")
        if needs:
            assert outcome.output["echo"]["after"] == needs[0]

    faults = collections.Counter(
        f"HTTP {c.response.code}" if isinstance(c.response, Status) else type(c.response).__name__
        for c in calls
    )
    circuit = len(run.of("circuit_changed"))
    ratio = len(calls) / steps
    print(
        f"\nchaos: {len(calls)} calls for {steps} steps (ratio {ratio:.2f}), "
        f"{len(attempts)} attempts, answers {dict(faults)}, "
        f"{circuit} breaker changes, {took:.2f}s"
    )
    assert steps <= len(calls) <= len(attempts)  # an attempt reaches a server at most once
    assert ratio < 3.0
