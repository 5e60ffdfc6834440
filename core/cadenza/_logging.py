"""Cadenza's logger, silent until configured, and the command line's structlog configuration.

The kernel logs through :func:`get_logger`, never through structlog's defaults
(which print every event to stdout): a library stays silent unless the
application asks. Once structlog is configured (by the application with
``structlog.configure``, or by the CLI with :func:`configure_logging`), events go
through that configuration; until then they are dropped at the call, cheaply.

Secrets are redacted from every log line by a processor that knows the secret
values of the workflows loaded in this process. Lines are for people: seconds
read ``0.12s``, other numbers are rounded, and fields without a value are left out.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

from ._on_import import when_imported
from ._redact import redact

_SECRETS: set[str] = set()


class _Silent:
    """A bound logger that drops everything: what :func:`get_logger` answers until configured."""

    __slots__ = ()

    def _drop(self, *args: Any, **kwargs: Any) -> None:
        return None

    debug = info = warning = warn = error = exception = critical = fatal = msg = log = _drop

    def bind(self, **values: Any) -> _Silent:
        return self

    new = unbind = try_unbind = bind

    def is_enabled_for(self, level: int) -> bool:
        return False


_SILENT = _Silent()


class _KernelLogger:
    """structlog's logger once structlog is configured; :class:`_Silent` until then.

    structlog is not imported here (it costs a CLI command that logs nothing
    a tenth of a second): until something has imported it, nothing can have
    configured it, so the logger is silent without asking.
    """

    __slots__ = ("_name", "_structlog")

    def __init__(self, name: str) -> None:
        self._name = name
        self._structlog: Any = None

    def __getattr__(self, name: str) -> Any:
        structlog: Any = sys.modules.get("structlog")
        if structlog is None:
            if _PENDING is None:
                return getattr(_SILENT, name)
            structlog = importlib.import_module("structlog")  # configured once imported
        if not structlog.is_configured():
            return getattr(_SILENT, name)
        if self._structlog is None:
            self._structlog = structlog.get_logger(self._name)
        return getattr(self._structlog, name)


def get_logger(name: str | None = None) -> Any:
    """The logger kernel modules keep at module scope: ``log = get_logger()``.

    Silent while structlog is unconfigured (library use without logging set
    up); otherwise the application's (or the CLI's) structlog configuration
    applies, checked at each call, so configuring after import works.
    ``name`` (default: the calling module's) reaches structlog's logger
    factory: ``structlog.stdlib.LoggerFactory`` logs under that name.
    """
    if name is None:
        name = sys._getframe(1).f_globals.get("__name__", "cadenza")
    return _KernelLogger(name)


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
    import structlog

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


_PENDING: tuple[int, TextIO] | None = None
"""What :func:`configure_logging_on_import` was asked for, until structlog is imported."""


def configure_logging_on_import(*, level: int = logging.WARNING) -> None:
    """:func:`configure_logging` now if structlog is imported, else the moment it is.

    For the CLI: structlog (and the rich tracebacks its console renderer
    loads) takes a tenth of a second to import, which a command that logs
    nothing (``cadenza validate``) should not pay. Whoever imports structlog
    first -- a kernel logger about to log, the scheduler, a plugin -- gets it
    configured before using it. Output goes to the stderr of this moment.
    """
    global _PENDING
    waiting = _PENDING is not None
    _PENDING = (level, sys.stderr)
    if not waiting:
        when_imported("structlog", _configure_pending)


def _configure_pending() -> None:
    global _PENDING
    pending, _PENDING = _PENDING, None
    if pending is not None:
        level, stream = pending
        configure_logging(level=level, stream=stream)
