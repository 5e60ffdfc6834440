"""The ``cadenza`` command line.

Built-in commands live one per module in this package; plugins add commands
through the ``cadenza_commands`` hook. ``main`` maps every failure to a
documented exit code (see ``_exit.ExitCode``) and never shows a traceback for
user errors unless ``--debug`` is given. It is also where plugin code is kept
off stdout: while plugins load, and for the whole of a built-in command given
``--json``, whatever is printed goes to stderr and only the JSON to stdout.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Sequence

import click

from cadenza._logging import configure_logging

from .._errors import CadenzaError
from .._version import __version__
from ._common import CliState, _exit_code, stdout_kept_for_output
from ._exit import ExitCode


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(__version__, prog_name="cadenza")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run AI workflows: DAGs of agent steps with retries, limits and live progress."""
    ctx.ensure_object(CliState).debug = debug


def _add_builtin_commands() -> None:
    from ._cancel_cmd import cancel
    from ._graph_cmd import graph
    from ._plugin_cmd import plugin
    from ._plugins_cmd import plugins
    from ._report_cmd import report
    from ._resume_cmd import resume
    from ._run_cmd import run
    from ._runs_cmd import runs
    from ._serve_cmd import serve
    from ._simulate_cmd import simulate_cmd
    from ._status_cmd import status
    from ._validate_cmd import validate

    commands: list[click.Command] = [run, resume, runs, status, report, cancel, serve]
    commands += [validate, graph, simulate_cmd, plugins, plugin]
    for command in commands:
        cli.add_command(command)
        _builtin_command_names.add(command.name or "")


_builtin_command_names: set[str] = set()


_plugin_command_names: set[str] = set()


def _add_plugin_commands(state: CliState) -> None:
    """Add the commands plugins register through ``cadenza_commands``.

    A broken plugin never breaks the CLI: if loading fails here, the commands
    that need plugins load them again and report the problem with its exit
    code (``cadenza plugins`` lists every plugin that failed or was refused).
    """
    from cadenza._plugins._registry import load_plugins

    for name in _plugin_command_names:  # added by an earlier main() in this process
        cli.commands.pop(name, None)
    _plugin_command_names.clear()
    try:
        state.plugins = load_plugins()
    except Exception:  # reported by the command that needs plugins; see docstring
        return
    for name, reg in state.plugins.registered("cadenza_commands").items():
        if name in cli.commands:
            click.echo(
                f"warning: {reg.plugin} registers a command {name!r}, which is a built-in "
                "command; the plugin's command is ignored.",
                err=True,
            )
            continue
        cli.add_command(reg.obj, name)
        _plugin_command_names.add(name)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cadenza`` script."""
    _add_builtin_commands()
    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args
    # Plugins load before any command runs: send their logs (CADENZA_TRACE_HOOKS) to stderr.
    configure_logging(level=logging.DEBUG if debug else logging.WARNING)
    state = CliState()
    keep_stdout = stdout_kept_for_output(state) if _prints_json(args) else contextlib.nullcontext()
    try:
        with stdout_kept_for_output(state):  # a plugin printing at import never reaches stdout
            _add_plugin_commands(state)
        with keep_stdout:
            code = cli.main(args=args, prog_name="cadenza", standalone_mode=False, obj=state)
    except click.exceptions.Abort:  # click's name for Ctrl-C at a prompt or outside a run
        click.echo("interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.ClickException as exc:  # usage errors: bad option, missing file
        exc.show()
        sys.exit(int(ExitCode.BAD_INPUT))
    except CadenzaError as exc:  # from a plugin's command (project_config): built-ins handle theirs
        message, code = _exit_code(exc)
        click.echo(message, err=True)
        sys.exit(int(code))
    except Exception as exc:  # a bug, not a user error: say so and how to report it
        if debug:
            traceback.print_exc()
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  This is a bug in Cadenza or a plugin. Rerun with --debug for the traceback.",
            err=True,
        )
        sys.exit(int(ExitCode.INTERNAL_ERROR))
    sys.exit(code if isinstance(code, int) else 0)


def _prints_json(args: Sequence[str]) -> bool:
    """Whether ``args`` ask a built-in command for ``--json`` output.

    Plugin commands are left alone: their stdout is their own output.
    """
    words = args[: args.index("--")] if "--" in args else args
    names = [word for word in words if not word.startswith("-")]
    return bool(names) and names[0] in _builtin_command_names and "--json" in words
