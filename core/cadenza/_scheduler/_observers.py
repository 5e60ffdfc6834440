"""Run observers: the ``cadenza_observers`` objects, awaited at a run's start and end.

Each observer registered through ``cadenza_observers`` is created once per run
(``factory()``) and may have three optional members: ``async run_started(event)``
(the ``run_started``, or ``run_resumed``, event), ``async run_finished(result)``
(the :class:`~cadenza.RunResult`) and a synchronous ``on_event(event)``, which
the event bus calls for every event like a ``cadenza_on_event`` hook.

Lifecycle and guarantees (docs/hooks.md, ``cadenza_observers``):

- ``run_started`` calls run concurrently with the run's first steps, as tasks
  of a nursery the run owns, so a slow webhook never delays the work;
- ``run_finished`` is awaited after the last step ended and every agent is
  closed, before the ``run_finished`` event: the command exits only after it
  returned. It waits for the same observer's ``run_started`` first, and it is
  shielded from cancellation (Ctrl-C, ``cadenza cancel``, a deadline, the
  caller's scope), so a cancelled run still reports;
- every call is bounded by the observer's ``time_limit`` (seconds, default
  :data:`DEFAULT_TIME_LIMIT`); a call that raises or overruns is isolated: the
  run's result is unchanged, an ``observer_failed`` event is emitted (journaled,
  logged at warning level, secrets redacted) and the traceback logged at debug.

Async per-event callbacks are deliberately not offered: awaiting each one would
make the run wait for the slowest observer (backpressure on every step), and
buffering them instead would need an unbounded queue or dropped events. The
synchronous ``on_event`` keeps the events' order at no cost; an observer that
must do I/O per event hands events to its own task, or collects what it needs
and sends it from ``run_finished``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import attrs
import trio

from .. import _events as ev
from .._journal._bus import EventBus
from .._logging import bound_contextvars, get_logger
from .._plugins._registry import Registration, call_plugin, call_plugin_async
from .._spec._outcome import RunResult

log = get_logger()

DEFAULT_TIME_LIMIT = 10.0
"""Seconds each ``run_started`` / ``run_finished`` call may take, unless the observer says."""

OBSERVERS_HOOK = "cadenza_observers"

Call = Literal["create", "run_started", "run_finished"]


@attrs.define(eq=False)
class _Observer:
    """One created observer and the state of its ``run_started`` call."""

    name: str
    plugin: str
    obj: Any
    time_limit: float
    started_done: trio.Event = attrs.field(factory=trio.Event)


@attrs.define(eq=False)
class RunObservers:
    """The run's ``cadenza_observers`` objects; reports their failures on ``bus``."""

    bus: EventBus
    items: list[_Observer] = attrs.field(factory=list)
    _pending: list[dict[str, Any]] = attrs.field(factory=list)
    """Creation failures, reported once ``run_started`` is out (it is always the first event)."""

    @classmethod
    def create(cls, registrations: Mapping[str, Registration], bus: EventBus) -> RunObservers:
        """Create every registered observer and subscribe its ``on_event``, if any.

        A factory that raises, returns None, or returns an object with no
        observer member or a non-async one is reported (``observer_failed``,
        ``call: create``) and left out; the run goes on.
        """
        out = cls(bus=bus)
        for name, reg in registrations.items():
            try:
                item = _create(name, reg)
            except Exception as exc:
                out._pending.append(_failure(name, reg.plugin, "create", exc))
                continue
            out.items.append(item)
            on_event = getattr(item.obj, "on_event", None)
            if on_event is not None:
                bus.subscribe(f"observer {name} ({reg.plugin})", _on_event(on_event))
        return out

    @asynccontextmanager
    async def running(self, first: ev.Event) -> AsyncIterator[None]:
        """Start every ``run_started`` call beside the run's body (no nursery if none)."""
        for fields in self._pending:
            self.bus.emit(ev.ObserverFailed, **fields)
        self._pending.clear()
        if not self.items:
            yield
            return
        async with trio.open_nursery() as nursery:
            for item in self.items:
                nursery.start_soon(self._started, item, first)
            yield

    async def finished(self, result: RunResult) -> None:
        """Await every ``run_finished`` call, each within its limit, shielded from cancellation."""
        if not self.items:
            return
        with trio.CancelScope(shield=True):
            async with trio.open_nursery() as nursery:
                for item in self.items:
                    nursery.start_soon(self._finished, item, result)

    async def _started(self, item: _Observer, first: ev.Event) -> None:
        try:
            await self._call(item, "run_started", first)
        finally:
            item.started_done.set()

    async def _finished(self, item: _Observer, result: RunResult) -> None:
        await item.started_done.wait()
        await self._call(item, "run_finished", result)

    async def _call(self, item: _Observer, call: Call, arg: object) -> None:
        method = getattr(item.obj, call, None)
        if method is None:
            return
        with bound_contextvars(observer=item.name):
            with trio.move_on_after(item.time_limit) as scope:
                try:
                    await call_plugin_async(method, arg)
                except Exception as exc:
                    self._report(_failure(item.name, item.plugin, call, exc))
                    return
            if scope.cancelled_caught:
                self._report(
                    _failure(
                        item.name,
                        item.plugin,
                        call,
                        None,
                        timed_out=True,
                        message=f"{call} did not finish within its time limit of "
                        f"{item.time_limit:g}s and was cancelled",
                    )
                )

    def _report(self, fields: dict[str, Any]) -> None:
        self.bus.emit(ev.ObserverFailed, **fields)


def _create(name: str, reg: Registration) -> _Observer:
    """Call ``reg``'s factory and check what it returned."""
    # Seam for plugin configuration: when a plugin's configuration is reachable
    # here, pass it to the factory as the other factories receive theirs.
    obj = call_plugin(reg.obj)
    members = [m for m in ("run_started", "run_finished", "on_event") if hasattr(obj, m)]
    if obj is None or not members:
        raise TypeError(
            f"the factory returned {obj!r}, which has none of run_started, run_finished, "
            "on_event: return an object with `async def run_started(self, event)` and/or "
            "`async def run_finished(self, result)`"
        )
    for member in ("run_started", "run_finished"):
        method = getattr(obj, member, None)
        if method is not None and not inspect.iscoroutinefunction(method):
            raise TypeError(
                f"{type(obj).__qualname__}.{member} is not a coroutine function: write "
                f"`async def {member}(self, ...)`, not `def {member}(self, ...)`"
            )
    limit = getattr(obj, "time_limit", None)
    if limit is None:
        limit = DEFAULT_TIME_LIMIT
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int | float)
        or not math.isfinite(limit)
        or limit <= 0
    ):
        raise TypeError(
            f"{type(obj).__qualname__}.time_limit is {limit!r}: give a positive number "
            f"of seconds, or leave it out for the default of {DEFAULT_TIME_LIMIT:g}s"
        )
    return _Observer(name=name, plugin=reg.plugin, obj=obj, time_limit=float(limit))


def _on_event(fn: Callable[[ev.Event], object]) -> Callable[[ev.Event], object]:
    def observe(event: ev.Event) -> object:
        return call_plugin(fn, event)

    return observe


def _failure(
    name: str,
    plugin: str,
    call: Call,
    exc: Exception | None,
    *,
    timed_out: bool = False,
    message: str = "",
) -> dict[str, Any]:
    """The ``observer_failed`` event's fields; the traceback goes to the debug log."""
    if exc is not None:
        message = f"{type(exc).__name__}: {exc}"
        log.debug("observer_failed_traceback", observer=name, plugin=plugin, exc_info=exc)
    return {
        "observer": name,
        "plugin": plugin,
        "call": call,
        "error": message,
        "timed_out": timed_out,
    }
