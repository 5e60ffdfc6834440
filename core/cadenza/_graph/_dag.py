"""The DAG of a workflow: cycles, order, dependents, and drawings.

Every function takes a *needs mapping*: step id -> the ids it needs (its
dependencies), in file order. Ids that appear only as a need (not as a key)
are treated as steps without needs of their own. Everything is iterative, so
graphs of any depth work without touching the recursion limit.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._spec._workflow import Workflow

Needs = Mapping[str, Sequence[str]]


class CycleError(ValueError):
    """The needs mapping has a cycle; ``cycle`` is it, closed (``[a, b, a]``)."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("steps form a cycle: " + " -> ".join(cycle))


def find_cycle(needs: Needs) -> list[str] | None:
    """Return one cycle as a closed path ``[a, b, c, a]`` (a needs b needs c needs a), or None.

    The search starts from steps in mapping order, so the answer is stable for a
    given file. A step that needs itself is the cycle ``[a, a]``.
    """
    white, grey, black = 0, 1, 2
    color: dict[str, int] = {}
    for root in needs:
        if color.get(root, white) != white:
            continue
        # Each frame: (node, iterator position over its needs).
        stack: list[tuple[str, int]] = [(root, 0)]
        color[root] = grey
        while stack:
            node, i = stack[-1]
            deps = needs.get(node, ())
            if i < len(deps):
                stack[-1] = (node, i + 1)
                dep = deps[i]
                state = color.get(dep, white)
                if state == grey:
                    path = [frame[0] for frame in stack]
                    return [*path[path.index(dep) :], dep]
                if state == white:
                    color[dep] = grey
                    stack.append((dep, 0))
            else:
                color[node] = black
                stack.pop()
    return None


def topological_order(needs: Needs) -> list[str]:
    """Every key of ``needs``, each after all it needs; ties keep mapping (file) order.

    Raises :class:`CycleError` when there is a cycle. Needs that are not keys
    are ignored.
    """
    index = {step: i for i, step in enumerate(needs)}
    remaining = {step: len({d for d in deps if d in index}) for step, deps in needs.items()}
    dependents = dependents_map(needs)
    ready = [index[step] for step, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    keys = list(needs)
    while ready:
        step = keys[heapq.heappop(ready)]
        order.append(step)
        for child in dependents[step]:
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(ready, index[child])
    if len(order) != len(keys):
        cycle = find_cycle(needs)
        raise CycleError(cycle or [])
    return order


def dependents_map(needs: Needs) -> dict[str, list[str]]:
    """Step id -> the steps that need it directly, in mapping order (every key present)."""
    out: dict[str, list[str]] = {step: [] for step in needs}
    for step, deps in needs.items():
        for dep in dict.fromkeys(deps):  # a need listed twice is one edge
            out.setdefault(dep, []).append(step)
    return out


def descendants(needs: Needs, step_id: str) -> set[str]:
    """Every step that needs ``step_id``, directly or through others (not ``step_id`` itself)."""
    dependents = dependents_map(needs)
    seen: set[str] = set()
    stack = list(dependents.get(step_id, ()))
    while stack:
        step = stack.pop()
        if step in seen:
            continue
        seen.add(step)
        stack.extend(dependents.get(step, ()))
    seen.discard(step_id)
    return seen


def ancestors(needs: Needs, step_id: str) -> set[str]:
    """Every step ``step_id`` needs, directly or through others (not ``step_id`` itself)."""
    seen: set[str] = set()
    stack = list(needs.get(step_id, ()))
    while stack:
        step = stack.pop()
        if step in seen:
            continue
        seen.add(step)
        stack.extend(needs.get(step, ()))
    seen.discard(step_id)
    return seen


def workflow_needs(workflow: Workflow) -> dict[str, tuple[str, ...]]:
    """The needs mapping of ``workflow``, in step (file) order."""
    return {step_id: step.needs for step_id, step in workflow.steps.items()}


def _label_lines(workflow: Workflow, step_id: str) -> list[str]:
    step = workflow.steps[step_id]
    if step.workflow is not None:
        lines = [step_id, f"workflow: {step.workflow.name}"]
    else:
        lines = [step_id, f"uses: {step.uses}"]
    if step.for_each is not None:
        lines.append(
            "for_each: "
            + (step.for_each.value if isinstance(step.for_each.value, str) else "[...]")
        )
    if step.condition is not None:
        lines.append(f"when: {step.condition.source}")
    return lines


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label, entity codes are the only safe escape.
    replacements = {"#": "#35;", "&": "#38;", '"': "#34;", "<": "#60;", ">": "#62;", "\n": " "}
    return "".join(replacements.get(ch, ch) for ch in text)


def to_mermaid(workflow: Workflow, *, direction: str = "TB") -> str:
    """A Mermaid flowchart: one node per step (id and ``uses``), arrows from need to step.

    ``direction`` is ``TB`` (needs above) or ``LR`` (needs to the left).
    """
    ids = {step_id: f"s{i}" for i, step_id in enumerate(workflow.steps)}
    lines = ["flowchart LR" if direction == "LR" else "flowchart TD"]
    for step_id, node in ids.items():
        label = "<br/>".join(_mermaid_text(line) for line in _label_lines(workflow, step_id))
        lines.append(f'    {node}["{label}"]')
    for step_id, step in workflow.steps.items():
        for dep in dict.fromkeys(step.needs):
            if dep in ids:
                lines.append(f"    {ids[dep]} --> {ids[step_id]}")
    return "\n".join(lines) + "\n"


def _dot_string(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + out.replace("\r", "").replace("\n", "\\n") + '"'


def to_dot(workflow: Workflow, *, direction: str = "TB") -> str:
    """A Graphviz digraph: one box per step (id and ``uses``), edges from need to step.

    ``direction`` is ``TB`` (needs above) or ``LR`` (needs to the left).
    """
    rankdir = "LR" if direction == "LR" else "TB"
    lines = [
        f"digraph {_dot_string(workflow.name)} {{",
        f"    rankdir={rankdir};",
        "    node [shape=box];",
    ]
    for step_id in workflow.steps:
        label = "\\n".join(_dot_string(line)[1:-1] for line in _label_lines(workflow, step_id))
        lines.append(f'    {_dot_string(step_id)} [label="{label}"];')
    for step_id, step in workflow.steps.items():
        for dep in dict.fromkeys(step.needs):
            if dep in workflow.steps:
                lines.append(f"    {_dot_string(dep)} -> {_dot_string(step_id)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
