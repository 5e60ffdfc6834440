"""Which priority a freed slot is held for while successes wait to be made durable.

With a journal, a step's dependants are released only once its success is
committed (the durability promise). Between the success and the commit the
dependants are not ready yet, so a slot freed meanwhile would go to a
lower-priority step already waiting: a priority inversion that the run
without a journal never shows. :class:`HeldSlots` counts, for every pending
dependant, how many of its unfinished needs are successes waiting for the
journal; a dependant whose remaining needs all are will become ready at the
next commit, and :meth:`HeldSlots.held_priority` says the best priority among
those. The dispatcher starts no ready step of a lower priority until then.

The wait is bounded by one commit, which the waiting success already asked
for (``Journal.want_durable``); with no success pending nothing is held, and
a workflow whose steps all share one priority never holds (nothing could
outrank what is ready).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ._step_state import _StepState


@attrs.define(eq=False)
class HeldSlots:
    """Successes not yet durable, and what their dependants would outrank (module doc)."""

    states: Mapping[str, _StepState]
    dependents: Mapping[str, list[str]]
    varies: bool
    """Whether the workflow's steps have more than one priority (else nothing is ever held)."""
    _pending: dict[str, int] = attrs.field(factory=dict)
    """Dependant id -> how many of its needs are successes waiting for the journal."""

    @classmethod
    def of(cls, states: Mapping[str, _StepState], dependents: Mapping[str, list[str]]) -> HeldSlots:
        priorities = {state.step.priority for state in states.values()}
        return cls(states=states, dependents=dependents, varies=len(priorities) > 1)

    def waiting(self, step_id: str) -> None:
        """``step_id`` succeeded; its dependants are released once that is durable."""
        if not self.varies:
            return
        pending = self._pending
        for dep_id in self.dependents[step_id]:
            pending[dep_id] = pending.get(dep_id, 0) + 1

    def released(self, step_id: str) -> None:
        """``step_id``'s success is durable: its dependants are being released now."""
        if not self.varies:
            return
        pending = self._pending
        for dep_id in self.dependents[step_id]:
            left = pending.get(dep_id, 0) - 1
            if left > 0:
                pending[dep_id] = left
            else:
                pending.pop(dep_id, None)

    def held_priority(self) -> int | None:
        """The best priority of a step that the next commit makes ready (None: none would).

        A dependant counts when it is still pending and every need it still
        waits for is a success waiting for the journal: its ``when:`` may yet
        skip it, so holding for it costs at most the wait for that commit.
        """
        if not self._pending:
            return None
        best: int | None = None
        states = self.states
        for dep_id, count in self._pending.items():
            state = states[dep_id]
            if state.status == "pending" and count >= state.waiting:
                priority = state.step.priority
                if best is None or priority > best:
                    best = priority
        return best
