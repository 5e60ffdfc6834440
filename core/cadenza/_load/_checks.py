"""The checks that span steps, run once both formats have read their steps.

A step is first read into a :class:`StepDraft`, by whichever format the file
uses; only then can its references be checked against the rest of the file:
``uses:`` against the agents and their capabilities, ``needs:`` against the
step ids, the ``steps.*`` and ``inputs.*`` its expressions read against
``needs:`` and the declared inputs, and the whole ``needs:`` graph for cycles.
:func:`finish_steps` runs them all and builds the :class:`Step` specs.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Literal

import attrs

from .._expr._expressions import Condition, compile_condition, compile_value
from .._graph._dag import find_cycle
from .._paths import ValuePath, render_path
from .._problems import SourceLocation
from .._spec._convert import suggest
from .._spec._workflow import InputSpec, RetryPolicy, Step
from ._agents import LoadedAgents
from ._approval import ApprovalDraft, compile_approval
from ._context import LoadContext, listing
from ._for_each import ForEachDraft, check_item_ids, compile_for_each, loop_ref_problem
from ._subworkflow import check_sub_inputs, load_sub_workflow

__all__ = ["WELL_KNOWN_CAPABILITIES", "StepDraft", "finish_steps"]

WELL_KNOWN_CAPABILITIES = frozenset(
    {
        "code_generator",
        "asset_optimizer",
        "documentation",
        "testing",
        "deployment",
        "quality_assurance",
    }
)
"""The seed's agent types: a step using one that no agent serves loads with a warning."""


@attrs.define
class StepDraft:
    """A step as read from either format, before the cross-step checks."""

    id: str
    location: SourceLocation | None
    uses: str | None
    uses_path: ValuePath
    needs: list[tuple[str, ValuePath]]
    with_value: Any
    with_path: ValuePath
    when: str | None
    when_path: ValuePath
    priority: int
    retry: RetryPolicy
    timeout: float | None
    if_needs_skipped: Literal["skip", "run"]
    for_each: ForEachDraft | None = None
    workflow: Any = None
    """``workflow:`` as written (a file path), for a step that runs a sub-workflow."""
    approval: ApprovalDraft | None = None


def finish_steps(
    ctx: LoadContext,
    drafts: list[StepDraft],
    *,
    agents: LoadedAgents,
    inputs: Mapping[str, InputSpec],
    steps_path: ValuePath,
    seed: bool,
) -> dict[str, Step]:
    """The checks that span steps: uses, needs, references, cycles; then build the steps."""
    ids = [d.id for d in drafts]
    known = set(ids)
    if not drafts and steps_path not in ctx.malformed:
        ctx.error(
            steps_path,
            "the workflow has no steps",
            "Add at least one step"
            + (" (a list item with name: and agent_type:)." if seed else " under steps:."),
        )
    capabilities = agents.capabilities()
    valid_needs: dict[str, list[str]] = {}
    steps: dict[str, Step] = {}
    for d in drafts:
        if d.uses is not None and ("agents",) not in ctx.malformed:
            _check_uses(ctx, d, agents=agents, capabilities=capabilities, seed=seed)
        needs: dict[str, None] = {}  # ordered, with O(1) duplicate checks
        for need, need_path in d.needs:
            if need == d.id:
                ctx.error(need_path, f"step {d.id!r} needs itself", "Remove it from its own needs.")
            elif need not in known:
                hint = suggest(need, ids) + f"Known steps: {listing(ids)}."
                ctx.error(need_path, f"unknown step {need!r}", hint)
            elif need in needs:
                ctx.warn(need_path, f"step {need!r} is listed twice", "Remove the duplicate.")
            else:
                needs[need] = None
        valid_needs[d.id] = list(needs)

        for_each = None
        if d.for_each is not None:
            for_each = compile_for_each(ctx, d.for_each)
            if for_each is not None:
                _check_refs(
                    ctx,
                    d,
                    for_each.step_refs,
                    for_each.input_refs,
                    needs,
                    ids,
                    known,
                    inputs,
                    in_with=False,
                    field=("for_each", d.for_each.path),
                )

        template, issues = compile_value(d.with_value, path=render_path(d.with_path))
        candidates = _paths_under(d.with_value, d.with_path) if issues else {}
        for issue in issues:
            where = _issue_path(issue.path, candidates, d.with_path)
            ctx.error(where, issue.message, issue.hint)
        _check_refs(
            ctx, d, template.step_refs, template.input_refs, needs, ids, known, inputs, in_with=True
        )
        if template.loop_refs and d.for_each is None:
            _report_loop_refs(ctx, d, template.loop_refs, in_with=True)

        condition: Condition | None = None
        if d.when is not None:
            condition, issues = compile_condition(d.when, path=render_path(d.when_path))
            for issue in issues:
                ctx.error(d.when_path, issue.message, issue.hint)
            if condition is not None:
                _check_refs(
                    ctx,
                    d,
                    condition.step_refs,
                    condition.input_refs,
                    needs,
                    ids,
                    known,
                    inputs,
                    in_with=False,
                )
                if condition.loop_refs and d.for_each is None:
                    _report_loop_refs(ctx, d, condition.loop_refs, in_with=False)
        approval = None
        if d.approval is not None:
            approval, prompt = compile_approval(ctx, d.approval)
            if prompt is not None:
                refs = (prompt.step_refs, prompt.input_refs, needs, ids, known, inputs)
                field = ("approval.prompt", d.approval.prompt_path)
                _check_refs(ctx, d, *refs, in_with=False, field=field)
        if d.approval is not None and d.workflow is not None:
            ctx.error(
                d.approval.prompt_path[:-1],
                "a workflow: step cannot have approval: (its sub-workflow's steps can)",
                "Put the approval on a step of the sub-workflow, or on a step before this one.",
            )
        sub = None
        if d.workflow is not None:
            sub = load_sub_workflow(ctx, d.workflow, (*d.uses_path[:-1], "workflow"))
            if sub is None:
                continue
            check_sub_inputs(ctx, sub, d.with_value, d.with_path)
        elif d.uses is None:
            continue
        steps[d.id] = Step(
            id=d.id,
            uses=d.uses or "",
            workflow=sub,
            inputs=template,
            needs=tuple(needs),
            priority=d.priority,
            condition=condition,
            retry=d.retry,
            timeout=d.timeout,
            if_needs_skipped=d.if_needs_skipped,
            for_each=for_each,
            max_parallel=d.for_each.max_parallel if d.for_each is not None else None,
            on_item_failure=d.for_each.on_item_failure if d.for_each is not None else "fail",
            approval=approval,
            location=d.location,
        )

    _report_cycles(ctx, drafts, valid_needs)
    mapped = {d.id for d in drafts if d.for_each is not None}
    if mapped:
        check_item_ids(ctx, {d.id: d.uses_path[:-1] for d in drafts}, mapped)
    return steps


def _report_loop_refs(
    ctx: LoadContext, d: StepDraft, refs: frozenset[str], *, in_with: bool
) -> None:
    """``item``/``index`` read by a step without ``for_each:``: say where and what to do."""
    field = "with" if in_with else "when"
    message, hint = loop_ref_problem(field, refs)
    path = d.when_path
    if in_with:
        pattern = re.compile(r"\b(?:item|index)\b")
        path = next(
            (p for text, p in _strings_under(d.with_value, d.with_path) if pattern.search(text)),
            d.with_path,
        )
    ctx.error(path, message, hint)


def _check_uses(
    ctx: LoadContext, d: StepDraft, *, agents: LoadedAgents, capabilities: set[str], seed: bool
) -> None:
    """``uses:`` must name an agent or a capability one serves.

    A well-known capability, or one some registered agent kind serves, is only
    a warning: the file is fine, it just lacks the agent to run that step.
    """
    uses = d.uses
    assert uses is not None
    if uses in agents.serves or uses in capabilities:
        return
    kinds = sorted(
        name for name, reg in ctx.plugins.agent_kinds.items() if uses in reg.capabilities
    )
    if uses in WELL_KNOWN_CAPABILITIES or kinds:
        add = (
            f"Add an agent with type: {uses} under agents:"
            if seed
            else f"Add an agent with capabilities: [{uses}] under agents:"
        )
        if kinds:
            add += f" (agent kinds that serve it: {', '.join(kinds)})"
        ctx.warn(
            d.uses_path,
            f"no configured agent serves {uses!r}, so step {d.id!r} will fail when it runs",
            add + ".",
        )
        return
    names = sorted(set(agents.serves) | capabilities)
    hint = suggest(uses, names)
    if names:
        hint += f"Agents: {listing(agents.serves)}"
        if capabilities:
            hint += f"; capabilities: {listing(capabilities)}"
        hint += "."
    else:
        hint += "No agents are configured: add one under agents:."
    what = "agent type" if seed else "agent or capability"
    ctx.error(d.uses_path, f"unknown {what} {uses!r}", hint)


def _check_refs(
    ctx: LoadContext,
    d: StepDraft,
    step_refs: Iterable[str],
    input_refs: Iterable[str],
    needs: Collection[str],
    ids: list[str],
    known: set[str],
    inputs: Mapping[str, InputSpec],
    *,
    in_with: bool,
    field: tuple[str, ValuePath] | None = None,
) -> None:
    """Every step an expression reads must be needed, every input declared.

    Problems in ``with:`` point at the string holding the reference, found
    by searching the value's strings for it. ``field`` names another key
    than ``with:``/``when:`` and its path (``for_each``).
    """
    base = d.with_path if in_with else d.when_path
    field_name = "with" if in_with else "when"
    if field is not None:
        field_name, base = field
    searched = d.with_value if in_with else d.for_each.value if d.for_each and field else None

    def where(pattern: re.Pattern[str]) -> ValuePath:
        """The string holding the reference, to locate the problem there."""
        if searched is None:
            return base
        for text, path in _strings_under(searched, base):
            if pattern.search(text):
                return path
        return base

    for ref in sorted(step_refs):
        if ref in needs:
            continue
        path = where(_ref_pattern(ref))
        if ref == d.id:
            ctx.error(
                path,
                f"step {d.id!r} refers to its own output in {field_name}:",
                "A step can only use the outputs of steps it needs.",
            )
        elif ref not in known:
            hint = suggest(ref, ids) + f"Known steps: {listing(ids)}."
            ctx.error(path, f"{field_name}: refers to unknown step {ref!r}", hint)
        else:
            ctx.error(
                path,
                f"{field_name}: uses the output of step {ref!r}, which step {d.id!r} does not need",
                f"Add {ref} to needs, so it finishes first: needs: [{', '.join([*needs, ref])}].",
            )
    known_inputs = list(inputs)
    for ref in sorted(input_refs):
        if ref in inputs:
            continue
        path = where(re.compile(rf"inputs\s*(?:\.\s*{re.escape(ref)}\b|\[)"))
        hint = suggest(ref, known_inputs)
        hint += (
            f"Known inputs: {listing(known_inputs)}; declare new ones under inputs:."
            if known_inputs
            else "Declare it under inputs: at the top of the file."
        )
        ctx.error(path, f"{field_name}: refers to unknown input {ref!r}", hint)


def _report_cycles(ctx: LoadContext, drafts: list[StepDraft], needs: dict[str, list[str]]) -> None:
    """Report each cycle in ``needs`` at the first need of it, not just the first cycle."""
    graph = {k: list(v) for k, v in needs.items()}
    need_paths: dict[tuple[str, str], ValuePath] | None = None  # built for the first cycle
    for _ in range(20):  # every independent cycle, up to a sane number
        cycle = find_cycle(graph)
        if cycle is None:
            return
        if need_paths is None:
            need_paths = {(d.id, n): p for d in drafts for n, p in d.needs}
        first, second = cycle[0], cycle[1]
        ctx.error(
            need_paths.get((first, second), ()),
            "steps form a cycle: " + " -> ".join(cycle),
            "A step cannot (even indirectly) need itself: remove one of these needs.",
        )
        for node in cycle[:-1]:  # break this cycle and look for another
            graph[node] = [n for n in graph.get(node, []) if n not in cycle]


def _ref_pattern(step: str) -> re.Pattern[str]:
    """Matches a reference to ``step`` in expression text: ``steps.x`` or ``steps["x"]``."""
    name = re.escape(step)
    return re.compile(rf"steps\s*(?:\.\s*{name}\b|\[\s*['\"]{name}['\"]\s*\])")


def _strings_under(value: Any, path: ValuePath) -> Iterable[tuple[str, ValuePath]]:
    """Every string under ``value`` with its path, in document order."""
    if isinstance(value, str):
        yield value, path
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings_under(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings_under(v, (*path, i))


def _paths_under(value: Any, path: ValuePath) -> dict[str, ValuePath]:
    """Every path under ``value``, rendered as ExprIssue.path renders it, to its tuple."""
    out: dict[str, ValuePath] = {}
    stack: list[tuple[Any, ValuePath]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        out[render_path(where)] = where
        if isinstance(item, Mapping):
            stack.extend((v, (*where, k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(item))
    return out


def _issue_path(
    rendered: str, candidates: Mapping[str, ValuePath], fallback: ValuePath
) -> ValuePath:
    """The path an ``ExprIssue`` names, or the longest one it starts with.

    Issues name paths as rendered text; problems need the tuple to be located.
    """
    if rendered in candidates:
        return candidates[rendered]
    best: ValuePath | None = None
    best_len = -1
    for text, path in candidates.items():
        if rendered.startswith(text) and len(text) > best_len:
            best, best_len = path, len(text)
    return best if best is not None else fallback
