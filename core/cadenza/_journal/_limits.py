"""Size limits of what one journaled event stores: outputs whole or refused, the rest capped.

A step's output (``step_succeeded.output``) is what a resumed run restores and
what dependents read, so it is journaled whole or not at all: an output whose
JSON is over ``output_bytes`` fails its attempt with :func:`output_error`
before it succeeds. Every other field of every event (``step_ready`` inputs,
error messages, findings, ...) is informational: a field whose JSON is over
``field_bytes`` is replaced by a marker saying so (:func:`cap_event`), never
cut silently. docs/durability.md ("Size limits") is the user-facing account.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import attrs

from .._errors import CadenzaError, PermanentError

OUTPUT_BYTES_ENV = "CADENZA_MAX_OUTPUT_BYTES"
FIELD_BYTES_ENV = "CADENZA_MAX_EVENT_FIELD_BYTES"
DEFAULT_OUTPUT_BYTES = 16 * 1024 * 1024
"""A step output whose JSON is longer fails its attempt (16 MiB)."""
DEFAULT_FIELD_BYTES = 64 * 1024
"""Any other event field whose JSON is longer is journaled as a marker (64 KiB)."""
PREVIEW_CHARS = 1024
"""Characters of a capped field kept in its marker."""

_WHOLE = frozenset({("step_succeeded", "output"), ("run_started", "steps"),
                    ("run_started", "needs")})  # fmt: skip
"""Fields journaled whole up to ``output_bytes``: what resume restores, and the run's shape
(its steps and their needs, which readers rebuild the run from; a 20,000-step run's list of
steps is far over ``field_bytes``)."""
_ENVELOPE = frozenset({"kind", "run_id", "seq", "at"})
_SCALARS = frozenset({type(None), bool, int, float})
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)  # as the SQLite store writes
_MAX_CHAR_BYTES = 12  # the longest JSON a str character can become: a \\ud83d\\ude00 pair


def _limit_from(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1024:
        raise CadenzaError(
            f"{name}={raw!r}: expected a whole number of bytes, at least 1024 "
            f"(the default is {default}). Fix or unset the environment variable."
        )
    return value


@attrs.frozen(kw_only=True)
class JournalLimits:
    """How much one event may store: ``output_bytes`` for outputs, ``field_bytes`` per field."""

    output_bytes: int = DEFAULT_OUTPUT_BYTES
    field_bytes: int = DEFAULT_FIELD_BYTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JournalLimits:
        """The limits set by ``CADENZA_MAX_OUTPUT_BYTES`` and ``CADENZA_MAX_EVENT_FIELD_BYTES``.

        Raises :class:`CadenzaError` (exit 2 on the command line) for a value
        that is not a whole number of at least 1024 bytes.
        """
        environ = os.environ if environ is None else environ
        return cls(
            output_bytes=_limit_from(environ, OUTPUT_BYTES_ENV, DEFAULT_OUTPUT_BYTES),
            field_bytes=_limit_from(environ, FIELD_BYTES_ENV, DEFAULT_FIELD_BYTES),
        )


def json_size(value: Any) -> int:
    """Bytes of ``value`` as the journal writes it (compact, ASCII-only JSON)."""
    return len(_ENCODER.encode(value))


def _size_over(value: Any, limit: int) -> int | None:
    """``value``'s JSON size when over ``limit``, else None; cheap for scalars and short text."""
    if value is None or isinstance(value, bool | int | float):
        return None
    if isinstance(value, str) and len(value) * _MAX_CHAR_BYTES + 2 <= limit:
        return None
    try:
        size = json_size(value)
    except (TypeError, ValueError):  # not JSON at all: the store reports it, not the cap
        return None
    return size if size > limit else None


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MiB"


def truncation_marker(value: Any, size: int, limit: int) -> Any:
    """What the journal stores instead of a field of ``size`` bytes, over ``limit``.

    A string stays a string: its first ``PREVIEW_CHARS`` characters, then
    ``… [truncated by the journal: N bytes, over the L-byte limit]``. Anything
    else becomes ``{"truncated": true, "bytes": N, "limit": L, "preview": "..."}``
    where ``preview`` is the start of its JSON.
    """
    if isinstance(value, str):
        return (
            f"{value[:PREVIEW_CHARS]}… [truncated by the journal: {size} bytes, "
            f"over the {limit}-byte limit]"
        )
    return {
        "truncated": True,
        "bytes": size,
        "limit": limit,
        "preview": _ENCODER.encode(value)[:PREVIEW_CHARS],
    }


def cap_event(data: dict[str, Any], limits: JournalLimits) -> dict[str, Any]:
    """``data`` (an event's ``to_dict()``) with each oversized field replaced by its marker.

    ``step_succeeded.output`` is measured against ``output_bytes`` (the
    scheduler refuses bigger outputs first, so only an output that reached the
    journal some other way is capped here); every other field against
    ``field_bytes``. ``data`` itself is left unchanged.
    """
    kind = data.get("kind")
    capped: dict[str, Any] | None = None
    short = limits.field_bytes // _MAX_CHAR_BYTES - 2  # strings this long cannot be over
    for name, value in data.items():
        # Fast paths first: this runs for every event, and most fields are small.
        cls = value.__class__
        if cls in _SCALARS or name in _ENVELOPE or not value:
            continue
        if cls is str and len(value) <= short:
            continue
        limit = limits.output_bytes if (kind, name) in _WHOLE else limits.field_bytes
        size = _size_over(value, limit)
        if size is not None:
            if capped is None:
                capped = dict(data)
            capped[name] = truncation_marker(value, size, limit)
    return data if capped is None else capped


def output_error(
    output: Any, limits: JournalLimits, *, step_id: str, agent: str
) -> PermanentError | None:
    """The error failing an attempt whose output is too big to journal whole, or None."""
    size = _size_over(output, limits.output_bytes)
    if size is None:
        return None
    return PermanentError(
        f"step {step_id!r}: the output of agent {agent!r} is {size} bytes as JSON "
        f"({_mib(size)}), over the journal's limit for a step output "
        f"({limits.output_bytes} bytes, {OUTPUT_BYTES_ENV}). Outputs are journaled whole, "
        "so that a resumed run restores them, or not at all.\n"
        "  Have the agent write large results to files (its output folder) and return "
        f"their paths, or raise {OUTPUT_BYTES_ENV} (a number of bytes).",
        agent=agent,
        step_id=step_id,
    )
