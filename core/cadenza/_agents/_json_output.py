"""Whether an agent's output is JSON, and if not, where inside it the first offender sits.

An agent's ``output`` is journaled, cached and referenced by later steps as
JSON. The SQLite store would write a ``set`` as its ``str()`` (``"{1, 2}"``),
so the kernel refuses such output when the call returns
(:mod:`cadenza._scheduler._calls`), and the ``python`` agent kind says the
same about its function's return value. Both ask :func:`not_json`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["not_json"]

_MAX_DEPTH = 200
_JSON_KEYS = (str, int, float, bool, type(None))
# One encoder for every check: ``json.dumps(value, allow_nan=False)`` builds a
# new encoder per call, a cost comparable to encoding a small output.
_ENCODER = json.JSONEncoder(allow_nan=False)


def not_json(value: Any, path: str = "output") -> str:
    """``""`` when ``json.dumps(value, allow_nan=False)`` accepts ``value``, else where it fails.

    The answer names the path and the offending type, e.g.
    ``"output.items[2]: set is not JSON"``. JSON output is checked by
    ``json.dumps`` (fast); only output that fails is walked to find the path.
    """
    try:
        _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        pass
    else:
        return ""
    return _find(value, path, set(), 0) or f"{path}: not JSON (json.dumps refuses it)"


def _find(value: Any, path: str, seen: set[int], depth: int) -> str:
    if value is None or isinstance(value, str | bool | int):
        return ""
    if isinstance(value, float):
        return "" if math.isfinite(value) else f"{path}: float {value!r} is not JSON"
    if depth > _MAX_DEPTH:
        return f"{path}: nested more than {_MAX_DEPTH} levels deep"
    if isinstance(value, dict | list | tuple):
        if id(value) in seen:
            return f"{path}: contains itself (a circular reference) and is not JSON"
        seen.add(id(value))
        try:
            return _find_inside(value, path, seen, depth)
        finally:
            seen.discard(id(value))
    return f"{path}: {type(value).__name__} is not JSON"


def _find_inside(
    value: dict[Any, Any] | list[Any] | tuple[Any, ...], path: str, seen: set[int], depth: int
) -> str:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, _JSON_KEYS):
                return f"{path}: key {key!r} ({type(key).__name__}) is not JSON; keys are strings"
            inner = (
                f"{path}.{key}"
                if isinstance(key, str) and key.isidentifier()
                else f"{path}[{key!r}]"
            )
            found = _find(item, inner, seen, depth + 1)
            if found:
                return found
        return ""
    for i, item in enumerate(value):
        found = _find(item, f"{path}[{i}]", seen, depth + 1)
        if found:
            return found
    return ""
