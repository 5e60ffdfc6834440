"""Per-agent rate limits: requests per minute and tokens per minute, as token buckets.

Pure bookkeeping: no trio, no I/O and no clock of its own. The caller passes the
time (the scheduler passes ``trio.current_time()``, which never goes backwards)
into every method. Before dispatching a call to an agent the scheduler asks
:meth:`RateLimiter.wait_time`; at 0 it calls :meth:`RateLimiter.acquire` and
starts the call, otherwise it schedules one wake-up that many seconds later and
asks again then. Steps wait for a rate limit; they never fail because of one.
After the call, :meth:`RateLimiter.settle` replaces the token estimate with the
count the provider reported.

Design
------
Each configured limit is a token bucket. For requests every call costs 1; for
tokens a call costs its pre-call estimate (:func:`estimate_tokens`). A bucket
refills continuously at ``per_minute / 60`` per second up to its capacity,
``per_minute * burst / 60``: ``burst`` is how many seconds of unused allowance an
idle agent may save up. Without ``burst`` the capacity is 0, so calls are paced
evenly (one request every ``60 / requests_per_minute`` seconds) and nothing is
saved while the agent is idle. Buckets start full.

A call costing ``c`` may start when each bucket holds at least ``min(c,
capacity)``; it then takes ``c`` from each. A call larger than the whole bucket
(with no ``burst``, every call) therefore starts once the bucket is full and
leaves it in debt (a negative level): it never waits forever, and the calls
after it wait until the debt is repaid. A call estimated at 0 tokens still waits
out a token debt. :meth:`RateLimiter.settle` charges ``actual - estimated``:
an underestimate adds debt, an overestimate is refunded, never above capacity.

Guarantee
---------
Write ``C`` for a bucket's capacity and ``r`` for its refill rate per second. A
bucket *charges* 1 per request start (request bucket), or each start's estimate
plus each settlement's ``actual - estimated`` (token bucket; refunds count
negative). For every call starting at time ``s`` with cost ``c``, and every
earlier moment ``t``, counting the charges at ``t`` and after, up to and
including this call's start::

    charged in [t, s]  <=  max(C, c) + r * (s - t)

(the bucket holds at most ``C`` before ``t``, gains at most ``r * (s - t)``, and
still holds ``min(c, C)`` just before the start). So in any half-open window of
``T`` seconds:

* requests started  <  ``max(1, C) + requests_per_minute * T / 60``. Without
  ``burst`` (or with ``burst < 60 / requests_per_minute``) that is at most
  ``ceil(requests_per_minute)`` requests in any 60-second window. With a larger
  ``burst`` of ``b`` seconds it is fewer than ``requests_per_minute * (1 + b / 60)``:
  ``burst=60`` (a full minute saved) allows up to twice the rate in one minute,
  which is why there is no burst unless asked for.
* tokens charged up to and including the window's last start, of estimate
  ``e``,  <  ``max(C, e) + tokens_per_minute * T / 60``. Without ``burst`` and with
  accurate estimates: the tokens of the calls started in any 60-second window
  stay below ``tokens_per_minute`` plus the estimate of the last of them, that
  is, at most one call's overshoot.

The limiter cannot bound the tokens of calls already running, since it learns
their actual counts only at settlement; an underestimate becomes debt that
delays the calls after it. ``wait_time`` assumes no other call starts or settles
meanwhile; the scheduler asks again when it wakes.

Arithmetic is exact (:class:`fractions.Fraction` over the float clock values),
so the bounds above hold with no rounding slack, and ``wait_time(now)`` returns a
float ``w`` for which the float sum ``now + w`` (what the caller computes) is
never early: waiting it out gives ``wait_time(now + w) == 0`` unless other calls
started or settled meanwhile.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any, final

import attrs

from .._spec._policies import RateLimitPolicy


@attrs.define(eq=False)
class _Bucket:
    """One limit: ``level`` (negative = debt) as of time ``updated``, all exact."""

    rate: Fraction  # refill per second
    capacity: Fraction
    level: Fraction
    updated: Fraction

    @classmethod
    def full(cls, per_minute: float, burst: float | None, now: Fraction) -> _Bucket:
        rate = Fraction(per_minute) / 60
        capacity = rate * Fraction(burst) if burst is not None else Fraction(0)
        return cls(rate=rate, capacity=capacity, level=capacity, updated=now)

    def advance(self, now: Fraction) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def ready_at(self, cost: int) -> Fraction:
        """The earliest time, not before ``updated``, at which a call costing ``cost`` may start."""
        need = min(Fraction(cost), self.capacity)
        if self.level >= need:
            return self.updated
        return self.updated + (need - self.level) / self.rate


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")


def _delay_until(now: float, deadline: Fraction) -> float:
    """A float ``w > 0`` such that the float sum ``now + w`` is not before ``deadline``.

    ``now + w`` lands on the first float at or after the deadline, or one step
    later where rounding of the sum forces it.
    """
    target = float(deadline)  # correctly rounded; may be just below the deadline
    if Fraction(target) < deadline:
        target = math.nextafter(target, math.inf)
    delay = target - now
    while now + delay < target:
        delay = math.nextafter(delay, math.inf)
    return delay


@final
class RateLimiter:
    """The rate-limit state of one agent in one run; see the module docstring.

    Every method takes the current time ``now`` in seconds from a clock that
    never goes backwards (a ``ValueError`` says so if it does).
    """

    __slots__ = ("_requests", "_tokens", "_updated", "policy")

    def __init__(self, policy: RateLimitPolicy, *, now: float) -> None:
        start = self._time(now)
        self.policy = policy
        self._updated = start
        self._requests = (
            _Bucket.full(policy.requests_per_minute, policy.burst, start)
            if policy.requests_per_minute is not None
            else None
        )
        self._tokens = (
            _Bucket.full(policy.tokens_per_minute, policy.burst, start)
            if policy.tokens_per_minute is not None
            else None
        )

    def __repr__(self) -> str:
        return f"RateLimiter({self.policy!r})"

    def wait_time(self, now: float, *, tokens: int = 0) -> float:
        """Seconds until a call estimated at ``tokens`` may start; 0.0 if it may start now.

        Assumes no other call starts or settles meanwhile. Never negative, and
        waiting exactly the returned time (``now + wait`` as a float sum) is
        enough under that assumption.
        """
        _check_count("tokens", tokens)
        start = self._advance(now)
        ready = start
        for bucket, cost in self._costs(tokens):
            ready = max(ready, bucket.ready_at(cost))
        if ready <= start:
            return 0.0
        return _delay_until(now, ready)

    def acquire(self, now: float, *, tokens: int = 0) -> None:
        """Take one request and ``tokens`` (the call's estimate) for a call starting now.

        Raises ``ValueError`` unless ``wait_time(now, tokens=tokens)`` is 0.
        """
        wait = self.wait_time(now, tokens=tokens)
        if wait > 0:
            raise ValueError(
                f"rate limit: a call estimated at {tokens} tokens may start only in "
                f"{wait:.6g}s; call acquire() once wait_time(now, tokens={tokens}) is 0"
            )
        for bucket, cost in self._costs(tokens):
            bucket.level -= cost

    def settle(self, now: float, *, estimated: int, actual: int) -> None:
        """Correct the token bucket after a call: charge ``actual - estimated`` tokens.

        ``estimated`` is what the call acquired, ``actual`` what the provider
        reported. An underestimate deepens the debt (later calls wait longer);
        an overestimate is refunded, but a bucket never holds more than its
        capacity. Without a token limit only the arguments are checked.
        """
        _check_count("estimated", estimated)
        _check_count("actual", actual)
        self._advance(now)
        if self._tokens is not None:
            bucket = self._tokens
            bucket.level = min(bucket.capacity, bucket.level - (actual - estimated))

    def _costs(self, tokens: int) -> Iterator[tuple[_Bucket, int]]:
        if self._requests is not None:
            yield self._requests, 1
        if self._tokens is not None:
            yield self._tokens, tokens

    @staticmethod
    def _time(now: float) -> Fraction:
        if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
            raise ValueError(f"now must be a finite number of seconds, got {now!r}")
        return Fraction(now)

    def _advance(self, now: float) -> Fraction:
        current = self._time(now)
        if current < self._updated:
            raise ValueError(
                f"now={now!r} is earlier than a time already seen ({float(self._updated)!r}); "
                "pass a clock that never goes backwards, such as trio.current_time()"
            )
        self._updated = current
        for bucket, _ in self._costs(0):
            bucket.advance(current)
        return current


def estimate_tokens(inputs: Mapping[str, Any]) -> int:
    """A cheap, deterministic token estimate for a call with these inputs, at least 1.

    One token per four characters (rounded up) of the inputs as compact JSON,
    the usual rule of thumb for English text and code. Values JSON cannot hold
    count as their ``str()``; inputs JSON cannot encode at all (non-string keys
    of other types, cycles) count as their ``repr()``.
    """
    try:
        text = json.dumps(dict(inputs), ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = repr(inputs)
    return max(1, -(-len(text) // 4))
