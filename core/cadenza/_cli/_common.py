"""What every command shares: the CLI state object and turning errors into exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec, TypeVar

import attrs
import click

from .._errors import CadenzaError, PluginError, WorkflowError
from .._plugins import Plugins
from ._exit import ExitCode

P = ParamSpec("P")
R = TypeVar("R")


@attrs.define
class CliState:
    """Shared by all commands through ``click.Context.obj``."""

    debug: bool = False
    plugins: Plugins | None = None


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
        from .._plugins import load_plugins

        state.plugins = load_plugins()
    return state.plugins


def fail(message: str, code: ExitCode) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code``."""
    click.echo(message, err=True)
    sys.exit(int(code))


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn Cadenza errors into a message and a documented exit code (tracebacks with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except WorkflowError as exc:
            if get_state().debug:
                raise
            fail(exc.render(), ExitCode.BAD_INPUT)
        except PluginError as exc:
            if get_state().debug:
                raise
            fail(f"plugin error: {exc}", ExitCode.PLUGIN_ERROR)
        except CadenzaError as exc:
            if get_state().debug:
                raise
            fail(f"error: {exc}", ExitCode.BAD_INPUT)

    return wrapper


def echo_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
