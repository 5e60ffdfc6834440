"""The per-agent protection policies a workflow declares: ``breaker:`` and ``rate_limit:``.

They are part of what a workflow IS (the spec), so they live here; the state
machines that enforce them are in :mod:`cadenza._resilience`.
"""

from __future__ import annotations

import math
from typing import Any, final

import attrs

from ._duration import Duration

_HINTS = {
    "failures": "failures is how many failures within window open the breaker; 5 is common.",
    "min_calls": "min_calls is how many calls failure_rate needs before it can open; try 10.",
    "window": "window is how far back failures count, e.g. 60s.",
    "cooldown": "cooldown is how long the breaker stays open before a probe, e.g. 30s.",
    "failure_rate": "failure_rate is a share of calls, e.g. 0.5 for half of them.",
}


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(
            f"{attribute.name}: must be at least 1, got {value!r}\n{_HINTS[attribute.name]}"
        )


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(
            f"{attribute.name}: must be greater than 0, got {value!r}\n{_HINTS[attribute.name]}"
        )


def _rate(instance: object, attribute: attrs.Attribute[float | None], value: float | None) -> None:
    if value is not None and not 0 < value <= 1:
        raise ValueError(
            f"{attribute.name}: must be above 0 and at most 1, got {value!r}\n"
            f"{_HINTS[attribute.name]}"
        )


@attrs.frozen(kw_only=True)
class BreakerPolicy:
    """``breaker:`` of an agent.

    Opens after ``failures`` failures within ``window`` seconds, or, when
    ``failure_rate`` is set, once at least ``min_calls`` calls ended within the
    window and that share of them failed. Stays open ``cooldown`` seconds, then
    lets one probe call through.
    """

    failures: int = attrs.field(default=5, validator=_at_least_one)
    window: Duration = attrs.field(default=Duration(60.0), validator=_positive)
    failure_rate: float | None = attrs.field(default=None, validator=_rate)
    min_calls: int = attrs.field(default=10, validator=_at_least_one)
    cooldown: Duration = attrs.field(default=Duration(30.0), validator=_positive)


def _positive_finite(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


@final
@attrs.frozen(kw_only=True)
class RateLimitPolicy:
    """An agent's rate limits, shared by all steps of a run that call it.

    ``requests_per_minute`` and ``tokens_per_minute`` bound the agent's call
    starts and the tokens they use; None leaves that dimension unlimited.
    ``burst`` is how many seconds of unused allowance an idle agent may save
    up and then spend at once; None saves nothing, pacing calls evenly so that
    no 60-second window holds more than ``ceil(requests_per_minute)`` requests.
    See :mod:`cadenza._resilience._ratelimit` for the exact guarantee.
    """

    requests_per_minute: float | None = attrs.field(default=None, validator=_positive_finite)
    tokens_per_minute: float | None = attrs.field(default=None, validator=_positive_finite)
    burst: float | None = attrs.field(default=None, validator=_positive_finite)
