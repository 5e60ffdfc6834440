"""``cadenza run``: load, validate and run a workflow with live progress."""

from __future__ import annotations

from pathlib import Path

import click

from .._journal._store import open_store
from .._load._loader import check_set_types, load_workflow, resolve_inputs
from ._common import fail, get_plugins, handle_errors, journal_url
from ._execute import Display, default_output_dir, execute, out_option, store_option
from ._exit import ExitCode


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
@store_option
@click.option("--no-journal", is_flag=True, help="Do not journal the run (it cannot be resumed).")
@click.option("--no-cache", is_flag=True, help="Ignore cached outputs (cache: steps run anew).")
@click.option("--strict", is_flag=True, help="No fallbacks: a step whose agents failed fails.")
@out_option
@handle_errors
def run(
    file: Path,
    workflow_name: str | None,
    sets: tuple[str, ...],
    as_json: bool,
    no_progress: bool,
    seed: int | None,
    store_url: str | None,
    no_journal: bool,
    no_cache: bool,
    strict: bool,
    out_dir: str | None,
) -> None:
    """Run the workflow in FILE and report what happened.

    The run is journaled (see --store), so an interrupted or failed run can be
    finished with `cadenza resume RUN`. Exit codes: 0 no step failed, 1 a step
    failed, 2 bad input, 3 plugin error, 130 interrupted.
    """
    plugins = get_plugins()
    loaded = load_workflow(file, plugins=plugins, workflow=workflow_name)
    for warning in loaded.warnings:
        click.echo(warning.render(), err=True)
    overrides = _parse_sets(sets)
    inputs = check_set_types(loaded.workflow, overrides, resolve_inputs(loaded.workflow, overrides))
    if no_journal and store_url:
        fail("error: --store and --no-journal contradict each other", ExitCode.BAD_INPUT)
    store = None
    if not no_journal:
        store = open_store(journal_url(store_url), plugins.registered("cadenza_stores"))
    execute(
        loaded.workflow,
        plugins,
        inputs=inputs,
        display=Display(as_json=as_json, progress=not no_progress, seed=seed),
        store=store,
        use_cache=not no_cache,
        strict=strict,
        output_dir=out_dir or default_output_dir(),
    )
