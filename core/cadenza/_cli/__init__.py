"""The ``cadenza`` command line.

Built-in commands live one per module in this package; plugins add commands
through the ``cadenza_commands`` hook. ``main`` maps every failure to a
documented exit code (see ``_exit.ExitCode``) and never shows a traceback for
user errors unless ``--debug`` is given. It is also where plugin code is kept
off stdout: while plugins load, and for the whole of a built-in command given
``--json``, whatever is printed goes to stderr and only the JSON to stdout.

Start-up stays cheap: ``cadenza --help`` and ``--version`` import neither a
command module nor the loader, scheduler, CEL, jsonschema, rich or plugins.
A built-in command's module is imported when that command runs; plugins load
when a command needs them, or for ``--help`` when plugin distributions are
installed (their commands are listed).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence

import click

from .._errors import CadenzaError
from .._version import __version__
from ._common import CliState, _exit_code, stdout_kept_for_output
from ._exit import ExitCode

BUILTIN_COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("_run_cmd", "run", "Run the workflow in FILE and report what happened."),
    "resume": (
        "_resume_cmd",
        "resume",
        "Finish run RUN: steps that succeeded keep their outputs, the rest run again.",
    ),
    "submit": (
        "_submit_cmd",
        "submit",
        "Queue a run of the workflow in FILE for `cadenza worker` processes; print its run id.",
    ),
    "worker": (
        "_worker_cmd",
        "worker",
        "Claim queued runs from the journal and run them, until stopped (Ctrl-C, SIGTERM).",
    ),
    "runs": ("_runs_cmd", "runs", "List recent runs in the journal, most recent first."),
    "status": (
        "_status_cmd",
        "status",
        "Show run RUN and the state of each of its steps, from the journal.",
    ),
    "report": (
        "_report_cmd",
        "report",
        "Explain where run RUN spent its time and money, and what to change.",
    ),
    "cancel": (
        "_cancel_cmd",
        "cancel",
        "Cancel run RUN, running in another process; it stops within a second.",
    ),
    "approve": (
        "_approve_cmd",
        "approve",
        "Approve (or --reject) the approval gate of step STEP in run RUN.",
    ),
    "serve": (
        "_serve_cmd",
        "serve",
        "Serve a web dashboard of the journal's runs: live DAGs, steps, cancel, /metrics.",
    ),
    "validate": (
        "_validate_cmd",
        "validate",
        "Check the workflow file FILE without running anything.",
    ),
    "graph": (
        "_graph_cmd",
        "graph",
        "Print the step graph of the workflow in FILE: each step with what it uses, "
        "arrows from a step to the steps that need it.",
    ),
    "simulate": (
        "_simulate_cmd",
        "simulate_cmd",
        "Predict the makespan, cost and critical path of the workflow in FILE without running it.",
    ),
    "plugins": (
        "_plugins_cmd",
        "plugins",
        "List installed plugins: version, status, hooks, registrations and load errors.",
    ),
    "plugin": ("_plugin_cmd", "plugin", "Create plugins: `cadenza plugin new NAME`."),
}
"""Built-in command name -> (module in this package, attribute, short help for ``--help``).

The short help is the first sentence of the command's docstring, kept here so
``cadenza --help`` imports no command module (a test checks they agree).
"""


def _builtin_command(name: str) -> click.Command:
    module_name, attribute, _ = BUILTIN_COMMANDS[name]
    command: click.Command = getattr(
        importlib.import_module(f"{__name__}.{module_name}"), attribute
    )
    return command


class _LazyGroup(click.Group):
    """A group that imports a built-in command when it runs and loads plugins when needed."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in BUILTIN_COMMANDS:
            command = _builtin_command(cmd_name)
            self.add_command(command, cmd_name)
            return command
        _load_plugin_commands(ctx)
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        if _plugin_distributions_installed():
            _load_plugin_commands(ctx)
        return sorted(set(BUILTIN_COMMANDS) | set(self.commands))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, with built-in commands described from :data:`BUILTIN_COMMANDS`."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None and name in BUILTIN_COMMANDS:
                command = click.Command(name, help=BUILTIN_COMMANDS[name][2])
            if command is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(__version__, prog_name="cadenza")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run AI workflows: DAGs of agent steps with retries, limits and live progress."""
    state = ctx.ensure_object(CliState)
    state.debug = debug
    _start_logging(state)


def _start_logging(state: CliState) -> None:
    """Configure logging as :func:`main` asked, once (test invocations leave logging alone)."""
    if state.start_logging is not None:
        start, state.start_logging = state.start_logging, None
        start()


def _add_builtin_commands() -> None:
    """Import every built-in command into ``cli`` (tests; ``main`` imports them one by one)."""
    for name in BUILTIN_COMMANDS:
        cli.add_command(_builtin_command(name), name)


def _plugin_distributions_installed() -> bool:
    """Whether plugin distributions may add commands, read from metadata without importing.

    False when no distribution declares a ``cadenza`` entry point, or when
    ``CADENZA_LOAD_PLUGINS`` is set and empty (load none); the built-in plugins
    register no commands.
    """
    import os

    if os.environ.get("CADENZA_LOAD_PLUGINS") == "":  # _plugins._registry.LOAD_PLUGINS_ENV
        return False
    from .._plugins._entry_points import entry_points

    return bool(entry_points("cadenza"))


_plugin_command_names: set[str] = set()


def _load_plugin_commands(ctx: click.Context) -> None:
    """Load plugins once per invocation and add their commands, stdout kept for output."""
    state = ctx.find_object(CliState)
    if state is None:
        state = ctx.ensure_object(CliState)
    if state.plugin_commands_added:
        return
    state.plugin_commands_added = True
    _start_logging(state)  # plugins' logs (CADENZA_TRACE_HOOKS) go to stderr
    with stdout_kept_for_output(state):  # a plugin printing at import never reaches stdout
        _add_plugin_commands(state)


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
        if name in BUILTIN_COMMANDS or name in cli.commands:
            click.echo(
                f"warning: {reg.plugin} registers a command {name!r}, which is a built-in "
                "command; the plugin's command is ignored.",
                err=True,
            )
            continue
        cli.add_command(reg.obj, name)
        _plugin_command_names.add(name)


GC_THRESHOLD = (20_000, 20, 20)
"""The ``cadenza`` process's garbage-collector thresholds (Python's default: 700, 10, 10).

With the defaults, a ``cadenza run`` of 1,000 steps spends an eighth of its
CPU time in ~300 collections, most of them walking the tens of thousands of
objects its imports made, which live as long as the process. Collecting less
often (as mypy's command line does) brings that to ~10 collections; cycles
are still collected, later. The library leaves the collector alone.
"""


def _freeze_heap_at_exit() -> None:
    """At interpreter exit, move every object to the collector's permanent generation.

    Everything has been done and flushed by then: the command returned (its
    journal closed, its output printed), and exit still runs the other
    ``atexit`` handlers, flushes stdout and stderr and tears modules down,
    freeing what is not in a reference cycle. What ``gc.freeze()`` saves is
    the collector walking, at shutdown, the hundreds of thousands of objects
    a run leaves (its imports, a 1,000-step workflow and its outcomes): a
    tenth of a second of every ``cadenza run``. Objects in cycles are then
    left to the operating system, as Python never promised their ``__del__``
    at exit. Registered by :func:`main` only, so an application calling
    ``main`` keeps its collector until it exits.
    """
    gc.freeze()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cadenza`` script."""
    gc.set_threshold(*GC_THRESHOLD)
    atexit.unregister(_freeze_heap_at_exit)  # once, however often main runs in this process
    atexit.register(_freeze_heap_at_exit)  # runs before the atexit handlers registered earlier
    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args

    def start_logging() -> None:  # before plugins load or a command runs, not for --help
        from .._logging import configure_logging_on_import

        configure_logging_on_import(level=logging.DEBUG if debug else logging.WARNING)

    state = CliState(start_logging=start_logging)
    keep_stdout = stdout_kept_for_output(state) if _prints_json(args) else contextlib.nullcontext()
    try:
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
    return bool(names) and names[0] in BUILTIN_COMMANDS and "--json" in words
