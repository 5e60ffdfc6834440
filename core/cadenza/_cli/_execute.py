"""What ``cadenza run`` and ``cadenza resume`` share: executing a run in a terminal.

Live progress on stderr, Ctrl-C/SIGTERM handling (the first signal cancels the
run cleanly, a second stops at once), the journal store, and the summary or
``--json`` on stdout with the documented exit code.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

import attrs
import click
import trio

from .._journal._sqlite import find_journal
from .._journal._store import Store
from .._logging import add_secrets, configure_logging_on_import
from .._plugins._registry import Plugins
from .._scheduler._resume import ResumePlan
from .._scheduler._runner import RunHandle, run_workflow
from .._spec._outcome import RunResult
from .._spec._workflow import Workflow
from ._common import echo_json, get_state, require_writable
from ._console import stderr_console
from ._exit import ExitCode
from ._progress import Progress, summary_text

store_option = click.option(
    "--store",
    "store_url",
    metavar="URL",
    default=None,
    help="Journal store: an SQLite file or URL (default: .cadenza/journal.db in the nearest "
    "folder at or above the working directory that has one, else in the working directory).",
)


@attrs.frozen(kw_only=True)
class Display:
    """How the user asked to see the run."""

    as_json: bool = False
    progress: bool = True
    seed: int | None = None


async def _watch_signals(receiver: Any, handle: RunHandle, outer: trio.CancelScope) -> None:
    async for signum in receiver:
        name = signal.Signals(signum).name
        if handle.cancel_requested:
            outer.cancel()
            return
        handle.cancel(f"interrupted by {name}")


async def _main(
    workflow: Workflow,
    plugins: Plugins,
    inputs: Mapping[str, Any],
    progress: Progress | None,
    options: dict[str, Any],
) -> RunResult | None:
    box: list[RunResult] = []
    observers = [progress.observe] if progress is not None else []
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as receiver:
        async with trio.open_nursery() as nursery:

            async def runner(*, task_status: trio.TaskStatus[RunHandle]) -> None:
                box.append(
                    await run_workflow(
                        workflow,
                        plugins=plugins,
                        inputs=inputs,
                        observers=observers,
                        task_status=task_status,
                        **options,
                    )
                )
                nursery.cancel_scope.cancel()

            handle: RunHandle = await nursery.start(runner)
            nursery.start_soon(_watch_signals, receiver, handle, nursery.cancel_scope)
            if progress is not None and progress.live:
                nursery.start_soon(progress.keep_fresh)
    return box[0] if box else None


DEFAULT_OUTPUT_DIR = ".cadenza/out/{run_id}"
"""Where a run's agents write files, relative to the project (see :func:`default_output_dir`)."""


def default_output_dir() -> str:
    """The output folder without ``--out``: ``out/{run_id}`` beside the project's journal.

    The project is found as the journal is (:func:`find_journal`, upward from
    the working directory), so a run started in a subfolder keeps its files
    with the project's other runs instead of a new ``.cadenza/`` there.
    """
    return str(find_journal().parent / "out" / "{run_id}")


out_option = click.option(
    "--out",
    "out_dir",
    metavar="DIR",
    default=None,
    show_default=".cadenza/out/{run_id} in the project, beside its journal",
    help="Folder for the files agents write, one subfolder per step ({run_id} is replaced).",
)


def execute(
    workflow: Workflow,
    plugins: Plugins,
    *,
    inputs: Mapping[str, Any],
    display: Display,
    store: Store | None,
    resume: ResumePlan | None = None,
    use_cache: bool = True,
    strict: bool = False,
    output_dir: str = DEFAULT_OUTPUT_DIR,
) -> None:
    """Run ``workflow``, show it, print the outcome and exit with the documented code."""
    if store is not None and getattr(store, "read_only", False):
        store.close()
        require_writable(store)  # exit 2 before anything runs
    state = get_state()
    # The progress display reports every failure; logs would only repeat it.
    quiet = logging.ERROR if display.progress else logging.WARNING
    configure_logging_on_import(level=logging.DEBUG if state.debug else quiet)
    add_secrets(workflow.secrets)
    err = stderr_console()  # rich only on a terminal
    progress = None
    if display.progress:
        progress = Progress(
            workflow=workflow, console=err, live=err.is_terminal and not state.debug
        )
    options: dict[str, Any] = {
        "store": store,
        "resume": resume,
        "use_cache": use_cache,
        "strict": strict,
        "output_dir": os.path.abspath(output_dir),  # {run_id} survives: the runner fills it
    }
    if display.seed is not None:
        options["rng"] = random.Random(display.seed)
    with ExitStack() as stack:
        if progress is not None:
            stack.enter_context(progress)
        result = trio.run(_main, workflow, plugins, inputs, progress, options)
    if store is not None:
        store.close()
    if result is None:  # a second signal stopped everything at once
        click.echo("interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    if display.as_json:
        echo_json(result.to_dict())
    else:
        click.echo(summary_text(result, workflow))
        if result.output_dir and os.path.isdir(result.output_dir):
            click.echo(f"files written to {result.output_dir}")
        if store is not None and result.status != "succeeded":
            click.echo(f"resume with: cadenza resume {result.run_id}")
    if result.status == "cancelled":
        sys.exit(int(ExitCode.INTERRUPTED))
    if result.status == "failed":
        sys.exit(int(ExitCode.RUN_FAILED))
