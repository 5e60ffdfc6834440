"""``approval:`` of a step: read, checked and compiled into an :class:`ApprovalPolicy`.

``approval: {prompt: "...", timeout: 24h, approvers: [alice, bob]}`` makes a
step wait for a person's decision (``cadenza approve``, or the dashboard).
Reading happens with the rest of the step (:func:`read_approval`); the
prompt's ``${{ }}`` expressions are compiled with the cross-step checks
(:func:`compile_approval`), where the step's ``needs:`` and the declared
inputs are known, and are checked against them like ``with:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._expr._expressions import ValueTemplate, compile_value
from .._paths import ValuePath, render_path
from .._spec._approval import ApprovalPolicy
from ._context import LoadContext

__all__ = ["APPROVAL_KEYS", "ApprovalDraft", "compile_approval", "read_approval"]

APPROVAL_KEYS = ("approval",)
"""The step keys this module reads."""

_OPTION_KEYS = ("prompt", "timeout", "approvers")
_EXAMPLE = 'approval: {prompt: "Publish ${{ steps.draft.output }}?", timeout: 24h}'


@attrs.frozen(kw_only=True)
class ApprovalDraft:
    """A step's ``approval:`` as read, before its prompt is compiled and checked."""

    prompt: str
    prompt_path: ValuePath
    timeout: float | None = None
    approvers: tuple[str, ...] = ()


def read_approval(
    ctx: LoadContext, spec: Mapping[Any, Any], path: ValuePath
) -> ApprovalDraft | None:
    """The step's ``approval:``; None when it has none (or after reporting why it is wrong)."""
    value = spec.get("approval")
    if value is None:
        return None
    path = (*path, "approval")
    if isinstance(value, str):  # approval: "Publish?" is the prompt alone
        value = {"prompt": value}
    section = ctx.mapping(value, path, "approval", f"Write {_EXAMPLE}.")
    if section is None:
        return None
    ctx.keys(section, path, _OPTION_KEYS, "in approval")
    prompt = ctx.string(
        section, "prompt", path, required="Add prompt: the question the approvers answer."
    )
    timeout = None
    if section.get("timeout") is not None:
        timeout = ctx.duration(section["timeout"], (*path, "timeout"), allow_zero=False)
    approvers: list[str] = []
    if "approvers" in section:
        for name, name_path in ctx.names(section["approvers"], (*path, "approvers"), "approvers"):
            if not name.strip():
                ctx.error(name_path, "approvers entries must not be empty", "Write a user name.")
            elif name in approvers:
                ctx.warn(name_path, f"approver {name!r} is listed twice", "Remove the duplicate.")
            else:
                approvers.append(name)
    if prompt is None:
        return None
    if spec.get("for_each") is not None:
        ctx.error(
            path,
            "approval cannot be combined with for_each (one gate per item is not supported)",
            "Put the approval on a step the for_each step needs, e.g. the step that plans "
            "the list.",
        )
        return None
    return ApprovalDraft(
        prompt=prompt,
        prompt_path=(*path, "prompt"),
        timeout=timeout,
        approvers=tuple(approvers),
    )


def compile_approval(
    ctx: LoadContext, draft: ApprovalDraft
) -> tuple[ApprovalPolicy | None, ValueTemplate | None]:
    """The policy and its compiled prompt (for the reference checks); None after an error."""
    template, issues = compile_value(draft.prompt, path=render_path(draft.prompt_path))
    for issue in issues:
        ctx.error(draft.prompt_path, issue.message, issue.hint)
    if issues:
        return None, None
    if template.loop_refs:
        names = " and ".join(sorted(template.loop_refs))
        ctx.error(
            draft.prompt_path,
            f"approval.prompt: reads {names}, which exist only in a step with for_each:",
            "Read run inputs (inputs.<name>) or needed steps' outputs instead.",
        )
        return None, None
    policy = ApprovalPolicy(prompt=template, timeout=draft.timeout, approvers=draft.approvers)
    return policy, template
