"""``for_each`` steps: one state per item, admitted within ``max_parallel``, collected in order.

A mapped step never calls an agent itself. When its needs are met the run
renders its list and hands it to :meth:`ItemMaps.expand`; each item becomes
a state of its own, ``build[3]``, that goes through readiness, dispatch,
attempts, retries, routing, cache and budgets exactly as a step does, and is
journaled as one (so its idempotency key and output survive a crash). At
most ``max_parallel`` items are admitted at a time, inside the agents' and
the run's own limits; as one ends the next is admitted. Once every item
ended the step itself ends: it succeeds with the items' outputs in item
order, or fails naming its failed items (``on_item_failure: fail``, the
default) after the others finished. With ``on_item_failure: skip`` a failed
item leaves null in its place and the step is marked degraded; an item
skipped by its own ``when:`` leaves null too, and is no failure.

A resumed run passes the journaled item outputs in :attr:`ItemMaps.restored`:
those items are not run again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import trio

from .. import _events as ev
from .._errors import ExpressionError
from .._expr._expressions import ExpressionContext
from .._ids import item_step_id
from .._journal._bus import EventBus
from .._spec._workflow import Step
from ._step_state import _StepState

_FAILURES_NAMED = 3
"""How many failed items a step's error message names before it counts the rest."""


@attrs.define(eq=False)
class _Map:
    """One expanded ``for_each`` step: its items and how far they got."""

    state: _StepState
    items: list[Any]
    template: Step
    """The step as each item runs it: no ``for_each``, its ``when:`` only if it reads ``item``."""
    outputs: list[Any]
    next: int = 0
    open: int = 0
    ended: int = 0
    failed: list[_StepState] = attrs.field(factory=list)
    degraded: list[_StepState] = attrs.field(factory=list)
    """Items that succeeded with a degraded output (a fallback's)."""


@attrs.define(eq=False)
class ItemMaps:
    """The run's ``for_each`` steps, from expansion to the step's own end.

    Receives the run's ``states`` and ``dependents`` (item states join them,
    so everything that looks a step up by id finds items too) and callbacks
    into the run: ``admit`` counts a new item unfinished and queues it for
    readiness, ``finish`` records the step's success with its outputs, and
    ``fail`` fails the step.
    """

    bus: EventBus
    states: dict[str, _StepState]
    dependents: dict[str, list[str]]
    admit: Callable[[_StepState], None]
    finish: Callable[[_StepState, list[Any], bool, str], None]
    fail: Callable[[str, str, str], None]
    restored: dict[str, Any] = attrs.field(factory=dict)
    """Item id to the output a resumed run kept from the journal."""
    _maps: dict[str, _Map] = attrs.field(factory=dict)

    def expand(self, state: _StepState, ctx: ExpressionContext) -> None:
        """Render ``state``'s ``for_each`` list in ``ctx`` and start its items.

        Anything but a list fails the step.
        """
        step = state.step
        assert step.for_each is not None
        try:
            items = step.for_each.render(ctx)
        except ExpressionError as exc:
            self.fail(step.id, type(exc).__name__, str(exc))
            return
        if not isinstance(items, list):
            self.fail(
                step.id,
                "ExpressionError",
                f"for_each must give a list, got {type(items).__name__} {items!r:.80}",
            )
            return
        condition = step.condition
        if condition is not None and not condition.loop_refs:
            condition = None  # a condition on the whole step was evaluated before expanding
        template = attrs.evolve(step, for_each=None, condition=condition)
        m = _Map(state=state, items=items, template=template, outputs=[None] * len(items))
        self._maps[step.id] = m
        state.status = "running"
        state.started_at = trio.current_time()
        restored = sum(1 for i in range(len(items)) if item_step_id(step.id, i) in self.restored)
        self.bus.emit(
            ev.StepMapped,
            step_id=step.id,
            items=len(items),
            max_parallel=step.max_parallel,
            restored=restored,
        )
        self._admit_more(m)
        if m.ended == len(items):
            self._conclude(m)

    def ended(self, item: _StepState) -> None:
        """An item reached a terminal status (not cancelled): collect it, admit the next."""
        parent = item.parent
        assert parent is not None
        m = self._maps[parent.step.id]
        m.open -= 1
        m.ended += 1
        status = item.status
        if status == "succeeded":
            m.outputs[item.index] = item.output
            if item.result is not None and item.result.degraded:
                m.degraded.append(item)
        elif status == "failed":
            m.failed.append(item)
        parent.cost_usd += item.cost_usd
        parent.tokens += item.tokens
        parent.attempts += item.attempts
        self._admit_more(m)
        if m.ended == len(m.items):
            self._conclude(m)

    def items_of(self, step_id: str) -> list[_StepState]:
        """The item states of a mapped step that were created, in item order."""
        m = self._maps.get(step_id)
        if m is None:
            return []
        found = (self.states.get(item_step_id(step_id, i)) for i in range(m.next))
        return [s for s in found if s is not None]

    def is_mapped(self, step_id: str) -> bool:
        """Whether ``step_id`` was expanded in this run."""
        return step_id in self._maps

    def _admit_more(self, m: _Map) -> None:
        limit = m.state.step.max_parallel
        count = len(m.items)
        parent_id = m.state.step.id
        while m.next < count and (limit is None or m.open < limit):
            index = m.next
            m.next += 1
            item_id = item_step_id(parent_id, index)
            item = _StepState(
                step=attrs.evolve(m.template, id=item_id),
                pool=m.state.pool,
                parent=m.state,
                item=m.items[index],
                index=index,
            )
            self.states[item_id] = item
            self.dependents[item_id] = []
            if item_id in self.restored:
                item.status = "succeeded"
                item.output = m.outputs[index] = self.restored.pop(item_id)
                m.ended += 1
                continue
            m.open += 1
            self.admit(item)

    def _conclude(self, m: _Map) -> None:
        state = m.state
        step = state.step
        total = len(m.items)
        if m.failed and step.on_item_failure == "fail":
            named = "; ".join(f"{s.step.id}: {s.error}" for s in m.failed[:_FAILURES_NAMED])
            more = len(m.failed) - _FAILURES_NAMED
            self.fail(
                step.id,
                "ItemFailed",
                f"{len(m.failed)} of {total} items failed: {named}"
                + (f"; and {more} more" if more > 0 else ""),
            )
            return
        notes = []
        if m.failed:
            indexes = ", ".join(str(s.index) for s in m.failed[:10])
            etc = "…" if len(m.failed) > 10 else ""
            notes.append(f"on_item_failure: skip (item {indexes}{etc} failed: null in its place)")
        if m.degraded:
            first = min(m.degraded, key=lambda s: s.index)
            why = (first.result.source if first.result is not None else "") or "degraded"
            notes.append(f"{len(m.degraded)} of {total} items degraded ({first.step.id}: {why})")
        self.finish(state, m.outputs, bool(m.failed or m.degraded), "; ".join(notes))
