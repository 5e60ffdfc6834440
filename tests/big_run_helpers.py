"""A generated journal of a big finished run (20,000 steps by default), written as the runner would.

The workflow is ``layers`` layers of ``width`` steps, each step needing one step
of the layer before; every step succeeded in one attempt on one of four agents.
Written straight into a real SQLite journal (record, source, events), so the
dashboard and ``cadenza report`` read it as they read any run.
"""

from __future__ import annotations

import os
import socket

from cadenza._journal._sqlite import SqliteStore
from cadenza._journal._store import RunRecord, WriteBatch

AGENTS = ("a0", "a1", "a2", "a3")


def big_workflow_text(layers: int, width: int) -> str:
    lines = ["name: big", "agents:"]
    lines += [
        f"  {a}: {{kind: template, capabilities: [work], max_concurrent: 50, "
        "options: {output: ok}}"
        for a in AGENTS
    ]
    lines.append("steps:")
    for layer in range(layers):
        for i in range(width):
            needs = f", needs: [s{layer - 1}_{i}]" if layer else ""
            lines.append(f"  s{layer}_{i}: {{uses: work{needs}}}")
    return "\n".join(lines) + "\n"


def write_big_run(
    url: str, *, layers: int = 200, width: int = 100, run_id: str = "big", shape: bool = False
) -> str:
    """Journal the finished run at ``url``; its run id.

    ``shape``: ``run_started`` carries the workflow's needs, agents and budgets, as the
    runner journals them since 0.2 (without: as an older journal, read by loading the source).
    """
    text = big_workflow_text(layers, width)
    steps = [f"s{layer}_{i}" for layer in range(layers) for i in range(width)]
    t0 = 1_800_000_000.0
    events: list[dict[str, object]] = [
        {"kind": "run_started", "run_id": run_id, "seq": 0, "at": t0, "workflow": "big",
         "source": "", "source_hash": "h", "inputs": {}, "steps": steps, "output_dir": None}
    ]  # fmt: skip
    if shape:
        events[0]["needs"] = {
            f"s{layer}_{i}": [f"s{layer - 1}_{i}"]
            for layer in range(1, layers)
            for i in range(width)
        }
        events[0]["agents"] = {a: {"max_concurrent": 50} for a in AGENTS}
        events[0]["budgets"] = {}
    seq = 1
    for n, sid in enumerate(steps):
        layer = n // width
        at = t0 + layer * 1.0 + (n % width) * 0.001
        agent = AGENTS[n % len(AGENTS)]
        for kind, extra, when in (
            ("step_ready", {"inputs": {}}, at),
            ("attempt_started", {"attempt": 1, "agent": agent, "idempotency_key": "k",
                                 "queue_wait": 0.0, "waited_for": ""}, at),
            ("step_succeeded", {"attempt": 1, "agent": agent, "output": sid, "duration": 0.9,
                                "degraded": False, "source": "", "input_tokens": 0,
                                "output_tokens": 0, "cost_usd": None}, at + 0.9),
        ):  # fmt: skip
            events.append({"kind": kind, "run_id": run_id, "seq": seq, "at": when,
                           "step_id": sid, **extra})  # fmt: skip
            seq += 1
    end = t0 + layers + 1.0
    events.append({"kind": "run_finished", "run_id": run_id, "seq": seq, "at": end,
                   "status": "succeeded", "duration": end - t0,
                   "counts": {"succeeded": len(steps), "failed": 0, "skipped": 0,
                              "cancelled": 0}, "reason": ""})  # fmt: skip
    record = RunRecord(
        run_id=run_id, workflow="big", source_hash="h", status="succeeded", started_at=t0,
        finished_at=end, counts={"succeeded": len(steps)}, pid=os.getpid(),
        host=socket.gethostname(),
    )  # fmt: skip
    store = SqliteStore(url)
    try:
        store.write(WriteBatch(runs=[record], sources=[(run_id, text)]))
        for start in range(0, len(events), 5000):
            store.write(WriteBatch(events=events[start : start + 5000]))
    finally:
        store.close()
    return run_id
