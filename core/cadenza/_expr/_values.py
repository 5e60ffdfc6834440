"""How expression values are shown in messages, and the error for a result JSON cannot hold.

Kept apart from :mod:`cadenza._expr._plain` (which turns CEL results into plain
JSON and needs celpy) so that code showing values, such as the scheduler's
routing messages, does not import celpy.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["NotJSONError", "compact_json"]


class NotJSONError(Exception):
    """A CEL result that JSON cannot hold (bytes, a type): the message says which."""


def compact_json(value: Any, *, limit: int | None = None) -> str:
    """``value`` as JSON without spaces, cut to ``limit`` characters: how values are shown."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if limit is not None and len(text) > limit:
        return text[: limit - 3] + "..."
    return text
