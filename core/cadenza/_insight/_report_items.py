"""``for_each`` steps in the report: each step's items folded into the step's own row.

A mapped step journals each item as a step of its own (``build[3]``). The
report's scan counts them so (every call still counts towards its agent's
load and utilization), then this module folds the items into their step: the
step keeps one row, and one node on the critical path, whose span is the
step's own (its ``step_mapped`` to its ``step_succeeded``/``step_failed``).
Its run time is the part of that span when at least one item was running,
its queue wait the rest (items waiting for a slot or backing off, none
running); its attempts, failures, backoff, cost and tokens are its items'
sums, and it counts its items by how they ended. An id is an item only when
a ``step_mapped`` event named its step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .._ids import split_item_id

if TYPE_CHECKING:
    from ._report import StepReport

ITEM_ENDS = ("succeeded", "failed", "skipped", "cancelled")
"""How an item can end; any other state counts as ``unfinished``."""


def fold_items(
    steps: Mapping[str, StepReport],
    mapped: Mapping[str, int],
    calls: Mapping[str, Sequence[tuple[float, float]]],
) -> dict[str, StepReport]:
    """``steps`` with the items of each step in ``mapped`` (step id to item count) folded
    in; ``calls`` holds each step's (and item's) closed calls, as (start, end)."""
    if not mapped:
        return dict(steps)
    out: dict[str, StepReport] = {}
    items: dict[str, list[tuple[int, StepReport]]] = {}
    for sid, s in steps.items():
        parts = split_item_id(sid)
        if parts is not None and parts[0] in mapped and parts[0] in steps:
            items.setdefault(parts[0], []).append((parts[1], s))
        else:
            out[sid] = s
    for sid, total in mapped.items():
        if sid in out:
            mine = [s for _, s in sorted(items.get(sid, []), key=_index)]
            _fold(out[sid], total, mine)
            spans = [span for item in mine for span in calls.get(item.step_id, ())]
            _span_times(out[sid], spans)
    return out


def _span_times(step: StepReport, spans: Sequence[tuple[float, float]]) -> None:
    """Run time: the union of the items' calls; queue wait: the rest of the step's span."""
    busy, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            busy += end - start
            reach = end
        elif end > reach:
            busy += end - reach
            reach = end
    step.run_time = busy
    total = step.total
    step.queue_wait = max(total - busy, 0.0) if total is not None else 0.0


def _index(pair: tuple[int, StepReport]) -> int:
    return pair[0]


def _fold(step: StepReport, total: int, items: list[StepReport]) -> None:
    """Add ``items`` (in item order) to ``step``'s row and count them by how they ended."""
    counts = dict.fromkeys((*ITEM_ENDS, "unfinished"), 0)
    longest = -1.0
    for item in items:
        counts[item.state if item.state in ITEM_ENDS else "unfinished"] += 1
        step.attempts += item.attempts
        step.failed_attempts += item.failed_attempts
        step.cancelled_attempts += item.cancelled_attempts
        step.backoff += item.backoff
        step.cost_usd += item.cost_usd
        step.tokens += item.tokens
        step.agents += [a for a in item.agents if a not in step.agents]
        if item._longest_wait > longest and item.waited_for is not None:
            longest, step.waited_for = item._longest_wait, item.waited_for
        if item.started_at is not None and (
            step.started_at is None or item.started_at < step.started_at
        ):
            step.started_at = item.started_at
        if item.state == "failed":
            step.failed_items.append(item.step_id)
    counts["unfinished"] += max(total - len(items), 0)
    step.items = max(total, len(items))
    step.item_counts = counts
