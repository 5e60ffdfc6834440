"""Circuit breakers: stop calling an agent that keeps failing, probe it, come back.

One breaker per agent per run, a pure state machine on the trio clock (the
scheduler passes ``now``; nothing here sleeps or locks, since the scheduler
runs on one thread and calls it synchronously)::

    closed --(failures within window, or failure rate)--> open
    open --(cooldown elapsed)--> half_open
    half_open --(the one probe call succeeds)--> closed
    half_open --(the probe fails)--> open (cooldown starts again)

While open, the agent takes no calls: the scheduler routes its steps to other
agents with the same capability, or lets them wait. Half-open admits exactly
one call, the probe. Only failures that say something about the provider's
health count (retryable errors: 5xx, timeouts, dropped connections); a
rate-limited answer (429) and permanent errors (4xx) do not.
"""

from __future__ import annotations

import collections
from typing import Literal

import attrs

from .._spec._policies import BreakerPolicy

BreakerState = Literal["closed", "open", "half_open"]


@attrs.define(eq=False)
class CircuitBreaker:
    """The breaker of one agent. Methods return the new state when it changed, else None."""

    policy: BreakerPolicy
    state: BreakerState = "closed"
    opened_at: float = 0.0
    probe_in_flight: bool = False
    _outcomes: collections.deque[tuple[float, bool]] = attrs.field(factory=collections.deque)

    def _prune(self, now: float) -> None:
        horizon = now - self.policy.window
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()

    @property
    def reopens_at(self) -> float:
        """When an open breaker will let a probe through."""
        return self.opened_at + self.policy.cooldown

    def refresh(self, now: float) -> BreakerState | None:
        """Move an open breaker to half-open once its cooldown has passed."""
        if self.state == "open" and now >= self.reopens_at:
            self.state = "half_open"
            self.probe_in_flight = False
            return self.state
        return None

    def admits(self) -> bool:
        """May a call start now? (Call :meth:`refresh` first.)"""
        if self.state == "closed":
            return True
        return self.state == "half_open" and not self.probe_in_flight

    def call_started(self) -> bool:
        """A call was dispatched; True when it is the half-open probe.

        The caller passes that back as ``probe=`` when the call ends: while
        half-open, only the probe's outcome counts (a call that started before
        the breaker opened says nothing about the provider now).
        """
        if self.state == "half_open":
            self.probe_in_flight = True
            return True
        return False

    def record_success(self, now: float, *, probe: bool = True) -> BreakerState | None:
        if self.state == "half_open":
            if not probe:
                return None
            self.state = "closed"
            self.probe_in_flight = False
            self._outcomes.clear()
            return self.state
        self._outcomes.append((now, True))
        self._prune(now)
        return None

    def record_failure(self, now: float, *, probe: bool = True) -> BreakerState | None:
        if self.state == "half_open":
            return self._open(now) if probe else None
        if self.state == "open":  # a call that started before the breaker opened
            return None
        self._outcomes.append((now, False))
        self._prune(now)
        failed = sum(1 for _, ok in self._outcomes if not ok)
        if failed >= self.policy.failures:
            return self._open(now)
        rate = self.policy.failure_rate
        calls = len(self._outcomes)
        if rate is not None and calls >= self.policy.min_calls and failed / calls >= rate:
            return self._open(now)
        return None

    def record_neutral(self, *, probe: bool = True) -> None:
        """A call ended in a way that says nothing about health (429, 4xx, cancelled)."""
        if self.state == "half_open" and probe:
            self.probe_in_flight = False  # let another probe try

    def _open(self, now: float) -> BreakerState:
        self.state = "open"
        self.opened_at = now
        self.probe_in_flight = False
        self._outcomes.clear()
        return self.state
