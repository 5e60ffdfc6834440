"""Load workflow files (native and seed format) into validated :class:`Workflow` specs.

Loading never stops at the first problem: every check runs and every problem
is reported at once, each with file:line:col, the path of the offending value,
what is wrong and how to fix it (``WorkflowError.problems``). Warnings (a step
whose capability no configured agent serves) do not stop a file from loading.

This module is the loader's public face; the work is done by:

* ``_load_source``: read the file, parse the YAML, pick the format;
* ``_format_native``: the native format, top-level ``steps:`` and ``agents:``
  mappings (docs/workflow-reference.md);
* ``_format_seed``: the seed format, recognised by a top-level ``workflows:``
  key, with an ``agents:`` list served by the built-in ``http`` kind and named
  workflows whose ``steps:`` are lists;
* ``_load_agents``: what both formats share about agents and their options;
* ``_load_checks``: the checks that span steps (uses, needs, references, cycles);
* ``_load_context``: the problem collector they all report through.

``${NAME}`` inside strings of the ``agents`` section expands from the
environment; expanded values and literal ``api_key`` values become the agent's
``secrets`` and are redacted from every problem message.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import yaml

from .._errors import WorkflowError
from .._plugins._registry import Plugins
from .._problems import Problem, SourceLocation
from .._spec._inputs import CLI_INPUTS, run_inputs
from .._spec._workflow import Workflow
from .._yaml import parse_yaml
from ._checks import WELL_KNOWN_CAPABILITIES as WELL_KNOWN_CAPABILITIES
from ._source import (
    Checked,
    LoadRequest,
    check_data,
    check_file,
    check_text,
    name_from_filename,
)

__all__ = [
    "WELL_KNOWN_CAPABILITIES",
    "FileReport",
    "LoadResult",
    "check_set_types",
    "check_workflow_file",
    "load_workflow",
    "load_workflow_data",
    "load_workflow_text",
    "parse_input_value",
    "resolve_inputs",
]


@attrs.frozen(kw_only=True)
class LoadResult:
    """A loaded workflow, the warnings found loading it, and every workflow name in the file."""

    workflow: Workflow
    warnings: tuple[Problem, ...]
    workflows: tuple[str, ...]


@attrs.frozen(kw_only=True)
class FileReport:
    """What :func:`check_workflow_file` found: the workflows that loaded and every problem."""

    workflows: tuple[Workflow, ...]
    problems: tuple[Problem, ...]
    names: tuple[str, ...]

    @property
    def valid(self) -> bool:
        """True when no problem is an error (warnings alone leave a file valid)."""
        return not any(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """The problems that are only warnings."""
        return tuple(p for p in self.problems if p.severity == "warning")


def load_workflow(
    path: str | os.PathLike[str],
    *,
    plugins: Plugins,
    workflow: str | None = None,
    environ: Mapping[str, str] | None = None,
    missing_env: Literal["error", "warning"] = "error",
) -> LoadResult:
    """Load and validate the workflow file at ``path``; raise :class:`WorkflowError` if invalid.

    ``workflow`` picks one workflow of a seed-format file with several (it may
    be left out when the file has exactly one). ``environ`` (default
    ``os.environ``) expands ``${NAME}`` references in the agents section; an
    unset one is an error, or only a warning with ``missing_env="warning"``
    (for commands that run nothing, such as ``cadenza graph``: the reference
    then stays as written).
    """
    checked = check_file(
        Path(path),
        plugins=plugins,
        select=workflow,
        every=False,
        environ=environ,
        missing_env=missing_env,
    )
    if isinstance(checked, Problem):
        raise WorkflowError([checked])
    return _result(checked)


def load_workflow_text(
    text: str,
    *,
    plugins: Plugins,
    filename: str = "<string>",
    base_dir: Path | None = None,
    workflow: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadResult:
    """Like :func:`load_workflow`, from YAML ``text``; ``filename`` is used in messages."""
    request = LoadRequest(
        plugins=plugins,
        base_dir=base_dir if base_dir is not None else Path.cwd(),
        default_name=name_from_filename(filename),
        source=None,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        select=workflow,
        every=False,
        environ=environ,
    )
    checked = check_text(text, filename=filename, request=request)
    return _result(checked)


def load_workflow_data(
    data: Mapping[str, Any],
    *,
    plugins: Plugins,
    base_dir: Path | None = None,
    workflow: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadResult:
    """Like :func:`load_workflow`, from already-parsed data (problems carry no locations)."""
    try:
        canonical = json.dumps(data, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted
        canonical = repr(data)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    request = LoadRequest(
        plugins=plugins,
        base_dir=base_dir if base_dir is not None else Path.cwd(),
        default_name="workflow",
        source=None,
        digest=digest,
        select=workflow,
        every=False,
        environ=environ,
    )
    checked = check_data(data, doc=None, request=request)
    return _result(checked)


def check_workflow_file(
    path: str | os.PathLike[str],
    *,
    plugins: Plugins,
    workflow: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> FileReport:
    """Validate a file without raising: every workflow in it (or just ``workflow``).

    This is ``cadenza validate``: a seed-format file with several workflows is
    checked whole, instead of asking which one to load. A linter needs no
    secrets, so an unset ``${NAME}`` is a warning here (running needs it set).
    """
    checked = check_file(
        Path(path),
        plugins=plugins,
        select=workflow,
        every=workflow is None,
        environ=environ,
        missing_env="warning",
    )
    if isinstance(checked, Problem):
        return FileReport(workflows=(), problems=(checked,), names=())
    return FileReport(
        workflows=tuple(checked.workflows.values()),
        problems=tuple(sorted(checked.problems, key=Problem.sort_key)),
        names=checked.names,
    )


def parse_input_value(text: str) -> Any:
    """Parse a ``--set`` value as a YAML scalar: ``"3"`` -> 3, ``"true"`` -> True.

    Anything that is not a plain scalar (``"a: b"``, ``"[1"``, a date) stays the
    string it was; an empty value is the empty string.
    """
    if text.strip() == "":
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return text


def resolve_inputs(workflow: Workflow, overrides: Mapping[str, str]) -> dict[str, Any]:
    """The run's inputs: defaults, overridden by ``--set name=value`` pairs.

    Raises :class:`WorkflowError` naming every unknown input (with the known
    ones) and every required input that was not given.
    """
    given = {name: parse_input_value(text) for name, text in overrides.items()}
    return run_inputs(workflow, given, spelling=CLI_INPUTS)


def _result(checked: Checked) -> LoadResult:
    """The one workflow loaded, or :class:`WorkflowError` with every problem, sorted."""
    problems = sorted(checked.problems, key=Problem.sort_key)
    if any(p.severity == "error" for p in problems) or not checked.workflows:
        raise WorkflowError(problems)
    workflow = next(iter(checked.workflows.values()))
    warnings = tuple(p for p in problems if p.severity == "warning")
    return LoadResult(workflow=workflow, warnings=warnings, workflows=checked.names)


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


def check_set_types(
    workflow: Workflow, sets: Mapping[str, str], inputs: dict[str, Any]
) -> dict[str, Any]:
    """``inputs`` with every ``--set`` value (``sets``, as typed) checked against its default.

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
