"""Background timers of a run: wake the dispatcher later, without polling.

Timers and health watchers must not keep a finished run alive, so each runs
in its own cancel scope, and :meth:`Timers.stop` (called once no step is left
unfinished) cancels them all, and any started later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio


@attrs.define(eq=False)
class Timers:
    """Wakes the dispatcher at given instants and runs the run's background tasks.

    Receives ``wake``, the function to call when a timer fires (the run's
    dispatcher). ``nursery`` is the run's nursery while it executes, None
    before and after: nothing is started then.
    """

    wake: Callable[[], None]
    nursery: trio.Nursery | None = None
    stopped: bool = False
    _wakeups: set[float] = attrs.field(factory=set)
    _background: list[trio.CancelScope] = attrs.field(factory=list)

    def wake_at(self, when: float) -> None:
        """Call ``wake`` again at ``when`` (one timer per instant, no polling)."""
        if when in self._wakeups or self.nursery is None:
            return
        self._wakeups.add(when)

        async def wake() -> None:
            await trio.sleep_until(when)
            self._wakeups.discard(when)
            self.wake()

        self.in_background(wake)

    def in_background(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run a timer or health watcher that must not keep a finished run alive."""
        assert self.nursery is not None
        scope = trio.CancelScope()
        self._background.append(scope)
        if self.stopped:
            scope.cancel()

        async def guarded() -> None:
            with scope:
                await fn(*args)
            self._background.remove(scope)

        self.nursery.start_soon(guarded, name=getattr(fn, "__name__", "background"))

    def stop(self) -> None:
        """Nothing is left to run: cancel every timer and watcher, and any started later."""
        self.stopped = True
        for scope in self._background:
            scope.cancel()

    @property
    def pending(self) -> int:
        """Timers and watchers still running (for tests and debugging)."""
        return len(self._background)
