"""``for_each:``, ``max_parallel:`` and ``on_item_failure:`` of a step: read and compiled.

``for_each`` is one expression giving a list (``"${{ steps.plan.output.files
}}"``, or bare CEL as in ``when:``), or a YAML list whose strings may hold
expressions. The step then runs once per item; ``item`` and ``index`` are
the names its ``with:`` and ``when:`` read them by. Reading happens with the
rest of the step (:func:`read_for_each`); compiling and the reference checks
run with the cross-step checks (:func:`compile_for_each`,
:func:`check_loop_refs`), where the step's ``needs:`` are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .._expr._expressions import ValueTemplate, compile_value
from .._expr._syntax import Piece, only_space_around, split_expressions
from .._ids import split_item_id
from .._paths import ValuePath, render_path
from .._spec._convert import describe_value
from ._context import LoadContext

__all__ = ["FOR_EACH_KEYS", "ForEachDraft", "check_item_ids", "compile_for_each", "read_for_each"]

FOR_EACH_KEYS = ("for_each", "max_parallel", "on_item_failure")
"""The step keys this module reads."""


@attrs.frozen(kw_only=True)
class ForEachDraft:
    """A step's ``for_each:`` as read, before its expression is compiled and checked."""

    value: Any
    path: ValuePath
    max_parallel: int | None = None
    on_item_failure: Literal["fail", "skip"] = "fail"


def read_for_each(
    ctx: LoadContext, spec: Mapping[Any, Any], path: ValuePath
) -> ForEachDraft | None:
    """The step's ``for_each:`` with its options; None when the step has none."""
    present = spec.get("for_each") is not None
    for key in ("max_parallel", "on_item_failure"):
        if key in spec and not present:
            ctx.error(
                (*path, key),
                f"{key} applies only to a step with for_each:",
                f'Add for_each: "${{{{ steps.plan.output.files }}}}" (a list), or remove {key}.',
            )
    if not present:
        return None
    max_parallel: int | None = None
    if spec.get("max_parallel") is not None:
        max_parallel = ctx.integer(
            spec,
            "max_parallel",
            path,
            default=1,
            minimum=1,
            hint="max_parallel is how many items may be in flight at once, e.g. 8.",
        )
    mode = spec.get("on_item_failure", "fail")
    if mode not in ("fail", "skip"):
        ctx.error(
            (*path, "on_item_failure"),
            f"on_item_failure must be 'fail' or 'skip', got {describe_value(mode)}",
            "fail (the default) fails the step once its other items finished; skip leaves "
            "null in the failed item's place and marks the step degraded.",
        )
        mode = "fail"
    return ForEachDraft(
        value=spec["for_each"],
        path=(*path, "for_each"),
        max_parallel=max_parallel,
        on_item_failure=mode,
    )


def compile_for_each(ctx: LoadContext, draft: ForEachDraft) -> ValueTemplate | None:
    """The compiled list expression, or None after reporting why it cannot be one."""
    value = draft.value
    where = render_path(draft.path)
    if isinstance(value, str):
        text = value.strip()
        if "${{" not in text:
            text = "${{ " + text + " }}"  # bare CEL, as when: takes it
        pieces, problems = split_expressions(text)
        expressions = [p for p in pieces if isinstance(p, Piece)]
        if not problems and (len(expressions) != 1 or not only_space_around(pieces)):
            ctx.error(
                draft.path,
                "for_each must be one expression giving a list, with no text around it",
                'Write for_each: "${{ steps.plan.output.files }}", or a YAML list.',
            )
            return None
        template, issues = compile_value(text, path=where)
    elif isinstance(value, list | tuple):
        template, issues = compile_value(list(value), path=where)
    else:
        ctx.error(
            draft.path,
            f"for_each must be an expression giving a list, or a list; got {describe_value(value)}",
            'Write for_each: "${{ steps.plan.output.files }}" or for_each: [a, b, c].',
        )
        return None
    for issue in issues:
        ctx.error(draft.path, issue.message, issue.hint)
    if issues:
        return None
    if template.loop_refs:
        ctx.error(
            draft.path,
            f"for_each cannot read {_names(template.loop_refs)}: for_each is what defines them",
            "Read the list from inputs or from a needed step's output.",
        )
        return None
    return template


def loop_ref_problem(field: str, refs: frozenset[str]) -> tuple[str, str]:
    """The message and hint for ``item``/``index`` read by a step without ``for_each:``."""
    names = _names(refs)
    exist = "exists" if len(refs) == 1 else "exist"
    return (
        f"{field}: reads {names}, which {exist} only in a step with for_each:",
        f"Add for_each: (an expression giving a list) to run the step once per item, "
        f"or read a run input (inputs.<name>) instead of {names}.",
    )


def check_item_ids(ctx: LoadContext, ids: Mapping[str, ValuePath], mapped: set[str]) -> None:
    """Refuse a step id that reads as an item of a ``for_each`` step (``build[3]``).

    Items are journaled under such ids; a step with one would be mistaken for an item.
    """
    for step_id, path in ids.items():
        parts = split_item_id(step_id)
        if parts is not None and parts[0] in mapped:
            ctx.error(
                path,
                f"step id {step_id!r} reads as item {parts[1]} of for_each step {parts[0]!r}",
                f"Rename the step, e.g. {parts[0]}_{parts[1]}.",
                key=True,
            )


def _names(refs: frozenset[str]) -> str:
    return " and ".join(sorted(refs))
