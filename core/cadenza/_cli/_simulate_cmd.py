"""``cadenza simulate``: predict the makespan, cost and critical path of a run without it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import structlog

from cadenza._insight._sim_model_file import parse_model_file
from cadenza._insight._sim_resolve import LEARN_RUNS, learn_models, resolve_models
from cadenza._insight._simulate import render_report, simulate
from cadenza._load._loader import check_set_types, load_workflow, parse_input_value

from ._common import echo_json, fail, get_plugins, get_state, handle_errors, journal_url
from ._execute import store_option
from ._exit import ExitCode
from ._history import existing_store


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """Simulated failures are not news: log only errors while simulating (unless --debug)."""
    if get_state().debug:
        yield
        return
    previous = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        yield
    finally:
        structlog.configure(**previous)


@click.command("simulate")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "--workflow",
    "workflow_name",
    metavar="NAME",
    help="Workflow to simulate (several in FILE).",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Agent models: latency distribution, failure rate, tokens, price per agent (or '*').",
)
@click.option(
    "--learn",
    is_flag=True,
    help=f"Fit agents from the journal: the workflow's last {LEARN_RUNS} runs.",
)
@store_option
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=None,
    help="Monte-Carlo repetitions (default 1 when every model is fixed, else 20).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a run input (read by when: and with:); repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the prediction as JSON on stdout.")
@handle_errors
def simulate_cmd(
    file: Path,
    workflow_name: str | None,
    model_path: Path | None,
    learn: bool,
    store_url: str | None,
    runs: int | None,
    seed: int,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Predict the makespan, cost and critical path of the workflow in FILE without running it.

    The real scheduler runs on a virtual clock with modelled agents (from
    --model, --learn or defaults: 1s per call, no failures, and the tokens
    and cost a real run estimates from with: and each agent's price:), so a
    workflow that takes hours simulates in well under a second. No agent is
    called. Every assumed parameter is listed with where it came from.

    Exit codes: 0 predicted, 2 invalid workflow or model file, 3 plugin error.
    """
    plugins = get_plugins()
    # No agent is called, so no secret is needed: an unset ${NAME} is only a warning.
    loaded = load_workflow(file, plugins=plugins, workflow=workflow_name, missing_env="warning")
    for warning in loaded.warnings:
        click.echo(warning.render(), err=True)
    workflow = loaded.workflow
    model_file = parse_model_file(model_path) if model_path is not None else None
    notes: list[str] = []
    learned = None
    if learn:
        with existing_store(store_url) as store:
            if store is None:
                notes.append(f"--learn: no journal at {journal_url(store_url)}")
            else:
                learned = learn_models(store, workflow)
                if not learned:
                    notes.append(f"--learn: the journal has no calls of workflow {workflow.name}")
    models, model_notes = resolve_models(workflow, model_file=model_file, learned=learned)
    notes.extend(model_notes)
    inputs = _inputs(workflow, overrides, notes)
    with _quiet_logs():
        report = simulate(
            workflow,
            plugins=plugins,
            models=models,
            inputs=inputs,
            runs=runs,
            seed=seed,
            notes=notes,
        )
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(render_report(report))


def _inputs(workflow: Any, overrides: tuple[str, ...], notes: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    sets: dict[str, str] = {}
    for name, spec in workflow.inputs.items():
        if not spec.required:
            values[name] = spec.default
    for pair in overrides:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            fail(f"error: --set {pair!r}: expected NAME=VALUE", ExitCode.BAD_INPUT)
        if name not in workflow.inputs:
            known = ", ".join(workflow.inputs) or "none"
            fail(f"error: --set {name}: unknown input (known: {known})", ExitCode.BAD_INPUT)
        values[name] = parse_input_value(value)
        sets[name] = value
    values = check_set_types(workflow, sets, values)  # --set publish=1 for a boolean: exit 2
    missing = [n for n, s in workflow.inputs.items() if s.required and n not in values]
    if missing:
        notes.append(
            f"required inputs not given ({', '.join(missing)}): when: conditions reading "
            "them are assumed true, with: values reading them are measured as written"
        )
    return values
