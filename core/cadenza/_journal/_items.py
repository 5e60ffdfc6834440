"""``for_each`` items read back: each item grouped under its step, and counted, for every reader.

A ``for_each`` step journals each item as a step of its own (``build[3]``).
Shown one row each, a 10,000-item step would bury the workflow's other steps,
so ``cadenza status``, ``cadenza runs``, the dashboard and ``cadenza cancel``
group items under their step here: the step keeps one row, with an
:class:`ItemTally` (how many items are done, failed, in flight) and the
totals of its items' attempts, cost and agents.

An id that reads as an item (``build[3]``) is one only when ``build`` was
expanded in this run, that is when a ``step_mapped`` event named it (the
readback sets :attr:`StepState.items`); a step literally named ``x[1]`` in
an old journal stays a step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._ids import split_item_id
from ._readback import StepState

FAILED_ITEMS_SHOWN = 5
"""How many failed items a summary names (with their errors) before it counts the rest."""

ITEM_STATES = ("succeeded", "failed", "skipped", "cancelled", "running", "pending")
"""How items are counted: ``restored`` counts as succeeded, ``retrying`` as running,
``ready`` and items not yet admitted as pending."""


@attrs.frozen(kw_only=True)
class ItemTally:
    """How far a ``for_each`` step's items got: counts by state, attempts, failures."""

    total: int
    counts: Mapping[str, int]
    attempts: int = 0
    cancelled_attempts: int = 0
    cost_usd: float | None = None
    failed: tuple[str, ...] = ()
    """The failed items' ids, in item order."""

    @property
    def done(self) -> int:
        """Items that ended (succeeded, failed, skipped or cancelled)."""
        return sum(self.counts[s] for s in ("succeeded", "failed", "skipped", "cancelled"))

    def text(self) -> str:
        """``1,234/10,000 items done (3 failed, 8 in flight)``: one line, however many items."""
        extra = [
            f"{self.counts[state]:,} {label}"
            for state, label in (
                ("failed", "failed"),
                ("skipped", "skipped"),
                ("cancelled", "cancelled"),
                ("running", "in flight"),
            )
            if self.counts[state]
        ]
        more = f" ({', '.join(extra)})" if extra else ""
        return f"{self.done:,}/{self.total:,} items done{more}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.done,
            **{state: self.counts[state] for state in ITEM_STATES},
            "attempts": self.attempts,
            "cancelled_attempts": self.cancelled_attempts,
            "cost_usd": self.cost_usd,
            "failed_items": list(self.failed),
        }


def split_steps(
    steps: Mapping[str, StepState],
) -> tuple[dict[str, StepState], dict[str, list[StepState]]]:
    """The run's own steps (items left out), and each mapped step's item states in item order."""
    top: dict[str, StepState] = {}
    items: dict[str, list[tuple[int, StepState]]] = {}
    for step_id, step in steps.items():
        parts = split_item_id(step_id)
        parent = steps.get(parts[0]) if parts is not None else None
        if parts is not None and parent is not None and parent.items is not None:
            items.setdefault(parts[0], []).append((parts[1], step))
        else:
            top[step_id] = step
    ordered = {
        parent: [s for _, s in sorted(found, key=lambda pair: pair[0])]
        for parent, found in items.items()
    }
    return top, ordered


def tally(parent: StepState, items: Sequence[StepState]) -> ItemTally:
    """Count ``parent``'s items by state (those not yet admitted are pending)."""
    counts = dict.fromkeys(ITEM_STATES, 0)
    failed: list[str] = []
    costs = [i.cost_usd for i in items if i.cost_usd is not None]
    for item in items:
        state = item.state
        if state == "restored":
            state = "succeeded"
        elif state == "retrying":
            state = "running"
        elif state == "ready":
            state = "pending"
        counts[state] += 1
        if state == "failed":
            failed.append(item.step_id)
    total = max(parent.items or 0, len(items))
    counts["pending"] += total - len(items)
    return ItemTally(
        total=total,
        counts=counts,
        attempts=sum(i.attempts for i in items),
        cancelled_attempts=sum(i.cancelled_attempts for i in items),
        cost_usd=round(sum(costs), 6) if costs else None,
        failed=tuple(failed),
    )


def items_agent(items: Sequence[StepState]) -> str | None:
    """The agent most of the items used (``coder``), or ``coder +1`` when others served some."""
    agents = Counter(i.agent for i in items if i.agent)
    if not agents:
        return None
    (top, _), others = agents.most_common(1)[0], len(agents) - 1
    return f"{top} +{others}" if others else top


def grouped_steps(
    steps: Mapping[str, StepState],
) -> tuple[dict[str, StepState], dict[str, ItemTally]]:
    """The run's own steps, a mapped step carrying its items' totals; and each one's tally.

    A mapped step's ``attempts``, ``cancelled_attempts``, ``agent`` and
    ``cost_usd`` are its items' (the step's own events carry none).
    """
    top, items = split_steps(steps)
    tallies: dict[str, ItemTally] = {}
    out: dict[str, StepState] = {}
    for step_id, step in top.items():
        if step.items is None:
            out[step_id] = step
            continue
        mine = items.get(step_id, [])
        t = tally(step, mine)
        tallies[step_id] = t
        out[step_id] = attrs.evolve(
            step,
            attempts=t.attempts,
            cancelled_attempts=t.cancelled_attempts,
            agent=items_agent(mine) or step.agent or None,
            cost_usd=t.cost_usd if t.cost_usd is not None else step.cost_usd,
        )
    return out, tallies
