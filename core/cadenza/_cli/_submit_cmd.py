"""``cadenza submit FILE``: queue a run in a shared journal for ``cadenza worker`` processes."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .._ids import new_run_id
from .._journal._queue import QueueEntry, SupportsRunQueue, queue_unsupported
from .._journal._store import open_store
from .._load._loader import check_set_types, load_workflow, resolve_inputs
from .._redact import redact
from ._common import echo_json, fail, get_plugins, handle_errors, journal_url, require_writable
from ._execute import store_option
from ._exit import ExitCode
from ._run_cmd import _parse_sets


@click.command("submit")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--workflow", "workflow_name", metavar="NAME", help="Workflow to run, for files with several."
)
@click.option(
    "--set",
    "--input",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a run input (repeatable).",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Queue N runs of it, with the same inputs (one run id per line).",
)
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the queued runs as JSON on stdout.")
@handle_errors
def submit(
    file: Path,
    workflow_name: str | None,
    sets: tuple[str, ...],
    count: int,
    store_url: str | None,
    as_json: bool,
) -> None:
    """Queue a run of the workflow in FILE for `cadenza worker` processes; print its run id.

    The file is validated first (nothing is queued if it is invalid). The
    queue keeps the file's absolute path and its text: every worker loads the
    file at that path (sub-workflows and python functions beside it), so
    workers need the same files at the same path, unchanged. Exit codes: 0
    queued, 2 bad input or a store that cannot hold a queue.
    """
    plugins = get_plugins()
    loaded = load_workflow(file, plugins=plugins, workflow=workflow_name)
    for warning in loaded.warnings:
        click.echo(warning.render(), err=True)
    workflow = loaded.workflow
    overrides = _parse_sets(sets)
    inputs = check_set_types(workflow, overrides, resolve_inputs(workflow, overrides))
    store = open_store(journal_url(store_url), plugins.registered("cadenza_stores"))
    try:
        require_writable(store)
        if not isinstance(store, SupportsRunQueue):
            fail(f"error: {queue_unsupported(store)}", ExitCode.BAD_INPUT)
        source = redact(workflow.source_text, workflow.secrets)
        run_ids: list[str] = []
        for _ in range(count):
            entry = QueueEntry(
                run_id=new_run_id(),
                path=str(file.resolve()),
                source=source,
                workflow=workflow.name,
                inputs=inputs,
                submitted_at=time.time(),
            )
            store.submit(entry)
            run_ids.append(entry.run_id)
    finally:
        store.close()
    if as_json:
        echo_json({"run_ids": run_ids, "path": str(file.resolve()), "store": store.url})
    else:
        click.echo("\n".join(run_ids))
