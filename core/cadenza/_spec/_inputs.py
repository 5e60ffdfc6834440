"""A run's inputs given as Python values: every declared input, checked against the workflow.

``cadenza.run`` (and ``run_workflow`` given a builder) take inputs as Python
values, not ``--set`` text: a value is used as it is, an input not given
takes its default, and an unknown or missing required input is refused
before anything runs, every one at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import WorkflowError
from .._problems import Problem
from ._convert import suggest
from ._workflow import Workflow

__all__ = ["run_inputs"]


def run_inputs(workflow: Workflow, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` plus the default of every declared input it leaves out.

    Raises :class:`WorkflowError` naming each unknown input (with the known
    ones) and each required input missing.
    """
    given = dict(given or {})
    problems: list[Problem] = []
    known = sorted(workflow.inputs)
    for name in given:
        if name not in workflow.inputs:
            hint = suggest(str(name), known) + (
                f"Known inputs: {', '.join(known)}."
                if known
                else "This workflow declares no inputs (declare them with wf.input() or inputs:)."
            )
            problems.append(
                Problem(message=f"unknown input {name!r}", path=f"inputs[{name!r}]", hint=hint)
            )
    values: dict[str, Any] = {}
    for name, spec in workflow.inputs.items():
        if name in given:
            values[name] = given[name]
        elif spec.required:
            problems.append(
                Problem(
                    message=f"input {name!r} is required but was not given",
                    path=f"inputs[{name!r}]",
                    hint=f"Pass inputs={{{name!r}: ...}}"
                    + (f" ({spec.description})." if spec.description else "."),
                )
            )
        else:
            values[name] = spec.default
    if problems:
        raise WorkflowError(problems)
    return values
