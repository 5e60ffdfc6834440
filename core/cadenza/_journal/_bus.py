"""Fan-out of run events to observers: logs, progress display, plugins, callers.

Emission is synchronous and in order. An observer that raises is logged once
and dropped for the rest of the run: a broken dashboard or metrics plugin must
never break the workflow it watches. Plugin observers reach the bus wrapped by
:meth:`cadenza.plugins.Plugins.observers`, so one that calls ``sys.exit()`` or raises
``KeyboardInterrupt`` raises an ordinary exception here
(:class:`~cadenza._errors.PluginExitError`) and is dropped the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from .._events import Event
from .._logging import get_logger
from .._redact import redact

log = get_logger()

Observer = Callable[[Event], Any]


@attrs.define(eq=False)
class EventBus:
    """Builds events for one run (``run_id``, ``seq``, ``at``) and hands them to observers."""

    run_id: str
    observers: list[tuple[str, Observer]] = attrs.field(factory=list)
    secrets: frozenset[str] = frozenset()
    clock: Callable[[], float] = time.time
    events_emitted: int = 0
    recorder: Observer | None = None
    """Sees every event first; unlike observers, its errors propagate (the journal)."""

    _live: tuple[tuple[str, Observer], ...] | None = attrs.field(default=None, init=False)
    """``observers`` as of the last change: what :meth:`emit` walks (no copy per event)."""

    def subscribe(self, name: str, observer: Observer) -> None:
        self.observers.append((name, observer))
        self._live = None

    def subscribe_all(self, observers: Iterable[tuple[str, Observer]]) -> None:
        self.observers.extend(observers)
        self._live = None

    def emit(self, cls: type[Event], **fields: Any) -> Event:
        """Create an event of type ``cls`` with the next sequence number and send it out."""
        if self.secrets:
            fields = redact(fields, self.secrets)
        if cls.transient:
            event = cls(run_id=self.run_id, seq=-1, at=self.clock(), **fields)
        else:
            event = cls(run_id=self.run_id, seq=self.events_emitted, at=self.clock(), **fields)
            self.events_emitted += 1
            if self.recorder is not None:
                self.recorder(event)
        live = self._live
        if live is None:
            live = self._live = tuple(self.observers)
        for item in live:
            try:
                item[1](event)
            except Exception as exc:
                observer_failed(exc, observer=item[0], event_kind=event.kind)
                self.observers.remove(item)
                self._live = None
        return event


def observer_failed(exc: Exception, **where: Any) -> None:
    """Log an observer's failure once: the message at warning level, its traceback at debug."""
    log.warning(
        "observer_failed",
        **where,
        error=f"{type(exc).__name__}: {exc}",
        hint="it gets no more events in this run",
    )
    log.debug("observer_failed_traceback", **where, exc_info=exc)
