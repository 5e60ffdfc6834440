"""CEL values as plain JSON, and how CEL names them in messages.

What an expression gives back leaves ``_expr`` as plain JSON data (``bool``,
``int``, ``float``, ``str``, ``None``, ``list``, ``dict``), never celpy's own
types, so rendered ``with:`` values can be stored, compared and sent as they
are. Timestamps and durations become their text, map keys become strings the
way JSON writes them, and a result JSON cannot hold is an error, not a repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import celpy.celtypes as celtypes
from celpy.evaluation import CELEvalError

from ._values import NotJSONError, compact_json

if TYPE_CHECKING:
    from ._budget import Cost

__all__ = ["cel_type_name", "to_plain"]


def to_plain(value: Any, cost: Cost | None = None) -> Any:
    """A CEL result as plain JSON data (celpy's types subclass Python's, so test in order).

    With ``cost``, each value produced is charged to it: a result that repeats
    one list many times over is small in memory but not as JSON.
    """
    if cost is not None:
        cost.values(1)
    if value is None:
        return None
    if isinstance(value, CELEvalError):
        raise value
    if isinstance(value, bool | celtypes.BoolType):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, celtypes.TimestampType | celtypes.DurationType):
        return str(value)
    if isinstance(value, Mapping):
        return {_plain_key(k, cost): to_plain(v, cost) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item, cost) for item in value]
    if isinstance(value, bytes):
        raise NotJSONError("the result is bytes, which have no JSON form; convert with string(...)")
    raise NotJSONError(f"the result is a {cel_type_name(value)}, which has no JSON form")


def _plain_key(key: Any, cost: Cost | None) -> str:
    """A map key as JSON writes it: a string, or the compact JSON of anything else."""
    plain = to_plain(key, cost)
    return plain if isinstance(plain, str) else compact_json(plain)


def cel_type_name(value: Any) -> str:
    """``value``'s type as CEL names it (``int``, ``map``, ``null``), for messages."""
    if value is None:
        return "null"
    if isinstance(value, CELEvalError):
        return "error"
    if isinstance(value, bool | celtypes.BoolType):
        return "bool"
    if isinstance(value, celtypes.UintType):
        return "uint"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, celtypes.TimestampType):
        return "timestamp"
    if isinstance(value, celtypes.DurationType):
        return "duration"
    if isinstance(value, type):
        return "type"
    return type(value).__name__
