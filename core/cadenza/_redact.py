"""Redaction of secret values (API keys, ``${ENV}`` values) from anything we output."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

REDACTED = "***"


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Return ``value`` with every occurrence of a secret replaced by ``***``.

    Walks mappings, lists and tuples; replaces inside strings (a key embedded in
    a URL or a message is still a key). Secrets shorter than 4 characters are
    ignored: redacting them would shred ordinary text and protect nothing.
    """
    needles = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
    if not needles:
        return value
    return _walk(value, needles)


def _walk(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, dict):
        return {_walk(k, needles): _walk(v, needles) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(v, needles) for v in value)
    return value
