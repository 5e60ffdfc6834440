"""The render tree of a compiled ``with:`` value, without CEL.

:func:`~cadenza._expr._expressions.compile_value` builds these nodes only where
there is something to evaluate; each renders through the
:class:`~cadenza._expr._render.Scope` it is given, which does the evaluating.
They live apart from the scope so that loading a workflow imports celpy only
when one of its strings holds an expression.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:
    from ._budget import BudgetedRunner
    from ._render import Scope

__all__ = [
    "ExpressionNode",
    "InterpolationNode",
    "LiteralNode",
    "MappingNode",
    "Node",
    "Program",
    "SequenceNode",
]


@attrs.frozen(eq=False)
class Program:
    """One compiled expression text: its runner, references and problems (shared via cache)."""

    text: str
    runner: BudgetedRunner | None
    step_refs: frozenset[str]
    input_refs: frozenset[str]
    problems: tuple[tuple[str, str], ...]  # (message, hint)
    loop_refs: frozenset[str] = frozenset()  # ``item`` / ``index`` of a for_each step


class Node(Protocol):
    """A part of a compiled ``with:`` value that can produce its rendered value."""

    def render(self, scope: Scope) -> Any: ...


@attrs.frozen(eq=False)
class LiteralNode:
    """A value with nothing to evaluate, rendered as it is (or with its escapes undone)."""

    value: Any

    def render(self, scope: Scope) -> Any:
        return self.value


@attrs.frozen(eq=False)
class ExpressionNode:
    """A string that is exactly one ``${{ }}``: the expression's value, with its type."""

    program: Program
    path: str

    def render(self, scope: Scope) -> Any:
        return scope.evaluate(self.program, self.path)


@attrs.frozen(eq=False)
class InterpolationNode:
    """Text around or between expressions: a string, non-strings written as compact JSON."""

    parts: tuple[str | Program, ...]
    path: str

    def render(self, scope: Scope) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(scope.evaluate_text(part, self.path))
        return "".join(out)


@attrs.frozen(eq=False)
class MappingNode:
    """A mapping with something to render in it; keys are plain text."""

    items: tuple[tuple[Any, Node], ...]

    def render(self, scope: Scope) -> dict[Any, Any]:
        return {key: node.render(scope) for key, node in self.items}


@attrs.frozen(eq=False)
class SequenceNode:
    """A list with something to render in it."""

    items: tuple[Node, ...]

    def render(self, scope: Scope) -> list[Any]:
        return [node.render(scope) for node in self.items]
