"""``workflow: other.yaml`` on a step: load the sub-workflow it runs, and check the call.

The file is loaded when the including file loads, through the same loader,
so every problem in it is reported at once with its own file:line, followed
by one problem at the including step. Its path is relative to the including
file's folder. A file that (even indirectly) includes itself is a load error
that prints the chain. The step's ``with:`` becomes the sub-workflow's
inputs: its keys must be inputs the sub-workflow declares, and every
required input must be given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._paths import ValuePath
from .._problems import Problem
from .._spec._convert import describe_value, suggest
from .._spec._workflow import Workflow
from ._context import LoadContext, listing

__all__ = ["AGENT_ONLY_KEYS", "check_sub_inputs", "load_sub_workflow"]

AGENT_ONLY_KEYS = (
    "retry",
    "timeout",
    "cache",
    "fallback",
    "route",
    "agents",
    "aggregate",
    "on_conflict",
    "judge",
    "validate",
    "min_quality",
)
"""Step keys about agent calls, which a ``workflow:`` step does not make."""


def load_sub_workflow(ctx: LoadContext, value: Any, path: ValuePath) -> Workflow | None:
    """The workflow at ``value`` (a path relative to this file), or None after reporting why."""
    if not isinstance(value, str) or not value.strip():
        ctx.error(
            path,
            f"workflow must be the path of a workflow file, got {describe_value(value)}",
            "Write workflow: review.yaml (relative to this file's folder).",
        )
        return None
    file = (ctx.base_dir / value).resolve()
    if file in ctx.chain:
        names = [_shown(p, ctx.base_dir) for p in (*ctx.chain[ctx.chain.index(file) :], file)]
        ctx.error(
            path,
            "sub-workflows form a cycle: " + " -> ".join(names),
            "A workflow cannot (even indirectly) include itself: "
            "remove one of these workflow: steps.",
        )
        return None
    from ._source import check_file  # the loader loads itself: imported on use, not at import

    checked = check_file(
        file,
        plugins=ctx.plugins,
        select=None,
        every=False,
        environ=ctx.environ,
        missing_env=ctx.missing_env,
        chain=ctx.chain,
    )
    if isinstance(checked, Problem):
        ctx.error(
            path,
            f"cannot load sub-workflow {value!r}: {checked.message}",
            f"The path is relative to the folder of the file that names it ({ctx.base_dir}).",
        )
        return None
    errors = [p for p in checked.problems if p.severity == "error"]
    ctx.problems.extend(checked.problems)  # each with its own file:line
    if errors or not checked.workflows:
        ctx.error(
            path,
            f"sub-workflow {value!r} is invalid ({len(errors)} error(s), listed with its file)",
            "Fix the sub-workflow file; cadenza validate checks it on its own too.",
        )
        return None
    (workflow,) = checked.workflows.values()
    ctx.secrets |= workflow.secrets  # redacted from this file's problems and runs too
    return workflow


def check_sub_inputs(
    ctx: LoadContext, workflow: Workflow, with_value: Any, with_path: ValuePath
) -> None:
    """``with:`` names only declared inputs of ``workflow`` and gives every required one."""
    given = with_value if isinstance(with_value, Mapping) else {}
    declared = list(workflow.inputs)
    for key in given:
        if key not in workflow.inputs:
            hint = suggest(str(key), declared)
            hint += (
                f"Inputs of {workflow.name!r}: {listing(declared)}."
                if declared
                else f"Workflow {workflow.name!r} declares no inputs."
            )
            ctx.error(
                (*with_path, key), f"sub-workflow {workflow.name!r} has no input {key!r}", hint
            )
    for name, spec in workflow.inputs.items():
        if spec.required and name not in given:
            ctx.error(
                with_path,
                f"sub-workflow {workflow.name!r} needs input {name!r}",
                f"Add it under with: ({name}: ...).",
            )


def _shown(file: Path, base: Path) -> str:
    """A file as the user would name it: relative to the first file's folder when inside it."""
    try:
        return str(file.relative_to(base))
    except ValueError:
        return str(file)
