"""``cadenza run``: load, validate and run a workflow with live progress."""

from __future__ import annotations

import logging
import random
import signal
import sys
from pathlib import Path
from typing import Any

import click
import trio
from rich.console import Console

from .._loader import load_workflow, resolve_inputs
from .._logging import add_secrets, configure_logging
from .._outcome import RunResult
from .._plugins import Plugins
from .._runner import RunHandle, run_workflow
from .._spec import Workflow
from ._common import echo_json, fail, get_plugins, get_state, handle_errors
from ._exit import ExitCode
from ._progress import Progress, summary_text


def _parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(
                f"error: --set {item!r}: expected NAME=VALUE, e.g. --set topic=trio",
                ExitCode.BAD_INPUT,
            )
        out[name.strip()] = value
    return out


async def _watch_signals(receiver: Any, handle: RunHandle, outer: trio.CancelScope) -> None:
    """First Ctrl-C/SIGTERM cancels the run cleanly; a second one stops at once."""
    async for signum in receiver:
        name = signal.Signals(signum).name
        if handle.cancel_requested:
            outer.cancel()
            return
        handle.cancel(f"interrupted by {name}")


async def _run_main(
    workflow: Workflow,
    plugins: Plugins,
    inputs: dict[str, Any],
    progress: Progress | None,
    seed: int | None,
) -> RunResult | None:
    box: list[RunResult] = []
    observers = [progress.observe] if progress is not None else []
    rng = random.Random(seed) if seed is not None else None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as receiver:
        async with trio.open_nursery() as nursery:

            async def runner(*, task_status: trio.TaskStatus[RunHandle]) -> None:
                box.append(
                    await run_workflow(
                        workflow,
                        plugins=plugins,
                        inputs=inputs,
                        observers=observers,
                        rng=rng,
                        task_status=task_status,
                    )
                )
                nursery.cancel_scope.cancel()

            handle: RunHandle = await nursery.start(runner)
            nursery.start_soon(_watch_signals, receiver, handle, nursery.cancel_scope)
            if progress is not None and progress.live:
                nursery.start_soon(progress.keep_fresh)
    return box[0] if box else None


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--workflow", "workflow_name", metavar="NAME", help="Workflow to run, for files with several."
)
@click.option(
    "--set", "sets", multiple=True, metavar="NAME=VALUE", help="Set a run input (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.option("--no-progress", is_flag=True, help="Do not show live progress.")
@click.option("--seed", type=int, default=None, help="Seed retry jitter, for reproducible runs.")
@handle_errors
def run(
    file: Path,
    workflow_name: str | None,
    sets: tuple[str, ...],
    as_json: bool,
    no_progress: bool,
    seed: int | None,
) -> None:
    """Run the workflow in FILE and report what happened.

    Exit codes: 0 all steps succeeded (or were skipped by when:), 1 a step failed,
    2 bad input, 3 plugin error, 130 interrupted.
    """
    state = get_state()
    # The progress display reports every failure; logs would only repeat it.
    quiet = logging.ERROR if not no_progress else logging.WARNING
    configure_logging(level=logging.DEBUG if state.debug else quiet)
    plugins = get_plugins()
    loaded = load_workflow(file, plugins=plugins, workflow=workflow_name)
    workflow = loaded.workflow
    add_secrets(workflow.secrets)
    for warning in loaded.warnings:
        click.echo(warning.render(), err=True)
    inputs = resolve_inputs(workflow, _parse_sets(sets))

    err = Console(stderr=True, highlight=False)
    progress = None
    if not no_progress:
        progress = Progress(
            workflow=workflow, console=err, live=err.is_terminal and not state.debug
        )
    if progress is not None:
        with progress:
            result = trio.run(_run_main, workflow, plugins, inputs, progress, seed)
    else:
        result = trio.run(_run_main, workflow, plugins, inputs, progress, seed)

    if result is None:  # a second signal stopped everything at once
        click.echo("interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(summary_text(result, workflow))
    if result.status == "cancelled":
        sys.exit(int(ExitCode.INTERRUPTED))
    if result.status == "failed":
        sys.exit(int(ExitCode.RUN_FAILED))
