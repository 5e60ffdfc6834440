"""structlog configuration for the command line (library users configure their own).

Secrets are redacted from every log line by a processor that knows the secret
values of the workflows loaded in this process. Lines are for people: seconds
read ``0.12s``, other numbers are rounded, and fields without a value are left out.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

from ._redact import redact

_SECRETS: set[str] = set()


def add_secrets(values: Iterable[str]) -> None:
    """Remember secret values so the log redacts them from now on."""
    _SECRETS.update(values)


def _redact_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if not _SECRETS:
        return event_dict
    redacted: MutableMapping[str, Any] = redact(dict(event_dict), _SECRETS)
    return redacted


SECONDS_FIELDS = frozenset({"duration", "retry_in", "queue_wait", "delay", "elapsed"})
"""Fields holding seconds: logged as ``0.12s``."""


def _seconds(value: float) -> str:
    return f"{value:.2f}s" if abs(value) < 10 else f"{value:.1f}s"


def _human_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Round floats, write seconds as ``0.12s``, drop fields that are None."""
    out: MutableMapping[str, Any] = {}
    for key, value in event_dict.items():
        if value is None:
            continue
        if isinstance(value, float) and not isinstance(value, bool):
            value = _seconds(value) if key in SECONDS_FIELDS else round(value, 4)
        out[key] = value
    return out


def configure_logging(*, level: int = logging.WARNING, stream: TextIO | None = None) -> None:
    """Log to ``stream`` (stderr) at ``level`` and above, human-readable, secrets redacted.

    A line reads ``02:05:35 [warning] attempt_failed agent=t attempt=1 duration=0.00s ...``.
    """
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            structlog.processors.format_exc_info,
            _redact_processor,
            _human_processor,
            structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0, pad_level=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
