"""Checking a router's options: the helpers every built-in router's factory uses.

Each raises ``ValueError`` naming the router, the option and what is allowed;
the loader reports the message with the ``route:``'s file and line.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Mapping
from typing import Any


def check_options(strategy: str, options: object, allowed: Collection[str]) -> Mapping[str, Any]:
    """``options`` as a mapping, or ValueError naming the unknown keys and the allowed ones."""
    if not isinstance(options, Mapping):
        raise ValueError(
            f"the {strategy} router's options must be a mapping, got {type(options).__name__}"
        )
    unknown = sorted((str(key) for key in options if key not in allowed), key=str)
    if unknown:
        takes = (
            "it takes " + ", ".join(f"{name}:" for name in sorted(allowed))
            if allowed
            else "it takes no options"
        )
        hints = [
            f"did you mean {close[0]}:?"
            for key in unknown
            if (close := difflib.get_close_matches(key, list(allowed), n=1))
        ]
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for the {strategy} router; {takes}"
            + (f" ({' '.join(hints)})" if hints else "")
        )
    return options


def number(
    strategy: str, key: str, value: object, *, low: float = 0.0, high: float | None = None
) -> float:
    """``value`` as a finite float in ``[low, high]``, or ValueError saying what is allowed."""
    allowed = f"a number from {low:g} to {high:g}" if high is not None else f"a number >= {low:g}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{strategy} router: {key} must be {allowed}, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < low or (high is not None and number > high):
        raise ValueError(f"{strategy} router: {key} must be {allowed}, got {value!r}")
    return number


def agent_weights(strategy: str, options: Mapping[str, Any], example: str) -> dict[str, float]:
    """The ``weights:`` option (agent name -> weight > 0), or ValueError with ``example``."""
    raw = options.get("weights", {})
    if not isinstance(raw, Mapping):
        raise ValueError(
            f"{strategy} router: weights must map agent names to numbers, e.g. "
            f"{example}; got {raw!r}"
        )
    weights: dict[str, float] = {}
    for agent, value in raw.items():
        if not isinstance(agent, str):
            raise ValueError(f"{strategy} router: weights keys must be agent names, got {agent!r}")
        weights[agent] = number(strategy, f"weights.{agent}", value)
    return weights
