"""What every command shares: the CLI state object and turning errors into exit codes."""

from __future__ import annotations

import contextlib
import functools
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TextIO, TypeVar

import attrs
import click

from .._errors import CadenzaError, PluginError, StoreReadOnlyError, WorkflowError
from ._exit import ExitCode

if TYPE_CHECKING:  # imported where used: the CLI starts without the journal or plugins
    from .._journal._store import Store
    from .._plugins._registry import Plugins

P = ParamSpec("P")
R = TypeVar("R")


@attrs.define
class CliState:
    """Shared by all commands through ``click.Context.obj``."""

    debug: bool = False
    plugins: Plugins | None = None
    stdout: TextIO | None = None
    """The real stdout while :func:`stdout_kept_for_output` sends the rest to stderr."""
    start_logging: Callable[[], None] | None = None
    """Set by ``main``: configures logging before plugins load or a command runs."""
    plugin_commands_added: bool = False
    """Whether this invocation loaded plugins for their ``cadenza_commands``."""


def get_state() -> CliState:
    ctx = click.get_current_context()
    state = ctx.find_object(CliState)
    if state is None:  # a command invoked outside the group (tests)
        state = ctx.ensure_object(CliState)
    return state


def get_plugins() -> Plugins:
    """The plugins loaded for this invocation (loaded on first use)."""
    state = get_state()
    if state.plugins is None:
        from .._plugins._registry import load_plugins

        state.plugins = load_plugins()
    return state.plugins


# -- the journal's location -----------------------------------------------------------


def journal_url(store_url: str | None) -> str:
    """The journal a command uses, as an absolute URL.

    ``--store`` is used as given, a relative path made absolute from the
    working directory; without it, the nearest ``.cadenza/journal.db`` at or
    above the working directory (:func:`~cadenza._journal._sqlite.find_journal`).
    """
    from .._journal._sqlite import absolute_url, find_journal

    if store_url is None:
        return f"sqlite:///{find_journal()}"
    return absolute_url(store_url)


def command_name() -> str:
    """The running command's name (``cancel``), for messages; ``cadenza`` outside click."""
    ctx = click.get_current_context(silent=True)
    return ctx.info_name if ctx is not None and ctx.info_name else "cadenza"


def for_this_command(error: StoreReadOnlyError) -> StoreReadOnlyError:
    """``error`` saying that the running command (``cancel``) is what needs write access."""
    return StoreReadOnlyError(error.path, reason=error.reason, action=command_name(), url=error.url)


def require_writable(store: Store) -> None:
    """Refuse (exit 2) to start a command that writes runs when the journal is read-only."""
    if getattr(store, "read_only", False):
        raise StoreReadOnlyError(
            str(getattr(store, "path", store.url)),
            reason=getattr(store, "read_only_reason", "") or "opened read-only",
            action=command_name(),
            url=store.url,
        )


def fail(message: str, code: ExitCode) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code``."""
    click.echo(message, err=True)
    sys.exit(int(code))


def _single_cadenza_error(exc: BaseException) -> CadenzaError | None:
    """The Cadenza error inside a trio exception group, when that is all the group holds."""
    if isinstance(exc, CadenzaError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        leaves = [_single_cadenza_error(e) for e in exc.exceptions]
        if leaves and all(leaf is not None for leaf in leaves):
            return leaves[0]
    return None


def _exit_code(exc: CadenzaError) -> tuple[str, ExitCode]:
    if isinstance(exc, WorkflowError):
        return exc.render(), ExitCode.BAD_INPUT
    if isinstance(exc, PluginError):
        return f"plugin error: {exc}", ExitCode.PLUGIN_ERROR
    return f"error: {exc}", ExitCode.BAD_INPUT


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn Cadenza errors into a message and a documented exit code.

    Errors raised inside a trio run arrive wrapped in exception groups; they are
    unwrapped first. With ``--debug`` the traceback is printed too, and the exit
    code stays the documented one.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (CadenzaError, BaseExceptionGroup) as exc:
            error = _single_cadenza_error(exc)
            if error is None:
                raise
            if get_state().debug:
                traceback.print_exception(exc, file=sys.stderr)
            message, code = _exit_code(error)
            fail(message, code)

    return wrapper


@contextlib.contextmanager
def stdout_kept_for_output(state: CliState) -> Iterator[None]:
    """Send whatever is printed on stdout to stderr, except the command's :func:`echo_json`.

    Plugin code runs inside commands (imported, registering, observing,
    running agents) and may ``print``; machine output must stay parseable,
    so the real stdout is kept in ``state.stdout`` for :func:`echo_json` alone.
    """
    if state.stdout is not None:  # already kept by an outer call
        yield
        return
    state.stdout = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        state.stdout = None


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON on the command's stdout (the real one, see above)."""
    import json

    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    out = state.stdout if state is not None else None
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str), file=out)
