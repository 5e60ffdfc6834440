"""CEL expressions in workflow files: ``when:`` conditions and ``${{ }}`` in ``with:`` values.

Both use the Common Expression Language (CEL, https://cel.dev), evaluated by
``cel-python`` in its interpreter: no ``eval``/``exec``, no attribute access to
Python objects, nothing but CEL. An expression sees exactly two names:

``inputs``
    the run's inputs, ``inputs.topic`` or ``inputs["dry-run"]``;
``steps``
    the steps listed in the referencing step's ``needs``, each a map with
    ``output`` (its JSON output, ``null`` when it was skipped) and ``status``
    (``"succeeded"`` or ``"skipped"``): ``steps.build.output.url``,
    ``steps["build-docs"].status``.

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

Compiling costs a few milliseconds per distinct expression text, so compiled
programs are cached by text: ten thousand steps with one ``when:`` compile it
once. Strings without ``${{`` never reach the CEL parser.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any, Final, Protocol, TypeAlias, cast, final

import attrs
import celpy
import celpy.celtypes as celtypes
import lark
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import (
    CELEvalError,
    CELUnsupportedError,
    Evaluator,
    base_functions,
    celstr,
)
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from ._errors import ExpressionError

__all__ = [
    "Condition",
    "ExprIssue",
    "ExpressionContext",
    "StepView",
    "ValueTemplate",
    "compile_condition",
    "compile_value",
]

Tree: TypeAlias = "lark.Tree[lark.Token]"

_ROOTS: Final = ("inputs", "steps")
# Parse-tree levels, so that celpy's recursive evaluator (several frames a level)
# fits in Python's default recursion limit of 1000 with ~300 frames to spare.
# Allows 60 chained + terms, 120 chained && terms, or 13 nested parentheses.
_MAX_DEPTH: Final = 140
_STEP_FIELDS: Final = ("output", "status")
_TYPE_NAMES: Final = frozenset(
    {
        "bool",
        "bytes",
        "double",
        "duration",
        "dyn",
        "int",
        "list",
        "map",
        "null_type",
        "string",
        "timestamp",
        "type",
        "uint",
    }
)
# Comprehension macros and how many loop variables each binds: ``xs.map(x, x * 2)``.
_MACRO_VARIABLES: Final = {
    "all": 1,
    "exists": 1,
    "exists_one": 1,
    "filter": 1,
    "map": 1,
    "reduce": 2,
}
_FUNCTIONS: Final = frozenset(
    {name for name in base_functions if name[:1].isalpha()} | {"has", "dyn"}
)
_METHODS: Final = _FUNCTIONS | _MACRO_VARIABLES.keys() | {"min"}
_FUNCTION_ALIASES: Final = {"len": "size", "length": "size", "str": "string", "float": "double"}

_OPEN: Final = re.compile(r"\$\$\{\{|\$\{\{")
_HYPHEN_TAIL: Final = re.compile(r"(?:-[A-Za-z0-9_]+)+")
_PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_CEL_CLASS: Final = re.compile(r"<class '(?:[\w.]+\.)?(\w+)'>")
_OVERLOAD: Final = re.compile(r"found no matching overload for (.+?) applied to '\((.*?)\)'")
_CEL_VALUE: Final = re.compile(r"\b(?:Bool|Int|Uint|Double|String|Bytes)Type\(([^()]*)\)")
_DUMPED_TREE: Final = re.compile(r"tree=\"([^\"]*)\"")
_IN_ACTIVATION: Final = re.compile(r"\s*\(in activation .*", re.DOTALL)
_WORD_OPERATOR_BEFORE: Final = re.compile(r"\b(and|or|not)\s*\Z")

_CLASS_NAMES: Final = {
    "BoolType": "bool",
    "BytesType": "bytes",
    "DoubleType": "double",
    "DurationType": "duration",
    "IntType": "int",
    "ListType": "list",
    "MapType": "map",
    "MessageType": "map",
    "NoneType": "null",
    "StringType": "string",
    "TimestampType": "timestamp",
    "TypeType": "type",
    "UintType": "uint",
}
_CEL_TYPE_NAME: Final = re.compile(r"\b(" + "|".join(_CLASS_NAMES) + r")\b")
_OPERATORS: Final = {
    "_[_]": "[]",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_div": "/",
    "multiplication_mod": "%",
    "multiplication_mul": "*",
    "relation_eq": "==",
    "relation_ge": ">=",
    "relation_gt": ">",
    "relation_in": "in",
    "relation_le": "<=",
    "relation_lt": "<",
    "relation_ne": "!=",
    "unary_neg": "-",
    "unary_not": "!",
}
_TOKEN_NAMES: Final = {
    "COLON": "':'",
    "COMMA": "','",
    "DOT": "'.'",
    "IDENT": "a name",
    "LPAR": "'('",
    "LSQB": "'['",
    "RBRACE": "'}'",
    "RPAR": "')'",
    "RSQB": "']'",
}
# Rules that merely wrap their single child; unwrapped to see what an operand is.
_WRAPPERS: Final = frozenset(
    {
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
        "primary",
        "paren_expr",
    }
)


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
    _node: _Node | None = attrs.field(default=None, eq=False, repr=False)

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
        return node.render(_Scope(ctx, self.input_refs, self.step_refs))


@final
@attrs.frozen(kw_only=True)
class Condition:
    """A compiled ``when:`` condition, built by :func:`compile_condition`."""

    source: str
    path: str = ""
    step_refs: frozenset[str] = frozenset()
    input_refs: frozenset[str] = frozenset()
    _program: _Program = attrs.field(eq=False, repr=False)

    def evaluate(self, ctx: ExpressionContext) -> bool:
        """Return the condition's value; anything but true or false is an ExpressionError."""
        program = self._program
        result = _Scope(ctx, self.input_refs, self.step_refs).evaluate(program, self.path)
        if isinstance(result, bool):
            return result
        raise ExpressionError(
            f"a condition must evaluate to true or false, but this one gave "
            f"{_type_name(result)} {_compact(result, limit=80)}"
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
    template = ValueTemplate(
        value=value,
        path=path,
        step_refs=frozenset(compiler.step_refs),
        input_refs=frozenset(compiler.input_refs),
        node=node,
    )
    return template, compiler.issues


def compile_condition(source: str, *, path: str) -> tuple[Condition | None, list[ExprIssue]]:
    """Compile a ``when:`` condition at ``path``; the condition is None when there are issues."""
    text = source.strip()
    if text.startswith("${{") and text.endswith("}}"):
        pieces, _problems = _split(text)
        expressions = [p for p in pieces if isinstance(p, _Piece)]
        if len(expressions) == 1 and _only_space(pieces):
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
        program=program,
    )
    return condition, []


# --------------------------------------------------------------------------- compiling


@attrs.frozen(eq=False)
class _Program:
    """One compiled expression text: its runner, references and problems (shared via cache)."""

    text: str
    runner: celpy.Runner | None
    step_refs: frozenset[str]
    input_refs: frozenset[str]
    problems: tuple[tuple[str, str], ...]  # (message, hint)


@functools.cache
def _environment() -> celpy.Environment:
    # Built on first use, not at import: it builds the Lark parser (~100 ms).
    # The default InterpretedRunner walks the tree; CompiledRunner would exec() Python.
    # Environment() sets the interpreter's recursion limit to 2500: put it back, a
    # library must not change process-wide state (_MAX_DEPTH keeps evaluation within
    # the default limit of 1000 instead).
    limit = sys.getrecursionlimit()
    try:
        return celpy.Environment()
    finally:
        sys.setrecursionlimit(limit)


@functools.lru_cache(maxsize=4096)
def _compile_expression(text: str) -> _Program:
    """Parse and check one CEL expression (stripped source text), once per distinct text."""
    env = _environment()
    try:
        tree = env.compile(text)
    except CELParseError as exc:
        return _Program(
            text=text,
            runner=None,
            step_refs=frozenset(),
            input_refs=frozenset(),
            problems=(_syntax_problem(text, exc),),
        )
    checker = _ReferenceChecker(text)
    checker.walk(tree)
    problems = tuple(checker.problems())
    runner = None if problems else env.program(tree)
    return _Program(
        text=text,
        runner=runner,
        step_refs=frozenset(checker.refs["steps"]),
        input_refs=frozenset(checker.refs["inputs"]),
        problems=problems,
    )


def _syntax_problem(text: str, exc: CELParseError) -> tuple[str, str]:
    cause = exc.__context__
    pos: int | None = None
    what = "invalid syntax"
    expected: set[str] = set()
    unexpected = ""
    if isinstance(cause, UnexpectedToken):
        token = cause.token
        if token.type == "$END":
            what = "unexpected end of expression"
            pos = len(text.rstrip())
        else:
            unexpected = str(token.value)
            what = f"unexpected {unexpected!r}"
            pos = token.start_pos
        expected = set(cause.expected or ())
    elif isinstance(cause, UnexpectedCharacters):
        unexpected = cause.char
        what = f"unexpected character {unexpected!r}"
        pos = cause.pos_in_stream
        expected = set(cause.allowed or ())
    if pos is None and exc.line is not None and exc.column is not None:
        lines = text.split("\n")
        pos = sum(len(line) + 1 for line in lines[: exc.line - 1]) + exc.column - 1

    message = "syntax error"
    if pos is not None:
        message += f" at {_position(text, pos)}"
    message += f": {what}"
    if expected_text := _expected(expected):
        message += f"; expected {expected_text}"

    advice = _syntax_advice(text[:pos] if pos is not None else "", unexpected)
    context = _caret(text, pos) if pos is not None else text
    return message, f"{advice}\n{context}" if advice else context


def _expected(tokens: set[str]) -> str:
    if {"IDENT", "INT_LIT", "STRING_LIT"} <= tokens:
        return "a value"
    if {"PLUS", "STAR"} <= tokens:
        return "an operator or the end of the expression"
    if tokens and len(tokens) <= 4:
        return " or ".join(sorted(_TOKEN_NAMES.get(t, t) for t in tokens))
    return ""


def _syntax_advice(before: str, unexpected: str) -> str:
    """Advice for common mistakes, from the offending token and the text before it."""
    if unexpected == "=":
        return "compare with ==, not ="
    if unexpected == "$":
        return (
            "${{ }} belongs in with: values only; inside an expression, and in when:, "
            "write names directly, e.g. inputs.topic"
        )
    if unexpected in ("'", '"'):
        return "a string literal is not closed"
    if unexpected in ("and", "or", "not") or _WORD_OPERATOR_BEFORE.search(before):
        return "CEL writes and, or, not as &&, || and !"
    if unexpected in ("true", "false", "null", "in"):
        return f'{unexpected!r} is a keyword; to use it as a key, write ["{unexpected}"]'
    return ""


def _position(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}" if "\n" in text else f"column {column}"


def _caret(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    line = text[start : end if end >= 0 else len(text)]
    return f"{line}\n{' ' * (pos - start)}^"


class _ReferenceChecker:
    """Walks a parse tree: collects ``inputs``/``steps`` references, reports misuse."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.refs: dict[str, set[str]] = {root: set() for root in _ROOTS}
        self._problems: list[tuple[int, str, str]] = []
        self._unknown: list[tuple[int, str, str]] = []
        self._hyphen_spans: list[range] = []

    def problems(self) -> Iterator[tuple[str, str]]:
        # Names swallowed by a hyphenated id (``docs`` in ``steps.build-docs``) were
        # already explained; reporting them as unknown too would only confuse.
        unknown = [p for p in self._unknown if not any(p[0] in span for span in self._hyphen_spans)]
        for _pos, message, hint in sorted(self._problems + unknown, key=lambda p: p[0]):
            yield message, hint

    def _report(self, node: Tree | lark.Token, message: str, hint: str) -> None:
        """Record a problem; ``{at}`` in ``message`` becomes " at column N"."""
        pos = _start(node)
        at = f" at {_position(self.text, pos)}" if pos is not None else ""
        self._problems.append((pos or 0, message.replace("{at}", at), hint))

    def walk(self, tree: Tree) -> None:
        # Iterative: a long chain (a + b + ...) nests one level per term.
        stack: list[tuple[Tree, frozenset[str], int]] = [(tree, frozenset(), 1)]
        deepest = 0
        while stack:
            node, bound, depth = stack.pop()
            deepest = max(deepest, depth)
            children = self._visit(node, bound)
            stack.extend(
                (child, scope, depth + 1)
                for child, scope in reversed(children)
                if isinstance(child, lark.Tree)
            )
        if deepest > _MAX_DEPTH:
            # celpy evaluates recursively, several frames per level of the tree.
            self._problems.append(
                (
                    0,
                    f"the expression is nested too deeply to evaluate ({deepest} levels, "
                    f"at most {_MAX_DEPTH})",
                    "split it into smaller expressions, or compute the value in a step",
                )
            )

    def _visit(self, node: Tree, bound: frozenset[str]) -> list[tuple[Any, frozenset[str]]]:
        kind = node.data
        if kind in ("member_dot", "member_index"):
            return self._member(node, bound)
        if kind in ("ident", "dot_ident"):
            self._name(node.children[0], bound)
            return []
        if kind in ("ident_arg", "dot_ident_arg"):
            self._function(node.children[0], _FUNCTIONS, "function")
            return [(child, bound) for child in node.children[1:]]
        if kind == "member_dot_arg":
            return self._method(node, bound)
        if kind == "literal":
            return []
        return [(child, bound) for child in node.children]

    def _member(self, node: Tree, bound: frozenset[str]) -> list[tuple[Any, frozenset[str]]]:
        inner = node.children[0]
        assert isinstance(inner, lark.Tree)
        self._check_step_field(node, inner, bound)
        root = _root(inner, bound)
        if root is None:
            return [(child, bound) for child in node.children]
        if node.data == "member_dot":
            name = str(node.children[1])
            self._check_hyphen(node, root, name)
            self.refs[root].add(name)
            return []
        index = node.children[1]
        assert isinstance(index, lark.Tree)
        key = _string_literal(index)
        if key is None:
            self._report(
                node,
                f"{root}[...]{{at}} needs a quoted name",
                f'write {root}.name or {root}["name"]; references must be fixed in the file '
                "so they can be checked before the run",
            )
            return [(index, bound)]
        self.refs[root].add(key)
        return []

    def _check_step_field(self, node: Tree, inner: Tree, bound: frozenset[str]) -> None:
        """``steps.build.outputs``: a step has only ``output`` and ``status``."""
        target = _unwrap(inner)
        if not isinstance(target, lark.Tree) or target.data not in ("member_dot", "member_index"):
            return
        target_inner = target.children[0]
        if not isinstance(target_inner, lark.Tree) or _root(target_inner, bound) != "steps":
            return
        if node.data == "member_dot":
            field: str | None = str(node.children[1])
        else:
            index = node.children[1]
            field = _string_literal(index) if isinstance(index, lark.Tree) else None
        if field is None or field in _STEP_FIELDS:
            return
        step = _source(target, self.text) or "steps.<id>"
        close = difflib.get_close_matches(field, _STEP_FIELDS, n=1)
        suggestion = close[0] if close else "output"
        self._report(
            node,
            f"a step has no field {field!r}{{at}}; it has output and status",
            f"did you mean {step}.{suggestion}?",
        )

    def _check_hyphen(self, node: Tree, root: str, name: str) -> None:
        end = _end(node)
        if end is None:
            return
        match = _HYPHEN_TAIL.match(self.text, end)
        if match is None:
            return
        full = name + match.group()
        self._hyphen_spans.append(range(end, match.end()))
        self._report(
            node,
            f"{root}.{full}{{at}} reads as {root}.{name} minus {match.group()[1:]}; "
            "names written after a dot cannot contain '-'",
            f'write {root}["{full}"] instead',
        )

    def _name(self, token: Any, bound: frozenset[str]) -> None:
        name = str(token)
        if name in bound or name in _TYPE_NAMES:
            return
        if name in _ROOTS:
            self._report(
                token,
                f'{name}{{at}} must be followed by a name, as in {name}.x or {name}["x"]',
                "references must be fixed in the file so they can be checked before the run",
            )
            return
        pos = _start(token)
        if pos is not None and pos >= 2 and self.text[pos - 2 : pos] == "in":
            # The lexer reads ``a inputs`` as ``a in puts``: an operator is missing.
            word_start = pos - 2
            if word_start == 0 or not (
                self.text[word_start - 1].isalnum() or self.text[word_start - 1] == "_"
            ):
                self._problems.append(
                    (
                        word_start,
                        f"missing operator before 'in{name}' at {_position(self.text, word_start)}",
                        "join values with an operator such as &&, || or ==",
                    )
                )
                return
        at = f" at {_position(self.text, pos)}" if pos is not None else ""
        self._unknown.append(
            (
                pos or 0,
                f"unknown name {name!r}{at}; expressions can use inputs and steps",
                _unknown_name_hint(name),
            )
        )

    def _function(self, token: Any, known: frozenset[str], kind: str) -> None:
        name = str(token)
        if name in known:
            return
        close = _FUNCTION_ALIASES.get(name) or next(
            iter(difflib.get_close_matches(name, sorted(known), n=1)), None
        )
        hint = f"did you mean {close}()?" if close else ""
        self._report(token, f"unknown {kind} {name!r}{{at}}", hint)

    def _method(self, node: Tree, bound: frozenset[str]) -> list[tuple[Any, frozenset[str]]]:
        receiver, name_token, *rest = node.children
        name = str(name_token)
        self._function(name_token, _METHODS, "method")
        args: list[Any] = list(rest[0].children) if rest and isinstance(rest[0], lark.Tree) else []
        count = _MACRO_VARIABLES.get(name, 0)
        variables = [_plain_name(arg) for arg in args[:count]]
        if count == 0 or len(args) <= count or not all(variables):
            return [(child, bound) for child in (receiver, *rest)]
        inner = bound | {v for v in variables if v}
        if name == "reduce":
            # xs.reduce(acc, x, initial, step): the initial value sees the outer scope.
            return [(receiver, bound), (args[2], bound), *((a, inner) for a in args[3:])]
        return [(receiver, bound), *((a, inner) for a in args[count:])]


def _unknown_name_hint(name: str) -> str:
    if name in ("True", "False"):
        return f"CEL writes booleans in lower case: {name.lower()}"
    if name in ("and", "or", "not"):
        return "CEL writes and, or, not as &&, || and !"
    if name in ("None", "nil", "undefined"):
        return "CEL writes the empty value as null"
    close = difflib.get_close_matches(name, _ROOTS, n=1)
    if close:
        return f"did you mean {close[0]}?"
    return (
        f"use inputs.{name} for a run input or steps.{name}.output for a step's output; "
        f'quote text: "{name}"'
    )


def _start(node: Any) -> int | None:
    if isinstance(node, lark.Token):
        return node.start_pos
    if isinstance(node, lark.Tree) and not node.meta.empty:
        return node.meta.start_pos
    return None


def _end(node: Any) -> int | None:
    if isinstance(node, lark.Token):
        return node.end_pos
    if isinstance(node, lark.Tree) and not node.meta.empty:
        return node.meta.end_pos
    return None


def _source(node: Any, text: str) -> str | None:
    start, end = _start(node), _end(node)
    if start is None or end is None:
        return None
    return text[start:end]


def _unwrap(node: Any) -> Any:
    while (
        isinstance(node, lark.Tree)
        and node.data in _WRAPPERS
        and len(node.children) == 1
        and isinstance(node.children[0], lark.Tree)
    ):
        node = node.children[0]
    return node


def _root(member: Tree, bound: frozenset[str]) -> str | None:
    """``inputs``/``steps`` when ``member`` is just that name (not shadowed by a macro variable)."""
    node = _unwrap(member)
    if isinstance(node, lark.Tree) and node.data in ("ident", "dot_ident"):
        name = str(node.children[0])
        if name in _ROOTS and name not in bound:
            return name
    return None


def _plain_name(node: Any) -> str | None:
    node = _unwrap(node)
    if isinstance(node, lark.Tree) and node.data == "ident":
        return str(node.children[0])
    return None


def _string_literal(node: Tree) -> str | None:
    node = _unwrap(node)
    if isinstance(node, lark.Tree) and node.data == "literal":
        token = node.children[0]
        if isinstance(token, lark.Token) and token.type in ("STRING_LIT", "MLSTRING_LIT"):
            return str(celstr(token))
    return None


@attrs.frozen
class _Piece:
    """One ``${{ }}`` in a string: the expression's text, stripped."""

    text: str


def _split(text: str) -> tuple[list[str | _Piece], list[tuple[str, str]]]:
    """Cut a string into literal text (escapes undone) and expressions."""
    pieces: list[str | _Piece] = []
    problems: list[tuple[str, str]] = []
    pos = 0
    for match in _OPEN.finditer(text):
        if match.start() < pos:
            continue  # inside an expression already consumed
        pieces.append(text[pos : match.start()])
        if match.group() == "$${{":
            pieces.append("${{")
            pos = match.end()
            continue
        close, unclosed_quote = _find_close(text, match.end())
        if close is None:
            where = _position(text, match.start())
            if unclosed_quote is not None:
                problem = (
                    f"unterminated '${{{{' at {where}: the string literal at "
                    f"{_position(text, unclosed_quote)} is not closed",
                    "close the quote, then the expression with }}",
                )
            else:
                problem = (
                    f"unterminated '${{{{' at {where}: no matching '}}}}'",
                    "close the expression with }}, or write $${{ for a literal ${{",
                )
            problems.append(problem)
            pieces.append(text[match.start() :])
            pos = len(text)
            break
        raw = text[match.end() : close]
        stripped = raw.strip()
        if not stripped:
            problems.append(
                (
                    f"empty '${{{{ }}}}' at {_position(text, match.start())}",
                    "put an expression inside, e.g. ${{ inputs.topic }}, "
                    "or write $${{ for a literal ${{",
                )
            )
        pieces.append(_Piece(stripped))
        pos = close + 2
    pieces.append(text[pos:])
    return [p for p in pieces if p != ""], problems


def _find_close(text: str, start: int) -> tuple[int | None, int | None]:
    """Index of the ``}}`` ending the expression at ``start``; else (None, open quote index)."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        char = text[i]
        if char in "'\"":
            quote = char * 3 if text.startswith(char * 3, i) else char
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                return None, i
            i = j + len(quote)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth:
                depth -= 1
            elif text.startswith("}}", i):
                return i, None
        i += 1
    return None, None


def _only_space(pieces: list[str | _Piece]) -> bool:
    return all(isinstance(p, _Piece) or not p.strip() for p in pieces)


def _label(text: str) -> str:
    text = " ".join(text.split())
    shown = text if len(text) <= 60 else text[:57] + "..."
    return f"${{{{ {shown} }}}}"


def _child_path(path: str, key: Any) -> str:
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False, default=str)}]"


class _ValueCompiler:
    """Builds the render tree of a ``with:`` value, collecting references and issues."""

    def __init__(self) -> None:
        self.step_refs: set[str] = set()
        self.input_refs: set[str] = set()
        self.issues: list[ExprIssue] = []

    def node(self, value: Any, path: str) -> _Node | None:
        """The node rendering ``value``, or None when it renders as itself."""
        if isinstance(value, str):
            return self._string(value, path) if "${{" in value else None
        if isinstance(value, Mapping):
            return self._mapping(value, path)
        if isinstance(value, list | tuple):
            nodes = [self.node(item, _child_path(path, i)) for i, item in enumerate(value)]
            if all(node is None for node in nodes):
                return None
            return _Sequence(
                tuple(
                    _Literal(item) if node is None else node
                    for item, node in zip(value, nodes, strict=True)
                )
            )
        return None

    def _mapping(self, value: Mapping[Any, Any], path: str) -> _Node | None:
        items: list[tuple[Any, _Node | None]] = []
        changed = False
        for key, item in value.items():
            child_path = _child_path(path, key)
            new_key = self._key(key, child_path)
            node = self.node(item, child_path)
            changed = changed or node is not None or new_key != key
            items.append((new_key, node))
        if not changed:
            return None
        return _Mapping(
            tuple(
                (key, _Literal(value_item) if node is None else node)
                for (key, node), value_item in zip(items, value.values(), strict=True)
            )
        )

    def _key(self, key: Any, path: str) -> Any:
        if not isinstance(key, str) or "${{" not in key:
            return key
        pieces, _problems = _split(key)
        if any(isinstance(p, _Piece) for p in pieces) or _problems:
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

    def _string(self, text: str, path: str) -> _Node:
        pieces, problems = _split(text)
        for message, hint in problems:
            self.issues.append(ExprIssue(path=path, message=message, hint=hint))
        if problems:
            return _Literal(text)
        parts: list[str | _Program] = []
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
                    ExprIssue(path=path, message=f"{message} (in {_label(piece.text)})", hint=hint)
                )
            self.step_refs |= program.step_refs
            self.input_refs |= program.input_refs
            parts.append(program)
        programs = [p for p in parts if isinstance(p, _Program)]
        if not programs:
            return _Literal("".join(cast(list[str], parts)))
        if len(programs) == 1 and _only_space(pieces):
            return _Expression(programs[0], path)
        return _Interpolation(tuple(parts), path)


# --------------------------------------------------------------------------- rendering


class _Node(Protocol):
    def render(self, scope: _Scope) -> Any: ...


@attrs.frozen(eq=False)
class _Literal:
    value: Any

    def render(self, scope: _Scope) -> Any:
        return self.value


@attrs.frozen(eq=False)
class _Expression:
    program: _Program
    path: str

    def render(self, scope: _Scope) -> Any:
        return scope.evaluate(self.program, self.path)


@attrs.frozen(eq=False)
class _Interpolation:
    parts: tuple[str | _Program, ...]
    path: str

    def render(self, scope: _Scope) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = scope.evaluate(part, self.path)
                out.append(value if isinstance(value, str) else _compact(value))
        return "".join(out)


@attrs.frozen(eq=False)
class _Mapping:
    items: tuple[tuple[Any, _Node], ...]

    def render(self, scope: _Scope) -> dict[Any, Any]:
        return {key: node.render(scope) for key, node in self.items}


@attrs.frozen(eq=False)
class _Sequence:
    items: tuple[_Node, ...]

    def render(self, scope: _Scope) -> list[Any]:
        return [node.render(scope) for node in self.items]


def _compact(value: Any, *, limit: int | None = None) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if limit is not None and len(text) > limit:
        return text[: limit - 3] + "..."
    return text


class _Scope:
    """One render or evaluation: the context, and its CEL activation built on first use."""

    __slots__ = ("_activation", "ctx", "input_refs", "step_refs")

    def __init__(
        self, ctx: ExpressionContext, input_refs: frozenset[str], step_refs: frozenset[str]
    ) -> None:
        self.ctx = ctx
        self.input_refs = input_refs
        self.step_refs = step_refs
        self._activation: dict[str, Any] | None = None

    def activation(self, program: _Program, where: str) -> dict[str, Any]:
        # Only what the expressions reference is converted: outputs can be large.
        if self._activation is None:
            inputs: dict[Any, Any] = {}
            for name in sorted(self.input_refs):
                if name in self.ctx.inputs:
                    label = f"inputs.{name}"
                    inputs[celtypes.StringType(name)] = _to_cel(
                        self.ctx.inputs[name], label, program, where
                    )
            steps: dict[Any, Any] = {}
            for step_id in sorted(self.step_refs):
                view = self.ctx.steps.get(step_id)
                if view is not None:
                    label = f"steps.{step_id}.output"
                    steps[celtypes.StringType(step_id)] = celtypes.MapType(
                        {
                            celtypes.StringType("status"): celtypes.StringType(view.status),
                            celtypes.StringType("output"): _to_cel(
                                view.output, label, program, where
                            ),
                        }
                    )
            self._activation = {
                "inputs": celtypes.MapType(inputs),
                "steps": celtypes.MapType(steps),
            }
        return self._activation

    def evaluate(self, program: _Program, where: str) -> Any:
        """Run ``program`` and return its result as a plain JSON value."""
        runner = program.runner
        if runner is None:
            message, _hint = program.problems[0] if program.problems else ("not compiled", "")
            raise ExpressionError(message, expression=program.text, where=where)
        activation = self.activation(program, where)
        try:
            result = runner.evaluate(activation)
        except CELEvalError as exc:
            raise ExpressionError(
                _explain(exc, program, activation, self.ctx), expression=program.text, where=where
            ) from exc
        except CELUnsupportedError as exc:
            raise ExpressionError(
                f"not supported by this CEL implementation: {exc}",
                expression=program.text,
                where=where,
            ) from exc
        except Exception as exc:  # celpy bugs surface as arbitrary exceptions
            raise ExpressionError(
                f"evaluation failed: {type(exc).__name__}: {_tidy(str(exc))}",
                expression=program.text,
                where=where,
            ) from exc
        try:
            return _to_plain(result)
        except CELEvalError as exc:
            raise ExpressionError(
                _explain(exc, program, activation, self.ctx), expression=program.text, where=where
            ) from exc
        except _NotJSONError as exc:
            raise ExpressionError(str(exc), expression=program.text, where=where) from None


def _to_cel(value: Any, label: str, program: _Program, where: str) -> Any:
    try:
        return json_to_cel(value)
    except (ValueError, TypeError) as exc:
        reason = (
            "an integer is outside CEL's 64-bit range"
            if str(exc) == "overflow"
            else _tidy(str(exc))
        )
        raise ExpressionError(
            f"{label} holds a value expressions cannot use: {reason}",
            expression=program.text,
            where=where,
        ) from exc


class _NotJSONError(Exception):
    pass


def _to_plain(value: Any) -> Any:
    """A CEL result as plain JSON data (celpy's types subclass Python's, so test in order)."""
    if value is None:
        return None
    if isinstance(value, CELEvalError):
        raise value
    if isinstance(value, bool | celtypes.BoolType):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, celtypes.TimestampType | celtypes.DurationType):
        return str(value)
    if isinstance(value, Mapping):
        return {_plain_key(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_plain(item) for item in value]
    if isinstance(value, bytes):
        raise _NotJSONError(
            "the result is bytes, which have no JSON form; convert with string(...)"
        )
    raise _NotJSONError(f"the result is a {_type_name(value)}, which has no JSON form")


def _plain_key(key: Any) -> str:
    plain = _to_plain(key)
    return plain if isinstance(plain, str) else _compact(plain)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, CELEvalError):
        return "error"
    if isinstance(value, bool | celtypes.BoolType):
        return "bool"
    if isinstance(value, celtypes.UintType):
        return "uint"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, celtypes.TimestampType):
        return "timestamp"
    if isinstance(value, celtypes.DurationType):
        return "duration"
    if isinstance(value, type):
        return "type"
    return type(value).__name__


def _tidy(text: str) -> str:
    """celpy's messages without Python class reprs or activation dumps."""
    text = _IN_ACTIVATION.sub("", text)
    text = _CEL_VALUE.sub(r"\1", text)
    text = _CEL_CLASS.sub(lambda m: _CLASS_NAMES.get(m.group(1), m.group(1)), text)
    return _CEL_TYPE_NAME.sub(lambda m: _CLASS_NAMES[m.group(1)], text)


def _describe(value: Any) -> str:
    try:
        plain = _to_plain(value)
    except (CELEvalError, _NotJSONError):
        return _type_name(value)
    return f"{_type_name(value)} {_compact(plain, limit=60)}"


_MISSING: Final = object()


def _subvalue(program: _Program, node: Any, activation: dict[str, Any]) -> Any:
    """Evaluate part of a failed expression again, to say what was there instead."""
    runner = program.runner
    if runner is None or not isinstance(node, lark.Tree):
        return _MISSING
    try:
        evaluator = Evaluator(ast=node, activation=runner.new_activation())
        return evaluator.evaluate(activation)
    except Exception:
        return _MISSING


def _explain(
    exc: CELEvalError, program: _Program, activation: dict[str, Any], ctx: ExpressionContext
) -> str:
    """Turn celpy's error into a sentence naming the part of the expression that failed."""
    args = exc.args
    raw = str(args[0]) if args else "evaluation failed"
    cause = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
    tree = exc.tree if isinstance(exc.tree, lark.Tree) else None
    text = program.text
    snippet = _source(tree, text) if tree is not None else None
    kind = tree.data if tree is not None else ""

    if tree is not None and kind in ("member_dot", "member_index"):
        inner = tree.children[0]
        inner_text = _source(inner, text) or "the value"
        if kind == "member_dot":
            key: Any = str(tree.children[1])
        else:
            key = _to_plain_safe(cause[0]) if cause else "?"
        root = _root(inner, frozenset()) if isinstance(inner, lark.Tree) else None
        if raw.startswith("no such member") or raw == "no such key":
            if root == "steps":
                available = ", ".join(sorted(ctx.steps)) or "none"
                return (
                    f"step {key!r} is not available here: an expression sees only the "
                    f"steps in needs (available: {available})"
                )
            if root == "inputs":
                given = ", ".join(sorted(ctx.inputs)) or "none"
                return f"input {key!r} has no value (inputs given: {given})"
            container = _subvalue(program, inner, activation)
            keys = ""
            if isinstance(container, Mapping):
                names = sorted(str(k) for k in container)
                shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
                keys = f" (it has: {shown})" if names else " (it is empty)"
            return f"{inner_text} has no key {key!r}{keys}"
        if "does not support field selection" in raw:
            container = _subvalue(program, inner, activation)
            if container is None:
                return f"{inner_text} is null, so it has no field {key!r}" + (
                    " (a skipped step's output is null)" if inner_text.startswith("steps") else ""
                )
            if container is not _MISSING:
                return (
                    f"{inner_text} is {_describe(container)}, not a map, so it has no field {key!r}"
                )
        if raw == "invalid_argument":
            container = _subvalue(program, inner, activation)
            index = _subvalue(program, tree.children[1], activation)
            at = f" {_to_plain_safe(index)}" if index is not _MISSING else ""
            size = f" (it has {len(container)} items)" if isinstance(container, list) else ""
            return f"{inner_text} has no item at index{at}{size}"

    raw = _tidy(raw)
    detail = _tidy(str(cause[0])) if cause else ""
    # A macro (all, exists) reports its items' errors only as text: find the first.
    overload = _OVERLOAD.search(raw) or _OVERLOAD.search(detail)
    if overload and snippet is None and (dumped := _DUMPED_TREE.search(detail)):
        snippet = " ".join(dumped.group(1).split())
    if overload:
        operator = overload.group(1)
        rule = re.search(r"'(\w+)'\)?$", operator)
        op = _OPERATORS.get(rule.group(1) if rule else operator, operator)
        types = [name.strip() for name in overload.group(2).split(",") if name.strip()]
        what = " and ".join(types) if types else "these values"
        return f"{op!r} cannot be applied to {what}" + _in(snippet, text)
    if raw in ("divide by zero", "modulus or divide by zero"):
        return "division by zero" + _in(snippet, text)
    if raw == "return error for overflow" and exc.token is None:
        return "integer overflow (CEL integers are 64-bit)" + _in(snippet, text)
    token = exc.token
    if detail.startswith(raw):
        raw, detail = detail, ""
    detail = f": {detail}" if detail else ""
    if token is not None and raw in ("no such overload", "return error for overflow"):
        return f"{token}() cannot take these arguments{detail}"
    return _tidy(raw) + detail + _in(snippet, text)


def _to_plain_safe(value: Any) -> Any:
    try:
        return _to_plain(value)
    except (CELEvalError, _NotJSONError):
        return str(value)


def _in(snippet: str | None, text: str) -> str:
    return f" in {snippet!r}" if snippet and snippet.strip() != text.strip() else ""
