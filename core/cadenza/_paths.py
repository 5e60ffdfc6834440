"""Value paths: where a value sits in a document, and how to print that place.

Foundation: the YAML reader, the converter and the loader all name places in
a workflow document this way, so it sits below every package that does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

PathKey = str | int
"""One step of a value path: a mapping key or a list index."""

ValuePath = tuple[PathKey, ...]
"""Where a value sits in a document: ``("agents", "writer", "options", "timeout")``."""

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def render_path(path: Iterable[PathKey]) -> str:
    """``("steps", "build", "needs", 0)`` -> ``steps.build.needs[0]``.

    Keys that are not plain names are JSON-quoted (``steps["build docs"]``).
    """
    out = ""
    for key in path:
        out = child_path(out, key)
    return out


def child_path(parent: str, key: Any) -> str:
    """The rendered path of ``key`` under the rendered path ``parent``.

    ``child_path("steps.build", "with")`` -> ``steps.build.with``; an index or
    a key that is not a plain name goes in brackets. ``_expr`` names the
    strings it compiles with this, so the loader can map its paths back.
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{parent}[{key}]"
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{json.dumps(key, ensure_ascii=False, default=str)}]"
