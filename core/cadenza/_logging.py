"""structlog configuration for the command line (library users configure their own).

Secrets are redacted from every log line by a processor that knows the secret
values of the workflows loaded in this process.
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


def configure_logging(*, level: int = logging.WARNING, stream: TextIO | None = None) -> None:
    """Log to ``stream`` (stderr) at ``level`` and above, human-readable, secrets redacted."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            structlog.processors.format_exc_info,
            _redact_processor,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
