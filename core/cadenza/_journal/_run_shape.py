"""What readers of a run need of its workflow: its steps' needs, agents' limits, budgets.

The timeline's critical path follows ``needs``, the dashboard's layer table
too, and the usage chart draws each agent's ``max_concurrent`` and every
budget. Loading a 20,000-step workflow from its stored source to learn them
takes seconds, so the runner journals them in ``run_started``
(``needs``, ``agents``, ``budgets``; docs/events.md). A journal written
before that has no such fields: :meth:`RunShape.from_run_started` gives None
and the reader loads the workflow (:meth:`RunShape.from_workflow`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class RunShape:
    """A run's steps in file order, each one's ``needs``, each agent's limit, the budgets (USD)."""

    steps: tuple[str, ...]
    needs: Mapping[str, tuple[str, ...]]
    """Steps without needs are left out."""
    limits: Mapping[str, int | None]
    """Each agent's ``max_concurrent`` (None: no limit of its own)."""
    budgets: Mapping[str, float]
    """Budget lines in US dollars: ``run``, ``agent NAME``, ``step ID``."""

    @classmethod
    def from_workflow(cls, workflow: Any) -> RunShape:
        """The shape of a loaded :class:`~cadenza._spec._workflow.Workflow`."""
        return cls(
            steps=tuple(workflow.steps),
            needs={sid: tuple(s.needs) for sid, s in workflow.steps.items() if s.needs},
            limits={name: a.max_concurrent for name, a in workflow.agents.items()},
            budgets=budget_lines(workflow),
        )

    def event_fields(self) -> dict[str, Any]:
        """The ``run_started`` fields that journal this shape (``steps`` is journaled already)."""
        return {
            "needs": dict(self.needs),
            "agents": {name: {"max_concurrent": n} for name, n in self.limits.items()},
            "budgets": dict(self.budgets),
        }

    @classmethod
    def from_run_started(cls, event: Mapping[str, Any]) -> RunShape | None:
        """The shape journaled in a ``run_started`` event; None when it lacks one (older journal).

        A field the journal could not store whole (a size marker in place of a
        list or mapping) counts as missing.
        """
        steps, needs = event.get("steps"), event.get("needs")
        agents, budgets = event.get("agents"), event.get("budgets")
        if not isinstance(steps, list | tuple) or not (
            isinstance(needs, Mapping)
            and isinstance(agents, Mapping)
            and isinstance(budgets, Mapping)
        ):
            return None
        if any(_is_marker(v) for v in (needs, agents, budgets)):
            return None
        try:
            return cls(
                steps=tuple(str(s) for s in steps),
                needs={str(k): tuple(str(n) for n in v) for k, v in needs.items()},
                limits={str(k): _limit(v) for k, v in agents.items()},
                budgets={str(k): float(v) for k, v in budgets.items()},
            )
        except (TypeError, ValueError, AttributeError):  # not what the runner writes: load instead
            return None


def budget_lines(workflow: Any) -> dict[str, float]:
    """The workflow's budgets in US dollars, by line: ``run``, ``agent NAME``, ``step ID``."""
    out: dict[str, float] = {}
    if workflow.budget is not None and workflow.budget.usd is not None:
        out["run"] = float(workflow.budget.usd)
    for name, agent in workflow.agents.items():
        if agent.budget is not None and agent.budget.usd is not None:
            out[f"agent {name}"] = float(agent.budget.usd)
    for sid, step in workflow.steps.items():
        if step.budget is not None and step.budget.usd is not None:
            out[f"step {sid}"] = float(step.budget.usd)
    return out


def _is_marker(value: Mapping[str, Any]) -> bool:
    return value.get("truncated") is True and "preview" in value


def _limit(value: Any) -> int | None:
    limit = value.get("max_concurrent") if isinstance(value, Mapping) else None
    return None if limit is None else int(limit)


def layers(needs: Mapping[str, Sequence[str]], steps: Sequence[str]) -> dict[str, int]:
    """Each step's layer: 0 without needs, else one more than its deepest need's."""
    depth: dict[str, int] = {}
    known = set(steps)
    for sid in steps:  # iterative: a 20,000-step chain cannot overflow the stack
        if sid in depth:
            continue
        try:  # the common case: every need came earlier in the file, its layer known
            depth[sid] = 1 + max((depth[n] for n in needs.get(sid, ()) if n in known), default=-1)
            continue
        except KeyError:
            pass
        stack = [(sid, iter(needs.get(sid, ())))]
        visiting = {sid}
        while stack:
            node, pending = stack[-1]
            nxt = next((n for n in pending if n in known and n not in depth), None)
            if nxt is not None:
                if nxt not in visiting:  # (a loaded workflow has no cycle; never loop anyway)
                    visiting.add(nxt)
                    stack.append((nxt, iter(needs.get(nxt, ()))))
                continue
            deepest = [depth[n] for n in needs.get(node, ()) if n in depth]
            depth[node] = 1 + max(deepest, default=-1)
            stack.pop()
    return depth


__all__ = ["RunShape", "budget_lines", "layers"]
