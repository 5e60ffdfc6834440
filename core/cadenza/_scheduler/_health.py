"""Circuit breakers and health checks: when an agent may take calls again.

The breaker itself (:mod:`cadenza._resilience._breaker`) is a pure state machine; this
module connects it to a run: it feeds it call outcomes, probes a half-open
agent with ``health()`` instead of a real (possibly billed) call, runs the
configured periodic health checks, announces every change on the event bus
and wakes the dispatcher when an open breaker may admit calls again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
import trio

from .. import _events as ev
from .._agents._contract import Agent, SupportsHealth
from .._errors import QualityError, RetryableError
from .._journal._bus import EventBus
from .._logging import get_logger
from .._plugins._registry import call_plugin_async
from .._resilience._slots import _AgentSlot
from ._timers import Timers

log = get_logger()


@attrs.define(eq=False)
class HealthWatch:
    """Breakers and health checks of a run's agents.

    Receives the run's ``bus`` (to announce changes), its ``slots`` (agent
    name to slot), its ``timers`` (to probe and watch in the background and
    to wake at a breaker's reopening), ``on_change``, called when an agent
    may take calls again (the run's dispatcher), and the ``intervals`` of
    the configured health checks.
    """

    bus: EventBus
    slots: Mapping[str, _AgentSlot]
    timers: Timers
    on_change: Callable[[], None]
    intervals: Mapping[str, float] = attrs.field(factory=dict)
    """Agent name to the interval of its configured ``health_check``."""
    _breakers: tuple[_AgentSlot, ...] = attrs.field(init=False)
    """The slots with a circuit breaker, the only ones :meth:`refresh` looks at."""

    def __attrs_post_init__(self) -> None:
        self._breakers = tuple(s for s in self.slots.values() if s.breaker is not None)

    def start_watchers(self) -> None:
        """Start the configured periodic health checks (the run has started)."""
        for name, interval in self.intervals.items():
            self.timers.in_background(self.watch, self.slots[name], interval)

    def refresh(self) -> None:
        """Move breakers whose cooldown ended to half-open, probing with ``health()``."""
        if not self._breakers:  # called per dispatch: nothing to do without breakers
            return
        now = trio.current_time()
        for slot in self._breakers:
            assert slot.breaker is not None
            previous = slot.breaker.state
            if not slot.breaker.refresh(now):
                continue
            if isinstance(slot.agent, SupportsHealth) and self.timers.nursery is not None:
                # Probe with health() rather than a real, possibly billed, call.
                slot.breaker.call_started()
                self._changed(slot, previous, "cooldown over: checking health()")
                self.timers.in_background(self._probe, slot)
            else:
                self._changed(slot, previous, "cooldown over: one probe call allowed")

    async def _probe(self, slot: _AgentSlot) -> None:
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
            self._changed(slot, previous, f"health check {verdict}")
        self.on_change()

    async def watch(self, slot: _AgentSlot, interval: float) -> None:
        """Configured active health checks: an unhealthy agent takes no calls until healthy."""
        while True:
            await trio.sleep(interval)
            healthy = await check_health(slot.agent)
            if healthy != slot.healthy:
                slot.healthy = healthy
                self.bus.emit(ev.AgentHealthChanged, agent=slot.name, healthy=healthy)
                if healthy:
                    self.on_change()

    def _changed(self, slot: _AgentSlot, previous: str, reason: str) -> None:
        assert slot.breaker is not None
        self.bus.emit(
            ev.CircuitChanged,
            agent=slot.name,
            state=slot.breaker.state,
            previous=previous,
            reason=reason,
        )
        if slot.breaker.state == "open":
            self.timers.wake_at(slot.breaker.reopens_at)

    def record(self, slot: _AgentSlot, error: BaseException | None, *, probe: bool) -> None:
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
            self._changed(slot, previous, reason)


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
