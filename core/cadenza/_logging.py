"""Cadenza's logger, silent until configured, and the command line's structlog configuration.

The kernel logs through :func:`get_logger`, never through structlog's defaults
(which print every event to stdout): a library stays silent unless the
application asks. Once structlog is configured (by the application with
``structlog.configure``, or by the CLI with :func:`configure_logging`), events go
through that configuration; until then they are dropped at the call, cheaply.

The CLI asks for its configuration when structlog is first imported
(:func:`configure_logging_on_import`), and kernel loggers answer calls below
the level it asked for without importing structlog (its console renderer loads
rich and pygments): ``cadenza run`` of a workflow that logs nothing at that
level never imports it. :func:`bound_contextvars` binds ``run_id`` and the like
the same way, in structlog's context variables once structlog is imported, in
this module's until then (merged into every line, see :func:`configure_logging`).

Secrets are redacted from every log line by a processor that knows the secret
values of the workflows loaded in this process. Lines are for people: seconds
read ``0.12s``, other numbers are rounded, and fields without a value are left out.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import logging
import sys
from collections.abc import Iterable, Iterator, MutableMapping
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
            return getattr(_Deferred(self._name, {}), name)  # structlog when a call needs it
        if not structlog.is_configured():
            return getattr(_SILENT, name)
        if context := _CONTEXT.get():  # bound before structlog was imported
            return getattr(structlog.get_logger(self._name).bind(**context), name)
        if self._structlog is None:
            self._structlog = structlog.get_logger(self._name)
        return getattr(self._structlog, name)


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
"""structlog's filtering logger's methods and the level each logs at."""


class _Deferred:
    """A kernel logger (with its bound values) while the CLI's configuration waits for structlog.

    A call below the level the CLI asked for is dropped, as structlog's
    filtering logger would drop it; any other call imports structlog (which
    configures it) and goes to structlog's logger, bound to the same values.
    """

    __slots__ = ("_name", "_real_logger", "_values")

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        self._name = name
        self._values = values
        self._real_logger: Any = None

    def _real(self) -> Any:
        """structlog's logger bound as this one is, once (as ``log.bind()`` would have made it)."""
        if self._real_logger is None:
            structlog: Any = importlib.import_module("structlog")  # configured once imported
            if not structlog.is_configured():
                return _SILENT
            context = _CONTEXT.get() or {}
            logger = structlog.get_logger(self._name).bind(**{**context, **self._values})
            self._real_logger = logger
        return self._real_logger

    def _waiting(self) -> bool:
        return "structlog" not in sys.modules and _PENDING is not None

    def is_enabled_for(self, level: int) -> bool:
        if self._waiting():
            return _PENDING is not None and level >= _PENDING[0]
        return bool(self._real().is_enabled_for(level))

    def bind(self, **values: Any) -> _Deferred:
        return _Deferred(self._name, {**self._values, **values})

    def new(self, **values: Any) -> _Deferred:
        return _Deferred(self._name, dict(values))

    def log(self, level: int, event: str, *args: Any, **kw: Any) -> None:
        if self.is_enabled_for(level):
            self._real().log(level, event, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        level = _LEVELS.get(name)
        if level is not None and self._waiting() and not self.is_enabled_for(level):
            return _SILENT._drop
        return getattr(self._real(), name)


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


_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "cadenza_log_context", default=None
)
"""Values bound by :func:`bound_contextvars` while structlog was not imported."""


@contextlib.contextmanager
def bound_contextvars(**values: Any) -> Iterator[None]:
    """Bind ``values`` to every log line of this context, as structlog's ``bound_contextvars``.

    With structlog imported this is structlog's own; until then the values
    wait in a context variable of this module, which kernel loggers and the
    CLI's configuration merge into their lines, so binding ``run_id`` costs a
    run no import of structlog.
    """
    structlog: Any = sys.modules.get("structlog")
    if structlog is not None:
        with structlog.contextvars.bound_contextvars(**values):
            yield
        return
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **values})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def _merge_waiting_context(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Add the values :func:`bound_contextvars` kept before structlog was imported."""
    for key, value in (_CONTEXT.get() or {}).items():
        event_dict.setdefault(key, value)
    return event_dict


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
            _merge_waiting_context,
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
