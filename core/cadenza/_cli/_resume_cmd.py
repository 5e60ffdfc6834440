"""``cadenza resume RUN``: finish an interrupted or failed run from its journal."""

from __future__ import annotations

import click

from .._load._loader import load_workflow
from .._scheduler._resume import plan_resume
from ._common import fail, get_plugins, handle_errors
from ._execute import Display, default_output_dir, execute, store_option
from ._exit import ExitCode
from ._history import existing_store, require_run


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--from", "from_step", metavar="STEP", help="Re-run STEP and everything after it.")
@click.option(
    "--allow-changed", is_flag=True, help="Resume even if the workflow file changed since."
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.option("--no-progress", is_flag=True, help="Do not show live progress.")
@click.option("--no-cache", is_flag=True, help="Ignore cached outputs (cache: steps run anew).")
@click.option("--strict", is_flag=True, help="No fallbacks: a step whose agents failed fails.")
@click.option(
    "--force",
    is_flag=True,
    help="Resume a run marked running on another host (only if its process is gone).",
)
@store_option
@click.option(
    "--out",
    "out_dir",
    metavar="DIR",
    default=None,
    help="Folder for the files agents write ({run_id} is replaced). "
    "Default: the run's own folder, where it wrote before.",
)
@handle_errors
def resume(
    run_id: str,
    from_step: str | None,
    allow_changed: bool,
    as_json: bool,
    no_progress: bool,
    no_cache: bool,
    strict: bool,
    force: bool,
    store_url: str | None,
    out_dir: str | None,
) -> None:
    """Finish run RUN: steps that succeeded keep their outputs, the rest run again.

    Steps that were in flight when the run stopped are called again with the
    same idempotency key. The workflow file must be unchanged (or pass
    --allow-changed). Agents write files into the run's own output folder
    (the one it used before) unless --out says otherwise. Exit codes as for
    `cadenza run`.
    """
    plugins = get_plugins()
    with existing_store(store_url) as store:
        record = require_run(store, run_id, store_url)
        assert store is not None
        if not record.source:
            fail(
                f"error: run {run_id} was not started from a workflow file; it cannot be resumed "
                "from the command line.",
                ExitCode.BAD_INPUT,
            )
        loaded = load_workflow(record.source, plugins=plugins, workflow=record.workflow)
        plan = plan_resume(
            store,
            run_id,
            loaded.workflow,
            from_step=from_step,
            allow_changed=allow_changed,
            force=force,
        )
        execute(
            loaded.workflow,
            plugins,
            inputs=plan.record.inputs,
            display=Display(as_json=as_json, progress=not no_progress),
            store=store,
            resume=plan,
            use_cache=not no_cache,
            strict=strict,
            output_dir=out_dir or plan.output_dir or default_output_dir(),
        )
