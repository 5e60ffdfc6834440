"""Reading a simulation model file: agent name (or ``*``) to its checked parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import WorkflowError
from .._problems import Problem
from .._source_file import read_source
from .._spec._duration import parse_duration
from .._yaml import parse_yaml
from ._sim_models import AGENT_KEYS, LOGNORMAL_Z95, LatencyModel

_DISTRIBUTIONS: tuple[str, ...] = ("fixed", "uniform", "lognormal", "exponential")
_PRICE_KEYS = ("input_per_1k", "output_per_1k", "per_call", "expected_output_tokens")


def parse_model_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read a model file: agent name (or ``*``) to its parameters, checked.

    Returns per agent only the parameters the file sets, already parsed
    (``latency`` a :class:`LatencyModel`, ``price`` a mapping of the price
    fields it sets, made a :class:`Price` by :func:`resolve_models`). Raises
    :class:`WorkflowError` with every problem, each with file:line:col.
    """
    raw = read_source(path, what="model file")  # regular files within the size limit
    if isinstance(raw, Problem):
        raise WorkflowError([raw])
    return parse_model_text(raw[0], filename=str(path))


def parse_model_text(text: str, *, filename: str = "<model>") -> dict[str, dict[str, Any]]:
    """Like :func:`parse_model_file`, from YAML ``text``."""
    doc = parse_yaml(text, filename=filename)
    if doc.problems:
        raise WorkflowError(list(doc.problems))
    problems: list[Problem] = []

    def problem(where: tuple[Any, ...], message: str, hint: str = "") -> None:
        problems.append(
            Problem(
                message=message,
                path=".".join(str(p) for p in where),
                location=doc.locate(where),
                hint=hint,
            )
        )

    data = doc.data
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        problem((), "a model file maps agent names (or '*') to their parameters")
        raise WorkflowError(problems)
    out: dict[str, dict[str, Any]] = {}
    for agent, spec in data.items():
        if not isinstance(spec, Mapping):
            problem((agent,), f"agent {agent!r}: expected a mapping of parameters")
            continue
        parsed: dict[str, Any] = {}
        for key, value in spec.items():
            where = (agent, key)
            try:
                if key == "latency":
                    parsed[key] = _latency(value)
                elif key == "failure_rate":
                    rate = _number(value)
                    if not 0.0 <= rate < 1.0:
                        raise ValueError(f"must be at least 0 and below 1, got {value!r}")
                    parsed[key] = rate
                elif key == "retry_after":
                    parsed[key] = float(parse_duration(value))
                elif key in ("input_tokens", "output_tokens"):
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        raise ValueError(f"expected a whole number >= 0, got {value!r}")
                    parsed[key] = value
                elif key == "price":
                    parsed[key] = _price(value)
                else:
                    problem(
                        where,
                        f"unknown parameter {key!r}",
                        f"Known parameters: {', '.join(AGENT_KEYS)}.",
                    )
            except (ValueError, TypeError) as exc:
                problem(where, str(exc))
        out[str(agent)] = parsed
    if problems:
        raise WorkflowError(problems)
    return out


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _secs_field(spec: Mapping[str, Any], key: str) -> float:
    if key not in spec:
        raise ValueError(f"{spec.get('distribution', 'fixed')} latency needs {key!r}")
    return float(parse_duration(spec[key]))


def _latency(value: object) -> LatencyModel:
    if not isinstance(value, Mapping):
        return LatencyModel(value=float(parse_duration(value)))
    dist = value.get("distribution", "fixed")
    if dist not in _DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {dist!r} (known: {', '.join(_DISTRIBUTIONS)})")
    allowed = {
        "fixed": {"value", "mean"},
        "uniform": {"min", "max"},
        "lognormal": {"median", "p95"},
        "exponential": {"mean"},
    }[dist] | {"distribution"}
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ValueError(
            f"{dist} latency does not take {', '.join(unknown)} "
            f"(it takes {', '.join(sorted(allowed - {'distribution'}))})"
        )
    if dist == "fixed":
        key = "value" if "value" in value else "mean"
        return LatencyModel(value=_secs_field(value, key))
    if dist == "uniform":
        low, high = _secs_field(value, "min"), _secs_field(value, "max")
        if high < low:
            raise ValueError(f"uniform latency: max ({high:g}s) is below min ({low:g}s)")
        return LatencyModel(distribution="uniform", low=low, high=high)
    if dist == "lognormal":
        median, p95 = _secs_field(value, "median"), _secs_field(value, "p95")
        if median <= 0 or p95 <= median:
            raise ValueError("lognormal latency needs 0 < median < p95")
        sigma = math.log(p95 / median) / LOGNORMAL_Z95
        return LatencyModel(distribution="lognormal", mu=math.log(median), sigma=sigma)
    return LatencyModel(distribution="exponential", value=_secs_field(value, "mean"))


def _price(value: object) -> dict[str, float | int]:
    """The fields a model file's ``price:`` sets, checked (a Price is built per agent)."""
    if not isinstance(value, Mapping):
        raise ValueError(
            "price: expected a mapping with input_per_1k, output_per_1k, per_call "
            "and/or expected_output_tokens"
        )
    unknown = sorted(str(k) for k in value if k not in _PRICE_KEYS)
    if unknown:
        raise ValueError(
            f"price: unknown field {', '.join(unknown)} (known: {', '.join(_PRICE_KEYS)})"
        )
    fields: dict[str, float | int] = {}
    for key, item in value.items():
        if key == "expected_output_tokens":
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise ValueError(f"price: {key}: expected a whole number >= 0, got {item!r}")
            fields[key] = item
        else:
            number = _number(item)
            if number < 0:
                raise ValueError(f"price: {key} must be >= 0, got {item!r}")
            fields[key] = number
    return fields
