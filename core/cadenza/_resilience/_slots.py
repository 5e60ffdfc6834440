"""Agent slots and pools: which agent can take a call right now.

A slot wraps one agent with everything that decides admission (its
``max_concurrent`` limit, circuit breaker, rate limit and configured health
flag) plus passive statistics from real traffic. A pool is the set of slots
that can serve the same ``uses``, with its ready steps in a priority heap. The
scheduler asks each slot "do you have room?"; which of those with room takes
a call is the step's router's choice (:mod:`._route_choice`).
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

import attrs
import trio

from .._agents._contract import Agent
from .._spec._cost import Price
from .._spec._workflow import Workflow
from ._breaker import CircuitBreaker
from ._ratelimit import RateLimiter


@attrs.define(eq=False, slots=True)
class _AgentSlot:
    name: str
    agent: Agent
    limit: int | None
    breaker: CircuitBreaker | None = None
    limiter: RateLimiter | None = None
    price: Price | None = None
    in_flight: int = 0
    rate_wait: float = 0.0  # seconds until the rate limit admits the call last asked about
    healthy: bool = True  # false after a failed configured health check
    calls: int = 0
    failures: int = 0
    latency: float | None = None  # exponentially weighted mean of call durations (passive)
    quality: float | None = None  # exponentially weighted mean of validator scores
    recent: collections.deque[float] = attrs.field(
        factory=lambda: collections.deque(maxlen=256)
    )  # recent call durations, for hedging percentiles

    def observe_call(self, duration: float, *, failed: bool) -> None:
        """Passive health from real traffic: call count, failures, smoothed latency."""
        self.calls += 1
        self.failures += failed
        alpha = 0.2
        self.latency = (
            duration if self.latency is None else (alpha * duration + (1 - alpha) * self.latency)
        )
        if not failed:
            self.recent.append(duration)

    def observe_quality(self, score: float) -> None:
        alpha = 0.2
        self.quality = score if self.quality is None else alpha * score + (1 - alpha) * self.quality

    def has_room(self, now: float = 0.0, tokens: int = 0) -> bool:
        self.rate_wait = 0.0
        if not self.healthy:
            return False
        if self.limit is not None and self.in_flight >= self.limit:
            return False
        if self.breaker is not None and not self.breaker.admits():
            return False
        if self.limiter is not None:
            self.rate_wait = self.limiter.wait_time(now, tokens=tokens)
            return self.rate_wait <= 0
        return True


@attrs.define(eq=False, slots=True)
class _Pool:
    """Ready steps that the same agents can serve, by priority."""

    agents: tuple[_AgentSlot, ...]
    heap: list[tuple[int, int, str]] = attrs.field(factory=list)

    @property
    def counts_tokens(self) -> bool:
        """Whether an agent here limits tokens per minute (so calls need an estimate)."""
        return any(
            s.limiter is not None and s.limiter.policy.tokens_per_minute is not None
            for s in self.agents
        )


def slots_for(workflow: Workflow, agents: Mapping[str, Agent]) -> dict[str, _AgentSlot]:
    """One slot per agent, with the breaker and rate limiter its config asks for."""
    slots = {}
    for name, agent in agents.items():
        config = workflow.agents[name]
        breaker = CircuitBreaker(policy=config.breaker) if config.breaker else None
        limiter = None
        if config.rate_limit is not None:
            limiter = RateLimiter(config.rate_limit, now=trio.current_time())
        slots[name] = _AgentSlot(
            name=name,
            agent=agent,
            limit=config.max_concurrent,
            breaker=breaker,
            limiter=limiter,
            price=config.price,
        )
    return slots
