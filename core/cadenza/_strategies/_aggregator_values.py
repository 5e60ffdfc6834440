"""How the built-in aggregators compare, quote and credit answers' outputs."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Final, TypeAlias

from ._aggregation import Answer, Verdict

_SPACES = re.compile(r"\s+")
MISSING: Final = object()
_LABEL_WIDTH = 40

FieldPath: TypeAlias = tuple[str, ...]


def canonical(value: Any) -> Hashable:
    """A hashable stand-in for a JSON-like value: equal exactly when the values are equal.

    Unlike ``==`` it tells ``True`` from ``1``, and a list from a mapping.
    """
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return ("nan",)
        if isinstance(value, float) and value.is_integer():
            return ("number", int(value))
        return ("number", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, Mapping):
        items = sorted(((repr(k), canonical(v)) for k, v in value.items()), key=lambda i: i[0])
        return ("map", tuple(items))
    if isinstance(value, list | tuple):
        return ("list", tuple(canonical(v) for v in value))
    return ("other", type(value).__qualname__, repr(value))


def normalized(value: Any, steps: tuple[str, ...]) -> Any:
    """``value`` with ``steps`` applied to every string in it (mapping keys left alone)."""
    if isinstance(value, str):
        if "whitespace" in steps:
            value = _SPACES.sub(" ", value)
        if "strip" in steps:
            value = value.strip()
        if "casefold" in steps:
            value = value.casefold()
        return value
    if isinstance(value, Mapping):
        return {k: normalized(v, steps) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalized(v, steps) for v in value]
    return value


def field_at(value: Any, path: FieldPath) -> Any:
    """The value at dotted ``path`` (mapping keys, or list indexes), or ``MISSING``."""
    for part in path:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list | tuple) and part.isdecimal() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def quote(value: Any) -> str:
    """A short quotation of ``value`` for messages."""
    text = "null" if value is None else repr(value)
    return text if len(text) <= _LABEL_WIDTH else text[: _LABEL_WIDTH - 3] + "..."


def agent_names(answers: Sequence[Answer]) -> tuple[str, ...]:
    """The answers' agents in arrival order, each once."""
    return tuple(dict.fromkeys(answer.agent for answer in answers))


def listed(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def mean_confidence(answers: Sequence[Answer]) -> float | None:
    reported = [a.confidence for a in answers if a.confidence is not None]
    return sum(reported) / len(reported) if reported else None


def rank_value(value: float | None) -> float:
    """``value`` for ``max``: None and NaN rank lowest."""
    return -math.inf if value is None or math.isnan(value) else value


def vote_weight(answer: Answer) -> float:
    """weight * quality * confidence, a missing score counting as 1, never below 0."""
    quality = 1.0 if answer.quality is None else answer.quality
    confidence = 1.0 if answer.confidence is None else answer.confidence
    weight = answer.weight * quality * confidence
    return weight if weight > 0 else 0.0


def about_equal(a: float, b: float) -> bool:
    """Equal sums of weights, up to the rounding of adding them in another order."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def percent(share: float, other: float | None = None) -> str:
    """``share`` as a percentage, with enough decimals to tell it from ``other``."""
    for decimals in range(4):
        text = f"{share * 100:.{decimals}f}%"
        if other is None or about_equal(share, other) or text != f"{other * 100:.{decimals}f}%":
            return text
    return text


def pick(answers: Sequence[Answer], chosen: Answer, *, ok: Sequence[Answer]) -> Verdict:
    """The verdict for ``chosen``'s output, supported by every answer with the very same output."""
    key = canonical(chosen.output)
    agreeing = [a for a in answers if a.ok and canonical(a.output) == key]
    return Verdict(
        output=chosen.output,
        supporters=agent_names(agreeing),
        agreement=len(agreeing) / len(ok),
        confidence=mean_confidence(agreeing),
    )
