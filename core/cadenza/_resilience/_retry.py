"""The retry decision: after a failed attempt, when to try again, or why not.

A pure function of the step's retry policy, what its attempts did so far,
the error, the clock and the jitter's random source: no I/O, no trio, no
state kept between calls, so every branch is testable with plain values.

The delay is exponential backoff with full jitter, capped at ``max_backoff``
(see :class:`~cadenza._spec._workflow.RetryPolicy`); a provider's
``Retry-After`` raises it (but one longer than ``max_backoff`` gives up);
permanent errors are never retried; "too many requests" answers do not count
as attempts unless ``count_rate_limited`` says so, up to
``max_rate_limited`` of them.
"""

from __future__ import annotations

import math
import random

import attrs

from .._errors import AgentError, RetryableError
from .._spec._workflow import RetryPolicy


@attrs.frozen(kw_only=True)
class RetryState:
    """What a step's attempts did so far, the one that just failed included."""

    attempts: int
    """Attempts started, the failed one included."""
    rate_limited: int = 0
    """Earlier attempts answered "too many requests" and not counted as attempts."""
    deadline: float = math.inf
    """When the step's ``total_timeout`` ends (clock time), ``inf`` without one."""
    in_fallback: bool = False
    """A fallback served the attempt: fallbacks are not retried."""


@attrs.frozen(kw_only=True)
class Retry:
    """Try again at ``at``, ``delay`` seconds from now."""

    at: float
    delay: float
    why: str
    rate_limited: int
    """The step's new count of uncounted rate-limited attempts."""


@attrs.frozen(kw_only=True)
class GiveUp:
    """No retry: the step fails (or falls back)."""

    why: str
    note: str = ""
    """Appended to the error's message when it does not explain itself ("" when it does)."""
    rate_limited: int = 0
    """The step's new count of uncounted rate-limited attempts."""


RetryDecision = Retry | GiveUp


def decide_retry(
    policy: RetryPolicy,
    state: RetryState,
    error: BaseException,
    now: float,
    rng: random.Random,
) -> RetryDecision:
    """Retry or give up after ``error`` ended an attempt at clock time ``now``.

    ``rng`` draws the jitter; it is consulted exactly once when the error is
    retryable and attempts are left, even if the deadline then forbids the
    retry, so a seeded run draws the same sequence whatever the deadlines.
    """
    retryable = isinstance(error, AgentError) and error.retryable
    rate_limited = isinstance(error, RetryableError) and error.rate_limited
    limited = state.rate_limited
    if rate_limited and not policy.count_rate_limited:
        limited += 1
    counted = state.attempts - (0 if policy.count_rate_limited else limited)
    if not retryable:
        return GiveUp(why=f"{type(error).__name__} is not retryable", rate_limited=limited)
    if state.in_fallback:
        return GiveUp(why="a fallback is not retried", rate_limited=limited)
    if counted >= policy.max_attempts:
        return GiveUp(
            why=f"{counted} of max_attempts {policy.max_attempts} made", rate_limited=limited
        )
    if rate_limited and limited > policy.max_rate_limited:
        return GiveUp(
            why=f"more than max_rate_limited {policy.max_rate_limited} rate-limited attempts",
            note=f" (gave up after {limited} rate-limited attempts)",
            rate_limited=limited,
        )
    delay = policy.delay(max(1, counted), rng)
    why = f"backoff after {max(1, counted)} counted failure(s)"
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None and retry_after > policy.max_backoff:
        return GiveUp(
            why="Retry-After is longer than max_backoff",
            note=(
                f" (the provider asked to wait {retry_after:g}s, more than "
                f"max_backoff {policy.max_backoff:g}s)"
            ),
            rate_limited=limited,
        )
    if retry_after is not None and float(retry_after) > delay:
        delay, why = float(retry_after), f"the provider asked to wait {retry_after:g}s"
    if now + delay >= state.deadline:
        return GiveUp(
            why="the retry would start past the step's total_timeout",
            note=" (no time left in the step's total_timeout)",
            rate_limited=limited,
        )
    return Retry(at=now + delay, delay=delay, why=why, rate_limited=limited)
