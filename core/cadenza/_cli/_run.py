"""``cadenza run``: load, validate and run a workflow with live progress."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from .._errors import WorkflowError
from .._loader import load_workflow, resolve_inputs
from .._problems import Problem, SourceLocation
from .._spec import Workflow
from .._store import open_store
from .._yaml import parse_yaml
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


_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
)


def _kind(value: Any) -> str:
    """``a boolean``, ``an integer``, ... (bool before int: True is an int too)."""
    if value is None:
        return "null"
    return next((name for cls, name in _KINDS if isinstance(value, cls)), type(value).__name__)


def _input_location(workflow: Workflow, name: str) -> SourceLocation | None:
    """Where input ``name`` is declared in the workflow file, when it is there to find."""
    if not workflow.source_text:
        return None
    doc = parse_yaml(workflow.source_text, filename=str(workflow.source or "<workflow>"))
    if ("inputs", name) not in doc.keys:
        return None
    return doc.locate(("inputs", name, "default"))


def _typed(name: str, typed: Any, text: str, default: Any) -> Any:
    """``--set name=text`` (parsed: ``typed``) as the type of the input's default.

    Returns the value to use, or raises ``ValueError`` with how to fix it. A
    boolean, integer or number default takes only a value of that type (an
    integer does for a number); a string default takes the text as typed.
    Inputs without a default, or with a list or mapping default, take any value.
    """
    if isinstance(default, bool):
        if isinstance(typed, bool):
            return typed
        raise ValueError(f"Pass --set {name}=true or --set {name}=false.")
    if isinstance(default, int):
        if isinstance(typed, int) and not isinstance(typed, bool):
            return typed
        raise ValueError(f"Pass a whole number, e.g. --set {name}={default}.")
    if isinstance(default, float):
        if isinstance(typed, int | float) and not isinstance(typed, bool):
            return float(typed)
        raise ValueError(f"Pass a number, e.g. --set {name}={default}.")
    if isinstance(default, str):
        return typed if isinstance(typed, str) else text
    return typed


def _check_set_types(
    workflow: Workflow, sets: Mapping[str, str], inputs: dict[str, Any]
) -> dict[str, Any]:
    """The run's inputs with every ``--set`` value checked against its input's default.

    A value that does not fit (``--set publish=1`` for ``publish: false``) would
    fail the run halfway, in the first expression that reads it; it is refused
    here instead, before anything runs, with every such problem at once.
    """
    problems: list[Problem] = []
    checked = dict(inputs)
    for name, text in sets.items():
        spec = workflow.inputs.get(name)
        if spec is None or spec.default is None:
            continue
        try:
            checked[name] = _typed(name, inputs[name], text, spec.default)
        except ValueError as exc:
            shown = "true" if spec.default is True else "false" if spec.default is False else None
            default = shown if shown is not None else repr(spec.default)
            problems.append(
                Problem(
                    message=(
                        f"input {name!r} is {_kind(spec.default)} (its default is {default}), "
                        f"but the value {text!r} is {_kind(inputs[name])}"
                    ),
                    path=f"--set {name}",
                    location=_input_location(workflow, name),
                    hint=str(exc),
                )
            )
    if problems:
        raise WorkflowError(problems)
    return checked


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
    inputs = _check_set_types(
        loaded.workflow, overrides, resolve_inputs(loaded.workflow, overrides)
    )
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
