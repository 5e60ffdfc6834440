"""A run's inputs given as Python values: every declared input, checked against the workflow.

``cadenza.run`` (and ``run_workflow`` given a builder) take inputs as Python
values, not ``--set`` text: a value is used as it is, an input not given
takes its default, and an unknown or missing required input is refused
before anything runs, every one at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._errors import WorkflowError
from .._problems import Problem
from ._convert import listing, suggest
from ._workflow import Workflow

__all__ = ["CLI_INPUTS", "PYTHON_INPUTS", "InputSpelling", "run_inputs"]


@attrs.frozen
class InputSpelling:
    """How the caller names an input, so a problem says how to fix it in the caller's terms.

    ``path`` formats where an input was given (``--set name`` on the command
    line, ``inputs['name']`` in Python), ``missing_path`` where a required one
    was not; ``how_to_pass`` is the hint for a
    missing one; ``how_to_declare`` the hint when the workflow declares none.
    """

    path: Callable[[str], str]
    missing_path: Callable[[str], str]
    how_to_pass: Callable[[str], str]
    how_to_declare: str


PYTHON_INPUTS = InputSpelling(
    path=lambda name: f"inputs[{name!r}]",
    missing_path=lambda name: f"inputs[{name!r}]",
    how_to_pass=lambda name: f"Pass inputs={{{name!r}: ...}}",
    how_to_declare="declare them with wf.input() or inputs:",
)
"""Inputs given to ``cadenza.run`` / ``run_workflow`` as a mapping of Python values."""

CLI_INPUTS = InputSpelling(
    path=lambda name: f"--set {name}",
    missing_path=lambda name: f"inputs.{name}",
    how_to_pass=lambda name: f"Pass --set {name}=VALUE",
    how_to_declare="add them under inputs:",
)
"""Inputs given on the command line as ``--set name=value``."""


def run_inputs(
    workflow: Workflow,
    given: Mapping[str, Any] | None,
    *,
    spelling: InputSpelling = PYTHON_INPUTS,
) -> dict[str, Any]:
    """``given`` plus the default of every declared input it leaves out.

    Raises :class:`WorkflowError` naming each unknown input (with the known
    ones) and each required input missing, in ``spelling``'s terms.
    """
    given = dict(given or {})
    problems: list[Problem] = []
    known = list(workflow.inputs)
    for name in given:
        if name not in workflow.inputs:
            hint = suggest(str(name), known) + (
                f"Known inputs: {listing(known)}."
                if known
                else f"This workflow declares no inputs ({spelling.how_to_declare})."
            )
            problems.append(
                Problem(message=f"unknown input {name!r}", path=spelling.path(name), hint=hint)
            )
    values: dict[str, Any] = {}
    for name, spec in workflow.inputs.items():
        if name in given:
            values[name] = given[name]
        elif spec.required:
            problems.append(
                Problem(
                    message=f"input {name!r} is required but was not given",
                    path=spelling.missing_path(name),
                    hint=spelling.how_to_pass(name)
                    + (f" ({spec.description})." if spec.description else "."),
                )
            )
        else:
            values[name] = spec.default
    if problems:
        raise WorkflowError(problems)
    return values
