"""CEL expressions in workflow files: ``when:`` conditions and ``${{ }}`` in ``with:`` values.

Both use the Common Expression Language (CEL, https://cel.dev), evaluated by
``cel-python`` in its interpreter: no ``eval``/``exec``, no attribute access to
Python objects, nothing but CEL. An expression sees these names:

``inputs``
    the run's inputs, ``inputs.topic`` or ``inputs["dry-run"]``;
``steps``
    the steps listed in the referencing step's ``needs``, each a map with
    ``output`` (its JSON output, ``null`` when it was skipped) and ``status``
    (``"succeeded"`` or ``"skipped"``): ``steps.build.output.url``,
    ``steps["build-docs"].status``;
``item`` and ``index``
    in a step with ``for_each:`` only, in its ``with:`` and ``when:``: the
    list item this run of the step serves, and its position (from 0).

References must be static (``steps.build``, ``steps["build-docs"]``, not
``steps[inputs.which]``) so the loader can check each against ``needs`` and the
declared inputs before anything runs. An id with a hyphen cannot be written
with dots (``steps.build-docs`` means ``steps.build`` minus ``docs``); use the
index form.

``when:``
    one bare expression that must evaluate to ``true`` or ``false``:
    ``inputs.publish && steps.build.output.ok``. Wrapping it whole in
    ``${{ }}`` is accepted too.

``with:`` values
    any JSON-like structure; each string in it may contain ``${{ expr }}``.
    A string that is exactly one ``${{ expr }}`` (surrounding whitespace
    allowed) becomes the expression's value with its type: ``"${{
    steps.search.output.hits }}"`` is a list. Text around or between
    expressions makes the result a string, each value interpolated: strings as
    they are, everything else as compact JSON (``"found ${{ size(x) }} in
    ${{ x }}"`` gives ``"found 2 in [1,2]"``). Other values pass through
    unchanged. Mapping keys are plain text, never evaluated.

Escaping
    ``$${{`` renders as a literal ``${{``, in values and in keys alike:
    ``"write $${{ inputs.x }} in the file"`` gives ``"write ${{ inputs.x }}
    in the file"``. Only the ``$`` directly before ``${{`` is consumed, so
    ``$$${{`` gives ``$${{``; to put a dollar sign before a value, write
    ``${{ "$" + string(inputs.price) }}``.

Results come back as plain JSON values (``bool``, ``int``, ``float``,
``str``, ``None``, ``list``, ``dict``); timestamps and durations become their
text, and map keys become strings as JSON would write them.

Evaluation is bounded: one ``when:`` evaluation, or one rendering of a
step's whole ``with:``, may take at most ``EVALUATION_LIMIT`` steps
(``_expr_budget``), so an expression that would loop a million times fails
its step with :class:`~cadenza.ExpressionLimitError` in a fraction of a second
instead of blocking the run; one that cannot fit whatever its inputs (nested
comprehensions over long list literals) is reported when the workflow loads.

Compiling costs a few milliseconds per distinct expression text, so compiled
programs are cached by text: ten thousand steps with one ``when:`` compile it
once. Strings without ``${{`` never reach the CEL parser, and celpy itself is
imported by the first expression compiled: a workflow without expressions
loads without it.

The work is spread over small modules: ``_expr_syntax`` cuts strings at
``${{ }}`` and explains syntax errors, ``_expr_parser`` builds celpy's parser
from cached tables, ``_expr_refs`` checks what a parsed expression reads,
``_expr_budget`` bounds what an evaluation may do, ``_expr_nodes`` is the
render tree, ``_expr_render`` evaluates, ``_expr_explain`` says why an
evaluation failed, ``_expr_plain`` turns CEL results into plain JSON and
``_expr_values`` shows values in messages.
This module holds the public API and the compiler with its cache.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast, final

import attrs

from .._errors import ExpressionError
from .._paths import child_path
from ._nodes import (
    ExpressionNode,
    InterpolationNode,
    LiteralNode,
    MappingNode,
    Node,
    Program,
    SequenceNode,
)
from ._syntax import Piece, expression_label, only_space_around, split_expressions

if TYPE_CHECKING:  # celpy is imported by the first compile, not by loading this module
    import celpy

    from ._render import Scope

__all__ = [
    "Condition",
    "ExprIssue",
    "ExpressionContext",
    "StepView",
    "ValueTemplate",
    "compile_condition",
    "compile_value",
]


# --------------------------------------------------------------------------- public API


@final
@attrs.frozen(kw_only=True)
class ExprIssue:
    """A problem found while compiling an expression; the loader adds file and line.

    ``path`` is the full path of the offending string (``steps.build.with.files[2]``,
    ``steps.build.when``); ``hint`` says how to fix it.
    """

    path: str
    message: str
    hint: str = ""


@final
@attrs.frozen(kw_only=True)
class StepView:
    """What an expression sees of a finished step: ``steps.<id>.status`` and ``.output``."""

    status: str
    output: Any = None


@final
@attrs.frozen(kw_only=True)
class ExpressionContext:
    """The values an expression can read: the run's inputs and the needed steps."""

    inputs: Mapping[str, Any]
    steps: Mapping[str, StepView]
    item: Any = None
    index: int | None = None
    """The item and its position, for one item of a ``for_each`` step (None otherwise)."""


@final
@attrs.frozen(kw_only=True)
class ValueTemplate:
    """A compiled ``with:`` value; :meth:`render` fills in its ``${{ }}`` expressions.

    Built by :func:`compile_value` or :meth:`static`. ``value`` is the value as
    written, ``step_refs`` and ``input_refs`` name every step and input its
    expressions read. Rendered values may share unchanged parts with ``value``:
    treat both as read-only.
    """

    value: Any = attrs.field(hash=False)
    path: str = ""
    step_refs: frozenset[str] = frozenset()
    input_refs: frozenset[str] = frozenset()
    loop_refs: frozenset[str] = frozenset()
    _node: Node | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def static(cls, value: Any) -> ValueTemplate:
        """A template that renders ``value`` itself; ``${{`` in it is not interpreted."""
        return cls(value=value)

    @property
    def is_static(self) -> bool:
        """True when there is nothing to evaluate: :meth:`render` returns ``value`` as is."""
        return self._node is None

    def render(self, ctx: ExpressionContext) -> Any:
        """Evaluate every expression and return the resulting plain JSON value.

        Raises :class:`~cadenza.ExpressionError` (``where`` = the string's path)
        when an expression fails: a missing key, a type mismatch, a null output.
        """
        node = self._node
        if node is None:
            return self.value
        if isinstance(node, LiteralNode):  # escapes only, undone when compiled
            return node.value
        from ._render import Scope  # already imported: an expression was compiled

        return node.render(Scope(ctx, self.input_refs, self.step_refs))


@final
@attrs.frozen(kw_only=True)
class Condition:
    """A compiled ``when:`` condition, built by :func:`compile_condition`."""

    source: str
    path: str = ""
    step_refs: frozenset[str] = frozenset()
    input_refs: frozenset[str] = frozenset()
    loop_refs: frozenset[str] = frozenset()
    _program: Program = attrs.field(eq=False, repr=False)

    def evaluate(self, ctx: ExpressionContext) -> bool:
        """Return the condition's value; anything but true or false is an ExpressionError."""
        from ._plain import cel_type_name
        from ._render import Scope  # already imported: the program was compiled
        from ._values import compact_json

        program = self._program
        result = Scope(ctx, self.input_refs, self.step_refs).evaluate(program, self.path)
        if isinstance(result, bool):
            return result
        raise ExpressionError(
            f"a condition must evaluate to true or false, but this one gave "
            f"{cel_type_name(result)} {compact_json(result, limit=80)}"
            + (" (a skipped step's output is null)" if result is None and self.step_refs else ""),
            expression=program.text,
            where=self.path,
        )


def compile_value(value: Any, *, path: str) -> tuple[ValueTemplate, list[ExprIssue]]:
    """Compile a ``with:`` value (any JSON-like structure) at ``path``.

    Returns the template and every problem found, all at once; the template
    is only fit to render when the list is empty.
    """
    compiler = _ValueCompiler()
    node = compiler.node(value, path)
    if node is not None and not compiler.programs:
        # Only $${{ escapes to undo: no node reads the scope, so render once, here
        # (and rendering needs no CEL: a run without expressions never imports it).
        node = LiteralNode(node.render(cast("Scope", None)))
    template = ValueTemplate(
        value=value,
        path=path,
        step_refs=frozenset(compiler.step_refs),
        input_refs=frozenset(compiler.input_refs),
        loop_refs=frozenset(compiler.loop_refs),
        node=node,
    )
    return template, compiler.issues


def compile_condition(source: str, *, path: str) -> tuple[Condition | None, list[ExprIssue]]:
    """Compile a ``when:`` condition at ``path``; the condition is None when there are issues."""
    text = source.strip()
    if text.startswith("${{") and text.endswith("}}"):
        pieces, _problems = split_expressions(text)
        expressions = [p for p in pieces if isinstance(p, Piece)]
        if len(expressions) == 1 and only_space_around(pieces):
            text = expressions[0].text
    if not text:
        return None, [
            ExprIssue(
                path=path,
                message="the condition is empty",
                hint="write a CEL expression such as inputs.publish, or remove when:",
            )
        ]
    program = _compile_expression(text)
    if program.problems:
        return None, [
            ExprIssue(path=path, message=message, hint=hint) for message, hint in program.problems
        ]
    condition = Condition(
        source=source,
        path=path,
        step_refs=program.step_refs,
        input_refs=program.input_refs,
        loop_refs=program.loop_refs,
        program=program,
    )
    return condition, []


# --------------------------------------------------------------------------- compiling


@functools.cache
def _environment() -> celpy.Environment:
    # Built on first use, not at import: celpy and its Lark parser cost ~0.1 s even with
    # the parser's tables cached (_expr_parser), ~0.4 s without.
    # The default InterpretedRunner walks the tree; CompiledRunner would exec() Python.
    # Environment() sets the interpreter's recursion limit to 2500: put it back, a
    # library must not change process-wide state (the depth limit in _expr_refs keeps
    # evaluation within the default limit of 1000 instead).
    import celpy

    from ._parser import install_cel_parser

    limit = sys.getrecursionlimit()
    try:
        install_cel_parser()  # celpy's parser, from tables cached across processes
        return celpy.Environment()
    finally:
        sys.setrecursionlimit(limit)


@functools.lru_cache(maxsize=4096)
def _compile_expression(text: str) -> Program:
    """Parse and check one CEL expression (stripped source text), once per distinct text."""
    from celpy.celparser import CELParseError

    from ._budget import EVALUATION_LIMIT, BudgetedRunner, minimum_steps
    from ._refs import ReferenceChecker
    from ._syntax import syntax_problem

    env = _environment()
    try:
        tree = env.compile(text)
    except CELParseError as exc:
        return Program(
            text=text,
            runner=None,
            step_refs=frozenset(),
            input_refs=frozenset(),
            problems=(syntax_problem(text, exc),),
        )
    checker = ReferenceChecker(text)
    checker.walk(tree)
    problems = tuple(checker.problems())
    if not problems:
        steps = minimum_steps(tree)
        if steps > EVALUATION_LIMIT:
            problems = (
                (
                    f"evaluating this takes at least {steps:,} steps, more than the limit "
                    f"of {EVALUATION_LIMIT:,} for one evaluation",
                    "Iterate over fewer items, do not nest map/filter/all/exists over long "
                    "lists, or compute the value in a step (see 'Evaluation limit' in "
                    "docs/expressions.md).",
                ),
            )
    runner = None if problems else BudgetedRunner(env, tree)
    return Program(
        text=text,
        runner=runner,
        step_refs=frozenset(checker.refs["steps"]),
        input_refs=frozenset(checker.refs["inputs"]),
        problems=problems,
        loop_refs=frozenset(checker.refs["loop"]),
    )


class _ValueCompiler:
    """Builds the render tree of a ``with:`` value, collecting references and issues."""

    def __init__(self) -> None:
        self.step_refs: set[str] = set()
        self.input_refs: set[str] = set()
        self.loop_refs: set[str] = set()
        self.issues: list[ExprIssue] = []
        self.programs = 0

    def node(self, value: Any, path: str) -> Node | None:
        """The node rendering ``value``, or None when it renders as itself."""
        if isinstance(value, str):
            return self._string(value, path) if "${{" in value else None
        if isinstance(value, Mapping):
            return self._mapping(value, path)
        if isinstance(value, list | tuple):
            nodes = [self.node(item, child_path(path, i)) for i, item in enumerate(value)]
            if all(node is None for node in nodes):
                return None
            return SequenceNode(
                tuple(
                    LiteralNode(item) if node is None else node
                    for item, node in zip(value, nodes, strict=True)
                )
            )
        return None

    def _mapping(self, value: Mapping[Any, Any], path: str) -> Node | None:
        items: list[tuple[Any, Node | None]] = []
        changed = False
        for key, item in value.items():
            item_path = child_path(path, key)
            new_key = self._key(key, item_path)
            node = self.node(item, item_path)
            changed = changed or node is not None or new_key != key
            items.append((new_key, node))
        if not changed:
            return None
        return MappingNode(
            tuple(
                (key, LiteralNode(value_item) if node is None else node)
                for (key, node), value_item in zip(items, value.values(), strict=True)
            )
        )

    def _key(self, key: Any, path: str) -> Any:
        if not isinstance(key, str) or "${{" not in key:
            return key
        pieces, _problems = split_expressions(key)
        if any(isinstance(p, Piece) for p in pieces) or _problems:
            self.issues.append(
                ExprIssue(
                    path=path,
                    message=f"mapping keys are plain text, but {key!r} contains '${{{{'",
                    hint="build the mapping in an expression instead, e.g. "
                    '${{ {inputs.name: "value"} }}, or write $${{ for a literal ${{',
                )
            )
            return key
        return "".join(cast(list[str], pieces))

    def _string(self, text: str, path: str) -> Node:
        pieces, problems = split_expressions(text)
        for message, hint in problems:
            self.issues.append(ExprIssue(path=path, message=message, hint=hint))
        if problems:
            return LiteralNode(text)
        parts: list[str | Program] = []
        for piece in pieces:
            if isinstance(piece, str):
                if parts and isinstance(parts[-1], str):
                    parts[-1] += piece
                else:
                    parts.append(piece)
                continue
            program = _compile_expression(piece.text)
            for message, hint in program.problems:
                self.issues.append(
                    ExprIssue(
                        path=path,
                        message=f"{message} (in {expression_label(piece.text)})",
                        hint=hint,
                    )
                )
            self.step_refs |= program.step_refs
            self.input_refs |= program.input_refs
            self.loop_refs |= program.loop_refs
            parts.append(program)
            self.programs += 1
        programs = [p for p in parts if isinstance(p, Program)]
        if not programs:
            return LiteralNode("".join(cast(list[str], parts)))
        if len(programs) == 1 and only_space_around(pieces):
            return ExpressionNode(programs[0], path)
        return InterpolationNode(tuple(parts), path)
