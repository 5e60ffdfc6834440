"""Background timers of a run: wake the dispatcher later, without polling.

Timers and health watchers must not keep a finished run alive, so each runs
in its own cancel scope that the run cancels once no step is left unfinished.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio


class _TimersMixin:
    """Timer methods for :class:`~cadenza._scheduler._run._Run`.

    The host provides ``_nursery`` (the run's nursery, None when not running),
    ``_wakeups`` (instants with a pending timer), ``_background`` (the cancel
    scopes of running timers and watchers), ``unfinished`` (steps not yet
    terminal) and ``_dispatch()``.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        _nursery: trio.Nursery | None
        _wakeups: set[float]
        _background: list[trio.CancelScope]
        unfinished: int

        def _dispatch(self) -> None: ...

    def _wake_at(self, when: float) -> None:
        """Run the dispatcher again at ``when`` (one timer per instant, no polling)."""
        if when in self._wakeups or self._nursery is None:
            return
        self._wakeups.add(when)

        async def wake() -> None:
            await trio.sleep_until(when)
            self._wakeups.discard(when)
            self._dispatch()

        self._in_background(wake)

    def _in_background(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run a timer or health watcher that must not keep a finished run alive."""
        assert self._nursery is not None
        scope = trio.CancelScope()
        self._background.append(scope)
        if self.unfinished == 0:
            scope.cancel()

        async def guarded() -> None:
            with scope:
                await fn(*args)
            self._background.remove(scope)

        self._nursery.start_soon(guarded, name=getattr(fn, "__name__", "background"))
