"""Releasing a success's dependants only once the journal has made it durable.

The durability promise: a step that needs another starts only after that
need's success is committed. An attempt's task does not wait for the commit
itself (it goes on to its next attempt): :meth:`DurableReleases.after_commit`
hands the success to one releaser task that waits for the journal on behalf
of every success not yet durable, in ``seq`` order. Meanwhile
:class:`~._held_slots.HeldSlots` keeps a freed slot for a dependant that
outranks what is ready, so priorities hold as they do without a journal.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping

import attrs
import trio

from .._journal._writer import Journal
from ._held_slots import HeldSlots


@attrs.define(eq=False)
class DurableReleases:
    """Releases dependants of successes as their events are committed (module doc)."""

    journal: Journal | None
    dependents: Mapping[str, list[str]]
    held: HeldSlots
    release: Callable[[str], None]
    """Release a step's dependants now (the run's ``_release``)."""
    dispatch: Callable[[], None]
    """Start what is ready (the run's ``_dispatch``)."""
    nursery: trio.Nursery | None = None
    """The run's nursery, set while it executes: the releaser task runs there."""
    _pending: collections.deque[tuple[int, str]] = attrs.field(factory=collections.deque)
    """Successes (event seq, step id) whose dependants wait for the journal, in seq order."""
    _releasing: bool = False

    def after_commit(self, step_id: str, seq: int) -> None:
        """Release ``step_id``'s dependants once its success (event ``seq``) is durable.

        Returns at once: without a journal, or when nothing needs the step
        (its success rides with a later commit), they are released now.
        """
        if self.journal is None or not self.dependents[step_id]:
            self.release(step_id)
            return
        assert self.nursery is not None
        self.journal.want_durable(seq)
        self.held.waiting(step_id)
        self._pending.append((seq, step_id))
        if not self._releasing:
            self._releasing = True
            self.nursery.start_soon(self._release_as_committed)

    async def wait(self, step_id: str, seq: int) -> None:
        """Release ``step_id``'s dependants once its success is durable, waiting here for it."""
        if self.journal is not None and self.dependents[step_id]:
            self.held.waiting(step_id)
            self.dispatch()  # the freed slot can serve other ready steps meanwhile
            await self.journal.wait_durable(seq)  # cancelled: the run is over, nothing to hold
            self.held.released(step_id)
        self.release(step_id)

    async def _release_as_committed(self) -> None:
        assert self.journal is not None
        pending = self._pending
        try:
            while pending:
                await self.journal.wait_durable(pending[0][0])
                durable = self.journal.durable_seq
                while pending and pending[0][0] <= durable:
                    step_id = pending.popleft()[1]
                    self.held.released(step_id)
                    self.release(step_id)
                self.dispatch()
        finally:
            self._releasing = False
