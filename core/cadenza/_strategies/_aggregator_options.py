"""Reading a built-in aggregator's options: each error names the strategy, the option, the fix."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

NORMALIZERS: Final = ("whitespace", "strip", "casefold")
"""What ``normalize`` may list, in the order they are applied to each string."""


def check_keys(strategy: str, options: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(str(key) for key in options if key not in allowed)
    if not unknown:
        return
    if not allowed:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)}: the {strategy} aggregator takes no options"
        )
    guesses = difflib.get_close_matches(unknown[0], allowed, n=1)
    hint = f" Did you mean {guesses[0]!r}?" if guesses else ""
    raise ValueError(
        f"unknown option(s) {', '.join(unknown)} for the {strategy} aggregator.{hint} "
        f"It takes: {', '.join(sorted(allowed))}."
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def share_option(
    strategy: str,
    options: Mapping[str, Any],
    name: str,
    default: float,
    *,
    low: float,
    high: float,
    low_open: bool,
    high_open: bool,
) -> float:
    """A number option within ``low``..``high`` (each end open or closed)."""
    value = options.get(name, default)
    lower_ok = _is_number(value) and (value > low if low_open else value >= low)
    upper_ok = _is_number(value) and (value < high if high_open else value <= high)
    if not (lower_ok and upper_ok):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(
            f"{strategy} aggregator: {name} must be a number in {interval}, got {value!r}"
        )
    return float(value)


def int_option(
    strategy: str, options: Mapping[str, Any], name: str, default: int, *, minimum: int
) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"{strategy} aggregator: {name} must be a whole number of at least {minimum}, "
            f"got {value!r}"
        )
    return value


def bool_option(strategy: str, options: Mapping[str, Any], name: str, default: bool) -> bool:
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{strategy} aggregator: {name} must be true or false, got {value!r}")
    return value


def choice_option(
    strategy: str, options: Mapping[str, Any], name: str, choices: Sequence[str]
) -> str:
    value = options.get(name, choices[0])
    if value not in choices:
        raise ValueError(
            f"{strategy} aggregator: {name} must be one of {', '.join(choices)}, got {value!r}"
        )
    return str(value)


def normalize_option(strategy: str, options: Mapping[str, Any]) -> tuple[str, ...]:
    value = options.get("normalize", list(NORMALIZERS))
    steps = [value] if isinstance(value, str) else value
    if not isinstance(steps, list | tuple) or any(step not in NORMALIZERS for step in steps):
        raise ValueError(
            f"{strategy} aggregator: normalize must be a list drawn from "
            f"{', '.join(NORMALIZERS)} ([] compares outputs exactly), got {value!r}"
        )
    return tuple(step for step in NORMALIZERS if step in steps)


def key_option(strategy: str, options: Mapping[str, Any]) -> str | None:
    value = options.get("key")
    if value is None:
        return None
    if not isinstance(value, str) or not value or "" in value.split("."):
        raise ValueError(
            f"{strategy} aggregator: key must be a dotted field path like 'verdict' or "
            f"'review.label', got {value!r}"
        )
    return value
