"""Circuit breakers and health checks: when an agent may take calls again.

The breaker itself (:mod:`cadenza._resilience._breaker`) is a pure state machine; this
module connects it to a run: it feeds it call outcomes, probes a half-open
agent with ``health()`` instead of a real (possibly billed) call, runs the
configured periodic health checks, announces every change on the event bus
and wakes the dispatcher when an open breaker may admit calls again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
import trio

from .. import _events as ev
from .._agents._contract import Agent, SupportsHealth
from .._errors import QualityError, RetryableError
from .._journal._bus import EventBus
from .._plugins._registry import call_plugin_async
from .._resilience._slots import _AgentSlot

log = structlog.get_logger()


class _HealthMixin:
    """Breaker and health orchestration for :class:`~cadenza._scheduler._run._Run`.

    The host provides ``bus``, ``_slots`` (agent name to slot), ``_nursery``
    (None when not running), ``_dispatch()``, and the timer methods
    ``_wake_at()`` and ``_in_background()`` (see :class:`~cadenza._scheduler._timers._TimersMixin`).
    """

    __slots__ = ()

    if TYPE_CHECKING:
        bus: EventBus
        _slots: dict[str, _AgentSlot]
        _nursery: trio.Nursery | None

        def _dispatch(self) -> None: ...

        def _wake_at(self, when: float) -> None: ...

        def _in_background(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None: ...

    def _refresh_breakers(self) -> None:
        now = trio.current_time()
        for slot in self._slots.values():
            if slot.breaker is None:
                continue
            previous = slot.breaker.state
            if not slot.breaker.refresh(now):
                continue
            if isinstance(slot.agent, SupportsHealth) and self._nursery is not None:
                # Probe with health() rather than a real, possibly billed, call.
                slot.breaker.call_started()
                self._breaker_changed(slot, previous, "cooldown over: checking health()")
                self._in_background(self._health_probe, slot)
            else:
                self._breaker_changed(slot, previous, "cooldown over: one probe call allowed")

    async def _health_probe(self, slot: _AgentSlot) -> None:
        """The half-open probe of an agent with ``health()``: it decides the breaker."""
        assert slot.breaker is not None
        healthy = await check_health(slot.agent)
        previous = slot.breaker.state
        now = trio.current_time()
        if healthy:
            changed = slot.breaker.record_success(now, probe=True)
        else:
            changed = slot.breaker.record_failure(now, probe=True)
        if changed:
            verdict = "passed" if healthy else "failed"
            self._breaker_changed(slot, previous, f"health check {verdict}")
        self._dispatch()

    async def watch_health(self, slot: _AgentSlot, interval: float) -> None:
        """Configured active health checks: an unhealthy agent takes no calls until healthy."""
        while True:
            await trio.sleep(interval)
            healthy = await check_health(slot.agent)
            if healthy != slot.healthy:
                slot.healthy = healthy
                self.bus.emit(ev.AgentHealthChanged, agent=slot.name, healthy=healthy)
                if healthy:
                    self._dispatch()

    def _breaker_changed(self, slot: _AgentSlot, previous: str, reason: str) -> None:
        assert slot.breaker is not None
        self.bus.emit(
            ev.CircuitChanged,
            agent=slot.name,
            state=slot.breaker.state,
            previous=previous,
            reason=reason,
        )
        if slot.breaker.state == "open":
            self._wake_at(slot.breaker.reopens_at)

    def _record_outcome(
        self, slot: _AgentSlot, error: BaseException | None, *, probe: bool
    ) -> None:
        """Tell the agent's breaker how the call went; a cancelled call says nothing."""
        breaker = slot.breaker
        if breaker is None:
            return
        previous = breaker.state
        now = trio.current_time()
        if error is None:
            changed = breaker.record_success(now, probe=probe)
            reason = "probe call succeeded"
        elif (
            isinstance(error, RetryableError)
            and not error.rate_limited
            and not isinstance(error, QualityError)  # a weak answer is not an outage
        ):
            changed = breaker.record_failure(now, probe=probe)
            reason = f"{type(error).__name__}: {error}"[:200]
        else:
            breaker.record_neutral(probe=probe)
            changed = None
            reason = ""
        if changed:
            self._breaker_changed(slot, previous, reason)


HEALTH_CHECK_TIMEOUT = 10.0
"""Seconds a ``health()`` call may take before the agent counts as unhealthy."""


async def check_health(agent: Agent) -> bool:
    """``agent.health()`` bounded by a timeout; an exception or a timeout means unhealthy."""
    if not isinstance(agent, SupportsHealth):
        return True
    with trio.move_on_after(HEALTH_CHECK_TIMEOUT):
        try:
            return bool(await call_plugin_async(agent.health))
        except Exception:
            log.warning(
                "agent_health_check_raised", agent=getattr(agent, "name", "?"), exc_info=True
            )
            return False
    return False
