"""Durations in workflow files: seconds, written ``1.5``, ``"500ms"``, ``"30s"`` or ``"1h30m"``."""

from __future__ import annotations

import re
from typing import NewType

Duration = NewType("Duration", float)
"""Seconds, written in files as ``1.5``, ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h30m"`` or ``"2d"``.

Option classes of agent kinds annotate duration fields with ``Duration``; the
kernel's converter parses them and reports bad ones with file:line.
"""

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> Duration:
    """Parse a duration; raise ``ValueError`` saying what forms are accepted.

    Numbers are seconds. Strings are one or more ``<number><unit>`` parts with
    units ms, s, m, h, d (``"1h30m"``), optionally separated by spaces.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 5m or 1h30m, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return Duration(float(value))
    if isinstance(value, str):
        text = value.replace(" ", "")
        pos = 0
        total = 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        else:
            if pos == len(text) and pos > 0:
                return Duration(total)
    raise ValueError(
        f"expected a duration like 30s, 500ms, 5m or 1h30m (units ms, s, m, h, d), got {value!r}"
    )
