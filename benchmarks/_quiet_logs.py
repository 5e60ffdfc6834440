"""Logging for benchmarks: nothing rendered, errors recorded.

The scheduler logs every event at debug/info; measuring log rendering would
swamp the kernel's own cost. Errors are recorded instead of rendered: a run
that logs one has misbehaved (e.g. dropped a failing observer), so its time
would mean nothing and the benchmark stops. Import this module before any
run; structlog loggers are lazy proxies, so importing cadenza first is fine.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

LOGGED_ERRORS: list[str] = []
"""``event fields: cause`` of every error logged since start-up."""


def _record_errors(logger: Any, method_name: str, event_dict: Any) -> Any:
    if method_name in ("error", "exception", "critical"):
        fields = " ".join(f"{k}={v}" for k, v in event_dict.items() if k != "event")
        exc = sys.exc_info()[1] if event_dict.get("exc_info") else None
        cause = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        LOGGED_ERRORS.append(f"{event_dict.get('event')} {fields}{cause}")
        raise structlog.DropEvent
    return event_dict


structlog.configure(
    processors=[_record_errors, *structlog.get_config()["processors"]],
    wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
)
