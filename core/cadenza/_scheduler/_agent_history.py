"""What past runs say about each agent: the memory behind adaptive routing.

Read from the journal at the start of a run whose routers ask for it
(``wants_history``): the last runs of the same workflow, their calls per
agent and per ``uses`` (success or failure, how long, what it cost). Steps
are matched to ``uses`` through the current workflow, so a renamed step's
past is forgotten rather than misattributed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import attrs

from .._journal._store import Store
from .._spec._workflow import Workflow
from .._strategies._routing import AgentHistory

HISTORY_RUNS = 20
"""How many of the workflow's most recent runs adaptive routing learns from."""


@attrs.define
class _Tally:
    successes: int = 0
    failures: int = 0
    latency_sum: float = 0.0
    latency_n: int = 0
    cost_sum: float = 0.0
    cost_n: int = 0

    def call(self, ok: bool, latency: float | None) -> None:
        if ok:
            self.successes += 1
        else:
            self.failures += 1
        if latency is not None and latency >= 0:
            self.latency_sum += latency
            self.latency_n += 1

    def freeze(self) -> AgentHistory:
        return AgentHistory(
            successes=self.successes,
            failures=self.failures,
            mean_latency=self.latency_sum / self.latency_n if self.latency_n else None,
            mean_cost=self.cost_sum / self.cost_n if self.cost_n else None,
        )


def agent_history(
    store: Store, workflow: Workflow, runs: int = HISTORY_RUNS
) -> dict[tuple[str, str], AgentHistory]:
    """Per ``(agent, uses)``, the record of the workflow's last ``runs`` runs (blocking)."""
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    uses = {step_id: step.uses for step_id, step in workflow.steps.items()}
    for record in store.list_runs(limit=runs, workflow=workflow.name):
        _tally_run(store.read_events(record.run_id), uses, set(workflow.agents), tallies)
    return {key: tally.freeze() for key, tally in tallies.items()}


def _tally_run(
    events: list[dict[str, Any]],
    uses: dict[str, str],
    agents: set[str],
    tallies: dict[tuple[str, str], _Tally],
) -> None:
    started: dict[tuple[str, int, str], float] = {}
    combined: set[tuple[str, int]] = set()
    for event in events:
        if event.get("kind") == "answers_combined":
            combined.add((event["step_id"], event["attempt"]))
    for event in events:
        kind = event.get("kind")
        step_id = event.get("step_id")
        if step_id not in uses:
            continue
        key = (event.get("agent", ""), uses[step_id])
        if kind == "attempt_started":
            started[(step_id, event["attempt"], event["agent"])] = event["at"]
        elif kind == "answers_combined":
            for answer in event.get("answers", ()):
                if answer.get("status") in ("ok", "failed") and answer["agent"] in agents:
                    tallies[(answer["agent"], uses[step_id])].call(
                        answer["status"] == "ok", answer.get("latency")
                    )
        elif (step_id, event.get("attempt")) in combined or key[0] not in agents:
            continue
        elif kind == "attempt_failed":
            tallies[key].call(False, event.get("duration"))
        elif kind == "step_succeeded":
            begun = started.get((step_id, event["attempt"], key[0]))
            tallies[key].call(True, event["at"] - begun if begun is not None else None)
        elif kind == "cost_incurred":
            tallies[key].cost_sum += float(event.get("cost_usd", 0.0))
            tallies[key].cost_n += 1
